package warehouse

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/google/uuid"

	"github.com/allsource/allsource"
)

// The entity index keeps every flushed event a second time, row-oriented
// and ordered by (tenant, entity, version), in an LSM (pebble) under
// DATA_DIR/index/entities, so that an entity's stream is one ordered
// range read instead of a query planned over every Parquet file that may
// hold the entity (about 0.05 ms per file: 10 ms over 184 daily files).
//
// It is derived data. Each flush adds its generation's events together
// with the flushed seq they reach (one table file ingested), after the manifest
// has recorded the flush; a crash in between, a lost or a damaged index
// is made good at open from the Parquet files (the events past the seq
// the index reached). Readers use it only when it has every flushed event
// of the version they read, and read the hot tier's generations of that
// version for the rest, so read-your-writes holds.
//
// Keys: 'e' tenant 0x00 entity 0x00 version (8 bytes, big-endian); tenant
// names and entity ids hold no 0x00 (ingest refuses control characters).
// Each event's id is kept too, for duplicate detection without reading the
// files at start-up: 'd' tenant 0x00 id (16 bytes) → seq and ingested_at
// (µs) as varints; and each entity's latest version, for ingest's version
// checks: 'v' tenant 0x00 entity → version and its event's seq as varints
// (a small key space that stays in the block cache).
// Values: seq, timestamp and ingested_at (µs) as varints, then id,
// event_type, payload and metadata, each with a varint length. The key
// "m/indexed" holds the flushed seq up to which every event is in.
type entityIndex struct {
	db      *pebble.DB
	opts    *pebble.Options
	dir     string
	indexed atomic.Uint64
	ingests atomic.Uint64 // names the files add ingests
}

var indexedKey = []byte("m/indexed")

func openEntityIndex(dataDir string, cacheBytes int64, compression string) (*entityIndex, error) {
	dir := filepath.Join(dataDir, "index", "entities")
	// Events come in by ingesting table files (see add), so the LSM's own
	// write-ahead log would hold nothing. Reads of recent or popular
	// streams find their blocks decompressed in the cache.
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	// vfs.Default as it is: the disk-health wrapper pebble would add keeps a
	// goroutine when an open fails.
	opts := &pebble.Options{Logger: quietPebble{}, DisableWAL: true, Cache: cache, Comparer: indexComparer, FS: vfs.Default}
	// Bloom filters over (tenant, entity) prefixes: a lookup of an entity
	// the index does not hold (a new one, at ingest) reads no data block.
	// Tables of 32 MiB rather than 2: opening the index reads every
	// table's metadata, so fewer tables keep start-up flat as history
	// grows (451 tables at 10 M events took 6 ms to open).
	// Snappy blocks by default. Uncompressed ones spare a read that misses
	// the cache its decompression and a flush its compression, but at 50 M
	// events made the data dir 1.7x larger and opening the index slower
	// (more tables). Tables keep the compression they were written with.
	comp := pebble.SnappyCompression
	if compression == "none" {
		comp = pebble.NoCompression
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i] = pebble.LevelOptions{FilterPolicy: bloom.FilterPolicy(10), FilterType: pebble.TableFilter, TargetFileSize: 32 << 20, Compression: comp}
	}
	opts = opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("warehouse: open entity index %s: %w", dir, err)
	}
	x := &entityIndex{db: db, opts: opts, dir: dir}
	v, closer, err := db.Get(indexedKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("warehouse: entity index: %w", err)
	default:
		if len(v) == 8 {
			x.indexed.Store(binary.BigEndian.Uint64(v))
		}
		closer.Close()
	}
	return x, nil
}

func (x *entityIndex) close() error { return x.db.Close() }

// prewarm opens every table and reads its filter and index blocks (a
// prefix seek to its first key), so the first reads after a start do not
// pay for them: at 10 M events, 29 tables took under 2 ms and the p99 of
// random entity streams read right after the start fell by a fifth. It
// stops early when stop is closed, and returns how many tables it read.
func (x *entityIndex) prewarm(stop <-chan struct{}) int {
	levels, err := x.db.SSTables()
	if err != nil {
		return 0
	}
	n := 0
	for _, tables := range levels {
		for _, t := range tables {
			select {
			case <-stop:
				return n
			default:
			}
			it, err := x.db.NewIter(nil)
			if err != nil {
				return n
			}
			it.SeekPrefixGE(t.Smallest.UserKey)
			it.Close()
			n++
		}
	}
	return n
}

// indexComparer orders keys bytewise, as the default does, and splits an
// event key into its (tenant, entity) prefix and its version, so the
// filters and prefix seeks work per entity. Its name versions the key
// layout: an index written in another layout (without the split, without
// the id keys) cannot be opened with it, and is rebuilt.
var indexComparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Name = "allsource.entities.v4"
	c.Split = func(k []byte) int {
		if len(k) > 10 && k[0] == 'e' {
			return len(k) - 8
		}
		return len(k)
	}
	return &c
}()

func entityPrefix(tenant, entity string) []byte {
	k := make([]byte, 0, 3+len(tenant)+len(entity)+8)
	k = append(k, 'e')
	k = append(k, tenant...)
	k = append(k, 0)
	k = append(k, entity...)
	return append(k, 0)
}

func entityKey(tenant, entity string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(entityPrefix(tenant, entity), version)
}

func appendIndexValue(b []byte, e *allsource.Event) []byte {
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Timestamp.UnixMicro())
	b = binary.AppendVarint(b, e.IngestedAt.UnixMicro())
	b = append(binary.AppendUvarint(b, uint64(len(e.ID))), e.ID...)
	b = append(binary.AppendUvarint(b, uint64(len(e.EventType))), e.EventType...)
	b = append(binary.AppendUvarint(b, uint64(len(e.Payload))), e.Payload...)
	return append(binary.AppendUvarint(b, uint64(len(e.Metadata))), e.Metadata...)
}

// byteArena copies the variable-length fields of one read's events into a
// few shared allocations instead of four per event. What it hands out is
// never written again; a new chunk is taken when one is full, so earlier
// slices and strings stay as they are.
type byteArena struct{ buf []byte }

func (a *byteArena) bytes(p []byte) []byte {
	if len(p) == 0 {
		return []byte{}
	}
	if len(a.buf)+len(p) > cap(a.buf) {
		// Chunks double from 512 bytes: a short stream takes one or
		// two, a long one few.
		a.buf = make([]byte, 0, max(512, 2*cap(a.buf), 2*len(p)))
	}
	n := len(a.buf)
	a.buf = append(a.buf, p...)
	return a.buf[n:len(a.buf):len(a.buf)] // an append by the caller reallocates
}

func (a *byteArena) string(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	b := a.bytes(p)
	return unsafe.String(&b[0], len(b))
}

func decodeIndexValue(tenant, entity string, version uint64, v []byte, a *byteArena) (EntityEvent, error) {
	e := EntityEvent{Tenant: tenant, EntityID: entity, Version: version}
	bad := func() error {
		return fmt.Errorf("warehouse: entity index: damaged value of %s/%s v%d", tenant, entity, version)
	}
	var n int
	if e.Seq, n = binary.Uvarint(v); n <= 0 {
		return e, bad()
	}
	v = v[n:]
	var us [2]int64
	for i := range us {
		if us[i], n = binary.Varint(v); n <= 0 {
			return e, bad()
		}
		v = v[n:]
	}
	e.Timestamp, e.IngestedAt = time.UnixMicro(us[0]).UTC(), time.UnixMicro(us[1]).UTC()
	var parts [4][]byte
	for i := range parts {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return e, bad()
		}
		parts[i] = v[n : n+int(l)]
		v = v[n+int(l):]
	}
	// The value is the iterator's until it moves: copied out.
	e.ID, e.EventType, e.Payload, e.Metadata = a.string(parts[0]), a.string(parts[1]), a.bytes(parts[2]), a.bytes(parts[3])
	return e, nil
}

// add puts the events flushed after seq from into the index with the
// flushed seq they complete: sorted by key into one table file, which the
// LSM takes in atomically and durably (an ingestion, not a million
// writes through the memtable). An index that does not reach from (a
// batch was lost) stays where it is: readers fall back to the files, and
// the next start-up catches it up.
// The entities' latest versions are taken from evs (a flush's events are
// all of the generation's), or are versions when given.
func (x *entityIndex) add(evs []*allsource.Event, versions []entityVersion, from, indexed uint64) error {
	t, err := x.build(evs, versions, &indexed)
	if err != nil {
		return err
	}
	return x.addTable(t, from, indexed)
}

// addTable has the LSM take in a table build made for the events after
// seq from up to indexed, and removes its file.
func (x *entityIndex) addTable(t indexTable, from, indexed uint64) error {
	if got := x.indexed.Load(); got != from {
		t.discard()
		return fmt.Errorf("warehouse: entity index reaches seq %d, not %d", got, from)
	}
	if err := x.take(t); err != nil {
		return err
	}
	x.indexed.Store(indexed)
	return nil
}

// take has the LSM take in a table build wrote, and removes its file.
func (x *entityIndex) take(t indexTable) error {
	defer t.discard()
	if t.path == "" {
		return nil
	}
	if err := x.db.Ingest([]string{t.path}); err != nil {
		return fmt.Errorf("warehouse: entity index: %w", err)
	}
	return nil
}

// indexTable is a table file build wrote, not yet taken in; path is empty
// when it holds no key.
type indexTable struct{ path string }

// discard removes the file (after Ingest, which links it, or unused).
func (t indexTable) discard() {
	if t.path != "" {
		os.Remove(t.path)
	}
}

// entityVersion is an entity's latest version, and that event's seq.
type entityVersion struct {
	tenant, entity string
	version, seq   uint64
}

// versionKey is the key of an entity's latest version: 'v' tenant 0x00
// entity.
func versionKey(tenant, entity string) []byte {
	k := make([]byte, 0, 2+len(tenant)+len(entity))
	k = append(k, 'v')
	k = append(k, tenant...)
	k = append(k, 0)
	return append(k, entity...)
}

// ingest writes evs and the entities' latest versions, sorted by key,
// into one table file with, when indexed is not nil, the watermark key,
// and has the LSM take it in. A later table's keys replace an earlier
// one's: versions must only move forward from table to table. With
// versions nil, each entity's latest version in evs is written; an empty
// versions writes none.
//
// The keys are not built to be sorted: (tenant, entity, version) and
// (tenant, id) tuples sort as their keys do (0x00, the separator, is the
// smallest byte and in neither name), and the kinds' first bytes order
// them: 'd' ids, 'e' events, 'm' the watermark, 'v' versions.
func (x *entityIndex) ingest(evs []*allsource.Event, versions []entityVersion, indexed *uint64) error {
	t, err := x.build(evs, versions, indexed)
	if err != nil {
		return err
	}
	return x.take(t)
}

// build writes the table file ingest takes in (see ingest); it only reads
// the LSM's options, so it may run while other tables are taken in.
func (x *entityIndex) build(evs []*allsource.Event, versions []entityVersion, indexed *uint64) (indexTable, error) {
	// The sort keys are copied into one array (the events themselves are
	// spread over the heap: comparing through them is mostly cache misses).
	// The entity's first bytes as an integer decide most comparisons.
	type entItem struct {
		pfx            [2]uint64
		version        uint64
		tenant, entity string
		e              *allsource.Event
	}
	ents := make([]entItem, len(evs))
	for i, e := range evs {
		ents[i] = entItem{prefix16(e.EntityID), e.Version, e.Tenant, e.EntityID, e}
	}
	slices.SortFunc(ents, func(a, b entItem) int {
		if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		if c := comparePrefix(a.pfx, b.pfx); c != 0 {
			return c
		}
		if c := cmp.Compare(a.entity, b.entity); c != 0 {
			return c
		}
		return cmp.Compare(a.version, b.version)
	})
	byEntity := make([]*allsource.Event, len(ents))
	for i := range ents {
		byEntity[i] = ents[i].e
	}
	ents = nil
	type idItem struct {
		hi, lo uint64 // the id's bytes, big-endian
		seq    uint64
		tenant string
		id     uuid.UUID
		e      *allsource.Event
	}
	ids := make([]idItem, 0, len(evs))
	for _, e := range evs {
		if u, err := uuid.Parse(e.ID); err == nil {
			ids = append(ids, idItem{binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(u[8:]), e.Seq, e.Tenant, u, e})
		}
	}
	// An id stored twice (again after it left the dedup window) keeps its
	// latest event.
	slices.SortFunc(ids, func(a, b idItem) int {
		if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		return cmp.Compare(b.seq, a.seq)
	})
	if versions == nil { // from evs: the last event of each entity's run
		for i, e := range byEntity {
			if i+1 == len(byEntity) || byEntity[i+1].Tenant != e.Tenant || byEntity[i+1].EntityID != e.EntityID {
				versions = append(versions, entityVersion{e.Tenant, e.EntityID, e.Version, e.Seq})
			}
		}
	} else {
		slices.SortFunc(versions, func(a, b entityVersion) int {
			if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
				return c
			}
			return cmp.Compare(a.entity, b.entity)
		})
	}

	path := filepath.Join(filepath.Dir(x.dir), fmt.Sprintf("ingest-%d.sst", x.ingests.Add(1)))
	f, err := vfs.Default.Create(path)
	if err != nil {
		return indexTable{}, fmt.Errorf("warehouse: entity index: %w", err)
	}
	t := indexTable{path: path}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), x.opts.MakeWriterOptions(0, x.db.FormatMajorVersion().MaxTableFormat()))
	var key, val []byte
	n := 0
	set := func() error {
		n++
		if err := w.Set(key, val); err != nil {
			return fmt.Errorf("warehouse: entity index: %w", err)
		}
		return nil
	}
	err = func() error {
		for i, it := range ids {
			if i > 0 && ids[i-1].id == it.id && ids[i-1].tenant == it.tenant {
				continue // the table needs unique keys
			}
			key = append(append(append(append(key[:0], 'd'), it.e.Tenant...), 0), it.id[:]...)
			val = binary.AppendVarint(binary.AppendUvarint(val[:0], it.e.Seq), it.e.IngestedAt.UnixMicro())
			if err := set(); err != nil {
				return err
			}
		}
		for _, e := range byEntity {
			key = binary.BigEndian.AppendUint64(append(append(append(append(append(key[:0], 'e'), e.Tenant...), 0), e.EntityID...), 0), e.Version)
			val = appendIndexValue(val[:0], e)
			if err := set(); err != nil {
				return err
			}
		}
		if indexed != nil {
			key, val = append(key[:0], indexedKey...), binary.BigEndian.AppendUint64(val[:0], *indexed)
			if err := set(); err != nil {
				return err
			}
		}
		for _, v := range versions {
			key = append(append(append(append(key[:0], 'v'), v.tenant...), 0), v.entity...)
			val = binary.AppendUvarint(binary.AppendUvarint(val[:0], v.version), v.seq)
			if err := set(); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		w.Close()
		t.discard()
		return indexTable{}, err
	}
	if err := w.Close(); err != nil {
		t.discard()
		return indexTable{}, fmt.Errorf("warehouse: entity index: %w", err)
	}
	if n == 0 {
		t.discard()
		return indexTable{}, nil
	}
	return t, nil
}

// events reads an entity's indexed events from fromVersion on, those with
// seq at most maxSeq, at most limit, in version order, into buf's array
// when it has one.
func (x *entityIndex) events(tenant, entity string, fromVersion, maxSeq uint64, limit int, buf []EntityEvent) ([]EntityEvent, error) {
	prefix := entityPrefix(tenant, entity)
	it, err := x.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := buf[:0]
	if cap(out) == 0 {
		out = make([]EntityEvent, 0, min(limit, 16)) // most streams are short
	}
	var arena byteArena
	for ok := it.SeekPrefixGE(entityKey(tenant, entity, fromVersion)); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		e, err := decodeIndexValue(tenant, entity, binary.BigEndian.Uint64(k[len(prefix):]), it.Value(), &arena)
		if err != nil {
			return nil, err
		}
		if e.Seq > maxSeq {
			break // flushed after the version being read: its generation has it
		}
		out = append(out, e)
	}
	return out, it.Error()
}

// idKey is the key of an event id: 'd' tenant 0x00 id (16 bytes).
func idKey(tenant string, id uuid.UUID) []byte {
	k := make([]byte, 0, 2+len(tenant)+16)
	k = append(k, 'd')
	k = append(k, tenant...)
	k = append(k, 0)
	return append(k, id[:]...)
}

// StoredID reports whether an event with id is in the entity index for
// tenant (every event flushed up to IndexedSeq is), with the seq and
// ingestion time of the latest such event.
func (w *Warehouse) StoredID(tenant string, id uuid.UUID) (seq uint64, ingestedAt time.Time, ok bool, err error) {
	v, closer, err := w.index.db.Get(idKey(tenant, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, err
	}
	defer closer.Close()
	seq, n := binary.Uvarint(v)
	at, m := binary.Varint(v[max(n, 0):])
	if n <= 0 || m <= 0 {
		return 0, time.Time{}, false, fmt.Errorf("warehouse: entity index: damaged id entry of %s/%s", tenant, id)
	}
	return seq, time.UnixMicro(at).UTC(), true, nil
}

// lastVersion is the latest version of (tenant, entity) in the index and
// that event's seq; 0, 0 when the index holds none of its events.
func (x *entityIndex) lastVersion(tenant, entity string) (version, seq uint64, err error) {
	v, closer, err := x.db.Get(versionKey(tenant, entity))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer closer.Close()
	version, n := binary.Uvarint(v)
	seq, m := binary.Uvarint(v[max(n, 0):])
	if n <= 0 || m <= 0 {
		return 0, 0, fmt.Errorf("warehouse: entity index: damaged version of %s/%s", tenant, entity)
	}
	return version, seq, nil
}

// EntityVersion is the highest version of (tenant, entity) among its
// indexed events (see IndexedSeq), 0 when there are none: with the events
// past IndexedSeq, which the caller has seen, the entity's current
// version.
func (w *Warehouse) EntityVersion(tenant, entity string) (uint64, error) {
	v, _, err := w.index.lastVersion(tenant, entity)
	return v, err
}

// IndexedSeq is the seq up to which every flushed event is in the entity
// index.
func (w *Warehouse) IndexedSeq() uint64 { return w.index.indexed.Load() }

// catchUpIndex indexes the flushed events past what the index holds
// (after a crash between a flush and its index step, or a lost index): one
// scan of the Parquet files holding them, in batches of 100,000; only the
// last batch moves the index's watermark, so a crash part way starts the
// catch-up over (writing an event again is harmless).
func (w *Warehouse) catchUpIndex(ctx context.Context, watermark uint64) error {
	x := w.index
	from := x.indexed.Load()
	if from > watermark {
		// The index is written after the manifest: it cannot be ahead.
		return fmt.Errorf("warehouse: entity index reaches seq %d past the flushed %d", from, watermark)
	}
	if from == watermark {
		return nil
	}
	w.mu.Lock()
	var files []fileEntry
	for _, f := range w.cur.files {
		if f.SeqHi > from {
			files = append(files, f)
		}
	}
	w.mu.Unlock()
	rows, err := w.main.db.QueryContext(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
		CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR) FROM (`+w.parquetSQL(files)+`) WHERE seq > ? AND seq <= ?`, from, watermark)
	if err != nil {
		return fmt.Errorf("warehouse: rebuild entity index: %w", err)
	}
	defer rows.Close()
	var batch []*allsource.Event
	total := 0
	for rows.Next() {
		var e allsource.Event
		var p, m string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Tenant, &e.EntityID, &e.EventType, &e.Version, &e.Timestamp, &e.IngestedAt, &p, &m); err != nil {
			return err
		}
		e.Payload, e.Metadata = []byte(p), []byte(m)
		batch = append(batch, &e)
		if len(batch) == 100_000 {
			if err := x.ingest(batch, []entityVersion{}, nil); err != nil { // versions: with the last batch
				return err
			}
			total += len(batch)
			batch = nil
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	total += len(batch)
	// The batches come in no particular order: the entities' latest
	// versions over the whole range, with the last batch.
	vrows, err := w.main.db.QueryContext(ctx, `SELECT tenant_id, entity_id, max(version), arg_max(seq, version) FROM (`+w.parquetSQL(files)+`)
		WHERE seq > ? AND seq <= ? GROUP BY ALL`, from, watermark)
	if err != nil {
		return fmt.Errorf("warehouse: rebuild entity index: %w", err)
	}
	defer vrows.Close()
	versions := []entityVersion{}
	for vrows.Next() {
		var v entityVersion
		if err := vrows.Scan(&v.tenant, &v.entity, &v.version, &v.seq); err != nil {
			return err
		}
		versions = append(versions, v)
	}
	if err := vrows.Err(); err != nil {
		return err
	}
	w.fault("index:catch-up")
	if err := x.add(batch, versions, from, watermark); err != nil {
		return err
	}
	w.log.Info("entity index caught up", "events", total, "indexed_seq", watermark)
	return nil
}

// openIndex opens the entity index and brings it up to the flushed seq.
// An index that cannot be opened or caught up is rebuilt from the Parquet
// files.
func (w *Warehouse) openIndex(ctx context.Context, watermark uint64) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if w.index, err = openEntityIndex(w.opts.DataDir, w.opts.IndexCacheBytes, w.opts.IndexCompression); err == nil {
			if err = w.catchUpIndex(ctx, watermark); err == nil {
				return nil
			}
			w.index.close()
			w.index = nil
		}
		w.log.Warn("entity index unusable: rebuilding it from the Parquet files", "err", err)
		if rerr := os.RemoveAll(filepath.Join(w.opts.DataDir, "index", "entities")); rerr != nil {
			return rerr
		}
	}
	return err
}

// quietPebble drops the LSM's informational logging; errors surface as
// the errors of the calls.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("warehouse: entity index: "+format, args...))
}

// prefix16 is s's first sixteen bytes as two big-endian integers,
// zero-padded: it orders as s does, up to ties between strings sharing
// those bytes (the names it is used on hold no 0x00). Sixteen, not eight:
// ids like "user-1234567" share their first eight bytes.
func prefix16(s string) [2]uint64 {
	var b [16]byte
	copy(b[:], s)
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func comparePrefix(a, b [2]uint64) int {
	if a[0] != b[0] {
		return cmp.Compare(a[0], b[0])
	}
	return cmp.Compare(a[1], b[1])
}
