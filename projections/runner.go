package projections

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/allsource/allsource"
)

// Status values of a projection version.
const (
	StatusCatchingUp = "catching-up" // applying stored events
	StatusRunning    = "running"     // caught up; applying events as they arrive
	StatusStopped    = "stopped"     // stopped through the API
	StatusFaulted    = "faulted"     // stopped by an event it could not apply (policy stop), or by a failure
)

// runner applies one projection version: it restores the last checkpoint,
// subscribes to the tenant's events from there (stored ones, then live),
// folds each batch into the state in one engine transaction, and saves
// checkpoints.
type runner struct {
	e     *Engine
	def   Definition
	f     folder
	dir   string
	table string

	cp *checkpoint // last written

	mu        sync.Mutex
	pos       uint64 // every event of the tenant up to here is applied
	status    string
	reason    string
	events    uint64 // applied since start
	failures  uint64
	parked    uint64
	lastAt    time.Time // ingested_at of the last applied event
	cpSeq     uint64
	cpAt      time.Time
	progress  chan struct{} // closed and replaced when pos advances
	caughtUp  bool
	cancel    context.CancelFunc
	done      chan struct{}
	lastSaved time.Time
}

// errStop ends a runner whose policy is to stop on a failed event.
var errStop = errors.New("stopped on a failed event")

func (r *runner) setStatus(s, reason string) {
	r.mu.Lock()
	r.status, r.reason = s, reason
	r.mu.Unlock()
}

// restore loads the last checkpoint (or starts empty).
func (r *runner) restore(ctx context.Context) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	if err := r.f.setup(ctx); err != nil {
		return fmt.Errorf("create state tables: %w", err)
	}
	cp, err := readCheckpoint(r.dir)
	if err != nil {
		return err
	}
	if err := removeUnnamed(r.dir, cp); err != nil {
		return err
	}
	if cp != nil {
		if err := r.f.load(ctx, r.dir, cp.Files); err != nil {
			return fmt.Errorf("load checkpoint at seq %d: %w", cp.Seq, err)
		}
		r.cp, r.pos, r.cpSeq, r.cpAt = cp, cp.Seq, cp.Seq, cp.At
	}
	r.lastSaved = time.Now()
	return nil
}

// start runs the runner until Stop.
func (r *runner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel, r.done = cancel, make(chan struct{})
	r.status, r.reason = StatusCatchingUp, ""
	r.mu.Unlock()
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
}

// stop ends the runner and saves a checkpoint (unless crashed: tests).
func (r *runner) stop(save bool) {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if save {
		r.mu.Lock()
		pos, cpSeq := r.pos, r.cpSeq
		r.mu.Unlock()
		if pos != cpSeq {
			if err := r.saveCheckpoint(context.Background(), pos); err != nil {
				r.e.log.Warn("projection checkpoint at stop", "tenant", r.def.Tenant, "projection", r.def.Name, "err", err)
			} else {
				r.mu.Lock()
				r.cpSeq, r.cpAt = pos, time.Now()
				r.mu.Unlock()
			}
		}
	}
}

func (r *runner) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		r.mu.Lock()
		from := r.pos
		r.mu.Unlock()
		err := r.e.hub.SubscribeBatches(ctx, r.e.wh, Filter{Tenant: r.def.Tenant}, Start{AfterSeq: from},
			SubOptions{Internal: true, Buffer: r.e.opts.Buffer, MaxBatch: r.e.opts.MaxBatch, Linger: max(r.e.opts.ApplyEvery, 0), CaughtUp: r.caughtUpTo,
				// Idle, the state still gets saved once the interval passes.
				Heartbeat: r.e.opts.CheckpointEvery, Idle: func() error { return r.maybeCheckpoint(ctx) }},
			func(batch []Event) error { return r.applyBatch(ctx, batch) })
		if ctx.Err() != nil {
			return
		}
		var ended *Ended
		switch {
		case errors.Is(err, errStop), errors.Is(err, errCrashed):
			<-ctx.Done() // faulted: waits for reset, start or delete
			return
		case errors.As(err, &ended) && strings.HasPrefix(ended.Reason, "slow consumer"):
			continue // fell behind live events: catch up from storage
		case errors.As(err, &ended):
			return // the hub is closing
		}
		r.setStatus(StatusFaulted, fmt.Sprint(err))
		r.e.log.Warn("projection failed; retrying", "tenant", r.def.Tenant, "projection", r.def.Name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// caughtUpTo records that every stored event up to seq was delivered.
func (r *runner) caughtUpTo(seq uint64) {
	r.advance(seq, 0, time.Time{})
}

// advance moves pos to seq after n events were applied.
func (r *runner) advance(seq uint64, n int, lastAt time.Time) {
	r.mu.Lock()
	if seq > r.pos {
		r.pos = seq
	}
	r.events += uint64(n)
	if !lastAt.IsZero() {
		r.lastAt = lastAt
	}
	behind := r.pos < r.e.wh.TenantWatermark(r.def.Tenant)
	if r.status == StatusCatchingUp || r.status == StatusRunning || r.status == StatusFaulted {
		if behind {
			r.status = StatusCatchingUp
		} else {
			r.status = StatusRunning
		}
		r.reason = ""
	}
	first := !behind && !r.caughtUp
	if !behind {
		r.caughtUp = true // cleared again if the swap it triggers fails
	}
	close(r.progress)
	r.progress = make(chan struct{})
	r.mu.Unlock()
	if first {
		r.e.caughtUp(r)
	}
}

// applyBatch folds a batch with retries; an event that still fails is
// parked in the dead-letter table and skipped, or stops the projection.
func (r *runner) applyBatch(ctx context.Context, batch []Event) error {
	ctx, span := tracer.Start(ctx, "projection.apply", trace.WithAttributes(attribute.String("allsource.tenant", r.def.Tenant),
		attribute.String("allsource.projection", r.def.Name), attribute.Int("allsource.events", len(batch))))
	defer span.End()
	err := r.tryApply(ctx, batch)
	if errors.Is(err, errCrashed) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		// Find the events that fail on their own.
		for i := range batch {
			if err := r.tryApply(ctx, batch[i:i+1]); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, errCrashed) {
					return err
				}
				if !eventLevel(err) {
					// Not this event's fault (the engine, the disk, a
					// closed connection): stop here; the subscription
					// retries from the position with back-off.
					return fmt.Errorf("apply event seq %d: %w", batch[i].Seq, err)
				}
				if perr := r.park(ctx, &batch[i], err); perr != nil {
					return perr
				}
				if r.def.OnError == OnErrorStop {
					r.setStatus(StatusFaulted, fmt.Sprintf("event seq %d (%s) failed: %v", batch[i].Seq, batch[i].EventType, err))
					return errStop
				}
				r.advance(batch[i].Seq, 0, time.Time{})
				continue
			}
			r.applied(ctx, batch[i:i+1])
		}
		return r.maybeCheckpoint(ctx)
	}
	if err != nil {
		return err
	}
	r.applied(ctx, batch)
	return r.maybeCheckpoint(ctx)
}

// eventLevel reports whether an error comes from an event's own data (a
// handler that throws, a value that does not convert), which parking the
// event resolves, rather than from the engine or the machine.
func eventLevel(err error) bool {
	var ee *eventError
	if errors.As(err, &ee) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"Conversion Error", "Invalid Input Error", "Out of Range Error", "Overflow", "Division by zero", "division by zero", "state of partition"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (r *runner) applied(ctx context.Context, batch []Event) {
	last := &batch[len(batch)-1]
	if r.e.opts.Observe != nil {
		r.e.opts.Observe.Applied(r.def.Tenant, r.def.Name, len(batch), time.Since(batch[0].IngestedAt))
	}
	r.advance(last.Seq, len(batch), last.IngestedAt)
}

// tryApply applies with retries and back-off.
func (r *runner) tryApply(ctx context.Context, batch []Event) error {
	var err error
	wait := r.e.opts.RetryWait
	for attempt := 0; attempt <= r.e.opts.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 4
		}
		if err = r.e.fault("apply.before"); err != nil {
			return err
		}
		if err = r.f.apply(ctx, batch); err == nil {
			return r.e.fault("apply.after")
		}
		if errors.Is(err, errCrashed) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.mu.Lock()
		r.failures++
		r.mu.Unlock()
		if r.e.opts.Observe != nil {
			r.e.opts.Observe.Failed(r.def.Tenant, r.def.Name)
		}
		if eventLevel(err) {
			// The data's fault (a handler that throws): trying again
			// gives the same answer, so the events are sorted out (and
			// parked) at once instead of after the back-off.
			return err
		}
	}
	return err
}

// attemptsOf is how many times an event that failed with cause was
// tried: once for its data's fault, else every retry.
func attemptsOf(cause error, retries int) int {
	if eventLevel(cause) {
		return 1
	}
	return retries + 1
}

// park records a failed event in the dead-letter table.
func (r *runner) park(ctx context.Context, e *Event, cause error) error {
	_, err := r.e.wh.Catalog().ExecContext(ctx,
		`INSERT INTO projection_dead_letters (tenant_id, name, version, seq, event_type, entity_id, error, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.def.Tenant, r.def.Name, r.def.Version, e.Seq, e.EventType, e.EntityID, cause.Error(), attemptsOf(cause, r.e.opts.Retries))
	if err != nil {
		return fmt.Errorf("park event seq %d: %w", e.Seq, err)
	}
	r.mu.Lock()
	r.parked++
	r.mu.Unlock()
	r.e.log.Warn("projection parked an event", "tenant", r.def.Tenant, "projection", r.def.Name, "seq", e.Seq, "err", cause)
	return nil
}

// maybeCheckpoint saves a checkpoint when the interval has passed.
func (r *runner) maybeCheckpoint(ctx context.Context) error {
	if time.Since(r.lastSaved) < r.e.opts.CheckpointEvery {
		return nil
	}
	r.mu.Lock()
	pos, saved, have := r.pos, r.cpSeq, r.cp != nil
	r.mu.Unlock()
	if pos == saved && have {
		return nil
	}
	r.lastSaved = time.Now()
	if err := r.saveCheckpoint(ctx, pos); err != nil {
		if ctx.Err() != nil || errors.Is(err, errCrashed) {
			return err
		}
		// The state in memory is good; the next checkpoint tries again.
		r.e.log.Warn("projection checkpoint", "tenant", r.def.Tenant, "projection", r.def.Name, "err", err)
		return nil
	}
	r.mu.Lock()
	r.cpSeq, r.cpAt = pos, time.Now()
	r.mu.Unlock()
	return nil
}

// wait blocks until pos reaches seq.
func (r *runner) wait(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		pos, ch, st, reason := r.pos, r.progress, r.status, r.reason
		r.mu.Unlock()
		// Events of other tenants up to seq are not this runner's: caught
		// up with the tenant's newest is as good.
		if pos >= seq || (pos >= r.e.wh.TenantWatermark(r.def.Tenant) && seq <= r.e.wh.DataWatermark()) {
			return nil
		}
		if st == StatusFaulted && reason != "" && r.def.OnError == OnErrorStop {
			return allsource.Errorf(allsource.CodeUnavailable, "projection %s is faulted: %s", r.def.Name, reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tracer makes a span per applied batch (a no-op unless the server sets up
// tracing).
var tracer = otel.Tracer("github.com/allsource/allsource/projections")
