package pgwire

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPointReadsOverPgwire: a prepared read of one entity's events, the
// shape event-store clients repeat, is answered from the entity index
// without the engine, and every client mode gets the values (types,
// formats, order) the engine gives for the same rows.
func TestPointReadsOverPgwire(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 300, 7)
	if err := ts.wh.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.appendN(t, 100, 7) // hot
	ctx := context.Background()
	rowsOf := func(c *pgx.Conn, q string, args ...any) string {
		t.Helper()
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var b strings.Builder
		for _, f := range rows.FieldDescriptions() {
			fmt.Fprintf(&b, "%s:%d ", f.Name, f.DataTypeOID)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "\n%v", vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	queries := []struct{ point, engine string }{
		{"SELECT * FROM events WHERE entity_id = $1", "SELECT * FROM events WHERE entity_id = $1 AND seq + 0 > 0 ORDER BY version"},
		{"SELECT seq, id, payload, metadata, \"timestamp\" FROM events WHERE entity_id = $1 AND version >= 20 ORDER BY version DESC LIMIT 5",
			"SELECT seq, id, payload, metadata, \"timestamp\" FROM events WHERE entity_id = $1 AND version >= 20 AND seq + 0 > 0 ORDER BY version DESC LIMIT 5"},
	}
	for _, mode := range allExecModes {
		c := ts.connectMode(t, mode)
		// Several entities: IN reads them by point reads, = ANY($1) (an
		// array the engine receives as list text) by the entity scan.
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"SELECT seq, entity_id, payload FROM events WHERE entity_id IN ($1, $2) ORDER BY seq", []any{"e1", "e4"}},
			{"SELECT seq, entity_id, payload FROM events WHERE entity_id = ANY($1) ORDER BY seq", []any{[]string{"e2", "e5", "nobody"}}},
			{"SELECT seq, entity_id FROM events WHERE entity_id = ANY('{e1,e6}') ORDER BY seq", nil},
		} {
			want := rowsOf(c, strings.Replace(q.sql, "ORDER BY", "AND seq + 0 > 0 ORDER BY", 1), q.args...)
			rowsOf(c, q.sql, q.args...)
			before := ts.wh.Stats()
			if got := rowsOf(c, q.sql, q.args...); got != want {
				t.Errorf("mode %v, %s:\nindexed:\n%s\nengine:\n%s", mode, q.sql, got, want)
			}
			after := ts.wh.Stats()
			if after.PointReads == before.PointReads && after.EntityScans == before.EntityScans {
				t.Errorf("mode %v, %s: not read from the entity index", mode, q.sql)
			}
		}
		for _, q := range queries {
			for _, e := range []string{"e3", "e6", "nobody"} {
				want := rowsOf(c, q.engine, e)
				rowsOf(c, q.point, e) // the first run learns the statement
				before := ts.wh.Stats().PointReads
				got := rowsOf(c, q.point, e)
				if got != want {
					t.Errorf("mode %v, %s (%s):\npoint read:\n%s\nengine:\n%s", mode, q.point, e, got, want)
				}
				if mode != pgx.QueryExecModeSimpleProtocol && ts.wh.Stats().PointReads == before {
					t.Errorf("mode %v, %s: not a point read", mode, q.point)
				}
			}
		}
	}
}
