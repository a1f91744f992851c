package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"

	"github.com/allsource/allsource/internal/testkit/chtest"
	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// exportEvents appends n events in batches through the HTTP API.
func exportEvents(t *testing.T, url string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i += 500 {
		var lines []string
		for k := i; k < min(i+500, from+n); k++ {
			lines = append(lines, fmt.Sprintf(`{"entity_id":"c%d","event_type":"%s","timestamp":"2026-02-%02dT%02d:00:00Z","payload":{"amount":%d,"tags":["a","b"],"nested":{"k":"v%d"}},"metadata":{"source":"test"}}`,
				k%50, []string{"order.placed", "order.paid", "page.viewed"}[k%3], 1+k%28, k%24, k%1000, k))
		}
		mustAppendND(t, url, lines...)
	}
}

// sameExport compares what the target holds with the server's events:
// every row once, and the values round-trip.
func sameExport(t *testing.T, p *proc, target *pgx.Conn, table, where string, wantRows int) {
	t.Helper()
	ctx := context.Background()
	var n, distinct int64
	var sum int64
	var first, last time.Time
	if err := target.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(DISTINCT seq), coalesce(sum((payload->>'amount')::bigint), 0), min("timestamp"), max("timestamp") FROM %s`, table)).Scan(&n, &distinct, &sum, &first, &last); err != nil {
		t.Fatal(err)
	}
	src := queryCSV(t, p.url, `SELECT count(*), sum((payload->>'amount')::BIGINT), strftime(min("timestamp"), '%Y-%m-%dT%H:%M:%SZ'), strftime(max("timestamp"), '%Y-%m-%dT%H:%M:%SZ') FROM events WHERE `+where)
	if n != int64(wantRows) || distinct != n || fmt.Sprint(n) != src[0][0] || fmt.Sprint(sum) != src[0][1] ||
		first.UTC().Format(time.RFC3339) != src[0][2] || last.UTC().Format(time.RFC3339) != src[0][3] {
		t.Fatalf("target: %d rows (%d distinct seqs), sum %d, %v..%v; server: %v (want %d rows)", n, distinct, sum, first, last, src[0], wantRows)
	}
	// One row's every column.
	var id, entity, typ, payload, meta string
	var seq, version int64
	if err := target.QueryRow(ctx, fmt.Sprintf(`SELECT seq, id::text, entity_id, event_type, version, payload::text, metadata::text FROM %s ORDER BY seq LIMIT 1`, table)).Scan(&seq, &id, &entity, &typ, &version, &payload, &meta); err != nil {
		t.Fatal(err)
	}
	row := queryCSV(t, p.url, fmt.Sprintf(`SELECT id, entity_id, event_type, version, payload->>'$.nested.k', metadata->>'$.source' FROM events WHERE seq = %d`, seq))
	if row[0][0] != id || row[0][1] != entity || row[0][2] != typ || row[0][3] != fmt.Sprint(version) ||
		!strings.Contains(payload, `"k": "`+row[0][4]+`"`) || !strings.Contains(meta, `"source": "`+row[0][5]+`"`) {
		t.Fatalf("row seq %d: target %s %s %s %d %s %s; server %v", seq, id, entity, typ, version, payload, meta, row[0])
	}
}

// TestExportToPostgresExactlyOnce: a one-off export killed between a
// batch's COPY and its commit resumes after the restart; the target then
// holds every row once. `allsource export run` runs one to completion.
func TestExportToPostgresExactlyOnce(t *testing.T) {
	pg := pgtest.Require(t)
	dir := t.TempDir()
	p := startProc(t, dir, []string{faultEnv + "=export.copied"}, "--export-allow-hosts", "127.0.0.1")
	exportEvents(t, p.url, 0, 3000)
	target := pg.DSN() + "&table=events_out"
	st, _, b, err := apiRequest("POST", p.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(fmt.Sprintf(`{"target": %q, "batch_rows": 1000}`, target)))
	if err != nil || st != 201 {
		t.Fatalf("create: %d %v %s", st, err, b)
	}
	select { // killed by the fault, mid-batch
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the export did not reach the fault point")
	}
	p2 := startProc(t, dir, nil, "--export-allow-hosts", "127.0.0.1")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int64
		conn.QueryRow(ctx, `SELECT count(*) FROM events_out`).Scan(&n)
		if n >= 3000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target has %d rows", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	sameExport(t, p2, conn, "events_out", "true", 3000)

	// The CLI: a filtered one-off export to another table, to completion.
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	if err := m.runExport(ctx, []string{"run", "--server", p2.url, "--target", pg.DSN() + "&table=orders_out",
		"--types", "order.*", "--where", "(payload->>'amount')::INT >= 100"}); err != nil {
		t.Fatalf("export run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "exported ") || !strings.Contains(errOut.String(), "100%") {
		t.Fatalf("export run printed %q / %q", out.String(), errOut.String())
	}
	var want int
	fmt.Sscan(queryCSV(t, p2.url, `SELECT count(*) FROM events WHERE event_type GLOB 'order.*' AND (payload->>'amount')::INT >= 100`)[0][0], &want)
	sameExport(t, p2, conn, "orders_out", `event_type GLOB 'order.*' AND (payload->>'amount')::INT >= 100`, want)
	// Column mapping.
	out.Reset()
	if err := m.runExport(ctx, []string{"run", "--server", p2.url, "--target", pg.DSN() + "&table=mapped", "--quiet",
		"--columns", "entity_id=user_id,payload=body,timestamp=at"}); err != nil {
		t.Fatalf("export run --columns: %v\n%s", err, errOut.String())
	}
	var mapped int64
	var user string
	if err := conn.QueryRow(ctx, `SELECT count(*), min(user_id) FROM mapped WHERE (body->>'amount')::int >= 0 AND at IS NOT NULL`).Scan(&mapped, &user); err != nil || mapped != 3000 || user != "c0" {
		t.Fatalf("mapped columns: %d %q %v", mapped, user, err)
	}
	// The same export run again (a new job) continues from what the table
	// holds: it finishes at once, and copies only what is new. It used to
	// hit the primary key and retry every 30 s for ever.
	for _, more := range []int{0, 10} {
		exportEvents(t, p2.url, 3000, more)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := m.runExport(rctx, []string{"run", "--server", p2.url, "--target", pg.DSN() + "&table=mapped", "--quiet",
			"--columns", "entity_id=user_id,payload=body,timestamp=at"})
		cancel()
		if err != nil {
			t.Fatalf("export run again (+%d events): %v\n%s", more, err, errOut.String())
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM mapped`).Scan(&mapped); err != nil || mapped != int64(3000+more) {
			t.Fatalf("after running again (+%d events): %d rows, %v", more, mapped, err)
		}
	}
	if st, _, b, _ := apiRequest("POST", p2.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"target": "postgres://x@127.0.0.1:1/db", "where": "nosuchcolumn > 1"}`)); st != 400 || !strings.Contains(string(b), "nosuchcolumn") {
		t.Fatalf("bad where: %d %s", st, b)
	}
	if st, _, b, _ := apiRequest("POST", p2.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"target": "mysql://x@y/z"}`)); st != 400 || !strings.Contains(string(b), "not supported") {
		t.Fatalf("bad target: %d %s", st, b)
	}
	p2.stop(t)
}

// proxy forwards TCP connections to a target while up; down closes its
// listener and the connections through it.
type proxy struct {
	addr, to string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestExportRetriesUntilTheTargetIsBack: a scheduled export whose target
// is down retries with the error in its status, catches up when the
// target is back, and keeps following new events.
func TestExportRetriesUntilTheTargetIsBack(t *testing.T) {
	pg := pgtest.Require(t)
	pgAddr := strings.TrimPrefix(strings.Split(strings.Split(pg.DSN(), "@")[1], "/")[0], "")
	px := &proxy{addr: freeAddr(t), to: pgAddr}
	defer px.down()
	p := startProc(t, t.TempDir(), nil, "--export-allow-hosts", "127.0.0.1")
	exportEvents(t, p.url, 0, 1000)
	target := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&table=followed", px.addr)
	j := apiJSON(t, "POST", p.url+"/v1/exports", map[string]any{"target": target, "every": "1s"}, 201)
	id := j["id"].(string)
	status := func() map[string]any { return apiJSON(t, "GET", p.url+"/v1/exports/"+id, nil, 200) }
	deadline := time.Now().Add(20 * time.Second)
	for s := status(); s["status"] != "retrying" || !strings.Contains(fmt.Sprint(s["last_error"]), "connect"); s = status() {
		if time.Now().After(deadline) {
			t.Fatalf("no retry with the connection error: %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	px.up(t)
	exportEvents(t, p.url, 1000, 500)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	waitCount := func(want int64) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int64
			conn.QueryRow(ctx, `SELECT count(*) FROM followed`).Scan(&n)
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the target has %d rows, want %d; job %v", n, want, status())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitCount(1500)
	exportEvents(t, p.url, 1500, 200) // followed on the next interval
	waitCount(1700)
	sameExport(t, p, conn, "followed", "true", 1700)
	// Pause: new events wait; resume: they follow.
	apiJSON(t, "POST", p.url+"/v1/exports/"+id+"/pause", nil, 200)
	exportEvents(t, p.url, 1700, 100)
	time.Sleep(1500 * time.Millisecond)
	waitCount(1700)
	if s := status(); s["status"] != "paused" {
		t.Fatalf("paused: %v", s)
	}
	apiJSON(t, "POST", p.url+"/v1/exports/"+id+"/resume", nil, 200)
	waitCount(1800)
	p.stop(t)
}

func chQuery(t *testing.T, base, q string) string {
	t.Helper()
	resp, err := http.Post(base+"/?query="+url.QueryEscape(q), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", q, b)
	}
	return strings.TrimSpace(string(b))
}

// TestExportToClickHouseExactlyOnce: an export to ClickHouse 18.16 over
// HTTP, killed half-way through sending a batch, resumes after the
// restart from the largest seq the table holds; every row arrives once
// with its values.
func TestExportToClickHouseExactlyOnce(t *testing.T) {
	ch := chtest.Require(t)
	dir := t.TempDir()
	p := startProc(t, dir, []string{faultEnv + "=export.sending"}, "--export-allow-hosts", "127.0.0.1")
	exportEvents(t, p.url, 0, 3000)
	target := strings.Replace(ch.HTTPURL(), "http://", "clickhouse://", 1) + "/default?table=exported"
	st, _, b, err := apiRequest("POST", p.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(fmt.Sprintf(`{"target": %q, "batch_rows": 1000}`, target)))
	if err != nil || st != 201 {
		t.Fatalf("create: %d %v %s", st, err, b)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the export did not reach the fault point")
	}
	p2 := startProc(t, dir, nil, "--export-allow-hosts", "127.0.0.1")
	deadline := time.Now().Add(30 * time.Second)
	for chQuery(t, ch.HTTPURL(), "SELECT count() FROM exported") != "3000" {
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse has %s rows", chQuery(t, ch.HTTPURL(), "SELECT count() FROM exported"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	got := chQuery(t, ch.HTTPURL(), `SELECT count(), uniqExact(seq), sum(toInt64(visitParamExtractInt(payload, 'amount'))), min(timestamp_us), max(timestamp_us) FROM exported`)
	want := queryCSV(t, p2.url, `SELECT count(*), count(DISTINCT seq), sum((payload->>'amount')::BIGINT), epoch_us(min("timestamp")), epoch_us(max("timestamp")) FROM events`)
	if got != strings.Join(want[0], "\t") {
		t.Fatalf("ClickHouse %q, AllSource %v", got, want[0])
	}
	row := chQuery(t, ch.HTTPURL(), `SELECT id, entity_id, event_type, version, toString(timestamp), visitParamExtractString(metadata, 'source') FROM exported WHERE seq = 1234`)
	src := queryCSV(t, p2.url, `SELECT id, entity_id, event_type, version, strftime("timestamp", '%Y-%m-%d %H:%M:%S'), metadata->>'$.source' FROM events WHERE seq = 1234`)
	if row != strings.Join(src[0], "\t") {
		t.Fatalf("row 1234: ClickHouse %q, AllSource %v", row, src[0])
	}
	p2.stop(t)
}

// TestExportToFiles: NDJSON files, killed between a batch's files and its
// watermark, then restarted: every event is in exactly one file, in its
// tenant/date partition. Parquet files read back equal the events.
func TestExportToFiles(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	p := startProc(t, dir, []string{faultEnv + "=export.files"}, "--export-file-root", "/")
	exportEvents(t, p.url, 0, 3000)
	st, _, b, err := apiRequest("POST", p.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(fmt.Sprintf(`{"target": "file://%s?format=ndjson", "batch_rows": 1000}`, out)))
	if err != nil || st != 201 {
		t.Fatalf("create: %d %v %s", st, err, b)
	}
	var created struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &created)
	id := created.ID
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the export did not reach the fault point")
	}
	p2 := startProc(t, dir, nil, "--export-file-root", "/")
	deadline := time.Now().Add(30 * time.Second)
	for apiJSON(t, "GET", p2.url+"/v1/exports/"+id, nil, 200)["status"] != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("not done: %v", apiJSON(t, "GET", p2.url+"/v1/exports/"+id, nil, 200))
		}
		time.Sleep(50 * time.Millisecond)
	}
	seen := map[uint64]bool{}
	filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".ndjson") {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e struct {
				Seq       uint64 `json:"seq"`
				Tenant    string `json:"tenant_id"`
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if seen[e.Seq] {
				t.Fatalf("seq %d twice", e.Seq)
			}
			seen[e.Seq] = true
			if !strings.Contains(path, "tenant="+e.Tenant+"/date="+e.Timestamp[:10]+"/") {
				t.Fatalf("seq %d (%s) in %s", e.Seq, e.Timestamp, path)
			}
		}
		return nil
	})
	if len(seen) != 3000 {
		t.Fatalf("%d events in files, want 3000", len(seen))
	}
	// Parquet, to completion through the CLI.
	var stdout, stderr bytes.Buffer
	m := &Main{Stdout: &stdout, Stderr: &stderr}
	pq := filepath.Join(t.TempDir(), "pq")
	if err := m.runExport(context.Background(), []string{"run", "--server", p2.url, "--target", "file://" + pq + "?format=parquet", "--quiet"}); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var n, sum int64
	filepath.WalkDir(pq, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		f, _ := os.Open(path)
		defer f.Close()
		info, _ := f.Stat()
		rows, err := parquet.Read[struct {
			Seq     int64  `parquet:"seq"`
			Payload string `parquet:"payload"`
		}](f, info.Size())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, r := range rows {
			var pl struct{ Amount int64 }
			json.Unmarshal([]byte(r.Payload), &pl)
			n++
			sum += pl.Amount
		}
		return nil
	})
	want := queryCSV(t, p2.url, `SELECT count(*), sum((payload->>'amount')::BIGINT) FROM events`)
	if fmt.Sprint(n) != want[0][0] || fmt.Sprint(sum) != want[0][1] {
		t.Fatalf("parquet: %d rows, sum %d; events %v", n, sum, want[0])
	}
	p2.stop(t)
}
