package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// Engine instances. The statement guard decides what a user statement may
// name; behind it, each tenant's statements run in an engine instance of
// their own whose file sandbox (allowed_directories, an instance setting)
// holds only that tenant's partitions and projection folder, and whose
// catalog holds only that tenant's hot rows and projection tables. A
// statement that got past the guard still finds nothing of another tenant
// to read: no file it may open, no table that holds another tenant's rows.
//
// The server's own instance (the main engine) sees every tenant: it
// serves the server's queries without a tenant scope, cross-tenant
// administrator queries, flush and compaction. A tenant's instance is
// created on its first query and closed when nothing has used it for
// Options.EngineIdle; a running projection holds its tenant's instance
// open (its state tables live there).

// engine is one DuckDB instance.
type engine struct {
	tenant    string // allScopes for the main engine
	db        *sql.DB
	connector *duckdb.Connector

	// guarded by Warehouse.engMu
	leases   int
	idle     []*queryConn // query connections not in use
	lastUsed time.Time
	closed   bool
	mirrored map[*gen]bool // generations with a mirror in this instance
}

// engineKey is the instance a tenant scope's statements run in.
func engineKey(tenant string) string {
	if tenant == allsource.AllTenants {
		return allScopes
	}
	return tenant
}

// engineDirsFor are the directories tenant's instance may touch: its own
// partitions and projection folder (the main engine: the whole warehouse,
// projections and temp folders).
func (w *Warehouse) engineDirsFor(tenant string) []string {
	if tenant == allScopes {
		return w.engineDirs()
	}
	sep := string(filepath.Separator)
	return []string{
		filepath.Join(w.whDir, "tenant="+tenant) + sep,
		filepath.Join(w.projDir, tenant) + sep,
	}
}

// newEngine opens an instance for tenant (allScopes: the main engine) and
// runs the setup every instance gets: settings, internal schemas, the
// statements given to Exec, then the sandbox, locked.
func (w *Warehouse) newEngine(ctx context.Context, tenant string, setup []string) (*engine, error) {
	init := []string{
		fmt.Sprintf("SET GLOBAL threads = %d", w.opts.Threads),
		"SET GLOBAL parquet_metadata_cache = true",
		"SET GLOBAL TimeZone = 'UTC'",
		"CREATE SCHEMA IF NOT EXISTS _hot",
		"CREATE SCHEMA IF NOT EXISTS " + internalSchema,
	}
	if w.opts.MemLimit != "" {
		init = append(init, fmt.Sprintf("SET GLOBAL memory_limit = %s", sqlString(w.opts.MemLimit)))
	}
	if len(setup) > 0 {
		// One round of statements: each Exec call has its own overhead.
		init = append(init, strings.Join(setup, ";\n"))
	}
	init = append(init,
		fmt.Sprintf("SET allowed_directories = [%s]", sqlList(w.engineDirsFor(tenant))),
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	)
	if tenant != allScopes {
		// Projection checkpoints are written there by the instance.
		if err := os.MkdirAll(filepath.Join(w.projDir, tenant), 0o755); err != nil {
			return nil, fmt.Errorf("warehouse: %w", err)
		}
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("warehouse: open engine: %w", err)
	}
	e := &engine{tenant: tenant, connector: connector, db: sql.OpenDB(connector), lastUsed: time.Now()}
	e.db.SetMaxIdleConns(w.opts.QueryConns + 4)
	for _, q := range init {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			e.db.Close()
			connector.Close()
			return nil, fmt.Errorf("warehouse: engine %.80q: %w", q, err)
		}
	}
	if w.index != nil {
		if err := w.registerEntityScan(ctx, e, tenant); err != nil {
			e.db.Close()
			connector.Close()
			return nil, err
		}
	}
	return e, nil
}

// leaseEngine returns the instance of tenant's scope, creating it if need
// be, and keeps it open until unleaseEngine.
func (w *Warehouse) leaseEngine(ctx context.Context, tenant string) (*engine, error) {
	key := engineKey(tenant)
	w.engMu.Lock()
	if key == allScopes {
		w.main.leases++
		w.engMu.Unlock()
		return w.main, nil
	}
	if e := w.engines[key]; e != nil {
		e.leases++
		w.engMu.Unlock()
		return e, nil
	}
	w.engMu.Unlock()

	// Created outside engMu (it takes a while) but under createMu, which
	// Exec also holds: a new instance gets every setup statement exactly
	// once.
	w.createMu.Lock()
	defer w.createMu.Unlock()
	w.engMu.Lock()
	if e := w.engines[key]; e != nil {
		e.leases++
		w.engMu.Unlock()
		return e, nil
	}
	closed := w.engines == nil
	w.engMu.Unlock()
	if closed {
		return nil, errors.New("warehouse: closed")
	}
	start := time.Now()
	e, err := w.newEngine(ctx, key, w.setup)
	if err != nil {
		return nil, err
	}
	w.engMu.Lock()
	e.leases = 1
	w.engines[key] = e
	w.engMu.Unlock()
	w.log.Debug("engine instance opened", "tenant", key, "took", time.Since(start))
	return e, nil
}

// unleaseEngine ends a lease.
func (w *Warehouse) unleaseEngine(e *engine) {
	w.engMu.Lock()
	e.leases--
	e.lastUsed = time.Now()
	w.engMu.Unlock()
}

// EngineInstances is how many tenant engine instances are open.
func (w *Warehouse) EngineInstances() int {
	w.engMu.Lock()
	defer w.engMu.Unlock()
	return len(w.engines)
}

// evictIdle closes the tenant instances unused for longer than idle.
func (w *Warehouse) evictIdle(idle time.Duration) {
	now := time.Now()
	var evict []*engine
	w.engMu.Lock()
	for k, e := range w.engines {
		if e.leases == 0 && now.Sub(e.lastUsed) >= idle {
			e.closed = true
			delete(w.engines, k)
			evict = append(evict, e)
		}
	}
	w.engMu.Unlock()
	for _, e := range evict {
		w.closeEngine(e)
		w.log.Debug("engine instance closed after idling", "tenant", e.tenant)
	}
}

func (w *Warehouse) evictLoop() {
	defer w.done.Done()
	every := min(w.opts.EngineIdle/2, 30*time.Second)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.evictIdle(w.opts.EngineIdle)
		}
	}
}

// closeEngine closes an instance no query uses (marked closed and out of
// the map, or at Close): its connections, its generation mirrors, the
// database.
func (w *Warehouse) closeEngine(e *engine) error {
	w.engMu.Lock()
	e.closed = true
	idle := e.idle
	e.idle = nil
	var gens []*gen
	for g := range e.mirrored {
		gens = append(gens, g)
	}
	w.engMu.Unlock()
	var errs []error
	for _, qc := range idle {
		qc.dropStmts()
		if qc.conn != nil {
			errs = append(errs, qc.conn.Close())
		}
	}
	for _, g := range gens {
		g.mirrorMu.Lock()
		if m := g.mirrors[e]; m != nil {
			m.app.Close()
			m.conn.Close()
			delete(g.mirrors, e)
		}
		g.mirrorMu.Unlock()
	}
	errs = append(errs, e.db.Close(), e.connector.Close())
	return errors.Join(errs...)
}

// takeConn is an idle query connection of e, or a new unopened one.
func (w *Warehouse) takeConn(e *engine) *queryConn {
	w.engMu.Lock()
	defer w.engMu.Unlock()
	if n := len(e.idle); n > 0 {
		qc := e.idle[n-1]
		e.idle = e.idle[:n-1]
		return qc
	}
	return &queryConn{}
}

// putConn keeps qc for e's next query, or closes it when broken (a
// failure or panic may have left it mid-result) or when e keeps enough.
func (w *Warehouse) putConn(e *engine, qc *queryConn, broken bool) {
	if !broken && qc.conn != nil {
		w.engMu.Lock()
		if !e.closed && len(e.idle) < w.opts.QueryConns {
			e.idle = append(e.idle, qc)
			w.engMu.Unlock()
			return
		}
		w.engMu.Unlock()
	}
	qc.discard()
}

// held is what a running query holds: a fair-share slot of its tenant, a
// global slot, a lease on its instance and a connection of it.
type held struct {
	w     *Warehouse
	e     *engine
	qc    *queryConn
	leave func()
}

// acquire waits for the query slots of ctx's scope and takes a connection
// of its instance (opened, not yet bound to a view).
func (w *Warehouse) acquire(ctx context.Context) (*held, error) {
	tenant := scopeOf(ctx).tenant
	leave, err := w.acquireSlots(ctx)
	if err != nil {
		return nil, err
	}
	e, err := w.leaseEngine(ctx, tenant)
	if err != nil {
		leave()
		return nil, err
	}
	h := &held{w: w, e: e, qc: w.takeConn(e), leave: leave}
	if h.qc.conn == nil {
		c, err := w.openQueryConn(ctx, e)
		if err != nil {
			h.release(true)
			return nil, err
		}
		h.qc.conn = c
	}
	return h, nil
}

// acquireSlots waits for one of the tenant's query slots and one of the
// server's (QueryConns); every query takes them, whichever way it runs.
// leave gives both back.
func (w *Warehouse) acquireSlots(ctx context.Context) (leave func(), err error) {
	leaveTenant, err := w.fair.acquire(ctx, scopeOf(ctx).tenant)
	if err != nil {
		return nil, err
	}
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		leaveTenant()
		return nil, ctx.Err()
	}
	return func() { <-w.slots; leaveTenant() }, nil
}

// release gives everything back; broken closes the connection instead of
// keeping it.
func (h *held) release(broken bool) {
	h.w.putConn(h.e, h.qc, broken)
	h.w.unleaseEngine(h.e)
	h.leave()
}

// Engine is a lease on a tenant's engine instance for trusted work by
// packages above the warehouse (projection state tables, which that
// tenant's queries then read as projections.<name>). The instance stays
// open until Release.
type Engine struct {
	w    *Warehouse
	e    *engine
	once sync.Once
}

// Engine leases tenant's instance.
func (w *Warehouse) Engine(ctx context.Context, tenant string) (*Engine, error) {
	if tenant == "" || tenant == allScopes || tenant == allsource.AllTenants {
		return nil, fmt.Errorf("warehouse: an engine lease names one tenant, not %q", tenant)
	}
	e, err := w.leaseEngine(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return &Engine{w: w, e: e}, nil
}

// Conn is a connection of the instance, without an events view. The
// caller closes it before Release.
func (l *Engine) Conn(ctx context.Context) (*sql.Conn, error) { return l.e.db.Conn(ctx) }

// Release ends the lease (once; later calls do nothing).
func (l *Engine) Release() {
	l.once.Do(func() { l.w.unleaseEngine(l.e) })
}

// Exec runs trusted DDL in every engine instance, and in every instance
// opened later (for example the catalog tables that protocol front ends
// answer from). It must not touch the events view.
func (w *Warehouse) Exec(ctx context.Context, stmts ...string) error {
	w.createMu.Lock()
	defer w.createMu.Unlock()
	w.engMu.Lock()
	all := []*engine{w.main}
	for _, e := range w.engines {
		all = append(all, e)
		e.leases++ // not closed meanwhile
	}
	w.engMu.Unlock()
	defer func() {
		for _, e := range all[1:] {
			w.unleaseEngine(e)
		}
	}()
	for _, e := range all {
		for _, s := range stmts {
			if _, err := e.db.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("warehouse: exec %.60q: %w", s, err)
			}
		}
	}
	w.setup = append(w.setup, stmts...)
	return nil
}
