package warehouse

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/allsource/allsource"
)

// The event columns files live under DATA_DIR/index/columns, one per
// Parquet file of the manifest, at the Parquet file's relative path with
// ".cols" for ".parquet". They are derived data, like the entity index:
// written at flush (from the events in memory) and at compaction (from the
// inputs' columns), never fsynced (a torn file fails its checksum), and
// rebuilt from the Parquet file by a background job when missing or
// damaged. A question uses them only when every file it would read has
// them; otherwise it reads the Parquet files as before.
type colStore struct {
	dir  string
	mu   sync.Mutex
	open map[string]*colFile // by Parquet path; mapped on first use
	// idle holds the mapped files no scan uses, least recently used
	// first; beyond maxMapped mapped files the oldest idle ones are
	// unmapped (a process has a bounded number of mappings, and years of
	// daily files for many tenants would exceed it).
	idle      list.List
	maxMapped int
	kick      chan struct{} // wakes the builder
	// unbuildable names the files the builder failed on (e.g. more event
	// types in one file than a type index holds); it does not read them
	// again on every kick, and their tenants' questions take the engine.
	unbuildable map[string]bool
}

// maxMappedColumns is how many columns files stay mapped.
const maxMappedColumns = 4096

func (w *Warehouse) colPath(rel string) string {
	return filepath.Join(w.cols.dir, filepath.FromSlash(strings.TrimSuffix(rel, ".parquet")+".cols"))
}

// openColumns removes columns files no manifest file has (and unfinished
// ones), in one walk of the directory, and starts the builder.
func (w *Warehouse) openColumns(files []fileEntry) error {
	w.cols = &colStore{dir: filepath.Join(w.opts.DataDir, "index", "columns"), open: map[string]*colFile{},
		maxMapped: maxMappedColumns, kick: make(chan struct{}, 1), unbuildable: map[string]bool{}}
	if err := os.MkdirAll(w.cols.dir, 0o755); err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[w.colPath(f.Path)] = true
	}
	have := 0
	err := filepath.WalkDir(w.cols.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if known[path] {
			have++
			return nil
		}
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("warehouse: event columns: %w", err)
	}
	w.done.Add(1)
	go w.columnsBuilder()
	if have < len(files) {
		w.kickColumns()
	}
	return nil
}

func (w *Warehouse) kickColumns() {
	select {
	case w.cols.kick <- struct{}{}:
	default:
	}
}

// columnsBuilder makes the columns files the current version's Parquet
// files lack, when kicked (at open, after a damaged or unwritten file).
func (w *Warehouse) columnsBuilder() {
	defer w.done.Done()
	for {
		select {
		case <-w.stop:
			return
		case <-w.cols.kick:
		}
		built, err := w.buildMissingColumns()
		if err != nil {
			w.log.Warn("event columns: building from Parquet", "err", err)
		}
		if built > 0 {
			w.log.Info("event columns built from Parquet", "files", built)
		}
	}
}

func (w *Warehouse) buildMissingColumns() (int, error) {
	w.mu.Lock()
	files := w.cur.files
	w.mu.Unlock()
	built := 0
	var errs []error
	for _, f := range files {
		select {
		case <-w.stop:
			return built, errors.Join(errs...)
		default:
		}
		if _, err := os.Stat(w.colPath(f.Path)); err == nil {
			continue
		}
		w.cols.mu.Lock()
		skip := w.cols.unbuildable[f.Path]
		w.cols.mu.Unlock()
		if skip {
			continue
		}
		// Under the maintenance lock, so that a compaction does not remove
		// the file (and its columns) while they are being written.
		w.maint.Lock()
		var err error
		if w.allCurrent([]fileEntry{f}) {
			if err = w.columnsFromParquet(context.Background(), f.Path); err == nil {
				built++
			}
		}
		w.maint.Unlock()
		if err != nil { // the others are still built
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			w.cols.mu.Lock()
			w.cols.unbuildable[f.Path] = true
			w.cols.mu.Unlock()
		}
	}
	return built, errors.Join(errs...)
}

// eventColumns is the columns of a flushed file's events.
func eventColumns(evs []*allsource.Event) ([]colRow, []string, error) {
	rows := make([]colRow, len(evs))
	var types colTypes
	for i, e := range evs {
		t, err := types.id(e.EventType)
		if err != nil {
			return nil, nil, err
		}
		g1, g2 := entityHashes(e.EntityID)
		rows[i] = colRow{g1: g1, g2: g2, us: e.Timestamp.UnixMicro(), seq: e.Seq, typ: t}
	}
	return rows, types.names, nil
}

// writeColumns writes the columns file of Parquet file rel.
func (w *Warehouse) writeColumns(rel string, rows []colRow, types []string) error {
	b, err := encodeColumns(rows, types)
	if err != nil {
		return err
	}
	return w.writeColumnsFile(rel, b)
}

// writeColumnsFile writes encoded columns as Parquet file rel's.
func (w *Warehouse) writeColumnsFile(rel string, b []byte) error {
	path := w.colPath(rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	w.fault("columns:after-write")
	return nil
}

// columnsFromParquet builds the columns file of Parquet file rel by
// reading it.
func (w *Warehouse) columnsFromParquet(ctx context.Context, rel string) error {
	q := fmt.Sprintf(`SELECT entity_id, epoch_us("timestamp"), seq, event_type FROM read_parquet(%s)`,
		sqlString(filepath.Join(w.whDir, filepath.FromSlash(rel))))
	rs, err := w.main.db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rs.Close()
	var rows []colRow
	var types colTypes
	var entity, typ string
	var us, seq int64
	for rs.Next() {
		if err := rs.Scan(&entity, &us, &seq, &typ); err != nil {
			return err
		}
		t, err := types.id(typ)
		if err != nil {
			return err
		}
		g1, g2 := entityHashes(entity)
		rows = append(rows, colRow{g1: g1, g2: g2, us: us, seq: uint64(seq), typ: t})
	}
	if err := rs.Err(); err != nil {
		return err
	}
	return w.writeColumns(rel, rows, types.names)
}

// compactedColumns writes the columns of a compaction's output from its
// inputs' columns, or from the output file when an input has none.
func (w *Warehouse) compactedColumns(ctx context.Context, in []fileEntry, out fileEntry) error {
	var rows []colRow
	var types colTypes
	for _, f := range in {
		cf, err := w.loadColumns(f.Path)
		if err == nil {
			rows, err = cf.appendRows(rows, &types)
			w.releaseColumns(cf)
		}
		if err != nil {
			return w.columnsFromParquet(ctx, out.Path)
		}
	}
	return w.writeColumns(out.Path, rows, types.names)
}

// loadColumns maps and checks the columns file of Parquet file rel (once
// while it stays mapped) and holds it mapped until releaseColumns. A
// damaged file is removed and the builder kicked.
func (w *Warehouse) loadColumns(rel string) (*colFile, error) {
	c := w.cols
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.open[rel]; ok {
		if f.refs == 0 {
			c.idle.Remove(f.elem)
			f.elem = nil
		}
		f.refs++
		return f, nil
	}
	path := w.colPath(rel)
	data, unmap, err := mapFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.kickColumns()
		}
		return nil, err
	}
	f, err := decodeColumns(data)
	if err != nil {
		unmap()
		w.log.Warn("event columns damaged: rebuilding them", "path", path, "err", err)
		os.Remove(path)
		w.kickColumns()
		return nil, err
	}
	f.unmap, f.rel, f.refs = unmap, rel, 1
	c.open[rel] = f
	c.evictLocked()
	return f, nil
}

// releaseColumns ends a use of a file loadColumns returned.
func (w *Warehouse) releaseColumns(f *colFile) {
	c := w.cols
	c.mu.Lock()
	defer c.mu.Unlock()
	f.refs--
	if f.refs == 0 {
		f.elem = c.idle.PushBack(f)
		c.evictLocked()
	}
}

// evictLocked unmaps the least recently used idle files beyond maxMapped.
func (c *colStore) evictLocked() {
	for len(c.open) > c.maxMapped && c.idle.Len() > 0 {
		f := c.idle.Remove(c.idle.Front()).(*colFile)
		f.elem = nil
		delete(c.open, f.rel)
		f.unmap()
	}
}

// dropColumns unmaps and removes the columns of Parquet file rel (no
// pinned version names it any more).
func (w *Warehouse) dropColumns(rel string) {
	c := w.cols
	c.mu.Lock()
	delete(c.unbuildable, rel)
	if f, ok := c.open[rel]; ok {
		// No scan uses it: none pins a version that names the file.
		if f.elem != nil {
			c.idle.Remove(f.elem)
		}
		delete(c.open, rel)
		f.unmap()
	}
	c.mu.Unlock()
	if err := os.Remove(w.colPath(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("remove event columns", "path", rel, "err", err)
	}
}

// closeColumns unmaps every columns file (at Close, after background work
// stopped).
func (w *Warehouse) closeColumns() {
	if w.cols == nil {
		return
	}
	c := w.cols
	c.mu.Lock()
	defer c.mu.Unlock()
	for rel, f := range c.open {
		f.unmap()
		delete(c.open, rel)
	}
	c.idle.Init()
}

// ColumnSegment is a run of events of one partition, in (time, seq)
// order for a file's segment (a hot generation's are in seq order). Type
// indexes Types.
type ColumnSegment struct {
	Types  []string
	G1     []uint64
	G2     []uint32
	Micros []int64
	Seq    []uint64
	Type   []uint16
}

// ColumnScan is the event columns of what ctx's scope sees in one version:
// its Parquet files' and its unflushed events'. Segments is safe for
// concurrent use; Close releases the version.
type ColumnScan struct {
	w     *Warehouse
	v     *version
	leave func() // the query slots it holds
	files []*colFile
	hot   [ColumnParts][]ColumnSegment // per generation
}

// ScanColumns returns the event columns ctx's scope sees, or false when
// they cannot answer for it: a read restriction applies (the events view
// hides types and fields), or a file lacks its columns (being built).
func (w *Warehouse) ScanColumns(ctx context.Context) (*ColumnScan, bool, error) {
	sc := scopeOf(ctx)
	if r := sc.restrict; len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		w.columnDeclines.Add(1)
		return nil, false, nil
	}
	sees := func(tenant string) bool {
		switch sc.tenant {
		case allScopes:
			return true
		case allsource.AllTenants:
			return !allsource.Reserved(tenant)
		}
		return tenant == sc.tenant
	}
	// A question answered from the columns takes the query slots any
	// query of its scope takes: one tenant cannot crowd out the others.
	leave, err := w.acquireSlots(ctx)
	if err != nil {
		return nil, false, err
	}
	v := w.pin()
	s := &ColumnScan{w: w, v: v, leave: leave}
	for _, f := range v.files {
		if !sees(f.Tenant) {
			continue
		}
		cf, err := w.loadColumns(f.Path)
		if err != nil {
			s.Close()
			w.columnDeclines.Add(1)
			return nil, false, nil
		}
		s.files = append(s.files, cf)
	}
	for _, g := range v.gens {
		segs, ok := g.cols.segments(g.snapshot(), sees)
		if !ok {
			s.Close()
			w.columnDeclines.Add(1)
			return nil, false, nil
		}
		for p, seg := range segs {
			if len(seg.G1) > 0 {
				s.hot[p] = append(s.hot[p], seg)
			}
		}
	}
	w.columnScans.Add(1)
	return s, true, nil
}

// genColumns is a generation's rows as event columns, per partition, with
// each row's tenant. Scans extend it to the rows appended since the last
// one (each row is hashed once, and ingest pays nothing) and take views
// of its arrays: later rows are appended past what a view covers.
type genColumns struct {
	mu         sync.Mutex
	chunk, off int // the next row to take in: chunks[chunk][off]
	types      colTypes
	tenants    []string // by index; a generation holds few
	tenantIDs  map[string]uint32
	parts      [ColumnParts]genPart
	failed     bool // more event types than a type index holds
}

type genPart struct {
	seg    ColumnSegment
	tenant []uint32
}

// segments extends the columns to chunks and returns each partition's
// rows of the tenants sees accepts (views when it accepts them all);
// false when they cannot be made.
func (x *genColumns) segments(chunks [][]allsource.Event, sees func(string) bool) ([ColumnParts]ColumnSegment, bool) {
	var out [ColumnParts]ColumnSegment
	x.mu.Lock()
	defer x.mu.Unlock()
	for ; !x.failed && x.chunk < len(chunks); x.chunk, x.off = x.chunk+1, 0 {
		c := chunks[x.chunk] // complete: chunks are immutable
		for ; x.off < len(c); x.off++ {
			e := &c[x.off]
			t, err := x.types.id(e.EventType)
			if err != nil {
				x.failed = true
				break
			}
			tid, ok := x.tenantIDs[e.Tenant]
			if !ok {
				if x.tenantIDs == nil {
					x.tenantIDs = map[string]uint32{}
				}
				tid = uint32(len(x.tenants))
				x.tenantIDs[e.Tenant] = tid
				x.tenants = append(x.tenants, e.Tenant)
			}
			g1, g2 := entityHashes(e.EntityID)
			p := &x.parts[colPart(g1)]
			p.seg.G1 = append(p.seg.G1, g1)
			p.seg.G2 = append(p.seg.G2, g2)
			p.seg.Micros = append(p.seg.Micros, e.Timestamp.UnixMicro())
			p.seg.Seq = append(p.seg.Seq, e.Seq)
			p.seg.Type = append(p.seg.Type, t)
			p.tenant = append(p.tenant, tid)
		}
	}
	if x.failed {
		return out, false
	}
	types := x.types.names[:len(x.types.names):len(x.types.names)]
	accepted := make([]bool, len(x.tenants))
	all := true
	for i, t := range x.tenants {
		accepted[i] = sees(t)
		all = all && accepted[i]
	}
	for p := range x.parts {
		src := &x.parts[p]
		n := len(src.seg.G1)
		if all {
			out[p] = ColumnSegment{Types: types, G1: src.seg.G1[:n:n], G2: src.seg.G2[:n:n], Micros: src.seg.Micros[:n:n],
				Seq: src.seg.Seq[:n:n], Type: src.seg.Type[:n:n]}
			continue
		}
		seg := ColumnSegment{Types: types}
		for i := range n {
			if accepted[src.tenant[i]] {
				seg.G1 = append(seg.G1, src.seg.G1[i])
				seg.G2 = append(seg.G2, src.seg.G2[i])
				seg.Micros = append(seg.Micros, src.seg.Micros[i])
				seg.Seq = append(seg.Seq, src.seg.Seq[i])
				seg.Type = append(seg.Type, src.seg.Type[i])
			}
		}
		out[p] = seg
	}
	return out, true
}

// Segments appends partition p's segments to dst: the files' in the
// version's order (tenant, date, seq), then the unflushed events'.
func (s *ColumnScan) Segments(p int, dst []ColumnSegment) []ColumnSegment {
	for _, f := range s.files {
		lo, hi := f.starts[p], f.starts[p+1]
		if lo == hi {
			continue
		}
		dst = append(dst, ColumnSegment{Types: f.types, G1: f.g1[lo:hi], G2: f.g2[lo:hi], Micros: f.us[lo:hi], Seq: f.seq[lo:hi], Type: f.typ[lo:hi]})
	}
	return append(dst, s.hot[p]...)
}

// Close releases the scan's version; its segments must not be used after.
func (s *ColumnScan) Close() {
	if s.v != nil {
		for _, f := range s.files {
			s.w.releaseColumns(f)
		}
		s.files = nil
		s.w.unpin(s.v)
		s.v = nil
		s.leave()
	}
}
