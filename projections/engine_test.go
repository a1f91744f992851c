package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// orders appends n order events of tenant: placed/paid/refunded with an
// amount, a region and a user, over several entities.
func (s *store) orders(t testing.TB, tenant string, n int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]allsource.Event, n)
	for i := range evs {
		s.seq++
		q := s.seq
		typ := []string{"order.placed", "order.paid", "order.placed", "order.refunded", "user.seen"}[q%5]
		payload := fmt.Sprintf(`{"amount": %d, "region": "%s", "user": "u%d", "note": %q}`, q%97, []string{"eu", "us", "apac"}[q%3], q%11, []string{"", "gift", "rush"}[q%3])
		if q%13 == 0 {
			payload = fmt.Sprintf(`{"region": "%s"}`, []string{"eu", "us", "apac"}[q%3]) // no amount
		}
		evs[i] = allsource.Event{Seq: q, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", q), Tenant: tenant,
			EntityID: fmt.Sprintf("order-%d", q%17), EventType: typ, Version: q,
			Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(q) * time.Minute), IngestedAt: time.Now().UTC(),
			Payload: []byte(payload), Metadata: []byte(`{}`)}
	}
	if err := s.wh.Append(evs); err != nil {
		t.Error(err)
		return s.seq
	}
	s.hub.Publish(evs)
	return s.seq
}

func openEngine(t *testing.T, s *store, o Options) *Engine {
	t.Helper()
	o.Logger = quietLogger()
	e, err := Open(context.Background(), s.wh, s.hub, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rowsOf runs q in tenant's scope and returns its rows as text, floats
// rounded, in the order given.
func rowsOf(t *testing.T, s *store, tenant, q string) []string {
	t.Helper()
	ctx := allsource.WithTenantScope(context.Background(), tenant)
	rows, err := s.wh.QueryInternal(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			switch x := v.(type) {
			case float64:
				parts = append(parts, strconv.FormatFloat(math.Round(x*1e6)/1e6, 'g', -1, 64))
			case []byte:
				parts = append(parts, string(x))
			default:
				parts = append(parts, fmt.Sprint(x))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d\ngot  %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

const ordersSQL = `SELECT payload->>'region' AS region, event_type,
	count(*) AS n, count(payload->>'amount') AS with_amount,
	sum((payload->>'amount')::BIGINT) AS total, min((payload->>'amount')::BIGINT) AS smallest,
	max((payload->>'amount')::BIGINT) AS largest, avg((payload->>'amount')::DOUBLE) AS mean,
	count(DISTINCT entity_id) AS orders, count(DISTINCT payload->>'user') FILTER (WHERE payload->>'note' = 'gift') AS gifters,
	first(entity_id) AS first_order, last(payload->>'user') AS last_user,
	count(*) FILTER (WHERE (payload->>'amount')::BIGINT > 50) AS big
FROM events WHERE event_type LIKE 'order.%' GROUP BY payload->>'region', event_type`

// plainSQL is the projection's definition run as a query over events,
// with first/last made explicit (by seq), ordered like the projection's
// rows are read.
func plainSQL(def, order string) string {
	q := strings.ReplaceAll(def, "first(entity_id)", "first(entity_id ORDER BY seq)")
	q = strings.ReplaceAll(q, "last(payload->>'user')", "last(payload->>'user' ORDER BY seq)")
	return "SELECT * FROM (" + q + ") ORDER BY " + order
}

// ordersMergesSQL has only the merges a prepared upsert may run (no
// first or last), with FILTERs and NULL amounts on each.
const ordersMergesSQL = `SELECT payload->>'region' AS region, event_type,
	count(*) AS n, count(payload->>'amount') AS with_amount,
	sum((payload->>'amount')::BIGINT) AS total, min((payload->>'amount')::BIGINT) AS smallest,
	max((payload->>'amount')::BIGINT) AS largest, avg((payload->>'amount')::DOUBLE) AS mean,
	sum((payload->>'amount')::BIGINT) FILTER (WHERE payload->>'note' = 'gift') AS gift_total,
	min(payload->>'user') FILTER (WHERE payload->>'note' = 'rush') AS first_rusher,
	max("timestamp") FILTER (WHERE (payload->>'amount')::BIGINT > 90) AS last_big,
	avg((payload->>'amount')::DOUBLE) FILTER (WHERE payload->>'note' = '') AS plain_mean,
	count(DISTINCT entity_id) AS orders, count(DISTINCT payload->>'user') FILTER (WHERE payload->>'note' = 'gift') AS gifters
FROM events WHERE event_type LIKE 'order.%' GROUP BY payload->>'region', event_type`

// TestSQLProjectionMatchesPlainSQL folds stored events, then live batches
// of 1 to 134 events, and compares the state with the definition run over
// events: once with first and last (the upsert run as is) and once with
// merges only (the upsert prepared once and run for every batch).
func TestSQLProjectionMatchesPlainSQL(t *testing.T) {
	for _, c := range []struct {
		name, def string
		prepared  bool
	}{{"first-last", ordersSQL, false}, {"merges", ordersMergesSQL, true}} {
		t.Run(c.name, func(t *testing.T) {
			d, err := parseSQLDef(c.def)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.statements("t").prepare; got != c.prepared {
				t.Fatalf("prepared upsert = %v, want %v", got, c.prepared)
			}
			s := newStore(t)
			for i := 0; i < 5; i++ {
				s.orders(t, "acme", 200)
			}
			s.orders(t, "other", 100)
			e := openEngine(t, s, Options{})
			defer e.Close()
			ctx := context.Background()
			if _, err := e.Create(ctx, "acme", Spec{Name: "orders", SQL: c.def}, false); err != nil {
				t.Fatal(err)
			}
			// Live batches after the stored ones, some one event long.
			var acmeHead uint64
			for i := 0; i < 20; i++ {
				acmeHead = s.orders(t, "acme", 1+i*7)
			}
			head := s.orders(t, "other", 10)
			waitFor(t, e, "acme", "orders", head)
			got := rowsOf(t, s, "acme", "SELECT * FROM projections.orders ORDER BY region, event_type")
			want := rowsOf(t, s, "acme", plainSQL(c.def, "region, event_type"))
			sameRows(t, "projection vs SQL", got, want)

			st, err := e.Get("acme", "orders")
			if err != nil {
				t.Fatal(err)
			}
			// Position is where every event of acme's is applied: acme's newest
			// seq, or past it when the catch-up read up to the global head.
			if st.Status != StatusRunning || st.Position < acmeHead || st.Position > head || st.LagEvents != 0 {
				t.Fatalf("status %+v", st)
			}
			// Another tenant cannot name it.
			if _, err := s.wh.QueryInternal(allsource.WithTenantScope(ctx, "other"), "SELECT * FROM projections.orders"); err == nil || !strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("other tenant read acme's projection: %v", err)
			}
		})
	}
}

func TestSQLProjectionGlobalAggregate(t *testing.T) {
	s := newStore(t)
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	q := `SELECT count(*) AS n, sum((payload->>'amount')::BIGINT) AS total FROM events`
	if _, err := e.Create(ctx, "acme", Spec{Name: "totals", SQL: q}, false); err != nil {
		t.Fatal(err)
	}
	head := s.orders(t, "acme", 300)
	waitFor(t, e, "acme", "totals", head)
	sameRows(t, "totals", rowsOf(t, s, "acme", "SELECT * FROM projections.totals"), rowsOf(t, s, "acme", q))
}

func TestProjectionDefinitionErrors(t *testing.T) {
	s := newStore(t)
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Name: "Bad-Name", SQL: "SELECT count(*) FROM events"}, "name:"},
		{Spec{Name: "x"}, "needs sql"},
		{Spec{Name: "x", SQL: "SELECT count(*) FROM events", JS: "fromAll()"}, "not both"},
		{Spec{Name: "x", SQL: "SELECT count(*) FROM events", OnError: "retry"}, "on_error"},
		{Spec{Name: "x", SQL: "SELEC count(*) FROM events"}, "syntax error"},
		{Spec{Name: "x", SQL: "SELECT entity_id FROM events GROUP BY entity_id"}, "at least one aggregate"},
		{Spec{Name: "x", SQL: "SELECT entity_id, count(*) FROM events"}, "must be an aggregate or appear in GROUP BY"},
		{Spec{Name: "x", SQL: "SELECT count(*) FROM users"}, "a projection reads events"},
		{Spec{Name: "x", SQL: "SELECT count(*) FROM events ORDER BY 1"}, "ORDER BY is not allowed"},
		{Spec{Name: "x", SQL: "SELECT sum(count(*)) FROM events"}, "nested"},
		{Spec{Name: "x", SQL: "SELECT event_type, count(DISTINCT _v) FROM events GROUP BY 1"}, "events has no column _v"},
		{Spec{Name: "x", SQL: "SELECT count(*) / 2 AS half FROM events"}, "inside an expression"},
		{Spec{Name: "x", SQL: "SELECT sum(nope) AS s FROM events"}, "nope"},
		{Spec{Name: "x", SQL: "SELECT entity_id, count(*) AS count, count(*) AS count FROM events GROUP BY entity_id"}, "used twice"},
		{Spec{Name: "x", SQL: "SELECT count(*) AS n, max(GREATEST((SELECT string_agg(CAST(payload AS VARCHAR), ' ') FROM _hot.gen_1), '')) AS x FROM events"}, "subquery"},
		{Spec{Name: "x", SQL: "SELECT count(*) FILTER (WHERE entity_id IN (SELECT entity_id FROM events)) AS n FROM events"}, "subquery"},
		{Spec{Name: "x", SQL: "SELECT (SELECT 1) AS k, count(*) AS n FROM events GROUP BY (SELECT 1)"}, "subquery"},
		{Spec{Name: "x", SQL: "SELECT count(*) AS n, max(length(ARRAY[(SELECT 1)])) AS m FROM events"}, "subquery"},
		{Spec{Name: "x", SQL: "SELECT count(*) AS n, max(getenv('HOME')) AS h FROM events"}, "not allowed"},
		{Spec{Name: "x", SQL: "SELECT count(*) AS n, max(read_text('/etc/passwd')) AS h FROM events"}, "not allowed"},
		{Spec{Name: "x", JS: "fromAll("}, "JavaScript"},
		{Spec{Name: "x", JS: "1 + 1"}, "declare handlers"},
		{Spec{Name: "x", JS: "fromAll().when({ $bogus: () => 1 })"}, "not a known handler"},
	} {
		_, err := e.Create(ctx, "acme", c.spec, false)
		if err == nil || !strings.Contains(err.Error(), c.want) || allsource.ErrorCode(err) != allsource.CodeInvalid {
			t.Errorf("%+v: %v (want %q)", c.spec, err, c.want)
		}
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "x", SQL: "SELECT count(*) AS n FROM events"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "x", SQL: "SELECT count(*) AS n FROM events"}, false); allsource.ErrorCode(err) != allsource.CodeConflict {
		t.Fatalf("second create: %v", err)
	}
}

const ordersJS = `
fromAll()
  .partitionBy(e => e.data.region)
  .when({
    $init: () => ({ n: 0, total: 0 }),
    'order.placed': (s, e) => { s.n++; s.total += e.data.amount || 0; s.last = e.streamId },
    'order.paid': (s, e) => ({ ...s, n: s.n + 1, paid: (s.paid || 0) + 1 }),
  })`

func TestJSProjectionMatchesPlainSQL(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 500)
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Create(ctx, "acme", Spec{Name: "regions", JS: ordersJS}, false); err != nil {
		t.Fatal(err)
	}
	head := s.orders(t, "acme", 300)
	waitFor(t, e, "acme", "regions", head)
	got := rowsOf(t, s, "acme", `SELECT key, (state->>'n')::BIGINT, (state->>'total')::BIGINT, coalesce((state->>'paid')::BIGINT, 0), state->>'last' FROM projections.regions ORDER BY key`)
	want := rowsOf(t, s, "acme", `SELECT payload->>'region', count(*), coalesce(sum((payload->>'amount')::BIGINT) FILTER (WHERE event_type = 'order.placed'), 0),
		count(*) FILTER (WHERE event_type = 'order.paid'), last(entity_id ORDER BY seq) FILTER (WHERE event_type = 'order.placed')
		FROM events WHERE event_type IN ('order.placed', 'order.paid') GROUP BY 1 ORDER BY 1`)
	sameRows(t, "js vs SQL", got, want)
}

// TestCrashAtEveryStep stops the engine as if the process died at each
// step of applying a batch and of saving a checkpoint, then starts a new
// one: the state equals the same aggregate over events, so no event was
// lost or applied twice.
func TestCrashAtEveryStep(t *testing.T) {
	for _, kind := range []string{KindSQL, KindJS} {
		for _, point := range []string{"apply.before", "apply.filled", "apply.upserted", "apply.after", "checkpoint.files", "checkpoint.written"} {
			if kind == KindJS && point == "apply.upserted" {
				continue
			}
			for _, nth := range []int64{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/%d", kind, point, nth), func(t *testing.T) {
					s := newStore(t)
					s.orders(t, "acme", 400)
					var hits atomic.Int64
					crashed := make(chan struct{})
					var once sync.Once
					e := openEngine(t, s, Options{CheckpointEvery: time.Nanosecond, MaxBatch: 50, Fault: func(p string) bool {
						if p == point && hits.Add(1) == nth {
							once.Do(func() { close(crashed) })
							return true
						}
						return false
					}})
					spec := Spec{Name: "p", SQL: ordersSQL}
					if kind == KindJS {
						spec = Spec{Name: "p", JS: ordersJS}
					}
					ctx := context.Background()
					if _, err := e.Create(ctx, "acme", spec, false); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < 30; i++ {
						s.orders(t, "acme", 10)
						time.Sleep(2 * time.Millisecond)
					}
					select {
					case <-crashed:
					case <-time.After(20 * time.Second):
						t.Fatalf("never reached %s", point)
					}
					e.crash()
					head := s.orders(t, "acme", 100)
					e2 := openEngine(t, s, Options{})
					defer e2.Close()
					waitFor(t, e2, "acme", "p", head)
					if kind == KindSQL {
						sameRows(t, "after crash", rowsOf(t, s, "acme", "SELECT * FROM projections.p ORDER BY region, event_type"),
							rowsOf(t, s, "acme", plainSQL(ordersSQL, "region, event_type")))
						return
					}
					got := rowsOf(t, s, "acme", `SELECT key, (state->>'n')::BIGINT, (state->>'total')::BIGINT FROM projections.p ORDER BY key`)
					want := rowsOf(t, s, "acme", `SELECT payload->>'region', count(*), coalesce(sum((payload->>'amount')::BIGINT) FILTER (WHERE event_type = 'order.placed'), 0)
						FROM events WHERE event_type IN ('order.placed', 'order.paid') GROUP BY 1 ORDER BY 1`)
					sameRows(t, "after crash", got, want)
				})
			}
		}
	}
}

// TestRestartResumes: a clean stop saves a checkpoint; the next start
// loads it and goes on from its seq.
func TestRestartResumes(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 300)
	e := openEngine(t, s, Options{CheckpointEvery: time.Hour})
	ctx := context.Background()
	if _, err := e.Create(ctx, "acme", Spec{Name: "p", SQL: ordersSQL}, false); err != nil {
		t.Fatal(err)
	}
	head := s.orders(t, "acme", 50)
	waitFor(t, e, "acme", "p", head)
	e.Close()
	s.orders(t, "acme", 70)
	e2 := openEngine(t, s, Options{})
	defer e2.Close()
	st, _ := e2.Get("acme", "p")
	if st.CheckpointSeq != head {
		t.Fatalf("checkpoint at %d, want %d", st.CheckpointSeq, head)
	}
	head = s.orders(t, "acme", 30)
	waitFor(t, e2, "acme", "p", head)
	sameRows(t, "after restart", rowsOf(t, s, "acme", "SELECT * FROM projections.p ORDER BY region, event_type"),
		rowsOf(t, s, "acme", plainSQL(ordersSQL, "region, event_type")))
	st, _ = e2.Get("acme", "p")
	if st.Events > 100+50 {
		t.Fatalf("applied %d events after restart; it started over", st.Events)
	}
}

// TestVersionSwapUnderIngest replaces a projection while writers append:
// the new version rebuilds, takes over, and holds every event once.
func TestVersionSwapUnderIngest(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 2000)
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	v1 := `SELECT event_type, count(*) AS n FROM events GROUP BY event_type`
	if _, err := e.Create(ctx, "acme", Spec{Name: "p", SQL: v1}, false); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s.orders(t, "acme", 25)
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	v2 := `SELECT event_type, count(*) AS n, sum((payload->>'amount')::BIGINT) AS total FROM events GROUP BY event_type`
	d, err := e.Create(ctx, "acme", Spec{Name: "p", SQL: v2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 2 {
		t.Fatalf("version %d", d.Version)
	}
	// The old version serves while the new one rebuilds.
	if got := rowsOf(t, s, "acme", "SELECT count(*) FROM projections.p"); len(got) != 1 {
		t.Fatal(got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := e.Get("acme", "p")
		if st.Version == 2 && st.Rebuilding == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no swap: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond)
	close(stop)
	wg.Wait()
	head := s.orders(t, "acme", 1)
	waitFor(t, e, "acme", "p", head)
	sameRows(t, "after swap", rowsOf(t, s, "acme", "SELECT * FROM projections.p ORDER BY event_type"),
		rowsOf(t, s, "acme", v2+" ORDER BY event_type"))
	// Version 1's tables are gone.
	if n := rowsOf(t, s, "acme", "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_proj' AND table_name LIKE '%_v1%'"); n[0] != "0" {
		t.Fatalf("version 1 tables left: %v", n)
	}
}

func TestDeadLettersAndPolicies(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 100)
	e := openEngine(t, s, Options{Retries: 1, RetryWait: time.Millisecond})
	defer e.Close()
	ctx := context.Background()
	js := `fromAll().when({ $init: () => ({n: 0}), 'order.paid': (s, e) => { if (e.seq % 10 == 1) throw new Error("bad order " + e.seq); s.n++ } })`
	if _, err := e.Create(ctx, "acme", Spec{Name: "skipper", JS: js}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "stopper", JS: js, OnError: OnErrorStop}, false); err != nil {
		t.Fatal(err)
	}
	head := s.orders(t, "acme", 20)
	waitFor(t, e, "acme", "skipper", head)
	var paidFailing, paidOK int
	for q := uint64(1); q <= head; q++ {
		if q%5 == 1 {
			if q%10 == 1 {
				paidFailing++
			} else {
				paidOK++
			}
		}
	}
	dl, err := e.DeadLetters(ctx, "acme", "skipper", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != paidFailing || !strings.Contains(dl[1].Error, "bad order 11") || dl[0].Attempts != 1 { // a throw is not tried again
		t.Fatalf("dead letters %d (want %d): %+v", len(dl), paidFailing, dl)
	}
	if got := rowsOf(t, s, "acme", "SELECT (state->>'n')::INT FROM projections.skipper"); got[0] != fmt.Sprint(paidOK) {
		t.Fatalf("skipper state %v, want %d", got, paidOK)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := e.Get("acme", "stopper")
		if st.Status == StatusFaulted {
			if !strings.Contains(st.Reason, "seq 1 ") || st.Position != 0 {
				t.Fatalf("stopper %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stopper never faulted: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Reset starts over (and faults again at the same event).
	if err := e.Delete(ctx, "acme", "stopper"); err != nil {
		t.Fatal(err)
	}
	if l := e.List("acme"); len(l) != 1 || l[0].Name != "skipper" {
		t.Fatalf("list %+v", l)
	}
}

var _ = sql.ErrNoRows

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor waits until the projection has applied up to seq, failing with
// its status after a while.
func waitFor(t *testing.T, e *Engine, tenant, name string, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Wait(ctx, tenant, name, seq); err != nil {
		st, _ := e.Get(tenant, name)
		t.Fatalf("wait for %s at %d: %v; status %+v", name, seq, err, st)
	}
}

// BenchmarkApply measures a SQL projection applying live batches.
func BenchmarkApply(b *testing.B) {
	for _, c := range []struct {
		name string
		sql  string
	}{{"simple", `SELECT event_type, count(*) AS n FROM events GROUP BY event_type`}, {"orders", ordersSQL}, {"merges", ordersMergesSQL}} {
		for _, size := range []int{100, 1000, 10000} {
			b.Run(fmt.Sprint(c.name, "/", size), func(b *testing.B) {
				s := newStoreTB(b)
				// Every batch applied as it comes: the cost of one apply.
				e, err := Open(context.Background(), s.wh, s.hub, Options{Logger: quietLogger(), CheckpointEvery: time.Hour, ApplyEvery: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				if _, err := e.Create(context.Background(), "acme", Spec{Name: "p", SQL: c.sql}, false); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				var head uint64
				for i := 0; i < b.N; i++ {
					head = s.orders(b, "acme", size)
					if err := e.Wait(context.Background(), "acme", "p", head); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// TestEntityStateAt: an entity's state as of a time is folded from the
// newest snapshot holding only earlier events of it, and equals the
// events up to that time, also when events arrive out of time order.
func TestEntityStateAt(t *testing.T) {
	s := newStore(t)
	e := openEngine(t, s, Options{CheckpointEvery: time.Nanosecond, SnapshotEvery: time.Nanosecond})
	defer e.Close()
	ctx := context.Background()
	js := `fromAll().foreachStream().when({ $init: () => ({ n: 0, sum: 0 }), tick: (s, e) => { s.n++; s.sum += e.data.v } })`
	if _, err := e.Create(ctx, "acme", Spec{Name: "ticks", JS: js}, false); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 4, d, 12, 0, 0, 0, time.UTC) }
	add := func(days ...int) uint64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		var evs []allsource.Event
		for _, d := range days {
			s.seq++
			evs = append(evs, allsource.Event{Seq: s.seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", s.seq), Tenant: "acme", EntityID: "e1",
				EventType: "tick", Version: s.seq, Timestamp: day(d), IngestedAt: time.Now().UTC(), Payload: []byte(fmt.Sprintf(`{"v": %d}`, d)), Metadata: []byte(`{}`)})
		}
		if err := s.wh.Append(evs); err != nil {
			t.Fatal(err)
		}
		s.hub.Publish(evs)
		return s.seq
	}
	var seqs []uint64
	for _, days := range [][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {5}} {
		head := add(days...)
		waitFor(t, e, "acme", "ticks", head)
		deadline := time.Now().Add(10 * time.Second)
		for { // each batch ends with its own checkpoint (a snapshot)
			st, _ := e.Get("acme", "ticks")
			if st.CheckpointSeq == head {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint at %d: %+v", head, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		seqs = append(seqs, head)
	}
	for _, c := range []struct {
		at       int
		wantSnap uint64
	}{{12, seqs[0]}, {25, seqs[2]}, {3, 0}, {10, seqs[0]}} {
		at := day(c.at)
		res, err := e.EntityState(ctx, "acme", "ticks", "e1", at)
		if err != nil {
			t.Fatal(err)
		}
		want := rowsOf(t, s, "acme", fmt.Sprintf(`SELECT count(*), coalesce(sum((payload->>'v')::INT), 0) FROM events WHERE entity_id = 'e1' AND "timestamp" <= '%s'`, at.Format(time.RFC3339)))
		var st struct{ N, Sum int }
		if err := json.Unmarshal(res.State, &st); err != nil && res.State != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%d|%d", st.N, st.Sum); got != want[0] || res.FromSnapshot != c.wantSnap {
			t.Fatalf("at day %d: state %s from snapshot %d; want %s from %d", c.at, res.State, res.FromSnapshot, want[0], c.wantSnap)
		}
	}
	now, err := e.EntityState(ctx, "acme", "ticks", "e1", time.Time{})
	if err != nil || !strings.Contains(string(now.State), `"n":21`) {
		t.Fatalf("now: %s %v", now.State, err)
	}
	// Snapshots fold every event: not for readers with hidden types.
	restricted := allsource.WithReadRestriction(ctx, allsource.ReadRestriction{HiddenTypes: []string{"tick"}})
	if _, err := e.EntityState(restricted, "acme", "ticks", "e1", day(12)); allsource.ErrorCode(err) != allsource.CodeForbidden {
		t.Fatalf("restricted reader: %v", err)
	}
}

// TestSnapshotsAreBounded: a checkpoint every batch, each kept as a
// snapshot, keeps only KeepSnapshots of them and no other files.
func TestSnapshotsAreBounded(t *testing.T) {
	s := newStore(t)
	e := openEngine(t, s, Options{CheckpointEvery: time.Nanosecond, SnapshotEvery: time.Nanosecond, KeepSnapshots: 3})
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Create(ctx, "acme", Spec{Name: "p", SQL: "SELECT event_type, count(*) AS n FROM events GROUP BY event_type"}, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		head := s.orders(t, "acme", 10)
		waitFor(t, e, "acme", "p", head)
		deadline := time.Now().Add(10 * time.Second)
		for st, _ := e.Get("acme", "p"); st.CheckpointSeq != head; st, _ = e.Get("acme", "p") {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint at %d: %+v", head, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	st, _ := e.Get("acme", "p")
	if st.Snapshots != 3 {
		t.Fatalf("%d snapshots kept, want 3", st.Snapshots)
	}
	files, _ := os.ReadDir(filepath.Join(s.wh.ProjectionsDir(), "acme", "p", "v1"))
	if len(files) > 1+4 { // checkpoint.json, the current state file and the 3 snapshots' (one may be the current)
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		t.Fatalf("files kept: %v", names)
	}
}

// TestProjectionsPerTenantBounded: a tenant may define at most
// MaxPerTenant projections; replacing one and other tenants' are not
// affected.
func TestProjectionsPerTenantBounded(t *testing.T) {
	s := newStore(t)
	e := openEngine(t, s, Options{MaxPerTenant: 2})
	defer e.Close()
	ctx := context.Background()
	def := "SELECT event_type, count(*) AS n FROM events GROUP BY event_type"
	for _, name := range []string{"a", "b"} {
		if _, err := e.Create(ctx, "acme", Spec{Name: name, SQL: def}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "c", SQL: def}, false); allsource.ErrorCode(err) != allsource.CodeTooLarge {
		t.Fatalf("third projection: %v", err)
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "a", SQL: def}, true); err != nil {
		t.Fatalf("replacing one: %v", err)
	}
	if _, err := e.Create(ctx, "other", Spec{Name: "c", SQL: def}, false); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

// TestCreateAwaitsFirstBuild: CREATE PROJECTION returns once the first
// build has applied every stored event, so a read right after it sees
// them all; when the build takes longer than FirstBuildWait, it returns
// with a notice saying so instead of leaving reads silently partial.
func TestCreateAwaitsFirstBuild(t *testing.T) {
	s := newStore(t)
	for i := 0; i < 10; i++ {
		s.orders(t, "acme", 500)
	}
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	tag, notice, err := e.Exec(ctx, "acme", "CREATE PROJECTION n AS SELECT event_type, count(*) AS n FROM events GROUP BY event_type")
	if err != nil || tag != "CREATE PROJECTION" || notice != "" {
		t.Fatalf("create: %q %q %v", tag, notice, err)
	}
	got := rowsOf(t, s, "acme", "SELECT sum(n) FROM projections.n")
	if len(got) != 1 || got[0] != "5000" {
		t.Fatalf("read right after CREATE: %v, want 5000 events counted", got)
	}

	slow := openEngine(t, s, Options{FirstBuildWait: time.Nanosecond})
	defer slow.Close()
	_, notice, err = slow.Exec(ctx, "acme", "CREATE PROJECTION m AS SELECT event_type, count(*) AS n FROM events GROUP BY event_type")
	if err != nil || !strings.Contains(notice, "projection m is still building") || !strings.Contains(notice, "events behind") {
		t.Fatalf("create with no time to build: notice %q, %v", notice, err)
	}
}

// TestDefinitionErrorsSpeakOfTheUsersSQL: a definition the engine cannot
// run is refused with what the engine says about the SELECT as written,
// not about the statements the projection runs (their _key, _seq and
// json_array, their LINE excerpt).
func TestDefinitionErrorsSpeakOfTheUsersSQL(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 10)
	e := openEngine(t, s, Options{})
	defer e.Close()
	cases := []struct{ sql, want string }{
		{"SELECT entty_id, count(*) AS n FROM events GROUP BY entty_id", `Referenced column "entty_id" not found`},
		{"SELECT entity_id, sum(lenght(event_type)) AS s FROM events GROUP BY entity_id", `Did you mean "length"?`},
		{"SELECT entity_id, sum(payload->>'x') AS s FROM events GROUP BY entity_id", `'sum(VARCHAR)'`},
	}
	for _, c := range cases {
		_, err := e.Create(context.Background(), "acme", Spec{Name: "bad", SQL: c.sql}, false)
		msg := allsource.ErrorMessage(err)
		if err == nil || !strings.Contains(msg, c.want) || strings.Contains(msg, "_key") || strings.Contains(msg, "_seq") ||
			strings.Contains(msg, "json_array") || strings.Contains(msg, "LINE ") {
			t.Errorf("%s:\n%v\nwant an error saying %s about the SELECT as written", c.sql, msg, c.want)
		}
	}
}

// TestSourcesStayWithTheirTenant: the functions that hand batches and
// code projections' states to the engine answer, in another tenant's
// instance, as if the table did not exist, and user statements cannot
// call them at all.
func TestSourcesStayWithTheirTenant(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 50)
	s.orders(t, "other", 10)
	e := openEngine(t, s, Options{})
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Create(ctx, "acme", Spec{Name: "regions", JS: ordersJS}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, "other", Spec{Name: "regions", JS: ordersJS}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, "acme", "regions", s.orders(t, "acme", 5))
	e.mu.Lock()
	table := e.projs[projKey{"acme", "regions"}].active.table
	e.mu.Unlock()
	if got := rowsOf(t, s, "acme", "SELECT count(*) FROM "+statesFunc+"("+sqlString(table)+")"); len(got) != 1 || got[0] == "0" {
		t.Fatalf("acme's own states: %v", got)
	}
	// The server's own statement in other's instance.
	lease, err := s.wh.Engine(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	conn, err := lease.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, f := range []string{statesFunc, batchFunc} {
		var n int
		err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+f+"("+sqlString(table)+")").Scan(&n)
		if err == nil || !strings.Contains(err.Error(), "no ") {
			t.Errorf("%s of acme's table in other's instance: %d rows, %v", f, n, err)
		}
	}
	// A user's statement.
	for _, tenant := range []string{"acme", "other"} {
		_, err := s.wh.Query(allsource.WithTenantScope(ctx, tenant), "SELECT * FROM "+statesFunc+"("+sqlString(table)+")")
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s's query of the states function: %v", tenant, err)
		}
	}
}
