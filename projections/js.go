package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime/metrics"
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
// runtime is sandboxed: there is no require, no timers, no I/O; Date and
// Math.random are deterministic (the event's time, a sequence seeded by
// its seq), and each event gets bounded time and allocation.

// JSLimits bound what one event's handler may use.
type JSLimits struct {
	Time       time.Duration // per event; default 100 ms
	Alloc      uint64        // bytes allocated while one event runs (the process's counter, so others' allocations count too); default 1 GiB
	StateBytes int           // a partition's state as JSON; default 1 MiB
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
}

func compileJS(src string) (*jsProgram, error) {
	prog, err := goja.Compile("projection.js", src, false)
	if err != nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: %v", err)
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
	if err := r.guard(); err != nil {
		return nil, err
	}
	var err error
	json := vm.Get("JSON").ToObject(vm)
	r.parse, _ = goja.AssertFunction(json.Get("parse"))
	r.stringify, _ = goja.AssertFunction(json.Get("stringify"))
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
		var ids []string
		if err := vm.ExportTo(c.Argument(0), &ids); err != nil {
			panic(vm.NewTypeError("fromStreams wants an array of entity ids"))
		}
		for _, id := range ids {
			r.streams[id] = true
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

// guard replaces the built-ins that could allocate without bound in one
// step, which the allocation watchdog would see too late.
func (r *jsRuntime) guard() error {
	_, err := r.vm.RunString(fmt.Sprintf(`(function(){
		const max = %d;
		const sp = String.prototype;
		const repeat = sp.repeat, padStart = sp.padStart, padEnd = sp.padEnd;
		const check = (n) => { if (n > max) throw new RangeError("string of " + n + " characters is over the limit of " + max); };
		Object.defineProperty(sp, "repeat", {value: function(n) { check(this.length * n); return repeat.call(this, n); }});
		Object.defineProperty(sp, "padStart", {value: function(n, s) { check(n); return padStart.call(this, n, s); }});
		Object.defineProperty(sp, "padEnd", {value: function(n, s) { check(n); return padEnd.call(this, n, s); }});
		const A = Array;
		const fill = A.prototype.fill;
		Object.defineProperty(A.prototype, "fill", {value: function(...a) { check(this.length); return fill.apply(this, a); }});
		const join = A.prototype.join;
		Object.defineProperty(A.prototype, "join", {value: function(...a) { check(this.length); return join.apply(this, a); }});
	})()`, r.lim.StateBytes*16))
	return err
}

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
	stop    chan struct{}
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

// call runs fn under the watchdog's bounds.
func (r *jsRuntime) call(fn func() error) error {
	w := r.wd
	w.mu.Lock()
	w.running, w.started, w.why = true, time.Now(), nil
	w.gen++
	w.mu.Unlock()
	err := fn()
	w.mu.Lock()
	w.running = false
	why := w.why
	r.vm.ClearInterrupt()
	w.mu.Unlock()
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) && why != nil {
			return why
		}
		var so *goja.StackOverflowError
		if errors.As(err, &so) {
			return errors.New("the handler's calls nest too deeply (stack overflow)")
		}
		var ex *goja.Exception
		if errors.As(err, &ex) {
			return errors.New(strings.TrimSpace(ex.Error()))
		}
	}
	return err
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

// finish turns the touched states into JSON, checking their size.
func (f *jsFold) finish() error {
	for key, c := range f.changed {
		v, err := f.r.stringify(goja.Undefined(), f.live[key])
		if err != nil {
			return fmt.Errorf("state of partition %q: %v", key, err)
		}
		if goja.IsUndefined(v) {
			c.json = "null"
		} else {
			c.json = v.String()
		}
		if len(c.json) > f.r.lim.StateBytes {
			return fmt.Errorf("state of partition %q is %d bytes, over the limit of %d", key, len(c.json), f.r.lim.StateBytes)
		}
	}
	return nil
}
