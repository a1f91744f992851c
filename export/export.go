// Package export ships a tenant's events to other stores, continuously
// and exactly once: a job reads events after its watermark in seq order
// and hands each batch to its target, which stores the rows and the new
// watermark together (one transaction), so a crash or a retry neither
// loses nor repeats a row. The watermark lives in the target; on start a
// job asks the target where it stopped.
//
// Targets are URLs: postgres://user@host:port/db?table=t (PostgreSQL or
// TimescaleDB, through COPY) and clickhouse://host:8123/db?table=t
// (ClickHouse's HTTP interface), and file:///dir?format=parquet|csv|ndjson.
// Network targets reach only what the operator allows, checked when a job
// is defined and at every connection, and a job's errors never repeat a
// target's answer (netguard.go).
package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// Spec is what a client sends to define an export job.
type Spec struct {
	Target    string   `json:"target"`               // a target URL
	Types     []string `json:"types,omitempty"`      // event type patterns (GLOB); none: all
	Where     string   `json:"where,omitempty"`      // a SQL condition over events
	Every     string   `json:"every,omitempty"`      // run again this often (a Go duration, "1m"); "": once
	Schedule  string   `json:"schedule,omitempty"`   // or at these times: cron syntax ("*/5 * * * *", "@hourly"), UTC
	BatchRows int      `json:"batch_rows,omitempty"` // rows per target batch; default 50,000 (ClickHouse 100,000)
	// Columns renames target columns: {"entity_id": "user_id", "payload":
	// "body"}. Keys are the event's columns (and timestamp_us for
	// ClickHouse); values plain identifiers.
	Columns map[string]string `json:"columns,omitempty"`
}

// eventColumns are the exported columns, in order.
var eventColumns = []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}

// names maps the exported columns (and ClickHouse's timestamp_us) to the
// target's names.
type names map[string]string

func (n names) of(c string) string {
	if v, ok := n[c]; ok && v != "" {
		return v
	}
	return c
}

// columnNames checks a mapping: known columns, plain and distinct names.
func columnNames(m map[string]string) (names, error) {
	known := map[string]bool{"timestamp_us": true}
	for _, c := range eventColumns {
		known[c] = true
	}
	seen := map[string]string{}
	out := names{}
	for c := range known {
		out[c] = c
	}
	for c, n := range m {
		if !known[c] {
			return nil, fmt.Errorf("columns: %q is not an exported column (%s, timestamp_us)", c, strings.Join(eventColumns, ", "))
		}
		if !identRE.MatchString(n) {
			return nil, fmt.Errorf("columns: %q is not a plain identifier", n)
		}
		out[c] = n
	}
	for c, n := range out {
		if o, dup := seen[strings.ToLower(n)]; dup {
			return nil, fmt.Errorf("columns: %s and %s would both be named %q", o, c, n)
		}
		seen[strings.ToLower(n)] = c
	}
	return out, nil
}

// Row is one exported event.
type Row struct {
	Seq, Version          uint64
	ID, Tenant, EntityID  string
	EventType             string
	Timestamp, IngestedAt time.Time
	Payload, Metadata     string
}

// target stores rows with the job's watermark.
type target interface {
	open(ctx context.Context) error
	prepare(ctx context.Context) error
	watermark(ctx context.Context, job string) (uint64, error)
	write(ctx context.Context, job string, rows []Row, upTo uint64) (bytes int64, err error)
	close()
	String() string
}

// networked is a target that connects to hosts: their endpoints are
// checked against the allowance when a job is defined.
type networked interface {
	endpoints() []endpoint
	guarded() *guard
}

func openTarget(s *Spec, tenant, fileRoot string, pol *policy, fault func(string)) (target, error) {
	u, err := url.Parse(s.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %v", err)
	}
	cols, err := columnNames(s.Columns)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return newPostgresTarget(u, tenant, cols, pol, fault)
	case "clickhouse", "http", "https":
		return newClickHouseTarget(u, tenant, cols, pol, fault)
	case "file":
		return newFileTarget(u, cols, fileRoot, fault)
	}
	return nil, fmt.Errorf("target: scheme %q is not supported (postgres://user@host:port/db?table=t, clickhouse://host:8123/db?table=t, file:///dir?format=parquet)", u.Scheme)
}

// Status values of a job.
const (
	StatusRunning  = "running"  // exporting
	StatusIdle     = "idle"     // caught up; runs again after its interval
	StatusDone     = "done"     // a one-off job that exported everything there was when it started
	StatusRetrying = "retrying" // the last attempt failed (LastError); trying again with back-off
	StatusPaused   = "paused"
)

// Job is a job's definition and state.
type Job struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Spec      Spec      `json:"spec"`
	Created   time.Time `json:"created_at"`
	Status    string    `json:"status"`
	LastError string    `json:"last_error,omitempty"`
	Watermark uint64    `json:"watermark"`            // the target holds every matching event up to this seq
	Head      uint64    `json:"head"`                 // the newest seq when it last looked
	Lag       uint64    `json:"lag"`                  // head - watermark
	Rows      int64     `json:"rows"`                 // exported since the server started
	Bytes     int64     `json:"bytes"`                // approximate bytes sent since the server started
	LastRun   time.Time `json:"last_run_at,omitzero"` // when the last pass ended
}

// Redacted is j with the target's password masked: answers and logs do
// not repeat credentials.
func (j Job) Redacted() Job {
	if u, err := url.Parse(j.Spec.Target); err == nil {
		j.Spec.Target = u.Redacted()
	}
	return j
}

// Options tune the manager.
type Options struct {
	Logger *slog.Logger
	// Fault, when set, is called at named steps of a batch (tests kill the
	// process there).
	Fault func(point string)
	// Observe, when set, receives rows exported per job.
	Observe func(tenant, job string, rows int, bytes int64, lag uint64)
	// FileRoot, when set, is the directory file targets must be inside.
	FileRoot string
	// AllowHosts is the operator's allowance for network targets (see
	// netguard.go): hosts (host, host:port, "*.domain") that may resolve
	// anywhere, IP addresses and CIDR networks, "*" for any host. None:
	// any host, public addresses only.
	AllowHosts []string
	// Self are the server's own listen addresses (host:port), which no
	// target may reach.
	Self []string
	// MaxPerTenant bounds a tenant's jobs (each runs its own goroutine and
	// target connection); default 50.
	MaxPerTenant int
}

// Manager runs the export jobs of every tenant.
type Manager struct {
	wh   *warehouse.Warehouse
	opts Options
	net  *policy
	mu   sync.Mutex
	jobs map[string]*job
	ctl  sync.Mutex // one pause, resume or delete at a time
}

type job struct {
	m       *Manager
	tenant  string // state.Tenant, fixed at creation (read without mu)
	mu      sync.Mutex
	state   Job
	every   time.Duration
	sched   cron.Schedule // nil: every, or once
	deleted bool          // never starts again
	cancel  context.CancelFunc
	done    chan struct{}
	kick    chan struct{}
}

// Open starts the jobs stored in the catalog.
func Open(ctx context.Context, wh *warehouse.Warehouse, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Fault == nil {
		o.Fault = func(string) {}
	}
	if o.FileRoot != "" {
		// Targets are absolute paths: a relative root (the default
		// data/exports) is compared as the absolute directory it names.
		abs, err := filepath.Abs(o.FileRoot)
		if err != nil {
			return nil, fmt.Errorf("export: file root %s: %w", o.FileRoot, err)
		}
		o.FileRoot = abs
	}
	pol, err := newPolicy(o)
	if err != nil {
		return nil, err
	}
	m := &Manager{wh: wh, opts: o, net: pol, jobs: map[string]*job{}}
	rows, err := wh.Catalog().QueryContext(ctx, `SELECT id, tenant_id, spec, paused, created_at FROM export_jobs ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("export: read jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, tenant, spec string
		var paused bool
		var created time.Time
		if err := rows.Scan(&id, &tenant, &spec, &paused, &created); err != nil {
			return nil, err
		}
		var s Spec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return nil, fmt.Errorf("export: job %s: %w", id, err)
		}
		j := m.newJob(id, tenant, s, created)
		if paused {
			j.state.Status = StatusPaused
		} else {
			j.start()
		}
	}
	return m, rows.Err()
}

func (m *Manager) newJob(id, tenant string, s Spec, created time.Time) *job {
	every, _ := time.ParseDuration(s.Every)
	var sched cron.Schedule
	if s.Schedule != "" {
		sched, _ = cronParser.Parse(s.Schedule)
	}
	j := &job{m: m, tenant: tenant, state: Job{ID: id, Tenant: tenant, Spec: s, Created: created, Status: StatusIdle}, every: every, sched: sched, kick: make(chan struct{}, 1)}
	m.jobs[id] = j
	return j
}

// validate checks a spec: its target, its interval, and its condition
// (run once over the tenant's events, as queries are checked).
func (m *Manager) validate(ctx context.Context, tenant string, s *Spec) error {
	if s.Target == "" {
		return &allsource.Error{Code: allsource.CodeInvalid, Field: "target", Index: -1, Message: "target: give a target URL, e.g. postgres://user@host:5432/db?table=events"}
	}
	t, err := openTarget(s, tenant, m.opts.FileRoot, m.net, nil)
	if err != nil {
		var r *refusedError
		if errors.As(err, &r) {
			return forbidden(err)
		}
		field := "target"
		if strings.HasPrefix(err.Error(), "columns") {
			field = "columns"
		}
		return &allsource.Error{Code: allsource.CodeInvalid, Field: field, Index: -1, Message: err.Error()}
	}
	if s.Every != "" {
		d, err := time.ParseDuration(s.Every)
		if err != nil || d < time.Second {
			return &allsource.Error{Code: allsource.CodeInvalid, Field: "every", Index: -1, Message: fmt.Sprintf("every: %q is not an interval of at least 1s (e.g. 30s, 5m, 1h)", s.Every)}
		}
	}
	if s.Schedule != "" {
		if s.Every != "" {
			return &allsource.Error{Code: allsource.CodeInvalid, Field: "schedule", Index: -1, Message: "give every or schedule, not both"}
		}
		if _, err := cronParser.Parse(s.Schedule); err != nil {
			return &allsource.Error{Code: allsource.CodeInvalid, Field: "schedule", Index: -1, Message: fmt.Sprintf("schedule: %v (cron: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 10m)", err)}
		}
	}
	for _, g := range s.Types {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return &allsource.Error{Code: allsource.CodeInvalid, Field: "types", Index: -1, Message: fmt.Sprintf("types: %q is not a valid pattern", g)}
		}
	}
	if s.BatchRows < 0 || s.BatchRows > 1_000_000 {
		return &allsource.Error{Code: allsource.CodeInvalid, Field: "batch_rows", Index: -1, Message: "batch_rows: between 1 and 1,000,000"}
	}
	if s.Where != "" {
		// Kept as the engine prints it: one parenthesised expression,
		// whatever parentheses the text tried to close.
		canon, err := m.wh.CanonicalCondition(ctx, s.Where)
		if err != nil {
			return &allsource.Error{Code: allsource.CodeInvalid, Field: "where", Index: -1, Message: "where: " + allsource.ErrorMessage(err)}
		}
		s.Where = canon
	}
	q, args := fetchSQL(s, 0, 0, 1)
	rows, err := m.wh.Query(allsource.WithTenantScope(ctx, tenant), q, args...)
	if err != nil {
		return &allsource.Error{Code: allsource.CodeInvalid, Field: "where", Index: -1, Message: "where: " + allsource.ErrorMessage(err)}
	}
	rows.Close()
	// Last, as it asks DNS: every address the target's hosts resolve to.
	if n, ok := t.(networked); ok {
		if err := n.guarded().check(ctx, n.endpoints()); err != nil {
			return forbidden(err)
		}
	}
	return nil
}

// Create defines a job for tenant and starts it. Principals whose
// policies hide event types or fields may not export.
func (m *Manager) Create(ctx context.Context, tenant string, s Spec) (Job, error) {
	if r := allsource.ReadRestrictionFrom(ctx); len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		return Job{}, allsource.Errorf(allsource.CodeForbidden, "exports are not open to principals with hidden event types or fields: a job reads every event of the tenant")
	}
	if err := m.validate(ctx, tenant, &s); err != nil {
		return Job{}, err
	}
	m.ctl.Lock() // the count and the new job together
	defer m.ctl.Unlock()
	if n, limit := m.jobsOf(tenant), m.maxPerTenant(); n >= limit {
		return Job{}, allsource.Errorf(allsource.CodeTooLarge, "tenant %s has %d export jobs, the most it may have; delete one first", tenant, n)
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := "exp_" + hex.EncodeToString(b)
	spec, _ := json.Marshal(s)
	created := time.Now().UTC()
	if _, err := m.wh.Catalog().ExecContext(ctx, `INSERT INTO export_jobs (id, tenant_id, spec, created_at) VALUES (?, ?, ?, ?)`, id, tenant, string(spec), created); err != nil {
		return Job{}, fmt.Errorf("export: record job: %w", err)
	}
	m.mu.Lock()
	j := m.newJob(id, tenant, s, created)
	m.mu.Unlock()
	j.start()
	return j.snapshot(), nil
}

// jobsOf counts tenant's jobs.
func (m *Manager) jobsOf(tenant string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, j := range m.jobs {
		if j.tenant == tenant {
			n++
		}
	}
	return n
}

func (m *Manager) maxPerTenant() int {
	if m.opts.MaxPerTenant > 0 {
		return m.opts.MaxPerTenant
	}
	return 50
}

func (m *Manager) get(tenant, id string) (*job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[id]
	if j == nil || (tenant != allsource.AllTenants && j.state.Tenant != tenant) {
		return nil, allsource.Errorf(allsource.CodeNotFound, "export job %s does not exist", id)
	}
	return j, nil
}

// Get is one job's state.
func (m *Manager) Get(tenant, id string) (Job, error) {
	j, err := m.get(tenant, id)
	if err != nil {
		return Job{}, err
	}
	return j.snapshot(), nil
}

// List is tenant's jobs (every tenant's for AllTenants), oldest first.
func (m *Manager) List(tenant string) []Job {
	m.mu.Lock()
	var js []*job
	for _, j := range m.jobs {
		if tenant == allsource.AllTenants || j.state.Tenant == tenant {
			js = append(js, j)
		}
	}
	m.mu.Unlock()
	out := []Job{}
	for _, j := range js {
		out = append(out, j.snapshot())
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out
}

// Pause stops a job after its current batch; Resume starts it again.
func (m *Manager) Pause(ctx context.Context, tenant, id string) error {
	m.ctl.Lock()
	defer m.ctl.Unlock()
	j, err := m.get(tenant, id)
	if err != nil {
		return err
	}
	if _, err := m.wh.Catalog().ExecContext(ctx, `UPDATE export_jobs SET paused = true WHERE id = ?`, id); err != nil {
		return err
	}
	j.stop()
	j.set(func(s *Job) { s.Status = StatusPaused })
	return nil
}

// Resume starts a paused job, or runs a waiting one now.
func (m *Manager) Resume(ctx context.Context, tenant, id string) error {
	m.ctl.Lock()
	defer m.ctl.Unlock()
	j, err := m.get(tenant, id)
	if err != nil {
		return err
	}
	if _, err := m.wh.Catalog().ExecContext(ctx, `UPDATE export_jobs SET paused = false WHERE id = ?`, id); err != nil {
		return err
	}
	j.mu.Lock()
	running := j.cancel != nil
	j.mu.Unlock()
	if running {
		select {
		case j.kick <- struct{}{}:
		default:
		}
		return nil
	}
	j.start()
	return nil
}

// Delete stops and removes a job (the target keeps what it has).
func (m *Manager) Delete(ctx context.Context, tenant, id string) error {
	m.ctl.Lock()
	defer m.ctl.Unlock()
	j, err := m.get(tenant, id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.deleted = true
	j.mu.Unlock()
	j.stop()
	m.mu.Lock()
	delete(m.jobs, id)
	m.mu.Unlock()
	_, err = m.wh.Catalog().ExecContext(ctx, `DELETE FROM export_jobs WHERE id = ?`, id)
	return err
}

// Close stops every job (each after its current batch's transaction).
func (m *Manager) Close() {
	m.ctl.Lock()
	defer m.ctl.Unlock()
	m.mu.Lock()
	js := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	for _, j := range js {
		j.stop()
	}
}

func (j *job) snapshot() Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

func (j *job) set(f func(*Job)) {
	j.mu.Lock()
	f(&j.state)
	j.mu.Unlock()
}

func (j *job) start() {
	ctx, cancel := context.WithCancel(context.Background())
	j.mu.Lock()
	if j.cancel != nil || j.deleted {
		j.mu.Unlock()
		cancel()
		return
	}
	done := make(chan struct{})
	j.cancel, j.done = cancel, done
	j.state.Status, j.state.LastError = StatusRunning, ""
	j.mu.Unlock()
	go func() {
		defer func() {
			j.mu.Lock()
			if j.done == done {
				j.cancel = nil
			}
			j.mu.Unlock()
			cancel()
			close(done)
		}()
		j.run(ctx)
	}()
}

func (j *job) stop() {
	j.mu.Lock()
	cancel, done := j.cancel, j.done
	j.cancel = nil
	j.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		<-done
	}
}

// run exports until caught up, then (scheduled jobs) waits for the next
// interval; failures are retried with back-off.
func (j *job) run(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := j.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			j.set(func(s *Job) { s.Status, s.LastError = StatusRetrying, err.Error() })
			j.m.opts.Logger.Warn("export failed; retrying", "job", j.state.ID, "target", j.snapshot().Redacted().Spec.Target, "in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			case <-j.kick:
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		wait := j.every
		if j.sched != nil {
			now := time.Now().UTC()
			wait = j.sched.Next(now).Sub(now)
		}
		if wait == 0 {
			j.set(func(s *Job) { s.Status, s.LastError, s.LastRun = StatusDone, "", time.Now().UTC() })
			return
		}
		j.set(func(s *Job) { s.Status, s.LastError, s.LastRun = StatusIdle, "", time.Now().UTC() })
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-j.kick:
		}
		j.set(func(s *Job) { s.Status = StatusRunning })
	}
}

// pass exports every matching event up to the newest seq at its start.
func (j *job) pass(ctx context.Context) error {
	st := j.snapshot()
	t, err := openTarget(&st.Spec, st.Tenant, j.m.opts.FileRoot, j.m.net, j.m.opts.Fault)
	if err != nil {
		return err
	}
	defer t.close()
	if err := t.open(ctx); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if err := t.prepare(ctx); err != nil {
		return fmt.Errorf("%s: prepare: %w", t, err)
	}
	wm, err := t.watermark(ctx, st.ID)
	if err != nil {
		return fmt.Errorf("%s: watermark: %w", t, err)
	}
	head := j.m.wh.DataWatermark()
	j.set(func(s *Job) { s.Watermark, s.Head, s.Lag = wm, head, sub(head, wm) })
	batch := st.Spec.BatchRows
	if batch <= 0 {
		batch = 50_000
		if _, ok := t.(*clickhouseTarget); ok {
			batch = 100_000 // measured: fewer, larger inserts suit ClickHouse's parts
		}
	}
	// Reading the next batch overlaps writing this one.
	fctx, cancel := context.WithCancel(allsource.WithTenantScope(ctx, st.Tenant))
	defer cancel()
	type fetched struct {
		rows []Row
		next uint64
		err  error
	}
	ch := make(chan fetched, 1)
	go func() {
		defer close(ch)
		send := func(f fetched) bool {
			select {
			case ch <- f:
				return true
			case <-fctx.Done():
				return false
			}
		}
		// One sorted scan yields many batches: the Parquet files are sorted
		// by entity and time, so a seq range prunes nothing and each query
		// reads the tenant's events once.
		chunk := batch * 20
		for lo := wm; lo < head; {
			var pending []Row
			n, last := 0, lo
			err := j.scan(fctx, &st.Spec, lo, head, chunk, func(r Row) bool {
				pending = append(pending, r)
				n++
				last = r.Seq
				if len(pending) == batch {
					if !send(fetched{rows: pending, next: r.Seq}) {
						return false
					}
					pending = nil
				}
				return true
			})
			if err != nil {
				send(fetched{err: err})
				return
			}
			if fctx.Err() != nil {
				return
			}
			if n < chunk { // the scan reached head
				if !send(fetched{rows: pending, next: head}) {
					return
				}
				return
			}
			if len(pending) > 0 {
				if !send(fetched{rows: pending, next: pending[len(pending)-1].Seq}) {
					return
				}
			}
			lo = last
		}
	}()
	for f := range ch {
		if f.err != nil {
			return f.err
		}
		bctx, span := tracer.Start(ctx, "export.batch", trace.WithAttributes(attribute.String("allsource.tenant", st.Tenant),
			attribute.String("allsource.export_job", st.ID), attribute.Int("allsource.rows", len(f.rows)), attribute.Int64("allsource.watermark", int64(f.next))))
		n, err := t.write(bctx, st.ID, f.rows, f.next)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.End()
			return fmt.Errorf("%s: write: %w", t, err)
		}
		span.End()
		wm = f.next
		rows := len(f.rows)
		j.set(func(s *Job) {
			s.Watermark, s.Lag = wm, sub(head, wm)
			s.Rows += int64(rows)
			s.Bytes += n
		})
		if o := j.m.opts.Observe; o != nil {
			o(st.Tenant, st.ID, rows, n, sub(j.m.wh.DataWatermark(), wm))
		}
	}
	return ctx.Err()
}

func sub(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return 0
}

// fetchSQL selects a job's events after seq lo up to hi, at most n.
func fetchSQL(s *Spec, lo, hi uint64, n int) (string, []any) {
	var conds []string
	args := []any{lo, hi}
	for i, g := range s.Types {
		if i == 0 {
			conds = append(conds, "(")
		} else {
			conds[len(conds)-1] += " OR "
		}
		conds[len(conds)-1] += "event_type GLOB ?"
		args = append(args, g)
	}
	if len(conds) > 0 {
		conds[0] += ")"
	}
	if s.Where != "" {
		conds = append(conds, "("+s.Where+")")
	}
	where := ""
	if len(conds) > 0 {
		where = " AND " + strings.Join(conds, " AND ")
	}
	return `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR)
		FROM events WHERE seq > ? AND seq <= ?` + where + fmt.Sprintf(" ORDER BY seq LIMIT %d", n), args
}

// scan reads a job's events after seq lo up to hi, at most n, in seq
// order, in the tenant's scope, handing each to fn (which returns false to
// stop). Rows come as Arrow batches: no per-value scanning in Go. The
// statement is the one validate checked, with literal bounds.
func (j *job) scan(ctx context.Context, s *Spec, lo, hi uint64, n int, fn func(Row) bool) error {
	var conds []string
	if len(s.Types) > 0 {
		var ors []string
		for _, g := range s.Types {
			ors = append(ors, "event_type GLOB "+sqlString(g))
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if s.Where != "" {
		conds = append(conds, "("+s.Where+")")
	}
	where := ""
	if len(conds) > 0 {
		where = " AND " + strings.Join(conds, " AND ")
	}
	q := fmt.Sprintf(`SELECT seq, id, tenant_id, entity_id, event_type, version, epoch_us("timestamp"), epoch_us(ingested_at),
		CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR) FROM events WHERE seq > %d AND seq <= %d%s ORDER BY seq LIMIT %d`, lo, hi, where, n)
	stop := errors.New("stop")
	err := j.m.wh.Batches(ctx, q, func(rec arrow.RecordBatch) error {
		cols := rec.Columns()
		ints := make([][]int64, 0, 4)
		for _, c := range []int{0, 5, 6, 7} {
			a, ok := cols[c].(*array.Int64)
			if !ok {
				return fmt.Errorf("export: column %d is %s, not BIGINT", c, cols[c].DataType())
			}
			ints = append(ints, a.Int64Values())
		}
		str := func(c, i int) string {
			if cols[c].IsNull(i) {
				return ""
			}
			return strings.Clone(cols[c].ValueStr(i))
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := Row{Seq: uint64(ints[0][i]), Version: uint64(ints[1][i]), ID: str(1, i), Tenant: str(2, i), EntityID: str(3, i),
				EventType: str(4, i), Timestamp: time.UnixMicro(ints[2][i]).UTC(), IngestedAt: time.UnixMicro(ints[3][i]).UTC(),
				Payload: str(8, i), Metadata: str(9, i)}
			if r.Metadata == "" {
				r.Metadata = "{}"
			}
			if !fn(r) {
				return stop
			}
		}
		return nil
	})
	if errors.Is(err, stop) {
		return nil
	}
	return err
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// cronParser reads standard five-field cron expressions and descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// tracer makes a span per exported batch (a no-op unless the server sets
// up tracing).
var tracer = otel.Tracer("github.com/allsource/allsource/export")
