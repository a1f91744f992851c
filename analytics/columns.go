package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// The column path. A question whose events are chosen by event type (the
// entity as the unit, no breakdown) is answered from the warehouse's
// event columns (see
// warehouse.ScanColumns) instead of a Parquet scan by the engine: each
// worker takes whole partitions of the entity hash, gathers their events
// of the question's types, groups them by entity with a hash table and a
// counting pass (no sort: the files' segments come in time order, so a
// key's events are already ordered but where two files of one day
// overlap, which a check finds and an insertion sort mends), and runs its
// own evaluator; the evaluators are merged at the end. The rows it gives
// the evaluators are the feed's, so answers are the same by construction
// and the tests compare the two paths on every question shape.
//
// Steps and exclusions with a condition on the payload (or any field)
// are answered too: one engine query first finds the events each
// condition picks, as bitmaps over seq (bit_or per 64 seqs: at most
// 1.2 MB per condition at 10 M events, see seqWords), reading the
// payloads of the conditions' event types only; the scan then gives an
// event a conditioned step's bit when its seq is in that step's bitmap.
// The scan keeps to the events the query could see (seq up to the
// watermark taken before it), so both read the same events.

// maxPartRows bounds the events one worker holds for one partition (about
// 48 bytes each: 4 M rows are some 190 MiB); a question with more takes
// the engine's sorted stream.
var maxPartRows = 4 << 20

// typeBits is a question's event types: a type's step bits and exclusion
// flag; a type with neither is not read.
type typeBits func(eventType string) (bits uint64, flag bool)

// columnsQuestion answers q from the event columns; ok is false when they
// cannot (a read restriction, columns being built), and the caller takes
// the engine's path.
func columnsQuestion[E any, A evaluator[E, R], R any](ctx context.Context, wh *warehouse.Warehouse, q question[E, A, R]) (res R, ok bool, err error) {
	lo, hi := microsRange(q.from, q.to)
	var sets []seqSet
	upTo := uint64(math.MaxUint64)
	if len(q.conds) > 0 {
		if r := allsource.ReadRestrictionFrom(ctx); len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
			return res, false, nil // the engine applies the restriction to the conditions too
		}
		if len(q.conds) > 64 {
			return res, false, nil // a type entry holds 64 condition bits
		}
		upTo = wh.DataWatermark()
		if sets, err = conditionSets(ctx, wh, q.conds, upTo, q.from, q.to); err != nil {
			return res, false, err
		}
		afterConditionSets()
	}
	scan, ok, err := wh.ScanColumns(ctx)
	if !ok || err != nil {
		return res, false, err
	}
	defer scan.Close()
	evals := make([]A, feedWorkers())
	for i := range evals {
		evals[i] = q.new()
	}
	var next atomic.Int32
	var collided, tooLarge atomic.Bool
	var wg sync.WaitGroup
	empty := &feed{}
	for w := range evals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc groupScratch
			var segs []warehouse.ColumnSegment
			var buf []E
			tables := map[*string][]typeEntry{}
			for {
				p := int(next.Add(1)) - 1
				if p >= warehouse.ColumnParts || collided.Load() || tooLarge.Load() || ctx.Err() != nil {
					return
				}
				segs = scan.Segments(p, segs[:0])
				rows := sc.rows[:0]
				for _, s := range segs {
					rows = gatherSegment(rows, s, tableFor(tables, s.Types, q.typeBits, q.conds), lo, hi, sets, upTo)
					if len(rows) > maxPartRows {
						// The engine's sorted stream can spill to disk.
						tooLarge.Store(true)
						return
					}
				}
				sc.rows = rows
				ok := sc.group(rows, func(run []feedRow) {
					b := buf[:0]
					for _, r := range run {
						b = append(b, q.fromFeed(empty, r))
					}
					evals[w].Add("", b)
					buf = b
				})
				if !ok {
					collided.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if collided.Load() {
		return res, false, errHashCollision
	}
	if tooLarge.Load() {
		return res, false, errFeedTooLarge
	}
	if err := ctx.Err(); err != nil {
		return res, false, err
	}
	for _, e := range evals[1:] {
		if err := q.merge(evals[0], e); err != nil {
			return res, false, err
		}
	}
	return evals[0].Result(), true, nil
}

// microsRange is [from, to) as the first and last whole microsecond in
// it (the stored times' precision); nil ends are open.
func microsRange(from, to *time.Time) (lo, hi int64) {
	lo, hi = -1<<63, 1<<63-1
	if from != nil {
		lo = from.UnixMicro()
		if from.Nanosecond()%1000 != 0 {
			lo++
		}
	}
	if to != nil {
		hi = to.UnixMicro()
		if to.Nanosecond()%1000 == 0 {
			hi--
		}
	}
	return lo, hi
}

type typeEntry struct {
	bits  uint64
	flag  bool
	conds uint64 // the conditions (by index) on events of the type
}

// tableFor is the question's bits for each of a type list's entries,
// computed once per list (files share none, a scan's hot segments share
// one).
func tableFor(tables map[*string][]typeEntry, types []string, tb typeBits, conds []condition) []typeEntry {
	if len(types) == 0 {
		return nil
	}
	k := unsafe.SliceData(types)
	t, ok := tables[k]
	if !ok {
		t = make([]typeEntry, len(types))
		for i, name := range types {
			t[i].bits, t[i].flag = tb(name)
			for j, c := range conds {
				if c.eventType == name {
					t[i].conds |= 1 << j
				}
			}
		}
		tables[k] = t
	}
	return t
}

// gatherSegment appends the segment's events of the question's types
// within [lo, hi] µs and up to seq upTo; an event of a conditioned type
// gets the bits of the conditions whose sets hold its seq.
func gatherSegment(dst []feedRow, s warehouse.ColumnSegment, table []typeEntry, lo, hi int64, sets []seqSet, upTo uint64) []feedRow {
	for i, t := range s.Type {
		e := table[t]
		if e.bits == 0 && !e.flag && e.conds == 0 {
			continue
		}
		us := s.Micros[i]
		if us < lo || us > hi || s.Seq[i] > upTo {
			continue
		}
		b, f := e.bits, e.flag
		for m := e.conds; m != 0; m &= m - 1 {
			if c := &sets[bits.TrailingZeros64(m)]; c.has(s.Seq[i]) {
				b |= c.bits
				f = f || c.flag
			}
		}
		if b == 0 && !f {
			continue // its conditions failed
		}
		dst = append(dst, feedRow{g1: s.G1[i], g2: uint64(s.G2[i]), us: us, seq: int64(s.Seq[i]), bits: b, flag: f, bd: -1})
	}
	return dst
}

// afterConditionSets runs between the condition query and the scan
// (tests append events there).
var afterConditionSets = func() {}

// condition is a step's or an exclusion's condition: the SQL over events
// AS e (event type included) and the bits or flag an event it picks gets.
type condition struct {
	eventType string
	sql       string
	bits      uint64
	flag      bool
}

// seqSet is the seqs a condition picks: a word of 64 bits per row of the
// condition query's answer (seq/64 = its word's number), found through
// the words index all sets of a question share.
type seqSet struct {
	idx   *seqWords
	words []uint64
	bits  uint64
	flag  bool
}

func (c *seqSet) has(seq uint64) bool {
	r := c.idx.row(seq / 64)
	return r >= 0 && c.words[r]&(1<<(seq%64)) != 0
}

// seqWords finds a word number's row: through a table over the range of
// numbers when they lie close together, by binary search over them when
// they are spread out (a tenant's events among many others'), so memory
// follows the rows the query returned, not the range of seqs.
type seqWords struct {
	keys  []uint64 // word numbers, ascending
	base  uint64
	dense []int32 // row+1 per number from base; nil when spread out
}

func (x *seqWords) index() {
	if n := len(x.keys); n > 0 && x.keys[n-1]-x.keys[0] < uint64(4*n+64) {
		x.base = x.keys[0]
		x.dense = make([]int32, x.keys[n-1]-x.base+1)
		for r, k := range x.keys {
			x.dense[k-x.base] = int32(r + 1)
		}
	}
}

func (x *seqWords) row(w uint64) int {
	if x.dense != nil {
		if w-x.base < uint64(len(x.dense)) {
			return int(x.dense[w-x.base]) - 1
		}
		return -1
	}
	if r, ok := slices.BinarySearch(x.keys, w); ok {
		return r
	}
	return -1
}

// conditionSets runs one engine query for the events each condition
// picks among those up to seq upTo in [from, to).
func conditionSets(ctx context.Context, wh *warehouse.Warehouse, conds []condition, upTo uint64, from, to *time.Time) ([]seqSet, error) {
	var cols, either []string
	for _, c := range conds {
		cols = append(cols, "bit_or(CASE WHEN "+c.sql+" THEN CAST(1 AS UBIGINT) << CAST(e.seq % 64 AS INTEGER) ELSE CAST(0 AS UBIGINT) END)")
		either = append(either, "("+c.sql+")")
	}
	where := fmt.Sprintf("e.seq <= %d AND (%s)", upTo, strings.Join(either, " OR "))
	if r := timeRange(from, to); r != "" {
		where += " AND " + r
	}
	rows, err := wh.QueryInternal(ctx, "SELECT e.seq // 64, "+strings.Join(cols, ", ")+" FROM events AS e WHERE "+where+" GROUP BY 1 ORDER BY 1")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := &seqWords{}
	sets := make([]seqSet, len(conds))
	for i, c := range conds {
		sets[i] = seqSet{idx: idx, bits: c.bits, flag: c.flag}
	}
	vals := make([]uint64, len(conds))
	ptrs := make([]any, len(conds)+1)
	var w int64
	ptrs[0] = &w
	for i := range vals {
		ptrs[i+1] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		idx.keys = append(idx.keys, uint64(w))
		for i := range sets {
			sets[i].words = append(sets[i].words, vals[i])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	idx.index()
	return sets, nil
}

// groupScratch is a worker's memory for grouping partitions.
type groupScratch struct {
	rows   []feedRow
	out    []feedRow
	slots  []int32  // open addressing: key index + 1, 0 empty
	keys   []uint64 // per key: g1
	g2s    []uint64 // per key: g2
	ends   []int32  // per key: count, then where its run ends
	member []int32  // per row: its key
}

// group calls visit with each key's rows in (time, seq) order, keys in
// order of first appearance. It returns false when two keys share g1 but
// not g2 (a hash collision: the caller asks again by key text).
func (sc *groupScratch) group(rows []feedRow, visit func([]feedRow)) bool {
	if len(rows) == 0 {
		return true
	}
	size := 1024
	for size < len(rows)/2 {
		size <<= 1
	}
	sc.reset(size)
	member := sc.member[:0]
	for i := range rows {
		k, ok := sc.find(rows[i].g1, rows[i].g2)
		if !ok {
			return false
		}
		member = append(member, k)
	}
	sc.member = member
	// Counts to run ends, then a stable scatter from the back.
	ends := sc.ends
	sum := int32(0)
	for k := range ends {
		sum += ends[k]
		ends[k] = sum
	}
	out := slices.Grow(sc.out[:0], len(rows))[:len(rows)]
	for i := len(rows) - 1; i >= 0; i-- {
		k := member[i]
		ends[k]--
		out[ends[k]] = rows[i]
	}
	sc.out = out
	// ends[k] is now where key k's run starts.
	for k := range ends {
		end := int32(len(out))
		if k+1 < len(ends) {
			end = ends[k+1]
		}
		run := out[ends[k]:end]
		if !runOrdered(run) {
			sortRun(run)
		}
		visit(run)
	}
	return true
}

func (sc *groupScratch) reset(size int) {
	if cap(sc.slots) < size {
		sc.slots = make([]int32, size)
	} else {
		sc.slots = sc.slots[:size]
		clear(sc.slots)
	}
	sc.keys, sc.g2s, sc.ends = sc.keys[:0], sc.g2s[:0], sc.ends[:0]
}

// find returns the index of the key with hash g1, adding it if new; false
// when it is there with another g2.
func (sc *groupScratch) find(g1, g2 uint64) (int32, bool) {
	mask := uint64(len(sc.slots) - 1)
	for i := g1 & mask; ; i = (i + 1) & mask {
		s := sc.slots[i]
		if s == 0 {
			k := int32(len(sc.keys))
			sc.keys = append(sc.keys, g1)
			sc.g2s = append(sc.g2s, g2)
			sc.ends = append(sc.ends, 1)
			sc.slots[i] = k + 1
			if len(sc.keys)*2 > len(sc.slots) {
				sc.grow()
			}
			return k, true
		}
		if k := s - 1; sc.keys[k] == g1 {
			sc.ends[k]++
			return k, sc.g2s[k] == g2
		}
	}
}

// grow doubles the table.
func (sc *groupScratch) grow() {
	sc.slots = make([]int32, 2*len(sc.slots))
	mask := uint64(len(sc.slots) - 1)
	for k, g1 := range sc.keys {
		i := g1 & mask
		for sc.slots[i] != 0 {
			i = (i + 1) & mask
		}
		sc.slots[i] = int32(k) + 1
	}
}

func runOrdered(run []feedRow) bool {
	for i := 1; i < len(run); i++ {
		a, b := &run[i-1], &run[i]
		if a.us > b.us || (a.us == b.us && a.seq > b.seq) {
			return false
		}
	}
	return true
}

func sortRun(run []feedRow) {
	if len(run) <= 32 {
		insertionSortRows(run)
		return
	}
	slices.SortFunc(run, func(a, b feedRow) int {
		if c := cmp.Compare(a.us, b.us); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// seriesFromColumns counts events, or distinct entities, per bucket (and
// event type, when the series are grouped by it) from the event columns,
// for events chosen by type alone; ok is false when the question needs the
// engine. An entity's events are all in one partition, so distinct counts
// of the partitions add up.
func seriesFromColumns(ctx context.Context, wh *warehouse.Warehouse, spec SeriesSpec, p *seriesPlan) (map[seriesKey][]SeriesPoint, bool, error) {
	byType := false
	switch spec.GroupBy {
	case "":
	case "event_type", "type":
		byType = true
	default:
		return nil, false, nil
	}
	// Where the engine's buckets and this package's grid are the same
	// (see zoneSafe).
	distinct := spec.Metric == "count_distinct" && keyedByEntity(spec.Field)
	if (spec.Metric != "" && spec.Metric != "count" && !distinct) || strings.TrimSpace(spec.Where) != "" || !zoneSafe(p.iv, p.loc, *spec.From, *spec.To) {
		return nil, false, nil
	}
	grid := SeriesBuckets(*spec.From, *spec.To, p.iv, p.loc)
	if len(grid) == 0 {
		return nil, false, nil
	}
	starts := make([]int64, len(grid)+1)
	for i, b := range grid {
		starts[i] = b.UnixMicro()
	}
	lo, hi := microsRange(spec.From, spec.To)
	starts[len(grid)] = hi + 1
	scan, ok, err := wh.ScanColumns(ctx)
	if !ok || err != nil {
		return nil, false, err
	}
	defer scan.Close()

	// Each worker counts into its own arrays, one per group, indexed by
	// bucket; a type list's entries map to groups once.
	type counts struct {
		names  []string         // group names
		ids    map[string]int32 // name -> group
		counts [][]int64
		over   bool // too many groups or points: the engine's error
		// collided: two entities share the first hash, not the second
		// (the engine counts them apart).
		collided bool
	}
	workers := make([]counts, feedWorkers())
	var next atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &workers[w]
			c.ids = map[string]int32{}
			tables := map[*string][]int32{}
			var segs []warehouse.ColumnSegment
			type bucketEntity struct {
				b, g int32
				g1   uint64
			}
			seen := map[bucketEntity]uint32{} // per partition: its second hash
			group := func(name string) int32 {
				if !byType {
					name = ""
				}
				id, ok := c.ids[name]
				if !ok {
					id = int32(len(c.names))
					if (len(c.names)+1)*len(grid) > maxSeriesPoints || len(c.names) >= maxSeriesGroups {
						c.over = true
						return -1
					}
					c.ids[name] = id
					c.names = append(c.names, name)
					c.counts = append(c.counts, make([]int64, len(grid)))
				}
				return id
			}
			for {
				p := int(next.Add(1)) - 1
				if p >= warehouse.ColumnParts || c.over || c.collided || ctx.Err() != nil {
					return
				}
				clear(seen)
				segs = scan.Segments(p, segs[:0])
				for _, s := range segs {
					k := unsafe.SliceData(s.Types)
					table, ok := tables[k]
					if !ok {
						table = make([]int32, len(s.Types))
						for i, t := range s.Types {
							table[i] = -1
							if spec.EventType == "" || t == spec.EventType {
								table[i] = group(t)
							}
						}
						tables[k] = table
					}
					b := 0
					for i, t := range s.Type {
						g := table[t]
						us := s.Micros[i]
						if g < 0 || us < lo || us > hi {
							continue
						}
						if us < starts[b] || us >= starts[b+1] {
							b = sort.Search(len(grid), func(j int) bool { return starts[j+1] > us })
						}
						if distinct {
							k := bucketEntity{int32(b), g, s.G1[i]}
							if g2, ok := seen[k]; ok {
								if g2 != s.G2[i] {
									c.collided = true
								}
								continue
							}
							seen[k] = s.G2[i]
						}
						c.counts[g][b]++
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	total := map[string][]int64{}
	for _, c := range workers {
		if c.over || c.collided {
			return nil, false, nil
		}
		for i, name := range c.names {
			t := total[name]
			if t == nil {
				t = make([]int64, len(grid))
				total[name] = t
			}
			for b, n := range c.counts[i] {
				t[b] += n
			}
		}
	}
	if len(total) > maxSeriesGroups || len(total)*len(grid) > maxSeriesPoints {
		return nil, false, nil // the engine's path says why
	}
	groups := map[seriesKey][]SeriesPoint{}
	for name, t := range total {
		k := seriesKey{s: name}
		if !byType {
			k = seriesKey{null: true}
		}
		var pts []SeriesPoint
		for b, n := range t {
			if n > 0 {
				v := float64(n)
				pts = append(pts, SeriesPoint{Time: grid[b], Value: &v})
			}
		}
		if pts != nil {
			groups[k] = pts
		}
	}
	return groups, true, nil
}

// zoneSafe reports whether buckets of iv in loc over [from, to] are cut
// the same by the engine and by this package's grid: always in UTC; in a
// zone with clock changes in the range, for fixed intervals dividing an
// hour when every change is a whole number of buckets, and for calendar
// intervals (days and up) when no change comes within an hour of a local
// midnight. Elsewhere the engine's time_bucket and the grid can cut a
// changing hour (or a day that starts late) differently, and the engine
// answers.
func zoneSafe(iv SeriesInterval, loc *time.Location, from, to time.Time) bool {
	if loc.String() == "UTC" {
		return true
	}
	d := iv.fixedSeconds()
	if d > 0 && 3600%d != 0 {
		return false
	}
	t := from.Add(-24 * time.Hour)
	for t.Before(to.Add(24 * time.Hour)) {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() {
			return true // no further change
		}
		_, before := end.Add(-time.Second).In(loc).Zone()
		_, after := end.In(loc).Zone()
		if d > 0 {
			if int64(after-before)%d != 0 {
				return false
			}
		} else {
			for _, at := range []time.Time{end.Add(-time.Second).In(loc), end.In(loc)} {
				if m := at.Hour()*60 + at.Minute(); m < 60 || m >= 23*60 {
					return false
				}
			}
		}
		t = end
	}
	return true
}
