package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// feedEvent is a generated event and what the reference knows of it.
type feedEvent struct {
	entity, typ string
	at          time.Time
	seq         uint64
	amount      int
	plan        *string
}

// feedWarehouse stores random events of 300 entities (types a, b, c, x;
// whole-minute times so ties are common; a plan that is sometimes NULL)
// and returns them in (entity, time, seq) order. Half are flushed to
// Parquet, half stay in the hot tier.
func feedWarehouse(t *testing.T) (*warehouse.Warehouse, []feedEvent) {
	t.Helper()
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC)
	plans := []string{"free", "pro"}
	var evs []feedEvent
	var batch []allsource.Event
	for seq := uint64(1); seq <= 6000; seq++ {
		ev := feedEvent{
			entity: fmt.Sprintf("user-%d", rng.IntN(300)),
			typ:    []string{"a", "b", "c", "x"}[rng.IntN(4)],
			at:     base.Add(time.Duration(rng.IntN(6*24*60)) * time.Minute),
			seq:    seq, amount: rng.IntN(8),
		}
		payload := fmt.Sprintf(`{"amount": %d}`, ev.amount)
		if p := rng.IntN(3); p < 2 {
			ev.plan = &plans[p]
			payload = fmt.Sprintf(`{"amount": %d, "plan": %q}`, ev.amount, plans[p])
		}
		evs = append(evs, ev)
		batch = append(batch, allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: "default",
			EntityID: ev.entity, EventType: ev.typ, Version: seq, Timestamp: ev.at, IngestedAt: ev.at,
			Payload: []byte(payload), Metadata: []byte(`{}`)})
		if seq == 3000 {
			if err := wh.Append(batch); err != nil {
				t.Fatal(err)
			}
			if err := wh.FlushAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	if err := wh.Append(batch); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(evs, func(a, b feedEvent) int {
		if c := strings.Compare(a.entity, b.entity); c != 0 {
			return c
		}
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.seq) - int(b.seq)
	})
	return wh, evs
}

// byEntity calls fn with each entity's events, in order.
func byEntity(evs []feedEvent, fn func([]feedEvent)) {
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && evs[j].entity == evs[i].entity {
			j++
		}
		fn(evs[i:j])
		i = j
	}
}

// manyWorkers makes the feed use several workers (and so Merge) on any
// machine.
func manyWorkers(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// TestFunnelPaths: the in-memory feed, the sorted stream by hashes and by
// key text, and a feed too large for memory all give the answer of the
// evaluator fed in Go, in every mode, with exclusions and a breakdown.
func TestFunnelPaths(t *testing.T) {
	manyWorkers(t)
	wh, evs := feedWarehouse(t)
	ctx := context.Background()
	for _, mode := range []string{"default", "strict_order", "strict_increase", "strict_deduplication", "any_order"} {
		for _, variant := range []string{"plain", "exclude", "breakdown"} {
			spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b", Where: "payload.amount > 3"}, {EventType: "c"}, {EventType: "a"}},
				Window: "3h", Mode: mode}
			if variant == "exclude" {
				spec.Exclude = []StepSpec{{EventType: "x", Where: "payload.amount == 0"}}
			}
			if variant == "breakdown" {
				spec.Breakdown = "payload.plan"
			}
			name := mode + "/" + variant
			mo, _ := ParseFunnelMode(mode)
			opts := FunnelOptions{Steps: 4, Window: 3 * time.Hour, Mode: mo, Breakdown: spec.Breakdown != ""}
			ref, err := NewFunnel(opts)
			if err != nil {
				t.Fatal(err)
			}
			byEntity(evs, func(es []feedEvent) {
				var hits []Hit
				for _, e := range es {
					h := Hit{Micros: e.at.UnixMicro()}
					if variant == "breakdown" {
						h.Breakdown = e.plan
					}
					switch e.typ {
					case "a":
						h.Steps = 1 | 8
					case "b":
						if e.amount > 3 {
							h.Steps = 2
						}
					case "c":
						h.Steps = 4
					case "x":
						h.Exclude = variant == "exclude" && e.amount == 0
					}
					if h.Steps != 0 || h.Exclude {
						hits = append(hits, h)
					}
				}
				if len(hits) > 0 {
					ref.Add("", hits)
				}
			})
			want := ref.Result()
			got, err := RunFunnel(ctx, wh, spec)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d := diffFunnelResults(got, want); d != "" {
				t.Fatalf("%s: feed differs from the evaluator:\n%s", name, d)
			}
			for _, shape := range []feedShape{shapeHashed, shapeText} {
				got, err := streamQuestion(ctx, wh, funnelQuestion(spec, opts), shape)
				if err != nil {
					t.Fatalf("%s: stream %d: %v", name, shape, err)
				}
				if d := diffFunnelResults(got, want); d != "" {
					t.Fatalf("%s: stream %d differs from the evaluator:\n%s", name, shape, d)
				}
			}
		}
	}
	defer func(old int) { maxFeedRows = old }(maxFeedRows)
	maxFeedRows = 100
	spec := FunnelSpec{Steps: []StepSpec{{EventType: "a"}, {EventType: "b"}}, Window: "1h"}
	small, err := RunFunnel(ctx, wh, spec)
	if err != nil {
		t.Fatal(err)
	}
	maxFeedRows = 1 << 30
	big, err := RunFunnel(ctx, wh, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFunnelResults(small, big); d != "" || small.Steps[0].Entities == 0 {
		t.Fatalf("a feed too large for memory answers differently:\n%s", d)
	}
}

// TestRetentionPaths: the feed (several workers, merged) and the sorted
// streams give the evaluator's answer, for first and any start, classic
// and unbounded, with a breakdown.
func TestRetentionPaths(t *testing.T) {
	manyWorkers(t)
	wh, evs := feedWarehouse(t)
	ctx := context.Background()
	for _, start := range []string{"first", "any"} {
		for _, mode := range []string{"classic", "unbounded"} {
			spec := RetentionSpec{StartEvent: StepSpec{EventType: "a"}, ReturnEvent: StepSpec{EventType: "b", Where: "payload.amount >= 2"},
				Period: "day", Periods: 5, Mode: mode, Start: start, TimeZone: "Europe/Berlin", Breakdown: "payload.plan"}
			o, err := spec.options()
			if err != nil {
				t.Fatal(err)
			}
			ref, err := NewRetention(o)
			if err != nil {
				t.Fatal(err)
			}
			byEntity(evs, func(es []feedEvent) {
				var rs []RetentionEvent
				for _, e := range es {
					re := RetentionEvent{Micros: e.at.UnixMicro(), Start: e.typ == "a", Return: e.typ == "b" && e.amount >= 2, Breakdown: e.plan}
					if re.Start || re.Return {
						rs = append(rs, re)
					}
				}
				if len(rs) > 0 {
					ref.Add("", rs)
				}
			})
			want := renderRetention(t, ref.Result())
			got, err := RunRetention(ctx, wh, spec)
			if err != nil {
				t.Fatal(err)
			}
			if g := renderRetention(t, got); !slices.Equal(g, want) || len(want) == 0 {
				t.Fatalf("%s/%s feed:\n\t%s\nwant:\n\t%s", start, mode, strings.Join(g, "\n\t"), strings.Join(want, "\n\t"))
			}
			for _, shape := range []feedShape{shapeHashed, shapeText} {
				got, err := streamQuestion(ctx, wh, retentionQuestion(spec, o), shape)
				if err != nil {
					t.Fatal(err)
				}
				if g := renderRetention(t, got); !slices.Equal(g, want) {
					t.Fatalf("%s/%s stream %d:\n\t%s\nwant:\n\t%s", start, mode, shape, strings.Join(g, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
		}
	}
}

// TestFeedCollision: two keys sharing the first hash are detected.
func TestFeedCollision(t *testing.T) {
	fd := &feed{parts: make([][feedParts][][]feedRow, 2)}
	fd.parts[1][3] = [][]feedRow{{{g1: 7, g2: 1, us: 1}, {g1: 7, g2: 2, us: 2}}, {{g1: 9, g2: 3}}}
	err := fd.each(context.Background(), func(int, []feedRow) {})
	if err != errHashCollision {
		t.Fatalf("err = %v, want a collision", err)
	}
	fd = &feed{parts: make([][feedParts][][]feedRow, 2)}
	fd.parts[0][3] = [][]feedRow{{{g1: 7, g2: 1, us: 2, seq: 2}, {g1: 9, g2: 3}}}
	fd.parts[1][3] = [][]feedRow{{{g1: 7, g2: 1, us: 1, seq: 9}}, {{g1: 7, g2: 1, us: 2, seq: 1}}}
	var groups [][]feedRow
	if err := fd.each(context.Background(), func(_ int, rows []feedRow) { groups = append(groups, slices.Clone(rows)) }); err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || len(groups[0]) != 3 || groups[0][0].seq != 9 || groups[0][1].seq != 1 || groups[0][2].seq != 2 {
		t.Fatalf("groups %v", groups)
	}
}

// TestSortPart: partitions come out ordered by (g1, us, seq) whatever the
// hash bits, run lengths (one key with many events) and input order.
func TestSortPart(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sc sortScratch
	for _, n := range []int{0, 1, 2, 7, 100, 5000} {
		for _, keys := range []int{1, 3, 1000} {
			rows := make([]feedRow, n)
			for i := range rows {
				// Keys that differ only in their low bits share the cut hash.
				g := uint64(rng.IntN(keys)) | 5<<58
				rows[i] = feedRow{g1: g, us: int64(rng.IntN(50)), seq: int64(i)}
			}
			want := slices.Clone(rows)
			slices.SortFunc(want, func(a, b feedRow) int {
				if rowLess(&a, &b) {
					return -1
				}
				if rowLess(&b, &a) {
					return 1
				}
				return 0
			})
			if got := sortPart(rows, &sc); !slices.Equal(got, want) {
				t.Fatalf("n=%d keys=%d: not sorted", n, keys)
			}
		}
	}
}
