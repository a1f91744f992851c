package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// Kinds of projection.
const (
	KindSQL = "sql"
	KindJS  = "js"
)

// What a projection does with an event it cannot apply (after retries):
// park it in the dead-letter table and go on, or park it and stop.
const (
	OnErrorSkip = "skip"
	OnErrorStop = "stop"
)

// Definition is one version of a projection.
type Definition struct {
	Tenant  string    `json:"tenant"`
	Name    string    `json:"name"`
	Version int64     `json:"version"`
	Kind    string    `json:"kind"`
	Source  string    `json:"source"`
	OnError string    `json:"on_error"`
	Stopped bool      `json:"stopped,omitempty"`
	Created time.Time `json:"created_at"`
}

// Observer receives projection figures for metrics.
type Observer interface {
	Applied(tenant, name string, events int, visibility time.Duration)
	Failed(tenant, name string)
}

// Options tune the engine.
type Options struct {
	CheckpointEvery time.Duration // default 5 s
	SnapshotEvery   time.Duration // keep a checkpoint as a snapshot this often; default 10 min
	KeepSnapshots   int           // default 144
	Buffer          int           // live events a runner may be behind before it reads from storage; default 1,000,000
	MaxBatch        int           // events applied in one transaction at most; default 50,000
	// ApplyEvery spaces a running projection's applies at least this far
	// apart: events arriving meanwhile are applied together, so ten
	// projections under a fast stream pay their per-batch engine cost
	// 1/ApplyEvery times a second, not once per ingest batch; default
	// 40 ms (a negative value applies every batch as it comes).
	ApplyEvery time.Duration
	Retries    int           // per batch and per event; default 3
	RetryWait  time.Duration // first back-off; default 20 ms, ×4 each retry
	JS         JSLimits
	// MaxPerTenant bounds a tenant's projections (each runs its own
	// runner and state tables); default 100.
	MaxPerTenant int
	// FirstBuildWait is how long creating a projection waits for its
	// first build to catch up, so that reads right after it see every
	// event; default 10 s. Past it, creation returns and says how far
	// the build is.
	FirstBuildWait time.Duration
	Logger         *slog.Logger
	Observe        Observer
	// Fault, when set, is asked at each step of applying and saving; true
	// makes the engine act as if the process died there (tests).
	Fault func(point string) bool
}

func (o *Options) defaults() {
	if o.MaxPerTenant <= 0 {
		o.MaxPerTenant = 100
	}
	if o.FirstBuildWait <= 0 {
		o.FirstBuildWait = 10 * time.Second
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 5 * time.Second
	}
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = 10 * time.Minute
	}
	if o.KeepSnapshots <= 0 {
		o.KeepSnapshots = 144
	}
	if o.Buffer <= 0 {
		o.Buffer = 1_000_000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 50_000
	}
	if o.ApplyEvery == 0 {
		o.ApplyEvery = 40 * time.Millisecond
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 3
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.JS.defaults()
}

// Engine runs the projections of every tenant.
type Engine struct {
	wh   *warehouse.Warehouse
	hub  *Hub
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	projs   map[projKey]*projection
	closed  bool
	crashed atomic.Bool // a fault stopped it (tests): no checkpoint at Close
}

type projKey struct{ tenant, name string }

// projection is a name's active version and the one rebuilding to replace
// it.
type projection struct {
	active *runner
	next   *runner
}

// live is the versions that have state tables (a version that could not
// start has none).
func (p *projection) live() []*runner {
	var out []*runner
	for _, r := range []*runner{p.active, p.next} {
		if r != nil && r.f != nil {
			out = append(out, r)
		}
	}
	return out
}

// errCrashed is a fault the tests inject: the runner stops where it is.
var errCrashed = errors.New("projections: crashed (fault injection)")

func (e *Engine) fault(point string) error {
	if e.opts.Fault != nil && e.opts.Fault(point) {
		e.crashed.Store(true)
		return errCrashed
	}
	return nil
}

// Open starts the projections defined in the catalog, each from its last
// checkpoint.
func Open(ctx context.Context, wh *warehouse.Warehouse, hub *Hub, o Options) (*Engine, error) {
	o.defaults()
	e := &Engine{wh: wh, hub: hub, opts: o, log: o.Logger, projs: map[projKey]*projection{}}
	defs, err := e.loadDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		p := e.projs[projKey{d.Tenant, d.Name}]
		if p == nil {
			p = &projection{}
			e.projs[projKey{d.Tenant, d.Name}] = p
		}
		r, err := e.newRunner(ctx, d.Definition)
		if err != nil {
			e.log.Error("projection cannot start", "tenant", d.Tenant, "projection", d.Name, "version", d.Version, "err", err)
			r = &runner{e: e, def: d.Definition, status: StatusFaulted, reason: err.Error(), progress: make(chan struct{})}
		}
		if d.active {
			p.active = r
			if r.f != nil {
				wh.Publish(d.Tenant, d.Name, r.f.view())
			}
		} else {
			p.next = r
		}
		if r.f != nil && !d.Stopped {
			r.start()
		} else if r.f != nil {
			r.status = StatusStopped
		}
	}
	return e, nil
}

type storedDef struct {
	Definition
	active bool
}

func (e *Engine) loadDefinitions(ctx context.Context) ([]storedDef, error) {
	rows, err := e.wh.Catalog().QueryContext(ctx, `SELECT tenant_id, name, version, kind, source, on_error, stopped, active, created_at
		FROM projection_versions ORDER BY tenant_id, name, version`)
	if err != nil {
		return nil, fmt.Errorf("projections: read definitions: %w", err)
	}
	defer rows.Close()
	var out []storedDef
	for rows.Next() {
		var d storedDef
		if err := rows.Scan(&d.Tenant, &d.Name, &d.Version, &d.Kind, &d.Source, &d.OnError, &d.Stopped, &d.active, &d.Created); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// tableName is the engine table of a version's state.
func tableName(d Definition) string {
	return fmt.Sprintf("p_%x_%s_v%d", d.Tenant, d.Name, d.Version)
}

func (e *Engine) dirOf(d Definition) string {
	return filepath.Join(e.wh.ProjectionsDir(), d.Tenant, d.Name, fmt.Sprintf("v%d", d.Version))
}

func (e *Engine) newFolder(ctx context.Context, d Definition, table string) (folder, error) {
	switch d.Kind {
	case KindSQL:
		sd, err := parseSQLDef(d.Source)
		if err != nil {
			return nil, err
		}
		return newSQLFolder(ctx, e.wh, d.Tenant, table, sd)
	case KindJS:
		p, err := compileJS(d.Source)
		if err != nil {
			return nil, err
		}
		return newJSFolder(ctx, e.wh, d.Tenant, table, p, e.opts.JS)
	}
	return nil, allsource.Errorf(allsource.CodeInvalid, "projection kind %q (want sql or js)", d.Kind)
}

// newRunner prepares a version: its tables, restored from its checkpoint.
func (e *Engine) newRunner(ctx context.Context, d Definition) (*runner, error) {
	r := &runner{e: e, def: d, dir: e.dirOf(d), table: tableName(d), progress: make(chan struct{}), status: StatusCatchingUp}
	f, err := e.newFolder(ctx, d, r.table)
	if err != nil {
		return nil, err
	}
	r.f = f
	switch x := f.(type) {
	case *sqlFolder:
		x.fault = e.fault
	case *jsFolder:
		x.fault = e.fault
	}
	if err := r.restore(ctx); err != nil {
		f.close()
		return nil, err
	}
	return r, nil
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Spec is what a client sends to define a projection.
type Spec struct {
	Name    string `json:"name"`
	SQL     string `json:"sql,omitempty"`
	JS      string `json:"js,omitempty"`
	OnError string `json:"on_error,omitempty"` // skip (default) or stop
}

func (s *Spec) definition(tenant string) (Definition, error) {
	d := Definition{Tenant: tenant, Name: s.Name, OnError: s.OnError}
	if !nameRE.MatchString(s.Name) {
		return d, &allsource.Error{Code: allsource.CodeInvalid, Field: "name", Index: -1,
			Message: fmt.Sprintf("name: %q is not a projection name (lower-case letters, digits and _, starting with a letter or _, at most 63)", s.Name)}
	}
	switch {
	case s.SQL != "" && s.JS != "":
		return d, &allsource.Error{Code: allsource.CodeInvalid, Field: "sql", Index: -1, Message: "give sql or js, not both"}
	case s.SQL != "":
		d.Kind, d.Source = KindSQL, s.SQL
	case s.JS != "":
		d.Kind, d.Source = KindJS, s.JS
	default:
		return d, &allsource.Error{Code: allsource.CodeInvalid, Field: "sql", Index: -1, Message: "a projection needs sql (a grouped SELECT over events) or js (fold functions)"}
	}
	switch d.OnError {
	case "":
		d.OnError = OnErrorSkip
	case OnErrorSkip, OnErrorStop:
	default:
		return d, &allsource.Error{Code: allsource.CodeInvalid, Field: "on_error", Index: -1, Message: fmt.Sprintf("on_error: %q (want skip or stop)", d.OnError)}
	}
	return d, nil
}

// validate compiles a definition and creates its tables under a scratch
// name, so a definition the engine cannot run is refused at once.
func (e *Engine) validate(ctx context.Context, d Definition) error {
	if d.Kind == KindSQL {
		// The projection's own rules first (its messages say what a
		// projection may hold), then the user's SELECT as written, so
		// that what the engine says about it (an unknown column, a type
		// error) speaks of that text, not of the statements the
		// projection is run with.
		if _, err := parseSQLDef(d.Source); err != nil {
			return err
		}
		if err := e.wh.CheckQuery(ctx, d.Source); err != nil {
			return allsource.Errorf(allsource.CodeInvalid, "projection %s: %s", d.Name, allsource.ErrorMessage(err))
		}
		rows, err := e.wh.QueryInternal(allsource.WithTenantScope(ctx, d.Tenant), "DESCRIBE "+d.Source)
		if err != nil {
			return allsource.Errorf(allsource.CodeInvalid, "projection %s: %s", d.Name, cleanEngineError(err))
		}
		rows.Close()
	}
	f, err := e.newFolder(ctx, d, fmt.Sprintf("check_%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	defer f.close()
	if sf, ok := f.(*sqlFolder); ok {
		// The statements it will run get the checks user queries get:
		// no file access, no internal schemas, no denied functions.
		for _, q := range sf.st.checks {
			if err := e.wh.CheckQuery(ctx, q); err != nil {
				return allsource.Errorf(allsource.CodeInvalid, "projection %s: %s", d.Name, allsource.ErrorMessage(err))
			}
		}
	}
	err = f.setup(ctx)
	f.drop(context.WithoutCancel(ctx))
	if err != nil {
		var ae *allsource.Error
		if errors.As(err, &ae) {
			return err
		}
		return allsource.Errorf(allsource.CodeInvalid, "projection %s: %v", d.Name, cleanEngineError(err))
	}
	return nil
}

// Create defines a projection. With replace, an existing one gets a new
// version that rebuilds in the background while the current version keeps
// serving, and takes over once caught up; without, an existing name is a
// conflict.
func (e *Engine) Create(ctx context.Context, tenant string, s Spec, replace bool) (Definition, error) {
	d, err := s.definition(tenant)
	if err != nil {
		return d, err
	}
	if err := e.validate(ctx, d); err != nil {
		return d, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return d, allsource.Errorf(allsource.CodeUnavailable, "the server is shutting down")
	}
	k := projKey{tenant, d.Name}
	p := e.projs[k]
	if p != nil && !replace {
		return d, allsource.Errorf(allsource.CodeConflict, "projection %s already exists (replace it with CREATE OR REPLACE PROJECTION or PUT /v1/projections/%s)", d.Name, d.Name)
	}
	if p == nil {
		n := 0
		for k := range e.projs {
			if k.tenant == tenant {
				n++
			}
		}
		if n >= e.opts.MaxPerTenant {
			return d, allsource.Errorf(allsource.CodeTooLarge, "tenant %s has %d projections, the most it may have; drop one first", tenant, n)
		}
	}
	var latest int64
	if err := e.wh.Catalog().QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM projection_versions WHERE tenant_id = ? AND name = ?`, tenant, d.Name).Scan(&latest); err != nil {
		return d, err
	}
	d.Version = latest + 1
	d.Created = time.Now().UTC()
	first := p == nil
	if p != nil && p.next != nil { // a rebuild still running is superseded
		e.retire(ctx, p.next)
		p.next = nil
	}
	if _, err := e.wh.Catalog().ExecContext(ctx, `INSERT INTO projection_versions (tenant_id, name, version, kind, source, on_error, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Tenant, d.Name, d.Version, d.Kind, d.Source, d.OnError, first, d.Created); err != nil {
		return d, fmt.Errorf("projections: record definition: %w", err)
	}
	os.RemoveAll(e.dirOf(d)) // leftovers of a version number used before a crash
	r, err := e.newRunner(ctx, d)
	if err != nil {
		e.wh.Catalog().ExecContext(context.WithoutCancel(ctx), `DELETE FROM projection_versions WHERE tenant_id = ? AND name = ? AND version = ?`, d.Tenant, d.Name, d.Version)
		return d, err
	}
	if first {
		p = &projection{active: r}
		e.projs[k] = p
		e.wh.Publish(tenant, d.Name, r.f.view())
	} else {
		p.next = r
	}
	r.start()
	return d, nil
}

// caughtUp is told when a runner first catches up: a rebuilding version
// then replaces the active one.
func (e *Engine) caughtUp(r *runner) {
	go func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		p := e.projs[projKey{r.def.Tenant, r.def.Name}]
		if e.closed || p == nil || p.next != r {
			return
		}
		ctx := context.Background()
		tx, err := e.wh.Catalog().BeginTx(ctx, nil)
		if err != nil {
			e.log.Error("projection swap failed; trying again at the next batch", "projection", r.def.Name, "err", err)
			r.mu.Lock()
			r.caughtUp = false
			r.mu.Unlock()
			return
		}
		_, err = tx.ExecContext(ctx, `UPDATE projection_versions SET active = (version = ?) WHERE tenant_id = ? AND name = ?`, r.def.Version, r.def.Tenant, r.def.Name)
		if err == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM projection_versions WHERE tenant_id = ? AND name = ? AND version < ?`, r.def.Tenant, r.def.Name, r.def.Version)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			e.log.Error("projection swap failed; trying again at the next batch", "projection", r.def.Name, "err", err)
			r.mu.Lock()
			r.caughtUp = false
			r.mu.Unlock()
			return
		}
		old := p.active
		p.active, p.next = r, nil
		e.wh.Publish(r.def.Tenant, r.def.Name, r.f.view())
		e.log.Info("projection version took over", "tenant", r.def.Tenant, "projection", r.def.Name, "version", r.def.Version)
		if old != nil {
			e.retire(ctx, old)
		}
	}()
}

// retire stops a version and removes its tables and files.
func (e *Engine) retire(ctx context.Context, r *runner) {
	r.stop(false)
	if r.f != nil {
		if err := r.f.drop(context.WithoutCancel(ctx)); err != nil {
			e.log.Warn("drop projection tables", "projection", r.def.Name, "version", r.def.Version, "err", err)
		}
		r.f.close()
	}
	os.RemoveAll(r.dir)
	e.wh.Catalog().ExecContext(context.WithoutCancel(ctx), `DELETE FROM projection_versions WHERE tenant_id = ? AND name = ? AND version = ?`, r.def.Tenant, r.def.Name, r.def.Version)
}

func (e *Engine) get(tenant, name string) (*projection, error) {
	p := e.projs[projKey{tenant, name}]
	if p == nil {
		return nil, allsource.Errorf(allsource.CodeNotFound, "projection %s does not exist", name)
	}
	return p, nil
}

// Stop stops a projection (its rows stay readable, no longer updated).
func (e *Engine) Stop(ctx context.Context, tenant, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.get(tenant, name)
	if err != nil {
		return err
	}
	for _, r := range p.live() {
		r.stop(true)
		r.setStatus(StatusStopped, "")
	}
	_, err = e.wh.Catalog().ExecContext(ctx, `UPDATE projection_versions SET stopped = true WHERE tenant_id = ? AND name = ?`, tenant, name)
	return err
}

// Start starts a stopped or faulted projection from its checkpoint.
func (e *Engine) Start(ctx context.Context, tenant, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.get(tenant, name)
	if err != nil {
		return err
	}
	if _, err := e.wh.Catalog().ExecContext(ctx, `UPDATE projection_versions SET stopped = false WHERE tenant_id = ? AND name = ?`, tenant, name); err != nil {
		return err
	}
	for _, r := range p.live() {
		r.stop(false)
		r.start()
	}
	return nil
}

// Reset rebuilds a projection's active version from the first event.
func (e *Engine) Reset(ctx context.Context, tenant, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.get(tenant, name)
	if err != nil {
		return err
	}
	old := p.active
	if old.f != nil {
		old.stop(false)
		old.f.close()
	}
	os.RemoveAll(old.dir)
	r, err := e.newRunner(ctx, old.def)
	if err != nil {
		// Nothing runs with the closed folder: a faulted placeholder
		// says why until the next reset.
		p.active = &runner{e: e, def: old.def, dir: old.dir, status: StatusFaulted, reason: "reset failed: " + err.Error(), progress: make(chan struct{})}
		return err
	}
	p.active = r
	e.wh.Publish(tenant, name, r.f.view())
	if _, err := e.wh.Catalog().ExecContext(ctx, `UPDATE projection_versions SET stopped = false WHERE tenant_id = ? AND name = ?`, tenant, name); err != nil {
		return err
	}
	r.start()
	return nil
}

// Delete removes a projection, its state and its dead letters.
func (e *Engine) Delete(ctx context.Context, tenant, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.get(tenant, name)
	if err != nil {
		return err
	}
	e.wh.Unpublish(tenant, name)
	for _, r := range []*runner{p.active, p.next} {
		if r != nil {
			e.retire(ctx, r)
		}
	}
	delete(e.projs, projKey{tenant, name})
	os.RemoveAll(filepath.Join(e.wh.ProjectionsDir(), tenant, name))
	if _, err := e.wh.Catalog().ExecContext(ctx, `DELETE FROM projection_versions WHERE tenant_id = ? AND name = ?`, tenant, name); err != nil {
		return err
	}
	_, err = e.wh.Catalog().ExecContext(ctx, `DELETE FROM projection_dead_letters WHERE tenant_id = ? AND name = ?`, tenant, name)
	return err
}

// VersionStatus is one version's state.
type VersionStatus struct {
	Version        int64     `json:"version"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	Position       uint64    `json:"position"`               // every event up to this seq is applied
	LagEvents      uint64    `json:"lag_events"`             // seqs between the position and the tenant's newest event
	LagMillis      int64     `json:"lag_ms"`                 // age of the newest applied event while behind; 0 when caught up
	Events         uint64    `json:"events_applied"`         // since the server started
	Failures       uint64    `json:"failures"`               // failed attempts since the server started
	Parked         uint64    `json:"dead_letters"`           // events parked since the server started
	CheckpointSeq  uint64    `json:"checkpoint_seq"`         // the last saved checkpoint
	CheckpointTime time.Time `json:"checkpoint_at,omitzero"` // when it was saved
	Snapshots      int       `json:"snapshots"`              // kept checkpoints
	Created        time.Time `json:"created_at"`             // of this version
	Kind           string    `json:"kind"`                   // sql or js
	Source         string    `json:"source"`                 // the definition
	OnError        string    `json:"on_error"`               // skip or stop
}

// Status is a projection's state: its active version and the one
// rebuilding, if any.
type Status struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	VersionStatus
	Rebuilding *VersionStatus `json:"rebuilding,omitempty"`
}

func (r *runner) versionStatus() VersionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := VersionStatus{Version: r.def.Version, Status: r.status, Reason: r.reason, Position: r.pos, Events: r.events,
		Failures: r.failures, Parked: r.parked, CheckpointSeq: r.cpSeq, CheckpointTime: r.cpAt, Created: r.def.Created,
		Kind: r.def.Kind, Source: r.def.Source, OnError: r.def.OnError}
	if r.cp != nil {
		vs.Snapshots = len(r.cp.Snapshots)
	}
	if head := r.e.wh.TenantWatermark(r.def.Tenant); head > r.pos {
		vs.LagEvents = head - r.pos
		if !r.lastAt.IsZero() {
			vs.LagMillis = time.Since(r.lastAt).Milliseconds()
		}
	}
	return vs
}

func (p *projection) status(tenant, name string) Status {
	s := Status{Tenant: tenant, Name: name, VersionStatus: p.active.versionStatus()}
	if p.next != nil {
		n := p.next.versionStatus()
		s.Rebuilding = &n
	}
	return s
}

// List is the status of tenant's projections ("" for every tenant), by
// name.
func (e *Engine) List(tenant string) []Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Status
	for k, p := range e.projs {
		if tenant == "" || k.tenant == tenant || (tenant == allsource.AllTenants && !allsource.Reserved(k.tenant)) {
			out = append(out, p.status(k.tenant, k.name))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Get is one projection's status.
func (e *Engine) Get(tenant, name string) (Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.get(tenant, name)
	if err != nil {
		return Status{}, err
	}
	return p.status(tenant, name), nil
}

// AwaitBuild waits, at most Options.FirstBuildWait, for the version of a
// projection just created (the active one, or the one rebuilding) to
// catch up with the tenant's events. When it has not, the notice says how
// far it is and that reads show part of the events until it has.
func (e *Engine) AwaitBuild(ctx context.Context, tenant, name string) (notice string) {
	e.mu.Lock()
	p, err := e.get(tenant, name)
	var r *runner
	rebuilding := false
	if err == nil {
		r = p.active
		if p.next != nil {
			r, rebuilding = p.next, true
		}
	}
	e.mu.Unlock()
	if r == nil {
		return ""
	}
	head := e.wh.TenantWatermark(tenant)
	wctx, cancel := context.WithTimeout(ctx, e.opts.FirstBuildWait)
	defer cancel()
	if r.wait(wctx, head) == nil {
		return ""
	}
	vs := r.versionStatus()
	if vs.Status == StatusFaulted {
		return fmt.Sprintf("projection %s is faulted: %s", name, vs.Reason)
	}
	what := "reads show the rows of the events applied so far"
	if rebuilding {
		what = "the previous version serves reads until it has"
	}
	return fmt.Sprintf("projection %s is still building (version %d, %d events behind the newest; GET /v1/projections/%s shows its progress): %s",
		name, vs.Version, vs.LagEvents, name, what)
}

// Wait blocks until the active version of a projection has applied every
// event up to seq (or ctx ends).
func (e *Engine) Wait(ctx context.Context, tenant, name string, seq uint64) error {
	e.mu.Lock()
	p, err := e.get(tenant, name)
	var r *runner
	if err == nil {
		r = p.active
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return r.wait(ctx, seq)
}

// DeadLetter is an event a projection could not apply.
type DeadLetter struct {
	Version   int64     `json:"version"`
	Seq       uint64    `json:"seq"`
	EventType string    `json:"event_type"`
	EntityID  string    `json:"entity_id"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	ParkedAt  time.Time `json:"parked_at"`
}

// DeadLetters lists a projection's parked events, oldest first.
func (e *Engine) DeadLetters(ctx context.Context, tenant, name string, limit int) ([]DeadLetter, error) {
	rows, err := e.wh.Catalog().QueryContext(ctx, `SELECT version, seq, event_type, entity_id, error, attempts, parked_at
		FROM projection_dead_letters WHERE tenant_id = ? AND name = ? ORDER BY parked_at, seq LIMIT ?`, tenant, name, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.Version, &d.Seq, &d.EventType, &d.EntityID, &d.Error, &d.Attempts, &d.ParkedAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Close stops every projection, saving a checkpoint of each.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, p := range e.projs {
		for _, r := range p.live() {
			r.stop(!e.crashed.Load())
			r.f.close()
		}
	}
	return nil
}

// crash stops every projection without saving (tests: the process died).
func (e *Engine) crash() {
	e.crashed.Store(true)
	e.Close()
}

// cleanEngineError is the engine's message without its internal names.
func cleanEngineError(err error) string {
	msg := allsource.ErrorMessage(err)
	msg = regexp.MustCompile(`_proj\."?p_[0-9a-f]*_`).ReplaceAllString(msg, "")
	// The engine's "LINE 1: …" excerpt and caret point into the statement
	// it ran, which is not the text the user wrote.
	if i := strings.Index(msg, "\nLINE "); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}
