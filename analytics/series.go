package analytics

// Time-series post-processing: bucket grids aligned to a time zone, gap
// filling and derived metrics over bucketed aggregates computed in SQL.
//
// A series is a []SeriesPoint in bucket order; a nil Value is SQL NULL. The
// derived metrics (moving average, change, cumulative sum) work on positions,
// so they expect a dense series, one point per bucket, as SeriesFill returns
// for every mode except SeriesFillNone.

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
)

// SeriesUnit is the unit of a SeriesInterval.
type SeriesUnit uint8

const (
	SeriesSecond SeriesUnit = iota + 1
	SeriesMinute
	SeriesHour
	SeriesDay
	SeriesWeek
	SeriesMonth
	SeriesQuarter
	SeriesYear
)

var seriesUnitNames = [...]string{
	SeriesSecond:  "s",
	SeriesMinute:  "m",
	SeriesHour:    "h",
	SeriesDay:     "d",
	SeriesWeek:    "w",
	SeriesMonth:   "mo",
	SeriesQuarter: "q",
	SeriesYear:    "y",
}

// seriesUnitAliases maps every accepted unit spelling to its unit.
var seriesUnitAliases = map[string]SeriesUnit{
	"s": SeriesSecond, "sec": SeriesSecond, "second": SeriesSecond, "seconds": SeriesSecond,
	"m": SeriesMinute, "min": SeriesMinute, "minute": SeriesMinute, "minutes": SeriesMinute,
	"h": SeriesHour, "hour": SeriesHour, "hours": SeriesHour,
	"d": SeriesDay, "day": SeriesDay, "days": SeriesDay,
	"w": SeriesWeek, "week": SeriesWeek, "weeks": SeriesWeek,
	"mo": SeriesMonth, "month": SeriesMonth, "months": SeriesMonth,
	"q": SeriesQuarter, "quarter": SeriesQuarter, "quarters": SeriesQuarter,
	"y": SeriesYear, "year": SeriesYear, "years": SeriesYear,
}

// SeriesInterval is a bucket width: N units.
//
// Seconds, minutes and hours ("sub-day" intervals) form a wall-clock grid: a
// bucket boundary is every instant whose local wall-clock time in the zone,
// counted from 1970-01-01T00:00 local, is a multiple of the width. In a zone
// with a constant offset this is the Unix epoch shifted by the offset, so 1h
// buckets start on local full hours even in UTC+05:30. Across a DST change
// the grid follows the wall clock: on a 23 h day there are 23 hourly buckets
// and on a 25 h day 25 (the repeated hour is two buckets, one per offset);
// a boundary that falls into the skipped hour does not exist, so e.g. the 2h
// bucket 00:00–04:00 of a spring-forward night lasts 3 h. Bucket lengths are
// therefore not constant; SeriesBucketEnd gives the real one.
//
// Days, weeks, months, quarters and years are calendar buckets in the zone,
// computed with time.Date, so a day lasts 23, 24 or 25 h. A bucket starts at
// the first instant of its local date (if midnight is skipped by a DST change,
// the bucket starts at the change). Multiples are aligned to the epoch in
// calendar terms: N days to days since 1970-01-01, N weeks to weeks since the
// Monday 1969-12-29 (Sunday 1969-12-28 with SundayWeeks), N months to months
// since January 1970 (so "3mo" equals "1q" and "6mo" are half-years), N years
// to years divisible by N.
type SeriesInterval struct {
	N    int
	Unit SeriesUnit
	// SundayWeeks makes weeks start on Sunday instead of Monday (ISO 8601).
	SundayWeeks bool
}

// ParseSeriesInterval parses an interval such as "30s", "5m", "1h", "1d",
// "1w", "1mo", "1q" or "1y". The count defaults to 1 ("h" is "1h"); unit words
// ("5 minutes", "1 month") are accepted too. "m" is minutes, "mo" months.
// Weeks start on Monday; set SundayWeeks on the result for Sunday weeks.
func ParseSeriesInterval(s string) (SeriesInterval, error) {
	str := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(str) && str[i] >= '0' && str[i] <= '9' {
		i++
	}
	n := 1
	if i > 0 {
		v, err := strconv.Atoi(str[:i])
		if err != nil || v <= 0 || v > 1_000_000 {
			return SeriesInterval{}, allsource.Errorf(allsource.CodeInvalid, "invalid interval %q: count must be 1..1000000", s)
		}
		n = v
	}
	unit, ok := seriesUnitAliases[strings.TrimSpace(str[i:])]
	if !ok {
		return SeriesInterval{}, allsource.Errorf(allsource.CodeInvalid, "invalid interval %q: unit must be s, m, h, d, w, mo, q or y", s)
	}
	return SeriesInterval{N: n, Unit: unit}, nil
}

// String formats the interval as ParseSeriesInterval reads it.
func (iv SeriesInterval) String() string {
	if iv.Unit == 0 || int(iv.Unit) >= len(seriesUnitNames) {
		return "invalid"
	}
	return strconv.Itoa(iv.N) + seriesUnitNames[iv.Unit]
}

// Fixed reports whether the interval is sub-day (s, m, h) and returns its
// nominal width; calendar intervals report false.
func (iv SeriesInterval) Fixed() (time.Duration, bool) {
	switch iv.Unit {
	case SeriesSecond:
		return time.Duration(iv.N) * time.Second, true
	case SeriesMinute:
		return time.Duration(iv.N) * time.Minute, true
	case SeriesHour:
		return time.Duration(iv.N) * time.Hour, true
	}
	return 0, false
}

// fixedSeconds is the sub-day width in seconds, or 0 for calendar units.
func (iv SeriesInterval) fixedSeconds() int64 {
	n := int64(max(iv.N, 1))
	switch iv.Unit {
	case SeriesSecond:
		return n
	case SeriesMinute:
		return n * 60
	case SeriesHour:
		return n * 3600
	}
	return 0
}

// SeriesBucketOf returns the start of the bucket of interval iv in loc that
// contains t, as a time in loc. A nil loc is UTC.
func SeriesBucketOf(t time.Time, iv SeriesInterval, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if d := iv.fixedSeconds(); d > 0 {
		return seriesWallFloor(t.In(loc), d)
	}
	b := seriesCalendarFloor(t.In(loc), iv, loc)
	// Where the wall clock steps back over a date change, t can be past the
	// start of the next date; the buckets partition time, so move on.
	for {
		next := seriesCalendarNext(b, iv, loc)
		if t.Before(next) || !next.After(b) {
			return b
		}
		b = next
	}
}

// SeriesBucketEnd returns the start of the bucket after the one starting at
// start: the exclusive end of that bucket. start must be a bucket start as
// returned by SeriesBucketOf or SeriesBuckets. A nil loc is UTC.
func SeriesBucketEnd(start time.Time, iv SeriesInterval, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if d := iv.fixedSeconds(); d > 0 {
		return seriesWallNext(start.In(loc), d)
	}
	return seriesCalendarNext(start.In(loc), iv, loc)
}

// SeriesBuckets returns the starts of every bucket that intersects the
// half-open range [from, to), ascending, as times in loc: the first is the
// bucket containing from, the last starts before to. It returns nil when
// to is not after from. The caller bounds the range: 1s buckets over a year
// are 31.5 million times. A nil loc is UTC.
func SeriesBuckets(from, to time.Time, iv SeriesInterval, loc *time.Location) []time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if !to.After(from) {
		return nil
	}
	b := SeriesBucketOf(from, iv, loc)
	// Pre-size from the nominal width, capped so a mistaken range fails
	// by growing, not by one giant allocation.
	nominal := iv.fixedSeconds()
	if nominal == 0 {
		nominal = seriesNominalSeconds(iv)
	}
	est := int64(to.Sub(b)/time.Second)/nominal + 2
	out := make([]time.Time, 0, min(est, 1<<20))
	for b.Before(to) {
		out = append(out, b)
		b = SeriesBucketEnd(b, iv, loc)
	}
	return out
}

// seriesNominalSeconds is a lower bound of a calendar bucket's length.
func seriesNominalSeconds(iv SeriesInterval) int64 {
	n := int64(max(iv.N, 1))
	switch iv.Unit {
	case SeriesDay:
		return n * 23 * 3600
	case SeriesWeek:
		return n * 7 * 23 * 3600
	case SeriesMonth:
		return n * 28 * 86400
	case SeriesQuarter:
		return n * 89 * 86400
	default:
		return n * 365 * 86400
	}
}

func seriesFloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// seriesWallFloor returns the last wall-grid boundary at or before t (t in its
// zone). A boundary is an instant whose wall clock, in seconds since the
// local epoch, is a multiple of d; it is valid only inside the zone period
// (offset) that produces it, so when the candidate falls before the current
// period began the search moves to the previous period.
func seriesWallFloor(t time.Time, d int64) time.Time {
	sec := t.Unix()
	cur := t
	for range 64 {
		_, off := cur.Zone()
		start, _ := cur.ZoneBounds()
		b := seriesFloorDiv(sec+int64(off), d)*d - int64(off)
		if start.IsZero() || b >= start.Unix() {
			return time.Unix(b, 0).In(t.Location())
		}
		sec = start.Unix() - 1
		cur = time.Unix(sec, 0).In(t.Location())
	}
	// A zone changing offset more than 64 times within one bucket does not
	// exist; fall back to the current offset.
	_, off := t.Zone()
	return time.Unix(seriesFloorDiv(t.Unix()+int64(off), d)*d-int64(off), 0).In(t.Location())
}

// seriesWallNext returns the first wall-grid boundary strictly after t.
func seriesWallNext(t time.Time, d int64) time.Time {
	sec := t.Unix()
	cur := t
	for range 64 {
		_, off := cur.Zone()
		_, end := cur.ZoneBounds()
		b := (seriesFloorDiv(sec+int64(off), d)+1)*d - int64(off)
		if end.IsZero() || b < end.Unix() {
			return time.Unix(b, 0).In(t.Location())
		}
		sec = end.Unix() - 1 // boundaries >= end, under the next offset
		cur = end
	}
	return t.Add(time.Duration(d) * time.Second)
}

// seriesCivilDays is the number of days from 1970-01-01 to the date y-m-d.
func seriesCivilDays(y int, m time.Month, d int) int64 {
	return seriesFloorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// seriesDayStart returns the first instant of the local date y-m-d in loc
// (the date is normalised like time.Date). time.Date leaves the choice for
// skipped and repeated wall times open; this pins it: a repeated midnight
// yields its first occurrence, a skipped one the DST change that skips it.
func seriesDayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() // wall clock sought
	wall := func(u time.Time) int64 { _, off := u.Zone(); return u.Unix() + int64(off) }
	switch w := wall(t); {
	case w < want: // skipped: the wall clock jumps over midnight at the zone's end
		_, end := t.ZoneBounds()
		return end
	case w > want: // skipped, resolved past the gap: the day starts at the jump
		start, _ := t.ZoneBounds()
		return start
	}
	// Repeated midnight: prefer the earlier occurrence under the previous
	// offset when it lies inside the previous zone period.
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		prev := start.Add(-time.Second)
		_, off := prev.Zone()
		c := want - int64(off)
		pstart, _ := prev.ZoneBounds()
		if c < start.Unix() && (pstart.IsZero() || c >= pstart.Unix()) {
			return time.Unix(c, 0).In(loc)
		}
	}
	return t
}

// seriesCalendarFloor returns the start of the calendar bucket of the local date of
// t (t in loc).
func seriesCalendarFloor(t time.Time, iv SeriesInterval, loc *time.Location) time.Time {
	y, m, d := t.Date()
	n := int64(max(iv.N, 1))
	switch iv.Unit {
	case SeriesDay:
		if n == 1 {
			return seriesDayStart(y, m, d, loc)
		}
		dn := seriesFloorDiv(seriesCivilDays(y, m, d), n) * n
		return seriesDayStart(1970, 1, 1+int(dn), loc)
	case SeriesWeek:
		shift := int64(3) // 1970-01-01 is a Thursday; Monday is 3 days before
		if iv.SundayWeeks {
			shift = 4
		}
		wk := seriesFloorDiv(seriesFloorDiv(seriesCivilDays(y, m, d)+shift, 7), n) * n
		return seriesDayStart(1970, 1, 1+int(wk*7-shift), loc)
	case SeriesMonth, SeriesQuarter:
		if iv.Unit == SeriesQuarter {
			n *= 3
		}
		mi := seriesFloorDiv(int64(y)*12+int64(m-1), n) * n
		return seriesDayStart(int(seriesFloorDiv(mi, 12)), time.Month(mi-seriesFloorDiv(mi, 12)*12+1), 1, loc)
	default: // SeriesYear
		return seriesDayStart(int(seriesFloorDiv(int64(y), n)*n), 1, 1, loc)
	}
}

// seriesCalendarNext returns the start of the calendar bucket after the one that
// starts at b.
func seriesCalendarNext(b time.Time, iv SeriesInterval, loc *time.Location) time.Time {
	y, m, d := b.Date()
	n := max(iv.N, 1)
	switch iv.Unit {
	case SeriesDay:
		return seriesDayStart(y, m, d+n, loc)
	case SeriesWeek:
		return seriesDayStart(y, m, d+7*n, loc)
	case SeriesMonth:
		return seriesDayStart(y, m+time.Month(n), 1, loc)
	case SeriesQuarter:
		return seriesDayStart(y, m+time.Month(3*n), 1, loc)
	default:
		return seriesDayStart(y+n, 1, 1, loc)
	}
}

// SeriesPoint is one bucket of a series: its start and its value, nil for
// SQL NULL.
type SeriesPoint struct {
	Time  time.Time
	Value *float64
}

// SeriesFillMode says what SeriesFill puts into buckets without a value.
type SeriesFillMode uint8

const (
	// SeriesFillNone omits empty buckets: the result has only the buckets
	// with a value.
	SeriesFillNone SeriesFillMode = iota
	// SeriesFillNull emits every bucket, empty ones with a nil Value.
	SeriesFillNull
	// SeriesFillZero emits every bucket, empty ones as 0 (counts, sums).
	SeriesFillZero
	// SeriesFillPrevious carries the last value forward without limit;
	// buckets before the first value stay nil.
	SeriesFillPrevious
	// SeriesFillLinear interpolates between the nearest values on either
	// side, proportionally to time (month buckets have unequal lengths);
	// buckets before the first or after the last value stay nil: no
	// extrapolation.
	SeriesFillLinear
)

var seriesFillModeNames = [...]string{"none", "null", "zero", "previous", "linear"}

// ParseSeriesFillMode parses "none", "null", "zero", "previous" or "linear".
func ParseSeriesFillMode(s string) (SeriesFillMode, error) {
	for i, n := range seriesFillModeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return SeriesFillMode(i), nil
		}
	}
	return 0, allsource.Errorf(allsource.CodeInvalid, "invalid fill mode %q: want none, null, zero, previous or linear", s)
}

func (m SeriesFillMode) String() string {
	if int(m) < len(seriesFillModeNames) {
		return seriesFillModeNames[m]
	}
	return "invalid"
}

// SeriesFill aligns sparse points to buckets (ascending bucket starts, as from
// SeriesBuckets) and fills the gaps according to mode.
//
// A point matches the bucket whose start is the same instant (time zones may
// differ); points that match no bucket are dropped, and of several points on
// one bucket the last wins. A point with a nil Value is a gap like a missing
// one. points need not be sorted (sorted input avoids a copy). The result
// never aliases the input: its values point into one fresh backing array.
func SeriesFill(points []SeriesPoint, buckets []time.Time, mode SeriesFillMode) []SeriesPoint {
	if !slices.IsSortedFunc(points, seriesPointCmp) {
		points = slices.Clone(points)
		slices.SortStableFunc(points, seriesPointCmp)
	}
	vals := make([]float64, len(buckets))
	has := make([]bool, len(buckets))
	j := 0
	for i, b := range buckets {
		for j < len(points) && points[j].Time.Before(b) {
			j++
		}
		for j < len(points) && points[j].Time.Equal(b) {
			if v := points[j].Value; v != nil {
				vals[i], has[i] = *v, true
			} else {
				has[i] = false
			}
			j++
		}
	}
	if mode == SeriesFillNone {
		n := 0
		for _, h := range has {
			if h {
				n++
			}
		}
		out := make([]SeriesPoint, 0, n)
		for i, b := range buckets {
			if has[i] {
				out = append(out, SeriesPoint{Time: b, Value: &vals[i]})
			}
		}
		return out
	}
	out := make([]SeriesPoint, len(buckets))
	last := -1 // index of the last bucket with a value
	for i, b := range buckets {
		out[i].Time = b
		if has[i] {
			out[i].Value = &vals[i]
			if mode == SeriesFillLinear && last >= 0 && last < i-1 {
				t0, v0 := buckets[last], vals[last]
				span := float64(b.Sub(t0))
				for k := last + 1; k < i; k++ {
					f := float64(buckets[k].Sub(t0)) / span
					vals[k] = v0 + (vals[i]-v0)*f
					out[k].Value = &vals[k]
				}
			}
			last = i
			continue
		}
		switch mode {
		case SeriesFillZero:
			vals[i] = 0
			out[i].Value = &vals[i]
		case SeriesFillPrevious:
			if last >= 0 {
				vals[i] = vals[last]
				out[i].Value = &vals[i]
			}
		}
	}
	return out
}

func seriesPointCmp(a, b SeriesPoint) int { return a.Time.Compare(b.Time) }

// SeriesFillGroups fills every group's series against the same buckets, as
// SeriesFill does for one; use it on GROUP BY results split by group key.
func SeriesFillGroups[K comparable](groups map[K][]SeriesPoint, buckets []time.Time, mode SeriesFillMode) map[K][]SeriesPoint {
	out := make(map[K][]SeriesPoint, len(groups))
	for k, pts := range groups {
		out[k] = SeriesFill(pts, buckets, mode)
	}
	return out
}

// SeriesValues returns the non-nil values of points in order: NULLs are
// dropped, which is how SQL aggregates treat them. Use it to feed the Stats*
// functions.
func SeriesValues(points []SeriesPoint) []float64 {
	out := make([]float64, 0, len(points))
	for _, p := range points {
		if p.Value != nil {
			out = append(out, *p.Value)
		}
	}
	return out
}

// seriesOut allocates a result series of n points whose values point into
// one backing array.
func seriesOut(points []SeriesPoint) ([]SeriesPoint, []float64) {
	out := make([]SeriesPoint, len(points))
	for i := range points {
		out[i].Time = points[i].Time
	}
	return out, make([]float64, len(points))
}

// SeriesMovingAverage is the trailing mean over the k points ending at each
// point (the point and the k-1 before it), skipping nils, like SQL's
// AVG(v) OVER (ORDER BY t ROWS k-1 PRECEDING). A result is nil when the
// window holds fewer than minPeriods non-nil values; minPeriods <= 1 means
// one value suffices (the SQL behaviour), minPeriods = k demands a full
// window. k counts positions, so fill the series first. k < 1 is treated
// as 1.
func SeriesMovingAverage(points []SeriesPoint, k, minPeriods int) []SeriesPoint {
	k = max(k, 1)
	minPeriods = min(max(minPeriods, 1), k)
	out, vals := seriesOut(points)
	// Running sum with Neumaier compensation: adding and removing 1M
	// values must not drift from the naive window sum.
	var sum, comp float64
	n := 0
	add := func(x float64) {
		t := sum + x
		if math.Abs(sum) >= math.Abs(x) {
			comp += (sum - t) + x
		} else {
			comp += (x - t) + sum
		}
		sum = t
	}
	for i, p := range points {
		if p.Value != nil {
			add(*p.Value)
			n++
		}
		if j := i - k; j >= 0 && points[j].Value != nil {
			add(-*points[j].Value)
			n--
		}
		if n >= minPeriods {
			vals[i] = (sum + comp) / float64(n)
			out[i].Value = &vals[i]
		}
		if n == 0 {
			sum, comp = 0, 0 // an empty window restarts exactly
		}
	}
	return out
}

// SeriesDelta is the absolute change against the point lag positions
// earlier: v[i] - v[i-lag], like v - LAG(v, lag) in SQL. It is nil where
// either side is nil or i < lag. Week-over-week on daily buckets is lag 7.
func SeriesDelta(points []SeriesPoint, lag int) []SeriesPoint {
	lag = max(lag, 1)
	out, vals := seriesOut(points)
	for i := lag; i < len(points); i++ {
		a, b := points[i].Value, points[i-lag].Value
		if a != nil && b != nil {
			vals[i] = *a - *b
			out[i].Value = &vals[i]
		}
	}
	return out
}

// SeriesPercentChange is the relative change against the point lag positions
// earlier, in percent: 100·(v[i] - v[i-lag]) / |v[i-lag]|. Dividing by the
// magnitude keeps the sign meaning "went up" for negative bases too. It is
// nil where either side is nil, i < lag, or the earlier value is 0 (growth
// from zero has no percentage).
func SeriesPercentChange(points []SeriesPoint, lag int) []SeriesPoint {
	lag = max(lag, 1)
	out, vals := seriesOut(points)
	for i := lag; i < len(points); i++ {
		a, b := points[i].Value, points[i-lag].Value
		if a != nil && b != nil && *b != 0 {
			vals[i] = 100 * (*a - *b) / math.Abs(*b)
			out[i].Value = &vals[i]
		}
	}
	return out
}

// SeriesRate divides each value by the real length in seconds of its bucket
// [t, SeriesBucketEnd(t)), so a daily count becomes events per second with
// 23 h and 25 h DST days weighed correctly. Multiply by 60 or 3600 for per
// minute or per hour. The last bucket counts with its full length even when
// it is still in progress. Nil stays nil. A nil loc is UTC.
func SeriesRate(points []SeriesPoint, iv SeriesInterval, loc *time.Location) []SeriesPoint {
	out, vals := seriesOut(points)
	for i, p := range points {
		if p.Value == nil {
			continue
		}
		secs := SeriesBucketEnd(p.Time, iv, loc).Sub(p.Time).Seconds()
		if secs <= 0 {
			continue
		}
		vals[i] = *p.Value / secs
		out[i].Value = &vals[i]
	}
	return out
}

// SeriesCumulativeSum is the running total, like SUM(v) OVER (ORDER BY t
// ROWS UNBOUNDED PRECEDING) in SQL: nils add nothing, and a point is nil
// only while no value has been seen yet.
func SeriesCumulativeSum(points []SeriesPoint) []SeriesPoint {
	out, vals := seriesOut(points)
	var sum, comp float64
	seen := false
	for i, p := range points {
		if p.Value != nil {
			x := *p.Value
			t := sum + x
			if math.Abs(sum) >= math.Abs(x) {
				comp += (sum - t) + x
			} else {
				comp += (x - t) + sum
			}
			sum = t
			seen = true
		}
		if seen {
			vals[i] = sum + comp
			out[i].Value = &vals[i]
		}
	}
	return out
}
