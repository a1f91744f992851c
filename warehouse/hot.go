package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// columns is the column list of the events view.
const columns = `seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata`

// hotTableDDL is the layout of a generation's query mirror. Mirrors and
// Parquet files also carry day, the event's UTC date as yyyy-mm-dd: the
// partition key. The events view leaves it out.
const hotTableDDL = `(
	seq BIGINT, id VARCHAR, tenant_id VARCHAR, entity_id VARCHAR, event_type VARCHAR,
	version BIGINT, "timestamp" TIMESTAMPTZ, ingested_at TIMESTAMPTZ, payload VARCHAR, metadata VARCHAR,
	day VARCHAR)`

// gen is one hot-tier generation: committed events in Go memory, in seq
// order. The applier appends whole batches; after freeze it is immutable.
//
// Queries see a generation through its mirrors, a DuckDB table in each
// engine instance that queries it (a tenant's instance holding only that
// tenant's rows), brought up to date lazily, when a query that pins the
// generation starts.
// Ingest therefore never waits on DuckDB, and events that are flushed before
// any query asks for them never enter DuckDB's memory at all.
type gen struct {
	id    int
	table string // the mirror's qualified name

	mu     sync.Mutex
	chunks [][]allsource.Event // guarded by mu; chunks are immutable

	rows    atomic.Int64
	bytes   atomic.Int64
	seqLo   uint64 // written by the applier before the rows counter rises
	seqHi   uint64
	firstAt time.Time

	mirrorMu sync.Mutex
	mirrors  map[*engine]*mirror // made when a query of that instance needs it; guarded by mirrorMu
	dropped  bool                // guarded by mirrorMu

	ents genEntities // its rows by entity, for entity reads; built by them
	cols genColumns  // its rows as event columns, for the column path; built by scans
}

// genEntities finds a generation's rows by entity id. Entity reads extend
// it to the rows appended since the last one (each row is looked at once,
// and ingest pays nothing); it holds one entry per entity of the
// generation, so its memory is bounded by the flush thresholds.
type genEntities struct {
	mu         sync.Mutex
	chunk, off int // the next row to take in: chunks[chunk][off]
	rows       map[string][]rowRef
}

type rowRef struct{ chunk, off int32 }

// entityRows returns the generation's events of entity (any tenant), in
// append order.
func (g *gen) entityRows(entity string) []*allsource.Event {
	x := &g.ents
	x.mu.Lock()
	defer x.mu.Unlock()
	// Under x.mu: another reader may have taken in rows of a newer
	// snapshot, whose chunks an older one would not hold.
	chunks := g.snapshot()
	if x.rows == nil {
		x.rows = map[string][]rowRef{}
	}
	for ; x.chunk < len(chunks); x.chunk, x.off = x.chunk+1, 0 {
		c := chunks[x.chunk] // complete: chunks are immutable
		for ; x.off < len(c); x.off++ {
			id := c[x.off].EntityID
			x.rows[id] = append(x.rows[id], rowRef{int32(x.chunk), int32(x.off)})
		}
	}
	refs := x.rows[entity]
	out := make([]*allsource.Event, len(refs))
	for i, r := range refs {
		out[i] = &chunks[r.chunk][r.off]
	}
	return out
}

type mirror struct {
	tenant string // the rows it takes (allScopes: all)
	conn   driver.Conn
	app    *duckdb.Appender
	rows   int64 // rows of the generation gone through so far (copied or, another tenant's, skipped)
	chunk  int   // position of the next row: chunks[chunk][off]
	off    int
	days   dayCache
}

func (g *gen) rowCount() int64  { return g.rows.Load() }
func (g *gen) byteCount() int64 { return g.bytes.Load() }

// snapshot returns the chunks appended so far.
func (g *gen) snapshot() [][]allsource.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.chunks[:len(g.chunks):len(g.chunks)]
}

// newGen makes the next generation the append target. Applier goroutine (or
// Open) only.
func (w *Warehouse) newGen() *gen {
	w.nextGen++
	g := &gen{id: w.nextGen, table: fmt.Sprintf("_hot.gen_%d", w.nextGen)}
	w.active = g
	return g
}

// Append adds committed events to the active generation; they are visible to
// queries that start after it returns. Events must come in seq order, and
// evs must not be modified afterwards. Applier goroutine only.
func (w *Warehouse) Append(evs []allsource.Event) error {
	if err := w.failed(); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	var nbytes int64
	for i := range evs {
		e := &evs[i]
		nbytes += int64(len(e.Payload) + len(e.Metadata) + len(e.EntityID) + len(e.EventType) + len(e.ID) + 96)
	}
	g := w.active
	if g.rows.Load() == 0 {
		g.seqLo = evs[0].Seq
		g.firstAt = time.Now()
	}
	g.seqHi = evs[len(evs)-1].Seq
	g.mu.Lock()
	g.chunks = append(g.chunks, evs)
	g.mu.Unlock()
	g.bytes.Add(nbytes)
	g.rows.Add(int64(len(evs)))
	w.tenantMu.Lock()
	for i := range evs {
		if i+1 == len(evs) || evs[i+1].Tenant != evs[i].Tenant {
			w.tenantSeq[evs[i].Tenant] = evs[i].Seq
		}
	}
	w.tenantMu.Unlock()
	w.lastSeq.Store(evs[len(evs)-1].Seq)
	return nil
}

// DataWatermark is the highest seq queries can see: it changes exactly
// when new data becomes visible, so it keys caches of query results.
func (w *Warehouse) DataWatermark() uint64 { return w.lastSeq.Load() }

// TenantWatermark is DataWatermark for one tenant's events: it changes
// only when that tenant's data does (other tenants' appends, such as the
// audit log's, leave it alone). Before the tenant's first append since
// start it is the watermark the warehouse opened with.
func (w *Warehouse) TenantWatermark(tenant string) uint64 {
	w.tenantMu.Lock()
	defer w.tenantMu.Unlock()
	if s, ok := w.tenantSeq[tenant]; ok {
		return s
	}
	return w.startSeq
}

// syncMirror brings g's mirror in instance e up to at least upto rows,
// creating it on first use. The caller holds a lease on e.
func (w *Warehouse) syncMirror(ctx context.Context, e *engine, g *gen, upto int64) error {
	g.mirrorMu.Lock()
	defer g.mirrorMu.Unlock()
	if g.dropped {
		return fmt.Errorf("warehouse: generation %d was dropped while pinned", g.id)
	}
	m := g.mirrors[e]
	if m == nil {
		// OR REPLACE: a mirror dropped after a failed fill may have left a
		// partial table behind.
		if _, err := e.db.ExecContext(ctx, "CREATE OR REPLACE TABLE "+g.table+" "+hotTableDDL); err != nil {
			return fmt.Errorf("warehouse: create %s: %w", g.table, err)
		}
		// Point queries on entity_id (an entity's stream) use the index
		// instead of scanning the generation; filling it costs little.
		if _, err := e.db.ExecContext(ctx, fmt.Sprintf("CREATE INDEX gen_%d_entity ON %s (entity_id)", g.id, g.table)); err != nil {
			return fmt.Errorf("warehouse: index %s: %w", g.table, err)
		}
		conn, err := e.connector.Connect(ctx)
		if err != nil {
			return fmt.Errorf("warehouse: engine connection: %w", err)
		}
		app, err := duckdb.NewAppender(conn, "", "_hot", fmt.Sprintf("gen_%d", g.id))
		if err != nil {
			conn.Close()
			return fmt.Errorf("warehouse: appender for %s: %w", g.table, err)
		}
		m = &mirror{tenant: e.tenant, conn: conn, app: app}
		if g.mirrors == nil {
			g.mirrors = map[*engine]*mirror{}
		}
		g.mirrors[e] = m
		w.engMu.Lock()
		if e.mirrored == nil {
			e.mirrored = map[*gen]bool{}
		}
		e.mirrored[g] = true
		w.engMu.Unlock()
	}
	if m.rows >= upto {
		return nil
	}
	if err := w.fillMirror(g, m, upto); err != nil {
		// The appender may be unusable and the table may lack rows that
		// m.rows counts: start the mirror over on the next query.
		m.app.Close()
		m.conn.Close()
		delete(g.mirrors, e)
		if _, derr := e.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+g.table); derr != nil {
			w.log.Warn("drop broken mirror", "table", g.table, "err", derr)
		}
		return err
	}
	return nil
}

func (w *Warehouse) fillMirror(g *gen, m *mirror, upto int64) error {
	chunks := g.snapshot()
	all := m.tenant == allScopes
	for m.rows < upto && m.chunk < len(chunks) {
		c := chunks[m.chunk]
		for ; m.off < len(c) && m.rows < upto; m.off++ {
			e := &c[m.off]
			m.rows++
			if !all && e.Tenant != m.tenant {
				continue
			}
			err := m.app.AppendRow(int64(e.Seq), e.ID, e.Tenant, e.EntityID, e.EventType, int64(e.Version),
				e.Timestamp, e.IngestedAt, bytesString(e.Payload), bytesString(e.Metadata), m.days.day(e.Timestamp))
			if err != nil {
				return fmt.Errorf("warehouse: mirror seq %d: %w", e.Seq, err)
			}
		}
		if m.off == len(c) {
			m.chunk++
			m.off = 0
		}
	}
	if err := m.app.Flush(); err != nil {
		return fmt.Errorf("warehouse: mirror flush: %w", err)
	}
	return nil
}

// dropGen releases a flushed generation: its mirrors and its events.
func (w *Warehouse) dropGen(g *gen) {
	g.mirrorMu.Lock()
	defer g.mirrorMu.Unlock()
	g.dropped = true
	for e, m := range g.mirrors {
		m.app.Close()
		m.conn.Close()
		delete(g.mirrors, e)
		w.engMu.Lock()
		delete(e.mirrored, g)
		closed := e.closed
		w.engMu.Unlock()
		if closed {
			continue
		}
		if _, err := e.db.Exec("DROP TABLE IF EXISTS " + g.table); err != nil {
			w.log.Warn("drop flushed generation", "table", g.table, "err", err)
		}
	}
	g.mu.Lock()
	g.chunks = nil
	g.mu.Unlock()
}

// dayCache formats UTC dates, reusing the last string while events fall on
// the same day.
type dayCache struct {
	last    int64
	lastStr string
}

func (d *dayCache) day(t time.Time) string {
	u := t.Unix()
	n := u / 86400
	if u < 0 && u%86400 != 0 {
		n--
	}
	if n != d.last || d.lastStr == "" {
		d.last = n
		d.lastStr = t.UTC().Format("2006-01-02")
	}
	return d.lastStr
}

// bytesString views b as a string without copying; the appender copies it.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ShouldFreeze reports whether the active generation is due for a flush.
// Applier goroutine only.
func (w *Warehouse) ShouldFreeze() bool {
	g := w.active
	n := g.rows.Load()
	if n == 0 {
		return false
	}
	return n >= int64(w.opts.FlushRows) || g.bytes.Load() >= w.opts.FlushBytes || time.Since(g.firstAt) >= w.opts.FlushAge
}

// Freeze seals the active generation (if it has rows), starts a new one and
// hands the sealed one to the flusher. It blocks while MaxFrozen
// generations already wait, which pushes back on ingest. Applier goroutine
// only.
func (w *Warehouse) Freeze(ctx context.Context) error {
	if err := w.failed(); err != nil {
		return err
	}
	old := w.active
	if old.rows.Load() == 0 {
		return nil
	}
	g := w.newGen()
	w.publish(func(v *version) {
		v.gens = append(append([]*gen(nil), v.gens...), g)
	})
	select {
	case w.frozen <- old:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.failCh:
		return w.failed()
	case <-w.stop:
		return allsource.Errorf(allsource.CodeUnavailable, "the warehouse is closing")
	}
}

func (w *Warehouse) fail(err error) error {
	w.mu.Lock()
	if w.failErr == nil {
		w.failErr = err
		close(w.failCh)
		w.log.Error("warehouse failed; refusing further writes", "err", err)
	}
	w.mu.Unlock()
	return err
}

// Healthy returns the error that put the warehouse in the failed state, or
// nil.
func (w *Warehouse) Healthy() error {
	if err := w.failed(); err != nil {
		return &allsource.Error{Code: allsource.CodeUnavailable, Message: "the warehouse failed to write Parquet; writes are refused until restart (see the server log)", Index: -1, Err: err}
	}
	return nil
}

func (w *Warehouse) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failErr
}
