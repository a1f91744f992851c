package projections

import (
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func testEvent(seq uint64, typ string, payload string) *Event {
	return &Event{Seq: seq, ID: "id", Tenant: "acme", EntityID: "e1", EventType: typ, Version: seq,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), IngestedAt: time.Now(), Payload: []byte(payload), Metadata: []byte(`{}`)}
}

// runJS folds one event through a handler body and returns the state JSON
// or the error.
func runJS(t *testing.T, body string, lim JSLimits) (string, error) {
	t.Helper()
	p, err := compileJS(`fromAll().when({ $init: () => ({}), 'x': (s, e) => { ` + body + ` } })`)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := p.runtime(lim)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	f := rt.newFold(map[string]string{})
	if err := f.step(testEvent(7, "x", `{"a": 1}`)); err != nil {
		return "", err
	}
	if err := f.finish(); err != nil {
		return "", err
	}
	return f.changed[""].json, nil
}

// TestJSSandbox: what a handler cannot do is refused with an error, and
// the runtime stays usable.
func TestJSSandbox(t *testing.T) {
	lim := JSLimits{Time: 200 * time.Millisecond, Alloc: 64 << 20}
	for _, c := range []struct{ name, body, want string }{
		{"infinite loop", `while (true) {}`, "ran longer than"},
		{"busy recursion", `const f = (n) => n <= 0 ? 0 : 1 + f(n - 1); for (;;) f(500)`, "ran longer than"},
		{"stack overflow", `function f() { return f() } f()`, "stack"},
		{"huge string", `s.x = 'x'.repeat(1 << 30)`, "over the limit"},
		{"huge pad", `s.x = ''.padStart(1 << 30, 'y')`, "over the limit"},
		{"growing allocations", `const a = []; for (;;) a.push(new Array(100000).fill(1))`, "allocated more than|ran longer than"},
		{"doubling string", `let x = 'ab'; for (;;) x = x + x`, "allocated more than|ran longer than"},
		{"require", `require('fs')`, "require is not defined"},
		{"timers", `setTimeout(() => {}, 1)`, "setTimeout is not defined"},
		{"interval", `setInterval(() => {}, 1)`, "setInterval is not defined"},
		{"process", `process.exit(1)`, "process is not defined"},
		{"fetch", `fetch('http://example.com')`, "fetch is not defined"},
		{"state too large", `s.x = 'x'.repeat(600000); s.y = s.x + s.x`, "over the limit"},
		{"throw", `throw new Error('no')`, "Error: no"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := runJS(t, c.body, lim)
			if err == nil || !containsAny(err.Error(), strings.Split(c.want, "|")) {
				t.Fatalf("%s: %v (want %q)", c.body, err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// TestJSNoModules: import is not even valid syntax in a projection.
func TestJSNoModules(t *testing.T) {
	if _, err := compileJS(`import fs from 'fs'; fromAll().when({})`); err == nil || !strings.Contains(err.Error(), "SyntaxError") {
		t.Fatal(err)
	}
}

// TestJSDeterministic: Date and Math.random depend only on the event.
func TestJSDeterministic(t *testing.T) {
	a, err := runJS(t, `s.now = Date.now(); s.d = new Date().toISOString(); s.r = [Math.random(), Math.random()]`, JSLimits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := runJS(t, `s.now = Date.now(); s.d = new Date().toISOString(); s.r = [Math.random(), Math.random()]`, JSLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.Contains(a, `"d":"2026-01-02T03:04:05.000Z"`) {
		t.Fatalf("%s vs %s", a, b)
	}
}

// TestJSStyles: KurrentDB's shapes (handlers returning state or mutating
// it, $any, partitionBy, fromStream, event field names).
func TestJSStyles(t *testing.T) {
	for _, c := range []struct {
		src    string
		events []*Event
		want   map[string]string
	}{
		{`fromAll().when({ $init: () => ({n: 0}), $any: (s, e) => ({ n: s.n + 1, last: e.eventType }) })`,
			[]*Event{testEvent(1, "a", `{}`), testEvent(2, "b", `{}`)}, map[string]string{"": `{"n":2,"last":"b"}`}},
		{`fromAll().partitionBy(e => e.body.k).when({ 'a': (s, e) => { s.sum = (s.sum || 0) + e.data.v } })`,
			[]*Event{testEvent(1, "a", `{"k": "p", "v": 2}`), testEvent(2, "a", `{"k": "q", "v": 3}`), testEvent(3, "a", `{"k": "p", "v": 4}`), testEvent(4, "a", `{"v": 9}`)},
			map[string]string{"p": `{"sum":6}`, "q": `{"sum":3}`}},
		{`fromStream('e1').when({ a: (s, e) => { s.v = e.version; s.stream = e.streamId; s.seq = e.sequenceNumber } })`,
			[]*Event{testEvent(5, "a", `{}`)}, map[string]string{"": `{"v":5,"stream":"e1","seq":5}`}},
		{`fromStreams(['other']).when({ a: (s) => { s.n = 1 } })`, []*Event{testEvent(5, "a", `{}`)}, map[string]string{}},
	} {
		p, err := compileJS(c.src)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := p.runtime(JSLimits{})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.close()
		f := rt.newFold(map[string]string{})
		for _, e := range c.events {
			if err := f.step(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.finish(); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for k, ch := range f.changed {
			got[k] = ch.json
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %v, want %v", c.src, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Fatalf("%s: %s = %s, want %s", c.src, k, got[k], v)
			}
		}
	}
}

var _ = allsource.DefaultTenant

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
