package analytics

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scenario files, testdata/retention/*.txt. One file holds several cases:
//
//	# comment
//	case <name>
//	options period=week periods=4 tz=Europe/Berlin week_start=sunday start=any mode=unbounded breakdown
//	ev <entity> <RFC 3339 time> start|return|start,return [bd=<value>]
//	expect                      # overall matrix; "expect breakdown=<v>" or "expect breakdown=NULL" per group
//	<period start, RFC 3339> <size> | <retained in period 0> <1> …
//
// Entities are added in order of first appearance, with their events sorted
// by time. An expect block with no rows expects no cohorts. With the
// breakdown option, the case must list every group, in result order.

type retentionCase struct {
	name     string
	file     string
	line     int
	opts     RetentionOptions
	entities []retRefEntity
	want     []string // rendered expectation, one line per row / group header
}

func parseRetentionScenarios(t *testing.T, path string) []*retentionCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*retentionCase
	var cur *retentionCase
	byID := map[string]int{}
	sc := bufio.NewScanner(f)
	ln := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s:%d: %s", path, ln, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		ln++
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if fields[0] != "case" && cur == nil {
			fail("%q before any case", fields[0])
		}
		switch fields[0] {
		case "case":
			cur = &retentionCase{name: strings.Join(fields[1:], " "), file: filepath.Base(path), line: ln}
			cur.opts = RetentionOptions{Period: PeriodDay, Periods: 3}
			byID = map[string]int{}
			cases = append(cases, cur)
		case "options":
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				var err error
				switch k {
				case "period":
					cur.opts.Period, err = ParseRetentionPeriod(v)
				case "periods":
					cur.opts.Periods, err = strconv.Atoi(v)
				case "tz":
					cur.opts.Location, err = time.LoadLocation(v)
				case "week_start":
					cur.opts.WeekStart, err = ParseRetentionWeekStart(v)
				case "start":
					if v != "first" && v != "any" {
						err = fmt.Errorf("start=%s", v)
					}
					cur.opts.AnyStart = v == "any"
				case "mode":
					if v != "classic" && v != "unbounded" {
						err = fmt.Errorf("mode=%s", v)
					}
					cur.opts.Unbounded = v == "unbounded"
				case "breakdown":
					cur.opts.Breakdown = true
				default:
					err = fmt.Errorf("unknown option %q", k)
				}
				if err != nil {
					fail("%v", err)
				}
			}
		case "ev":
			if len(fields) < 4 {
				fail("ev needs entity, time and roles")
			}
			ts, err := time.Parse(time.RFC3339Nano, fields[2])
			if err != nil {
				fail("%v", err)
			}
			e := RetentionEvent{Micros: ts.UnixMicro()}
			for _, role := range strings.Split(fields[3], ",") {
				switch role {
				case "start":
					e.Start = true
				case "return":
					e.Return = true
				default:
					fail("unknown role %q", role)
				}
			}
			for _, f := range fields[4:] {
				v, ok := strings.CutPrefix(f, "bd=")
				if !ok {
					fail("unknown event field %q", f)
				}
				e.Breakdown = &v
			}
			i, ok := byID[fields[1]]
			if !ok {
				i = len(cur.entities)
				byID[fields[1]] = i
				cur.entities = append(cur.entities, retRefEntity{id: fields[1]})
			}
			cur.entities[i].evs = append(cur.entities[i].evs, e)
		case "expect":
			switch {
			case len(fields) == 1:
			case len(fields) == 2 && strings.HasPrefix(fields[1], "breakdown="):
				cur.want = append(cur.want, fields[1])
			default:
				fail("bad expect line")
			}
		default:
			// A matrix row: start size | retained…
			if len(fields) < 3 || fields[2] != "|" {
				fail("bad row %q", line)
			}
			cur.want = append(cur.want, strings.Join(fields, " "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for i := range c.entities {
			slices.SortStableFunc(c.entities[i].evs, func(a, b RetentionEvent) int {
				return int(min(max(a.Micros-b.Micros, -1), 1))
			})
		}
	}
	return cases
}

// renderRetention renders a result as scenario rows (period start in the
// zone, size, retained counts), checking the invariants rows do not show.
func renderRetention(t *testing.T, res RetentionResult) []string {
	t.Helper()
	var out []string
	rows := func(cs []Cohort) {
		for i, c := range cs {
			if i > 0 && !cs[i-1].Start.Before(c.Start) {
				t.Errorf("cohorts not sorted: %v then %v", cs[i-1].Start, c.Start)
			}
			if len(c.Retained) != res.Periods || len(c.Share) != res.Periods {
				t.Errorf("cohort %s: %d retained, %d shares, want %d", c.Cohort, len(c.Retained), len(c.Share), res.Periods)
			}
			if c.Size <= 0 {
				t.Errorf("cohort %s: size %d", c.Cohort, c.Size)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %d |", c.Start.Format(time.RFC3339), c.Size)
			for k, n := range c.Retained {
				fmt.Fprintf(&b, " %d", n)
				if want := float64(n) / float64(c.Size); c.Share[k] != want {
					t.Errorf("cohort %s period %d: share %v, want %v", c.Cohort, k, c.Share[k], want)
				}
			}
			if c.Cohort != c.Start.Format(time.DateOnly) {
				// Holds in every zone where local midnight exists, as in the scenarios.
				b.WriteString(" label=" + c.Cohort)
			}
			out = append(out, b.String())
		}
	}
	rows(res.Cohorts)
	for _, g := range res.Breakdown {
		v := "NULL"
		if g.Value != nil {
			v = *g.Value
		}
		out = append(out, "breakdown="+v)
		rows(g.Cohorts)
	}
	return out
}

func evalRetention(t testing.TB, o RetentionOptions, entities []retRefEntity) RetentionResult {
	r, err := NewRetention(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entities {
		r.Add(e.id, e.evs)
	}
	return r.Result()
}

func TestRetentionScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/retention/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	n := 0
	for _, path := range files {
		for _, c := range parseRetentionScenarios(t, path) {
			n++
			t.Run(c.file+"/"+c.name, func(t *testing.T) {
				for _, impl := range []struct {
					name string
					eval func() RetentionResult
				}{
					{"evaluator", func() RetentionResult { return evalRetention(t, c.opts, c.entities) }},
					{"reference", func() RetentionResult { return retRefRetention(c.opts, c.entities) }},
				} {
					got := renderRetention(t, impl.eval())
					if !slices.Equal(got, c.want) {
						t.Errorf("%s:%d: %s:\ngot:\n\t%s\nwant:\n\t%s", c.file, c.line, impl.name,
							strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
					}
				}
			})
		}
	}
	t.Logf("%d scenarios in %d files", n, len(files))
}

// retentionZones are zones with DST at 02:00 (Berlin, New York), at midnight
// (São Paulo 2017-2018: a day without 00:00 and a day with two 23:xx hours)
// and by 30 minutes (Lord Howe).
var retentionZones = []struct {
	name  string
	bases []string // instants near transitions
}{
	{"UTC", []string{"2024-02-28T12:00:00Z", "2023-12-31T23:00:00Z"}},
	{"Europe/Berlin", []string{"2024-03-31T01:30:00Z", "2024-10-27T00:30:00Z"}},
	{"America/New_York", []string{"2024-03-10T07:00:00Z", "2024-11-03T06:00:00Z"}},
	{"America/Sao_Paulo", []string{"2017-10-15T03:00:00Z", "2018-02-18T02:00:00Z"}},
	{"Australia/Lord_Howe", []string{"2024-04-06T15:00:00Z", "2024-10-05T15:30:00Z"}},
}

func randomRetentionCase(rng *rand.Rand) (RetentionOptions, []retRefEntity, string) {
	z := retentionZones[rng.IntN(len(retentionZones))]
	loc, err := time.LoadLocation(z.name)
	if err != nil {
		panic(err)
	}
	o := RetentionOptions{
		Period:    RetentionPeriod(1 + rng.IntN(3)),
		Periods:   1 + rng.IntN(6),
		Location:  loc,
		WeekStart: RetentionWeekStart(rng.IntN(7)),
		Unbounded: rng.IntN(2) == 0,
		AnyStart:  rng.IntN(2) == 0,
		Breakdown: rng.IntN(2) == 0,
	}
	base, _ := time.Parse(time.RFC3339, z.bases[rng.IntN(len(z.bases))])
	span := map[RetentionPeriod]int64{PeriodDay: 86400e6, PeriodWeek: 7 * 86400e6, PeriodMonth: 31 * 86400e6}[o.Period]
	span *= int64(o.Periods) + 2
	lo := base.UnixMicro() - span/2
	// Boundaries near the base, to hit them exactly and by one µs.
	var edges []int64
	c := newRetentionCalendar(o)
	o0 := c.ordinal(base.UnixMicro())
	for k := int64(-3); k <= int64(o.Periods)+3; k++ {
		us, _ := c.startMicros(o0 + k)
		edges = append(edges, us)
	}
	bds := []*string{nil, new("a"), new("b")}
	var entities []retRefEntity
	for i := range rng.IntN(30) {
		ent := retRefEntity{id: fmt.Sprint("e", i)}
		for range rng.IntN(8) {
			var us int64
			switch rng.IntN(4) {
			case 0:
				us = edges[rng.IntN(len(edges))] + int64(rng.IntN(3)-1)
			case 1:
				if n := len(ent.evs); n > 0 { // same instant as an earlier event
					us = ent.evs[rng.IntN(n)].Micros
					break
				}
				fallthrough
			default:
				us = lo + rng.Int64N(span)
			}
			e := RetentionEvent{Micros: us}
			switch rng.IntN(3) {
			case 0:
				e.Start = true
			case 1:
				e.Return = true
			default:
				e.Start, e.Return = true, true
			}
			if e.Start {
				e.Breakdown = bds[rng.IntN(len(bds))]
			}
			ent.evs = append(ent.evs, e)
		}
		if rng.IntN(5) > 0 { // mostly sorted, as promised to Add
			slices.SortStableFunc(ent.evs, func(a, b RetentionEvent) int {
				return int(min(max(a.Micros-b.Micros, -1), 1))
			})
		}
		entities = append(entities, ent)
	}
	desc := fmt.Sprintf("%s %v periods=%d week_start=%v unbounded=%v any=%v breakdown=%v",
		z.name, o.Period, o.Periods, o.WeekStart, o.Unbounded, o.AnyStart, o.Breakdown)
	return o, entities, desc
}

func TestRetentionMatchesReference(t *testing.T) {
	seeds := 3000
	if testing.Short() {
		seeds = 300
	}
	for _, cache := range []int64{retentionMaxCached, 4, 0} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			defer func(old int64) { retentionMaxCached = old }(retentionMaxCached)
			retentionMaxCached = cache
			for seed := range seeds {
				rng := rand.New(rand.NewPCG(uint64(seed), 7))
				o, ents, desc := randomRetentionCase(rng)
				got := renderRetention(t, evalRetention(t, o, ents))
				want := renderRetention(t, retRefRetention(o, ents))
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d (%s):\ngot:\n\t%s\nwant:\n\t%s\nentities: %+v", seed, desc,
						strings.Join(got, "\n\t"), strings.Join(want, "\n\t"), ents)
				}
			}
		})
	}
}

func TestRetentionResultIncremental(t *testing.T) {
	// Result may be called between Adds; each call sees everything so far.
	rng := rand.New(rand.NewPCG(1, 2))
	o, ents, _ := randomRetentionCase(rng)
	for len(ents) < 2 {
		o, ents, _ = randomRetentionCase(rng)
	}
	r, err := NewRetention(o)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ents {
		r.Add(e.id, e.evs)
		got := renderRetention(t, r.Result())
		want := renderRetention(t, retRefRetention(o, ents[:i+1]))
		if !slices.Equal(got, want) {
			t.Fatalf("after %d entities:\ngot  %q\nwant %q", i+1, got, want)
		}
	}
}

func TestParseRetentionOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RetentionPeriod
		fail bool
	}{
		{"day", PeriodDay, false}, {" Week ", PeriodWeek, false}, {"months", PeriodMonth, false},
		{"daily", PeriodDay, false}, {"year", 0, true}, {"", 0, true},
	} {
		got, err := ParseRetentionPeriod(tc.in)
		if (err != nil) != tc.fail || got != tc.want {
			t.Errorf("ParseRetentionPeriod(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrRetentionOptions) {
			t.Errorf("ParseRetentionPeriod(%q): %v does not wrap ErrRetentionOptions", tc.in, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Weekday
		fail bool
	}{
		{"", time.Monday, false}, {"iso", time.Monday, false}, {"sunday", time.Sunday, false},
		{"Sun", time.Sunday, false}, {"SATURDAY", time.Saturday, false}, {"mon", time.Monday, false},
		{"funday", 0, true},
	} {
		got, err := ParseRetentionWeekStart(tc.in)
		if (err != nil) != tc.fail || (err == nil && got.Weekday() != tc.want) {
			t.Errorf("ParseRetentionWeekStart(%q) = %v, %v", tc.in, got, err)
		}
	}
	var zero RetentionWeekStart
	if zero.Weekday() != time.Monday {
		t.Errorf("zero week start is %v, want Monday", zero.Weekday())
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if got := RetentionWeekStartOn(d).Weekday(); got != d {
			t.Errorf("RetentionWeekStartOn(%v).Weekday() = %v", d, got)
		}
	}
	for _, o := range []RetentionOptions{
		{},
		{Period: PeriodDay},
		{Period: PeriodDay, Periods: MaxRetentionPeriods + 1},
		{Period: 9, Periods: 3},
		{Period: PeriodWeek, Periods: 3, WeekStart: 7},
	} {
		if _, err := NewRetention(o); !errors.Is(err, ErrRetentionOptions) {
			t.Errorf("NewRetention(%+v) = %v, want ErrRetentionOptions", o, err)
		}
	}
}

func retentionLoc(t testing.TB, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestPeriodStartAndIndex(t *testing.T) {
	berlin := retentionLoc(t, "Europe/Berlin")
	ny := retentionLoc(t, "America/New_York")
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		o     RetentionOptions
		t     string
		start string
	}{
		{RetentionOptions{Period: PeriodDay}, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"},
		{RetentionOptions{Period: PeriodDay}, "2023-12-31T23:59:59.999999Z", "2023-12-31T00:00:00Z"},
		{RetentionOptions{Period: PeriodWeek}, "2024-01-07T23:00:00Z", "2024-01-01T00:00:00Z"},
		{RetentionOptions{Period: PeriodWeek, WeekStart: RetentionWeekStartOn(time.Sunday)}, "2024-01-07T23:00:00Z", "2024-01-07T00:00:00Z"},
		{RetentionOptions{Period: PeriodMonth}, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z"},
		{RetentionOptions{Period: PeriodMonth, Location: berlin}, "2024-03-31T22:30:00Z", "2024-04-01T00:00:00+02:00"},
		{RetentionOptions{Period: PeriodDay, Location: berlin}, "2024-03-31T21:59:59Z", "2024-03-31T00:00:00+01:00"},
		{RetentionOptions{Period: PeriodDay, Location: ny}, "2024-11-04T04:59:59Z", "2024-11-03T00:00:00-04:00"},
		{RetentionOptions{Period: PeriodDay, Location: ny}, "2024-11-04T05:00:00Z", "2024-11-04T00:00:00-05:00"},
		{RetentionOptions{Period: PeriodDay}, "1960-06-15T10:00:00Z", "1960-06-15T00:00:00Z"},
		{RetentionOptions{Period: PeriodWeek}, "1969-12-29T00:00:00Z", "1969-12-29T00:00:00Z"},
	} {
		got := PeriodStart(ts(tc.t), tc.o)
		if want := ts(tc.start); !got.Equal(want) || got.Format(time.RFC3339) != tc.start {
			t.Errorf("PeriodStart(%s, %v in %v) = %s, want %s", tc.t, tc.o.Period, tc.o.Location, got.Format(time.RFC3339), tc.start)
		}
	}
	o := RetentionOptions{Period: PeriodDay, Location: berlin}
	// 2024-03-31 in Berlin has 23 hours: 23:30 local is still day 0, and
	// 24 hours after its midnight is already day 1, 01:00.
	c := ts("2024-03-31T00:00:00+01:00")
	for _, tc := range []struct {
		t    string
		want int
	}{
		{"2024-03-31T23:30:00+02:00", 0}, {"2024-04-01T00:00:00+02:00", 1},
		{"2024-03-30T23:59:59+01:00", -1}, {"2024-10-27T23:59:59+01:00", 210}, {"2024-10-28T00:00:00+01:00", 211},
	} {
		if got := PeriodIndex(c, ts(tc.t), o); got != tc.want {
			t.Errorf("PeriodIndex(%s) = %d, want %d", tc.t, got, tc.want)
		}
	}
	if got := PeriodIndex(ts("2024-01-31T12:00:00Z"), ts("2024-03-01T00:00:00Z"), RetentionOptions{Period: PeriodMonth}); got != 2 {
		t.Errorf("month index Jan 31 -> Mar 1 = %d, want 2", got)
	}
}

func TestRetentionRows(t *testing.T) {
	o := RetentionOptions{Period: PeriodDay, Periods: 2, Breakdown: true}
	day := int64(86400e6)
	r, _ := NewRetention(o)
	ios := "ios"
	r.Add("a", []RetentionEvent{{Micros: 0, Start: true, Return: true, Breakdown: &ios}, {Micros: day, Return: true}})
	r.Add("b", []RetentionEvent{{Micros: 10, Start: true}})
	res := r.Result()
	rows := res.Rows()
	want := []RetentionRow{
		{Cohort: "1970-01-01", Start: time.Unix(0, 0).UTC(), Period: 0, Size: 2, Retained: 1, Share: 0.5},
		{Cohort: "1970-01-01", Start: time.Unix(0, 0).UTC(), Period: 1, Size: 2, Retained: 1, Share: 0.5},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range rows {
		if g, w := rows[i], want[i]; g.Cohort != w.Cohort || !g.Start.Equal(w.Start) || g.Period != w.Period ||
			g.Size != w.Size || g.Retained != w.Retained || g.Share != w.Share || g.Breakdown != nil {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	brows := res.BreakdownRows()
	if len(brows) != 4 || brows[0].Breakdown != nil || brows[0].Size != 1 || brows[0].Retained != 0 ||
		brows[2].Breakdown == nil || *brows[2].Breakdown != "ios" || brows[3].Retained != 1 {
		t.Errorf("breakdown rows = %+v", brows)
	}
	// The result does not alias the evaluator's state.
	res.Cohorts[0].Retained[0] = 99
	*res.Breakdown[1].Value = "x"
	if again := r.Result(); again.Cohorts[0].Retained[0] != 1 || *again.Breakdown[1].Value != "ios" {
		t.Errorf("Result aliases internal state: %+v", again)
	}
}

func TestRetentionConds(t *testing.T) {
	// The ClickHouse documentation's example: per entity, did any event
	// match signup / login / purchase.
	c := NewRetentionConds(3)
	for _, conds := range [][]bool{
		{true, true, false},  // user 1: signup, login
		{true, false, true},  // user 2: signup, purchase
		{true, true, false},  // user 3: signup, login
		{false, true, true},  // no signup: all zero
		{true, false, false}, // signup only
	} {
		c.Add(conds)
	}
	if got, want := c.Counts(), []int64{4, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	one := NewRetentionConds(1)
	one.Add([]bool{true})
	one.Add([]bool{false})
	if got := one.Counts(); !slices.Equal(got, []int64{1}) {
		t.Errorf("one condition: %v", got)
	}
	for _, f := range []func(){
		func() { NewRetentionConds(0) },
		func() { NewRetentionConds(2).Add([]bool{true}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// retentionBenchEntities makes n entities of ~10 events over half a year:
// a start, then returns spread over the following weeks.
func retentionBenchEntities(n int) ([][]RetentionEvent, int) {
	rng := rand.New(rand.NewPCG(42, 42))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	week := int64(7 * 86400e6)
	all := make([][]RetentionEvent, n)
	flat := make([]RetentionEvent, 0, n*10)
	total := 0
	for i := range all {
		k := 5 + rng.IntN(11)
		t := base + rng.Int64N(26*week)
		start := len(flat)
		flat = append(flat, RetentionEvent{Micros: t, Start: true, Return: true})
		for j := 1; j < k; j++ {
			t += rng.Int64N(3 * week)
			flat = append(flat, RetentionEvent{Micros: t, Return: true, Start: rng.IntN(8) == 0})
		}
		all[i] = flat[start:len(flat):len(flat)]
		total += k
	}
	return all, total
}

func TestRetentionAddAllocs(t *testing.T) {
	ents, _ := retentionBenchEntities(1000)
	for _, anyStart := range []bool{false, true} {
		r, _ := NewRetention(RetentionOptions{Period: PeriodWeek, Periods: 26, AnyStart: anyStart, Location: retentionLoc(t, "Europe/Berlin")})
		for _, e := range ents {
			r.Add("", e)
		}
		i := 0
		if a := testing.AllocsPerRun(1000, func() { r.Add("", ents[i%len(ents)]); i++ }); a != 0 {
			t.Errorf("any=%v: %v allocs per Add in steady state", anyStart, a)
		}
	}
}

func BenchmarkRetention(b *testing.B) {
	const entities = 1_000_000
	ents, events := retentionBenchEntities(entities)
	berlin := retentionLoc(b, "Europe/Berlin")
	for _, bc := range []struct {
		name string
		o    RetentionOptions
	}{
		{"first/classic", RetentionOptions{Period: PeriodWeek, Periods: 26}},
		{"first/unbounded", RetentionOptions{Period: PeriodWeek, Periods: 26, Unbounded: true}},
		{"any/classic", RetentionOptions{Period: PeriodWeek, Periods: 26, AnyStart: true}},
		{"first/classic/tz=Berlin/day", RetentionOptions{Period: PeriodDay, Periods: 26, Location: berlin}},
	} {
		b.Run(fmt.Sprintf("entities=%d/%s", entities, bc.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewRetention(bc.o)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range ents {
					r.Add("", e)
				}
				_ = r.Result()
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(events)*float64(b.N)/secs, "events/s")
			b.ReportMetric(float64(entities)*float64(b.N)/secs, "entities/s")
		})
	}
}
