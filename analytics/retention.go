package analytics

// Retention (cohort) analysis, the pure part: the caller queries each
// entity's start and return events, sorted by time, and hands them to
// Retention.Add; Result returns the cohort × period matrix.
//
// Semantics, in one place (testdata/retention/*.txt shows each by example):
//
//   - Periods are calendar days, weeks or months in RetentionOptions.Location
//     (default UTC). Period ordinal o spans the half-open instant range
//     [B(o), B(o+1)), where B(o) is local midnight of the period's first day as
//     resolved by time.Date in that location. A day therefore lasts 23 or 25
//     hours across a DST change; where midnight itself does not exist, the
//     period starts wherever time.Date puts it. Weeks start on Monday (ISO 8601)
//     unless WeekStart says otherwise.
//   - Cohort: with first-start (the default), an entity joins exactly one
//     cohort, the period of its earliest start event; ties keep the first
//     event in the slice. With AnyStart, it joins every period holding one of
//     its start events, anchored at the earliest start event in that period.
//   - A return event counts for an anchor only if its timestamp is at or after
//     the anchor's timestamp; return events before the anchor are ignored.
//     An event that is both start and return (same event type, or the caller
//     flags it so) is its own return: with identical start and return events,
//     period 0 is the whole cohort, as in PostHog's and Amplitude's retention
//     tables.
//   - Classic: retained in period k if a return event falls in period
//     cohort+k. Unbounded ("rolling", "on or after"): retained in period k if
//     a return event falls in period cohort+k or any later period, also beyond
//     the reported window.
//   - Breakdown: by the Breakdown of the anchoring start event (nil is the
//     NULL group). With AnyStart, an entity may land in different groups in
//     different cohorts, but in one group per cohort.
//   - Only cohorts with at least one member are reported; Share is
//     Retained/Size. Periods not yet elapsed are counted like the others (as
//     zero); the caller knows "now" and may blank them.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrRetentionOptions is wrapped by every error about invalid retention
// options.
var ErrRetentionOptions = errors.New("analytics: invalid retention options")

// MaxRetentionPeriods bounds RetentionOptions.Periods.
const MaxRetentionPeriods = 1 << 16

// RetentionPeriod is the calendar unit of cohorts and retention periods. The
// zero value is invalid.
type RetentionPeriod int

// Retention period units.
const (
	PeriodDay RetentionPeriod = iota + 1
	PeriodWeek
	PeriodMonth
)

func (p RetentionPeriod) String() string {
	switch p {
	case PeriodDay:
		return "day"
	case PeriodWeek:
		return "week"
	case PeriodMonth:
		return "month"
	}
	return fmt.Sprintf("RetentionPeriod(%d)", int(p))
}

// ParseRetentionPeriod parses "day", "week" or "month" (case-insensitive; a
// plural or the -ly adjective is accepted too).
func ParseRetentionPeriod(s string) (RetentionPeriod, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "day", "days", "daily":
		return PeriodDay, nil
	case "week", "weeks", "weekly":
		return PeriodWeek, nil
	case "month", "months", "monthly":
		return PeriodMonth, nil
	}
	return 0, fmt.Errorf("%w: unknown period %q (want day, week or month)", ErrRetentionOptions, s)
}

// RetentionWeekStart is the first day of a week, counted in days after
// Monday, so that the zero value is the ISO 8601 week (Monday).
type RetentionWeekStart uint8

// RetentionWeekStartOn returns the week start for weekday d.
func RetentionWeekStartOn(d time.Weekday) RetentionWeekStart {
	return RetentionWeekStart((int(d) + 6) % 7)
}

// Weekday returns the weekday weeks start on.
func (w RetentionWeekStart) Weekday() time.Weekday { return time.Weekday((int(w) + 1) % 7) }

func (w RetentionWeekStart) String() string { return strings.ToLower(w.Weekday().String()) }

// ParseRetentionWeekStart parses a weekday name ("sunday", "sun", any case);
// "" and "iso" mean Monday.
func ParseRetentionWeekStart(s string) (RetentionWeekStart, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" || t == "iso" {
		return 0, nil
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if t == name || t == name[:3] {
			return RetentionWeekStartOn(d), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown week start %q", ErrRetentionOptions, s)
}

// RetentionOptions configures a retention evaluation. The zero value is not
// valid: Period and Periods must be set.
type RetentionOptions struct {
	Period  RetentionPeriod
	Periods int // N: report periods 0..N-1; 1..MaxRetentionPeriods
	// Location is the zone of the calendar; nil means UTC.
	Location *time.Location
	// WeekStart applies to PeriodWeek; the zero value is Monday.
	WeekStart RetentionWeekStart
	// Unbounded counts a return in period k or any later period as retained
	// in period k; otherwise only returns in period k count (classic).
	Unbounded bool
	// AnyStart puts an entity in every cohort where it has a start event;
	// otherwise only in the cohort of its first start event.
	AnyStart bool
	// Breakdown fills RetentionResult.Breakdown, grouping by the Breakdown of
	// the anchoring start event. Without it, RetentionEvent.Breakdown is
	// ignored.
	Breakdown bool
}

// Validate reports whether o is usable.
func (o RetentionOptions) Validate() error {
	if o.Period < PeriodDay || o.Period > PeriodMonth {
		return fmt.Errorf("%w: period %d (want day, week or month)", ErrRetentionOptions, int(o.Period))
	}
	if o.Periods < 1 || o.Periods > MaxRetentionPeriods {
		return fmt.Errorf("%w: periods %d out of range [1, %d]", ErrRetentionOptions, o.Periods, MaxRetentionPeriods)
	}
	if o.WeekStart > 6 {
		return fmt.Errorf("%w: week start %d", ErrRetentionOptions, o.WeekStart)
	}
	return nil
}

// RetentionEvent is one event of an entity: its time and its roles. An event
// may be a start event, a return event, both or (uselessly) neither.
type RetentionEvent struct {
	Micros int64 // µs since the Unix epoch
	Start  bool
	Return bool
	// Breakdown is the breakdown property of a start event; nil is NULL.
	Breakdown *string
}

// Cohort is one row of the retention matrix.
type Cohort struct {
	Cohort   string    // first day of the cohort period in the zone, "2024-01-01"
	Start    time.Time // first instant of the cohort period, in the zone
	Size     int64     // entities in the cohort
	Retained []int64   // len Periods; Retained[k]: entities retained in period k
	Share    []float64 // Retained[k] / Size
}

// RetentionBreakdown is the retention matrix of one breakdown value.
type RetentionBreakdown struct {
	Value   *string // nil is the NULL group
	Cohorts []Cohort
}

// RetentionResult is the outcome of a retention evaluation.
type RetentionResult struct {
	Periods int
	Cohorts []Cohort // all entities, sorted by Start
	// Breakdown is set when RetentionOptions.Breakdown is: one entry per
	// value, NULL first, then by value; each Cohorts sorted by Start.
	Breakdown []RetentionBreakdown
}

// RetentionRow is one cell of the retention matrix in long form.
type RetentionRow struct {
	Breakdown *string   `json:"breakdown,omitempty"` // nil in Rows; the group's value (nil: NULL) in BreakdownRows
	Cohort    string    `json:"cohort"`
	Start     time.Time `json:"start"`
	Period    int       `json:"period"`
	Size      int64     `json:"size"`
	Retained  int64     `json:"retained"`
	Share     float64   `json:"share"`
}

// Rows returns the overall matrix as rows, by cohort then period.
func (r RetentionResult) Rows() []RetentionRow {
	return appendRetentionRows(nil, nil, r.Cohorts)
}

// BreakdownRows returns the breakdown matrices as rows, by group (in
// Breakdown order), cohort and period.
func (r RetentionResult) BreakdownRows() []RetentionRow {
	var rows []RetentionRow
	for _, g := range r.Breakdown {
		rows = appendRetentionRows(rows, g.Value, g.Cohorts)
	}
	return rows
}

func appendRetentionRows(rows []RetentionRow, value *string, cohorts []Cohort) []RetentionRow {
	for _, c := range cohorts {
		for k, n := range c.Retained {
			rows = append(rows, RetentionRow{
				Breakdown: value, Cohort: c.Cohort, Start: c.Start, Period: k,
				Size: c.Size, Retained: n, Share: c.Share[k],
			})
		}
	}
	return rows
}

// retentionCalendar maps instants to period ordinals and back. Ordinals are
// days since 1970-01-01, weeks since the week holding it, or months since
// year 0, all counted on the civil calendar of the zone.
type retentionCalendar struct {
	period RetentionPeriod
	loc    *time.Location
	ws     int64 // weekday weeks start on, 0 = Sunday
}

func newRetentionCalendar(o RetentionOptions) retentionCalendar {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	return retentionCalendar{period: o.Period, loc: loc, ws: int64(o.WeekStart.Weekday())}
}

func retentionFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civilOrdinal is the ordinal of the period holding civil date y-m-d.
func (c retentionCalendar) civilOrdinal(y int, m time.Month, d int) int64 {
	if c.period == PeriodMonth {
		return int64(y)*12 + int64(m) - 1
	}
	days := retentionFloorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
	if c.period == PeriodWeek {
		// 1970-01-01 was a Thursday (weekday 4).
		return retentionFloorDiv(days+4-c.ws, 7)
	}
	return days
}

// firstDay returns the civil date of the first day of period o.
func (c retentionCalendar) firstDay(o int64) (int, time.Month, int) {
	switch c.period {
	case PeriodMonth:
		y := retentionFloorDiv(o, 12)
		return int(y), time.Month(o-y*12) + 1, 1
	case PeriodWeek:
		return 1970, time.January, 1 + int(o*7-4+c.ws)
	}
	return 1970, time.January, 1 + int(o)
}

// start returns B(o), the first instant of period o.
func (c retentionCalendar) start(o int64) time.Time {
	y, m, d := c.firstDay(o)
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

// label returns the first day of period o as "2006-01-02".
func (c retentionCalendar) label(o int64) string {
	y, m, d := c.firstDay(o)
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// startMicros is B(o) in µs, saturated to the int64 range (ok false then).
func (c retentionCalendar) startMicros(o int64) (us int64, ok bool) {
	s := c.start(o).Unix()
	switch {
	case s > math.MaxInt64/1_000_000-1:
		return math.MaxInt64, false
	case s < math.MinInt64/1_000_000+1:
		return math.MinInt64, false
	}
	return s * 1e6, true
}

// ordinal returns the o with B(o) <= us < B(o+1), from the local date and a
// correction for zones where local midnight does not exist.
func (c retentionCalendar) ordinal(us int64) int64 {
	y, m, d := time.UnixMicro(us).In(c.loc).Date()
	o := c.civilOrdinal(y, m, d)
	for i := 0; i < 3; i++ {
		if s, _ := c.startMicros(o); us < s {
			o--
		} else if s, _ := c.startMicros(o + 1); us >= s {
			o++
		} else {
			break
		}
	}
	return o
}

// PeriodStart returns the first instant, in the zone of o, of the period
// holding t. o.Period must be valid (it panics otherwise).
func PeriodStart(t time.Time, o RetentionOptions) time.Time {
	mustRetentionPeriod(o.Period)
	c := newRetentionCalendar(o)
	return c.start(c.ordinal(t.UnixMicro()))
}

// PeriodIndex returns how many periods after the period holding cohortStart
// the period holding t is (negative if before). o.Period must be valid.
func PeriodIndex(cohortStart, t time.Time, o RetentionOptions) int {
	mustRetentionPeriod(o.Period)
	c := newRetentionCalendar(o)
	return int(c.ordinal(t.UnixMicro()) - c.ordinal(cohortStart.UnixMicro()))
}

func mustRetentionPeriod(p RetentionPeriod) {
	if p < PeriodDay || p > PeriodMonth {
		panic(fmt.Sprintf("analytics: invalid retention period %d", int(p)))
	}
}

// retentionMaxCached bounds the period-boundary cache (8 MiB); periods outside
// it are computed with time.Date on every use. A variable for tests.
var retentionMaxCached int64 = 1 << 20

type retentionKey struct {
	ord   int64
	group int32
}

type retentionCell struct {
	ord      int64
	group    int32
	size     int64
	retained []int64
}

type retentionAnchor struct {
	at   int64 // µs of the anchoring start event
	ord  int64
	cell int32
	bd   *string
}

// Retention accumulates a retention matrix entity by entity. It is not safe
// for concurrent use; shard entities over several Retention values if needed.
type Retention struct {
	opts RetentionOptions
	cal  retentionCalendar
	n    int64

	// bounds[i] = B(lo+i) in µs, strictly increasing: the period boundary
	// cache, extended on demand, so that Add needs no time.Date per event.
	lo     int64
	bounds []int64

	cells    []retentionCell
	cellIdx  map[retentionKey]int32
	lastKey  retentionKey
	lastCell int32

	groups    map[string]int32
	groupVals []*string
	nullGroup int32

	anchors []retentionAnchor // scratch
	marks   []uint64          // scratch: per anchor, a bitset of retained periods
}

// NewRetention returns an empty evaluator for o.
func NewRetention(o RetentionOptions) (*Retention, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Retention{
		opts:      o,
		cal:       newRetentionCalendar(o),
		n:         int64(o.Periods),
		cellIdx:   make(map[retentionKey]int32),
		lastCell:  -1,
		groups:    make(map[string]int32),
		nullGroup: -1,
	}
	r.opts.Location = r.cal.loc
	return r, nil
}

// Add adds one entity's events, sorted by time (unsorted input is handled,
// more slowly). Call it once per entity: calls are not deduplicated. An
// entity without a start event is not counted anywhere.
func (r *Retention) Add(entity string, evs []RetentionEvent) {
	_ = entity // identity is the caller's concern; kept for the API and debugging
	anchors := r.anchors[:0]
	lastRet, hasRet := int64(math.MinInt64), false
	hint := -1
	if !r.opts.AnyStart {
		first := -1
		for i := range evs {
			e := &evs[i]
			if e.Start && (first < 0 || e.Micros < evs[first].Micros) {
				first = i
			}
			if e.Return && (!hasRet || e.Micros > lastRet) {
				lastRet, hasRet = e.Micros, true
			}
		}
		if first < 0 {
			return
		}
		e := &evs[first]
		anchors = append(anchors, retentionAnchor{at: e.Micros, ord: r.ordinal(e.Micros, &hint), bd: e.Breakdown})
	} else {
		sorted := true
		for i := range evs {
			e := &evs[i]
			if e.Start {
				if n := len(anchors); n > 0 && e.Micros < anchors[n-1].at {
					sorted = false
				}
				anchors = append(anchors, retentionAnchor{at: e.Micros, bd: e.Breakdown})
			}
			if e.Return && (!hasRet || e.Micros > lastRet) {
				lastRet, hasRet = e.Micros, true
			}
		}
		if len(anchors) == 0 {
			return
		}
		if !sorted {
			slices.SortStableFunc(anchors, func(a, b retentionAnchor) int {
				switch {
				case a.at < b.at:
					return -1
				case a.at > b.at:
					return 1
				}
				return 0
			})
		}
		// Ordinals are monotone in time: keep the first anchor of each period.
		j := 0
		for i := range anchors {
			anchors[i].ord = r.ordinal(anchors[i].at, &hint)
			if j > 0 && anchors[j-1].ord == anchors[i].ord {
				continue
			}
			anchors[j] = anchors[i]
			j++
		}
		anchors = anchors[:j]
	}
	r.anchors = anchors

	for i := range anchors {
		a := &anchors[i]
		r.cover(a.ord, a.ord+r.n)
		a.cell = r.cell(a.ord, r.group(a.bd))
		r.cells[a.cell].size++
	}
	if !hasRet || lastRet < anchors[0].at {
		return
	}

	if r.opts.Unbounded {
		// Only the last return matters: it lies in the latest period.
		q := r.ordinal(lastRet, &hint)
		for i := range anchors {
			a := &anchors[i]
			if lastRet < a.at {
				break
			}
			k := min(q-a.ord, r.n-1)
			ret := r.cells[a.cell].retained[:k+1]
			for j := range ret {
				ret[j]++
			}
		}
		return
	}

	words := int((r.n + 63) / 64)
	need := len(anchors) * words
	if cap(r.marks) < need {
		r.marks = make([]uint64, need)
	}
	marks := r.marks[:need]
	clear(marks)
	// Returns outside [first anchor, end of the last anchor's window) count
	// for nothing; skip them before looking up their period.
	minAt, end := anchors[0].at, r.boundary(anchors[len(anchors)-1].ord+r.n)
	hint = -1
	for i := range evs {
		e := &evs[i]
		if !e.Return || e.Micros < minAt || e.Micros >= end {
			continue
		}
		q := r.ordinal(e.Micros, &hint)
		for ai := range anchors {
			a := &anchors[ai]
			if a.ord > q {
				break
			}
			k := q - a.ord
			if k >= r.n || e.Micros < a.at {
				continue
			}
			w, bit := ai*words+int(k>>6), uint64(1)<<(k&63)
			if marks[w]&bit == 0 {
				marks[w] |= bit
				r.cells[a.cell].retained[k]++
			}
		}
	}
}

// ordinal returns the period ordinal of us. *hint is an index into bounds
// that is tried first and updated; a stale hint only costs time.
func (r *Retention) ordinal(us int64, hint *int) int64 {
	b := r.bounds
	if i := *hint; i >= 0 && i < len(b)-1 && us >= b[i] {
		for lim := i + 8; i < len(b)-1 && i < lim; i++ {
			if us < b[i+1] {
				*hint = i
				return r.lo + int64(i)
			}
		}
	}
	if n := len(b); n >= 2 && us >= b[0] && us < b[n-1] {
		// Largest i with b[i] <= us.
		i, j := 0, n-1
		for j-i > 1 {
			h := int(uint(i+j) >> 1)
			if b[h] <= us {
				i = h
			} else {
				j = h
			}
		}
		*hint = i
		return r.lo + int64(i)
	}
	o := r.cal.ordinal(us)
	if r.cover(o, o) {
		*hint = int(o - r.lo)
	}
	return o
}

// boundary returns B(o) in µs, from the cache if it holds it.
func (r *Retention) boundary(o int64) int64 {
	if i := o - r.lo; i >= 0 && i < int64(len(r.bounds)) {
		return r.bounds[i]
	}
	us, _ := r.cal.startMicros(o)
	return us
}

// cover extends the boundary cache to hold periods o1..o2 (B(o1)..B(o2+1)),
// unless that would make it larger than retentionMaxCached or reach beyond
// the µs range; it reports whether the periods are cached.
func (r *Retention) cover(o1, o2 int64) bool {
	hi := r.lo + int64(len(r.bounds)) - 1 // last ordinal with a boundary
	if len(r.bounds) > 0 && o1 >= r.lo && o2+1 <= hi {
		return true
	}
	newLo, newHi := o1, o2+1
	if len(r.bounds) > 0 {
		newLo, newHi = min(newLo, r.lo), max(newHi, hi)
	}
	if newHi-newLo+1 > retentionMaxCached {
		return false
	}
	if _, ok := r.cal.startMicros(newLo); !ok {
		return false
	}
	if _, ok := r.cal.startMicros(newHi); !ok {
		return false
	}
	if len(r.bounds) == 0 {
		r.lo, hi = newLo, newLo-1
	}
	if newLo < r.lo {
		nb := make([]int64, 0, int(newHi-newLo+1)+len(r.bounds)/2)
		for o := newLo; o < r.lo; o++ {
			us, _ := r.cal.startMicros(o)
			nb = append(nb, us)
		}
		r.bounds = append(nb, r.bounds...)
		r.lo = newLo
	}
	for o := hi + 1; o <= newHi; o++ {
		us, _ := r.cal.startMicros(o)
		r.bounds = append(r.bounds, us)
	}
	return true
}

// Merge adds other's entities to r; both must have the same options and
// no entity may have been added to both.
func (r *Retention) Merge(other *Retention) {
	for i := range other.cells {
		c := &other.cells[i]
		g := int32(0)
		if r.opts.Breakdown {
			g = r.group(other.groupVals[c.group])
		}
		dst := &r.cells[r.cell(c.ord, g)]
		dst.size += c.size
		for k, v := range c.retained {
			dst.retained[k] += v
		}
	}
}

func (r *Retention) group(v *string) int32 {
	if !r.opts.Breakdown {
		return 0
	}
	if v == nil {
		if r.nullGroup < 0 {
			r.nullGroup = int32(len(r.groupVals))
			r.groupVals = append(r.groupVals, nil)
		}
		return r.nullGroup
	}
	if g, ok := r.groups[*v]; ok {
		return g
	}
	g, s := int32(len(r.groupVals)), *v
	r.groups[s] = g
	r.groupVals = append(r.groupVals, &s)
	return g
}

func (r *Retention) cell(ord int64, group int32) int32 {
	k := retentionKey{ord, group}
	if r.lastCell >= 0 && k == r.lastKey {
		return r.lastCell
	}
	c, ok := r.cellIdx[k]
	if !ok {
		c = int32(len(r.cells))
		r.cells = append(r.cells, retentionCell{ord: ord, group: group, retained: make([]int64, r.n)})
		r.cellIdx[k] = c
	}
	r.lastKey, r.lastCell = k, c
	return c
}

// Result returns the matrices accumulated so far. It may be called again
// after more Adds.
func (r *Retention) Result() RetentionResult {
	res := RetentionResult{Periods: int(r.n)}
	overall := make(map[int64]*retentionCell)
	perGroup := make([][]*retentionCell, len(r.groupVals))
	for i := range r.cells {
		c := &r.cells[i]
		t := overall[c.ord]
		if t == nil {
			t = &retentionCell{ord: c.ord, retained: make([]int64, r.n)}
			overall[c.ord] = t
		}
		t.size += c.size
		for k, v := range c.retained {
			t.retained[k] += v
		}
		if r.opts.Breakdown {
			perGroup[c.group] = append(perGroup[c.group], c)
		}
	}
	all := make([]*retentionCell, 0, len(overall))
	for _, c := range overall {
		all = append(all, c)
	}
	res.Cohorts = r.cohorts(all)
	if !r.opts.Breakdown {
		return res
	}
	order := make([]int32, len(r.groupVals))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		va, vb := r.groupVals[a], r.groupVals[b]
		switch {
		case va == nil && vb == nil:
			return 0
		case va == nil:
			return -1
		case vb == nil:
			return 1
		}
		return strings.Compare(*va, *vb)
	})
	res.Breakdown = make([]RetentionBreakdown, 0, len(order))
	for _, g := range order {
		var v *string
		if p := r.groupVals[g]; p != nil {
			s := *p
			v = &s
		}
		res.Breakdown = append(res.Breakdown, RetentionBreakdown{Value: v, Cohorts: r.cohorts(perGroup[g])})
	}
	return res
}

func (r *Retention) cohorts(cells []*retentionCell) []Cohort {
	slices.SortFunc(cells, func(a, b *retentionCell) int {
		switch {
		case a.ord < b.ord:
			return -1
		case a.ord > b.ord:
			return 1
		}
		return 0
	})
	out := make([]Cohort, len(cells))
	for i, c := range cells {
		share := make([]float64, len(c.retained))
		for k, v := range c.retained {
			share[k] = float64(v) / float64(c.size)
		}
		out[i] = Cohort{
			Cohort:   r.cal.label(c.ord),
			Start:    r.cal.start(c.ord),
			Size:     c.size,
			Retained: slices.Clone(c.retained),
			Share:    share,
		}
	}
	return out
}

// RetentionConds is ClickHouse's retention(cond1, cond2, …) aggregated over
// entities: for each entity, r[0] = cond1 held for some event and, for i ≥ 1,
// r[i] = cond1 held for some event and cond(i+1) held for some (possibly
// other) event; Counts sums r over entities. Like ClickHouse, it does not
// look at event order. It is not safe for concurrent use.
type RetentionConds struct {
	counts []int64
}

// NewRetentionConds returns an aggregate over n ≥ 1 conditions.
func NewRetentionConds(n int) *RetentionConds {
	if n < 1 {
		panic("analytics: NewRetentionConds needs at least one condition")
	}
	return &RetentionConds{counts: make([]int64, n)}
}

// Add adds one entity: conds[i] says whether any of its events satisfied
// condition i+1. len(conds) must be n.
func (c *RetentionConds) Add(conds []bool) {
	if len(conds) != len(c.counts) {
		panic(fmt.Sprintf("analytics: RetentionConds.Add: %d conditions, want %d", len(conds), len(c.counts)))
	}
	if !conds[0] {
		return
	}
	c.counts[0]++
	for i := 1; i < len(conds); i++ {
		if conds[i] {
			c.counts[i]++
		}
	}
}

// Counts returns, per position, the number of entities whose r[i] is 1.
func (c *RetentionConds) Counts() []int64 { return slices.Clone(c.counts) }
