package eventql

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Compiled is a query compiled to DuckDB SQL over the events view.
type Compiled struct {
	// SQL returns the result as columns: a record projection one column per
	// key (in order; nested values as JSON), PROJECT INTO e the event columns
	// (same names/order as the events view), a scalar projection one column
	// named "value". For pgwire and BI tools.
	SQL string
	// DocSQL returns the same rows as one VARCHAR column "doc" holding each
	// result document's JSON text (record → object, e → event object,
	// scalar → JSON value). For HTTP NDJSON.
	DocSQL string
	// Columns are the column names of SQL.
	Columns []string
	// Tables are the analytics table functions the query reads; SQL and
	// DocSQL run only after each placeholder is replaced by its rows.
	Tables []TableCall
}

// CompileString parses and compiles src.
func CompileString(src string) (*Compiled, error) {
	q, err := parse(src)
	if err != nil {
		return nil, err
	}
	return Compile(q)
}

// Compile runs the static checks on q and compiles it to SQL. Errors are *Error.
func Compile(q *Query) (*Compiled, error) {
	if q == nil {
		return nil, &Error{Line: 1, Col: 1, Msg: "empty query"}
	}
	r, err := compileQuery(q, 0)
	if err != nil {
		return nil, err
	}
	return &Compiled{SQL: r.sql(), DocSQL: r.docSQL(), Columns: r.cols, Tables: r.tables}, nil
}

// TableCall is an analytics table function a compiled query reads: the
// caller computes it and puts its rows where Placeholder (a quoted
// relation name, unique to this compilation) appears in SQL and DocSQL.
type TableCall struct {
	Placeholder string
	Func, Arg   string
}

// tableFunctionColumns are the columns of the analytics table functions
// and their types (the analytics package produces them).
var tableFunctionColumns = map[string][]struct {
	name string
	t    typ
}{
	"funnel": {{"breakdown", tyString}, {"step", tyNumber}, {"name", tyString}, {"entities", tyNumber},
		{"conversion_from_start", tyNumber}, {"conversion_from_previous", tyNumber},
		{"median_seconds_to_convert", tyNumber}, {"avg_seconds_to_convert", tyNumber}},
	"retention": {{"breakdown", tyString}, {"cohort", tyDate}, {"size", tyNumber}, {"period", tyNumber},
		{"retained", tyNumber}, {"share", tyNumber}},
	"time_series": {{"time", tyTime}, {"group", tyString}, {"value", tyNumber}, {"moving_average", tyNumber},
		{"change", tyNumber}, {"change_percent", tyNumber}, {"rate", tyNumber}},
	"anomalies": {{"time", tyTime}, {"group", tyString}, {"value", tyNumber}, {"expected", tyNumber},
		{"score", tyNumber}, {"direction", tyString}},
	"stats": {{"group", tyString}, {"count", tyNumber}, {"mean", tyNumber}, {"stddev", tyNumber}, {"min", tyNumber},
		{"max", tyNumber}, {"p50", tyNumber}, {"p90", tyNumber}, {"p99", tyNumber}, {"slope_per_hour", tyNumber}, {"r2", tyNumber}},
	"correlation": {{"lag", tyNumber}, {"pairs", tyNumber}, {"r", tyNumber}, {"slope", tyNumber}, {"intercept", tyNumber}, {"r2", tyNumber}},
	"forecast":    {{"time", tyTime}, {"group", tyString}, {"value", tyNumber}, {"lower", tyNumber}, {"upper", tyNumber}},
	"pivot":       {{"kind", tyString}, {"row_value", tyString}, {"column_value", tyString}, {"value", tyNumber}},
}

// placeholderNonce makes placeholders unpredictable, so no text a user
// writes can stand for one.
func placeholderNonce() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type shape int

const (
	shapeScalar shape = iota
	shapeRecord
	shapeEvent
)

// result is a compiled query before assembly.
type result struct {
	shape    shape
	cols     []string
	colVals  []val // natural values of the columns (for subquery bindings)
	selects  []string
	doc      string
	distinct bool
	rest     string // " FROM ... [WHERE ...] ..."
	tables   []TableCall
}

func (r *result) head() string {
	if r.distinct {
		return "SELECT DISTINCT "
	}
	return "SELECT "
}

func (r *result) sql() string {
	return r.head() + strings.Join(r.selects, ", ") + r.rest
}

func (r *result) docSQL() string {
	return r.head() + r.doc + " AS doc" + r.rest
}

type bindKind int

const (
	bindEvent  bindKind = iota // columns of the events view
	bindValue                  // one column "value"
	bindRecord                 // one column per key
)

type binding struct {
	name   string
	kind   bindKind
	t      typ        // bindValue
	fields []recField // bindRecord: natural column values
	src    *Source
}

type compiler struct {
	bindings map[string]*binding
	names    []string
	depth    int

	// implicit names the event binding bare field names belong to
	// (CompileCondition: "payload.amount > 10").
	implicit string

	noAggWhere string // non-empty: aggregates are forbidden here (clause name)
	inAgg      bool
	aggQuery   bool // the query aggregates: bare references must be grouped
	groups     []groupKey
}

type groupKey struct {
	key string
	v   val
}

func compileQuery(q *Query, depth int) (*result, *Error) {
	if depth > maxDepth {
		return nil, errAt(q.Pos, "query nested too deeply")
	}
	if len(q.Sources) == 0 {
		return nil, errAt(q.Pos, "a query needs a FROM clause")
	}
	c := &compiler{bindings: map[string]*binding{}, depth: depth}
	var from []string
	var where []string
	var tables []TableCall
	for _, s := range q.Sources {
		if _, dup := c.bindings[s.Name]; dup {
			return nil, errAt(s.NamePos, "binding %s is already declared", s.Name)
		}
		b := &binding{name: s.Name, src: s}
		alias := sqlIdent(s.Name)
		switch s.Kind {
		case SourceEvents:
			b.kind = bindEvent
			from = append(from, "events AS "+alias)
		case SourceSubjects:
			b.kind, b.t = bindValue, tyString
			from = append(from, "(SELECT DISTINCT entity_id AS value FROM events) AS "+alias)
		case SourceEventTypes:
			b.kind, b.t = bindValue, tyString
			from = append(from, "(SELECT DISTINCT event_type AS value FROM events) AS "+alias)
		case SourceProjection:
			// Each row is one JSON document of the projection's columns;
			// fields take their type from context, as payload fields do.
			// Times are RFC 3339, as everywhere else (the engine writes
			// "2026-01-02 03:04:05.678+00" for a UTC time).
			b.kind, b.t = bindValue, tyAny
			from = append(from, "(SELECT CAST(regexp_replace(CAST(to_json("+sqlIdent("__row")+`) AS VARCHAR), '"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)\+00"', '"\1T\2Z"', 'g') AS JSON) AS value FROM projections.`+sqlIdent(s.Func)+" AS "+sqlIdent("__row")+") AS "+alias)
		case SourceFunction:
			call := TableCall{Placeholder: sqlIdent("__allsource_table_" + placeholderNonce()), Func: s.Func, Arg: s.Arg}
			tables = append(tables, call)
			from = append(from, call.Placeholder+" AS "+alias)
			b.kind = bindRecord
			for _, col := range tableFunctionColumns[s.Func] {
				b.fields = append(b.fields, recField{key: col.name, v: val{sql: colRef(s.Name, col.name), t: col.t}})
			}
		case SourceSubquery:
			sub, err := compileQuery(s.Sub, depth+1)
			if err != nil {
				return nil, err
			}
			tables = append(tables, sub.tables...)
			from = append(from, "("+sub.sql()+") AS "+alias)
			switch sub.shape {
			case shapeEvent:
				b.kind = bindEvent
			case shapeRecord:
				b.kind = bindRecord
				for i, col := range sub.cols {
					b.fields = append(b.fields, recField{key: col, v: columnVal(colRef(s.Name, col), sub.colVals[i])})
				}
			default:
				b.kind = bindValue
				b.t = columnVal("", sub.colVals[0]).t
			}
		}
		c.bindings[s.Name] = b
		c.names = append(c.names, s.Name)
		// Time clauses only see bindings declared so far.
		for _, t := range s.Times {
			preds, err := c.timeClause(b, t)
			if err != nil {
				return nil, err
			}
			where = append(where, preds...)
		}
	}

	if q.Where != nil {
		c.noAggWhere = "WHERE"
		v, err := c.expr(q.Where)
		if err != nil {
			return nil, err
		}
		if v, err = c.boolean(v, q.Where.Position(), "WHERE"); err != nil {
			return nil, err
		}
		where = append(where, v.sql)
	}

	var groupSQL []string
	c.noAggWhere = "GROUP BY"
	for _, g := range q.GroupBy {
		v, err := c.expr(g)
		if err != nil {
			return nil, err
		}
		switch v.t {
		case tyRecord, tyEvent, tyArray:
			return nil, errAt(g.Position(), "cannot group by a %s", v.t)
		}
		c.groups = append(c.groups, groupKey{key: ExprString(g), v: v})
		groupSQL = append(groupSQL, v.sql)
	}
	c.noAggWhere = ""

	c.aggQuery = len(q.GroupBy) > 0 || containsAgg(q.Project) || containsAgg(q.Having)
	for _, o := range q.OrderBy {
		c.aggQuery = c.aggQuery || containsAgg(o.Expr)
	}

	var having string
	if q.Having != nil {
		v, err := c.expr(q.Having)
		if err != nil {
			return nil, err
		}
		if v, err = c.boolean(v, q.Having.Position(), "HAVING"); err != nil {
			return nil, err
		}
		having = v.sql
	}

	var order []string
	for _, o := range q.OrderBy {
		v, err := c.expr(o.Expr)
		if err != nil {
			return nil, err
		}
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		switch v.t {
		case tyRecord, tyEvent, tyArray:
			return nil, errAt(o.Expr.Position(), "cannot order by a %s", v.t)
		case tyAny:
			// JSON values sort numerically when they are numbers, then as text.
			num, _ := c.coerce(v, tyNumber, o.Expr.Position())
			str, _ := c.coerce(v, tyString, o.Expr.Position())
			order = append(order, num.sql+dir, str.sql+dir)
		default:
			order = append(order, v.sql+dir)
		}
	}

	skip, err := limitValue(q.Skip, "SKIP")
	if err != nil {
		return nil, err
	}
	top, err := limitValue(q.Top, "TOP")
	if err != nil {
		return nil, err
	}

	r := &result{distinct: q.Distinct, tables: tables}
	if err := c.projection(q.Project, r); err != nil {
		return nil, err
	}

	var b strings.Builder
	b.WriteString(" FROM ")
	b.WriteString(strings.Join(from, ", "))
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	if len(groupSQL) > 0 {
		b.WriteString(" GROUP BY ")
		b.WriteString(strings.Join(groupSQL, ", "))
	}
	if having != "" {
		b.WriteString(" HAVING ")
		b.WriteString(having)
	}
	if len(order) > 0 {
		b.WriteString(" ORDER BY ")
		b.WriteString(strings.Join(order, ", "))
	}
	if top != "" {
		b.WriteString(" LIMIT " + top)
	}
	if skip != "" {
		b.WriteString(" OFFSET " + skip)
	}
	r.rest = b.String()
	return r, nil
}

// columnVal is the value of a subquery column seen from the outer query:
// nested values arrive as JSON.
func columnVal(sql string, v val) val {
	switch v.t {
	case tyAny, tyRecord, tyEvent, tyArray, tyNull:
		return anyVal(sql, "$")
	}
	return val{sql: sql, t: v.t}
}

func limitValue(e Expr, clause string) (string, *Error) {
	if e == nil {
		return "", nil
	}
	l, ok := e.(*Literal)
	if ok && l.Kind == LitNumber {
		if n, err := strconv.ParseUint(l.Text, 10, 63); err == nil {
			return strconv.FormatUint(n, 10), nil
		}
	}
	return "", errAt(e.Position(), "%s must be a non-negative integer, found %s", clause, ExprString(e))
}

func (c *compiler) projection(e Expr, r *result) *Error {
	v, err := c.expr(e)
	if err != nil {
		return err
	}
	switch v.t {
	case tyEvent:
		r.shape = shapeEvent
		r.cols = eventColumns
		for _, col := range eventColumns {
			r.selects = append(r.selects, colRef(v.alias, col)+" AS "+sqlIdent(col))
			f := eventFields[col]
			r.colVals = append(r.colVals, val{t: f.t})
		}
		r.doc = "CAST(" + eventDoc(v.alias) + " AS VARCHAR)"
	case tyRecord:
		if len(v.fields) == 0 {
			return errAt(e.Position(), "PROJECT INTO needs at least one field")
		}
		r.shape = shapeRecord
		for _, f := range v.fields {
			r.cols = append(r.cols, f.key)
			r.colVals = append(r.colVals, f.v)
			r.selects = append(r.selects, columnOf(f.v)+" AS "+sqlIdent(f.key))
		}
		r.doc = "CAST(" + recordDoc(v.fields) + " AS VARCHAR)"
	default:
		r.shape = shapeScalar
		r.cols = []string{"value"}
		r.colVals = []val{v}
		r.selects = []string{columnOf(v) + " AS value"}
		r.doc = "coalesce(CAST(" + jsonOf(v) + " AS VARCHAR), 'null')"
	}
	return nil
}

func (c *compiler) boolean(v val, p Pos, clause string) (val, *Error) {
	switch v.t {
	case tyBool, tyAny, tyNull:
		return c.coerce(v, tyBool, p)
	}
	return val{}, errAt(p, "%s must be a boolean expression, found %s", clause, v.t)
}

func (c *compiler) timeClause(b *binding, t *TimeClause) ([]string, *Error) {
	if b.kind != bindEvent {
		return nil, errAt(t.Pos, "%s applies only to an events source", timeKindNames[t.Kind])
	}
	ts := colRef(b.name, "timestamp")
	bound := func(e Expr) (string, *Error) {
		if containsRef(e, c.bindings) {
			return "", errAt(e.Position(), "%s takes a constant time", timeKindNames[t.Kind])
		}
		c.noAggWhere = timeKindNames[t.Kind]
		defer func() { c.noAggWhere = "" }()
		v, err := c.expr(e)
		if err != nil {
			return "", err
		}
		if v.t != tyTime && v.t != tyString && v.t != tyDate {
			return "", errAt(e.Position(), "%s needs a time, found %s", timeKindNames[t.Kind], v.t)
		}
		v, err = c.coerce(v, tyTime, e.Position())
		if err != nil {
			return "", err
		}
		return v.sql, nil
	}
	a, err := bound(t.A)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case TimeSince:
		return []string{ts + " >= " + a}, nil
	case TimeBetween:
		bs, err := bound(t.B)
		if err != nil {
			return nil, err
		}
		return []string{ts + " >= " + a, ts + " <= " + bs}, nil
	}
	return []string{ts + " <= " + a}, nil // AT and UNTIL
}

// containsRef reports whether e mentions any binding.
func containsRef(e Expr, bs map[string]*binding) bool {
	found := false
	walk(e, func(x Expr) bool {
		if id, ok := x.(*Ident); ok && bs[id.Name] != nil {
			found = true
		}
		return !found
	})
	return found
}

func containsAgg(e Expr) bool {
	found := false
	walk(e, func(x Expr) bool {
		if call, ok := x.(*Call); ok && aggregates[call.Name] {
			found = true
		}
		return !found
	})
	return found
}

// walk calls f on e and its subexpressions, depth first, while f returns true.
func walk(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch e := e.(type) {
	case *Field:
		walk(e.X, f)
	case *Unary:
		walk(e.X, f)
	case *Binary:
		walk(e.L, f)
		walk(e.R, f)
	case *Cast:
		walk(e.X, f)
	case *Call:
		for _, a := range e.Args {
			walk(a, f)
		}
	case *Array:
		for _, a := range e.Elems {
			walk(a, f)
		}
	case *Record:
		for _, fl := range e.Fields {
			walk(fl.Value, f)
		}
	}
}

// rootBinding returns the binding name at the root of a field chain.
func rootBinding(e Expr) (string, bool) {
	for {
		switch x := e.(type) {
		case *Ident:
			return x.Name, true
		case *Field:
			e = x.X
		default:
			return "", false
		}
	}
}

// expr compiles e to its natural type.
func (c *compiler) expr(e Expr) (val, *Error) {
	if e == nil {
		return val{}, &Error{Line: 1, Col: 1, Msg: "missing expression"}
	}
	if c.aggQuery && !c.inAgg {
		if len(c.groups) > 0 {
			key := ExprString(e)
			for _, g := range c.groups {
				if g.key == key {
					if g.v.t == tyAny {
						return anyVal(g.v.sql, "$"), nil
					}
					return val{sql: g.v.sql, t: g.v.t}, nil
				}
			}
		}
		switch e.(type) {
		case *Ident, *Field:
			if name, ok := rootBinding(e); ok && c.bindings[name] != nil {
				return val{}, errAt(e.Position(), "%s must appear in GROUP BY or inside an aggregate function", ExprString(e))
			}
		}
	}
	switch e := e.(type) {
	case *Literal:
		switch e.Kind {
		case LitString:
			return val{sql: sqlString(e.Text), t: tyString, lit: e}, nil
		case LitNumber:
			return val{sql: e.Text, t: tyNumber}, nil
		case LitBool:
			return val{sql: e.Text, t: tyBool}, nil
		}
		return val{sql: "NULL", t: tyNull}, nil
	case *Duration:
		unit := map[byte]string{'s': "seconds", 'm': "minutes", 'h': "hours", 'd': "days", 'w': "weeks"}[e.Unit]
		return val{sql: "INTERVAL '" + strconv.FormatInt(e.N, 10) + " " + unit + "'", t: tyDuration}, nil
	case *Ident:
		return c.ident(e)
	case *Field:
		return c.field(e)
	case *Unary:
		return c.unary(e)
	case *Binary:
		return c.binary(e)
	case *Cast:
		return c.cast(e)
	case *Call:
		return c.call(e)
	case *Array:
		return c.array(e)
	case *Record:
		v := val{t: tyRecord}
		seen := map[string]bool{}
		for _, f := range e.Fields {
			if seen[f.Key] {
				return val{}, errAt(f.Pos, "duplicate key %s", f.Key)
			}
			seen[f.Key] = true
			fv, err := c.expr(f.Value)
			if err != nil {
				return val{}, err
			}
			v.isAggr = v.isAggr || fv.isAggr
			v.fields = append(v.fields, recField{key: f.Key, v: fv})
		}
		v.sql = recordDoc(v.fields)
		return v, nil
	}
	return val{}, errAt(e.Position(), "unsupported expression")
}

func (c *compiler) ident(e *Ident) (val, *Error) {
	b := c.bindings[e.Name]
	if b == nil && c.implicit != "" {
		if _, ok := eventFields[e.Name]; ok {
			return c.field(&Field{Pos: e.Pos, X: &Ident{Pos: e.Pos, Name: c.implicit}, Name: e.Name})
		}
	}
	if b == nil {
		err := errAt(e.Pos, "unknown binding %s", e.Name)
		if m := suggest(e.Name, c.names); m != "" {
			err.Hint = "did you mean " + m + "?"
		}
		return val{}, err
	}
	switch b.kind {
	case bindEvent:
		return val{t: tyEvent, alias: b.name, sql: eventDoc(b.name)}, nil
	case bindRecord:
		v := val{t: tyRecord, fields: b.fields}
		v.sql = recordDoc(v.fields)
		return v, nil
	}
	ref := colRef(b.name, "value")
	if b.t == tyAny {
		return anyVal(ref, "$"), nil
	}
	return val{sql: ref, t: b.t}, nil
}

func (c *compiler) field(e *Field) (val, *Error) {
	x, err := c.expr(e.X)
	if err != nil {
		return val{}, err
	}
	switch x.t {
	case tyEvent:
		f, ok := eventFields[e.Name]
		if !ok {
			err := errAt(e.Pos, "unknown field %s", ExprString(e))
			if m := suggest(e.Name, eventFieldNames); m != "" {
				err.Hint = "did you mean " + ExprString(e.X) + "." + m + "?"
			}
			return val{}, err
		}
		if f.col == "" {
			return val{sql: sqlString(f.konst), t: tyString}, nil
		}
		ref := colRef(x.alias, f.col)
		if f.t == tyAny {
			return anyVal(ref, "$"), nil
		}
		return val{sql: ref, t: f.t}, nil
	case tyAny:
		return anyVal(x.base, x.path+"."+e.Name), nil
	case tyRecord:
		var keys []string
		for _, f := range x.fields {
			if f.key == e.Name {
				return f.v, nil
			}
			keys = append(keys, f.key)
		}
		err := errAt(e.Pos, "unknown field %s", ExprString(e))
		if m := suggest(e.Name, keys); m != "" {
			err.Hint = "did you mean " + ExprString(e.X) + "." + m + "?"
		}
		return val{}, err
	}
	return val{}, errAt(e.Pos, "%s is a %s and has no field %s", ExprString(e.X), x.t, e.Name)
}

func (c *compiler) unary(e *Unary) (val, *Error) {
	x, err := c.expr(e.X)
	if err != nil {
		return val{}, err
	}
	want := tyNumber
	if e.Op == "NOT" {
		want = tyBool
	}
	if x, err = c.coerce(x, want, e.X.Position()); err != nil {
		return val{}, err
	}
	switch e.Op {
	case "NOT":
		return val{sql: "(NOT " + x.sql + ")", t: tyBool, isAggr: x.isAggr}, nil
	case "-":
		return val{sql: "(-" + x.sql + ")", t: tyNumber, isAggr: x.isAggr}, nil
	}
	return x, nil
}

var sqlOps = map[string]string{"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "+": "+", "-": "-", "*": "*", "/": "/"}

func (c *compiler) binary(e *Binary) (val, *Error) {
	l, err := c.expr(e.L)
	if err != nil {
		return val{}, err
	}
	r, err := c.expr(e.R)
	if err != nil {
		return val{}, err
	}
	aggr := l.isAggr || r.isAggr
	out := func(sql string, t typ) (val, *Error) { return val{sql: sql, t: t, isAggr: aggr}, nil }
	switch e.Op {
	case "AND", "OR", "XOR":
		if l, err = c.coerce(l, tyBool, e.L.Position()); err != nil {
			return val{}, err
		}
		if r, err = c.coerce(r, tyBool, e.R.Position()); err != nil {
			return val{}, err
		}
		if e.Op == "XOR" {
			return out("("+l.sql+" <> "+r.sql+")", tyBool)
		}
		return out("("+l.sql+" "+e.Op+" "+r.sql+")", tyBool)
	case "+", "-", "*", "/":
		if l.t == tyTime && r.t == tyDuration && (e.Op == "+" || e.Op == "-") {
			return out("("+l.sql+" "+e.Op+" "+r.sql+")", tyTime)
		}
		if l.t == tyDuration || r.t == tyDuration {
			return val{}, errAt(e.Pos, "a duration can only be added to or subtracted from a time")
		}
		if l, err = c.coerce(l, tyNumber, e.L.Position()); err != nil {
			return val{}, err
		}
		if r, err = c.coerce(r, tyNumber, e.R.Position()); err != nil {
			return val{}, err
		}
		return out("("+l.sql+" "+sqlOps[e.Op]+" "+r.sql+")", tyNumber)
	case "CONTAINS":
		return c.contains(e, l, r)
	}
	// Comparison.
	if l.t == tyNull || r.t == tyNull {
		if e.Op != "==" && e.Op != "!=" {
			return val{}, errAt(e.Pos, "null can only be compared with == or !=")
		}
		x := l
		if l.t == tyNull {
			x = r
		}
		test := " IS NULL"
		if e.Op == "!=" {
			test = " IS NOT NULL"
		}
		if x.t == tyNull {
			return out("(NULL"+test+")", tyBool)
		}
		if x.t == tyAny {
			// A missing field and a JSON null are both null.
			x, _ = c.coerce(x, tyString, e.Pos)
		}
		return out("("+x.sql+test+")", tyBool)
	}
	target, err := c.compareType(e, l, r)
	if err != nil {
		return val{}, err
	}
	if l, err = c.coerce(l, target, e.L.Position()); err != nil {
		return val{}, err
	}
	if r, err = c.coerce(r, target, e.R.Position()); err != nil {
		return val{}, err
	}
	return out("("+l.sql+" "+sqlOps[e.Op]+" "+r.sql+")", tyBool)
}

// compareType picks the type both sides of a comparison are converted to.
func (c *compiler) compareType(e *Binary, l, r val) (typ, *Error) {
	for _, v := range []val{l, r} {
		switch v.t {
		case tyRecord, tyEvent, tyArray, tyDuration:
			return 0, errAt(e.Pos, "cannot compare a %s", v.t)
		}
	}
	lt, rt := l.t, r.t
	switch {
	case lt == tyAny && rt == tyAny:
		return tyString, nil
	case lt == tyAny:
		lt = rt
	case rt == tyAny:
		rt = lt
	}
	if lt == tyDate {
		lt = tyTime
	}
	if rt == tyDate {
		rt = tyTime
	}
	if lt == tyString && l.lit != nil && rt == tyTime {
		lt = tyTime
	}
	if rt == tyString && r.lit != nil && lt == tyTime {
		rt = tyTime
	}
	if lt != rt {
		return 0, errAt(e.Pos, "cannot compare %s with %s", l.t, r.t)
	}
	if lt == tyBool && e.Op != "==" && e.Op != "!=" {
		return 0, errAt(e.Pos, "booleans can only be compared with == or !=")
	}
	return lt, nil
}

func (c *compiler) contains(e *Binary, l, r val) (val, *Error) {
	aggr := l.isAggr || r.isAggr
	switch l.t {
	case tyArray:
		if l.elem == tyUnknown {
			return val{sql: "false", t: tyBool}, nil
		}
		want := l.elem
		if r.t == tyAny || r.t == tyNull || r.t == want || want == tyTime && r.lit != nil {
			var err *Error
			if r, err = c.coerce(r, want, e.R.Position()); err != nil {
				return val{}, err
			}
			return val{sql: "list_contains(" + l.sql + ", " + r.sql + ")", t: tyBool, isAggr: aggr}, nil
		}
		return val{}, errAt(e.R.Position(), "CONTAINS on an array of %s needs a %s, found %s", l.elem, l.elem, r.t)
	case tyAny:
		items := "json_extract_string(" + l.base + ", " + sqlString(l.path+"[*]") + ")"
		switch r.t {
		case tyAny:
			r, _ = c.coerce(r, tyString, e.R.Position())
		case tyString:
		case tyNumber:
			items = "TRY_CAST(" + items + " AS DOUBLE[])"
		case tyBool:
			items = "TRY_CAST(" + items + " AS BOOLEAN[])"
		default:
			return val{}, errAt(e.R.Position(), "CONTAINS needs a string, number or boolean, found %s", r.t)
		}
		return val{sql: "list_contains(" + items + ", " + r.sql + ")", t: tyBool, isAggr: aggr}, nil
	}
	return val{}, errAt(e.L.Position(), "CONTAINS needs an array on the left, found %s", l.t)
}

var castTypes = map[string]typ{
	"STRING": tyString, "INT": tyNumber, "INTEGER": tyNumber, "FLOAT": tyNumber, "NUMBER": tyNumber,
	"BOOLEAN": tyBool, "BOOL": tyBool, "DATETIME": tyTime, "DATE": tyDate,
}

func castTypeNames() []string {
	var out []string
	for k := range castTypes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (c *compiler) cast(e *Cast) (val, *Error) {
	want, ok := castTypes[e.Type]
	if !ok {
		err := errAt(e.Pos, "unknown type %s", e.Type)
		if m := suggest(e.Type, castTypeNames()); m != "" {
			err.Hint = "did you mean " + m + "?"
		}
		return val{}, err
	}
	x, err := c.expr(e.X)
	if err != nil {
		return val{}, err
	}
	switch x.t {
	case tyRecord, tyEvent, tyArray, tyDuration:
		return val{}, errAt(e.X.Position(), "cannot convert a %s to %s", x.t, e.Type)
	}
	src := x.sql
	if x.t == tyAny {
		src = "json_extract_string(" + x.base + ", " + sqlString(x.path) + ")"
	}
	if x.t == tyString && x.lit != nil && (want == tyTime || want == tyDate) {
		return c.coerce(x, want, e.X.Position())
	}
	var sql string
	switch e.Type {
	case "STRING":
		if x.t == tyTime {
			sql = rfc3339(x.sql)
		} else {
			sql = "CAST(" + src + " AS VARCHAR)"
		}
	case "INT", "INTEGER":
		sql = "TRY_CAST(trunc(TRY_CAST(" + src + " AS DOUBLE)) AS BIGINT)"
	case "FLOAT", "NUMBER":
		sql = "TRY_CAST(" + src + " AS DOUBLE)"
	case "BOOLEAN", "BOOL":
		sql = "TRY_CAST(" + src + " AS BOOLEAN)"
	case "DATETIME":
		sql = "TRY_CAST(" + src + " AS TIMESTAMPTZ)"
	case "DATE":
		if x.t == tyTime {
			sql = "CAST(timezone('UTC', " + x.sql + ") AS DATE)"
		} else {
			sql = "TRY_CAST(" + src + " AS DATE)"
		}
	}
	return val{sql: sql, t: want, isAggr: x.isAggr}, nil
}

func (c *compiler) array(e *Array) (val, *Error) {
	v := val{t: tyArray}
	var elems []val
	for _, x := range e.Elems {
		xv, err := c.expr(x)
		if err != nil {
			return val{}, err
		}
		switch xv.t {
		case tyRecord, tyEvent, tyArray, tyDuration:
			return val{}, errAt(x.Position(), "array elements must be scalars, found %s", xv.t)
		case tyNull, tyAny:
		default:
			if v.elem == tyUnknown {
				v.elem = xv.t
			} else if v.elem != xv.t {
				return val{}, errAt(x.Position(), "array elements must have one type: %s and %s", v.elem, xv.t)
			}
		}
		v.isAggr = v.isAggr || xv.isAggr
		elems = append(elems, xv)
	}
	if v.elem == tyUnknown && len(elems) > 0 {
		v.elem = tyString // only JSON values and nulls: compare as text
	}
	parts := make([]string, len(elems))
	for i, xv := range elems {
		xv, err := c.coerce(xv, v.elem, e.Elems[i].Position())
		if err != nil {
			return val{}, err
		}
		parts[i] = xv.sql
	}
	v.sql = "[" + strings.Join(parts, ", ") + "]"
	return v, nil
}

// coerce converts v to want (tyUnknown: leave as is).
func (c *compiler) coerce(v val, want typ, p Pos) (val, *Error) {
	if want == tyUnknown || v.t == want {
		return v, nil
	}
	out := val{t: want, isAggr: v.isAggr}
	switch v.t {
	case tyNull:
		out.sql = "NULL"
		return out, nil
	case tyAny:
		text := "json_extract_string(" + v.base + ", " + sqlString(v.path) + ")"
		switch want {
		case tyString:
			out.sql = text
		case tyNumber:
			out.sql = "TRY_CAST(" + text + " AS DOUBLE)"
		case tyBool:
			out.sql = "TRY_CAST(" + text + " AS BOOLEAN)"
		case tyTime:
			out.sql = "TRY_CAST(" + text + " AS TIMESTAMPTZ)"
		case tyDate:
			out.sql = "TRY_CAST(" + text + " AS DATE)"
		default:
			return val{}, errAt(p, "expected %s, found JSON", want)
		}
		return out, nil
	case tyString:
		if v.lit != nil && (want == tyTime || want == tyDate) {
			return timeLiteral(v.lit, want)
		}
	case tyDate:
		if want == tyTime {
			out.sql = "CAST(" + v.sql + " AS TIMESTAMPTZ)"
			return out, nil
		}
	}
	return val{}, errAt(p, "expected %s, found %s", want, v.t)
}

// timeLiteral turns an RFC 3339 (or YYYY-MM-DD) string literal into a constant.
func timeLiteral(l *Literal, want typ) (val, *Error) {
	if want == tyDate {
		d, err := time.Parse(time.DateOnly, l.Text)
		if err != nil {
			return val{}, errAt(l.Pos, "invalid date %s (want YYYY-MM-DD)", quoteEQL(l.Text))
		}
		return val{sql: "DATE '" + d.Format(time.DateOnly) + "'", t: tyDate}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, l.Text)
	if err != nil {
		d, err2 := time.Parse(time.DateOnly, l.Text)
		if err2 != nil {
			return val{}, errAt(l.Pos, "invalid time %s (want RFC 3339, e.g. 2024-01-02T15:04:05Z)", quoteEQL(l.Text))
		}
		t = d
	}
	return val{sql: "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'", t: tyTime}, nil
}

// CompileCondition compiles a boolean condition over one event, written
// with bare field names ("payload.amount > 10 AND type == \"x\"") or
// through the binding e, to a SQL expression over the events relation,
// which the caller's SQL must name e ("FROM events AS e"). Analytics uses
// it for step and cohort predicates. Aggregates are not allowed; errors
// point into src.
func CompileCondition(src string) (string, error) {
	const head = "FROM e IN events WHERE "
	q, err := Parse(head + src + " PROJECT INTO e")
	if err != nil {
		err = shiftError(err, len(head))
		if e, ok := err.(*Error); ok && e.Line == 1 && e.Col > utf8.RuneCountInString(src) {
			e.Msg = "the condition ends too early"
		}
		return "", err
	}
	if len(q.Sources) != 1 || q.Where == nil || q.GroupBy != nil || q.OrderBy != nil || q.Skip != nil || q.Top != nil {
		return "", &Error{Line: 1, Col: 1, Msg: "a condition is one boolean expression"}
	}
	c := &compiler{bindings: map[string]*binding{}, implicit: "e", noAggWhere: "a condition"}
	c.bindings["e"] = &binding{name: "e", kind: bindEvent, src: q.Sources[0]}
	c.names = []string{"e"}
	v, cerr := c.expr(q.Where)
	if cerr == nil {
		v, cerr = c.boolean(v, q.Where.Position(), "a condition")
	}
	if cerr != nil {
		return "", shiftError(cerr, len(head))
	}
	return v.sql, nil
}

// shiftError moves an error on line 1 left by n columns (the text the
// caller did not write).
func shiftError(err error, n int) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	out := *e
	if out.Line == 1 {
		out.Col = max(1, out.Col-n)
	}
	return &out
}
