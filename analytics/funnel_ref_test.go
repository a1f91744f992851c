package analytics

// A naive funnel, straight from the definitions in funnel.go: enumerate every
// chain (every start and every subsequence) and keep the longest, then the
// lexicographically smallest; any_order tries every assignment of steps to
// hits. Exponential; for small random inputs only.

import (
	"slices"
	"sort"
)

// refFunnelKey is the reference outcome for one key.
type refFunnelKey struct {
	level int
	start int     // position of the counted chain's step-1 hit; -1 at level 0
	times []int64 // times[j]: when step j+1 was reached, j < level
}

func refFunnelFull(n int) uint64 {
	if n == 64 {
		return ^uint64(0)
	}
	return 1<<uint(n) - 1
}

func refFunnelEvalKey(o FunnelOptions, hits []Hit) refFunnelKey {
	if o.Mode == FunnelAnyOrder {
		return refFunnelAnyOrder(o, hits)
	}
	full := refFunnelFull(o.Steps)
	w := int64(o.Window / 1000)
	mask := func(p int) uint64 { return hits[p].Steps & full }
	var best []int
	// extendOK reports whether position q may follow chain as its next step.
	extendOK := func(chain []int, q int) bool {
		j := len(chain) // q would be step j+1: bit j
		last, first := chain[j-1], chain[0]
		if q <= last || mask(q)&(1<<uint(j)) == 0 {
			return false
		}
		if hits[q].Micros-hits[first].Micros > w {
			return false
		}
		for x := last + 1; x <= q; x++ {
			if hits[x].Exclude {
				return false
			}
		}
		switch o.Mode {
		case FunnelStrictIncrease:
			if hits[q].Micros <= hits[last].Micros {
				return false
			}
		case FunnelStrictOrder:
			// Nothing in between matches step j+1 or a later one: only
			// repeats of steps already reached.
			for x := last + 1; x < q; x++ {
				if mask(x)>>uint(j) != 0 {
					return false
				}
			}
		case FunnelDedup:
			// Nothing in between repeats steps 2..j+1.
			for x := last + 1; x < q; x++ {
				if mask(x)&^1&(1<<uint(j+1)-1) != 0 {
					return false
				}
			}
		}
		return true
	}
	better := func(c []int) bool {
		if len(c) != len(best) {
			return len(c) > len(best)
		}
		return slices.Compare(c, best) < 0
	}
	var dfs func(chain []int)
	dfs = func(chain []int) {
		if better(chain) {
			best = slices.Clone(chain)
		}
		if len(chain) == o.Steps {
			return
		}
		for q := chain[len(chain)-1] + 1; q < len(hits); q++ {
			if extendOK(chain, q) {
				dfs(append(chain, q))
			}
		}
	}
	for s := range hits {
		if mask(s)&1 != 0 {
			dfs([]int{s})
		}
	}
	r := refFunnelKey{level: len(best), start: -1}
	if len(best) > 0 {
		r.start = best[0]
	}
	for _, p := range best {
		r.times = append(r.times, hits[p].Micros)
	}
	return r
}

// refFunnelAssignable reports whether steps 2..k (bits 1..k-1) can be given
// distinct hits among cand.
func refFunnelAssignable(hits []Hit, full uint64, cand []int, k int) bool {
	used := make([]bool, len(cand))
	var try func(b int) bool
	try = func(b int) bool {
		if b >= k {
			return true
		}
		for i, p := range cand {
			if !used[i] && hits[p].Steps&full&(1<<uint(b)) != 0 {
				used[i] = true
				if try(b + 1) {
					return true
				}
				used[i] = false
			}
		}
		return false
	}
	return try(1)
}

func refFunnelAnyOrder(o FunnelOptions, hits []Hit) refFunnelKey {
	full := refFunnelFull(o.Steps)
	w := int64(o.Window / 1000)
	eligible := func(s int) []int {
		var c []int
		for p := s + 1; p < len(hits); p++ {
			if hits[p].Exclude {
				break
			}
			if hits[p].Micros-hits[s].Micros <= w {
				c = append(c, p)
			}
		}
		return c
	}
	r := refFunnelKey{start: -1}
	for s := range hits {
		if hits[s].Steps&full&1 == 0 {
			continue
		}
		cand := eligible(s)
		k := 1
		for k < o.Steps && refFunnelAssignable(hits, full, cand, k+1) {
			k++
		}
		if k > r.level {
			r.level, r.start = k, s
		}
	}
	if r.level == 0 {
		return r
	}
	s := r.start
	cand := eligible(s)
	r.times = []int64{hits[s].Micros}
	for k := 2; k <= r.level; k++ {
		// The earliest time T such that steps 2..k are assignable among the
		// eligible hits at or before T.
		var ts []int64
		for _, p := range cand {
			ts = append(ts, hits[p].Micros)
		}
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		for _, T := range ts {
			var sub []int
			for _, p := range cand {
				if hits[p].Micros <= T {
					sub = append(sub, p)
				}
			}
			if refFunnelAssignable(hits, full, sub, k) {
				r.times = append(r.times, T)
				break
			}
		}
	}
	return r
}

// refFunnelResult aggregates keys the slow way.
func refFunnelResult(o FunnelOptions, keys [][]Hit) FunnelResult {
	type group struct {
		levels []int
		durs   [][]int64
	}
	newGroup := func() *group { return &group{durs: make([][]int64, o.Steps+1)} }
	total := newGroup()
	byValue := map[string]*group{}
	var null *group
	tracking := o.Breakdown
	for _, hits := range keys {
		hits = slices.Clone(hits)
		sort.SliceStable(hits, func(a, b int) bool { return hits[a].Micros < hits[b].Micros })
		r := refFunnelEvalKey(o, hits)
		if r.level == 0 {
			continue
		}
		b := hits[r.start].Breakdown
		if b != nil {
			tracking = true
		}
		gs := []*group{total}
		if b == nil {
			if null == nil {
				null = newGroup()
			}
			gs = append(gs, null)
		} else {
			if byValue[*b] == nil {
				byValue[*b] = newGroup()
			}
			gs = append(gs, byValue[*b])
		}
		for _, g := range gs {
			g.levels = append(g.levels, r.level)
			for j := 2; j <= r.level; j++ {
				g.durs[j] = append(g.durs[j], r.times[j-1]-r.times[0])
			}
		}
	}
	steps := func(g *group) []FunnelStep {
		out := make([]FunnelStep, o.Steps)
		for j := 1; j <= o.Steps; j++ {
			st := FunnelStep{Step: j}
			for _, l := range g.levels {
				if l >= j {
					st.Entities++
				}
			}
			out[j-1] = st
		}
		for j := 1; j <= o.Steps; j++ {
			st := &out[j-1]
			if out[0].Entities > 0 {
				st.ConversionFromStart = float64(st.Entities) / float64(out[0].Entities)
			}
			prev := st.Entities
			if j > 1 {
				prev = out[j-2].Entities
			}
			if prev > 0 {
				st.ConversionFromPrevious = float64(st.Entities) / float64(prev)
			}
			d := slices.Clone(g.durs[j])
			if j == 1 || len(d) == 0 {
				continue
			}
			slices.Sort(d)
			var med float64
			if len(d)%2 == 1 {
				med = float64(d[len(d)/2]) / 1e6
			} else {
				med = float64(d[len(d)/2-1]+d[len(d)/2]) / 2 / 1e6
			}
			var sum int64
			for _, v := range d {
				sum += v
			}
			avg := float64(sum) / float64(len(d)) / 1e6
			st.MedianSecondsToConvert, st.AvgSecondsToConvert = &med, &avg
		}
		return out
	}
	res := FunnelResult{Steps: steps(total)}
	if tracking {
		res.Breakdown = []FunnelBreakdown{}
		var vals []string
		for v := range byValue {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		for _, v := range vals {
			res.Breakdown = append(res.Breakdown, FunnelBreakdown{Value: &v, Steps: steps(byValue[v])})
		}
		if null != nil {
			res.Breakdown = append(res.Breakdown, FunnelBreakdown{Steps: steps(null)})
		}
	}
	return res
}
