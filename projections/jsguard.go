package projections

import (
	"fmt"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// The sandbox's bounds inside the runtime. The watchdog stops JavaScript
// between instructions; it cannot stop a built-in in the middle of one
// step, and one step can be enormous: new ArrayBuffer(1e11), an array
// method looping over a length of 2^32, a join of large strings, a
// regular expression backtracking for minutes, JSON.stringify recursing
// through a million levels. A step that outgrows memory or Go's stack
// ends the process. So, before user code runs, the built-ins that can do
// that are replaced by versions that check their inputs first and refuse
// with a RangeError (or pace the work through JavaScript, where the
// watchdog reaches it); the ones a projection has no use for are removed:
// eval and Function (they compile code the source check never saw), Proxy
// (a chain of proxies recurses natively), BigInt (one shift can allocate
// gigabytes) and JSON.rawJSON.
//
// The replacements run before any user code and keep the originals in
// closures, so user code can replace them back only with its own code.

const (
	jsDataDepth  = 1000                   // nesting of data a built-in walks (JSON, flat, bind chains)
	jsMaxPattern = 32 << 10               // characters of a regular expression made at run time
	jsRegexpTime = 100 * time.Millisecond // one regular-expression match
)

func init() {
	// Patterns Go's regexp cannot run (backreferences, lookaround) goja
	// hands to regexp2, which matches without a time bound unless given
	// one; goja sets none and its interrupt does not reach into a match.
	// goja reads any regexp2 error as "no match". The exec and test
	// wrappers make a match that ran jsRegexpTime an error; regexp2's own
	// timeout is later by a margin, as its clock advances in steps (10 ms
	// here) and can stop a match up to a step early (measured: 99.7 ms
	// for a 100 ms timeout), which would pass as a quick "no match".
	// Its cap on the backtracking stack would also end a match early as
	// a silent "no match": it is lifted, the time bound caps the stack
	// (tens of MB in 150 ms).
	regexp2.DefaultMatchTimeout = jsRegexpTime + 50*time.Millisecond
	regexp2.SetTimeoutCheckPeriod(10 * time.Millisecond)
	regexp2.DefaultOptimizationOptions.MaxBacktrackingStackSize = -1
}

// jsGuardSource receives the limits and the Go helpers.
const jsGuardSource = `(function (lim, native) {
'use strict';
const maxChars = lim.chars, maxBytes = lim.bytes, maxElems = lim.elements, maxDepth = lim.depth, maxPattern = lim.pattern;
const G = globalThis, O = Object, A = Array, S = String, Sym = Symbol;
const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, setPrototypeOf, keys: objectKeys } = O;
const { apply, construct, deleteProperty, ownKeys } = Reflect;
const defineProp = Reflect.defineProperty;
const isArray = A.isArray;
const RangeErr = RangeError, TypeErr = TypeError, EvalErr = EvalError;
const floor = Math.floor, min = Math.min;
const SP = S.prototype, AP = A.prototype, FP = Function.prototype;
const indexOf = SP.indexOf, slice = SP.slice, join = AP.join;

const over = (what, n, unit, limit) => { throw new RangeErr(what + ' of ' + n + ' ' + unit + ' is over the limit of ' + limit); };
const elems = (n) => { if (n > maxElems) over('array', n, 'elements', maxElems); };
const chars = (n) => { if (n > maxChars) over('string', n, 'characters', maxChars); };
// put replaces a built-in, keeping its name, length and attributes.
const put = (o, key, fn, like) => {
	if (like !== undefined) defineProperty(fn, 'length', { value: like.length, configurable: true });
	defineProperty(o, key, { value: fn, writable: true, enumerable: false, configurable: true });
};
const method = (name, fn) => { defineProperty(fn, 'name', { value: name, configurable: true }); return fn; };
const isObject = (x) => x !== null && (typeof x === 'object' || typeof x === 'function');
const toObject = (x) => { if (x === undefined || x === null) throw new TypeErr('Cannot convert undefined or null to object'); return O(x); };
const str = (x) => { if (x === undefined || x === null) throw new TypeErr('String.prototype method called on null or undefined'); return S(x); };
const toInteger = (v) => { v = +v; return v !== v ? 0 : v === Infinity || v === -Infinity ? v : (v < 0 ? -floor(-v) : floor(v)); };
const toLength = (v) => { v = toInteger(v); return v <= 0 ? 0 : min(v, 9007199254740991); };

// The typed arrays' length, as the built-ins read it (made unchangeable).
const TA = getPrototypeOf(Uint8Array), TAP = TA.prototype;
const taLength = getOwnPropertyDescriptor(TAP, 'length').get;
defineProperty(TAP, 'length', { get: taLength, enumerable: false, configurable: false });
const taTag = getOwnPropertyDescriptor(TAP, Sym.toStringTag).get;
const abLength = getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
const isBuffer = (x) => { try { apply(abLength, x, []); return true; } catch (e) { return false; } };

// lengthOf is the length a built-in will read from o, read so that it
// cannot change in between: an array's own length, a typed array's, or a
// primitive data property; a getter or an object could answer the
// built-in differently, and is refused. -1: no length at all.
const lengthOf = (o, optional) => {
	if (isArray(o)) return o.length;
	o = toObject(o);
	for (let p = o; p !== null; p = getPrototypeOf(p)) {
		const d = getOwnPropertyDescriptor(p, 'length');
		if (d === undefined) continue;
		if (d.get === taLength) return apply(taLength, o, []);
		if (!('value' in d)) throw new TypeErr('built-ins in projections do not take an array-like object whose length is a getter');
		if (isObject(d.value)) throw new TypeErr('built-ins in projections do not take an array-like object whose length is an object');
		return toLength(d.value);
	}
	return optional ? -1 : 0;
};
const lengthIfAny = (x) => typeof x === 'string' ? x.length : isObject(x) ? lengthOf(x, true) : -1;

// Array methods that loop over the length, or copy it.
for (const name of ['copyWithin', 'every', 'fill', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex', 'forEach', 'includes',
	'indexOf', 'lastIndexOf', 'map', 'reduce', 'reduceRight', 'reverse', 'shift', 'slice', 'some', 'sort', 'splice',
	'toReversed', 'toSorted', 'toSpliced', 'unshift', 'with']) {
	const f = AP[name];
	if (typeof f !== 'function') continue;
	put(AP, name, method(name, function () { elems(lengthOf(this)); return apply(f, this, arguments); }), f);
}
const concat = AP.concat;
put(AP, 'concat', method('concat', function () {
	let n = lengthOf(this);
	for (let i = 0; i < arguments.length; i++) {
		const l = isObject(arguments[i]) ? lengthOf(arguments[i], true) : -1;
		n += l < 0 ? 1 : l;
	}
	elems(n);
	return apply(concat, this, arguments);
}), concat);
// join and toLocaleString convert the elements here, counting characters,
// and join strings; nested arrays recurse through JavaScript, which the
// call-stack limit bounds.
const strings = (o, len, convert, sepLength) => {
	const parts = new A(len);
	let n = len > 1 ? (len - 1) * sepLength : 0;
	chars(n);
	for (let i = 0; i < len; i++) {
		const x = o[i];
		const s = x === undefined || x === null ? '' : convert(x);
		n += s.length;
		chars(n);
		parts[i] = s;
	}
	return parts;
};
put(AP, 'join', method('join', function (separator) {
	const len = lengthOf(this);
	elems(len);
	const sep = separator === undefined ? ',' : S(separator);
	return apply(join, strings(O(this), len, S, sep.length), [sep]);
}), join);
const toLocale = method('toLocaleString', function () {
	const len = lengthOf(this);
	elems(len);
	return apply(join, strings(O(this), len, (x) => S(x.toLocaleString()), 1), [',']);
});
put(AP, 'toLocaleString', toLocale, AP.toLocaleString);
put(TAP, 'toLocaleString', toLocale, TAP.toLocaleString);
const speciesCreate = (o) => {
	if (!isArray(o)) return new A(0);
	let C = o.constructor;
	if (isObject(C)) { C = C[Sym.species]; if (C === null) C = undefined; }
	if (C === undefined) return new A(0);
	if (typeof C !== 'function') throw new TypeErr('the species of the array is not a constructor');
	return new C(0);
};
const add = (out, n, v) => {
	if (n >= maxElems) over('array', n + 1, 'elements', maxElems);
	if (!defineProp(out, n, { value: v, writable: true, enumerable: true, configurable: true })) throw new TypeErr('cannot add element ' + n);
};
// flat and flatMap walk here, without native recursion.
put(AP, 'flat', method('flat', function (depth) {
	const len = lengthOf(this);
	elems(len);
	const o = O(this);
	let d = depth === undefined ? 1 : toInteger(depth);
	if (d < 0) d = 0;
	const out = speciesCreate(o);
	let n = 0;
	const srcs = [o], idx = [0], lens = [len], depths = [d];
	while (srcs.length > 0) {
		const top = srcs.length - 1;
		if (idx[top] >= lens[top]) { srcs.length = top; idx.length = top; lens.length = top; depths.length = top; continue; }
		const i = idx[top]++;
		const src = srcs[top];
		if (!(i in src)) continue;
		const x = src[i];
		if (depths[top] > 0 && isArray(x)) {
			if (srcs.length >= maxDepth) over('array nesting', srcs.length + 1, 'levels', maxDepth);
			const l = x.length;
			elems(l);
			srcs[top + 1] = x; idx[top + 1] = 0; lens[top + 1] = l; depths[top + 1] = depths[top] - 1;
		} else {
			add(out, n++, x);
		}
	}
	return out;
}), AP.flat);
put(AP, 'flatMap', method('flatMap', function (fn, thisArg) {
	const len = lengthOf(this);
	elems(len);
	const o = O(this);
	if (typeof fn !== 'function') throw new TypeErr('flatMap: the callback is not a function');
	const out = speciesCreate(o);
	let n = 0;
	for (let i = 0; i < len; i++) {
		if (!(i in o)) continue;
		const x = apply(fn, thisArg, [o[i], i, o]);
		if (isArray(x)) {
			const l = x.length;
			elems(l);
			for (let j = 0; j < l; j++) if (j in x) add(out, n++, x[j]);
		} else {
			add(out, n++, x);
		}
	}
	return out;
}), AP.flatMap);
const from = A.from;
put(A, 'from', method('from', function (items) {
	elems(lengthIfAny(items));
	return apply(from, this, arguments);
}), from);
// Iterators step through JavaScript, so spreading a huge array can be
// stopped (a native step would run to the end).
for (const it of [[][Sym.iterator](), ''[Sym.iterator]()]) {
	const proto = getPrototypeOf(it), next = proto.next;
	put(proto, 'next', method('next', function () { return apply(next, this, []); }), next);
}
// Calls with a list of arguments copy its length.
const fpApply = FP.apply, fpBind = FP.bind, rApply = Reflect.apply, rConstruct = Reflect.construct;
const argList = (a) => { if (a !== undefined && a !== null) elems(lengthOf(a)); };
put(FP, 'apply', method('apply', function (thisArg, args) { argList(args); return apply(fpApply, this, arguments); }), fpApply);
put(Reflect, 'apply', method('apply', function (target, thisArg, args) { argList(args); return apply(rApply, Reflect, arguments); }), rApply);
put(Reflect, 'construct', method('construct', function (target, args) { argList(args); return apply(rConstruct, Reflect, arguments); }), rConstruct);
const bound = new WeakMap();
put(FP, 'bind', method('bind', function () {
	const d = (bound.get(this) || 0) + 1;
	if (d > maxDepth) over('chain of bound functions', d, 'levels', maxDepth);
	const b = apply(fpBind, this, arguments);
	bound.set(b, d);
	return b;
}), fpBind);
// Own keys of a string or typed array are one per element.
const stringValue = SP.valueOf;
const elementKeys = (x) => {
	if (typeof x === 'string') return x.length;
	if (!isObject(x)) return 0;
	try { return apply(stringValue, x, []).length; } catch (e) { /* not a String object */ }
	try { return apply(taLength, x, []); } catch (e) { return 0; }
};
for (const [o, name] of [[O, 'keys'], [O, 'values'], [O, 'entries'], [O, 'getOwnPropertyNames'], [O, 'getOwnPropertyDescriptors'], [O, 'assign'], [Reflect, 'ownKeys']]) {
	const f = o[name];
	put(o, name, method(name, function () {
		for (let i = 0; i < arguments.length; i++) elems(elementKeys(arguments[i]));
		return apply(f, o, arguments);
	}), f);
}

// Strings: the result's length is checked before it is made, from
// arguments converted once (a second conversion could answer otherwise).
const repeat = SP.repeat, padStart = SP.padStart, padEnd = SP.padEnd, sconcat = SP.concat;
put(SP, 'repeat', method('repeat', function (count) {
	const s = str(this), n = toInteger(count);
	if (n > 0) chars(s.length * n);
	return apply(repeat, s, [n]);
}), repeat);
for (const [name, pad] of [['padStart', padStart], ['padEnd', padEnd]]) {
	put(SP, name, method(name, function (maxLength, fill) {
		const s = str(this), n = toLength(maxLength);
		chars(n);
		return apply(pad, s, [n, fill === undefined ? undefined : S(fill)]);
	}), pad);
}
put(SP, 'concat', method('concat', function () {
	const s = str(this), parts = new A(arguments.length);
	let n = s.length;
	for (let i = 0; i < arguments.length; i++) { parts[i] = S(arguments[i]); n += parts[i].length; chars(n); }
	return apply(sconcat, s, parts);
}), sconcat);
put(S, 'raw', method('raw', function (template) {
	const raw = toObject(toObject(template).raw), len = lengthOf(raw);
	elems(len);
	let out = '';
	for (let i = 0; i < len; i++) {
		out += S(raw[i]);
		if (i + 1 < len && i + 1 < arguments.length) out += S(arguments[i + 1]);
		chars(out.length);
	}
	return out;
}), S.raw);
// A replacement with $ patterns, or many matches, can make a result far
// larger than the input in one step: past the bound the replacement is
// applied through a function, which the watchdog can stop.
const substitute = (template, matched, s, position, captures, groups) => {
	let out = '';
	const m = captures.length;
	for (let i = 0; i < template.length; i++) {
		const c = template[i];
		if (c !== '$' || i + 1 === template.length) { out += c; continue; }
		const d = template[i + 1];
		if (d === '$') { out += '$'; i++; }
		else if (d === '&') { out += matched; i++; }
		else if (d === '\x60') { out += apply(slice, s, [0, position]); i++; }
		else if (d === "'") { out += apply(slice, s, [min(position + matched.length, s.length)]); i++; }
		else if (d >= '0' && d <= '9') {
			const d2 = template[i + 2];
			let k = d2 !== undefined && d2 >= '0' && d2 <= '9' ? (d - 0) * 10 + (d2 - 0) : -1, digits = 2;
			if (k < 0 || k > m) { k = d - 0; digits = 1; }
			if (k >= 1 && k <= m) { const v = captures[k - 1]; out += v === undefined ? '' : v; i += digits; } else out += '$';
		} else if (d === '<' && groups !== undefined) {
			const close = apply(indexOf, template, ['>', i + 2]);
			if (close < 0) { out += '$'; continue; }
			const v = groups[apply(slice, template, [i + 2, close])];
			out += v === undefined ? '' : S(v);
			i = close;
		} else out += '$';
	}
	return out;
};
const replacement = (s, template, many) => {
	const per = apply(indexOf, template, ['$']) < 0 ? template.length : template.length * (s.length + 1);
	if (s.length + (many ? s.length + 1 : 1) * per <= maxChars) return template;
	return function () {
		// (matched, captures…, position, string[, groups])
		const a = arguments, last = a[a.length - 1], hasGroups = typeof last !== 'string', end = a.length - (hasGroups ? 3 : 2);
		const captures = [];
		for (let i = 1; i < end; i++) captures[i - 1] = a[i];
		return substitute(template, a[0], a[end + 1], a[end], captures, hasGroups ? last : undefined);
	};
};
const isRegExp = (x) => { if (!isObject(x)) return false; const m = x[Sym.match]; return m !== undefined ? !!m : isRealRegExp(x); };
for (const [name, all] of [['replace', false], ['replaceAll', true]]) {
	const f = SP[name];
	put(SP, name, method(name, function (search, value) {
		if (this === undefined || this === null) throw new TypeErr('String.prototype.' + name + ' called on null or undefined');
		if (search !== undefined && search !== null) {
			if (all && isRegExp(search)) {
				const flags = search.flags;
				if (flags === undefined || flags === null || apply(indexOf, S(flags), ['g']) < 0) throw new TypeErr('replaceAll must be called with a global RegExp');
			}
			const replacer = search[Sym.replace];
			if (replacer !== undefined && replacer !== null) {
				const s = S(this);
				return apply(replacer, search, [s, typeof value === 'function' ? value : replacement(s, S(value), true)]);
			}
		}
		const s = S(this), pattern = S(search);
		return apply(f, s, [pattern, typeof value === 'function' ? value : replacement(s, S(value), all)]);
	}), f);
}
const split = SP.split;
put(SP, 'split', method('split', function (separator, limit) {
	if (this === undefined || this === null) throw new TypeErr('String.prototype.split called on null or undefined');
	if (separator !== undefined && separator !== null) {
		const splitter = separator[Sym.split];
		if (splitter !== undefined && splitter !== null) return apply(splitter, separator, [S(this), limit]);
	}
	const s = S(this), lim = limit === undefined ? 4294967295 : limit >>> 0, sep = S(separator);
	let pieces = separator === undefined ? 1 : sep.length === 0 ? s.length : floor(s.length / sep.length) + 1;
	if (pieces > maxElems && sep.length > 0) {
		pieces = 1;
		for (let i = apply(indexOf, s, [sep]); i >= 0 && pieces <= maxElems; i = apply(indexOf, s, [sep, i + sep.length])) pieces++;
	}
	elems(min(pieces, lim));
	return apply(split, s, [separator === undefined ? undefined : sep, lim]);
}), split);

// Regular expressions made at run time: the pattern's length bounds the
// parser's recursion. Patterns reach the constructor as strings only.
const RE = RegExp, REP = RE.prototype;
const reSource = getOwnPropertyDescriptor(REP, 'source').get, reFlags = getOwnPropertyDescriptor(REP, 'flags').get;
const isRealRegExp = (x) => { if (!isObject(x) || x === REP) return false; try { apply(reSource, x, []); return true; } catch (e) { return false; } };
const patternOf = (pattern, flags) => {
	let p, f = flags;
	if (isRealRegExp(pattern)) {
		p = apply(reSource, pattern, []);
		if (f === undefined) f = apply(reFlags, pattern, []);
	} else {
		if (isRegExp(pattern)) { p = pattern.source; if (f === undefined) f = pattern.flags; } else p = pattern;
		p = p === undefined ? '' : S(p);
		if (p.length > maxPattern) over('regular expression', p.length, 'characters', maxPattern);
	}
	return [p, f === undefined ? undefined : S(f)];
};
const RegExpW = function RegExp(pattern, flags) {
	if (new.target === undefined && flags === undefined && isRegExp(pattern) && pattern.constructor === RegExpW) return pattern;
	return construct(RE, patternOf(pattern, flags), new.target === undefined || new.target === RegExpW ? RE : new.target);
};
const compile = REP.compile;
if (typeof compile === 'function') put(REP, 'compile', method('compile', function (pattern, flags) { return apply(compile, this, patternOf(pattern, flags)); }), compile);
for (const [name, sym, extra] of [['match', Sym.match, undefined], ['matchAll', Sym.matchAll, 'g'], ['search', Sym.search, undefined]]) {
	const f = SP[name];
	put(SP, name, method(name, function (regexp) {
		if (this === undefined || this === null) throw new TypeErr('String.prototype.' + name + ' called on null or undefined');
		if (isObject(regexp)) {
			if (extra !== undefined && isRegExp(regexp)) {
				const flags = regexp.flags;
				if (flags === undefined || flags === null || apply(indexOf, S(flags), ['g']) < 0) throw new TypeErr('matchAll must be called with a global RegExp');
			}
			const m = regexp[sym];
			if (m !== undefined && m !== null) return apply(m, regexp, [S(this)]);
		}
		const s = S(this);
		return new RegExpW(regexp === undefined ? '' : S(regexp), extra)[sym](s);
	}), f);
}

// Constructors that allocate what they are asked for.
const wrapConstructor = (name, orig, check) => {
	const W = { [name]: function () {
		if (new.target === undefined) throw new TypeErr('Constructor ' + name + " requires 'new'");
		return construct(orig, check(arguments), new.target === W ? orig : new.target);
	} }[name];
	for (const k of ownKeys(orig)) if (k !== 'prototype' && k !== 'length' && k !== 'name') defineProperty(W, k, getOwnPropertyDescriptor(orig, k));
	defineProperty(W, 'length', { value: orig.length, configurable: true });
	defineProperty(W, 'prototype', { value: orig.prototype, writable: false, enumerable: false, configurable: false });
	setPrototypeOf(W, getPrototypeOf(orig));
	put(orig.prototype, 'constructor', W);
	put(G, name, W);
	return W;
};
const toIndex = (v) => v === undefined ? 0 : toInteger(v);
wrapConstructor('ArrayBuffer', ArrayBuffer, (args) => {
	const n = toIndex(args[0]);
	if (n > maxBytes) over('ArrayBuffer', n, 'bytes', maxBytes);
	return [n];
});
for (const name of ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array']) {
	const T = G[name], bpe = T.BYTES_PER_ELEMENT;
	wrapConstructor(name, T, (args) => {
		const a = args[0];
		let n;
		if (!isObject(a)) { n = toIndex(a); args = [n]; }
		else if (isBuffer(a)) return args;
		else n = lengthOf(a);
		if (n * bpe > maxBytes) throw new RangeErr(name + ' of ' + n + ' elements (' + n * bpe + ' bytes) is over the limit of ' + maxBytes + ' bytes');
		return args;
	});
}
const taFrom = TA.from;
put(TA, 'from', method('from', function (source) { elems(lengthIfAny(source)); return apply(taFrom, this, arguments); }), taFrom);
const taJoin = TAP.join;
const digits = { Int8Array: 4, Uint8Array: 3, Uint8ClampedArray: 3, Int16Array: 6, Uint16Array: 5, Int32Array: 11, Uint32Array: 10, Float32Array: 24, Float64Array: 24 };
put(TAP, 'join', method('join', function (separator) {
	const len = apply(taLength, this, []), sep = separator === undefined ? ',' : S(separator);
	chars(len * ((digits[apply(taTag, this, [])] || 24) + sep.length));
	return apply(taJoin, this, [sep]);
}), taJoin);

// JSON.parse: the text's nesting is checked first; a reviver is applied
// here, through JavaScript.
const parse = JSON.parse;
const revive = (holder, name, reviver) => {
	const val = holder[name];
	if (isObject(val)) {
		const ks = isArray(val) ? null : objectKeys(val), len = ks === null ? val.length : ks.length;
		elems(len);
		for (let i = 0; i < len; i++) {
			const k = ks === null ? S(i) : ks[i], v = revive(val, k, reviver);
			if (v === undefined) deleteProperty(val, k);
			else defineProp(val, k, { value: v, writable: true, enumerable: true, configurable: true });
		}
	}
	return apply(reviver, holder, [name, val]);
};
put(JSON, 'parse', method('parse', function (text, reviver) {
	const s = S(text);
	native.checkJSON(s);
	const v = apply(parse, JSON, [s]);
	if (typeof reviver !== 'function') return v;
	const root = {};
	defineProperty(root, '', { value: v, writable: true, enumerable: true, configurable: true });
	return revive(root, '', reviver);
}), parse);

// Code from strings, and what the sandbox leaves out.
const noCode = () => { throw new EvalErr('code from strings (eval, Function) is not available in projections'); };
put(G, 'eval', method('eval', function (x) { noCode(); }));
const FunctionW = function Function() { noCode(); };
defineProperty(FunctionW, 'prototype', { value: FP, writable: false });
put(FP, 'constructor', FunctionW);
put(G, 'Function', FunctionW);
for (const f of [function* () {}, async function () {}]) defineProperty(getPrototypeOf(f), 'constructor', { value: FunctionW, writable: false, configurable: true });
for (const name of ['Proxy', 'BigInt', 'BigInt64Array', 'BigUint64Array']) deleteProperty(G, name);
for (const name of ['getBigInt64', 'setBigInt64', 'getBigUint64', 'setBigUint64']) deleteProperty(DataView.prototype, name);
deleteProperty(JSON, 'rawJSON');
deleteProperty(JSON, 'isRawJSON');

put(G, 'RegExp', RegExpW);
for (const k of ownKeys(RE)) if (k !== 'prototype' && k !== 'length' && k !== 'name') defineProperty(RegExpW, k, getOwnPropertyDescriptor(RE, k));
defineProperty(RegExpW, 'prototype', { value: REP, writable: false });
put(REP, 'constructor', RegExpW);
return REP;
})`

// guardProgram is the compiled guard, shared by all runtimes.
var guardProgram = sync.OnceValue(func() *goja.Program { return goja.MustCompile("sandbox.js", jsGuardSource, true) })

// guard installs the bounds in a new runtime, before any user code.
func (r *jsRuntime) guard() error {
	vm := r.vm
	vm.SetParserOptions(parser.WithDisableSourceMaps)
	rangeError := vm.Get("RangeError")
	r.rangeError = func(format string, args ...any) *goja.Object {
		o, err := vm.New(rangeError, vm.ToValue(fmt.Sprintf(format, args...)))
		if err != nil {
			panic(err)
		}
		return o
	}
	lim := vm.NewObject()
	for k, v := range map[string]int{"chars": r.lim.Value, "bytes": r.lim.Value, "elements": r.lim.Value / 8, "depth": jsDataDepth, "pattern": jsMaxPattern} {
		lim.Set(k, v)
	}
	native := vm.NewObject()
	native.Set("checkJSON", func(c goja.FunctionCall) goja.Value {
		if d := jsonDepth(c.Argument(0).String(), jsDataDepth); d > jsDataDepth {
			panic(r.rangeError("JSON nested deeper than %d levels is over the limit", jsDataDepth))
		}
		return goja.Undefined()
	})
	fn, err := vm.RunProgram(guardProgram())
	if err != nil {
		return err
	}
	install, _ := goja.AssertFunction(fn)
	proto, err := install(goja.Undefined(), lim, native)
	if err != nil {
		return err
	}
	r.guardRegExp(proto.(*goja.Object))
	json := vm.Get("JSON").(*goja.Object)
	stringify, _ := goja.AssertFunction(json.Get("stringify"))
	bounded := vm.ToValue(func(c goja.FunctionCall) goja.Value {
		v, err := r.stringifyBounded(stringify, c.Argument(0), c.Argument(1), c.Argument(2))
		if err != nil {
			panic(err)
		}
		return v
	})
	if err := json.DefineDataProperty("stringify", bounded, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return err
	}
	r.stringify, _ = goja.AssertFunction(bounded)
	r.parse, _ = goja.AssertFunction(json.Get("parse"))
	return nil
}

// guardRegExp wraps exec and test, through which every match runs: the
// String and Symbol methods call exec once they see it replaced, one
// match at a time. A match that took the whole time bound is an error
// (regexp2 answers "no match" when it times out), and once the watchdog
// has fired no further match starts.
func (r *jsRuntime) guardRegExp(proto *goja.Object) {
	for _, name := range []string{"exec", "test"} {
		orig, _ := goja.AssertFunction(proto.Get(name))
		wrapped := r.vm.ToValue(func(c goja.FunctionCall) goja.Value {
			r.stopIfOver()
			start := time.Now()
			v, err := orig(c.This, c.Arguments...)
			if err != nil {
				panic(err)
			}
			if time.Since(start) >= jsRegexpTime {
				r.wd.noteSlowRegexp()
				panic(r.rangeError("a regular expression ran longer than %v", jsRegexpTime))
			}
			return v
		})
		if err := proto.DefineDataProperty(name, wrapped, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
			panic(err)
		}
	}
}

// stringifyBounded is JSON.stringify with a replacer that sees every value
// before it is written: it keeps the nesting under jsDataDepth (goja
// recurses natively) and the text under the value bound.
func (r *jsRuntime) stringifyBounded(orig goja.Callable, v, replacer, space goja.Value) (goja.Value, error) {
	vm := r.vm
	var user goja.Callable
	if o, ok := replacer.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(o); ok {
			user = fn
		} else if o.ClassName() == "Array" {
			panic(vm.NewTypeError("JSON.stringify in projections takes a function as the replacer, not a list of keys"))
		}
	}
	gap := 0
	switch s := space.(type) {
	case goja.String:
		gap = min(s.Length(), 10)
	case *goja.Object:
		gap = 10
	default:
		if !goja.IsUndefined(space) && !goja.IsNull(space) {
			gap = int(min(max(space.ToInteger(), 0), 10))
		}
	}
	depth := map[*goja.Object]int{}
	size, calls := 0, 0
	guard := func(c goja.FunctionCall) goja.Value {
		key, val := c.Argument(0), c.Argument(1)
		if user != nil {
			var err error
			if val, err = user(c.This, key, val); err != nil {
				panic(err)
			}
		}
		d := 0
		if holder, ok := c.This.(*goja.Object); ok {
			d = depth[holder]
		}
		size += 4 + d*gap
		if k, ok := key.(goja.String); ok {
			size += k.Length()
		}
		switch x := val.(type) {
		case goja.String:
			size += x.Length()
		case *goja.Object:
			if _, fn := goja.AssertFunction(x); fn {
				break
			}
			if d+1 > jsDataDepth {
				panic(r.rangeError("JSON.stringify: values nested deeper than %d levels are over the limit", jsDataDepth))
			}
			depth[x] = d + 1
			if x.ClassName() == "String" {
				size += int(x.Get("length").ToInteger())
			}
		default:
			size += 24
		}
		if size > r.lim.Value {
			panic(r.rangeError("JSON.stringify: a text of more than %d characters is over the limit", r.lim.Value))
		}
		if calls++; calls%1024 == 0 {
			r.stopIfOver()
		}
		return val
	}
	return orig(goja.Undefined(), v, vm.ToValue(guard), space)
}

// jsonDepth is the nesting of a JSON text's arrays and objects, counted up
// to limit+1.
func jsonDepth(s string, limit int) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// stopIfOver throws once the watchdog has fired, for Go code that runs
// between JavaScript instructions.
func (r *jsRuntime) stopIfOver() {
	if why := r.wd.fired(); why != nil {
		panic(r.rangeError("%s", why))
	}
}
