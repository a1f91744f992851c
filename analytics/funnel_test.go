package analytics

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// Scenario files (testdata/funnel/*.txt) hold cases:
//
//	# comment
//	case <name>
//	options steps=<n|name,name,...> window=<duration> [mode=<mode>] [breakdown]
//	key <name> [=> <level>]
//	  <time> <steps> [exclude] [bd=<value>|bd=NULL]
//	expect
//	  <step> <entities> <from start> <from previous> <median s|-> <avg s|->
//	expect breakdown <value>|NULL
//	  ...
//	expect breakdown none
//
// <time> is a Go duration after a fixed base instant; hits keep file order
// (so a key may list them unsorted). <steps> joins step names or numbers
// with "+", or is "-" for none. "=> <level>" checks the key's level alone.
// Without "expect breakdown" sections the result must have no breakdown;
// "expect breakdown none" wants an empty (non-nil) list of groups.

const funnelBaseMicros = 1_700_000_000_000_000

type funnelCase struct {
	file, name string
	line       int
	opt        FunnelOptions
	names      map[string]int
	keys       []string
	hits       map[string][]Hit
	levels     map[string]int
	want       FunnelResult
	wantSet    bool
}

func parseFunnelCases(t *testing.T, path string) []*funnelCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		cases []*funnelCase
		c     *funnelCase
		key   string
		tab   *[]FunnelStep
	)
	file := filepath.Base(path)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		fail := func(format string, args ...any) {
			t.Fatalf("%s:%d: %s", file, ln, fmt.Sprintf(format, args...))
		}
		if f[0] != "case" && c == nil {
			fail("expected 'case'")
		}
		switch f[0] {
		case "case":
			c = &funnelCase{file: file, name: strings.Join(f[1:], " "), line: ln,
				names: map[string]int{}, hits: map[string][]Hit{}, levels: map[string]int{}}
			cases = append(cases, c)
			key, tab = "", nil
		case "options":
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "steps":
					if n, err := strconv.Atoi(v); err == nil {
						c.opt.Steps = n
						for i := 1; i <= n; i++ {
							c.names[strconv.Itoa(i)] = i
						}
						break
					}
					for i, name := range strings.Split(v, ",") {
						c.names[name] = i + 1
						c.names[strconv.Itoa(i+1)] = i + 1
						c.opt.Steps = i + 1
					}
				case "window":
					d, err := time.ParseDuration(v)
					if err != nil {
						fail("%v", err)
					}
					c.opt.Window = d
				case "mode":
					m, err := ParseFunnelMode(v)
					if err != nil {
						fail("%v", err)
					}
					c.opt.Mode = m
				case "breakdown":
					c.opt.Breakdown = true
				default:
					fail("unknown option %q", k)
				}
			}
		case "key":
			if len(f) < 2 {
				fail("key needs a name")
			}
			key, tab = f[1], nil
			if _, dup := c.hits[key]; dup {
				fail("duplicate key %q", key)
			}
			c.keys = append(c.keys, key)
			c.hits[key] = []Hit{}
			if len(f) == 4 && f[2] == "=>" {
				n, err := strconv.Atoi(f[3])
				if err != nil {
					fail("%v", err)
				}
				c.levels[key] = n
			} else if len(f) != 2 {
				fail("want: key <name> [=> <level>]")
			}
		case "expect":
			key = ""
			if len(f) == 1 {
				c.wantSet = true
				tab = &c.want.Steps
				break
			}
			if len(f) != 3 || f[1] != "breakdown" {
				fail("want: expect [breakdown <value>|NULL]")
			}
			if f[2] == "none" {
				c.want.Breakdown, tab = []FunnelBreakdown{}, nil
				break
			}
			b := FunnelBreakdown{}
			if f[2] != "NULL" {
				v := f[2]
				b.Value = &v
			}
			c.want.Breakdown = append(c.want.Breakdown, b)
			tab = &c.want.Breakdown[len(c.want.Breakdown)-1].Steps
		default:
			switch {
			case tab != nil:
				if len(f) != 6 {
					fail("want: <step> <entities> <from start> <from previous> <median> <avg>")
				}
				var st FunnelStep
				var err1, err2, err3, err4 error
				st.Step, err1 = strconv.Atoi(f[0])
				st.Entities, err2 = strconv.ParseInt(f[1], 10, 64)
				st.ConversionFromStart, err3 = strconv.ParseFloat(f[2], 64)
				st.ConversionFromPrevious, err4 = strconv.ParseFloat(f[3], 64)
				if err := errors.Join(err1, err2, err3, err4); err != nil {
					fail("%v", err)
				}
				opt := func(s string) *float64 {
					if s == "-" {
						return nil
					}
					v, err := strconv.ParseFloat(s, 64)
					if err != nil {
						fail("%v", err)
					}
					return &v
				}
				st.MedianSecondsToConvert, st.AvgSecondsToConvert = opt(f[4]), opt(f[5])
				*tab = append(*tab, st)
			case key != "":
				d, err := time.ParseDuration(f[0])
				if err != nil {
					fail("%v", err)
				}
				h := Hit{Micros: funnelBaseMicros + d.Microseconds()}
				if len(f) < 2 {
					fail("want: <time> <steps> [exclude] [bd=...]")
				}
				if f[1] != "-" {
					for _, name := range strings.Split(f[1], "+") {
						i, ok := c.names[name]
						if !ok {
							fail("unknown step %q", name)
						}
						h.Steps |= 1 << uint(i-1)
					}
				}
				for _, fl := range f[2:] {
					switch {
					case fl == "exclude":
						h.Exclude = true
					case fl == "bd=NULL":
					case strings.HasPrefix(fl, "bd="):
						v := strings.TrimPrefix(fl, "bd=")
						h.Breakdown = &v
					default:
						fail("unknown flag %q", fl)
					}
				}
				c.hits[key] = append(c.hits[key], h)
			default:
				fail("unexpected %q", f[0])
			}
		}
	}
	return cases
}

func TestFunnelScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/funnel/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	n := 0
	for _, file := range files {
		for _, c := range parseFunnelCases(t, file) {
			n++
			t.Run(strings.TrimSuffix(c.file, ".txt")+"/"+c.name, func(t *testing.T) {
				if !c.wantSet {
					t.Fatalf("%s:%d: case has no expect section", c.file, c.line)
				}
				f, err := NewFunnel(c.opt)
				if err != nil {
					t.Fatal(err)
				}
				var all [][]Hit
				for _, k := range c.keys {
					f.Add(k, c.hits[k])
					all = append(all, c.hits[k])
					if want, ok := c.levels[k]; ok {
						g, _ := NewFunnel(c.opt)
						got, _ := g.evalKey(g.inOrder(c.hits[k]))
						ref := refFunnelEvalKey(c.opt, sortedFunnelHits(c.hits[k])).level
						if got != want || ref != want {
							t.Errorf("%s:%d: key %s: level %d, reference %d, want %d", c.file, c.line, k, got, ref, want)
						}
					}
				}
				got := f.Result()
				if diff := diffFunnelResults(got, c.want); diff != "" {
					t.Errorf("%s:%d: result differs from expected:\n%s\ngot:\n%s", c.file, c.line, diff, formatFunnelResult(got))
				}
				if diff := diffFunnelResults(refFunnelResult(c.opt, all), c.want); diff != "" {
					t.Errorf("%s:%d: reference differs from expected:\n%s", c.file, c.line, diff)
				}
			})
		}
	}
	t.Logf("%d scenarios in %d files", n, len(files))
}

func sortedFunnelHits(h []Hit) []Hit {
	h = slices.Clone(h)
	slices.SortStableFunc(h, func(a, b Hit) int { return cmp.Compare(a.Micros, b.Micros) })
	return h
}

func formatFunnelSteps(b *strings.Builder, steps []FunnelStep) {
	opt := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	for _, s := range steps {
		fmt.Fprintf(b, "  %d %d %g %g %s %s\n", s.Step, s.Entities, s.ConversionFromStart,
			s.ConversionFromPrevious, opt(s.MedianSecondsToConvert), opt(s.AvgSecondsToConvert))
	}
}

func formatFunnelResult(r FunnelResult) string {
	var b strings.Builder
	b.WriteString("expect\n")
	formatFunnelSteps(&b, r.Steps)
	for _, g := range r.Breakdown {
		v := "NULL"
		if g.Value != nil {
			v = *g.Value
		}
		fmt.Fprintf(&b, "expect breakdown %s\n", v)
		formatFunnelSteps(&b, g.Steps)
	}
	return b.String()
}

func funnelFloatsEqual(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func diffFunnelSteps(where string, got, want []FunnelStep) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%s: %d steps, want %d\n", where, len(got), len(want))
	}
	var b strings.Builder
	optEq := func(x, y *float64) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return funnelFloatsEqual(*x, *y)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Step != w.Step || g.Entities != w.Entities ||
			!funnelFloatsEqual(g.ConversionFromStart, w.ConversionFromStart) ||
			!funnelFloatsEqual(g.ConversionFromPrevious, w.ConversionFromPrevious) ||
			!optEq(g.MedianSecondsToConvert, w.MedianSecondsToConvert) ||
			!optEq(g.AvgSecondsToConvert, w.AvgSecondsToConvert) {
			var gb, wb strings.Builder
			formatFunnelSteps(&gb, []FunnelStep{g})
			formatFunnelSteps(&wb, []FunnelStep{w})
			fmt.Fprintf(&b, "%s: got %s      want %s", where, gb.String(), wb.String())
		}
	}
	return b.String()
}

func diffFunnelResults(got, want FunnelResult) string {
	d := diffFunnelSteps("total", got.Steps, want.Steps)
	if (got.Breakdown == nil) != (want.Breakdown == nil) || len(got.Breakdown) != len(want.Breakdown) {
		return d + fmt.Sprintf("breakdown: %d groups (nil %v), want %d (nil %v)\n",
			len(got.Breakdown), got.Breakdown == nil, len(want.Breakdown), want.Breakdown == nil)
	}
	for i := range got.Breakdown {
		g, w := got.Breakdown[i], want.Breakdown[i]
		name := func(p *string) string {
			if p == nil {
				return "NULL"
			}
			return strconv.Quote(*p)
		}
		if name(g.Value) != name(w.Value) {
			d += fmt.Sprintf("breakdown %d: value %s, want %s\n", i, name(g.Value), name(w.Value))
			continue
		}
		d += diffFunnelSteps("breakdown "+name(g.Value), g.Steps, w.Steps)
	}
	return d
}

// randomFunnelKey makes a small key: few hits, few distinct instants (many
// ties), mostly single-step masks, some multi-step, unmatched and excluded
// hits, and a few breakdown values.
func randomFunnelKey(r *rand.Rand, n int) []Hit {
	vals := []string{"a", "b"}
	hits := make([]Hit, r.IntN(9))
	t := int64(funnelBaseMicros)
	for i := range hits {
		if r.IntN(3) > 0 {
			t += int64(r.IntN(4))
		}
		h := Hit{Micros: t}
		switch x := r.IntN(20); {
		case x < 14:
			h.Steps = 1 << uint(r.IntN(n))
		case x < 17:
			h.Steps = r.Uint64() & refFunnelFull(n)
		case x < 18:
			h.Steps = r.Uint64() // bits beyond n must be ignored
		}
		if r.IntN(12) == 0 {
			h.Exclude = true
		}
		if r.IntN(3) == 0 {
			h.Breakdown = &vals[r.IntN(len(vals))]
		}
		hits[i] = h
	}
	return hits
}

// TestFunnelMatchesReference compares Funnel with the brute force on random
// keys: per key (level, start, step times) and whole results.
func TestFunnelMatchesReference(t *testing.T) {
	modes := []FunnelMode{FunnelDefault, FunnelStrictOrder, FunnelStrictIncrease, FunnelDedup, FunnelAnyOrder}
	seeds := 400
	if testing.Short() {
		seeds = 50
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			for seed := range seeds {
				r := rand.New(rand.NewPCG(uint64(seed), uint64(mode)))
				n := 1 + r.IntN(5)
				if seed%10 == 0 {
					n = 64
				}
				o := FunnelOptions{Steps: n, Window: time.Duration(r.IntN(6)) * time.Microsecond, Mode: mode, Breakdown: seed%7 == 0}
				f, err := NewFunnel(o)
				if err != nil {
					t.Fatal(err)
				}
				var keys [][]Hit
				for k := range 40 {
					hits := randomFunnelKey(r, min(n, 6))
					keys = append(keys, hits)
					ref := refFunnelEvalKey(o, hits)
					lvl, s := f.evalKey(hits)
					var times []int64
					if lvl > 0 {
						f.walk(hits, s, lvl)
						times = slices.Clone(f.chain[:lvl])
					}
					if lvl != ref.level || s != ref.start || !slices.Equal(times, ref.times) {
						t.Fatalf("seed %d key %d (%+v): got level %d start %d times %v; reference %d %d %v\nhits %s",
							seed, k, o, lvl, s, times, ref.level, ref.start, ref.times, formatFunnelHits(hits))
					}
					f.Add(strconv.Itoa(k), hits)
				}
				if diff := diffFunnelResults(f.Result(), refFunnelResult(o, keys)); diff != "" {
					t.Fatalf("seed %d (%+v): result differs from reference:\n%s", seed, o, diff)
				}
			}
		})
	}
}

func formatFunnelHits(hits []Hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "\n  t=%d steps=%b exclude=%v", h.Micros-funnelBaseMicros, h.Steps, h.Exclude)
		if h.Breakdown != nil {
			fmt.Fprintf(&b, " bd=%s", *h.Breakdown)
		}
	}
	return b.String()
}

// TestFunnelUnsortedInput: Add sorts hits by time (stably, so ties keep the
// given order) when the caller did not.
func TestFunnelUnsortedInput(t *testing.T) {
	for _, mode := range []FunnelMode{FunnelDefault, FunnelStrictOrder, FunnelStrictIncrease, FunnelDedup, FunnelAnyOrder} {
		r := rand.New(rand.NewPCG(7, uint64(mode)))
		o := FunnelOptions{Steps: 4, Window: 3 * time.Microsecond, Mode: mode}
		sorted, _ := NewFunnel(o)
		shuffled, _ := NewFunnel(o)
		for k := range 2000 {
			sh := randomFunnelKey(r, 4)
			r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
			want := sortedFunnelHits(sh)
			ref := refFunnelEvalKey(o, want)
			lvl, s := shuffled.evalKey(shuffled.inOrder(sh))
			if lvl != ref.level || s != ref.start {
				t.Fatalf("%v key %d: unsorted input: level %d start %d, reference %d %d", mode, k, lvl, s, ref.level, ref.start)
			}
			sorted.Add(strconv.Itoa(k), want)
			shuffled.Add(strconv.Itoa(k), sh)
		}
		if d := diffFunnelResults(shuffled.Result(), sorted.Result()); d != "" {
			t.Fatalf("%v: %s", mode, d)
		}
	}
}

func TestFunnelMerge(t *testing.T) {
	for _, bd := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		o := FunnelOptions{Steps: 4, Window: 4 * time.Microsecond, Breakdown: bd}
		whole, _ := NewFunnel(o)
		parts := make([]*Funnel, 4)
		for i := range parts {
			parts[i], _ = NewFunnel(o)
		}
		for k := range 800 {
			hits := randomFunnelKey(r, 4)
			if k < 400 || k%2 == 0 { // part 0 sees NULL breakdowns only
				for i := range hits {
					hits[i].Breakdown = nil
				}
			}
			whole.Add(strconv.Itoa(k), hits)
			p := k * len(parts) / 800
			parts[p].Add(strconv.Itoa(k), hits)
		}
		merged, _ := NewFunnel(o)
		for _, p := range []int{1, 0, 3, 2} {
			if err := merged.Merge(parts[p]); err != nil {
				t.Fatal(err)
			}
		}
		if d := diffFunnelResults(merged.Result(), whole.Result()); d != "" {
			t.Fatalf("breakdown=%v: merged differs:\n%s", bd, d)
		}
	}
	a, _ := NewFunnel(FunnelOptions{Steps: 2})
	b, _ := NewFunnel(FunnelOptions{Steps: 3})
	if err := a.Merge(b); !errors.Is(err, ErrFunnelOptions) {
		t.Fatalf("merge of different funnels: %v", err)
	}
}

func TestParseFunnelMode(t *testing.T) {
	for s, want := range map[string]FunnelMode{
		"default": FunnelDefault, "strict_order": FunnelStrictOrder, "STRICT_INCREASE": FunnelStrictIncrease,
		"strict_deduplication": FunnelDedup, "dedup": FunnelDedup, "any_order": FunnelAnyOrder,
	} {
		got, err := ParseFunnelMode(s)
		if err != nil || got != want {
			t.Errorf("ParseFunnelMode(%q) = %v, %v; want %v", s, got, err, want)
		}
		if back, _ := ParseFunnelMode(got.String()); back != got {
			t.Errorf("%v does not round-trip", got)
		}
	}
	_, err := ParseFunnelMode("strict")
	if !errors.Is(err, ErrFunnelOptions) || allsource.ErrorCode(err) != allsource.CodeInvalid {
		t.Errorf("ParseFunnelMode(strict) = %v", err)
	}
}

func TestNewFunnelInvalid(t *testing.T) {
	for _, o := range []FunnelOptions{
		{Steps: 0}, {Steps: 65}, {Steps: 2, Window: -time.Second}, {Steps: 2, Mode: FunnelAnyOrder + 1}, {Steps: 2, Mode: -1},
	} {
		if _, err := NewFunnel(o); !errors.Is(err, ErrFunnelOptions) || allsource.ErrorCode(err) != allsource.CodeInvalid {
			t.Errorf("NewFunnel(%+v) = %v", o, err)
		}
	}
}

// TestFunnelAddDoesNotAllocate: once scratch buffers and duration slices
// have grown, Add allocates nothing.
func TestFunnelAddDoesNotAllocate(t *testing.T) {
	for _, mode := range []FunnelMode{FunnelDefault, FunnelStrictOrder, FunnelStrictIncrease, FunnelDedup, FunnelAnyOrder} {
		keys := benchFunnelKeys(256, 5, 1)
		f, _ := NewFunnel(FunnelOptions{Steps: 5, Window: time.Hour, Mode: mode})
		for _, k := range keys {
			f.Add("", k)
		}
		i := 0
		allocs := testing.AllocsPerRun(10000, func() {
			f.Add("", keys[i%len(keys)])
			i++
		})
		if allocs > 0 {
			t.Errorf("%v: %.2f allocations per Add", mode, allocs)
		}
	}
}

// benchFunnelKeys makes keys of about 10 hits over about an hour, each hit
// matching one of n steps, biased so that funnels convert partially.
func benchFunnelKeys(count, n int, seed uint64) [][]Hit {
	r := rand.New(rand.NewPCG(seed, 99))
	backing := make([]Hit, 0, count*12)
	keys := make([][]Hit, count)
	for k := range keys {
		start := len(backing)
		t := int64(funnelBaseMicros) + r.Int64N(1e12)
		next := 0
		for range 6 + r.IntN(9) {
			t += r.Int64N(15 * 60 * 1e6)
			step := next
			if r.IntN(3) == 0 {
				step = r.IntN(n)
			} else if next < n-1 {
				next++
			}
			backing = append(backing, Hit{Micros: t, Steps: 1 << uint(step)})
		}
		keys[k] = backing[start:len(backing):len(backing)]
	}
	return keys
}

// BenchmarkFunnel: one op is a funnel over 1M keys of ~10 hits (a pool of
// 64Ki distinct keys, cycled); reports hits/s of Add and Result's cost.
func BenchmarkFunnel(b *testing.B) {
	const keysPerOp = 1 << 20
	for _, n := range []int{5, 20} {
		pool := benchFunnelKeys(1<<16, n, uint64(n))
		var hitsPerOp int64
		for k := range keysPerOp {
			hitsPerOp += int64(len(pool[k%len(pool)]))
		}
		for _, mode := range []FunnelMode{FunnelDefault, FunnelStrictOrder, FunnelStrictIncrease, FunnelDedup, FunnelAnyOrder} {
			b.Run(fmt.Sprintf("steps=%d/mode=%v", n, mode), func(b *testing.B) {
				var addTime, resTime time.Duration
				for b.Loop() {
					f, _ := NewFunnel(FunnelOptions{Steps: n, Window: 2 * time.Hour, Mode: mode})
					t0 := time.Now()
					for k := range keysPerOp {
						f.Add("", pool[k%len(pool)])
					}
					t1 := time.Now()
					_ = f.Result()
					addTime += t1.Sub(t0)
					resTime += time.Since(t1)
				}
				b.ReportMetric(float64(hitsPerOp)*float64(b.N)/addTime.Seconds(), "hits/s")
				b.ReportMetric(float64(keysPerOp)*float64(b.N)/addTime.Seconds(), "keys/s")
				b.ReportMetric(resTime.Seconds()*1e3/float64(b.N), "result-ms")
			})
		}
	}
}
