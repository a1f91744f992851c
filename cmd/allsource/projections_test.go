package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// orderLines are n order events over five orders, with amounts, starting
// at seq-like number from.
func orderLines(from, n int) []string {
	var lines []string
	for i := from; i < from+n; i++ {
		typ := []string{"order.placed", "order.paid", "order.shipped"}[i%3]
		lines = append(lines, fmt.Sprintf(`{"entity_id":"o%d","event_type":%q,"timestamp":"2026-05-%02dT10:00:00Z","payload":{"amount":%d}}`,
			i%5, typ, 1+i%28, i%40))
	}
	return lines
}

func pgRows(t *testing.T, c *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// waitRows polls q until it returns want.
func waitRows(t *testing.T, c *pgx.Conn, q string, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = pgRows(t, c, q)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s\ngot  %v\nwant %v", q, got, want)
}

func apiJSON(t *testing.T, method, url string, body any, wantStatus int) map[string]any {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	} else {
		r = strings.NewReader("")
	}
	st, _, b, err := apiRequest(method, url, map[string]string{"Content-Type": "application/json"}, r)
	if err != nil || st != wantStatus {
		t.Fatalf("%s %s: %d %v %s", method, url, st, err, b)
	}
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return out
}

// TestProjectionsThroughTheServer defines projections over pgwire and
// HTTP, reads them through SQL (pgwire and HTTP), EventQL and the
// projection endpoints, and checks that kill -9 and a restart resume them
// from their checkpoints with nothing lost or applied twice.
func TestProjectionsThroughTheServer(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, nil, "--projection-checkpoint", "50ms")
	ctx := context.Background()
	mustAppendND(t, p.url, orderLines(0, 60)...)
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://analyst@%s/allsource?sslmode=disable", p.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(ctx) }()
	const def = `SELECT entity_id, count(*) AS n, sum((payload->>'amount')::BIGINT) AS total, max("timestamp") AS latest FROM events WHERE event_type = 'order.placed' GROUP BY entity_id`
	tag, err := c.Exec(ctx, "CREATE PROJECTION order_totals AS "+def)
	if err != nil || tag.String() != "CREATE PROJECTION" {
		t.Fatalf("CREATE PROJECTION: %v %q", err, tag)
	}
	var pgErr *pgconn.PgError
	if _, err := c.Exec(ctx, "CREATE PROJECTION order_totals AS "+def); !errors.As(err, &pgErr) || pgErr.Code != "42710" || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second CREATE: %v", err)
	}
	if _, err := c.Exec(ctx, "CREATE PROJECTION bad AS SELECT entity_id FROM events GROUP BY entity_id"); !errors.As(err, &pgErr) || pgErr.Code != "42601" || !strings.Contains(err.Error(), "aggregate") {
		t.Fatalf("bad CREATE: %v", err)
	}
	js := `fromAll().foreachStream().when({ $init: () => ({ placed: 0, paid: 0 }),
		'order.placed': (s, e) => { s.placed++; s.amount = (s.amount || 0) + e.data.amount },
		'order.paid': (s) => { s.paid++ } })`
	apiJSON(t, "POST", p.url+"/v1/projections", map[string]any{"name": "order_state", "js": js, "on_error": "stop"}, http.StatusCreated)

	mustAppendND(t, p.url, orderLines(60, 90)...)
	plain := "SELECT entity_id, n, total, latest FROM (" + def + ") ORDER BY entity_id"
	want := pgRows(t, c, plain)
	waitRows(t, c, "SELECT entity_id, n, total, latest FROM projections.order_totals ORDER BY entity_id", want)
	jsWant := pgRows(t, c, `SELECT entity_id, count(*) FILTER (WHERE event_type = 'order.placed'), count(*) FILTER (WHERE event_type = 'order.paid'),
		sum((payload->>'amount')::BIGINT) FILTER (WHERE event_type = 'order.placed')::BIGINT FROM events GROUP BY 1 ORDER BY 1`)
	waitRows(t, c, `SELECT key, (state->>'placed')::BIGINT, (state->>'paid')::BIGINT, (state->>'amount')::BIGINT FROM projections.order_state ORDER BY key`, jsWant)

	// Extended protocol, HTTP SQL, EventQL and the rows endpoint read it too.
	var n int64
	if err := c.QueryRow(ctx, "SELECT sum(n) FROM projections.order_totals WHERE total > $1", 0).Scan(&n); err != nil || n == 0 {
		t.Fatalf("extended protocol: %d %v", n, err)
	}
	rows := queryCSV(t, p.url, "SELECT count(*) FROM projections.order_totals")
	if len(rows) != 1 || rows[0][0] != "5" {
		t.Fatalf("HTTP SQL: %v", rows)
	}
	st, _, b, err := apiRequest("POST", p.url+"/v1/eventql", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"query": "FROM p IN projections.order_totals WHERE p.total > 0 ORDER BY p.entity_id PROJECT INTO { id: p.entity_id, n: p.n }"}`))
	if err != nil || st != 200 || strings.Count(string(b), "\n") != 5 || !strings.Contains(string(b), `"id":"o0"`) {
		t.Fatalf("EventQL: %d %v %s", st, err, b)
	}
	// A projection's times are RFC 3339 in EventQL documents too.
	st, _, b, err = apiRequest("POST", p.url+"/v1/eventql", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"query": "FROM p IN projections.order_totals ORDER BY p.entity_id TOP 1 PROJECT INTO p"}`))
	if err != nil || st != 200 || !regexp.MustCompile(`"latest":"2026-05-\d\dT10:00:00Z"`).Match(b) {
		t.Fatalf("EventQL time of a projection: %d %v %s", st, err, b)
	}
	got := apiJSON(t, "GET", p.url+"/v1/projections/order_state/rows?key=o1", nil, 200)
	if r, _ := got["rows"].([]any); len(r) != 1 {
		t.Fatalf("rows: %v", got)
	}
	list := apiJSON(t, "GET", p.url+"/v1/projections", nil, 200)
	if ps, _ := list["projections"].([]any); len(ps) != 2 {
		t.Fatalf("list: %v", list)
	}
	// The state of one order as of a day in May, from its events.
	at := apiJSON(t, "GET", p.url+"/v1/entities/o1/state?projection=order_state&at=2026-05-10T00:00:00Z", nil, 200)
	var placedBy10 int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM events WHERE entity_id = 'o1' AND event_type = 'order.placed' AND "timestamp" <= '2026-05-10T00:00:00Z'`).Scan(&placedBy10); err != nil {
		t.Fatal(err)
	}
	if s, _ := at["state"].(map[string]any); s == nil || int64(s["placed"].(float64)) != placedBy10 {
		t.Fatalf("state at: %v (want placed %d)", at, placedBy10)
	}
	sqlAt := apiJSON(t, "GET", p.url+"/v1/entities/o1/state?projection=order_totals&at=2026-05-10T00:00:00Z", nil, 200)
	if r, _ := sqlAt["rows"].([]any); len(r) != 1 || int64(r[0].(map[string]any)["n"].(float64)) != placedBy10 {
		t.Fatalf("SQL state at: %v (want n %d)", sqlAt, placedBy10)
	}
	metrics := apiJSON(t, "GET", p.url+"/v1/projections/order_totals", nil, 200)
	if metrics["status"] != "running" {
		t.Fatalf("status: %v", metrics)
	}
	_, _, mb, _ := apiRequest("GET", p.url+"/metrics", nil, nil)
	if !strings.Contains(string(mb), `allsource_projection_lag_events{projection="order_totals",tenant="default"} 0`) {
		t.Fatalf("metrics lack projection lag:\n%s", mb)
	}

	// kill -9, more events, restart: resumed from the checkpoints.
	time.Sleep(100 * time.Millisecond) // a checkpoint past the first events
	c.Close(ctx)
	p.kill()
	p2 := startProc(t, dir, nil, "--projection-checkpoint", "50ms")
	mustAppendND(t, p2.url, orderLines(150, 30)...)
	c, err = pgx.Connect(ctx, fmt.Sprintf("postgres://analyst@%s/allsource?sslmode=disable", p2.pg))
	if err != nil {
		t.Fatal(err)
	}
	want = pgRows(t, c, plain)
	waitRows(t, c, "SELECT entity_id, n, total, latest FROM projections.order_totals ORDER BY entity_id", want)
	jsWant = pgRows(t, c, `SELECT entity_id, count(*) FILTER (WHERE event_type = 'order.placed'), count(*) FILTER (WHERE event_type = 'order.paid'),
		sum((payload->>'amount')::BIGINT) FILTER (WHERE event_type = 'order.placed')::BIGINT FROM events GROUP BY 1 ORDER BY 1`)
	waitRows(t, c, `SELECT key, (state->>'placed')::BIGINT, (state->>'paid')::BIGINT, (state->>'amount')::BIGINT FROM projections.order_state ORDER BY key`, jsWant)
	after := apiJSON(t, "GET", p2.url+"/v1/projections/order_totals", nil, 200)
	if applied := after["events_applied"].(float64); applied >= 180 {
		t.Fatalf("applied %v events after the restart: it started over", applied)
	}

	// A new version over pgwire, then DROP.
	if _, err := c.Exec(ctx, "CREATE OR REPLACE PROJECTION order_totals AS SELECT entity_id, count(*) AS n FROM events GROUP BY entity_id"); err != nil {
		t.Fatal(err)
	}
	waitRows(t, c, "SELECT entity_id, n FROM projections.order_totals ORDER BY entity_id", pgRows(t, c, "SELECT entity_id, count(*) FROM events GROUP BY 1 ORDER BY 1"))
	if _, err := c.Exec(ctx, "DROP PROJECTION order_totals"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT * FROM projections.order_totals"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("after DROP: %v", err)
	}
	if _, err := c.Exec(ctx, "DROP PROJECTION IF EXISTS order_totals"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	p2.stop(t)
}

// TestProjectionsWithAuthentication: managing needs manage_projections,
// reading read_projections; each tenant's names are its own.
func TestProjectionsWithAuthentication(t *testing.T) {
	as := startAuthServer(t, false)
	admin, reader, beta := as.keys["acme-admin"], as.keys["acme-reader"], as.keys["beta"]
	def := `{"name": "by_type", "sql": "SELECT event_type, count(*) AS n FROM events GROUP BY event_type"}`
	if st, body := as.do(t, reader, "POST", "/v1/projections", def); st != http.StatusForbidden {
		t.Fatalf("reader defines: %d %s", st, body)
	}
	if st, body := as.do(t, admin, "POST", "/v1/projections", def); st != http.StatusCreated {
		t.Fatalf("tenant admin defines: %d %s", st, body)
	}
	if st, body := as.do(t, admin, "POST", "/v1/events", `{"entity_id":"u1","event_type":"order.placed"}`); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	if st, body := as.do(t, beta, "POST", "/v1/events", `{"entity_id":"u1","event_type":"beta.only"}`); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body := as.do(t, reader, "GET", "/v1/projections/by_type/rows", "")
		if st == 200 && strings.Contains(body, `"order.placed"`) {
			if strings.Contains(body, "beta.only") {
				t.Fatalf("acme's projection holds beta's events: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows: %d %s", st, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, body := as.do(t, reader, "DELETE", "/v1/projections/by_type", ""); st != http.StatusForbidden {
		t.Fatalf("reader deletes: %d %s", st, body)
	}
	// beta has no projection of that name, through any interface.
	if st, body := as.do(t, beta, "GET", "/v1/projections/by_type", ""); st != http.StatusNotFound {
		t.Fatalf("beta reads acme's projection: %d %s", st, body)
	}
	if st, body := as.do(t, beta, "POST", "/v1/query", sqlBody("SELECT * FROM projections.by_type")); st != 404 || !strings.Contains(body, "does not exist") {
		t.Fatalf("beta queries acme's projection: %d %s", st, body)
	}
	if st, body := as.do(t, beta, "GET", "/v1/projections", ""); st != 200 || strings.Contains(body, "by_type") {
		t.Fatalf("beta lists: %d %s", st, body)
	}
	if st, body := as.do(t, admin, "POST", "/v1/query", sqlBody("SELECT n FROM projections.by_type WHERE event_type = 'order.placed'")); st != 200 || !strings.Contains(body, "[1]") {
		t.Fatalf("acme queries: %d %s", st, body)
	}
	if st, body := as.do(t, admin, "POST", "/v1/query", sqlBody("SELECT * FROM _proj.anything")); st != 400 || !strings.Contains(body, "internal") {
		t.Fatalf("internal schema: %d %s", st, body)
	}
}
