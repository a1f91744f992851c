package analytics

// Funnel analysis, the pure part: the caller queries each key's (entity's)
// events sorted by (timestamp, seq), tags each with the funnel steps it
// matches (a bitmask) and whether it matches an exclusion step, and hands one
// key at a time to Funnel.Add; Result returns per-step counts, conversions and
// times to convert. The semantics follow ClickHouse's windowFunnel, with the
// deviations noted below; testdata/funnel/*.txt shows each rule by example and
// funnel_ref_test.go restates them as a brute-force reference.
//
// Definitions. A key's hits h_0..h_{n-1} are taken in the order given (time,
// then seq); "position" means the index in that order. N is the number of
// steps, W the window. A chain of length k is a sequence of positions
// p_1 < p_2 < ... < p_k such that
//
//   - hit p_j matches step j (bit j-1 of Steps); one hit fills at most one
//     step of a chain, even when it matches several steps (ClickHouse lets
//     such a row fill all of them unless strict_once is set);
//   - t(p_k) - t(p_1) <= W (the window is closed: exactly W converts, W+1µs
//     does not);
//   - no hit at a position in (p_1, p_k] is an exclusion hit;
//   - plus the mode's rule:
//   - default: nothing more. Hits with equal timestamps count in position
//     order: a step-2 hit at the same instant as, and after, the step-1 hit
//     converts; one before it does not (ClickHouse orders ties by condition
//     index instead; here the caller's seq is the truth, and a hit matching
//     several steps could not be put in a single step order anyway).
//   - strict_increase: additionally t(p_{j+1}) > t(p_j); ties never convert.
//   - strict_order: no hit strictly between p_j and p_{j+1} matches step
//     j+1 or a later one: each step is taken at the first hit after the
//     previous step that matches it, a hit that skips ahead ends the chain
//     ("A B D C" reaches 2), and repeats of steps already reached do not
//     ("A A B B C C" reaches 3, "A B A C" reaches 3), as in ClickHouse,
//     which breaks only on other events, not on repeats. Hits that match no step
//     (Steps == 0, e.g. exclusion-only hits) are not "other events"
//     (ClickHouse also breaks on rows matching no condition; the caller
//     only passes relevant events).
//   - strict_deduplication: no hit strictly between p_j and p_{j+1} matches
//     any of steps 2..j+1: the first hit after p_j that matches step j+1 or
//     an already matched step other than step 1 decides: it extends the
//     chain if it matches step j+1 (and is in the window), otherwise it is a
//     repeat and ends the chain. A step-1 hit is never a repeat (it starts
//     another attempt, as in ClickHouse): "A B C B D" reaches 3, "A B B C"
//     2, "A B A C" 3.
//
// The key's level is the largest k over all chains (0 without a step-1 hit):
// every step-1 hit is tried as a start. Deviations from ClickHouse in the
// strict modes, each because ClickHouse's answer depends on the order it
// happens to scan in rather than on the events: a violation in
// strict_order or strict_deduplication ends only the chains it breaks, not
// the whole scan, so a later attempt can still convert; and after a
// repeat, strict_deduplication keeps the level the chain had reached,
// where some ClickHouse versions report the repeated step's level ("A B C
// B" is 3 here, 2 there).
//
// any_order: the chain is anchored at a step-1 hit s; steps 2..k may then
// happen in any order. The level from s is the largest k such that steps
// 2..k can be assigned to distinct hits at positions after s, before the
// first exclusion hit after s, with t <= t(s)+W. The key's level is the
// maximum over s. Hits before s (even at the same instant) do not count.
//
// The counted chain of a key, which gives its times to convert and its
// breakdown value, starts at the earliest step-1 hit that reaches the key's
// level; in ordered modes it is the lexicographically smallest such chain
// (each step taken at its earliest possible hit). The time to convert to
// step j is t(p_j) - t(p_1) of that chain; in any_order it is the earliest
// time at which steps 2..j are all assignable as above, minus t(s). An
// entity reaching level k contributes times for steps 2..k, all from the
// same chain (so a step's time is not the fastest path to that step alone).
//
// Exclusions: an exclusion hit after a chain's start cuts the chain there, so
// an entity that hits an exclusion between step 1 and step k counts as
// reaching only the steps before it, unless a later attempt (a step-1 hit
// after the exclusion) gets further. An exclusion hit that is itself the
// start does not cut its own chain; its other step bits are unusable by
// earlier starts.
//
// Results: Entities of step j counts keys whose level is >= j.
// ConversionFromStart is Entities_j/Entities_1 and ConversionFromPrevious is
// Entities_j/Entities_{j-1} (1 for step 1), 0 when the denominator is 0.
// Times are exact: every duration is kept (8 bytes per converted step per
// entity) and the median is the mean of the two middle values for an even
// count. Breakdown groups are keyed by the counted chain's step-1 hit's
// Breakdown (nil is the NULL group), sorted by value with NULL last.
//
// Cost: Add is one pass over the hits plus one walk of the counted chain, in
// O(n + n·popcount(Steps)) for ordered modes with no allocation once the
// scratch buffers have grown. any_order is also linear when every hit
// matches at most one step besides step 1; otherwise it falls back to a
// bipartite matching per start, O(starts · m · N) for m hits in a window.

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/allsource/allsource"
)

// ErrFunnelOptions is wrapped by every error about invalid funnel options.
var ErrFunnelOptions = errors.New("analytics: invalid funnel options")

// MaxFunnelSteps bounds FunnelOptions.Steps: one bit per step in Hit.Steps.
const MaxFunnelSteps = 64

// FunnelMode selects how a chain of steps may progress. The zero value is
// FunnelDefault.
type FunnelMode int

// Funnel modes; the names in parentheses are ParseFunnelMode's and
// ClickHouse's.
const (
	FunnelDefault        FunnelMode = iota // steps in order, anything may happen between ("default")
	FunnelStrictOrder                      // no other step between consecutive steps ("strict_order")
	FunnelStrictIncrease                   // strictly increasing timestamps ("strict_increase")
	FunnelDedup                            // a repeated step ends the chain ("strict_deduplication", "dedup")
	FunnelAnyOrder                         // steps after step 1 in any order ("any_order")
)

var funnelModeNames = [...]string{
	FunnelDefault:        "default",
	FunnelStrictOrder:    "strict_order",
	FunnelStrictIncrease: "strict_increase",
	FunnelDedup:          "strict_deduplication",
	FunnelAnyOrder:       "any_order",
}

func (m FunnelMode) String() string {
	if m >= 0 && int(m) < len(funnelModeNames) {
		return funnelModeNames[m]
	}
	return fmt.Sprintf("FunnelMode(%d)", int(m))
}

// ParseFunnelMode parses a mode name: default, strict_order, strict_increase,
// strict_deduplication (or dedup) or any_order; case-insensitive.
func ParseFunnelMode(s string) (FunnelMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "default", "":
		return FunnelDefault, nil
	case "strict_order":
		return FunnelStrictOrder, nil
	case "strict_increase":
		return FunnelStrictIncrease, nil
	case "strict_deduplication", "dedup":
		return FunnelDedup, nil
	case "any_order":
		return FunnelAnyOrder, nil
	}
	return 0, funnelOptionsError("unknown funnel mode %q: want default, strict_order, strict_increase, strict_deduplication or any_order", s)
}

func funnelOptionsError(format string, args ...any) error {
	e := allsource.Errorf(allsource.CodeInvalid, format, args...)
	e.Err = ErrFunnelOptions
	return e
}

// FunnelOptions configures a Funnel.
type FunnelOptions struct {
	// Steps is the number of ordered steps, 1..MaxFunnelSteps.
	Steps int
	// Window is the conversion window: the last matched step may be at most
	// Window after step 1. It is truncated to whole microseconds; 0 means
	// "at the same instant".
	Window time.Duration
	// Mode is the matching mode; the zero value is FunnelDefault.
	Mode FunnelMode
	// Breakdown forces FunnelResult.Breakdown even if every breakdown value
	// is NULL. Without it, Breakdown is reported as soon as one counted
	// chain's step-1 hit carries a non-nil Breakdown.
	Breakdown bool
}

// Validate reports whether the options are usable; errors wrap
// ErrFunnelOptions and carry allsource.CodeInvalid.
func (o FunnelOptions) Validate() error {
	if o.Steps < 1 || o.Steps > MaxFunnelSteps {
		return funnelOptionsError("funnel steps %d out of range [1, %d]", o.Steps, MaxFunnelSteps)
	}
	if o.Window < 0 {
		return funnelOptionsError("negative funnel window %v", o.Window)
	}
	if o.Mode < FunnelDefault || o.Mode > FunnelAnyOrder {
		return funnelOptionsError("unknown funnel mode %d", int(o.Mode))
	}
	return nil
}

// Hit is one event of a key, tagged by the caller.
type Hit struct {
	Micros int64  // event time, µs since the Unix epoch
	Steps  uint64 // bit i set: the event matches step i+1; bits >= Steps are ignored
	// Exclude marks an event matching an exclusion step.
	Exclude bool
	// Breakdown is the event's breakdown property (nil is NULL); it is used
	// when the event starts the key's counted chain.
	Breakdown *string
}

// FunnelStep is one row of a funnel result.
type FunnelStep struct {
	Step                   int   // 1-based
	Entities               int64 // keys reaching at least this step
	ConversionFromStart    float64
	ConversionFromPrevious float64
	// Times from step 1 to this step over the keys reaching it, in seconds;
	// nil for step 1 and when no key reached the step.
	MedianSecondsToConvert *float64
	AvgSecondsToConvert    *float64
}

// FunnelBreakdown is the funnel of the keys whose counted chain starts with
// the breakdown value Value (nil is NULL).
type FunnelBreakdown struct {
	Value *string
	Steps []FunnelStep
}

// FunnelResult is the outcome of a funnel.
type FunnelResult struct {
	Steps     []FunnelStep
	Breakdown []FunnelBreakdown // see FunnelOptions.Breakdown; nil otherwise
}

// funnelAgg accumulates the keys of one group.
type funnelAgg struct {
	exact []int64   // exact[k]: keys whose level is exactly k; index 0 unused
	durs  [][]int64 // durs[j]: µs from step 1 to step j+1, one per key reaching it
}

func newFunnelAgg(n int) *funnelAgg {
	return &funnelAgg{exact: make([]int64, n+1), durs: make([][]int64, n)}
}

func (a *funnelAgg) clone() *funnelAgg {
	c := &funnelAgg{exact: slices.Clone(a.exact), durs: make([][]int64, len(a.durs))}
	for j, d := range a.durs {
		c.durs[j] = slices.Clone(d)
	}
	return c
}

func (a *funnelAgg) merge(b *funnelAgg) {
	for k, v := range b.exact {
		a.exact[k] += v
	}
	for j, d := range b.durs {
		a.durs[j] = append(a.durs[j], d...)
	}
}

// record adds one key of level lvl whose counted chain has step times
// chain[0..lvl-1].
func (a *funnelAgg) record(lvl int, chain *[MaxFunnelSteps]int64) {
	a.exact[lvl]++
	for j := 1; j < lvl; j++ {
		a.durs[j] = append(a.durs[j], chain[j]-chain[0])
	}
}

func (a *funnelAgg) steps() []FunnelStep {
	n := len(a.durs)
	out := make([]FunnelStep, n)
	var reach int64
	for k := n; k >= 1; k-- {
		reach += a.exact[k]
		out[k-1].Step = k
		out[k-1].Entities = reach
	}
	ratio := func(x, y int64) float64 {
		if y == 0 {
			return 0
		}
		return float64(x) / float64(y)
	}
	for j := range out {
		s := &out[j]
		s.ConversionFromStart = ratio(s.Entities, out[0].Entities)
		if j == 0 {
			s.ConversionFromPrevious = ratio(s.Entities, s.Entities)
			continue
		}
		s.ConversionFromPrevious = ratio(s.Entities, out[j-1].Entities)
		d := a.durs[j]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		var med float64
		if m := len(d) / 2; len(d)%2 == 1 {
			med = float64(d[m]) / 1e6
		} else {
			med = (float64(d[m-1]) + float64(d[m])) / 2e6
		}
		var sum float64
		for _, v := range d {
			sum += float64(v)
		}
		avg := sum / float64(len(d)) / 1e6
		s.MedianSecondsToConvert, s.AvgSecondsToConvert = &med, &avg
	}
	return out
}

// Funnel accumulates keys into a funnel result. It is not safe for
// concurrent use; run one Funnel per goroutine and combine them with Merge.
type Funnel struct {
	opt    FunnelOptions
	n      int
	full   uint64 // mask of valid step bits
	window int64  // µs

	total  funnelAgg
	groups map[string]*funnelAgg
	null   *funnelAgg
	// tracking: keys are recorded per breakdown group too. It starts with
	// FunnelOptions.Breakdown or the first non-nil breakdown value; before
	// that, every key is NULL and the NULL group is the total.
	tracking bool

	// Scratch reused across Add calls.
	sorted []Hit
	starts []int32                   // hit positions of step-1 hits (grouped modes)
	lo, hi [MaxFunnelSteps + 1]int32 // per level: live starts[lo..hi] (grouped modes)
	queues [][]int32                 // per level: starts of the live chains (strict modes)
	chain  [MaxFunnelSteps]int64     // times of the counted chain's steps
	cnt    [MaxFunnelSteps]int32     // any_order: hits per step in the window
	mhits  []funnelMatchHit          // any_order matching: candidate hits
	stamp  uint32
}

type funnelMatchHit struct {
	mask  uint64
	owner int32 // step bit it is assigned to, or -1
	seen  uint32
}

// NewFunnel returns an empty funnel for the options.
func NewFunnel(o FunnelOptions) (*Funnel, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	f := &Funnel{opt: o, n: o.Steps, window: int64(o.Window / time.Microsecond)}
	f.full = ^uint64(0)
	if o.Steps < 64 {
		f.full = 1<<uint(o.Steps) - 1
	}
	f.total = *newFunnelAgg(o.Steps)
	f.tracking = o.Breakdown
	return f, nil
}

// Options returns the funnel's options.
func (f *Funnel) Options() FunnelOptions { return f.opt }

// Add accumulates one key's hits, sorted by time then seq. Each key must be
// added once; keys may come in any order. Hits not sorted by time are sorted
// (stably, into a scratch copy) first.
func (f *Funnel) Add(key string, hits []Hit) {
	_ = key // keys are only counted; the name is for the caller's logs
	hits = f.inOrder(hits)
	lvl, s := f.evalKey(hits)
	if lvl == 0 {
		return
	}
	f.walk(hits, s, lvl)
	b := hits[s].Breakdown
	if b != nil && !f.tracking {
		// Every key so far was NULL: the NULL group is the total so far.
		f.null, f.tracking = f.total.clone(), true
	}
	f.total.record(lvl, &f.chain)
	if f.tracking {
		f.group(b).record(lvl, &f.chain)
	}
}

func (f *Funnel) group(b *string) *funnelAgg {
	if b == nil {
		if f.null == nil {
			f.null = newFunnelAgg(f.n)
		}
		return f.null
	}
	if g, ok := f.groups[*b]; ok {
		return g
	}
	if f.groups == nil {
		f.groups = make(map[string]*funnelAgg)
	}
	g := newFunnelAgg(f.n)
	f.groups[*b] = g
	return g
}

// Merge adds other's keys to f. The options must be equal.
func (f *Funnel) Merge(other *Funnel) error {
	if f.opt != other.opt {
		return funnelOptionsError("cannot merge funnels with different options")
	}
	if other.tracking && !f.tracking {
		f.null, f.tracking = f.total.clone(), true
	}
	if f.tracking {
		if !other.tracking {
			f.group(nil).merge(&other.total) // all of other's keys are NULL
		} else {
			if other.null != nil {
				f.group(nil).merge(other.null)
			}
			for v, g := range other.groups {
				f.group(&v).merge(g)
			}
		}
	}
	f.total.merge(&other.total)
	return nil
}

// Result returns the funnel so far. It may be called more than once.
func (f *Funnel) Result() FunnelResult {
	res := FunnelResult{Steps: f.total.steps()}
	if !f.tracking {
		return res
	}
	res.Breakdown = []FunnelBreakdown{}
	keys := make([]string, 0, len(f.groups))
	for v := range f.groups {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	for _, v := range keys {
		res.Breakdown = append(res.Breakdown, FunnelBreakdown{Value: &v, Steps: f.groups[v].steps()})
	}
	if f.null != nil {
		var keys int64
		for _, c := range f.null.exact {
			keys += c
		}
		if keys > 0 {
			res.Breakdown = append(res.Breakdown, FunnelBreakdown{Steps: f.null.steps()})
		}
	}
	return res
}

// inOrder returns hits sorted by time, copying into scratch only if needed.
func (f *Funnel) inOrder(hits []Hit) []Hit {
	for i := 1; i < len(hits); i++ {
		if hits[i].Micros < hits[i-1].Micros {
			f.sorted = append(f.sorted[:0], hits...)
			slices.SortStableFunc(f.sorted, func(a, b Hit) int { return cmp.Compare(a.Micros, b.Micros) })
			return f.sorted
		}
	}
	return hits
}

// evalKey returns the key's level and the position of its counted chain's
// start (-1 for level 0).
func (f *Funnel) evalKey(hits []Hit) (lvl, start int) {
	switch f.opt.Mode {
	case FunnelStrictOrder, FunnelDedup:
		return f.evalStrict(hits)
	case FunnelAnyOrder:
		return f.evalAnyOrder(hits)
	default:
		return f.evalGrouped(hits)
	}
}

// evalGrouped handles default and strict_increase. Every step-1 hit starts a
// greedy chain (each step at its earliest possible hit, which is optimal);
// chains at the same level take the same next hit, so the live starts of one
// level form a contiguous run starts[lo..hi], and higher levels hold earlier
// starts. A run advances as a whole; its expired front is cut off. With
// strict_increase, hits of one instant are one unit: a chain advances at most
// once per instant, using the union of the instant's step bits.
func (f *Funnel) evalGrouped(hits []Hit) (bestL, bestS int) {
	bestS = -1
	inc := f.opt.Mode == FunnelStrictIncrease
	starts := f.starts[:0]
	var live uint64 // bit L-1: level L has a run
	advance := func(u uint64, t int64) {
		cand := (u >> 1) & live
		for cand != 0 {
			b := 63 - bits.LeadingZeros64(cand)
			cand &^= 1 << uint(b)
			L := b + 1
			lo, hi := f.lo[L], f.hi[L]
			for lo <= hi && t-hits[starts[lo]].Micros > f.window {
				lo++
			}
			live &^= 1 << uint(b)
			if lo > hi {
				continue
			}
			// A gap before lo means the run above holds only expired starts.
			if live&(1<<uint(L)) != 0 && f.hi[L+1] == lo-1 {
				f.hi[L+1] = hi
			} else {
				f.lo[L+1], f.hi[L+1] = lo, hi
			}
			live |= 1 << uint(L)
			if s := int(starts[lo]); L+1 > bestL || (L+1 == bestL && s < bestS) {
				bestL, bestS = L+1, s
			}
		}
	}
	for i := 0; i < len(hits); {
		t := hits[i].Micros
		j := i + 1
		if inc {
			for j < len(hits) && hits[j].Micros == t {
				j++
			}
		}
		var u uint64
		first := len(starts) // starts made in this unit join level 1 at its end
		for k := i; k < j; k++ {
			h := &hits[k]
			if h.Exclude {
				advance(u, t)
				live, u = 0, 0
				starts = starts[:first]
			}
			m := h.Steps & f.full
			u |= m &^ 1
			if m&1 != 0 {
				starts = append(starts, int32(k))
				if bestL == 0 {
					bestL, bestS = 1, k
				}
			}
		}
		advance(u, t)
		if len(starts) > first {
			a, z := int32(first), int32(len(starts)-1)
			if live&1 != 0 && f.hi[1] == a-1 {
				f.hi[1] = z
			} else {
				f.lo[1], f.hi[1] = a, z
			}
			live |= 1
		}
		if bestL == f.n {
			break
		}
		i = j
	}
	f.starts = starts
	return bestL, bestS
}

// evalStrict handles strict_order and strict_deduplication. Chains are
// kept per level as queues of their starts (hit positions, ascending):
// live chains with earlier starts are never at a lower level than later
// ones (they advance together while in the window), so when a hit advances
// level L, the queue's starts still in the window move, in order, behind
// those of level L+1, and the first of them is the earliest start at the
// new level. A chain that does not advance stays where it is unless the
// hit breaks it (the mode's rule). Each start moves at most once a level.
func (f *Funnel) evalStrict(hits []Hit) (bestL, bestS int) {
	bestS = -1
	dedup := f.opt.Mode == FunnelDedup
	if len(f.queues) < f.n+1 {
		f.queues = make([][]int32, f.n+1)
	}
	q := f.queues[:f.n+1]
	for L := range q {
		q[L] = q[L][:0]
	}
	for k := range hits {
		h := &hits[k]
		if h.Exclude {
			for L := range q {
				q[L] = q[L][:0]
			}
		}
		m := h.Steps & f.full
		if m == 0 {
			continue
		}
		hb := 63 - bits.LeadingZeros64(m) // the furthest step bit matched
		for L := f.n - 1; L >= 1; L-- {
			if len(q[L]) == 0 {
				continue
			}
			if m&(1<<uint(L)) != 0 {
				// Advance the chains still in the window; the others can
				// never advance again (times only grow).
				starts := q[L]
				i := sort.Search(len(starts), func(i int) bool { return h.Micros-hits[starts[i]].Micros <= f.window })
				if moved := starts[i:]; len(moved) > 0 {
					if s := int(moved[0]); L+1 > bestL || (L+1 == bestL && s < bestS) {
						bestL, bestS = L+1, s
					}
					q[L+1] = append(q[L+1], moved...)
				}
				q[L] = q[L][:0]
				continue
			}
			var broken bool
			if dedup {
				// A repeat of steps 2..L (a step-1 hit is another start).
				broken = m&^1&(1<<uint(L)-1) != 0
			} else {
				// strict_order: a hit that skips past step L+1.
				broken = hb > L
			}
			if broken {
				q[L] = q[L][:0]
			}
		}
		if m&1 != 0 {
			q[1] = append(q[1], int32(k))
			if bestL == 0 {
				bestL, bestS = 1, k
			}
		}
		if bestL == f.n {
			break
		}
	}
	return bestL, bestS
}

// evalAnyOrder slides the window [s, min(t(s)+W, next exclusion)) over the
// step-1 hits s, counting hits per step; the level from s is 1 plus the run
// of steps 2, 3, ... present. Hits matching two or more steps besides step 1
// need a real assignment: then each start runs the matching walk.
func (f *Funnel) evalAnyOrder(hits []Hit) (bestL, bestS int) {
	bestS = -1
	for i := range hits {
		if bits.OnesCount64(hits[i].Steps&f.full&^1) > 1 {
			for s := range hits {
				if hits[s].Steps&1 == 0 {
					continue
				}
				if l := f.walkAnyOrder(hits, s, false); l > bestL {
					bestL, bestS = l, s
					if l == f.n {
						break
					}
				}
			}
			return bestL, bestS
		}
	}
	cnt := f.cnt[:f.n]
	clear(cnt)
	var present uint64
	wl, wr := 0, 0 // window holds positions [wl, wr)
	for s := range hits {
		if hits[s].Steps&1 == 0 {
			continue
		}
		for ; wl <= s && wl < wr; wl++ {
			if m := hits[wl].Steps & f.full &^ 1; m != 0 {
				b := bits.TrailingZeros64(m)
				if cnt[b]--; cnt[b] == 0 {
					present &^= 1 << uint(b)
				}
			}
		}
		if wl <= s {
			wl, wr = s+1, s+1
		}
		t0 := hits[s].Micros
		for ; wr < len(hits) && !hits[wr].Exclude && hits[wr].Micros-t0 <= f.window; wr++ {
			if m := hits[wr].Steps & f.full &^ 1; m != 0 {
				b := bits.TrailingZeros64(m)
				if cnt[b]++; cnt[b] == 1 {
					present |= 1 << uint(b)
				}
			}
		}
		if l := 1 + bits.TrailingZeros64(^(present >> 1)); l > bestL {
			bestL, bestS = l, s
			if l == f.n {
				break
			}
		}
	}
	return bestL, bestS
}

// walk fills f.chain[0..lvl-1] with the step times of the counted chain
// from start s, re-running the mode's rule from s alone.
func (f *Funnel) walk(hits []Hit, s, lvl int) {
	t0 := hits[s].Micros
	f.chain[0] = t0
	if f.opt.Mode == FunnelAnyOrder {
		f.walkAnyOrder(hits, s, true)
		return
	}
	j := 1 // next step bit
	for p := s + 1; p < len(hits) && j < lvl; p++ {
		h := &hits[p]
		if h.Exclude || h.Micros-t0 > f.window {
			return
		}
		m := h.Steps & f.full
		hit := m&(1<<uint(j)) != 0
		switch f.opt.Mode {
		case FunnelStrictIncrease:
			hit = hit && h.Micros > f.chain[j-1]
		case FunnelStrictOrder:
			if !hit && m>>uint(j+1) != 0 {
				return
			}
		case FunnelDedup:
			if !hit && (m&^1)&(1<<uint(j)-1) != 0 {
				return
			}
		}
		if hit {
			f.chain[j] = h.Micros
			j++
		}
	}
}

// walkAnyOrder matches steps 2, 3, ... to distinct hits after s (Kuhn's
// augmenting paths), retrying the first unmatched step whenever a hit joins;
// it returns the level from s and, if record, sets f.chain[j] to the time at
// which steps 2..j+1 first became assignable.
func (f *Funnel) walkAnyOrder(hits []Hit, s int, record bool) int {
	t0 := hits[s].Micros
	f.mhits = f.mhits[:0]
	cur := 1 // next step bit to match; steps 1..cur are matched
	for p := s + 1; p < len(hits) && cur < f.n; p++ {
		h := &hits[p]
		if h.Exclude || h.Micros-t0 > f.window {
			break
		}
		m := h.Steps & f.full &^ 1
		if m == 0 {
			continue
		}
		f.mhits = append(f.mhits, funnelMatchHit{mask: m, owner: -1})
		for cur < f.n {
			f.stamp++
			if f.stamp == 0 { // wrapped: reset marks
				for i := range f.mhits {
					f.mhits[i].seen = 0
				}
				f.stamp = 1
			}
			if !f.augment(cur) {
				break
			}
			if record {
				f.chain[cur] = h.Micros
			}
			cur++
		}
	}
	return cur
}

// augment finds an augmenting path from step bit b to a free hit.
func (f *Funnel) augment(b int) bool {
	bit := uint64(1) << uint(b)
	for i := range f.mhits {
		mh := &f.mhits[i]
		if mh.mask&bit == 0 || mh.seen == f.stamp {
			continue
		}
		mh.seen = f.stamp
		if mh.owner < 0 || f.augment(int(mh.owner)) {
			f.mhits[i].owner = int32(b)
			return true
		}
	}
	return false
}
