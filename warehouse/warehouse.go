// Package warehouse stores events for querying: an in-memory hot tier that
// takes every committed batch and is visible to SQL at once, and Parquet files
// (zstd) partitioned by tenant and day, recorded in a manifest in the catalog.
//
// # Layout
//
//	<data>/catalog.duckdb                                 manifest (see migrations)
//	<data>/warehouse/tenant=<t>/date=<yyyy-mm-dd>/<seqlo>-<seqhi>.parquet
//	<data>/tmp/                                           files being written
//
// Each Parquet file holds the events of one tenant and one UTC day with seq in
// [seqlo, seqhi], sorted by (entity_id, timestamp, seq).
//
// # Exactly once
//
// The hot tier is a chain of generations: in-memory DuckDB tables, of which
// the newest (active) takes appends. Freeze seals the active generation; the
// flusher writes a sealed generation to Parquet, then in one catalog
// transaction records the files and raises the flushed-seq watermark to the
// generation's last seq, then publishes a new version of the table set in
// which the files replace the generation. A query pins one version (files +
// live generations) for its whole run, so every event is seen exactly once;
// a generation table or a compacted-away file is dropped only when no pinned
// version still names it. Compaction likewise swaps files in one catalog
// transaction.
//
// On Open, files under warehouse/ that the manifest does not name (left by a
// crash between writing and recording) are removed, and tmp/ is emptied. The
// caller replays its write-ahead log from FlushedSeq()+1.
//
// # Engine
//
// Queries run on embedded in-memory DuckDB instances: one per tenant,
// sandboxed to that tenant's partitions and projection folder and holding
// only its rows (see engines.go), and the main one for the server's own
// work. User SQL is checked first by the statement guard (package
// sqlguard): one SELECT, no file-reading functions.
package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource/migrations"
)

// Options configures a Warehouse. Zero values take the documented defaults.
type Options struct {
	DataDir string // required

	FlushRows  int           // freeze the active generation at this many rows; default 1,000,000
	FlushBytes int64         // ... or at this many payload bytes; default 256 MiB
	FlushAge   time.Duration // ... or when its oldest row is this old; default 30s
	MaxFrozen  int           // sealed generations waiting for flush before Freeze blocks; default 4
	// IndexCacheBytes is the entity index's block cache; default 64 MiB.
	IndexCacheBytes int64
	// IndexCompression is how the entity index stores blocks written from
	// now on: "snappy" (the default) or "none" (no decompression on a
	// cache miss and a cheaper flush, for about 1.7x the data dir).
	IndexCompression string

	CompactMinFiles int           // compact a partition once it has this many files; default 8
	CompactInterval time.Duration // how often to look for work; default 30s

	QueryConns int // concurrent queries; default 2×GOMAXPROCS
	// TenantConns is the most query connections one tenant's queries
	// hold at once (a fair share: the rest stay free for other tenants);
	// default QueryConns/2, at least 1. The server's own queries are not
	// counted.
	TenantConns int
	Threads     int    // DuckDB threads per engine instance; default GOMAXPROCS
	MemLimit    string // DuckDB memory_limit per engine instance, e.g. "8GB"; default DuckDB's (80% of RAM)
	// EngineIdle is how long a tenant's engine instance stays open with
	// nothing using it; default 5 minutes.
	EngineIdle time.Duration

	Logger *slog.Logger
	// Fault, if set, is called at named points of flush and compaction; tests
	// use it to crash the process there (see FaultPoints).
	Fault func(point string)
	// OnFlushed is called after a flush is recorded, with the new watermark.
	OnFlushed func(watermark uint64)
	// Observe receives timings for metrics; may be nil.
	Observe Observer
}

// Observer receives what a Warehouse did, for metrics.
type Observer interface {
	Flushed(rows int, bytes int64, d time.Duration)
	Compacted(files int, rows int64, d time.Duration)
	Queried(d time.Duration)
}

// FaultPoints lists the names passed to Options.Fault.
var FaultPoints = []string{
	"flush:after-write",    // Parquet files written in tmp/, not renamed
	"flush:after-rename",   // files in place, manifest not updated
	"flush:after-manifest", // manifest committed, version not published, WAL not truncated
	"compact:after-rename",
	"compact:after-manifest",
	"index:before-write", // flush recorded and the entity index not yet told
	"index:after-write",  // the entity index has the flush, version not published
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.DataDir == "" {
		return errors.New("warehouse: DataDir is required")
	}
	if o.FlushRows <= 0 {
		o.FlushRows = 1_000_000
	}
	if o.FlushBytes <= 0 {
		o.FlushBytes = 256 << 20
	}
	if o.FlushAge <= 0 {
		o.FlushAge = 30 * time.Second
	}
	if o.IndexCacheBytes <= 0 {
		o.IndexCacheBytes = 64 << 20
	}
	switch o.IndexCompression {
	case "":
		o.IndexCompression = "snappy"
	case "none", "snappy":
	default:
		return fmt.Errorf("warehouse: index compression %q: want none or snappy", o.IndexCompression)
	}
	if o.MaxFrozen <= 0 {
		o.MaxFrozen = 4
	}
	if o.CompactMinFiles <= 1 {
		o.CompactMinFiles = 8
	}
	if o.CompactInterval <= 0 {
		o.CompactInterval = 30 * time.Second
	}
	if o.QueryConns <= 0 {
		o.QueryConns = 2 * runtime.GOMAXPROCS(0)
	}
	if o.TenantConns <= 0 || o.TenantConns > o.QueryConns {
		o.TenantConns = max(1, o.QueryConns/2)
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	if o.EngineIdle <= 0 {
		o.EngineIdle = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// fileEntry is one Parquet file of the manifest.
type fileEntry struct {
	Path   string // relative to the warehouse dir
	Tenant string
	Date   string // yyyy-mm-dd
	SeqLo  uint64
	SeqHi  uint64
	Rows   int64
	Bytes  int64
}

// version is one immutable state of the table set.
type version struct {
	id        uint64
	files     []fileEntry
	gens      []*gen // unflushed generations, oldest first; the last is active
	watermark uint64
	viewSQL   map[string]string // per tenant scope, the SELECT over files and gens (lazily built)
}

// pending is a resource removed from the table set when version `since` was
// published; it is destroyed once no pinned version is older than since.
type pending struct {
	since   uint64
	destroy func()
}

// Warehouse is the hot tier plus the Parquet store. Append, Freeze and
// ShouldFreeze must be called from one goroutine (the ingest applier); Query
// and the rest are safe for concurrent use.
type Warehouse struct {
	// Statements answered from the entity index: by a point read
	// (pointread.go), through the entity scan (entityscan.go).
	pointReads, entityScans atomic.Int64
	// Questions answered from the event columns, and those the columns
	// declined (a read restriction, columns being built).
	columnScans, columnDeclines atomic.Int64

	opts    Options
	log     *slog.Logger
	whDir   string
	tmpDir  string
	projDir string
	index   *entityIndex // flushed events by (tenant, entity, version)
	cols    *colStore    // the Parquet files' event columns (columns.go)

	pubMu     sync.Mutex
	published map[string]map[string]string // tenant -> name -> table in _proj
	pubGen    atomic.Uint64                // changes with published
	// resolved caches statements rewritten for the published tables as of
	// resolvedGen.
	resolved    map[string]string
	resolvedGen uint64

	checked checkCache
	shapes  shapeCache

	catalog *sql.DB
	// main is the server's engine instance; engines are the tenants'
	// (see engines.go), guarded by engMu. createMu serialises creating
	// an instance with Exec; setup is what Exec ran, for new instances.
	main     *engine
	engMu    sync.Mutex
	engines  map[string]*engine
	createMu sync.Mutex
	setup    []string
	slots    chan struct{} // one per running query, QueryConns in all
	fair     tenantSlots   // each tenant's share of the slots

	mu      sync.Mutex
	cur     *version
	pinned  map[uint64]int // version id -> pins
	pending []pending
	nextGen int

	active  *gen          // takes appends; applier goroutine only
	lastSeq atomic.Uint64 // highest seq visible to queries

	tenantMu  sync.Mutex
	tenantSeq map[string]uint64 // per tenant, the seq of its latest append since start
	tenants   tenantList        // tenantsHolding's last answer
	startSeq  uint64            // the watermark at open
	frozen    chan *gen         // to the flusher

	maint       sync.Mutex // serialises flush and compaction
	compactKick chan struct{}

	stop    chan struct{}
	done    sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
	failErr error         // first background failure; further appends fail
	failCh  chan struct{} // closed when failErr is set
}

// Open opens (creating if needed) the warehouse in opts.DataDir.
func Open(ctx context.Context, opts Options) (*Warehouse, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	w := &Warehouse{
		opts:    opts,
		log:     opts.Logger.With("component", "warehouse"),
		whDir:   filepath.Join(opts.DataDir, "warehouse"),
		tmpDir:  filepath.Join(opts.DataDir, "tmp"),
		projDir: filepath.Join(opts.DataDir, "projections"),
		pinned:  map[uint64]int{},
		frozen:  make(chan *gen, opts.MaxFrozen),
		stop:    make(chan struct{}),

		compactKick: make(chan struct{}, 1),
		failCh:      make(chan struct{}),
	}
	var err error
	for _, d := range []string{w.whDir, w.tmpDir, w.projDir} {
		if err = os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("warehouse: %w", err)
		}
	}
	if w.whDir, err = filepath.Abs(w.whDir); err != nil {
		return nil, err
	}
	if w.projDir, err = filepath.Abs(w.projDir); err != nil {
		return nil, err
	}
	if w.tmpDir, err = filepath.Abs(w.tmpDir); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			w.closeDBs()
		}
	}()
	// Each step's time is logged: start-up should not grow with history.
	began := time.Now()
	if err := w.openCatalog(ctx); err != nil {
		return nil, err
	}
	catalogTook := time.Since(began)
	files, watermark, err := w.loadManifest(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.checkFiles(files); err != nil {
		return nil, err
	}
	filesTook := time.Since(began) - catalogTook
	engineBegan := time.Now()
	if err := w.openEngine(ctx); err != nil {
		return nil, err
	}
	indexBegan := time.Now()
	g := w.newGen()
	w.cur = &version{id: 1, files: files, gens: []*gen{g}, watermark: watermark}
	if err := w.openIndex(ctx, watermark); err != nil {
		return nil, err
	}
	if err := w.registerEntityScan(ctx, w.main, allScopes); err != nil {
		return nil, err
	}
	w.lastSeq.Store(watermark)
	w.tenantSeq, w.startSeq = map[string]uint64{}, watermark
	if err := w.openColumns(files); err != nil {
		return nil, err
	}
	w.done.Add(4)
	go func() {
		defer w.done.Done()
		w.index.prewarm(w.stop)
	}()
	go w.flushLoop()
	go w.compactLoop()
	go w.evictLoop()
	ok = true
	w.log.Info("warehouse open", "files", len(files), "flushed_seq", watermark, "catalog_took", catalogTook,
		"files_took", filesTook, "engine_took", indexBegan.Sub(engineBegan), "index_took", time.Since(indexBegan), "took", time.Since(began))
	return w, nil
}

func (w *Warehouse) openCatalog(ctx context.Context) error {
	path := filepath.Join(w.opts.DataDir, "catalog.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return fmt.Errorf("warehouse: open catalog: %w", err)
	}
	db.SetMaxOpenConns(1)
	w.catalog = db
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("warehouse: open catalog %s: %w", path, err)
	}
	if _, err := migrations.Apply(ctx, db); err != nil {
		return err
	}
	return nil
}

func (w *Warehouse) loadManifest(ctx context.Context) ([]fileEntry, uint64, error) {
	var watermark uint64
	if err := w.catalog.QueryRowContext(ctx, `SELECT value FROM warehouse_state WHERE key = 'flushed_seq'`).Scan(&watermark); err != nil {
		return nil, 0, fmt.Errorf("warehouse: read watermark: %w", err)
	}
	rows, err := w.catalog.QueryContext(ctx, `SELECT path, tenant_id, strftime(date, '%Y-%m-%d'), seq_lo, seq_hi, rows, bytes FROM parquet_files ORDER BY tenant_id, date, seq_lo`)
	if err != nil {
		return nil, 0, fmt.Errorf("warehouse: read manifest: %w", err)
	}
	defer rows.Close()
	var files []fileEntry
	for rows.Next() {
		var f fileEntry
		if err := rows.Scan(&f.Path, &f.Tenant, &f.Date, &f.SeqLo, &f.SeqHi, &f.Rows, &f.Bytes); err != nil {
			return nil, 0, err
		}
		files = append(files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return files, watermark, nil
}

// checkFiles lists the warehouse directory once: a file the manifest
// names must be there, a file it does not name (left by a flush or a
// compaction that did not commit) is removed, as is everything in tmp.
func (w *Warehouse) checkFiles(files []fileEntry) error {
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[filepath.FromSlash(f.Path)] = false
	}
	err := filepath.WalkDir(w.whDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(w.whDir, path)
		if err != nil {
			return err
		}
		if _, ok := known[rel]; ok {
			known[rel] = true
			return nil
		}
		w.log.Warn("removing orphan file", "path", rel)
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("warehouse: remove orphans: %w", err)
	}
	for _, f := range files {
		if !known[filepath.FromSlash(f.Path)] {
			return fmt.Errorf("warehouse: the manifest names %s but it is not in %s", f.Path, w.whDir)
		}
	}
	entries, err := os.ReadDir(w.tmpDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(w.tmpDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (w *Warehouse) openEngine(ctx context.Context) error {
	e, err := w.newEngine(ctx, allScopes, nil)
	if err != nil {
		return err
	}
	w.main = e
	w.engines = map[string]*engine{}
	w.slots = make(chan struct{}, w.opts.QueryConns)
	w.fair.share = w.opts.TenantConns
	return nil
}

// FlushedSeq returns the watermark: every event with seq ≤ it is in Parquet.
func (w *Warehouse) FlushedSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur.watermark
}

// Stats is a snapshot for metrics and status pages.
type Stats struct {
	HotRows     int64
	HotBytes    int64
	Generations int
	Files       int
	FileBytes   int64
	FileRows    int64
	FlushedSeq  uint64
	// Statements answered from the entity index since the start: point
	// reads (without the engine) and entity scans (the engine reading one
	// entity's stream instead of the files).
	PointReads, EntityScans int64
	// Scans of the event columns (questions answered without the engine)
	// and scans they declined, since the start.
	ColumnScans, ColumnDeclines int64
}

// Stats returns the current sizes.
func (w *Warehouse) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Stats{Generations: len(w.cur.gens), Files: len(w.cur.files), FlushedSeq: w.cur.watermark,
		PointReads: w.pointReads.Load(), EntityScans: w.entityScans.Load(),
		ColumnScans: w.columnScans.Load(), ColumnDeclines: w.columnDeclines.Load()}
	for _, g := range w.cur.gens {
		s.HotRows += g.rowCount()
		s.HotBytes += g.byteCount()
	}
	for _, f := range w.cur.files {
		s.FileBytes += f.Bytes
		s.FileRows += f.Rows
	}
	return s
}

// TenantBytes is the size of a tenant's Parquet files (its flushed events).
func (w *Warehouse) TenantBytes(tenant string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, f := range w.cur.files {
		if f.Tenant == tenant {
			n += f.Bytes
		}
	}
	return n
}

// pin returns the current version and keeps everything it names alive until
// unpin.
func (w *Warehouse) pin() *version {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pinned[w.cur.id]++
	return w.cur
}

func (w *Warehouse) unpin(v *version) {
	w.mu.Lock()
	w.pinned[v.id]--
	if w.pinned[v.id] == 0 {
		delete(w.pinned, v.id)
	}
	run := w.collectLocked()
	w.mu.Unlock()
	for _, f := range run {
		f()
	}
}

// publish installs a new version built by edit from the current one and
// schedules destroy for what edit removed.
func (w *Warehouse) publish(edit func(v *version), destroy ...func()) {
	w.mu.Lock()
	nv := &version{id: w.cur.id + 1, files: w.cur.files, gens: w.cur.gens, watermark: w.cur.watermark}
	edit(nv)
	sort.Slice(nv.files, func(i, j int) bool {
		a, b := nv.files[i], nv.files[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.Date != b.Date {
			return a.Date < b.Date
		}
		return a.SeqLo < b.SeqLo
	})
	w.cur = nv
	for _, d := range destroy {
		w.pending = append(w.pending, pending{since: nv.id, destroy: d})
	}
	run := w.collectLocked()
	w.mu.Unlock()
	for _, f := range run {
		f()
	}
}

// collectLocked returns the destroy functions that no pinned version needs.
func (w *Warehouse) collectLocked() []func() {
	oldest := w.cur.id
	for id := range w.pinned {
		if id < oldest {
			oldest = id
		}
	}
	var run []func()
	keep := w.pending[:0]
	for _, p := range w.pending {
		if p.since <= oldest {
			run = append(run, p.destroy)
		} else {
			keep = append(keep, p)
		}
	}
	w.pending = keep
	return run
}

// Close stops background work, flushes nothing (the caller freezes and
// flushes first if it wants a clean shutdown; see FlushAll) and closes the
// databases.
func (w *Warehouse) Close() error {
	w.closeMu.Lock()
	if w.closed {
		w.closeMu.Unlock()
		return nil
	}
	w.closed = true
	w.closeMu.Unlock()
	close(w.stop)
	w.done.Wait()
	w.mu.Lock()
	gens := w.cur.gens
	w.mu.Unlock()
	for _, g := range gens {
		w.dropGen(g)
	}
	return w.closeDBs()
}

func (w *Warehouse) closeDBs() error {
	var errs []error
	// Every query has ended (Close waits for the background work, and
	// callers stop querying first).
	w.createMu.Lock()
	w.engMu.Lock()
	var all []*engine
	for _, e := range w.engines {
		all = append(all, e)
	}
	w.engines = nil // no instance is created after this
	w.engMu.Unlock()
	w.createMu.Unlock()
	if w.main != nil {
		all = append(all, w.main)
	}
	for _, e := range all {
		errs = append(errs, w.closeEngine(e))
	}
	if w.catalog != nil {
		errs = append(errs, w.catalog.Close())
	}
	if w.index != nil {
		errs = append(errs, w.index.close())
	}
	w.closeColumns()
	return errors.Join(errs...)
}

func (w *Warehouse) fault(point string) {
	if w.opts.Fault != nil {
		w.opts.Fault(point)
	}
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = sqlString(s)
	}
	return strings.Join(q, ", ")
}
