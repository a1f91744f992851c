package pgwire

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestEventQLOverPgwire: a statement that starts with FROM … IN is EventQL,
// in the simple protocol and as a prepared statement; EXPLAIN shows the SQL
// it compiles to; errors point at the EventQL source.
func TestEventQLOverPgwire(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 30, 3)
	c := ts.connect(t)
	ctx := context.Background()
	q := `FROM e IN events
WHERE e.subject == "e1" AND e.data.i > 10
ORDER BY e.version
PROJECT INTO { type: e.type, version: e.version, i: e.data.i }`
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		rows, err := c.Query(ctx, q, mode)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		var names []string
		for _, f := range rows.FieldDescriptions() {
			names = append(names, f.Name)
		}
		var got []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Join([]string{vals[0].(string), toString(vals[1]), toString(vals[2])}, "/"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(names, []string{"type", "version", "i"}) {
			t.Errorf("%s: columns %v", mode, names)
		}
		want := []string{"t1/5/13", "t1/6/16", "t1/7/19", "t1/8/22", "t1/9/25", "t1/10/28"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows %v, want %v", mode, got, want)
		}
	}
	var n int64
	if err := c.QueryRow(ctx, `from e in events where e.event_type == "t0" project into count()`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("count: %d %v", n, err)
	}
	var plan string
	if err := c.QueryRow(ctx, "EXPLAIN FROM e IN events TOP 1 PROJECT INTO e").Scan(&plan); err != nil || !strings.Contains(plan, "events") {
		t.Fatalf("EXPLAIN EventQL: %q %v", plan, err)
	}
	_, err := c.Exec(ctx, "FROM e IN events\nWHERE e.dta.x == 1\nPROJECT INTO e")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" || !strings.Contains(pe.Message, "line 2") || pe.Position != 24 {
		t.Fatalf("EventQL error: %#v", err)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	}
	b, _ := jsonMarshal(v)
	return string(b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
