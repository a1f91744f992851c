package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/allsource/allsource"
)

// Code projections are JavaScript in the style of KurrentDB's:
//
//	fromAll()                          // or fromStream('order-1'), fromStreams([...])
//	  .partitionBy(e => e.data.region) // or .foreachStream(): one state per entity
//	  .when({
//	    $init: () => ({ count: 0 }),
//	    'order.placed': (s, e) => { s.count++; s.total = (s.total || 0) + e.data.amount },
//	    $any: (s, e) => s,             // events with no handler of their own
//	  })
//
// A handler returns the new state, or changes s and returns nothing. The
// runtime is sandboxed: there is no require, no timers, no I/O, no eval;
// Date and Math.random are deterministic (the event's time, a sequence
// seeded by its seq), and each event gets bounded time and allocation.
// The source is checked before it is parsed (jscheck.go) and the
// built-ins that could take the process down in one step are bounded
// (jsguard.go). Whatever fails, a Go panic included, fails the call, so
// the event, never the process.

// JSLimits bound what one event's handler may use.
type JSLimits struct {
	Time       time.Duration // per event; default 100 ms
	Alloc      uint64        // bytes allocated while one event runs (the process's counter, so others' allocations count too); default 1 GiB
	StateBytes int           // a partition's state as JSON; default 1 MiB
	// Value bounds what one built-in may make in one step: characters of
	// a string, bytes of an ArrayBuffer or typed array, and (an eighth of
	// it) elements of an array a built-in loops over; default 16 ×
	// StateBytes.
	Value int
}

func (l *JSLimits) defaults() {
	if l.Time <= 0 {
		l.Time = 100 * time.Millisecond
	}
	if l.Alloc == 0 {
		l.Alloc = 1 << 30
	}
	if l.StateBytes <= 0 {
		l.StateBytes = 1 << 20
	}
	if l.Value <= 0 {
		l.Value = 16 * l.StateBytes
	}
}

var byEntityRE = regexp.MustCompile(`partitionBy\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*(\w+)\.(entity_id|streamId|subject)\s*\)`)

// partitionsByEntity reports whether the source partitions by entity id
// with partitionBy(e => e.entity_id) (or streamId, subject).
func (r *jsRuntime) partitionsByEntity() bool {
	m := byEntityRE.FindStringSubmatch(r.src)
	return m != nil && m[1] == m[2]
}

// jsProgram is a compiled code projection: what its source declared.
type jsProgram struct {
	src  string
	prog *goja.Program
}

// jsRuntime runs one program's handlers.
type jsRuntime struct {
	src       string
	vm        *goja.Runtime
	lim       JSLimits
	streams   map[string]bool // fromStream(s): only these entities
	partition goja.Callable   // partitionBy; nil: one state (or per entity)
	perEntity bool            // foreachStream
	handlers  map[string]goja.Callable
	init      goja.Callable
	any       goja.Callable
	parse     goja.Callable // JSON.parse
	stringify goja.Callable // JSON.stringify
	wd        *watchdog
	now       time.Time
	rnd       *rand.Rand
	declared  bool
	// broken: a Go panic left the runtime in an unknown state; its
	// folder replaces it.
	broken     bool
	rangeError func(format string, args ...any) *goja.Object
}

func compileJS(src string) (*jsProgram, error) {
	prog, err := compileSource(src)
	if err != nil {
		return nil, err
	}
	p := &jsProgram{src: src, prog: prog}
	r, err := p.runtime(JSLimits{})
	if err != nil {
		return nil, err
	}
	r.close()
	return p, nil
}

// runtime makes a sandboxed runtime and runs the program's declarations
// in it.
func (p *jsProgram) runtime(lim JSLimits) (*jsRuntime, error) {
	lim.defaults()
	r := &jsRuntime{src: p.src, vm: goja.New(), lim: lim, handlers: map[string]goja.Callable{}, rnd: rand.New(rand.NewPCG(0, 0))}
	vm := r.vm
	vm.SetMaxCallStackSize(1024)
	vm.SetTimeSource(func() time.Time { return r.now })
	vm.SetRandSource(func() float64 { return r.rnd.Float64() })
	if err := r.guarded(r.guard); err != nil {
		return nil, fmt.Errorf("projection JavaScript: set up the runtime: %w", err)
	}
	var err error
	vm.SetFieldNameMapper(goja.TagFieldNameMapper("js", true))
	r.startWatchdog()

	builder := vm.NewObject()
	self := func(goja.FunctionCall) goja.Value { return builder }
	builder.Set("partitionBy", func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError("partitionBy wants a function of the event"))
		}
		r.partition = fn
		return builder
	})
	builder.Set("foreachStream", func(goja.FunctionCall) goja.Value { r.perEntity = true; return builder })
	builder.Set("outputState", self)
	builder.Set("when", func(c goja.FunctionCall) goja.Value {
		obj := c.Argument(0)
		if goja.IsUndefined(obj) || goja.IsNull(obj) {
			panic(vm.NewTypeError("when wants an object of handlers: { $init: () => ({}), 'type': (s, e) => … }"))
		}
		o := obj.ToObject(vm)
		for _, k := range o.Keys() {
			fn, ok := goja.AssertFunction(o.Get(k))
			if !ok {
				panic(vm.NewTypeError(fmt.Sprintf("when: handler %q is not a function", k)))
			}
			switch k {
			case "$init":
				r.init = fn
			case "$any":
				r.any = fn
			default:
				if strings.HasPrefix(k, "$") {
					panic(vm.NewTypeError(fmt.Sprintf("when: %q is not a known handler ($init, $any, or an event type)", k)))
				}
				r.handlers[k] = fn
			}
		}
		r.declared = true
		return builder
	})
	vm.Set("fromAll", self)
	vm.Set("fromStream", func(c goja.FunctionCall) goja.Value {
		r.streams = map[string]bool{c.Argument(0).String(): true}
		return builder
	})
	vm.Set("fromStreams", func(c goja.FunctionCall) goja.Value {
		r.streams = map[string]bool{}
		ids, ok := c.Argument(0).(*goja.Object)
		if !ok || ids.ClassName() != "Array" {
			panic(vm.NewTypeError("fromStreams wants an array of entity ids"))
		}
		n := ids.Get("length").ToInteger()
		if n > jsMaxStreams {
			panic(r.rangeError("fromStreams: %d entity ids are over the limit of %d", n, jsMaxStreams))
		}
		for i := int64(0); i < n; i++ {
			r.streams[ids.Get(strconv.FormatInt(i, 10)).String()] = true
		}
		return builder
	})
	r.now = time.Unix(0, 0).UTC()
	err = r.call(func() error {
		_, err := vm.RunProgram(p.prog)
		return err
	})
	switch {
	case err != nil:
		err = allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: %v", err)
	case !r.declared:
		err = allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: declare handlers with fromAll().when({ … })")
	case r.partition != nil && r.perEntity:
		err = allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: use partitionBy or foreachStream, not both")
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// jsMaxStreams bounds fromStreams.
const jsMaxStreams = 100_000

// heapAllocs reads the process's cumulative heap allocation.
func heapAllocs() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// watchdog interrupts a runtime whose current call runs past the time
// limit or allocates past the allocation limit. One goroutine serves a
// runtime for its lifetime and looks every few milliseconds, so a call
// costs two lock operations, not a timer.
type watchdog struct {
	mu      sync.Mutex
	running bool
	gen     uint64    // calls started
	started time.Time // of the running call
	seenGen uint64    // the call the allocation baseline belongs to
	base    uint64    // heap allocations when the watchdog first saw it
	why     error
	slowRE  bool // a regular expression took its whole time bound
	stop    chan struct{}
}

// fired is why the watchdog stopped the running call, if it did.
func (w *watchdog) fired() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}

func (w *watchdog) noteSlowRegexp() {
	if w != nil {
		w.mu.Lock()
		w.slowRE = true
		w.mu.Unlock()
	}
}

func (r *jsRuntime) startWatchdog() {
	w := &watchdog{stop: make(chan struct{})}
	r.wd = w
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			w.mu.Lock()
			if w.running && w.why == nil {
				if time.Since(w.started) > r.lim.Time {
					w.why = fmt.Errorf("the handler ran longer than %v", r.lim.Time)
				} else if a := heapAllocs(); w.seenGen != w.gen {
					w.seenGen, w.base = w.gen, a
				} else if a-w.base > r.lim.Alloc {
					w.why = fmt.Errorf("the handler allocated more than %d MiB", r.lim.Alloc>>20)
				}
				if w.why != nil {
					r.vm.Interrupt("limit")
				}
			}
			w.mu.Unlock()
		}
	}()
}

// close stops the runtime's watchdog.
func (r *jsRuntime) close() {
	if r.wd != nil {
		close(r.wd.stop)
		r.wd = nil
	}
}

// call runs fn under the watchdog's bounds. A Go panic in fn (goja's or
// ours) is its error, and breaks the runtime.
func (r *jsRuntime) call(fn func() error) error {
	w := r.wd
	w.mu.Lock()
	w.running, w.started, w.why, w.slowRE = true, time.Now(), nil, false
	w.gen++
	w.mu.Unlock()
	err := r.guarded(func() error {
		// An exception is described while the watchdog still runs: its
		// toString is user code.
		err := fn()
		var ex *goja.Exception
		if errors.As(err, &ex) {
			return errors.New(describe(ex))
		}
		return err
	})
	w.mu.Lock()
	w.running = false
	why, slowRE, took := w.why, w.slowRE, time.Since(w.started)
	r.vm.ClearInterrupt()
	w.mu.Unlock()
	if why == nil && took > r.lim.Time {
		// Past the bound inside one built-in, returned before the
		// watchdog looked.
		why = fmt.Errorf("the handler ran longer than %v", r.lim.Time)
	}
	if why != nil && slowRE {
		why = fmt.Errorf("%w (a regular expression match ran %v, its limit)", why, jsRegexpTime)
	}
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	switch {
	case why != nil && (err == nil || errors.As(err, &ie)):
		return why
	case errors.As(err, &so):
		return errors.New("the handler's calls nest too deeply (stack overflow)")
	}
	return err
}

// describe is an uncaught exception's message and where in the
// projection it was thrown.
func describe(ex *goja.Exception) string {
	msg := "an exception"
	if v := ex.Value(); v != nil {
		msg = v.String()
	}
	for _, f := range ex.Stack() {
		if f.SrcName() == jsSourceName {
			p := f.Position()
			msg += fmt.Sprintf(" (%s:%d:%d)", jsSourceName, p.Line, p.Column)
			break
		}
	}
	return strings.TrimSpace(msg)
}

// guarded runs fn, turning a panic into an error that marks the runtime
// broken.
func (r *jsRuntime) guarded(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.broken = true
			var ie *goja.InterruptedError
			var so *goja.StackOverflowError
			if e, ok := p.(error); ok && (errors.As(e, &ie) || errors.As(e, &so)) {
				err = e // the watchdog's, out of Go code calling JavaScript
				return
			}
			err = fmt.Errorf("the JavaScript runtime failed: %v", p)
		}
	}()
	return fn()
}

// jsEvent is the event as handlers see it, with KurrentDB's names for its
// fields too. Data and metadata are the decoded JSON.
type jsEvent struct {
	Seq            uint64 `js:"seq"`
	SequenceNumber uint64 `js:"sequenceNumber"`
	ID             string `js:"id"`
	EventID        string `js:"eventId"`
	Tenant         string `js:"tenant"`
	EntityID       string `js:"entity_id"`
	StreamID       string `js:"streamId"`
	Subject        string `js:"subject"`
	EventType      string `js:"event_type"`
	EventTypeK     string `js:"eventType"`
	Type           string `js:"type"`
	Version        uint64 `js:"version"`
	Timestamp      string `js:"timestamp"`
	Time           string `js:"time"`
	IngestedAt     string `js:"ingested_at"`
	Data           any    `js:"data"`
	Body           any    `js:"body"`
	Payload        any    `js:"payload"`
	Metadata       any    `js:"metadata"`
}

// eventValue is the event as handlers see it: a read-only view of a Go
// value (no copying field by field into the runtime).
func (r *jsRuntime) eventValue(e *Event) (goja.Value, error) {
	var data any
	if err := json.Unmarshal(e.Payload, &data); err != nil {
		return nil, err
	}
	var meta any = map[string]any{}
	if len(e.Metadata) > 0 {
		if err := json.Unmarshal(e.Metadata, &meta); err != nil {
			return nil, err
		}
	}
	ts := e.Timestamp.UTC().Format(time.RFC3339Nano)
	return r.vm.ToValue(&jsEvent{Seq: e.Seq, SequenceNumber: e.Seq, ID: e.ID, EventID: e.ID, Tenant: e.Tenant,
		EntityID: e.EntityID, StreamID: e.EntityID, Subject: e.EntityID, EventType: e.EventType, EventTypeK: e.EventType, Type: e.EventType,
		Version: e.Version, Timestamp: ts, Time: ts, IngestedAt: e.IngestedAt.UTC().Format(time.RFC3339Nano),
		Data: data, Body: data, Payload: data, Metadata: meta}), nil
}

// partitionOf is the state an event folds into; ok false skips the event.
func (r *jsRuntime) partitionOf(e *Event, ev goja.Value) (string, bool, error) {
	if r.streams != nil && !r.streams[e.EntityID] {
		return "", false, nil
	}
	if r.perEntity {
		return e.EntityID, true, nil
	}
	if r.partition == nil {
		return "", true, nil
	}
	v, err := r.partition(goja.Undefined(), ev)
	if err != nil {
		return "", false, err
	}
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return "", false, nil
	}
	return v.String(), true, nil
}

// jsFold folds events into states (JSON per partition) in memory. changed
// collects the partitions it touched, with their new JSON.
type jsFold struct {
	r       *jsRuntime
	states  map[string]string // committed
	live    map[string]goja.Value
	changed map[string]*jsChange
}

type jsChange struct {
	seq  uint64
	at   time.Time
	json string
}

func (r *jsRuntime) newFold(states map[string]string) *jsFold {
	return &jsFold{r: r, states: states, live: map[string]goja.Value{}, changed: map[string]*jsChange{}}
}

// step applies one event. An error names what went wrong in the handler.
func (f *jsFold) step(e *Event) error {
	r := f.r
	h := r.handlers[e.EventType]
	if h == nil {
		h = r.any
	}
	if h == nil {
		return nil
	}
	r.now = e.Timestamp
	r.rnd = rand.New(rand.NewPCG(e.Seq, 0x5eed))
	return r.call(func() error {
		ev, err := r.eventValue(e)
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		key, ok, err := r.partitionOf(e, ev)
		if err != nil || !ok {
			return err
		}
		s, ok := f.live[key]
		if !ok {
			if js, found := f.states[key]; found {
				if s, err = r.parse(goja.Undefined(), r.vm.ToValue(js)); err != nil {
					return err
				}
			} else if r.init != nil {
				if s, err = r.init(goja.Undefined()); err != nil {
					return err
				}
			} else {
				s = r.vm.NewObject()
			}
		}
		out, err := h(goja.Undefined(), s, ev)
		if err != nil {
			return err
		}
		if !goja.IsUndefined(out) {
			s = out
		}
		f.live[key] = s
		c := f.changed[key]
		if c == nil {
			c = &jsChange{}
			f.changed[key] = c
		}
		c.seq = e.Seq
		if e.Timestamp.After(c.at) {
			c.at = e.Timestamp
		}
		return nil
	})
}

// finish turns the touched states into JSON, checking their size; each
// under the watchdog, as a handler is.
func (f *jsFold) finish() error {
	for key, c := range f.changed {
		err := f.r.call(func() error {
			v, err := f.r.stringify(goja.Undefined(), f.live[key])
			if err != nil {
				return err
			}
			if goja.IsUndefined(v) {
				c.json = "null"
			} else {
				c.json = v.String()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("state of partition %q: %v", key, err)
		}
		if len(c.json) > f.r.lim.StateBytes {
			return fmt.Errorf("state of partition %q is %d bytes, over the limit of %d", key, len(c.json), f.r.lim.StateBytes)
		}
	}
	return nil
}
