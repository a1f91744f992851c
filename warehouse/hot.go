package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// columns is the table layout shared by the hot tier, Parquet files and the
// events view.
const columns = `seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata`

// The hot tables and Parquet files also carry day, the event's UTC date as
// yyyy-mm-dd: the partition key. The events view leaves it out.
const hotTableDDL = `(
	seq BIGINT, id VARCHAR, tenant_id VARCHAR, entity_id VARCHAR, event_type VARCHAR,
	version BIGINT, "timestamp" TIMESTAMPTZ, ingested_at TIMESTAMPTZ, payload VARCHAR, metadata VARCHAR,
	day VARCHAR)`

// gen is one hot-tier generation: an in-memory table. Only the applier
// goroutine appends; after freeze it is read-only.
type gen struct {
	id      int
	table   string // qualified name
	rows    atomic.Int64
	bytes   atomic.Int64
	seqLo   uint64
	seqHi   uint64
	firstAt time.Time
}

func (g *gen) rowCount() int64  { return g.rows.Load() }
func (g *gen) byteCount() int64 { return g.bytes.Load() }

// hotWriter appends to the active generation.
type hotWriter struct {
	g    *gen
	conn driver.Conn
	app  *duckdb.Appender

	// The last day string made, reused while events fall on the same day.
	lastDay    int64 // Unix day number
	lastDayStr string
}

// day returns t's UTC date as yyyy-mm-dd.
func (h *hotWriter) day(t time.Time) string {
	d := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		d--
	}
	if d != h.lastDay || h.lastDayStr == "" {
		h.lastDay = d
		h.lastDayStr = t.UTC().Format("2006-01-02")
	}
	return h.lastDayStr
}

func (h *hotWriter) close() error {
	var err error
	if h.app != nil {
		err = h.app.Close()
		h.app = nil
	}
	if h.conn != nil {
		if cerr := h.conn.Close(); err == nil {
			err = cerr
		}
		h.conn = nil
	}
	return err
}

// newGen creates the next generation table and makes it the append target.
func (w *Warehouse) newGen(ctx context.Context) (*gen, error) {
	w.nextGen++
	g := &gen{id: w.nextGen, table: fmt.Sprintf("_hot.gen_%d", w.nextGen)}
	if _, err := w.engine.ExecContext(ctx, "CREATE TABLE "+g.table+" "+hotTableDDL); err != nil {
		return nil, fmt.Errorf("warehouse: create %s: %w", g.table, err)
	}
	conn, err := w.rawConn(ctx)
	if err != nil {
		return nil, err
	}
	app, err := duckdb.NewAppender(conn, "", "_hot", fmt.Sprintf("gen_%d", g.id))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: appender for %s: %w", g.table, err)
	}
	w.hot = &hotWriter{g: g, conn: conn, app: app}
	return g, nil
}

func (w *Warehouse) rawConn(ctx context.Context) (driver.Conn, error) {
	c, err := w.connector.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("warehouse: engine connection: %w", err)
	}
	return c, nil
}

// Append adds committed events to the active generation; they are visible to
// queries that start after it returns. Events must come in seq order.
// Applier goroutine only.
func (w *Warehouse) Append(evs []allsource.Event) error {
	if err := w.failed(); err != nil {
		return err
	}
	h := w.hot
	if len(evs) == 0 {
		return nil
	}
	var nbytes int64
	for i := range evs {
		e := &evs[i]
		err := h.app.AppendRow(int64(e.Seq), e.ID, e.Tenant, e.EntityID, e.EventType, int64(e.Version),
			e.Timestamp, e.IngestedAt, bytesString(e.Payload), bytesString(e.Metadata), h.day(e.Timestamp))
		if err != nil {
			return w.fail(fmt.Errorf("warehouse: append seq %d: %w", e.Seq, err))
		}
		nbytes += int64(len(e.Payload) + len(e.Metadata) + len(e.EntityID) + len(e.EventType) + 80)
	}
	if err := h.app.Flush(); err != nil {
		return w.fail(fmt.Errorf("warehouse: flush appender: %w", err))
	}
	g := h.g
	if g.rows.Load() == 0 {
		g.seqLo = evs[0].Seq
		g.firstAt = time.Now()
	}
	g.seqHi = evs[len(evs)-1].Seq
	g.rows.Add(int64(len(evs)))
	g.bytes.Add(nbytes)
	return nil
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
	g := w.hot.g
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
	old := w.hot
	if old.g.rows.Load() == 0 {
		return nil
	}
	if err := old.close(); err != nil {
		return w.fail(fmt.Errorf("warehouse: seal %s: %w", old.g.table, err))
	}
	g, err := w.newGen(ctx)
	if err != nil {
		return w.fail(err)
	}
	w.publish(func(v *version) {
		v.gens = append(append([]*gen(nil), v.gens...), g)
	})
	select {
	case w.frozen <- old.g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return allsource.Errorf(allsource.CodeUnavailable, "the warehouse is closing")
	}
}

func (w *Warehouse) fail(err error) error {
	w.mu.Lock()
	if w.failErr == nil {
		w.failErr = err
		w.log.Error("warehouse failed; refusing further writes", "err", err)
	}
	w.mu.Unlock()
	return err
}

func (w *Warehouse) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failErr
}
