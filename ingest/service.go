// Package ingest validates, orders and appends events.
//
// Handlers parse and validate request bodies concurrently (ParseBatch). A
// batch then goes to one writer goroutine, which owns seq and version
// assignment, the duplicate-id window and expected_version checks, and writes
// each accepted batch as one WAL record. An applier goroutine makes the
// written records durable (WAL group commit: every batch written while an
// fsync runs shares the next one), appends them to the warehouse hot tier and
// only then acknowledges, so an acknowledged event is durable and visible to
// the next query. Writer and applier form a pipeline: the writer prepares the
// next group while the applier waits for the fsync of the previous one.
//
// A batch is atomic: it is rejected whole (nothing stored, no seq used) or
// stored whole in one WAL record.
//
// Duplicate ids: an event whose id was stored in the same tenant within the
// dedup window (by default the latest 1,000,000 events; rebuilt from storage
// on start, so it means the same after a restart) is not stored again; the
// response lists it with the original seq.
package ingest

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/wal"
	"github.com/allsource/allsource/warehouse"
)

// Options configures a Service.
type Options struct {
	Limits Limits
	// DedupWindow and DedupAge are duplicate detection's window: an event
	// whose id was stored within the last DedupWindow events (default
	// 1,000,000), or, with a DedupAge, ingested within it, is a duplicate.
	DedupWindow int
	DedupAge    time.Duration
	// VersionCache is how many entities' versions the pipeline keeps in
	// memory (the entity index has the others); default 1,000,000.
	VersionCache int
	// MaxGroupEvents caps the events the writer gathers into one group
	// commit; default 200,000.
	MaxGroupEvents int
	Logger         *slog.Logger
	Observe        Observer // may be nil
	// OnApplied, when set, receives each stored batch's events (in seq
	// order) once queries can see them, from the applier goroutine: it
	// must not block.
	OnApplied func(events []allsource.Event)
}

// Observer receives ingest figures for metrics.
type Observer interface {
	Committed(events, batches int, d time.Duration)
	Rejected(code allsource.Code)
}

func (o *Options) validate() {
	o.Limits.setDefaults()
	if o.VersionCache <= 0 {
		o.VersionCache = 1_000_000
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 1_000_000
	}
	if o.MaxGroupEvents <= 0 {
		o.MaxGroupEvents = 200_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Result is what an accepted batch reports.
type Result struct {
	Count      int         `json:"count"`
	FirstSeq   uint64      `json:"first_seq"`
	LastSeq    uint64      `json:"last_seq"`
	Duplicates []Duplicate `json:"duplicates"`
}

// Duplicate is an input event that was not stored because its id was.
type Duplicate struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Seq   uint64 `json:"seq"`
}

type request struct {
	inputs []Input
	tenant string // default tenant for inputs without one
	done   chan struct{}

	events []allsource.Event // assigned by the writer
	res    Result
	err    error
}

type group struct {
	reqs    []*request
	events  int    // accepted events in all reqs
	lastSeq uint64 // the highest seq assigned in the group
}

// Service is the ingest pipeline. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
	wal  *wal.Log
	wh   *warehouse.Warehouse

	reqs    chan *request
	written chan *group // writer -> syncer
	synced  chan *group // syncer -> applier

	// Writer goroutine state.
	nextSeq  uint64
	versions *versionMap
	dedup    *dedupWindow
	ids      *idGen
	recBuf   []byte

	segMu  sync.Mutex
	segMax map[uint64]uint64 // WAL segment -> highest seq written to it

	closeMu   sync.Mutex
	closed    bool
	sending   sync.WaitGroup // Appends between the closed check and the send
	sendsDone chan struct{}  // closed once no Append can still send
	stopOnce  sync.Once
	stopping  chan struct{}
	// applyCtx is cancelled when Close gives up waiting, so an applier
	// blocked on the warehouse (Freeze with the flusher stuck) returns.
	applyCtx    context.Context
	applyCancel context.CancelFunc
	writerEnd   chan struct{}
	syncEnd     chan struct{}
	applyEnd    chan struct{}

	errMu sync.Mutex
	err   error // set when storage failed; every later Append fails
}

type entityKey struct{ tenant, entity string }

// Open rebuilds the ordering state from the warehouse, replays the WAL
// records not yet in Parquet into the hot tier, and starts the pipeline. The
// WAL must be freshly opened (nothing written yet).
func Open(ctx context.Context, wl *wal.Log, wh *warehouse.Warehouse, opts Options) (*Service, error) {
	opts.validate()
	s := &Service{
		opts:      opts,
		log:       opts.Logger.With("component", "ingest"),
		wal:       wl,
		wh:        wh,
		reqs:      make(chan *request, 1024),
		written:   make(chan *group, 4),
		synced:    make(chan *group, 4),
		versions:  newVersionMap(opts.VersionCache, wh),
		dedup:     newDedupWindow(opts.DedupWindow, opts.DedupAge, wh),
		ids:       newIDGen(),
		segMax:    map[uint64]uint64{},
		stopping:  make(chan struct{}),
		sendsDone: make(chan struct{}),
		writerEnd: make(chan struct{}),
		syncEnd:   make(chan struct{}),
		applyEnd:  make(chan struct{}),
		nextSeq:   1,
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	s.applyCtx, s.applyCancel = context.WithCancel(context.Background())
	go s.writer()
	go s.syncer()
	go s.applier()
	return s, nil
}

// recover loads versions, the dedup window and the next seq from the
// warehouse, then replays the WAL.
func (s *Service) recover(ctx context.Context) error {
	start := time.Now()
	watermark := s.wh.FlushedSeq()
	if watermark >= s.nextSeq {
		s.nextSeq = watermark + 1
	}
	// Entity versions and stored ids come from the entity index as they
	// are asked for; the WAL holds the events past the flushed seq.
	// Replay: records are whole batches in seq order; those at or below the
	// watermark are already in Parquet.
	var pending []allsource.Event
	replayed := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := s.wh.Append(pending); err != nil {
			return err
		}
		replayed += len(pending)
		pending = nil // the warehouse keeps the slice
		if s.wh.ShouldFreeze() {
			return s.wh.Freeze(ctx)
		}
		return nil
	}
	err := s.wal.Replay(func(seg uint64, rec []byte) error {
		// A record wholly in Parquet is skipped undecoded (the active
		// segment holds up to --wal-segment-bytes of flushed batches).
		if first, n, err := recordSeqs(rec); err == nil && n > 0 && first+n-1 <= watermark {
			s.segMax[seg] = max(s.segMax[seg], first+n-1)
			return nil
		}
		evs, err := decodeBatchRecord(rec)
		if err != nil {
			return fmt.Errorf("segment %d: %w", seg, err)
		}
		for _, e := range evs {
			if e.Seq > s.segMax[seg] {
				s.segMax[seg] = e.Seq
			}
			if e.Seq <= watermark {
				continue
			}
			if e.Seq < s.nextSeq {
				return fmt.Errorf("segment %d: seq %d is not above %d: WAL and warehouse disagree", seg, e.Seq, s.nextSeq-1)
			}
			s.nextSeq = e.Seq + 1
			s.versions.raise(e.Tenant, e.EntityID, e.Version, e.Seq)
			if u, err := uuid.Parse(e.ID); err == nil {
				s.dedup.add(u, e.Tenant, e.Seq, e.IngestedAt)
			}
			pending = append(pending, e)
		}
		if len(pending) >= 100_000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("ingest: replay WAL: %w", err)
	}
	s.log.Info("recovered", "next_seq", s.nextSeq, "hot_entities", s.versions.entities(), "replayed", replayed,
		"took", time.Since(start))
	return nil
}

// eachRow runs a trusted query and calls scan for every row.
func (s *Service) eachRow(ctx context.Context, scan func(*warehouse.Rows) error, q string, args ...any) error {
	rows, err := s.wh.QueryInternal(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuthorizeTenants is the one check of where a batch may go, whatever
// front end delivered it (HTTP, COPY FROM, the Go API): a principal of one
// tenant appends to that tenant only, in the batch's default and in every
// event's own tenant. Without a principal in ctx (authentication off, or
// the server's own writes) every tenant is allowed.
func AuthorizeTenants(ctx context.Context, tenant string, inputs []Input) error {
	p, ok := allsource.PrincipalFrom(ctx)
	if !ok || p.Tenant == allsource.AllTenants {
		return nil
	}
	if tenant != p.Tenant {
		return allsource.Errorf(allsource.CodeForbidden, "tenant %q: you may append to tenant %q only", tenant, p.Tenant)
	}
	for i, in := range inputs {
		if in.Tenant != "" && in.Tenant != p.Tenant {
			e := allsource.Errorf(allsource.CodeForbidden, "tenant %q: you may append to tenant %q only", in.Tenant, p.Tenant)
			e.Index, e.Field = i, "tenant"
			return e
		}
	}
	return nil
}

// Append stores one atomic batch. Inputs without a tenant get tenant. A
// principal in ctx limits the tenants the batch may name (see
// AuthorizeTenants).
func (s *Service) Append(ctx context.Context, tenant string, inputs []Input) (res Result, err error) {
	ctx, span := tracer.Start(ctx, "ingest.batch", trace.WithAttributes(attribute.String("allsource.tenant", tenant), attribute.Int("allsource.events", len(inputs))))
	defer func() {
		span.SetAttributes(attribute.Int64("allsource.first_seq", int64(res.FirstSeq)), attribute.Int64("allsource.last_seq", int64(res.LastSeq)))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if err := s.failed(); err != nil {
		return Result{}, err
	}
	if len(inputs) == 0 {
		return Result{}, allsource.Errorf(allsource.CodeInvalid, "the batch is empty")
	}
	if tenant == "" {
		tenant = allsource.DefaultTenant
	}
	if err := AuthorizeTenants(ctx, tenant, inputs); err != nil {
		return Result{}, err
	}
	r := &request{inputs: inputs, tenant: tenant, done: make(chan struct{})}
	// Senders register before Close marks the service closed; Close waits
	// for registered senders before the writer drains the queue, so a
	// queued batch is always answered. No lock is held while blocked.
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return Result{}, errClosing
	}
	s.sending.Add(1)
	s.closeMu.Unlock()
	select {
	case s.reqs <- r:
		s.sending.Done()
	case <-s.stopping:
		s.sending.Done()
		return Result{}, errClosing
	case <-ctx.Done():
		s.sending.Done()
		return Result{}, ctx.Err()
	}
	// Once queued the batch is decided by the pipeline; waiting for it even
	// if the client goes away keeps the outcome well defined.
	<-r.done
	return r.res, r.err
}

var errClosing = allsource.Errorf(allsource.CodeUnavailable, "the server is shutting down")

// writer owns ordering: it assigns seq and version, applies the dedup window
// and expected_version, and writes accepted batches to the WAL.
func (s *Service) writer() {
	defer close(s.writerEnd)
	defer close(s.written)
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.stopping:
			<-s.sendsDone
			s.drainRejected()
			return
		}
		g := &group{reqs: []*request{first}}
		n := len(first.inputs)
	gather:
		for n < s.opts.MaxGroupEvents {
			select {
			case r := <-s.reqs:
				g.reqs = append(g.reqs, r)
				n += len(r.inputs)
			default:
				break gather
			}
		}
		s.writeGroup(g)
		s.written <- g
	}
}

func (s *Service) drainRejected() {
	for {
		select {
		case r := <-s.reqs:
			r.err = errClosing
			close(r.done)
		default:
			return
		}
	}
}

func (s *Service) writeGroup(g *group) {
	if s.failed() != nil {
		s.failGroup(g)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	recs := make([][]byte, 0, len(g.reqs))
	s.recBuf = s.recBuf[:0]
	var offs []int
	for _, r := range g.reqs {
		err := s.assign(r, now)
		s.versions.evict()
		s.dedup.evict()
		if err != nil {
			r.err = err
			continue
		}
		if len(r.events) == 0 {
			continue // all duplicates
		}
		offs = append(offs, len(s.recBuf))
		s.recBuf = appendBatchRecord(s.recBuf, r.events)
		g.events += len(r.events)
		g.lastSeq = r.events[len(r.events)-1].Seq
	}
	for i, off := range offs {
		end := len(s.recBuf)
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		recs = append(recs, s.recBuf[off:end])
	}
	if len(recs) == 0 {
		return
	}
	seg, err := s.wal.Write(recs...)
	if err != nil {
		s.setFailed(fmt.Errorf("ingest: WAL write: %w", err))
		s.failGroup(g)
		return
	}
	s.segMu.Lock()
	s.segMax[seg] = g.lastSeq
	s.segMu.Unlock()
}

// assign checks one batch against the ordering state and, if it is
// accepted, gives its events seq and version and updates the state.
func (s *Service) assign(r *request, now time.Time) error {
	// First pass, only when the batch needs it: duplicates and expected
	// versions, checked without changing state so a rejected batch leaves
	// nothing behind.
	var dup []bool
	var inBatch []int             // indexes into r.res.Duplicates of in-batch duplicates
	var batchIDs map[dedupKey]int // id -> index of its first input in the batch
	checkIDs, checkVersions := false, false
	for i := range r.inputs {
		checkIDs = checkIDs || r.inputs[i].ID != ""
		checkVersions = checkVersions || r.inputs[i].ExpectedVersion >= 0
	}
	if checkIDs || checkVersions {
		dup = make([]bool, len(r.inputs))
		batchIDs = map[dedupKey]int{}
		var local map[entityKey]uint64 // versions as the batch advances them
		if checkVersions {
			local = map[entityKey]uint64{}
		}
		for i := range r.inputs {
			in := &r.inputs[i]
			tenant := in.Tenant
			if tenant == "" {
				tenant = r.tenant
			}
			if in.ID != "" {
				u := uuid.MustParse(in.ID)
				seq, ok, err := s.dedup.lookup(u, tenant, s.nextSeq-1, now)
				if err != nil {
					return &allsource.Error{Code: allsource.CodeUnavailable, Message: "reading stored event ids: " + err.Error(), Index: -1, Err: err}
				}
				if ok {
					dup[i] = true
					r.res.Duplicates = append(r.res.Duplicates, Duplicate{Index: i, ID: in.ID, Seq: seq})
					continue
				}
				if _, ok := batchIDs[dedupKey{u, tenant}]; ok {
					dup[i] = true
					inBatch = append(inBatch, len(r.res.Duplicates))
					r.res.Duplicates = append(r.res.Duplicates, Duplicate{Index: i, ID: in.ID})
					continue
				}
				batchIDs[dedupKey{u, tenant}] = i
			}
			if !checkVersions {
				continue
			}
			k := entityKey{tenant, in.EntityID}
			cur, ok := local[k]
			if !ok {
				var err error
				if cur, err = s.versions.get(tenant, in.EntityID); err != nil {
					return err
				}
			}
			if in.ExpectedVersion >= 0 && uint64(in.ExpectedVersion) != cur {
				where := fmt.Sprintf("event %d", i)
				if in.Line > 0 {
					where = fmt.Sprintf("line %d", in.Line)
				}
				e := allsource.Errorf(allsource.CodeConflict,
					"%s: entity %q is at version %d, expected_version was %d; nothing in the batch was stored",
					where, in.EntityID, cur, in.ExpectedVersion)
				e.Index = i
				e.Line = in.Line
				e.Field = "expected_version"
				e.Details = map[string]any{"entity_id": in.EntityID, "current_version": cur, "expected_version": in.ExpectedVersion}
				r.res.Duplicates = nil
				return e
			}
			local[k] = cur + 1
		}
	}
	// The entities' entries, their versions read from the entity index
	// where the map does not hold them, before anything changes: a failed
	// read rejects the batch whole.
	entries := make([]*verEntry, len(r.inputs))
	var curTenant string
	var em map[string]*verEntry
	for i := range r.inputs {
		if dup != nil && dup[i] {
			continue
		}
		tenant := r.inputs[i].Tenant
		if tenant == "" {
			tenant = r.tenant
		}
		if em == nil || tenant != curTenant {
			curTenant, em = tenant, s.versions.tenant(tenant)
		}
		p, err := s.versions.entry(em, tenant, r.inputs[i].EntityID)
		if err != nil {
			return &allsource.Error{Code: allsource.CodeUnavailable, Message: "reading entity versions: " + err.Error(), Index: -1, Err: err}
		}
		entries[i] = p
	}
	// Second pass: assign.
	r.events = make([]allsource.Event, 0, len(r.inputs))
	var seqOf []uint64
	if len(inBatch) > 0 {
		seqOf = make([]uint64, len(r.inputs))
	}
	for i := range r.inputs {
		if dup != nil && dup[i] {
			continue
		}
		in := &r.inputs[i]
		tenant := in.Tenant
		if tenant == "" {
			tenant = r.tenant
		}
		p := entries[i]
		seq := s.nextSeq
		s.nextSeq++
		p.v++
		p.seq = seq
		ver := p.v
		ts := in.Timestamp
		if ts.IsZero() {
			ts = now
		} else {
			ts = ts.Truncate(time.Microsecond)
		}
		id := in.ID
		if id == "" {
			id = s.ids.next(now)
		} else {
			s.dedup.add(uuid.MustParse(id), tenant, seq, now)
		}
		if seqOf != nil {
			seqOf[i] = seq
		}
		payload, meta := in.Payload, in.Metadata
		if len(payload) == 0 { // Go callers may leave them out; stored events always hold an object
			payload = emptyObject
		}
		if len(meta) == 0 {
			meta = emptyObject
		}
		r.events = append(r.events, allsource.Event{
			Seq: seq, ID: id, Tenant: tenant, EntityID: in.EntityID, EventType: in.EventType,
			Version: ver, Timestamp: ts, IngestedAt: now, Payload: payload, Metadata: meta,
		})
	}
	// Payloads alias the request body, which the hot tier keeps alive until
	// the flush. When duplicates leave most of a body unused, copy what is
	// kept so the body can go (hot-tier byte accounting counts events).
	if len(r.res.Duplicates) > 0 {
		for i := range r.events {
			e := &r.events[i]
			e.Payload = bytes.Clone(e.Payload)
			e.Metadata = bytes.Clone(e.Metadata)
		}
	}
	// In-batch duplicates point at the seq their first occurrence got.
	for _, j := range inBatch {
		d := &r.res.Duplicates[j]
		tenant := r.inputs[d.Index].Tenant
		if tenant == "" {
			tenant = r.tenant
		}
		d.Seq = seqOf[batchIDs[dedupKey{uuid.MustParse(d.ID), tenant}]]
	}
	r.res.Count = len(r.events)
	if len(r.events) > 0 {
		r.res.FirstSeq = r.events[0].Seq
		r.res.LastSeq = r.events[len(r.events)-1].Seq
	}
	return nil
}

// syncer makes written groups durable. While it waits for one fsync the
// writer prepares the next group and the applier appends the previous one.
func (s *Service) syncer() {
	defer close(s.syncEnd)
	defer close(s.synced)
	for g := range s.written {
		if g.events > 0 {
			if err := s.wal.Commit(); err != nil {
				s.setFailed(fmt.Errorf("ingest: WAL commit: %w", err))
			}
		}
		if s.failed() != nil {
			// Including groups of only duplicates: after a failure the
			// originals they point at may not be durable.
			s.failGroup(g)
		}
		s.synced <- g
	}
}

func (s *Service) failGroup(g *group) {
	for _, r := range g.reqs {
		if r.err == nil {
			r.err = s.failed()
		}
	}
	g.events = 0
}

// applier appends durable groups to the hot tier and acknowledges them, in
// order, and freezes the hot tier's generation when it is due for a flush.
func (s *Service) applier() {
	defer close(s.applyEnd)
	ctx := s.applyCtx
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case g, ok := <-s.synced:
			if !ok {
				return
			}
			s.apply(ctx, g)
		case <-tick.C:
			if s.failed() == nil && s.wh.ShouldFreeze() {
				if err := s.wh.Freeze(ctx); err != nil {
					s.setFailed(err)
				}
			}
		}
	}
}

func (s *Service) apply(ctx context.Context, g *group) {
	start := time.Now()
	if s.failed() != nil {
		s.failGroup(g)
	}
	if g.events > 0 {
		var err error
		for _, r := range g.reqs {
			if r.err == nil && len(r.events) > 0 {
				if err = s.wh.Append(r.events); err != nil {
					break
				}
				if s.opts.OnApplied != nil {
					s.opts.OnApplied(r.events)
				}
			}
		}
		if err == nil && s.wh.ShouldFreeze() {
			err = s.wh.Freeze(ctx)
		}
		if err != nil {
			s.setFailed(err)
			s.failGroup(g)
		}
	}
	batches := 0
	for _, r := range g.reqs {
		if r.err == nil {
			batches++
		}
		close(r.done)
	}
	if s.opts.Observe != nil && batches > 0 {
		s.opts.Observe.Committed(g.events, batches, time.Since(start))
	}
}

// Checkpoint removes WAL segments whose every event is at or below the
// flushed watermark. Called after each flush.
func (s *Service) Checkpoint(watermark uint64) {
	s.segMu.Lock()
	var keepFrom uint64
	var newest uint64
	for seg, hi := range s.segMax {
		newest = max(newest, seg)
		if hi > watermark && (keepFrom == 0 || seg < keepFrom) {
			keepFrom = seg
		}
	}
	if keepFrom == 0 {
		keepFrom = newest
	}
	for seg := range s.segMax {
		if seg < keepFrom {
			delete(s.segMax, seg)
		}
	}
	s.segMu.Unlock()
	if keepFrom == 0 {
		return
	}
	if err := s.wal.RemoveBefore(keepFrom); err != nil {
		s.log.Error("remove WAL segments", "before", keepFrom, "err", err)
	}
}

// Close stops taking batches, finishes the ones in flight, and, when flush is
// true, writes the hot tier to Parquet. It does not close the WAL or the
// warehouse.
func (s *Service) Close(ctx context.Context, flush bool) error {
	s.stopOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.stopping)
		s.sending.Wait() // each registered sender sees stopping and returns
		close(s.sendsDone)
	})
	defer s.applyCancel()
	select {
	case <-s.applyEnd:
	case <-ctx.Done():
		// The applier is stuck on the warehouse; release it and fail what
		// is still in flight rather than hang the shutdown.
		s.setFailed(fmt.Errorf("ingest: shutdown gave up waiting: %w", ctx.Err()))
		s.applyCancel()
		<-s.applyEnd
	}
	<-s.writerEnd
	<-s.syncEnd
	if flush && s.failed() == nil {
		if err := s.wh.FlushAll(ctx); err != nil {
			return fmt.Errorf("ingest: final flush: %w", err)
		}
		// Every event is in the warehouse: the next start has no log to
		// read, however long this one ran.
		if err := s.wal.Retire(); err != nil {
			s.log.Error("retire WAL segments after the final flush", "err", err)
		}
	}
	return nil
}

func (s *Service) setFailed(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.log.Error("storage failed; refusing writes until restart", "err", err)
		s.err = &allsource.Error{Code: allsource.CodeUnavailable, Message: "storage failed; the server refuses writes until it is restarted", Index: -1, Err: err}
	}
}

func (s *Service) failed() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Healthy reports whether the pipeline accepts writes.
func (s *Service) Healthy() error { return s.failed() }

// Limits are the bounds batches for this service are parsed under: front
// ends pass them to ParseBatch.
func (s *Service) Limits() Limits { return s.opts.Limits }

// CountRejected reports a batch a front end refused with err (while
// parsing or admitting it, or because Append failed) to the Observer, by
// err's code.
func (s *Service) CountRejected(err error) {
	if s.opts.Observe != nil {
		s.opts.Observe.Rejected(allsource.ErrorCode(err))
	}
}

// tracer makes the ingest spans (a no-op unless the server sets up tracing).
var tracer = otel.Tracer("github.com/allsource/allsource/ingest")
