package eventql

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file implements the query DSL: the JSON form of a query that programs
// build (see "Query DSL" in doc.go). A small JSON reader keeps each element's
// line and column and the order of object keys; the converter turns the
// document into the same AST the EventQL parser produces, so Compile runs the
// same checks on both. Every AST node carries the position of the JSON
// element it came from, and CompileDSL maps the positions of compile errors
// back to JSON paths.

// ParseDSL reads a DSL query (a JSON object) into a Query. It checks the
// document's shape, operators and field names; Compile does the static
// checks. q.String() is the equivalent EventQL. Errors are *Error whose Msg
// begins with the JSON path of the offending element.
func ParseDSL(data []byte) (*Query, error) {
	q, _, err := parseDSL(data)
	if err != nil {
		return nil, err
	}
	return q, nil
}

// CompileDSL parses and compiles a DSL query. Compile errors, like parse
// errors, name the JSON path of the element they concern.
func CompileDSL(data []byte) (*Compiled, error) {
	q, paths, err := parseDSL(data)
	if err != nil {
		return nil, err
	}
	c, cerr := Compile(q)
	if cerr != nil {
		var e *Error
		if errors.As(cerr, &e) {
			if p := paths[Pos{e.Line, e.Col}]; p != "" {
				e.Msg = p + ": " + e.Msg
			}
		}
		return nil, cerr
	}
	return c, nil
}

// dslKeys are the top-level keys of a DSL query.
var dslKeys = []string{"from", "since", "until", "where", "group_by", "select", "aggregate", "having", "order_by", "offset", "limit", "distinct"}

// dslSources maps "from" values to the source kind, its binding name and the
// field names that refer to a non-event binding.
var dslSources = map[string]struct {
	kind    SourceKind
	binding string
	names   []string
}{
	"events":     {SourceEvents, "e", nil},
	"subjects":   {SourceSubjects, "s", []string{"subject", "entity_id"}},
	"eventtypes": {SourceEventTypes, "t", []string{"type", "event_type"}},
}

// dslCompare maps comparison operators to EventQL's.
var dslCompare = map[string]string{"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

// dslSpellings are other languages' operators, for hints.
var dslSpellings = map[string]string{"==": "=", "<>": "!=", "&&": "and", "||": "or", "!": "not", "is null": "is_null"}

// dslAgo maps the relative-time operators to duration units.
var dslAgo = map[string]byte{"minutes_ago": 'm', "hours_ago": 'h', "days_ago": 'd', "weeks_ago": 'w'}

// dslOperators are the DSL's own operator names (functions come on top).
var dslOperators = []string{"=", "!=", "<", "<=", ">", ">=", "and", "or", "xor", "not", "+", "-", "*", "/",
	"contains", "in", "is_null", "is_not_null", "cast", "ago", "minutes_ago", "hours_ago", "days_ago", "weeks_ago",
	"field", "literal", "fn"}

// dslConv converts a JSON document into a Query.
type dslConv struct {
	paths   map[Pos]string // JSON path of each element, by position
	kind    SourceKind
	binding string
	names   []string        // field names of a subjects/eventtypes binding
	outputs map[string]Expr // output names, resolved in having and order_by
}

func parseDSL(data []byte) (*Query, map[Pos]string, *Error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, nil, err
	}
	if root.kind != jObject {
		return nil, nil, errAt(root.pos, "a DSL query must be a JSON object, found %s", root.kind)
	}
	d := &dslConv{paths: map[Pos]string{root.pos: ""}}
	top := map[string]*jnode{}
	for _, m := range root.members {
		if !slices.Contains(dslKeys, m.key) {
			err := errAt(m.keyPos, "unknown key %s", strconv.Quote(m.key))
			if s := suggest(m.key, dslKeys); s != "" {
				err.Hint = "did you mean " + s + "?"
			}
			return nil, nil, err
		}
		top[m.key] = m.val
		d.paths[m.keyPos] = m.key
		d.paths[m.val.pos] = m.key
	}
	q := &Query{Pos: root.pos}
	if err := d.query(q, root, top); err != nil {
		return nil, nil, err
	}
	return q, d.paths, nil
}

// errf reports an error at element n whose JSON path is path.
func (d *dslConv) errf(n *jnode, path, format string, args ...any) *Error {
	e := errAt(n.pos, format, args...)
	if path != "" {
		e.Msg = path + ": " + e.Msg
	}
	return e
}

func (d *dslConv) query(q *Query, root *jnode, top map[string]*jnode) *Error {
	src := &Source{Pos: root.pos, NamePos: root.pos, Kind: SourceEvents}
	from := "events"
	if n := top["from"]; n != nil {
		if n.kind != jString {
			return d.errf(n, "from", "expected a string, found %s", n.kind)
		}
		if _, ok := dslSources[n.text]; !ok {
			err := d.errf(n, "from", "unknown source %s", strconv.Quote(n.text))
			if s := suggest(n.text, []string{"events", "subjects", "eventtypes"}); s != "" {
				err.Hint = "did you mean " + s + "?"
			}
			return err
		}
		from = n.text
		src.Pos, src.NamePos = n.pos, n.pos
	}
	s := dslSources[from]
	src.Kind, src.Name = s.kind, s.binding
	d.kind, d.binding, d.names = s.kind, s.binding, s.names
	q.Sources = []*Source{src}

	for _, tk := range []struct {
		key  string
		kind TimeKind
	}{{"since", TimeSince}, {"until", TimeUntil}} {
		if n := top[tk.key]; n != nil {
			x, err := d.expr(n, tk.key, false)
			if err != nil {
				return err
			}
			src.Times = append(src.Times, &TimeClause{Pos: n.pos, Kind: tk.kind, A: x})
		}
	}

	if n := top["where"]; n != nil {
		x, err := d.expr(n, "where", true)
		if err != nil {
			return err
		}
		q.Where = x
	}

	outputs := map[string]Expr{}
	var groupCols, selectCols []*RecordField
	if n := top["group_by"]; n != nil {
		items, err := d.items(n, "group_by")
		if err != nil {
			return err
		}
		for _, it := range items {
			q.GroupBy = append(q.GroupBy, it.Value)
			outputs[it.Key] = it.Value
		}
		groupCols = items
	}
	if n := top["select"]; n != nil {
		items, err := d.items(n, "select")
		if err != nil {
			return err
		}
		for _, it := range items {
			outputs[it.Key] = it.Value
		}
		selectCols = items
	}
	var aggCols []*RecordField
	if n := top["aggregate"]; n != nil {
		if n.kind != jObject {
			return d.errf(n, "aggregate", `expected an object {"name": [function, field], ...}, found %s`, n.kind)
		}
		if len(n.members) == 0 {
			return d.errf(n, "aggregate", "needs at least one aggregate")
		}
		for _, m := range n.members {
			path := memberPath("aggregate", m.key)
			d.paths[m.keyPos], d.paths[m.val.pos] = path, path
			if m.key == "" {
				return d.errf(m.val, path, "an output name must not be empty")
			}
			if m.val.kind != jArray {
				return d.errf(m.val, path, `expected an aggregate such as ["count"] or ["sum", "payload.amount"], found %s`, m.val.kind)
			}
			x, err := d.expr(m.val, path, true)
			if err != nil {
				return err
			}
			aggCols = append(aggCols, &RecordField{Pos: m.keyPos, Key: m.key, Value: x})
			outputs[m.key] = x
		}
	}

	if n := top["having"]; n != nil {
		if q.GroupBy == nil {
			return d.errf(n, "having", "having needs group_by")
		}
		d.outputs = outputs
		x, err := d.expr(n, "having", true)
		d.outputs = nil
		if err != nil {
			return err
		}
		q.Having = x
	}

	if n := top["order_by"]; n != nil {
		d.outputs = outputs
		err := d.orderBy(q, n)
		d.outputs = nil
		if err != nil {
			return err
		}
	}

	for _, lk := range []struct {
		key string
		dst *Expr
	}{{"offset", &q.Skip}, {"limit", &q.Top}} {
		if n := top[lk.key]; n != nil {
			if n.kind != jNumber || strings.ContainsAny(n.text, "-.eE") {
				return d.errf(n, lk.key, "must be a non-negative integer, found %s", n.describe())
			}
			if _, err := strconv.ParseUint(n.text, 10, 63); err != nil {
				return d.errf(n, lk.key, "%s is too large", n.text)
			}
			*lk.dst = &Literal{Pos: n.pos, Kind: LitNumber, Text: n.text}
		}
	}

	if n := top["distinct"]; n != nil {
		if n.kind != jBool {
			return d.errf(n, "distinct", "expected true or false, found %s", n.kind)
		}
		q.Distinct = n.text == "true"
	}

	// The projection: select's columns (or, without select, the group
	// keys), then the aggregates; nothing at all projects the binding.
	cols := selectCols
	if top["select"] == nil {
		cols = groupCols
	}
	cols = append(slices.Clip(cols), aggCols...)
	if len(cols) == 0 {
		q.Project = &Ident{Pos: src.NamePos, Name: src.Name}
		return nil
	}
	q.Project = &Record{Pos: root.pos, Fields: cols}
	return nil
}

// items reads a select or group_by list: field names or {"as", "expr"}.
func (d *dslConv) items(n *jnode, path string) ([]*RecordField, *Error) {
	if n.kind != jArray {
		return nil, d.errf(n, path, "expected a list, found %s", n.kind)
	}
	if len(n.elems) == 0 {
		return nil, d.errf(n, path, "needs at least one item")
	}
	var out []*RecordField
	for i, el := range n.elems {
		p := indexPath(path, i)
		d.paths[el.pos] = p
		switch el.kind {
		case jString:
			x, err := d.fieldRef(el, p)
			if err != nil {
				return nil, err
			}
			out = append(out, &RecordField{Pos: el.pos, Key: el.text, Value: x})
		case jObject:
			var as, expr *jnode
			for _, m := range el.members {
				mp := memberPath(p, m.key)
				d.paths[m.keyPos], d.paths[m.val.pos] = mp, mp
				switch m.key {
				case "as":
					as = m.val
				case "expr":
					expr = m.val
				default:
					err := errAt(m.keyPos, "%s: unknown key %s", p, strconv.Quote(m.key))
					if s := suggest(m.key, []string{"as", "expr"}); s != "" {
						err.Hint = "did you mean " + s + "?"
					}
					return nil, err
				}
			}
			if as == nil || expr == nil {
				return nil, d.errf(el, p, `expected {"as": name, "expr": expression}`)
			}
			if as.kind != jString || as.text == "" {
				return nil, d.errf(as, p+".as", "expected a non-empty name, found %s", as.describe())
			}
			x, err := d.expr(expr, p+".expr", true)
			if err != nil {
				return nil, err
			}
			out = append(out, &RecordField{Pos: as.pos, Key: as.text, Value: x})
		default:
			return nil, d.errf(el, p, `expected a field name or {"as": name, "expr": expression}, found %s`, el.kind)
		}
	}
	return out, nil
}

func (d *dslConv) orderBy(q *Query, n *jnode) *Error {
	if n.kind != jArray {
		return d.errf(n, "order_by", `expected a list such as [["timestamp", "desc"]], found %s`, n.kind)
	}
	for i, el := range n.elems {
		p := indexPath("order_by", i)
		d.paths[el.pos] = p
		key, kp := el, p
		desc := false
		switch el.kind {
		case jString:
		case jArray:
			if len(el.elems) < 1 || len(el.elems) > 2 {
				return d.errf(el, p, `expected [key] or [key, "asc"|"desc"], found %d elements`, len(el.elems))
			}
			key, kp = el.elems[0], indexPath(p, 0)
			if len(el.elems) == 2 {
				dir := el.elems[1]
				d.paths[dir.pos] = indexPath(p, 1)
				switch {
				case dir.kind == jString && strings.EqualFold(dir.text, "asc"):
				case dir.kind == jString && strings.EqualFold(dir.text, "desc"):
					desc = true
				default:
					return d.errf(dir, indexPath(p, 1), `the direction must be "asc" or "desc", found %s`, dir.describe())
				}
			}
		default:
			return d.errf(el, p, `expected a key or [key, "asc"|"desc"], found %s`, el.kind)
		}
		x, err := d.expr(key, kp, true)
		if err != nil {
			return err
		}
		q.OrderBy = append(q.OrderBy, &OrderItem{Expr: x, Desc: desc})
	}
	return nil
}

// expr converts an expression. A string is a field reference when field is
// set (the operand is in field position) and a string literal otherwise.
func (d *dslConv) expr(n *jnode, path string, field bool) (Expr, *Error) {
	d.paths[n.pos] = path
	switch n.kind {
	case jString:
		if field {
			return d.fieldRef(n, path)
		}
		return &Literal{Pos: n.pos, Kind: LitString, Text: n.text}, nil
	case jNumber:
		if rest, neg := strings.CutPrefix(n.text, "-"); neg {
			return &Unary{Pos: n.pos, Op: "-", X: &Literal{Pos: n.pos, Kind: LitNumber, Text: rest}}, nil
		}
		return &Literal{Pos: n.pos, Kind: LitNumber, Text: n.text}, nil
	case jBool:
		return &Literal{Pos: n.pos, Kind: LitBool, Text: n.text}, nil
	case jNull:
		return &Literal{Pos: n.pos, Kind: LitNull, Text: "null"}, nil
	case jObject:
		return nil, d.errf(n, path, "expected an expression, found an object")
	}
	if len(n.elems) == 0 {
		return nil, d.errf(n, path, "empty expression; write [operator, operand, ...]")
	}
	opn := n.elems[0]
	d.paths[opn.pos] = indexPath(path, 0)
	if opn.kind != jString {
		return nil, d.errf(n, path, "expected an operator name first, found %s", opn.kind)
	}
	op := strings.ToLower(opn.text)
	args := n.elems[1:]
	argPath := func(i int) string { return indexPath(path, i+1) }
	// operand converts args[i], a string being a field when field is set.
	operand := func(i int, field bool) (Expr, *Error) { return d.expr(args[i], argPath(i), field) }
	nargs := func(min, max int) *Error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		want := strconv.Itoa(min)
		switch {
		case max < 0:
			want = "at least " + want
		case max > min:
			want = strconv.Itoa(min) + " or " + strconv.Itoa(max)
		}
		s := "s"
		if min == 1 && max <= 1 {
			s = ""
		}
		return d.errf(n, path, "%s takes %s operand%s, got %d", strconv.Quote(opn.text), want, s, len(args))
	}

	if cmp, ok := dslCompare[op]; ok {
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		l, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		r, err := operand(1, false)
		if err != nil {
			return nil, err
		}
		return &Binary{Pos: n.pos, Op: cmp, L: l, R: r}, nil
	}
	if unit, ok := dslAgo[op]; ok {
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		a := args[0]
		d.paths[a.pos] = argPath(0)
		if a.kind != jNumber || strings.ContainsAny(a.text, "-.eE") {
			return nil, d.errf(a, argPath(0), "expected a non-negative integer, found %s", a.describe())
		}
		v, err := strconv.ParseInt(a.text, 10, 32)
		if err != nil {
			return nil, d.errf(a, argPath(0), "%s is too large", a.text)
		}
		return ago(n.pos, v, unit), nil
	}
	switch op {
	case "and", "or", "xor", "+", "*", "-", "/":
		min, max := 2, -1
		switch op {
		case "and", "or":
			min = 1
		case "xor", "/":
			max = 2
		case "-":
			min, max = 1, 2
		}
		if err := nargs(min, max); err != nil {
			return nil, err
		}
		// and/or/xor take all operands in field position (a bare string
		// is a boolean field); arithmetic only the first.
		logical := op == "and" || op == "or" || op == "xor"
		x, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		if op == "-" && len(args) == 1 {
			return &Unary{Pos: n.pos, Op: "-", X: x}, nil
		}
		for i := 1; i < len(args); i++ {
			y, err := operand(i, logical)
			if err != nil {
				return nil, err
			}
			x = &Binary{Pos: n.pos, Op: strings.ToUpper(op), L: x, R: y}
		}
		return x, nil
	case "not":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		x, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: n.pos, Op: "NOT", X: x}, nil
	case "contains":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		l, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		r, err := operand(1, false)
		if err != nil {
			return nil, err
		}
		return &Binary{Pos: n.pos, Op: "CONTAINS", L: l, R: r}, nil
	case "in":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		x, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		list := args[1]
		d.paths[list.pos] = argPath(1)
		if list.kind != jArray {
			return nil, d.errf(list, argPath(1), "expected a list of values, found %s", list.kind)
		}
		arr := &Array{Pos: list.pos}
		for i, el := range list.elems {
			v, err := d.expr(el, indexPath(argPath(1), i), false)
			if err != nil {
				return nil, err
			}
			arr.Elems = append(arr.Elems, v)
		}
		return &Binary{Pos: n.pos, Op: "CONTAINS", L: arr, R: x}, nil
	case "is_null", "is_not_null":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		x, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		cmp := "=="
		if op == "is_not_null" {
			cmp = "!="
		}
		return &Binary{Pos: n.pos, Op: cmp, L: x, R: &Literal{Pos: n.pos, Kind: LitNull, Text: "null"}}, nil
	case "cast":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		x, err := operand(0, true)
		if err != nil {
			return nil, err
		}
		t := args[1]
		d.paths[t.pos] = argPath(1)
		if t.kind != jString || !isPlainIdent(t.text) {
			err := d.errf(t, argPath(1), "expected a type name, found %s", t.describe())
			err.Hint = "one of " + strings.Join(castTypeNames(), ", ")
			return nil, err
		}
		return &Cast{Pos: n.pos, X: x, Type: strings.ToUpper(t.text)}, nil
	case "ago":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		a := args[0]
		d.paths[a.pos] = argPath(0)
		v, unit, ok := parseDuration(a)
		if !ok {
			return nil, d.errf(a, argPath(0), `expected a duration such as "30s", "5m", "2h", "7d" or "1w", found %s`, a.describe())
		}
		return ago(n.pos, v, unit), nil
	case "field":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		a := args[0]
		d.paths[a.pos] = argPath(0)
		if a.kind != jString {
			return nil, d.errf(a, argPath(0), "expected a field name, found %s", a.kind)
		}
		return d.fieldRef(a, argPath(0))
	case "literal":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if k := args[0].kind; k == jArray || k == jObject {
			return nil, d.errf(args[0], argPath(0), "expected a string, number, boolean or null, found %s", k)
		}
		return operand(0, false)
	case "fn":
		if err := nargs(1, -1); err != nil {
			return nil, err
		}
		name := args[0]
		d.paths[name.pos] = argPath(0)
		if name.kind != jString {
			return nil, d.errf(name, argPath(0), "expected a function name, found %s", name.kind)
		}
		return d.call(n, path, name, name.text, args[1:], 2)
	}
	if isFunction(opn.text) {
		return d.call(n, path, opn, opn.text, args, 1)
	}
	err := d.errf(n, path, "unknown operator %s", strconv.Quote(opn.text))
	cands := slices.Clone(dslOperators)
	for _, f := range functionNames {
		cands = append(cands, strings.ToLower(f))
	}
	s, ok := dslSpellings[op]
	if !ok {
		s = suggest(opn.text, cands)
	}
	if s != "" {
		err.Hint = "did you mean " + s + "?"
	}
	return nil, err
}

// call converts a function application; args start at index first of n.
func (d *dslConv) call(n *jnode, path string, nameNode *jnode, name string, args []*jnode, first int) (Expr, *Error) {
	if !isFunction(name) {
		np := indexPath(path, first-1)
		err := d.errf(nameNode, np, "unknown function %s", strconv.Quote(name))
		if s := suggest(strings.ToUpper(name), functionNames); s != "" {
			err.Hint = "did you mean " + strings.ToLower(s) + "?"
		}
		return nil, err
	}
	c := &Call{Pos: n.pos, Name: strings.ToUpper(name)}
	for i, a := range args {
		x, err := d.expr(a, indexPath(path, first+i), i == 0)
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, x)
	}
	return c, nil
}

// isFunction reports whether name is an EventQL function or aggregate.
func isFunction(name string) bool {
	up := strings.ToUpper(name)
	if a, ok := fnAliases[up]; ok {
		up = a
	}
	_, ok := functions[up]
	return ok || aggregates[up] || up == "IF"
}

// ago is NOW() - n units.
func ago(p Pos, n int64, unit byte) Expr {
	return &Binary{Pos: p, Op: "-", L: &Call{Pos: p, Name: "NOW"}, R: &Duration{Pos: p, N: n, Unit: unit}}
}

// parseDuration reads a duration string such as "7d".
func parseDuration(n *jnode) (int64, byte, bool) {
	if n.kind != jString || len(n.text) < 2 {
		return 0, 0, false
	}
	digits, unit := n.text[:len(n.text)-1], n.text[len(n.text)-1]
	if !strings.ContainsRune("smhdw", rune(unit)) || strings.Trim(digits, "0123456789") != "" {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 32)
	return v, unit, err == nil
}

// fieldRef resolves a field name: an output name (in having and order_by),
// an event field with an optional payload/metadata path, or the value of a
// subjects/eventtypes binding.
func (d *dslConv) fieldRef(n *jnode, path string) (Expr, *Error) {
	d.paths[n.pos] = path
	if x, ok := d.outputs[n.text]; ok {
		return x, nil
	}
	parts := strings.Split(n.text, ".")
	unknown := func() *Error {
		err := d.errf(n, path, "unknown field %s", strconv.Quote(n.text))
		cands := d.names
		if d.kind == SourceEvents {
			cands = eventFieldNames
		}
		for k := range d.outputs {
			cands = append(slices.Clip(cands), k)
		}
		if s := suggest(parts[0], cands); s != "" {
			err.Hint = "did you mean " + s + "?"
		} else {
			err.Hint = `write ["literal", "…"] for a string constant`
		}
		return err
	}
	if d.kind != SourceEvents {
		if len(parts) != 1 || !slices.Contains(d.names, n.text) {
			return nil, unknown()
		}
		return &Ident{Pos: n.pos, Name: d.binding}, nil
	}
	if _, ok := eventFields[parts[0]]; !ok {
		return nil, unknown()
	}
	var x Expr = &Ident{Pos: n.pos, Name: d.binding}
	for _, p := range parts {
		if !isPlainIdent(p) {
			return nil, d.errf(n, path, "invalid field name %s: each part must be letters, digits and _, not starting with a digit", strconv.Quote(n.text))
		}
		x = &Field{Pos: n.pos, X: x, Name: p}
	}
	return x, nil
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func memberPath(path, key string) string {
	if isPlainIdent(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// JSON reading. encoding/json loses key order and positions, both of which
// the DSL needs, so this is a small RFC 8259 reader.

type jkind int

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "a list", "an object"}[k]
}

// jnode is a JSON value with the position of its first character.
type jnode struct {
	kind    jkind
	pos     Pos
	text    string // string value, number as written, "true"/"false"
	elems   []*jnode
	members []jmember
}

type jmember struct {
	key    string
	keyPos Pos
	val    *jnode
}

// describe names the value for an error message.
func (n *jnode) describe() string {
	switch n.kind {
	case jNumber, jBool:
		return n.text
	case jString:
		if len(n.text) > 40 {
			return n.kind.String()
		}
		return strconv.Quote(n.text)
	}
	return n.kind.String()
}

// maxJSONDepth bounds nesting so that the query stays far inside the
// EventQL parser's limits and hostile input cannot exhaust the stack.
const maxJSONDepth = 64

type jreader struct {
	data      []byte
	off       int
	line      int
	lineStart int
	colOff    int // column cache: col is the column at colOff
	col       int
}

func parseJSON(data []byte) (*jnode, *Error) {
	r := &jreader{data: data, line: 1, col: 1}
	r.space()
	if r.off >= len(data) {
		return nil, r.errf("malformed JSON: empty document")
	}
	n, err := r.value(0)
	if err != nil {
		return nil, err
	}
	r.space()
	if r.off < len(data) {
		return nil, r.errf("malformed JSON: unexpected %s after the document", r.describeNext())
	}
	return n, nil
}

// pos returns the line and column (in characters) of the current offset.
// Offsets only grow, so the column is counted incrementally.
func (r *jreader) pos() Pos {
	if r.colOff < r.lineStart {
		r.colOff, r.col = r.lineStart, 1
	}
	r.col += utf8.RuneCount(r.data[r.colOff:r.off])
	r.colOff = r.off
	return Pos{r.line, r.col}
}

func (r *jreader) errf(format string, args ...any) *Error {
	return errAt(r.pos(), format, args...)
}

func (r *jreader) describeNext() string {
	if r.off >= len(r.data) {
		return "end of input"
	}
	c, _ := utf8.DecodeRune(r.data[r.off:])
	return strconv.QuoteRune(c)
}

func (r *jreader) space() {
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case '\n':
			r.line++
			r.lineStart = r.off + 1
		case ' ', '\t', '\r':
		default:
			return
		}
		r.off++
	}
}

func (r *jreader) value(depth int) (*jnode, *Error) {
	if r.off >= len(r.data) {
		return nil, r.errf("malformed JSON: unexpected end of input")
	}
	n := &jnode{pos: r.pos()}
	switch c := r.data[r.off]; {
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return nil, r.errf("query nested too deeply (more than %d levels)", maxJSONDepth)
		}
		r.off++
		r.space()
		if c == '[' {
			n.kind = jArray
			if r.off < len(r.data) && r.data[r.off] == ']' {
				r.off++
				return n, nil
			}
			for {
				el, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, el)
				if done, err := r.sep(']'); done || err != nil {
					return n, err
				}
			}
		}
		n.kind = jObject
		if r.off < len(r.data) && r.data[r.off] == '}' {
			r.off++
			return n, nil
		}
		for {
			if r.off >= len(r.data) || r.data[r.off] != '"' {
				return nil, r.errf("malformed JSON: unexpected %s, expected a key string", r.describeNext())
			}
			kp := r.pos()
			key, err := r.str()
			if err != nil {
				return nil, err
			}
			for _, m := range n.members {
				if m.key == key {
					return nil, errAt(kp, "duplicate key %s", strconv.Quote(key))
				}
			}
			r.space()
			if r.off >= len(r.data) || r.data[r.off] != ':' {
				return nil, r.errf(`malformed JSON: unexpected %s, expected ":"`, r.describeNext())
			}
			r.off++
			r.space()
			v, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, jmember{key: key, keyPos: kp, val: v})
			if done, err := r.sep('}'); done || err != nil {
				return n, err
			}
		}
	case c == '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		n.kind, n.text = jString, s
	case c == '-' || c >= '0' && c <= '9':
		s, err := r.number()
		if err != nil {
			return nil, err
		}
		n.kind, n.text = jNumber, s
	default:
		for _, w := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(r.data[r.off:min(len(r.data), r.off+5)]), w) {
				r.off += len(w)
				n.kind, n.text = jBool, w
				if w == "null" {
					n.kind = jNull
				}
				return n, nil
			}
		}
		return nil, r.errf("malformed JSON: unexpected %s", r.describeNext())
	}
	return n, nil
}

// sep reads the "," or closing bracket after an element.
func (r *jreader) sep(close byte) (bool, *Error) {
	r.space()
	if r.off < len(r.data) {
		switch r.data[r.off] {
		case close:
			r.off++
			return true, nil
		case ',':
			r.off++
			r.space()
			return false, nil
		}
	}
	return true, r.errf("malformed JSON: unexpected %s, expected \",\" or %q", r.describeNext(), close)
}

func (r *jreader) number() (string, *Error) {
	start := r.off
	digits := func() int {
		n := 0
		for r.off < len(r.data) && r.data[r.off] >= '0' && r.data[r.off] <= '9' {
			r.off++
			n++
		}
		return n
	}
	bad := func() (string, *Error) { return "", r.errf("malformed JSON: invalid number") }
	if r.data[r.off] == '-' {
		r.off++
	}
	intStart := r.off
	if n := digits(); n == 0 || n > 1 && r.data[intStart] == '0' {
		return bad()
	}
	if r.off < len(r.data) && r.data[r.off] == '.' {
		r.off++
		if digits() == 0 {
			return bad()
		}
	}
	if r.off < len(r.data) && (r.data[r.off] == 'e' || r.data[r.off] == 'E') {
		r.off++
		if r.off < len(r.data) && (r.data[r.off] == '+' || r.data[r.off] == '-') {
			r.off++
		}
		if digits() == 0 {
			return bad()
		}
	}
	return string(r.data[start:r.off]), nil
}

// str reads a string; NUL is refused because EventQL cannot spell it.
func (r *jreader) str() (string, *Error) {
	r.off++ // opening quote
	var b strings.Builder
	for {
		if r.off >= len(r.data) {
			return "", r.errf("malformed JSON: unterminated string")
		}
		c := r.data[r.off]
		switch {
		case c == '"':
			r.off++
			return b.String(), nil
		case c == '\\':
			if r.off+1 >= len(r.data) {
				return "", r.errf("malformed JSON: unterminated string")
			}
			e := r.data[r.off+1]
			if e == 'u' {
				v, ok := r.hex4(r.off + 2)
				if !ok {
					return "", r.errf(`malformed JSON: invalid \u escape`)
				}
				adv := 6
				if utf16.IsSurrogate(v) {
					v2, ok := rune(0), false
					if r.off+7 < len(r.data) && r.data[r.off+6] == '\\' && r.data[r.off+7] == 'u' {
						v2, ok = r.hex4(r.off + 8)
					}
					v = utf16.DecodeRune(v, v2)
					if !ok || v == utf8.RuneError {
						return "", r.errf(`malformed JSON: invalid surrogate pair`)
					}
					adv = 12
				}
				if v == 0 {
					return "", r.errf("strings must not contain NUL")
				}
				b.WriteRune(v)
				r.off += adv
				continue
			}
			dec, ok := map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[e]
			if !ok {
				return "", r.errf("malformed JSON: invalid escape \\%c", e)
			}
			b.WriteByte(dec)
			r.off += 2
		case c < 0x20:
			return "", r.errf("malformed JSON: control character in string")
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			r.off++
		default:
			ch, size := utf8.DecodeRune(r.data[r.off:])
			if ch == utf8.RuneError && size == 1 {
				return "", r.errf("malformed JSON: invalid UTF-8")
			}
			b.WriteRune(ch)
			r.off += size
		}
	}
}

func (r *jreader) hex4(at int) (rune, bool) {
	if at+4 > len(r.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.data[at:at+4]), 16, 32)
	return rune(v), err == nil
}
