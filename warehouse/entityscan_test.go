package warehouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// rowsText runs q as a user's statement, with the entity scan or, with
// viewOnly, over the events view, and returns its rows as text.
func rowsText(t *testing.T, w *Warehouse, ctx context.Context, viewOnly bool, q string, args ...any) string {
	t.Helper()
	entityScanOff.Store(viewOnly)
	defer entityScanOff.Store(false)
	entityRewrites.Lock()
	entityRewrites.m = nil // the rewrite is decided again
	entityRewrites.Unlock()
	rows, err := w.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(cols, ",") + "\n" + b.String()
}

// appendEntityFixture stores 400 events of several entities, a third
// acme's (and, with audit, some the server's own), 300 flushed and 100
// hot.
func appendEntityFixture(t *testing.T, w *Warehouse, audit bool) {
	t.Helper()
	evs := mkEvents(1, 400, 5)
	for i := range evs {
		if evs[i].Seq%3 == 0 {
			evs[i].Tenant = "acme"
		}
		if audit && evs[i].Seq%11 == 0 {
			evs[i].Tenant = "_audit" // the server's own: not in AllTenants' answers
		}
	}
	if err := w.Append(evs[:300]); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(evs[300:]); err != nil { // hot
		t.Fatal(err)
	}
}

type scanCase struct {
	sql     string
	args    []any
	scanned bool
}

// TestEntityScanMatchesView: statements that pin entity_id, read through
// the entity scan, answer what they answer over the events view, with events flushed and
// hot; statements that do not pin it are left alone.
func TestEntityScanMatchesView(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	appendEntityFixture(t, w, true)
	acme := allsource.WithTenantScope(ctx, "acme")
	cases := []scanCase{
		{"SELECT * FROM events WHERE entity_id = 'user-1' ORDER BY version", nil, true},
		{"SELECT seq, version FROM events WHERE entity_id = 'user-1' AND version > 200 ORDER BY version DESC LIMIT 3", nil, true},
		{"SELECT count(*), max(seq), min(\"timestamp\") FROM events WHERE entity_id = ?", []any{"user-2"}, true},
		{"SELECT e.seq, e.payload->>'n' AS n FROM events e WHERE e.entity_id = 'user-2' AND e.event_type = 'a.b' ORDER BY 1", nil, true},
		{"SELECT events.seq, events.payload FROM events WHERE 'user-3' = events.entity_id ORDER BY 1", nil, true},
		{"SELECT * FROM events WHERE entity_id = 'nobody'", nil, true},
		{"SELECT count(*) FROM events WHERE entity_id = ?", []any{nil}, false}, // = NULL: the engine knows no row passes, and does not scan
		{"SELECT tenant_id, count(*) FROM events WHERE entity_id = 'user-4' GROUP BY 1", nil, true},
		// As the Postgres front end reads the view, wrapped.
		{`SELECT #1 AS "seq", CAST(#2 AS VARCHAR) AS "payload" FROM (SELECT seq, payload FROM (SELECT seq, id::uuid AS id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata FROM events) events WHERE entity_id = ? ORDER BY seq) AS _q`, []any{"user-6"}, true},
		{"SELECT seq FROM (SELECT seq, entity_id FROM events WHERE seq > 5) e WHERE e.entity_id = 'user-1' ORDER BY 1", nil, false},
		{"SELECT seq FROM (SELECT seq, upper(entity_id) AS entity_id FROM events) e WHERE e.entity_id = 'USER-1' ORDER BY 1", nil, false},
		{"SELECT seq FROM events WHERE entity_id IN ('user-1', 'user-2') ORDER BY 1", nil, true},
		{"SELECT entity_id, count(*) FROM events WHERE entity_id IN (?, ?, 'user-1', 'nobody') AND version > 10 GROUP BY 1 ORDER BY 1", []any{"user-3", "user-1"}, true},
		{"SELECT seq FROM events WHERE entity_id = ANY(?) ORDER BY 1", []any{[]string{"user-4", "user-5", "user-4"}}, true},
		{"SELECT seq FROM events WHERE entity_id = ANY(['user-4', 'user-6']) ORDER BY 1", nil, true},
		{"SELECT seq FROM events WHERE list_contains(?, entity_id) ORDER BY 1", []any{[]string{"user-2"}}, true},
		{"SELECT seq FROM events WHERE list_contains('[user-2, user-3]', entity_id) ORDER BY 1", nil, true},
		{"SELECT seq FROM events WHERE entity_id = ANY(?) ORDER BY 1", []any{nil}, true},
		{"SELECT seq FROM events WHERE entity_id NOT IN ('user-1', 'user-2') ORDER BY 1", nil, false},
		{"SELECT seq FROM events WHERE entity_id IN ('user-1', NULL) ORDER BY 1", nil, false},
		{"SELECT seq FROM events WHERE entity_id IN (SELECT 'user-1') ORDER BY 1", nil, false},
		{"SELECT seq FROM events WHERE entity_id = 'user-1' OR seq = 5 ORDER BY 1", nil, false},
		{"SELECT count(*) FROM events", nil, false},
	}
	defer func(n int) { entityScanPage = n }(entityScanPage)
	for _, page := range []int{10_000, 7} { // one page, and streams over several
		entityScanPage = page
		for _, c := range cases {
			before := w.entityScans.Load()
			got := rowsText(t, w, acme, false, c.sql, c.args...)
			scanned := w.entityScans.Load() > before
			want := rowsText(t, w, acme, true, c.sql, c.args...)
			if got != want {
				t.Errorf("page %d: %s:\nentity scan:\n%s\nview:\n%s", page, c.sql, got, want)
			}
			if scanned != c.scanned {
				t.Errorf("%s: read through the entity scan: %v, want %v", c.sql, scanned, c.scanned)
			}
		}
	}
	// Every tenant's, or every tenant's but the server's own, in the main
	// instance: the entity's events of each.
	all := allsource.WithTenantScope(ctx, allsource.AllTenants)
	entityScanPage = 7
	for _, c := range []context.Context{ctx, all} {
		for _, q := range []string{"SELECT tenant_id, seq FROM events WHERE entity_id = 'user-1' ORDER BY 2", "SELECT count(*) FROM events WHERE entity_id = 'user-5'"} {
			before := w.entityScans.Load()
			got := rowsText(t, w, c, false, q)
			if w.entityScans.Load() == before {
				t.Errorf("%s: not read through the entity scan", q)
			}
			if want := rowsText(t, w, c, true, q); got != want {
				t.Errorf("%s:\nentity scan:\n%s\nview:\n%s", q, got, want)
			}
		}
	}
	// Under a read restriction, the view.
	before := w.entityScans.Load()
	rowsText(t, w, allsource.WithReadRestriction(acme, allsource.ReadRestriction{HiddenTypes: []string{"a.*"}}), false, "SELECT * FROM events WHERE entity_id = 'user-1'")
	if w.entityScans.Load() != before {
		t.Error("the entity scan read under a restriction")
	}
}

// TestEntityScanArgumentTypesChange: a statement kept prepared on a
// connection runs again with arguments of other Go types (a time given as
// text, then as a time, as drivers differ), and still reads the entity
// scan.
func TestEntityScanArgumentTypesChange(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 1 })
	defer w.Close()
	if err := w.Append(mkEvents(1, 100, 5)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := `SELECT count(*) FROM events WHERE entity_id = $1 AND "timestamp" >= $2`
	when := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var want string
	for i, arg := range []any{when, "2026-03-02 00:00:00Z", when, "2026-03-02T00:00:00Z", when} {
		before := w.entityScans.Load()
		got := streamText(t, w, ctx, q, "user-1", arg)
		if i == 0 {
			want = got
		}
		if got != want || strings.HasPrefix(got, "error") {
			t.Errorf("run %d (%T): %s, want %s", i, arg, got, want)
		}
		if w.entityScans.Load() == before {
			t.Errorf("run %d: not read through the entity scan", i)
		}
	}
}

// TestEntityScanKeptStatementCancelled: a statement kept prepared on a
// connection runs again after the previous run's context ended; the scan
// reads with the context of the run it serves.
func TestEntityScanKeptStatementCancelled(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 1 })
	defer w.Close()
	appendEntityFixture(t, w, false)
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		got := streamText(t, w, ctx, "SELECT count(*) FROM events WHERE entity_id = 'user-1'")
		cancel()
		if strings.HasPrefix(got, "error") {
			t.Fatalf("run %d: %s", i, got)
		}
	}
}
