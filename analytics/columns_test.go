package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// columnsWarehouse stores events of two tenants over five weeks around
// clock changes (St John's on March 8, Europe on March 29, Lord Howe's
// half hour on April 5, 2026): whole-minute times (ties within an
// entity are common), three flushes whose files overlap in time within a
// day, and a hot tier.
func columnsWarehouse(t *testing.T) *warehouse.Warehouse {
	t.Helper()
	ctx := context.Background()
	wh, err := warehouse.Open(ctx, warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	rng := rand.New(rand.NewPCG(7, 8))
	base := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	for round := range 4 {
		var batch []allsource.Event
		for range 2500 {
			seq++
			at := base.Add(time.Duration(rng.IntN(35*24*60)) * time.Minute)
			batch = append(batch, allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq),
				Tenant: []string{"acme", "globex"}[rng.IntN(2)], EntityID: fmt.Sprintf("user-%d", rng.IntN(250)),
				EventType: []string{"a", "b", "c", "x"}[rng.IntN(4)], Version: seq, Timestamp: at, IngestedAt: at,
				Payload: fmt.Appendf(nil, `{"n": %d, "plan": "p%d"}`, rng.IntN(10), rng.IntN(3)), Metadata: []byte(`{}`)})
		}
		if err := wh.Append(batch); err != nil {
			t.Fatal(err)
		}
		if round < 3 {
			if err := wh.FlushAll(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The columns of the flushed files are written by the flushes.
	if s, ok, err := wh.ScanColumns(ctx); !ok || err != nil {
		t.Fatalf("no event columns after the flushes: %v", err)
	} else {
		s.Close()
	}
	return wh
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestColumnPathMatchesEngine: every question the column path takes gets
// the engine path's answer (the feed over a Parquet and hot-tier scan),
// for every tenant scope, funnel mode, retention shape and series
// interval, with and without time ranges; a read restriction or a
// question with conditions goes to the engine.
func TestColumnPathMatchesEngine(t *testing.T) {
	manyWorkers(t)
	wh := columnsWarehouse(t)
	from := time.Date(2026, 3, 26, 6, 30, 0, 0, time.UTC)
	to := time.Date(2026, 4, 1, 18, 0, 0, 0, time.UTC)
	scopes := map[string]context.Context{
		"all":  context.Background(),
		"acme": allsource.WithTenantScope(context.Background(), "acme"),
	}
	for scopeName, ctx := range scopes {
		for _, mode := range []string{"default", "strict_order", "strict_increase", "strict_deduplication", "any_order"} {
			for _, variant := range []string{"plain", "exclude", "range", "repeat", "where", "where repeat", "exclude where"} {
				spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}, {EventType: "c"}}, Window: "6h", Mode: mode}
				switch variant {
				case "exclude":
					spec.Exclude = []StepSpec{{EventType: "x"}}
				case "range":
					spec.From, spec.To = &from, &to
				case "repeat":
					spec.Steps = append(spec.Steps, StepSpec{EventType: "a"})
				case "where":
					spec.Steps[1].Where = "payload.n > 3"
					spec.From, spec.To = &from, &to
				case "where repeat":
					// The same type with and without a condition, and
					// two conditions on one type.
					spec.Steps = append(spec.Steps, StepSpec{EventType: "a", Where: `payload.plan == "p1"`}, StepSpec{EventType: "a", Where: "payload.n <= 4"})
				case "exclude where":
					spec.Exclude = []StepSpec{{EventType: "x", Where: "payload.n == 1"}, {EventType: "c", Where: `payload.plan == "p2"`}}
				}
				mo, _ := ParseFunnelMode(mode)
				q := funnelQuestion(spec, FunnelOptions{Steps: len(spec.Steps), Window: 6 * time.Hour, Mode: mo})
				if q.typeBits == nil {
					t.Fatalf("%s/%s: not a column question", mode, variant)
				}
				got, ok, err := columnsQuestion(ctx, wh, q)
				if err != nil || !ok {
					t.Fatalf("%s %s/%s: column path ok %v, %v", scopeName, mode, variant, ok, err)
				}
				q.typeBits = nil
				want, err := runQuestion(ctx, wh, q)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffFunnelResults(got, want); d != "" || want.Steps[0].Entities == 0 {
					t.Fatalf("%s %s/%s: the column path differs from the engine's:\n%s", scopeName, mode, variant, d)
				}
			}
		}
		for _, start := range []string{"first", "any"} {
			for _, mode := range []string{"classic", "unbounded"} {
				for _, period := range []string{"day", "week", "day where", "week same type where"} {
					spec := RetentionSpec{StartEvent: StepSpec{EventType: "a"}, ReturnEvent: StepSpec{EventType: "b"},
						Period: period, Periods: 6, Mode: mode, Start: start, TimeZone: "Europe/Berlin"}
					switch period {
					case "day where":
						spec.Period, spec.ReturnEvent.Where = "day", "payload.n > 4"
					case "week same type where":
						// The return event is the start's type with a condition.
						spec.Period, spec.ReturnEvent = "week", StepSpec{EventType: "a", Where: `payload.plan != "p0"`}
					}
					if spec.Period == "day" {
						spec.From, spec.To = &from, &to
					}
					o, err := spec.options()
					if err != nil {
						t.Fatal(err)
					}
					q := retentionQuestion(spec, o)
					got, ok, err := columnsQuestion(ctx, wh, q)
					if err != nil || !ok {
						t.Fatalf("retention: column path ok %v, %v", ok, err)
					}
					q.typeBits = nil
					want, err := runQuestion(ctx, wh, q)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := renderRetention(t, got), renderRetention(t, want); !slices.Equal(g, w) || len(w) == 0 {
						t.Fatalf("%s retention %s/%s/%s:\n%v\nwant\n%v", scopeName, start, mode, period, g, w)
					}
				}
			}
		}
		zoned := 0 // series in a zone with clock changes the column path took
		wide := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		wideTo := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		for _, iv := range []string{"1h", "15m", "90m", "1d", "1w", "1mo", "1q"} {
			// Pacific/Apia skipped a day in 2011: the engine's own zoned
			// weeks started on Tuesdays there.
			for _, tz := range []string{"", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns", "America/Santiago", "Pacific/Apia"} {
				for _, variant := range []string{"grouped", "total", "one type", "range", "distinct", "distinct grouped"} {
					spec := SeriesSpec{Interval: iv, TimeZone: tz, From: &wide, To: &wideTo}
					switch variant {
					case "grouped":
						spec.GroupBy = "event_type"
					case "one type":
						spec.EventType = "c"
					case "range":
						spec.GroupBy, spec.From, spec.To = "type", &from, &to
					case "distinct":
						if tz != "" && tz != "Europe/Berlin" {
							continue // the engine's distinct counts are slow: two zones suffice
						}
						spec.Metric = "count_distinct"
					case "distinct grouped":
						if tz != "" && tz != "Europe/Berlin" {
							continue
						}
						spec.Metric, spec.Field, spec.GroupBy, spec.From, spec.To = "count_distinct", "entity_id", "event_type", &from, &to
					}
					p, err := spec.plan()
					if err != nil {
						t.Fatal(err)
					}
					got, ok, err := seriesFromColumns(ctx, wh, spec, p)
					if err != nil || ok != zoneSafe(p.iv, p.loc, *spec.From, *spec.To) {
						t.Fatalf("series %s %q: column path ok %v, %v", iv, tz, ok, err)
					}
					if !ok {
						continue // the engine's
					}
					if tz != "" {
						zoned++
					}
					want, err := seriesFromEngine(ctx, wh, p)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := jsonOf(t, seriesSorted(got)), jsonOf(t, seriesSorted(want)); g != w || len(want) == 0 {
						t.Fatalf("%s series %s %q %s:\n%s\nwant\n%s", scopeName, iv, tz, variant, g, w)
					}
				}
			}
		}
		if zoned == 0 {
			t.Fatal("no zoned series took the column path")
		}
	}

	// A partition too large for memory: the engine's sorted stream, same
	// answer.
	func() {
		spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}, Window: "6h"}
		want, err := RunFunnel(context.Background(), wh, spec)
		if err != nil {
			t.Fatal(err)
		}
		defer func(old int) { maxPartRows = old }(maxPartRows)
		maxPartRows = 10
		q := funnelQuestion(spec, FunnelOptions{Steps: 2, Window: 6 * time.Hour})
		if _, _, err := columnsQuestion(context.Background(), wh, q); err != errFeedTooLarge {
			t.Fatalf("a partition over the bound: err %v", err)
		}
		got, err := RunFunnel(context.Background(), wh, spec)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffFunnelResults(got, want); d != "" {
			t.Fatalf("the sorted stream differs from the column path:\n%s", d)
		}
	}()

	// What the column path leaves to the engine.
	ctx := scopes["acme"]
	restricted := allsource.WithReadRestriction(ctx, allsource.ReadRestriction{HiddenTypes: []string{"b"}})
	q := funnelQuestion(FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}}, FunnelOptions{Steps: 2, Window: time.Hour})
	if _, ok, _ := columnsQuestion(restricted, wh, q); ok {
		t.Fatal("the column path answered under a read restriction")
	}
	res, err := RunFunnel(restricted, wh, FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}})
	if err != nil || res.Steps[1].Entities != 0 || res.Steps[0].Entities == 0 {
		t.Fatalf("a hidden type counted in a funnel: %+v, %v", res.Steps, err)
	}
	// A condition under a read restriction: the engine's (it applies the
	// restriction to the condition's fields too).
	cq := funnelQuestion(FunnelSpec{Steps: []StepSpec{{EventType: "a", Where: "payload.n > 1"}, {EventType: "c"}}}, FunnelOptions{Steps: 2, Window: time.Hour})
	if _, ok, _ := columnsQuestion(allsource.WithReadRestriction(ctx, allsource.ReadRestriction{HiddenFields: []string{"payload.n"}}), wh, cq); ok {
		t.Fatal("the column path answered a condition under a read restriction")
	}
	for _, spec := range []FunnelSpec{
		{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}, By: "payload.user"},
		{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}, Breakdown: "payload.plan"},
	} {
		if funnelQuestion(spec, FunnelOptions{Steps: 2, Window: time.Hour}).typeBits != nil {
			t.Fatalf("%+v taken by the column path", spec)
		}
	}
}

// seriesSorted is a series map in a stable order, for comparison.
func seriesSorted(m map[seriesKey][]SeriesPoint) []any {
	keys := make([]seriesKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b seriesKey) int {
		if a.s < b.s {
			return -1
		}
		if a.s > b.s {
			return 1
		}
		return 0
	})
	var out []any
	for _, k := range keys {
		pts := slices.Clone(m[k])
		slices.SortFunc(pts, func(a, b SeriesPoint) int { return a.Time.Compare(b.Time) })
		out = append(out, k.s, k.null, pts)
	}
	return out
}

// TestGroupScratch: rows come out grouped by key, each key's rows in
// (time, seq) order whatever the input order, and a second hash that
// disagrees is a collision.
func TestGroupScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var rows []feedRow
	for i := range 20000 {
		k := uint64(rng.IntN(3000))
		if i%7 == 0 {
			k = 42 // one key with many rows: sorted, not insertion-sorted
		}
		rows = append(rows, feedRow{g1: k * 0x9e3779b97f4a7c15, g2: k, us: int64(rng.IntN(50)), seq: int64(i)})
	}
	var sc groupScratch
	seen := map[uint64]bool{}
	total := 0
	ok := sc.group(slices.Clone(rows), func(run []feedRow) {
		if seen[run[0].g1] {
			t.Fatalf("key %d visited twice", run[0].g1)
		}
		seen[run[0].g1] = true
		for i, r := range run {
			if r.g1 != run[0].g1 {
				t.Fatal("two keys in one run")
			}
			if i > 0 && (run[i-1].us > r.us || (run[i-1].us == r.us && run[i-1].seq > r.seq)) {
				t.Fatalf("run of key %d out of order at %d", r.g1, i)
			}
		}
		total += len(run)
	})
	if !ok || total != len(rows) {
		t.Fatalf("ok %v, %d rows visited of %d", ok, total, len(rows))
	}
	big := uint64(42)
	rows = append(rows, feedRow{g1: big * 0x9e3779b97f4a7c15, g2: 43})
	if sc.group(rows, func([]feedRow) {}) {
		t.Fatal("a second hash that disagrees was not a collision")
	}
}

// TestZoneSafe: which series the column path may bucket itself.
func TestZoneSafe(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		iv, zone string
		want     bool
	}{
		{"1h", "UTC", true}, {"1d", "UTC", true}, {"1mo", "UTC", true}, {"90m", "UTC", true},
		{"1h", "Europe/Berlin", true}, {"15m", "Europe/Berlin", true}, {"90m", "Europe/Berlin", false},
		{"1d", "Europe/Berlin", true}, {"1mo", "Europe/Berlin", true}, {"1h", "Australia/Lord_Howe", false}, {"30m", "Australia/Lord_Howe", true},
		{"1d", "America/Santiago", false}, {"1h", "America/Santiago", true},
		{"1h", "Asia/Kolkata", true}, {"2h", "Asia/Kolkata", false},
	} {
		iv, err := ParseSeriesInterval(c.iv)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := zoneSafe(iv, loc, from, to); got != c.want {
			t.Errorf("%s in %s: %v, want %v", c.iv, c.zone, got, c.want)
		}
	}
}

// TestMicrosRange: [from, to) in whole microseconds, as the engine
// compares stored times with the bounds.
func TestMicrosRange(t *testing.T) {
	at := func(ns int) *time.Time { x := time.Date(2026, 1, 1, 0, 0, 0, ns, time.UTC); return &x }
	base := at(0).UnixMicro()
	for _, c := range []struct {
		from, to *time.Time
		lo, hi   int64
	}{
		{at(0), at(5000), base, base + 4},
		{at(1), at(5001), base + 1, base + 5},
		{at(999), at(999), base + 1, base},
		{nil, nil, -1 << 63, 1<<63 - 1},
	} {
		if lo, hi := microsRange(c.from, c.to); lo != c.lo || hi != c.hi {
			t.Errorf("%v..%v: [%d, %d], want [%d, %d]", c.from, c.to, lo-base, hi-base, c.lo-base, c.hi-base)
		}
	}
}

// scenarioStore is a warehouse the scenario files' cases are stored in:
// one tenant per case, every other case flushed to Parquet and the rest
// left in the hot tier, events in file order (so ties keep it through
// seq).
type scenarioStore struct {
	t    *testing.T
	wh   *warehouse.Warehouse
	seq  uint64
	next int
}

type scenarioEvent struct {
	entity, typ string
	micros      int64
}

func newScenarioStore(t *testing.T) *scenarioStore {
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return &scenarioStore{t: t, wh: wh}
}

// add stores one case's events and returns its tenant's scope.
func (s *scenarioStore) add(evs []scenarioEvent) context.Context {
	tenant := fmt.Sprintf("case%d", s.next)
	var batch []allsource.Event
	for _, e := range evs {
		s.seq++
		at := time.UnixMicro(e.micros).UTC()
		batch = append(batch, allsource.Event{Seq: s.seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", s.seq), Tenant: tenant,
			EntityID: e.entity, EventType: e.typ, Version: s.seq, Timestamp: at, IngestedAt: at, Payload: []byte(`{}`), Metadata: []byte(`{}`)})
	}
	if len(batch) > 0 {
		if err := s.wh.Append(batch); err != nil {
			s.t.Fatal(err)
		}
	}
	if s.next%2 == 0 {
		if err := s.wh.FlushAll(context.Background()); err != nil {
			s.t.Fatal(err)
		}
	}
	s.next++
	return allsource.WithTenantScope(context.Background(), tenant)
}

// TestFunnelScenariosColumnPath: the funnel scenario files (those without
// a breakdown, which the column path does not answer) give their expected
// results through the column path, each hit stored as an event whose type
// names its steps (see scenarioStore).
func TestFunnelScenariosColumnPath(t *testing.T) {
	manyWorkers(t)
	files, err := filepath.Glob("testdata/funnel/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	st := newScenarioStore(t)
	for _, file := range files {
		for _, c := range parseFunnelCases(t, file) {
			if c.opt.Breakdown || c.want.Breakdown != nil {
				continue
			}
			var evs []scenarioEvent
			for _, k := range c.keys {
				for _, h := range c.hits[k] {
					evs = append(evs, scenarioEvent{k, fmt.Sprintf("m%d_%v", h.Steps, h.Exclude), h.Micros})
				}
			}
			scope := st.add(evs)
			q := funnelQuestion(FunnelSpec{}, c.opt)
			q.typeBits = func(typ string) (uint64, bool) {
				var bits uint64
				var excl bool
				fmt.Sscanf(strings.Replace(typ, "_", " ", 1), "m%d %t", &bits, &excl)
				return bits, excl
			}
			got, ok, err := columnsQuestion(scope, st.wh, q)
			if err != nil || !ok {
				t.Fatalf("%s:%d: column path ok %v, %v", c.file, c.line, ok, err)
			}
			if d := diffFunnelResults(got, c.want); d != "" {
				t.Errorf("%s:%d %s: the column path differs from the expected result:\n%s", c.file, c.line, c.name, d)
			}
		}
	}
	t.Logf("%d scenarios through the column path", st.next)
}

// TestRetentionScenariosColumnPath: the retention scenario files (without
// a breakdown) give their expected results through the column path.
func TestRetentionScenariosColumnPath(t *testing.T) {
	manyWorkers(t)
	files, err := filepath.Glob("testdata/retention/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	st := newScenarioStore(t)
	for _, file := range files {
		for _, c := range parseRetentionScenarios(t, file) {
			if c.opts.Breakdown {
				continue
			}
			var evs []scenarioEvent
			for _, ent := range c.entities {
				for _, e := range ent.evs {
					evs = append(evs, scenarioEvent{ent.id, fmt.Sprintf("s%v_r%v", e.Start, e.Return), e.Micros})
				}
			}
			scope := st.add(evs)
			q := retentionQuestion(RetentionSpec{}, c.opts)
			q.typeBits = func(typ string) (uint64, bool) {
				var bits uint64
				if strings.HasPrefix(typ, "strue") {
					bits |= 1
				}
				if strings.HasSuffix(typ, "rtrue") {
					bits |= 2
				}
				return bits, false
			}
			got, ok, err := columnsQuestion(scope, st.wh, q)
			if err != nil || !ok {
				t.Fatalf("%s:%d: column path ok %v, %v", c.file, c.line, ok, err)
			}
			if g := renderRetention(t, got); !slices.Equal(g, c.want) {
				t.Errorf("%s:%d %s: the column path gives\n\t%s\nwant\n\t%s", c.file, c.line, c.name, strings.Join(g, "\n\t"), strings.Join(c.want, "\n\t"))
			}
		}
	}
	t.Logf("%d scenarios through the column path", st.next)
}

// TestConditionsAndScanSeeTheSameEvents: events appended after the
// condition query are not in its sets; the scan leaves them out too, so
// the answer is the one as of the query (a matching event of a
// conditioned type would otherwise count as failing its condition).
func TestConditionsAndScanSeeTheSameEvents(t *testing.T) {
	wh := columnsWarehouse(t)
	ctx := context.Background()
	spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b", Where: "payload.n >= 0"}}, Window: "6h"}
	q := funnelQuestion(spec, FunnelOptions{Steps: 2, Window: 6 * time.Hour})
	before, ok, err := columnsQuestion(ctx, wh, q)
	if err != nil || !ok {
		t.Fatalf("column path ok %v, %v", ok, err)
	}
	defer func() { afterConditionSets = func() {} }()
	afterConditionSets = func() {
		// New entities do a then b, an hour apart.
		var evs []allsource.Event
		at := time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC)
		for i := range 250 {
			for j, typ := range []string{"a", "b"} {
				seq := uint64(20_000 + 2*i + j)
				evs = append(evs, allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: "acme",
					EntityID: fmt.Sprintf("late-%d", i), EventType: typ, Version: seq, Timestamp: at.Add(time.Duration(j) * time.Hour),
					IngestedAt: at, Payload: []byte(`{"n": 5}`), Metadata: []byte(`{}`)})
			}
		}
		if err := wh.Append(evs); err != nil {
			t.Error(err)
		}
	}
	got, ok, err := columnsQuestion(ctx, wh, q)
	if err != nil || !ok {
		t.Fatalf("column path ok %v, %v", ok, err)
	}
	if d := diffFunnelResults(got, before); d != "" {
		t.Fatalf("events appended after the condition query changed the answer:\n%s", d)
	}
	afterConditionSets = func() {}
	after, _, err := columnsQuestion(ctx, wh, q)
	if err != nil || after.Steps[1].Entities != before.Steps[1].Entities+250 {
		t.Fatalf("the appended events were not counted later: %d then %d, %v", before.Steps[1].Entities, after.Steps[1].Entities, err)
	}
}

// TestConditionErrors: a condition that does not compile is the
// question's error, naming where it is, before either path runs.
func TestConditionErrors(t *testing.T) {
	wh := columnsWarehouse(t)
	ctx := context.Background()
	_, err := RunFunnel(ctx, wh, FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b", Where: "payload.n >"}}})
	if allsource.ErrorCode(err) != allsource.CodeInvalid || !strings.Contains(err.Error(), "steps[1]: where") {
		t.Errorf("funnel: %v", err)
	}
	_, err = RunFunnel(ctx, wh, FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}, Exclude: []StepSpec{{EventType: "x", Where: "(("}}})
	if allsource.ErrorCode(err) != allsource.CodeInvalid || !strings.Contains(err.Error(), "exclude[0]: where") {
		t.Errorf("funnel exclusion: %v", err)
	}
	_, err = RunRetention(ctx, wh, RetentionSpec{StartEvent: StepSpec{EventType: "a"}, ReturnEvent: StepSpec{EventType: "b", Where: "payload.n >"}, Period: "day", Periods: 3})
	if allsource.ErrorCode(err) != allsource.CodeInvalid || !strings.Contains(err.Error(), "return_event: where") {
		t.Errorf("retention: %v", err)
	}
}

// TestSeqWords: a condition's seqs are found the same way whether their
// words lie close together (a table) or far apart (binary search, so a
// tenant whose events are spread over a long seq range costs memory by
// its matches, not by the range).
func TestSeqWords(t *testing.T) {
	for _, c := range []struct {
		name  string
		seqs  []uint64
		dense bool
	}{
		{"close", []uint64{64, 65, 130, 700, 705, 1000}, true},
		{"spread", []uint64{3, 1 << 40, 1<<40 + 63, 1 << 50}, false},
		{"none", nil, false},
	} {
		idx := &seqWords{}
		set := seqSet{idx: idx}
		for _, q := range c.seqs {
			if n := len(idx.keys); n == 0 || idx.keys[n-1] != q/64 {
				idx.keys = append(idx.keys, q/64)
				set.words = append(set.words, 0)
			}
			set.words[len(set.words)-1] |= 1 << (q % 64)
		}
		idx.index()
		if (idx.dense != nil) != c.dense {
			t.Errorf("%s: dense %v, want %v", c.name, idx.dense != nil, c.dense)
		}
		for _, q := range c.seqs {
			if !set.has(q) {
				t.Errorf("%s: seq %d missing", c.name, q)
			}
		}
		for _, q := range []uint64{0, 1, 66, 129, 131, 704, 999, 1001, 4, 1<<40 + 1, 1<<50 + 1, 1 << 60} {
			if slices.Contains(c.seqs, q) {
				continue
			}
			if set.has(q) {
				t.Errorf("%s: seq %d found", c.name, q)
			}
		}
	}
}

// TestManyConditionsTakeTheEngine: past 64 conditions (a type entry's
// bits) the column path declines and the engine answers.
func TestManyConditionsTakeTheEngine(t *testing.T) {
	wh := columnsWarehouse(t)
	ctx := context.Background()
	spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b", Where: "payload.n > 2"}}, Window: "6h"}
	for i := range 65 {
		spec.Exclude = append(spec.Exclude, StepSpec{EventType: "x", Where: fmt.Sprintf("payload.n == %d", 100+i)})
	}
	q := funnelQuestion(spec, FunnelOptions{Steps: 2, Window: 6 * time.Hour})
	if _, ok, err := columnsQuestion(ctx, wh, q); ok || err != nil {
		t.Fatalf("column path with %d conditions: ok %v, %v", len(q.conds), ok, err)
	}
	got, err := RunFunnel(ctx, wh, spec)
	if err != nil || got.Steps[1].Entities == 0 {
		t.Fatalf("engine: %+v, %v", got.Steps, err)
	}
	spec.Exclude = nil
	want, err := RunFunnel(ctx, wh, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFunnelResults(got, want); d != "" { // no event has n ≥ 100
		t.Fatalf("exclusions that match nothing changed the answer:\n%s", d)
	}
}
