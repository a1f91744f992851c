package analytics

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/allsource/allsource/warehouse"
)

// The in-memory feed. Funnels and retention look at each key's events in
// time order. Sorting millions of rows in the engine and scanning them one
// value at a time costs more than the evaluation itself, so the engine is
// asked for the relevant events unsorted, as Arrow batches (feedColumns),
// and this file groups them: rows go to feedParts partitions by the top
// bits of their key hash, each partition is sorted by (key hash, time,
// seq) and walked key by key, partitions in parallel, each worker with its
// own evaluator; the evaluators are merged at the end.
//
// Keys are grouped by a 64-bit hash; a second, independent hash of the
// key must agree within a group, so two keys sharing the first hash are
// detected (errHashCollision) and the question is asked again by the
// sorted stream over the key text. A question that would hold more than
// maxFeedRows events in memory (errFeedTooLarge) also takes the sorted
// stream, which the engine can spill to disk.

const (
	feedPartBits = 6
	feedParts    = 1 << feedPartBits
)

// maxFeedRows bounds the events one question holds in memory (about 48
// bytes each, so 16M rows are some 770 MiB).
var maxFeedRows = 16 << 20

var errFeedTooLarge = errors.New("analytics: too many events for the in-memory feed")

// feedColumns is the select list shape a feed statement returns, in this
// order: g1 (UBIGINT, the key hash), g2 (UBIGINT, an independent hash),
// us (BIGINT, µs), seq (BIGINT), bits (UBIGINT, the question's flags),
// flag (BOOLEAN), bd (VARCHAR, the breakdown value or NULL).
func feedColumns(key, us, bits, flag, bd string) string {
	return fmt.Sprintf("hash(%s) AS g1, %s AS g2, %s AS us, e.seq::BIGINT AS seq, %s AS bits, %s AS flag, %s AS bd",
		key, secondHash(key), us, bits, flag, bd)
}

// secondHash is the SQL of a key hash independent of hash(key): the
// engine's hash of several values combines their hashes, so any
// hash(key, …) would collide whenever hash(key) does; hashing other bytes
// does not.
func secondHash(key string) string { return "hash(" + key + "::VARCHAR || '|')" }

// feedRow is one event of the feed.
type feedRow struct {
	g1, g2  uint64
	us, seq int64
	bits    uint64
	bd      int32 // index into feed.dict; -1 is NULL
	flag    bool
}

// feedBlock is how many rows a partition grows by at a time: blocks, not
// a doubling slice, so loading allocates about what it keeps (garbage
// makes the collector walk the whole server's heap again).
const feedBlock = 8192

// feed holds a question's events, partitioned by key hash: parts[w][p]
// is partition p as loader w filled it, in blocks of feedBlock rows.
type feed struct {
	parts [][feedParts][][]feedRow
	rows  atomic.Int64

	mu   sync.Mutex
	dict []string // breakdown values
	ids  map[string]int32
}

// loadFeed runs q (shaped by feedColumns) and partitions its rows, the
// engine's batches converted by feedWorkers goroutines. keep drops rows
// the question cannot use (nil keeps all).
func loadFeed(ctx context.Context, wh *warehouse.Warehouse, q string, keep func(bits uint64, flag bool) bool) (*feed, error) {
	f := &feed{ids: map[string]int32{}}
	workers := feedWorkers()
	f.parts = make([][feedParts][][]feedRow, workers)
	batches := make(chan arrow.RecordBatch, 2*workers)
	var failed atomic.Pointer[error] // a loader's first error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int32{}
			for rec := range batches {
				if failed.Load() == nil {
					if err := f.add(rec, &f.parts[w], local, keep); err != nil {
						failed.CompareAndSwap(nil, &err)
					}
				}
				rec.Release()
			}
		}()
	}
	err := wh.Batches(ctx, q, func(rec arrow.RecordBatch) error {
		if e := failed.Load(); e != nil {
			return *e
		}
		if f.rows.Add(rec.NumRows()) > int64(maxFeedRows) {
			return errFeedTooLarge
		}
		rec.Retain()
		batches <- rec
		return nil
	})
	close(batches)
	wg.Wait()
	if e := failed.Load(); e != nil && err == nil {
		err = *e
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// add converts one batch into rows of parts. local caches breakdown
// values' ids for one loader.
func (f *feed) add(rec arrow.RecordBatch, parts *[feedParts][][]feedRow, local map[string]int32, keep func(uint64, bool) bool) error {
	if rec.NumCols() != 7 {
		return fmt.Errorf("analytics: feed statement returned %d columns, want 7", rec.NumCols())
	}
	g1, ok1 := rec.Column(0).(*array.Uint64)
	g2, ok2 := rec.Column(1).(*array.Uint64)
	us, ok3 := rec.Column(2).(*array.Int64)
	seq, ok4 := rec.Column(3).(*array.Int64)
	bits, ok5 := rec.Column(4).(*array.Uint64)
	flag, ok6 := rec.Column(5).(*array.Boolean)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return fmt.Errorf("analytics: feed statement has unexpected column types %v", rec.Schema())
	}
	bd := rec.Column(6)
	n := int(rec.NumRows())
	g1v, g2v, usv, seqv, bitsv := g1.Uint64Values(), g2.Uint64Values(), us.Int64Values(), seq.Int64Values(), bits.Uint64Values()
	noBd := bd.NullN() == n
	for i := 0; i < n; i++ {
		fl := flag.IsValid(i) && flag.Value(i)
		if keep != nil && !keep(bitsv[i], fl) {
			continue
		}
		r := feedRow{g1: g1v[i], g2: g2v[i], us: usv[i], seq: seqv[i], bits: bitsv[i], flag: fl, bd: -1}
		if !noBd && bd.IsValid(i) {
			s := bd.ValueStr(i) // may alias the batch's memory
			id, ok := local[s]
			if !ok {
				s = strings.Clone(s)
				id = f.intern(s)
				local[s] = id
			}
			r.bd = id
		}
		blocks := &parts[r.g1>>(64-feedPartBits)]
		last := len(*blocks) - 1
		if last < 0 || len((*blocks)[last]) == feedBlock {
			*blocks = append(*blocks, make([]feedRow, 0, feedBlock))
			last++
		}
		(*blocks)[last] = append((*blocks)[last], r)
	}
	return nil
}

// intern returns the id of breakdown value s.
func (f *feed) intern(s string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ids[s]
	if !ok {
		id = int32(len(f.dict))
		f.ids[s] = id
		f.dict = append(f.dict, s)
	}
	return id
}

// breakdown is the dictionary entry of a row's breakdown value, or nil.
func (f *feed) breakdown(id int32) *string {
	if id < 0 {
		return nil
	}
	return &f.dict[id]
}

// each sorts every partition and calls visit with each key's rows in
// (time, seq) order, on feedWorkers goroutines; worker tells visit which
// one runs it (0 ≤ worker < feedWorkers()). It returns errHashCollision
// when two keys share the first hash, or ctx's error. It consumes the
// feed: each is called once.
func (f *feed) each(ctx context.Context, visit func(worker int, rows []feedRow)) error {
	var next atomic.Int32
	var collided atomic.Bool
	var wg sync.WaitGroup
	for w := range feedWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch sortScratch
			for {
				p := int(next.Add(1)) - 1
				if p >= feedParts || collided.Load() || ctx.Err() != nil {
					return
				}
				rows := sortPart(f.part(p, &scratch), &scratch)
				for i := 0; i < len(rows); {
					j := i + 1
					for j < len(rows) && rows[j].g1 == rows[i].g1 {
						if rows[j].g2 != rows[i].g2 {
							collided.Store(true)
							return
						}
						j++
					}
					visit(w, rows[i:j])
					i = j
				}
			}
		}()
	}
	wg.Wait()
	if collided.Load() {
		return errHashCollision
	}
	return ctx.Err()
}

// sortScratch is a worker's reusable sort memory.
type sortScratch struct {
	keys []uint64
	rows []feedRow
	all  []feedRow
}

// part returns partition p whole, copied into scratch; the loaders'
// blocks are let go.
func (f *feed) part(p int, sc *sortScratch) []feedRow {
	all := sc.all[:0]
	for w := range f.parts {
		for _, b := range f.parts[w][p] {
			all = append(all, b...)
		}
		f.parts[w][p] = nil
	}
	sc.all = all
	return all
}

// sortPart returns the partition's rows sorted by (g1, us, seq), in
// scratch memory (valid until the next call) or, for one row, rows itself. Moving 48-byte rows through a comparison
// sort costs several times more than the evaluation, so it sorts packed
// integers instead: the key hash's bits below the partition bits, cut to
// leave room for the row index, above the index. Rows whose cut hashes
// tie (a key's events, and rarely two keys) come out adjacent, in input
// order; each such run is then ordered by (g1, us, seq) by insertion,
// which is cheap for a key's few events (a long run is sorted instead).
func sortPart(rows []feedRow, sc *sortScratch) []feedRow {
	if len(rows) < 2 {
		return rows
	}
	idxBits := bits.Len(uint(len(rows) - 1))
	hashBits := 64 - feedPartBits - idxBits
	keys := sc.keys[:0]
	for i := range rows {
		h := rows[i].g1 << feedPartBits >> (64 - hashBits)
		keys = append(keys, h<<idxBits|uint64(i))
	}
	slices.Sort(keys)
	out := sc.rows[:0]
	mask := uint64(1)<<idxBits - 1
	for _, k := range keys {
		out = append(out, rows[k&mask])
	}
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j]>>idxBits == keys[i]>>idxBits {
			j++
		}
		switch {
		case j-i > 32: // a key with many events
			slices.SortFunc(out[i:j], func(a, b feedRow) int {
				if rowLess(&a, &b) {
					return -1
				}
				if rowLess(&b, &a) {
					return 1
				}
				return 0
			})
		case j-i > 1:
			insertionSortRows(out[i:j])
		}
		i = j
	}
	sc.keys, sc.rows = keys, out
	return out
}

func insertionSortRows(r []feedRow) {
	for i := 1; i < len(r); i++ {
		x := r[i]
		j := i
		for j > 0 && rowLess(&x, &r[j-1]) {
			r[j] = r[j-1]
			j--
		}
		r[j] = x
	}
}

func rowLess(a, b *feedRow) bool {
	if a.g1 != b.g1 {
		return a.g1 < b.g1
	}
	if a.us != b.us {
		return a.us < b.us
	}
	return a.seq < b.seq
}

// feedWorkers is how many goroutines evaluate a feed.
func feedWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }
