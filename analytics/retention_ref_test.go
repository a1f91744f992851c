package analytics

import (
	"slices"
	"strings"
	"time"
)

// A naive retention evaluator written straight from the definition, for the
// property test: civil dates instead of ordinals, loops instead of caches.

type retRefCivil struct {
	y int
	m time.Month
	d int
}

func retRefNorm(y int, m time.Month, d int) retRefCivil {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	return retRefCivil{y, m, d}
}

// retRefTruncate returns the first day of the period holding civil day c.
func retRefTruncate(c retRefCivil, o RetentionOptions) retRefCivil {
	switch o.Period {
	case PeriodMonth:
		return retRefCivil{c.y, c.m, 1}
	case PeriodWeek:
		wd := time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC).Weekday()
		back := (int(wd) - int(o.WeekStart.Weekday()) + 7) % 7
		return retRefNorm(c.y, c.m, c.d-back)
	}
	return c
}

func retRefStep(c retRefCivil, o RetentionOptions, n int) retRefCivil {
	switch o.Period {
	case PeriodMonth:
		return retRefNorm(c.y, c.m+time.Month(n), 1)
	case PeriodWeek:
		return retRefNorm(c.y, c.m, c.d+7*n)
	}
	return retRefNorm(c.y, c.m, c.d+n)
}

func retRefLoc(o RetentionOptions) *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// retRefBoundary is the first instant of the period starting on civil day c:
// local midnight as time.Date resolves it.
func retRefBoundary(c retRefCivil, o RetentionOptions) time.Time {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, retRefLoc(o))
}

// retRefPeriod returns the first civil day of the period p with
// boundary(p) <= t < boundary(next p).
func retRefPeriod(t time.Time, o RetentionOptions) retRefCivil {
	y, m, d := t.In(retRefLoc(o)).Date()
	c := retRefTruncate(retRefCivil{y, m, d}, o)
	for t.Before(retRefBoundary(c, o)) {
		c = retRefStep(c, o, -1)
	}
	for !t.Before(retRefBoundary(retRefStep(c, o, 1), o)) {
		c = retRefStep(c, o, 1)
	}
	return c
}

// retRefIndex counts periods from cohort to the period of t (t not before the
// cohort), giving up at limit.
func retRefIndex(cohort retRefCivil, t time.Time, o RetentionOptions, limit int) int {
	p := retRefPeriod(t, o)
	k := 0
	for c := cohort; c != p && k < limit; c = retRefStep(c, o, 1) {
		k++
	}
	return k
}

type retRefEntity struct {
	id  string
	evs []RetentionEvent
}

type retRefAnchor struct {
	ev     RetentionEvent
	period retRefCivil
}

func retRefRetention(o RetentionOptions, entities []retRefEntity) RetentionResult {
	type key struct {
		p  retRefCivil
		bd string // "\x00" for NULL
	}
	type acc struct {
		size     int64
		retained []int64
	}
	n := o.Periods
	overall := map[retRefCivil]*acc{}
	groups := map[string]map[retRefCivil]*acc{}
	get := func(m map[retRefCivil]*acc, p retRefCivil) *acc {
		if m[p] == nil {
			m[p] = &acc{retained: make([]int64, n)}
		}
		return m[p]
	}
	for _, ent := range entities {
		var anchors []retRefAnchor
		for _, e := range ent.evs {
			if !e.Start {
				continue
			}
			p := retRefPeriod(time.UnixMicro(e.Micros), o)
			if !o.AnyStart {
				if len(anchors) == 0 || e.Micros < anchors[0].ev.Micros {
					anchors = []retRefAnchor{{e, p}}
				}
				continue
			}
			found := false
			for i := range anchors {
				if anchors[i].period == p {
					found = true
					if e.Micros < anchors[i].ev.Micros {
						anchors[i] = retRefAnchor{e, p}
					}
				}
			}
			if !found {
				anchors = append(anchors, retRefAnchor{e, p})
			}
		}
		for _, a := range anchors {
			var accs []*acc
			accs = append(accs, get(overall, a.period))
			if o.Breakdown {
				bd := "\x00"
				if a.ev.Breakdown != nil {
					bd = *a.ev.Breakdown
				}
				if groups[bd] == nil {
					groups[bd] = map[retRefCivil]*acc{}
				}
				accs = append(accs, get(groups[bd], a.period))
			}
			for k := 0; k < n; k++ {
				retained := false
				for _, e := range ent.evs {
					if !e.Return || e.Micros < a.ev.Micros {
						continue
					}
					idx := retRefIndex(a.period, time.UnixMicro(e.Micros), o, n+1)
					if idx == k || (o.Unbounded && idx > k) {
						retained = true
					}
				}
				for _, c := range accs {
					if retained {
						c.retained[k]++
					}
				}
			}
			for _, c := range accs {
				c.size++
			}
		}
	}
	cohorts := func(m map[retRefCivil]*acc) []Cohort {
		var out []Cohort
		for p, a := range m {
			share := make([]float64, n)
			for k := range share {
				share[k] = float64(a.retained[k]) / float64(a.size)
			}
			out = append(out, Cohort{
				Cohort:   time.Date(p.y, p.m, p.d, 0, 0, 0, 0, time.UTC).Format("2006-01-02"),
				Start:    retRefBoundary(p, o),
				Size:     a.size,
				Retained: a.retained,
				Share:    share,
			})
		}
		slices.SortFunc(out, func(a, b Cohort) int { return a.Start.Compare(b.Start) })
		return out
	}
	res := RetentionResult{Periods: n, Cohorts: cohorts(overall)}
	if o.Breakdown {
		var names []string
		for bd := range groups {
			names = append(names, bd)
		}
		slices.SortFunc(names, func(a, b string) int { // NULL first
			if (a == "\x00") != (b == "\x00") {
				if a == "\x00" {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		res.Breakdown = []RetentionBreakdown{}
		for _, bd := range names {
			var v *string
			if bd != "\x00" {
				v = &bd
			}
			res.Breakdown = append(res.Breakdown, RetentionBreakdown{Value: v, Cohorts: cohorts(groups[bd])})
		}
	}
	return res
}
