package projections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"

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
	return runJSWith(t, body, `{"a": 1}`, lim)
}

// TestJSSandbox: what a handler cannot do is refused with an error, and
// the runtime stays usable. Each of the cases after "throw" would, without
// its bound, take the process down (out of memory or Go stack) or hold
// the runner far past the time limit inside one built-in.
func TestJSSandbox(t *testing.T) {
	t.Cleanup(regexp2.StopTimeoutClock)
	lim := JSLimits{Time: 200 * time.Millisecond, Alloc: 64 << 20}
	if raceEnabled {
		// Building the 10-million-character strings the size cases start
		// from takes longer than 200 ms under the race detector; the
		// bound they test must be what stops them.
		lim.Time = 2 * time.Second
	}
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
		{"throw with a looping toString", `throw { toString() { for (;;) {} } }`, "ran longer than"},

		{"array buffer", `s.x = new ArrayBuffer(1e11)`, "ArrayBuffer of 100000000000 bytes is over the limit"},
		{"typed array", `s.x = new Float64Array(1e10)`, "Float64Array of 10000000000 elements"},
		{"typed array of an array-like", `s.x = new Int32Array({ length: 1e10 })`, "over the limit"},
		{"typed array subclass", `class X extends Uint16Array {}; s.x = new X(1e10)`, "over the limit"},
		{"typed array from", `s.x = Uint8Array.from({ length: 1e11 })`, "over the limit"},
		{"typed array join", `s.x = new Uint8Array(1e7).join('xxxxxxxxxx')`, "over the limit"},
		{"sparse array map", `s.x = new Array(1e9).map(x => x)`, "array of 1000000000 elements is over the limit"},
		{"sparse array sort", `const a = []; a.length = 1e9; s.x = a.sort()`, "array of 1000000000 elements"},
		{"sparse array spread", `s.x = [...new Array(1e9)]`, "ran longer than|allocated more than"},
		{"array from an array-like", `s.x = Array.from({ length: 1e9 })`, "over the limit"},
		{"apply with an array-like", `s.x = Math.max.apply(null, { length: 1e9 })`, "over the limit"},
		{"length from a getter", `s.x = Array.prototype.map.call({ get length() { return 1e9 } }, x => x)`, "getter"},
		{"join of large strings", `s.x = new Array(10).fill('x'.repeat(1e7)).join('')`, "string of 20000000 characters"},
		{"join with a large separator", `s.x = new Array(1000).join('x'.repeat(1e6))`, "over the limit"},
		{"concat", `s.x = 'x'.repeat(1e7).concat('y'.repeat(1e7))`, "over the limit"},
		{"replace amplified", `s.x = 'a'.repeat(1e6).replaceAll('a', 'b'.repeat(1e3))`, "allocated more than|ran longer than"},
		{"split into characters", `s.x = 'x'.repeat(1e7).split('')`, "array of 10000000 elements"},
		{"keys of a string", `s.x = Object.keys('x'.repeat(1e7))`, "over the limit"},
		{"backtracking regexp", `s.m = /^(a+)+\1b$/.test('a'.repeat(30) + 'c')`, "regular expression"},
		{"backtracking regexp, many matches", `s.m = ('a'.repeat(28) + 'c ').repeat(100).replace(/(a+)+\1b|c/g, 'x')`, "regular expression|ran longer than"},
		{"long pattern", `s.x = new RegExp('('.repeat(20000) + ')'.repeat(20000))`, "regular expression of 40000 characters"},
		{"long pattern from a string", `s.x = 'x'.match('('.repeat(20000) + ')'.repeat(20000))`, "regular expression of 40000 characters"},
		{"deep JSON.stringify", `let o = {}; for (let i = 0; i < 2000; i++) o = { a: o }; s.x = JSON.stringify(o)`, "nested deeper than 1000"},
		{"deep JSON.parse", `s.x = JSON.parse('['.repeat(2000) + ']'.repeat(2000))`, "nested deeper than 1000"},
		{"deep state", `let o = {}; for (let i = 0; i < 2000; i++) o = { a: o }; s.x = o`, "state of partition"},
		{"deep flat", `let a = []; for (let i = 0; i < 2000; i++) a = [a]; s.x = a.flat(Infinity)`, "nesting of 1001 levels"},
		{"deep toString", `let a = []; for (let i = 0; i < 2000; i++) a = [a]; s.x = String(a)`, "stack overflow"},
		{"deep reviver", `let o = {}; for (let i = 0; i < 2000; i++) o = { a: o }; s.x = JSON.parse('{"a":1,"b":2}', function (k, v) { if (k === 'a') this.b = o; return v })`, "stack overflow"},
		{"bound chain", `let f = () => 1; for (let i = 0; i < 2000; i++) f = f.bind(null); s.x = f()`, "bound functions of 1001 levels"},
		{"eval", `s.x = eval('1 + 1')`, "not available in projections"},
		{"Function", `s.x = Function('return 1')()`, "not available in projections"},
		{"generator constructor", `s.x = Object.getPrototypeOf(function* () {}).constructor('yield 1')`, "not available in projections"},
		{"Proxy", `s.x = new Proxy({}, {})`, "Proxy is not defined"},
		{"BigInt", `s.x = BigInt(1)`, "BigInt is not defined"},
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

// TestJSSourceLimits: a source over a limit is refused before it is
// parsed (size, brackets, arrows) or compiled (nesting), naming the limit.
func TestJSSourceLimits(t *testing.T) {
	handler := func(body string) string { return `fromAll().when({ x: (s, e) => { ` + body + ` } })` }
	for _, c := range []struct{ name, src, want string }{
		{"size", handler(`s.a = 1;` + strings.Repeat(" ", jsMaxSource)), "over the limit of 65536 bytes"},
		{"nested arrays", handler(`s.a = ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000)), "brackets ((, [ and {"},
		{"unclosed brackets", strings.Repeat("(", 30000), "over the limit of 4096"},
		{"brackets in strings count too", handler(`s.a = '` + strings.Repeat("{", 4100) + `'`), "brackets"},
		{"arrows", handler(`s.a = ` + strings.Repeat("x => ", 1100) + `1`), "arrows"},
		{"nested within the counts", handler(`s.a = ` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000)), "nests deeper than 1000 levels"},
		{"negations", handler(`s.a = ` + strings.Repeat("!", 1500) + `1`), "nests deeper than 1000 levels"},
		{"assignments", handler(strings.Repeat("s.a = ", 1500) + `1`), "nests deeper than 1000 levels"},
		{"conditionals", handler(`s.a = ` + strings.Repeat("e ? 1 : ", 1500) + `2`), "nests deeper than 1000 levels"},
		{"sums", handler(`s.a = 1` + strings.Repeat(" + 1", 1500)), "nests deeper than 1000 levels"},
		{"member chain", handler(`s.a = e` + strings.Repeat("?.a", 1500)), "nests deeper than 1000 levels"},
		{"objects", handler(`s.a = ` + strings.Repeat("{a:", 1500) + `1` + strings.Repeat("}", 1500)), "nests deeper than 1000 levels"},
		{"conditionals in conditionals", handler(`s.a = ` + strings.Repeat("e ? ", 1500) + `1` + strings.Repeat(" : 2", 1500)), "nests deeper than 1000 levels"},
		{"parentheses add no level", handler(`s.a = ` + strings.Repeat("(", 1500) + `1` + strings.Repeat(")", 1500)), ""},
		{"BigInt literal", handler(`s.a = 1n`), "BigInt is not available"},
		{"syntax error", handler(`s.a = (`), "SyntaxError"},
		{"a long else-if chain is fine", handler(strings.Repeat("if (e.seq === 1) s.a = 1; else ", 200) + `s.a = 2`), ""},
		{"a source map comment is not read", handler(`s.a = 1`) + "\n//# sourceMappingURL=/dev/zero", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := compileJS(c.src)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.want) || allsource.ErrorCode(err) != allsource.CodeInvalid {
				t.Fatalf("%v (want %q)", err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// TestJSParserStack: the worst sources the text limits let through parse
// with a 64 MB stack (the process dies past 1 GB); the parse runs in a
// child process, where running out would end only the child.
func TestJSParserStack(t *testing.T) {
	worst := map[string]string{
		"arrays":       strings.Repeat("[", jsMaxBrackets),
		"mixed":        strings.Repeat("[({a:", jsMaxBrackets/3),
		"templates":    strings.Repeat("`${", jsMaxBrackets),
		"classes":      strings.Repeat("(class extends ", jsMaxBrackets),
		"negations":    strings.Repeat("!", jsMaxSource-1) + "x",
		"assignments":  strings.Repeat("a=", jsMaxSource/2-1) + "1",
		"conditionals": strings.Repeat("x?", jsMaxSource/2-1) + "x",
		"arrows":       strings.Repeat("x=>", jsMaxArrows) + strings.Repeat("!", jsMaxSource-3*jsMaxArrows-1) + "x",
		"news":         strings.Repeat("new ", jsMaxSource/4-1) + "x",
	}
	if name := os.Getenv("JS_PARSER_STACK_CHILD"); name != "" {
		debug.SetMaxStack(64 << 20)
		src := worst[name]
		if err := checkSourceText(src); err != nil {
			fmt.Println("refused:", err)
			os.Exit(2)
		}
		_, err := compileSource(src)
		fmt.Println("parsed:", err)
		os.Exit(0)
	}
	for name := range worst {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			cmd := exec.Command(os.Args[0], "-test.run=^TestJSParserStack$")
			cmd.Env = append(os.Environ(), "JS_PARSER_STACK_CHILD="+name)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "parsed:") {
				t.Fatalf("%v\n%s", err, tail(string(out), 20))
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestJSBuiltinsStillWork: the bounded built-ins answer as the originals
// do.
func TestJSBuiltinsStillWork(t *testing.T) {
	t.Cleanup(regexp2.StopTimeoutClock)
	for _, c := range []struct{ body, want string }{
		{`s.x = [3, 1, 2].map(x => x * 2).sort().join('-')`, `"2-4-6"`},
		{`s.x = [1, [2, [3, [4]]]].flat(Infinity)`, `[1,2,3,4]`},
		{`s.x = [1, [2, [3]]].flat()`, `[1,2,[3]]`},
		{`s.x = [1, , 3].flat()`, `[1,3]`},
		{`s.x = [1, 2].flatMap(x => [x, [x * 10]])`, `[1,[10],2,[20]]`},
		{`s.x = [1, 2, 3].concat([4], 5, [[6]])`, `[1,2,3,4,5,[6]]`},
		{`s.x = [1, null, undefined, 'a', [2, 3]].join()`, `"1,,,a,2,3"`},
		{`s.x = [1, 'a', null].toLocaleString()`, `"1,a,"`},
		{`s.x = String([1, [2, 3]])`, `"1,2,3"`},
		{`s.x = Array.from({ length: 3 }, (v, i) => i * i)`, `[0,1,4]`},
		{`s.x = Array.from(new Set([1, 1, 2]))`, `[1,2]`},
		{`s.x = [...'héllo'].length + [...[1, 2, 3]].length`, `8`},
		{`let n = 0; for (const v of e.data.items) n += v; s.x = n + e.data.items.map(v => v * 2).join('')`, `"6246"`},
		{`s.x = Math.max.apply(null, [1, 5, 3]) + Reflect.apply(Math.min, null, [4, 2])`, `7`},
		{`s.x = Object.keys('abc').concat(Object.values({ a: 1 }))`, `["0","1","2",1]`},
		{`s.x = ((a, b) => a + b).bind(null, 1)(2)`, `3`},
		{`s.x = new Float64Array([1.5, 2]).map(v => v * 2).join('|') + new Uint8Array(4).length`, `"3|44"`},
		{`class X extends Uint8Array {}; const x = new X(3); s.x = [x.length, x instanceof Uint8Array, x.constructor === X, Uint8Array.from([1, 2]).join()]`, `[3,true,true,"1,2"]`},
		{`s.x = new ArrayBuffer(16).slice(4).byteLength + new DataView(new ArrayBuffer(8)).byteLength`, `20`},
		{`s.x = 'ab'.repeat(3) + 'x'.padStart(3, '-') + 'x'.padEnd(3) + 'a'.concat('b', 1)`, `"ababab--xx  ab1"`},
		{`s.x = 'a-b-c'.replace('-', '+') + 'a-b-c'.replaceAll('-', '+') + 'a-b-c'.replace(/-/g, () => '.')`, `"a+b-ca+b+ca.b.c"`},
		{`s.x = 'John Smith'.replace(/(\w+)\s(\w+)/, '$2, $1') + 'x'.replace(/(?<l>x)/, '[$<l>]')`, `"Smith, John[x]"`},
		{`s.x = 'a,b,,c'.split(',').length + 'abc'.split('').join('.') + 'a1b22c'.split(/\d+/).join('') + 'a b'.split(' ', 1)`, `"4a.b.cabca"`},
		{`s.x = 'The Quick'.match(/quick/i)[0] + 'aXbX'.search('X') + [...'a1b2'.matchAll(/\d/g)].map(m => m[0]).join() + 'a.c'.match('.')[0]`, `"Quick11,2a"`},
		{`s.x = [/a/g.test('bab'), /(\d+)-(\d+)/.exec('10-20').slice(1), RegExp('a+', 'g').flags, new RegExp(/x/gi).flags, /y/ instanceof RegExp, RegExp(/z/) !== undefined]`, `[true,["10","20"],"g","gi",true,true]`},
		{`s.x = /(a)\1/.test('aa') + '' + /(?<=a)b/.test('ab')`, `"truetrue"`},
		{`s.x = JSON.parse(JSON.stringify({ a: [1, { b: 'c' }], d: null }))`, `{"a":[1,{"b":"c"}],"d":null}`},
		{`s.x = JSON.stringify({ a: 1, b: [2] }, null, 2).length + JSON.stringify({ a: 1, b: 2 }, (k, v) => k === 'b' ? undefined : v)`, `"32{\"a\":1}"`},
		{`s.x = JSON.parse('{"a":[1,2,{"b":3}]}', (k, v) => typeof v === 'number' ? v * 10 : v)`, `{"a":[10,20,{"b":30}]}`},
		{`s.x = String.raw` + "`a\\n${1}b`", `"a\\n1b"`},
		{`s.x = typeof Function + (function () {} instanceof Function) + ((() => 1).constructor === Function)`, `"functiontruetrue"`},
	} {
		got, err := runJSWith(t, c.body, `{"a": 1, "items": [1, 2, 3]}`, JSLimits{})
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if want := `{"x":` + c.want + `}`; got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.body, got, want)
		}
	}
}

// TestJSReplaceThroughAFunction: a replacement over the bound is applied
// through a function of the sandbox's own; it gives what the built-in
// gives.
func TestJSReplaceThroughAFunction(t *testing.T) {
	t.Cleanup(regexp2.StopTimeoutClock)
	for _, c := range [][3]string{
		{`'abcabc'`, `/b/g`, `'[$&|$$|$\x60|$\x27]'`},
		{`'John Smith'`, `/(\w+)\s(\w+)/g`, `'$2, $1 $3 $0 $00 $01 $10 $1a'`},
		{`'x12y'`, `/(\d)(\d)/g`, `'<$2$1$22$12>'`},
		{`'2026-05-01'`, `/(?<y>\d+)-(?<m>\d+)-(?<d>\d+)/g`, `'$<d>.$<m>.$<y> $<nope> $<y'`},
		{`'aaa'`, `'a'`, `'$&$&$\x27'`},
		{`'aaa'`, `/a/g`, `'$<x>'`},
		{`'a-b'`, `/(-)|(x)/g`, `'[$1$2]'`},
		{`'abc'`, `/$/g`, `'!$\x60'`},
	} {
		expr := fmt.Sprintf(`%[1]s.replace(%[2]s, %[3]s) + '|' + %[1]s.replaceAll(%[2]s, %[3]s)`, c[0], c[1], c[2])
		native := evalJS(t, expr, JSLimits{})
		// With a value bound of 1, every replacement goes through the
		// function.
		if viaFunction := evalJS(t, expr, JSLimits{Value: 1}); native != viaFunction {
			t.Errorf("%s:\nbuilt-in %s\nfunction %s", expr, native, viaFunction)
		}
	}
}

// evalJS evaluates an expression in a runtime and returns it as a string.
func evalJS(t *testing.T, expr string, lim JSLimits) string {
	t.Helper()
	p, err := compileJS(`fromAll().when({})`)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := p.runtime(lim)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	var out string
	if err := rt.call(func() error {
		v, err := rt.vm.RunString(expr)
		if err == nil {
			out = v.String()
		}
		return err
	}); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return out
}

// runJSWith folds one event with the payload through a handler body.
func runJSWith(t *testing.T, body, payload string, lim JSLimits) (string, error) {
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
	if err := f.step(testEvent(7, "x", payload)); err != nil {
		return "", err
	}
	if err := f.finish(); err != nil {
		return "", err
	}
	return f.changed[""].json, nil
}

// TestJSGoPanic: a Go panic inside the runtime fails the event, not the
// process; the folder then starts a new runtime and goes on.
func TestJSGoPanic(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p, err := compileJS(`fromAll().when({ $init: () => ({ n: 0 }), x: (s, e) => { if (typeof explode === 'function') explode(); s.n++ } })`)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newJSFolder(ctx, s.wh, allsource.DefaultTenant, "panics", p, JSLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	f.fault = func(string) error { return nil }
	if err := f.setup(ctx); err != nil {
		t.Fatal(err)
	}
	f.rt.vm.Set("explode", func() { panic("a bug in Go code") })
	err = f.apply(ctx, []Event{*testEvent(1, "x", `{}`)})
	var ee *eventError
	if !errors.As(err, &ee) || ee.seq != 1 || !strings.Contains(err.Error(), "a bug in Go code") || !f.rt.broken {
		t.Fatalf("%v (broken %v)", err, f.rt.broken)
	}
	if err := f.apply(ctx, []Event{*testEvent(2, "x", `{}`)}); err != nil {
		t.Fatal(err)
	}
	if f.rt.broken || f.states[""] != `{"n":1}` {
		t.Fatalf("after a new runtime: %v %v", f.rt.broken, f.states)
	}
}

// TestJSHostileProjections: through the engine, a handler that asks for
// too much parks its event (or, with on_error stop, faults the
// projection); a restart replays the event and parks it again.
func TestJSHostileProjections(t *testing.T) {
	s := newStore(t)
	s.orders(t, "acme", 10)
	opts := Options{Retries: 1, RetryWait: time.Millisecond, CheckpointEvery: time.Hour}
	e := openEngine(t, s, opts)
	ctx := context.Background()
	hostile := `fromAll().when({ 'order.paid': (s, e) => { s.b = new Float64Array(1e10) }, 'order.placed': (s) => { s.n = (s.n || 0) + 1 } })`
	for _, spec := range []Spec{{Name: "skips", JS: hostile}, {Name: "stops", JS: hostile, OnError: OnErrorStop}} {
		if _, err := e.Create(ctx, "acme", spec, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Create(ctx, "acme", Spec{Name: "refused", JS: `new ArrayBuffer(1e11); fromAll().when({})`}, false); err == nil || !strings.Contains(err.Error(), "ArrayBuffer of 100000000000 bytes") {
		t.Fatalf("create: %v", err)
	}
	head := s.orders(t, "acme", 10)
	waitFor(t, e, "acme", "skips", head)
	dl, err := e.DeadLetters(ctx, "acme", "skips", 100)
	if err != nil || len(dl) != 4 || !strings.Contains(dl[0].Error, "Float64Array of 10000000000 elements") {
		t.Fatalf("dead letters %v: %+v", err, dl)
	}
	waitStatus(t, e, "stops", StatusFaulted, "Float64Array")
	e.crash() // no checkpoint: the restart replays every event

	e = openEngine(t, s, opts)
	defer e.Close()
	head = s.orders(t, "acme", 5)
	waitFor(t, e, "acme", "skips", head)
	if st, _ := e.Get("acme", "skips"); st.Parked != 5 || st.Status != StatusRunning {
		t.Fatalf("after the restart: %+v", st)
	}
	waitStatus(t, e, "stops", StatusFaulted, "Float64Array")
}

func waitStatus(t *testing.T, e *Engine, name, status, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := e.Get("acme", name)
		if st.Status == status && strings.Contains(st.Reason, reason) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v (want %s, %q)", name, st, status, reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
