package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/internal/testkit/chtest"
)

// smallSessions is the shared small data set: ~10k events over 600
// entities, dense enough that every funnel step and most retention cells
// are non-zero.
func smallSessions(t *testing.T) []SessionEvent {
	t.Helper()
	evs := GenSessions(SessionOptions{Events: 10_000, Entities: 600, Seed: 7})
	if len(evs) != 10_000 {
		t.Fatalf("GenSessions made %d events, want 10000", len(evs))
	}
	return evs
}

// matches evaluates a step on a generated event, in Go.
func (s QStep) matches(ev SessionEvent, payload map[string]any) bool {
	if EventTypes[ev.Type] != s.Type {
		return false
	}
	if s.Where == nil {
		return true
	}
	v, ok := payload[s.Where.Field]
	if !ok {
		return false
	}
	if s.Where.IsNum {
		f, ok := v.(float64)
		if !ok {
			return false
		}
		switch s.Where.Op {
		case ">":
			return f > s.Where.Num
		case ">=":
			return f >= s.Where.Num
		case "<":
			return f < s.Where.Num
		case "<=":
			return f <= s.Where.Num
		case "==":
			return f == s.Where.Num
		default:
			return f != s.Where.Num
		}
	}
	str := fmt.Sprint(v)
	if s.Where.Op == "!=" {
		return str != s.Where.Str
	}
	return str == s.Where.Str
}

// referenceAnswer computes q over evs with the analytics package's
// evaluators (funnel, retention) or plain counting (series): the answer the
// server must give.
func referenceAnswer(t *testing.T, q AnalyticsQuestion, evs []SessionEvent) Answer {
	t.Helper()
	byEntity := map[int32][]SessionEvent{}
	for _, e := range evs {
		byEntity[e.Entity] = append(byEntity[e.Entity], e)
	}
	keys := make([]int32, 0, len(byEntity))
	for k := range byEntity {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	payload := func(e SessionEvent) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(e.AppendPayload(nil), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := Answer{}
	switch {
	case q.Funnel != nil:
		f, err := analytics.NewFunnel(analytics.FunnelOptions{Steps: len(q.Funnel.Steps), Window: q.Funnel.Window})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			var hits []analytics.Hit
			for _, e := range byEntity[k] {
				p := payload(e)
				var m uint64
				for i, s := range q.Funnel.Steps {
					if s.matches(e, p) {
						m |= 1 << i
					}
				}
				if m != 0 {
					hits = append(hits, analytics.Hit{Micros: e.Unix * 1e6, Steps: m})
				}
			}
			if len(hits) > 0 {
				f.Add(fmt.Sprint(k), hits)
			}
		}
		for _, s := range f.Result().Steps {
			a.set(fmt.Sprintf("step %02d", s.Step), float64(s.Entities))
		}
	case q.Retention != nil:
		r, err := analytics.NewRetention(analytics.RetentionOptions{Period: analytics.PeriodWeek, Periods: q.Retention.Periods})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			var rs []analytics.RetentionEvent
			for _, e := range byEntity[k] {
				st, rt := EventTypes[e.Type] == q.Retention.Start, EventTypes[e.Type] == q.Retention.Return
				if st || rt {
					rs = append(rs, analytics.RetentionEvent{Micros: e.Unix * 1e6, Start: st, Return: rt})
				}
			}
			if len(rs) > 0 {
				r.Add(fmt.Sprint(k), rs)
			}
		}
		for _, c := range r.Result().Cohorts {
			a.set(retentionCell(c.Cohort, -1), float64(c.Size))
			for p, n := range c.Retained {
				a.set(retentionCell(c.Cohort, p), float64(n))
			}
		}
	default:
		s := q.Series
		for _, e := range evs {
			if e.Unix < s.From.Unix() || e.Unix >= s.To.Unix() {
				continue
			}
			g := sql.NullString{String: fmt.Sprint(payload(e)[s.GroupBy]), Valid: true}
			a[seriesCell(g, e.Unix/3600*3600)]++
		}
	}
	return a
}

// writeParquet stores evs as one Parquet file with the warehouse's columns
// (timestamp as TIMESTAMPTZ, payload as JSON) in a new directory.
func writeParquet(t *testing.T, evs []SessionEvent) string {
	t.Helper()
	dir := t.TempDir()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE events (seq BIGINT, entity_id VARCHAR, event_type VARCHAR, "timestamp" TIMESTAMPTZ, payload JSON)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO events VALUES (?, ?, ?, make_timestamptz(? * 1000000), ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if _, err := stmt.Exec(i+1, e.EntityID(), EventTypes[e.Type], e.Unix, string(e.AppendPayload(nil))); err != nil {
			t.Fatal(err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "day=x", "events.parquet")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`COPY (SELECT * FROM events ORDER BY entity_id, "timestamp") TO ` + sqlString(out) + ` (FORMAT PARQUET)`); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnalyticsDuckDBFormulations checks every hand-written DuckDB
// formulation against the analytics package's evaluators on small data.
func TestAnalyticsDuckDBFormulations(t *testing.T) {
	evs := smallSessions(t)
	db, err := OpenParquetView(writeParquet(t, evs))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range smallQuestions() {
		want := referenceAnswer(t, q, evs)
		if len(want) < 3 {
			t.Fatalf("%s: reference answer too thin to test anything: %v", q.Name, want)
		}
		for _, v := range duckVariants(q) {
			got, err := duckAnswer(ctx, db, q, v.sql)
			if err != nil {
				t.Fatalf("%s, %s: %v\n%s", q.Name, v.name, err, v.sql)
			}
			if d := want.Diff(got); d != "" {
				t.Errorf("%s, %s: %s", q.Name, v.name, d)
			}
		}
	}
}

// TestAnalyticsClickHouse loads the small data set into a throwaway
// ClickHouse and checks its answers against the evaluators.
func TestAnalyticsClickHouse(t *testing.T) {
	srv := chtest.Require(t)
	evs := smallSessions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch := newCHClient(srv.HTTPURL())
	if err := ch.load(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	b, err := ch.exec(ctx, "SELECT count(), uniqExact(entity_id) FROM "+ClickHouseTable, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d\t%d\n", len(evs), 600); string(b) != want {
		t.Fatalf("ClickHouse holds %q, want %q", b, want)
	}
	for _, q := range smallQuestions() {
		got, err := ch.ask(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		if d := referenceAnswer(t, q, evs).Diff(got); d != "" {
			t.Errorf("%s: %s", q.Name, d)
		}
	}
}

// smallQuestions are the benchmark's questions, with the series moved to
// a week the small data set covers densely.
func smallQuestions() []AnalyticsQuestion {
	qs := AnalyticsQuestions()
	for i := range qs {
		if s := qs[i].Series; s != nil {
			c := *s
			c.From = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
			c.To = c.From.Add(7 * 24 * time.Hour)
			qs[i].Series = &c
		}
	}
	return qs
}

func TestAnswerDiff(t *testing.T) {
	a := Answer{"step 01": 10, "step 02": 4}
	if d := a.Diff(Answer{"step 01": 10, "step 02": 4}); d != "" {
		t.Errorf("equal answers differ: %s", d)
	}
	if d := a.Diff(Answer{"step 01": 10, "step 02": 5, "step 03": 1}); d == "" {
		t.Error("different answers agree")
	}
}
