package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/allsource/allsource"
)

// streamText runs q through Stream and returns its columns and rows, each
// value with its Go type, as text.
func streamText(t *testing.T, w *Warehouse, ctx context.Context, q string, args ...any) string {
	t.Helper()
	var named []driver.NamedValue
	for i, a := range args {
		named = append(named, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	var b strings.Builder
	err := w.Stream(ctx, q, named, func(cols []Column, next func([]driver.Value) error) error {
		for _, c := range cols {
			b.WriteString(c.Name + ",")
		}
		b.WriteString("\n")
		dest := make([]driver.Value, len(cols))
		for {
			err := next(dest)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			for _, v := range dest {
				fmt.Fprintf(&b, "%T:%v ", v, v)
			}
			b.WriteString("\n")
		}
	})
	if err != nil {
		return "error: " + err.Error()
	}
	return b.String()
}

// pgwireSelect is how the Postgres front end hands the engine a SELECT *
// over events: ids as UUIDs, JSON columns as text, by position.
func pgwireSelect(where string) string {
	return `SELECT #1 AS "seq", #2 AS "id", #3 AS "tenant_id", #4 AS "entity_id", #5 AS "event_type", #6 AS "version", #7 AS "timestamp", #8 AS "ingested_at", CAST(#9 AS VARCHAR) AS "payload", CAST(#10 AS VARCHAR) AS "metadata" FROM (SELECT * FROM (SELECT "seq", CAST("id" AS UUID) AS "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata" FROM "events") AS events ` + where + `) AS _q`
}

// TestPointReads: statements of the point read shapes are answered from
// the entity index (without the engine) with the rows, values and types
// the engine gives over the events view; other shapes, and arguments the
// plan does not take, go to the engine.
func TestPointReads(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	appendEntityFixture(t, w, false)
	acme := allsource.WithTenantScope(ctx, "acme")
	cases := []struct {
		sql   string
		args  []any
		point bool
	}{
		{"SELECT * FROM events WHERE entity_id = 'user-1'", nil, false}, // JSON columns as the driver decodes them
		{"SELECT seq, id, tenant_id, entity_id, event_type, version, \"timestamp\", ingested_at, CAST(payload AS VARCHAR) AS p, CAST(metadata AS VARCHAR) AS m FROM events WHERE entity_id = 'user-1'", nil, true},
		{pgwireSelect("WHERE entity_id = $1"), []any{"user-1"}, true},
		{pgwireSelect("WHERE entity_id = $1"), []any{"nobody"}, true},
		{pgwireSelect("WHERE entity_id = $1"), []any{nil}, true},
		{pgwireSelect("WHERE entity_id = CAST($1 AS VARCHAR) ORDER BY version DESC LIMIT 3"), []any{"user-2"}, true},
		{pgwireSelect("WHERE entity_id = $1 AND version >= $2 ORDER BY version"), []any{"user-2", int64(150)}, true},
		{pgwireSelect("WHERE $1 = entity_id AND version > 100 AND version <= 300 AND event_type = 'a.b' ORDER BY seq LIMIT $2 OFFSET 1"), []any{"user-3", int64(4)}, true},
		{pgwireSelect("WHERE entity_id = $1 AND event_type <> $2 ORDER BY seq DESC"), []any{"user-3", "a.b"}, true},
		{pgwireSelect("WHERE entity_id = $1 AND seq < 200 LIMIT 0"), []any{"user-4"}, true},
		{"SELECT e.version AS v, e.entity_id FROM events e WHERE e.entity_id = 'user-4' AND 10 < e.version ORDER BY e.version LIMIT 2", nil, true},
		{"SELECT version FROM (SELECT * FROM events WHERE entity_id = 'user-1' ORDER BY version DESC LIMIT 5) ORDER BY version", nil, false}, // a window, then an order
		{"SELECT version FROM events WHERE entity_id = 'user-1' ORDER BY \"timestamp\", version", nil, false},
		{"SELECT version FROM events WHERE entity_id = 'user-1' AND version > $1 ORDER BY version", []any{"7"}, false}, // text for a number: the engine
		{"SELECT version FROM events WHERE entity_id = 'user-1' AND version > CAST($1 AS BIGINT) ORDER BY version", []any{"7"}, true},
		{"SELECT count(*) FROM events WHERE entity_id = 'user-1'", nil, false},
		{"SELECT DISTINCT event_type FROM events WHERE entity_id = 'user-1'", nil, false},
		{"SELECT version FROM events WHERE entity_id = 'user-1' OR seq = 5 ORDER BY 1", nil, false},
		{"SELECT version, version + 1 AS n FROM events WHERE entity_id = 'user-1' ORDER BY version", nil, false},
		{"SELECT #1 FROM (SELECT version FROM events WHERE entity_id = 'user-1')", nil, false},
		{"SELECT version FROM events WHERE entity_id = 'user-1' AND tenant_id = 'acme' ORDER BY version", nil, false},
		{"SELECT entity_id, version FROM events WHERE entity_id IN ('user-1', $1, 'nobody', 'user-1') AND version > 5 ORDER BY seq", []any{"user-2"}, true},
		{"SELECT entity_id, version FROM events WHERE entity_id IN ('user-1', $1) ORDER BY version DESC, seq", []any{nil}, false},
		{"SELECT seq, entity_id FROM events WHERE entity_id = ANY($1) ORDER BY seq DESC LIMIT 4", []any{[]string{"user-3", "user-4"}}, true},
		{"SELECT seq, entity_id FROM events WHERE list_contains($1, entity_id) AND event_type = 'a.b'", []any{[]any{"user-3", "user-5"}}, true},
		{"SELECT seq, entity_id FROM events WHERE list_contains($1, entity_id)", []any{nil}, true},
		{"SELECT seq FROM events WHERE entity_id = ANY(['user-4', 'user-6']) ORDER BY seq", nil, true},
		{"SELECT seq FROM events WHERE entity_id IN ('user-4', 'user-6') AND entity_id = 'user-4' ORDER BY seq", nil, false},
	}
	defer func(n int) { entityScanPage = n }(entityScanPage)
	for _, page := range []int{10_000, 7} {
		entityScanPage = page
		for _, c := range cases {
			for _, sc := range []context.Context{acme, ctx} {
				entityScanOff.Store(true)
				want := streamText(t, w, sc, c.sql, c.args...)
				entityScanOff.Store(false)
				entityRewrites.Lock()
				entityRewrites.m = nil
				entityRewrites.Unlock()
				w.pubGen.Add(1)                        // connections forget their prepared statements
				streamText(t, w, sc, c.sql, c.args...) // learns the statement
				before := w.pointReads.Load()
				got := streamText(t, w, sc, c.sql, c.args...)
				point := w.pointReads.Load() > before
				if !strings.Contains(c.sql, "ORDER BY") { // rows in no particular order
					got, want = sortedLines(got), sortedLines(want)
				}
				if got != want {
					t.Errorf("page %d: %s %v:\npoint read:\n%s\nview:\n%s", page, c.sql, c.args, got, want)
				}
				// A descending read of a stream longer than a page, and
				// several streams (every tenant's, several entities')
				// together longer than a page, are the engine's to sort.
				several := strings.Contains(c.sql, " IN (") || strings.Contains(c.sql, "ANY(") || strings.Contains(c.sql, "list_contains")
				mayFallBack := page < 100 && (sc != acme || several || strings.Contains(c.sql, "DESC"))
				if point && !c.point || !point && c.point && !mayFallBack {
					t.Errorf("page %d: %s %v: point read %v, want %v", page, c.sql, c.args, point, c.point)
				}
			}
		}
	}
}

func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestPointReadsSeeNewTenants: a point read over every tenant finds a
// tenant that began appending after the last one, hot and then flushed.
func TestPointReadsSeeNewTenants(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	evs := mkEvents(1, 3, 1)
	for i := range evs {
		evs[i].EntityID, evs[i].Version, evs[i].Tenant = "shared", uint64(i+1), "t1"
	}
	evs[2].Tenant, evs[2].Version = "t2", 1
	q := "SELECT tenant_id, version FROM events WHERE entity_id = 'shared' ORDER BY seq"
	if err := w.Append(evs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := "tenant_id,version,\nstring:t1 int64:1 \nstring:t1 int64:2 \n"
	if got := streamText(t, w, ctx, q); got != want {
		t.Fatalf("before t2:\n%s", got)
	}
	if err := w.Append(evs[2:]); err != nil {
		t.Fatal(err)
	}
	want += "string:t2 int64:1 \n"
	before := w.pointReads.Load()
	if got := streamText(t, w, ctx, q); got != want {
		t.Fatalf("t2 hot:\n%s", got)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := streamText(t, w, ctx, q); got != want {
		t.Fatalf("t2 flushed:\n%s", got)
	}
	if w.pointReads.Load() != before+2 {
		t.Fatalf("%d point reads, want 2", w.pointReads.Load()-before)
	}
}
