package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/testkit/pgtest"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeServer implements the tiny part of the AllSource API the benchmarks
// use: POST /v1/events counts NDJSON lines and acknowledges them, and
// POST /v1/query runs the SQL on a DuckDB view over a warehouse directory.
type fakeServer struct {
	delay     time.Duration // per ingest request
	failAfter int64         // >0: requests after this many answer 500
	shortAck  bool          // acknowledge one event fewer than sent
	db        *sql.DB       // for /v1/query; nil answers 404

	requests atomic.Int64
	lines    atomic.Int64
	seq      atomic.Int64
	badType  atomic.Int64
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/events":
		f.ingest(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/query" && f.db != nil:
		f.query(w, r)
	default:
		writeErr(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeServer) ingest(w http.ResponseWriter, r *http.Request) {
	k := f.requests.Add(1)
	if r.Header.Get("Content-Type") != "application/x-ndjson" {
		f.badType.Add(1)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.failAfter > 0 && k > f.failAfter {
		writeErr(w, http.StatusInternalServerError, "internal", "disk on fire")
		return
	}
	n := 0
	for _, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			if !json.Valid(line) {
				writeErr(w, http.StatusBadRequest, "invalid", "bad JSON line")
				return
			}
			n++
		}
	}
	f.lines.Add(int64(n))
	last := f.seq.Add(int64(n))
	count := n
	if f.shortAck {
		count--
	}
	json.NewEncoder(w).Encode(map[string]any{
		"count": count, "first_seq": last - int64(n) + 1, "last_seq": last, "duplicates": []string{},
	})
}

func (f *fakeServer) query(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SQL string `json:"sql"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	rows, err := f.db.QueryContext(r.Context(), req.SQL)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	defer rows.Close()
	types, _ := rows.ColumnTypes()
	cols := make([]map[string]string, len(types))
	for i, ct := range types {
		cols[i] = map[string]string{"name": ct.Name(), "type": ct.DatabaseTypeName()}
	}
	out := [][]any{}
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			writeErr(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"columns": cols, "rows": out})
}

func startFake(t *testing.T, f *fakeServer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func TestGenEventsShape(t *testing.T) {
	const n = 20000
	events := GenEvents(n, 7)
	if len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	again := GenEvents(n, 7)
	other := GenEvents(n, 8)
	var size int
	types := map[string]int{}
	entities := map[string]bool{}
	var prev time.Time
	backwards := 0
	for i, e := range events {
		if !bytes.Equal(e, again[i]) {
			t.Fatalf("event %d differs between two runs with the same seed", i)
		}
		size += len(e)
		var in inputEvent
		if err := json.Unmarshal(e, &in); err != nil {
			t.Fatalf("event %d is not valid JSON: %v\n%s", i, err, e)
		}
		if in.EntityID == "" || in.EventType == "" || in.Timestamp.IsZero() || len(in.Payload) < 10 || in.Payload[0] != '{' {
			t.Fatalf("event %d lacks a field: %s", i, e)
		}
		if in.Timestamp.Before(GenStart) || !in.Timestamp.Before(GenStart.Add(Span)) {
			t.Fatalf("event %d timestamp %s outside the span", i, in.Timestamp)
		}
		if in.Timestamp.Before(prev) {
			backwards++
		}
		prev = in.Timestamp
		types[in.EventType]++
		entities[in.EntityID] = true
	}
	if bytes.Equal(events[0], other[0]) && bytes.Equal(events[1], other[1]) {
		t.Error("different seeds gave the same events")
	}
	avg := size / n
	if avg < 150 || avg > 260 {
		t.Errorf("average event size %d bytes, want ~200", avg)
	}
	if len(types) != len(EventTypes) {
		t.Errorf("saw %d event types, want %d", len(types), len(EventTypes))
	}
	if len(entities) < n/4 {
		t.Errorf("only %d distinct entities in %d events", len(entities), n)
	}
	last := events[n-1]
	var in inputEvent
	json.Unmarshal(last, &in)
	if in.Timestamp.Sub(GenStart) < Span-24*time.Hour {
		t.Errorf("last timestamp %s: events do not spread over the span", in.Timestamp)
	}
	t.Logf("average %d bytes, %d types, %d entities, %d out-of-order timestamps; sample: %s", avg, len(types), len(entities), backwards, events[0])
}

func TestNDJSONBodies(t *testing.T) {
	events := GenEvents(25, 1)
	bodies := NDJSONBodies(events, 10)
	if len(bodies) != 3 {
		t.Fatalf("got %d bodies, want 3", len(bodies))
	}
	var lines int
	for i, b := range bodies {
		if !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("body %d does not end in a newline", i)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines != 25 {
		t.Errorf("bodies hold %d lines, want 25", lines)
	}
	if bytes.Count(bodies[2], []byte("\n")) != 5 {
		t.Error("last body should hold the 5 remaining events")
	}
}

func TestToStored(t *testing.T) {
	events := GenEvents(1000, 3)
	stored, err := ToStored(events, 3)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]uint64{}
	ids := map[string]bool{}
	for i, e := range stored {
		if e.Seq != uint64(i+1) {
			t.Fatalf("row %d has seq %d", i, e.Seq)
		}
		versions[e.EntityID]++
		if e.Version != versions[e.EntityID] {
			t.Fatalf("row %d version %d, want %d", i, e.Version, versions[e.EntityID])
		}
		if len(e.ID) != 36 || e.ID[14] != '7' || ids[e.ID] {
			t.Fatalf("row %d id %q is not a fresh UUIDv7", i, e.ID)
		}
		ids[e.ID] = true
		if e.Tenant != allsource.DefaultTenant || string(e.Metadata) != "{}" || !json.Valid(e.Payload) {
			t.Fatalf("row %d: %+v", i, e)
		}
	}
	if _, err := ToStored([][]byte{[]byte("{")}, 1); err == nil {
		t.Error("ToStored accepted invalid JSON")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 0.5); p != 50 {
		t.Errorf("p50 = %d", p)
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 = %d", p)
	}
	if p := percentile(d[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d", p)
	}
	if m := median([]time.Duration{5, 1, 3}); m != 3 {
		t.Errorf("median = %d", m)
	}
}

func TestIngestHTTPCountsAndLatency(t *testing.T) {
	f := &fakeServer{delay: 3 * time.Millisecond}
	srv := startFake(t, f)
	res, err := IngestHTTP(context.Background(), Config{URL: srv.URL, Batch: 10, Clients: 4, Events: 1000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 1000 || res.Requests != 100 || res.Batch != 10 || res.Clients != 4 {
		t.Errorf("result %+v", res)
	}
	if f.lines.Load() != 1000 || f.requests.Load() != 100 {
		t.Errorf("server saw %d lines in %d requests, want 1000 in 100", f.lines.Load(), f.requests.Load())
	}
	if f.badType.Load() != 0 {
		t.Errorf("%d requests were not application/x-ndjson", f.badType.Load())
	}
	if res.P50 < 3*time.Millisecond || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("latencies p50=%s p99=%s max=%s; want >= 3ms and ordered", res.P50, res.P99, res.Max)
	}
	// 100 requests of >= 3 ms over 4 clients take at least 75 ms.
	if res.Elapsed < 75*time.Millisecond || res.EventsPerSec <= 0 || res.EventsPerSec > 1000/0.075 {
		t.Errorf("elapsed %s, %.0f events/s", res.Elapsed, res.EventsPerSec)
	}
	if res.Bytes < 1000*150 {
		t.Errorf("sent %d bytes", res.Bytes)
	}

	// Full endpoint URL and a last, short batch.
	res, err = IngestHTTP(context.Background(), Config{URL: srv.URL + "/v1/events", Batch: 300, Clients: 2, Data: GenEvents(1000, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 1000 || res.Requests != 4 {
		t.Errorf("result %+v", res)
	}
}

func TestIngestHTTPFailsOnServerError(t *testing.T) {
	f := &fakeServer{failAfter: 5}
	srv := startFake(t, f)
	_, err := IngestHTTP(context.Background(), Config{URL: srv.URL, Batch: 10, Clients: 3, Events: 500})
	if err == nil {
		t.Fatal("IngestHTTP succeeded although the server answered 500")
	}
	if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error %q does not report the 500 and its message", err)
	}
	if f.requests.Load() >= 50 {
		t.Errorf("IngestHTTP kept sending after the failure: %d requests", f.requests.Load())
	}
}

func TestIngestHTTPFailsOnShortAck(t *testing.T) {
	srv := startFake(t, &fakeServer{shortAck: true})
	_, err := IngestHTTP(context.Background(), Config{URL: srv.URL, Batch: 10, Clients: 2, Events: 100})
	if err == nil || !strings.Contains(err.Error(), "acknowledged 9") {
		t.Fatalf("IngestHTTP error = %v, want a count mismatch", err)
	}
}

func TestIngestHTTPFailsOnDeadServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := IngestHTTP(context.Background(), Config{URL: url, Batch: 10, Clients: 2, Events: 100}); err == nil {
		t.Fatal("IngestHTTP succeeded against a closed server")
	}
}

func storedEvents(t testing.TB, n int) []allsource.Event {
	t.Helper()
	stored, err := ToStored(GenEvents(n, 11), 11)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func TestAppenderBaseline(t *testing.T) {
	stored := storedEvents(t, 10000)
	for _, varchar := range []bool{false, true} {
		t.Run(fmt.Sprintf("varchar=%v", varchar), func(t *testing.T) {
			dir := t.TempDir()
			res, err := AppenderBaselineWith(context.Background(), stored, dir, AppenderOptions{VarcharJSON: varchar})
			if err != nil {
				t.Fatal(err)
			}
			if res.Events != 10000 || res.EventsPerSec <= 0 {
				t.Errorf("result %+v", res)
			}
			// Reopen the file: the rows are durable and JSON is stored as
			// objects, not JSON strings.
			db := openDuckDB(t, filepath.Join(dir, AppenderDBName))
			var n, objects int
			var maxSeq int64
			err = db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE json_type(payload::JSON) = 'OBJECT'), max(seq) FROM events`).Scan(&n, &objects, &maxSeq)
			if err != nil {
				t.Fatal(err)
			}
			if n != 10000 || objects != 10000 || maxSeq != 10000 {
				t.Errorf("rows=%d objects=%d max(seq)=%d, want 10000 each", n, objects, maxSeq)
			}
			t.Logf("%s: %.0f events/s", res.Note, res.EventsPerSec)
		})
	}
}

func openDuckDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	c, err := duckdb.NewConnector(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgresCopy(t *testing.T) {
	pg := pgtest.Require(t)
	stored := storedEvents(t, 10000)
	ctx := context.Background()
	res, err := PostgresCopy(ctx, pg.DSN(), stored, CopyOptions{Batch: 1000, Clients: 2, KeepTable: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 10000 || res.Requests != 10 || res.Clients != 2 || res.P50 <= 0 {
		t.Errorf("result %+v", res)
	}
	// Check the jsonb columns hold objects through PostgreSQL itself.
	var n, objects int
	if err := pgQueryRow(ctx, pg.DSN(), `SELECT count(*), count(*) FILTER (WHERE jsonb_typeof(payload) = 'object') FROM `+PostgresTable, &n, &objects); err != nil {
		t.Fatal(err)
	}
	if n != 10000 || objects != 10000 {
		t.Errorf("rows=%d objects=%d, want 10000", n, objects)
	}
	// A second run replaces the table.
	if _, err := PostgresCopy(ctx, pg.DSN(), stored[:100], CopyOptions{Batch: 7}); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL COPY: %.0f events/s, p50 %s per 1000-event COPY", res.EventsPerSec, res.P50)
}

// writeWarehouse writes events as Parquet files laid out like the server's
// warehouse: dir/tenant=default/date=YYYY-MM-DD/*.parquet, with the ten
// columns and nothing else.
func writeWarehouse(t testing.TB, dir string, events []allsource.Event) {
	t.Helper()
	scratch := t.TempDir()
	if _, err := AppenderBaseline(context.Background(), events, scratch); err != nil {
		t.Fatal(err)
	}
	db := openDuckDB(t, filepath.Join(scratch, AppenderDBName))
	target := filepath.Join(dir, "tenant="+allsource.DefaultTenant)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf(`COPY (SELECT *, strftime(timezone('UTC', timestamp), '%%Y-%%m-%%d') AS date FROM events)
		TO %s (FORMAT parquet, PARTITION_BY (date))`, sqlString(target))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func TestQueryOverhead(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "warehouse")
	writeWarehouse(t, wh, storedEvents(t, 20000))
	files, _ := filepath.Glob(filepath.Join(wh, "tenant=default", "date=*", "*.parquet"))
	if len(files) < 28 {
		t.Fatalf("wrote %d Parquet files, want one per day", len(files))
	}
	view, err := OpenParquetView(wh)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	var cols int
	if err := view.QueryRow(`SELECT count(*) FROM (DESCRIBE events)`).Scan(&cols); err != nil || cols != 10 {
		t.Fatalf("events view has %d columns (%v), want 10", cols, err)
	}
	srv := startFake(t, &fakeServer{db: view})

	qs, err := QueryOverheadRuns(context.Background(), srv.URL, wh, StandardQueries, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 {
		t.Fatalf("got %d results", len(qs))
	}
	if qs[0].ServerRows != len(EventTypes) {
		t.Errorf("count-by-type returned %d rows, want %d", qs[0].ServerRows, len(EventTypes))
	}
	if qs[1].ServerRows < 24 {
		t.Errorf("hourly query returned %d rows, want most of a week's hours", qs[1].ServerRows)
	}
	for _, q := range qs {
		if q.ServerRows != q.DirectRows {
			t.Errorf("%s: server %d rows, direct %d rows", q.SQL, q.ServerRows, q.DirectRows)
		}
		if q.Runs != 2 || q.Server <= 0 || q.Direct <= 0 || q.Ratio <= 0 {
			t.Errorf("result %+v", q)
		}
	}

	if _, err := QueryOverheadRuns(context.Background(), srv.URL, wh, []string{"SELECT nope FROM events"}, 1); err == nil {
		t.Error("QueryOverhead accepted a failing query")
	}
	if _, err := OpenParquetView(filepath.Join(wh, "missing")); err == nil {
		t.Error("OpenParquetView accepted a missing directory")
	}
}

func TestRun(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "warehouse")
	writeWarehouse(t, wh, storedEvents(t, 3000))
	view, err := OpenParquetView(wh)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	f := &fakeServer{db: view}
	srv := startFake(t, f)

	var out, progress bytes.Buffer
	opts := Options{
		ServerURL:    srv.URL,
		WarehouseDir: wh,
		ScratchDir:   t.TempDir(),
		Events:       2000,
		BatchSizes:   []int{1, 100},
		Clients:      2,
		MaxRequests:  500,
		QueryRuns:    1,
		Progress:     &progress,
	}
	// Without PostgreSQL, Run reports the peer as skipped; CI must have it.
	pgOK, why := pgtest.Available()
	if !pgOK {
		if pgtest.InCI() {
			t.Fatalf("PostgreSQL is required in CI but unavailable: %s", why)
		}
		t.Logf("PostgreSQL unavailable (%s): checking that Run reports the peer as skipped", why)
	}
	if err := Run(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	// Batch 1 is capped at 500 requests; batch 100 sends all 2000.
	if got := f.lines.Load(); got != 2500 {
		t.Errorf("server received %d events, want 2500", got)
	}
	report := out.String()
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), report)
	for _, want := range []string{"CPU cores", "AS÷PG", "AS÷Appender", "Q1", "Q2", QueryCountByType, "server÷direct"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(report, "MISMATCH") {
		t.Error("report shows a row-count mismatch")
	}
	if skipped := strings.Contains(report, "SKIPPED: PostgreSQL COPY peer: PostgreSQL unavailable"); skipped == pgOK {
		t.Errorf("PostgreSQL available=%v but the report's skip line present=%v", pgOK, skipped)
	}

	// A server that fails makes Run fail.
	bad := startFake(t, &fakeServer{failAfter: 1})
	opts.ServerURL, opts.SkipPostgres, opts.SkipAppender, opts.WarehouseDir = bad.URL, true, true, ""
	if err := Run(context.Background(), opts, io.Discard); err == nil {
		t.Error("Run succeeded against a failing server")
	}
}

func TestReportPrint(t *testing.T) {
	rep := NewReport(4, 1)
	pg := Result{Name: "postgres-copy", Events: 1000, EventsPerSec: 50000, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, Clients: 4, Note: "jsonb"}
	rep.Rows = []BatchRow{
		{Batch: 100, AllSource: Result{Events: 1000, EventsPerSec: 125000, P50: 800 * time.Microsecond, P99: 3 * time.Millisecond, Max: 12 * time.Millisecond, Elapsed: time.Second, ClientCPU: 300 * time.Millisecond}, Postgres: &pg},
		{Batch: 10000, AllSource: Result{Events: 1000, EventsPerSec: 1_500_000}},
	}
	rep.Appender = &Result{Events: 1000, EventsPerSec: 1_000_000, Elapsed: time.Millisecond, Note: "JSON"}
	rep.Queries = []QueryResult{{SQL: QueryCountByType, Runs: 5, Server: 12 * time.Millisecond, Direct: 10 * time.Millisecond, ServerRows: 20, DirectRows: 20}}
	rep.Skipped = []string{"something: because"}
	var b bytes.Buffer
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"125,000", "2.50x", "0.12x", "1,500,000", "1.50x", "800µs", "30%", "1.20x", "SKIPPED: something: because", "skipped" /* PG on row 2 */} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	t.Log("\n" + s)
}

func pgQueryRow(ctx context.Context, dsn, q string, dest ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, q).Scan(dest...)
}
