package pgwire

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestAnalyticsTableFunctions: funnel, retention, time_series and
// anomalies in FROM, with the HTTP endpoints' JSON as their argument,
// composed with ordinary SQL.
func TestAnalyticsTableFunctions(t *testing.T) {
	ts := startServer(t, nil)
	var b []byte
	// Three users view; two of them order within the hour; one more view
	// a week later.
	for _, e := range []string{
		`{"entity_id":"u1","event_type":"view","timestamp":"2024-01-01T10:00:00Z"}`,
		`{"entity_id":"u1","event_type":"order","timestamp":"2024-01-01T10:30:00Z"}`,
		`{"entity_id":"u2","event_type":"view","timestamp":"2024-01-01T11:00:00Z"}`,
		`{"entity_id":"u2","event_type":"order","timestamp":"2024-01-01T11:20:00Z"}`,
		`{"entity_id":"u3","event_type":"view","timestamp":"2024-01-02T09:00:00Z"}`,
		`{"entity_id":"u1","event_type":"view","timestamp":"2024-01-09T09:00:00Z"}`,
	} {
		b = append(b, e...)
		b = append(b, '\n')
	}
	ts.appendNDJSON(t, b)
	c := ts.connect(t)
	ctx := context.Background()
	rows, err := c.Query(ctx, `SELECT step, name, entities, round(conversion_from_start, 3), median_seconds_to_convert
		FROM funnel('{"steps": ["view", "order"], "window": "1h"}') ORDER BY step`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var step int32
		var name string
		var n int64
		var conv float64
		var med *float64
		if err := rows.Scan(&step, &name, &n, &conv, &med); err != nil {
			t.Fatal(err)
		}
		m := "null"
		if med != nil {
			m = fmt.Sprint(*med)
		}
		got = append(got, fmt.Sprintf("%d %s %d %g %s", step, name, n, conv, m))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "1 view 3 1 null|2 order 2 0.667 1500"; strings.Join(got, "|") != want {
		t.Fatalf("funnel rows %q, want %q", strings.Join(got, "|"), want)
	}
	var size, ret int64
	err = c.QueryRow(ctx, `SELECT size, retained FROM retention('{"start_event": "view", "return_event": "view", "period": "week", "periods": 2}')
		WHERE cohort = DATE '2024-01-01' AND period = 1`).Scan(&size, &ret)
	if err != nil || size != 3 || ret != 1 {
		t.Fatalf("retention: %d %d %v", size, ret, err)
	}
	var buckets int64
	var total float64
	err = c.QueryRow(ctx, `SELECT count(*), sum(value) FROM time_series('{"interval": "1d", "from": "2024-01-01T00:00:00Z", "to": "2024-01-10T00:00:00Z"}')`).Scan(&buckets, &total)
	if err != nil || buckets != 9 || total != 6 {
		t.Fatalf("time_series: %d %g %v", buckets, total, err)
	}
	var n int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM anomalies('{"interval": "1d", "from": "2024-01-01T00:00:00Z", "to": "2024-01-10T00:00:00Z", "window": 3}')`).Scan(&n); err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	// Bad arguments are errors naming the function; data written later is
	// seen by the next query.
	if _, err := c.Exec(ctx, `SELECT * FROM funnel('{"steps": []}')`); err == nil || !strings.Contains(err.Error(), "funnel") {
		t.Fatalf("bad funnel: %v", err)
	}
	ts.appendNDJSON(t, []byte(`{"entity_id":"u3","event_type":"order","timestamp":"2024-01-02T09:10:00Z"}`+"\n"))
	var converted int64
	if err := c.QueryRow(ctx, `SELECT entities FROM funnel('{"steps": ["view", "order"], "window": "1h"}') WHERE step = 2`).Scan(&converted); err != nil || converted != 3 {
		t.Fatalf("after new data: %d %v", converted, err)
	}
}

// TestAnalyticsPreparedSeesNewData: a prepared statement over a table
// function computes it again on every execution.
func TestAnalyticsPreparedSeesNewData(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendNDJSON(t, []byte(`{"entity_id":"a","event_type":"view","timestamp":"2024-01-01T10:00:00Z"}`+"\n"))
	c := ts.connect(t)
	q := `SELECT entities FROM funnel('{"steps": ["view"]}') WHERE step = 1`
	var n int64
	for want := int64(1); want <= 3; want++ {
		if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil || n != want {
			t.Fatalf("execution %d: %d %v", want, n, err)
		}
		ts.appendNDJSON(t, []byte(fmt.Sprintf(`{"entity_id":"b%d","event_type":"view","timestamp":"2024-01-01T10:00:00Z"}`+"\n", want)))
	}
}

// TestAnalyticsInEventQL: EventQL reads the analytics functions as
// sources, over pgwire too.
func TestAnalyticsInEventQL(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendNDJSON(t, []byte(`{"entity_id":"u1","event_type":"view","timestamp":"2024-01-01T10:00:00Z"}
{"entity_id":"u1","event_type":"order","timestamp":"2024-01-01T10:10:00Z"}
{"entity_id":"u2","event_type":"view","timestamp":"2024-01-01T11:00:00Z"}
`))
	c := ts.connect(t)
	rows, err := c.Query(context.Background(), `FROM f IN funnel('{"steps": ["view", "order"], "window": "1h"}')
		WHERE f.step > 1 PROJECT INTO { step: f.step, n: f.entities, pct: ROUND(f.conversion_from_start * 100) }`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "2 1 50" {
		t.Fatalf("EventQL over funnel: %q", got)
	}
	if _, err := c.Exec(context.Background(), `FROM f IN funnel('{"steps": []}') PROJECT INTO f`); err == nil || !strings.Contains(err.Error(), "funnel") {
		t.Fatalf("bad question: %v", err)
	}
}

// TestMoreAnalyticsTables: stats, forecast and pivot as tables, in SQL and
// in EventQL.
func TestMoreAnalyticsTables(t *testing.T) {
	ts := startServer(t, nil)
	var b []byte
	for h := 0; h < 24; h++ {
		for i := 0; i <= h%4; i++ {
			b = fmt.Appendf(b, `{"entity_id":"u%d","event_type":"t%d","timestamp":"2024-02-01T%02d:%02d:00Z","payload":{"ch":"c%d"}}`+"\n", i, i%2, h, i, h%2)
		}
	}
	ts.appendNDJSON(t, b)
	c := ts.connect(t)
	ctx := context.Background()
	series := `"interval": "1h", "from": "2024-02-01T00:00:00Z", "to": "2024-02-02T00:00:00Z"`
	var count int64
	var mean float64
	if err := c.QueryRow(ctx, `SELECT count, mean FROM stats('{`+series+`}')`).Scan(&count, &mean); err != nil || count != 24 || mean != 60.0/24 {
		t.Fatalf("stats: %d %g %v", count, mean, err)
	}
	var n int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM forecast('{`+series+`, "horizon": 5}') WHERE lower <= value AND value <= upper`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("forecast: %d %v", n, err)
	}
	var grand float64
	if err := c.QueryRow(ctx, `SELECT value FROM pivot('{"rows": "event_type", "columns": "payload.ch"}') WHERE kind = 'grand_total'`).Scan(&grand); err != nil || grand != 60 {
		t.Fatalf("pivot: %g %v", grand, err)
	}
	var cells int64
	if err := c.QueryRow(ctx, `FROM p IN pivot('{"rows": "event_type", "columns": "payload.ch"}') WHERE p.kind == "cell" PROJECT INTO COUNT()`).Scan(&cells); err != nil || cells != 4 {
		t.Fatalf("pivot in EventQL: %d %v", cells, err)
	}
}

// TestAnalyticsBadCalls: calls without their question are errors, not a
// lost connection.
func TestAnalyticsBadCalls(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t)
	for _, q := range []string{`SELECT * FROM funnel()`, `SELECT * FROM funnel('{}', '{}')`, `SELECT * FROM pivot('{"rows": "type", "columns": "event_type"}')`} {
		if _, err := c.Exec(context.Background(), q); pgCode(err) != "22023" {
			t.Errorf("%s: %v, want 22023", q, err)
		}
	}
	var one int32
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("connection lost: %v", err)
	}
}

// TestTableFunctionParameter: funnel($1) takes its question as a bound
// parameter, in every pgx execution mode, alongside other parameters.
func TestTableFunctionParameter(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 9, 3) // e0 has only t0 events, e1 only t1: one entity enters, none converts
	ctx := context.Background()
	for _, mode := range allExecModes {
		c := ts.connectMode(t, mode)
		rows, err := c.Query(ctx, "SELECT step, entities FROM funnel($1) WHERE step >= $2 ORDER BY step",
			`{"steps": ["t0", "t1"], "window": "1h"}`, 1)
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		var got []int64
		for rows.Next() {
			var step int32
			var n int64
			if err := rows.Scan(&step, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if err := rows.Err(); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 0 {
			t.Fatalf("%v: %v %v", mode, got, err)
		}
		c.Close(ctx)
	}
}

// TestTableFunctionsInCatalog: the table functions are in pg_proc, with
// their arguments, result and definition as psql's \df and \sf read them.
func TestTableFunctionsInCatalog(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t)
	ctx := context.Background()
	var args, result, def string
	err := c.QueryRow(ctx, `SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), pg_get_functiondef(p.oid)
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE p.proname = 'funnel' AND n.nspname = 'public'`).Scan(&args, &result, &def)
	if err != nil || args != "question text" || !strings.HasPrefix(result, "TABLE(breakdown text, step integer,") ||
		!strings.HasPrefix(def, "CREATE OR REPLACE FUNCTION public.funnel(question text)") {
		t.Fatalf("funnel in pg_proc: %q %q %q %v", args, result, def, err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public' AND p.proretset`).Scan(&n); err != nil || n != 8 {
		t.Fatalf("table functions listed: %d %v", n, err)
	}
}
