package eventql

import (
	"slices"
	"strconv"
	"strings"
)

// aggregates are the aggregate functions.
var aggregates = map[string]bool{
	"COUNT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true, "MEDIAN": true,
	"STDDEV": true, "VARIANCE": true, "UNIQUE": true, "PERCENTILE": true, "COUNT_DISTINCT": true,
}

// fn describes a scalar function: argument types, result type and SQL.
type fn struct {
	args   []typ // required arguments
	opt    []typ // optional trailing arguments
	result typ
	sql    func(a []string) string
}

func call1(name string) func([]string) string {
	return func(a []string) string { return name + "(" + strings.Join(a, ", ") + ")" }
}

func utcPart(part string) func([]string) string {
	return func(a []string) string { return part + "(timezone('UTC', " + a[0] + "))" }
}

var (
	num  = []typ{tyNumber}
	str  = []typ{tyString}
	tim  = []typ{tyTime}
	str2 = []typ{tyString, tyString}
)

var functions = map[string]fn{
	"ABS":   {args: num, result: tyNumber, sql: call1("abs")},
	"CEIL":  {args: num, result: tyNumber, sql: call1("ceil")},
	"FLOOR": {args: num, result: tyNumber, sql: call1("floor")},
	"ROUND": {args: num, opt: num, result: tyNumber, sql: func(a []string) string {
		if len(a) == 2 {
			return "round(" + a[0] + ", CAST(" + a[1] + " AS INTEGER))"
		}
		return "round(" + a[0] + ")"
	}},
	"POW":   {args: []typ{tyNumber, tyNumber}, result: tyNumber, sql: call1("pow")},
	"SQRT":  {args: num, result: tyNumber, sql: call1("sqrt")},
	"EXP":   {args: num, result: tyNumber, sql: call1("exp")},
	"LN":    {args: num, result: tyNumber, sql: call1("ln")},
	"LOG10": {args: num, result: tyNumber, sql: call1("log10")},
	"SIGN":  {args: num, result: tyNumber, sql: call1("sign")},
	"PI":    {result: tyNumber, sql: call1("pi")},
	"RAND":  {result: tyNumber, sql: call1("random")},

	"LOWER": {args: str, result: tyString, sql: call1("lower")},
	"UPPER": {args: str, result: tyString, sql: call1("upper")},
	"TRIM":  {args: str, result: tyString, sql: call1("trim")},
	"LTRIM": {args: str, result: tyString, sql: call1("ltrim")},
	"RTRIM": {args: str, result: tyString, sql: call1("rtrim")},
	"LEN":   {args: str, result: tyNumber, sql: call1("length")},
	"SUBSTRING": {args: []typ{tyString, tyNumber}, opt: num, result: tyString, sql: func(a []string) string {
		s := "substring(" + a[0] + ", CAST(" + a[1] + " AS BIGINT)"
		if len(a) == 3 {
			s += ", CAST(" + a[2] + " AS BIGINT)"
		}
		return s + ")"
	}},
	"REPLACE":    {args: []typ{tyString, tyString, tyString}, result: tyString, sql: call1("replace")},
	"STARTSWITH": {args: str2, result: tyBool, sql: call1("starts_with")},
	"ENDSWITH":   {args: str2, result: tyBool, sql: call1("suffix")},
	"CONCAT":     {args: str2, result: tyString, sql: call1("concat")},

	"NOW":     {result: tyTime, sql: func([]string) string { return "now()" }},
	"YEAR":    {args: tim, result: tyNumber, sql: utcPart("year")},
	"MONTH":   {args: tim, result: tyNumber, sql: utcPart("month")},
	"DAY":     {args: tim, result: tyNumber, sql: utcPart("day")},
	"HOUR":    {args: tim, result: tyNumber, sql: utcPart("hour")},
	"MINUTE":  {args: tim, result: tyNumber, sql: utcPart("minute")},
	"SECOND":  {args: tim, result: tyNumber, sql: utcPart("second")},
	"WEEKDAY": {args: tim, result: tyNumber, sql: utcPart("dayofweek")},
}

// Aliases accepted for vendor and SQL spellings.
var fnAliases = map[string]string{
	"LENGTH": "LEN", "SUBSTR": "SUBSTRING", "POWER": "POW", "CEILING": "CEIL",
	"STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH", "LOWERCASE": "LOWER", "UPPERCASE": "UPPER",
}

var functionNames = func() []string {
	var out []string
	for k := range functions {
		out = append(out, k)
	}
	for k := range aggregates {
		out = append(out, k)
	}
	out = append(out, "IF")
	slices.Sort(out)
	return out
}()

func arity(name string, n, min, max int, p Pos) *Error {
	if n >= min && n <= max {
		return nil
	}
	want := strconv.Itoa(min)
	switch {
	case max > min+1:
		want = "between " + strconv.Itoa(min) + " and " + strconv.Itoa(max)
	case max == min+1:
		want = strconv.Itoa(min) + " or " + strconv.Itoa(max)
	}
	s := "s"
	if max == 1 && min == 1 {
		s = ""
	}
	return errAt(p, "%s takes %s argument%s, got %d", name, want, s, n)
}

func (c *compiler) call(e *Call) (val, *Error) {
	name := e.Name
	if a, ok := fnAliases[name]; ok {
		name = a
	}
	if aggregates[name] {
		return c.aggregate(e, name)
	}
	if name == "IF" {
		return c.ifCall(e)
	}
	f, ok := functions[name]
	if !ok {
		err := errAt(e.Pos, "unknown function %s", e.Name)
		if m := suggest(e.Name, functionNames); m != "" {
			err.Hint = "did you mean " + m + "?"
		}
		return val{}, err
	}
	if err := arity(name, len(e.Args), len(f.args), len(f.args)+len(f.opt), e.Pos); err != nil {
		return val{}, err
	}
	types := append(slices.Clip(f.args), f.opt...)
	args := make([]string, len(e.Args))
	aggr := false
	for i, a := range e.Args {
		v, err := c.expr(a)
		if err != nil {
			return val{}, err
		}
		if v, err = c.coerce(v, types[i], a.Position()); err != nil {
			return val{}, err
		}
		aggr = aggr || v.isAggr
		args[i] = v.sql
	}
	return val{sql: f.sql(args), t: f.result, isAggr: aggr}, nil
}

func (c *compiler) ifCall(e *Call) (val, *Error) {
	if err := arity("IF", len(e.Args), 3, 3, e.Pos); err != nil {
		return val{}, err
	}
	var vs [3]val
	for i, a := range e.Args {
		v, err := c.expr(a)
		if err != nil {
			return val{}, err
		}
		vs[i] = v
	}
	cond, err := c.boolean(vs[0], e.Args[0].Position(), "the IF condition")
	if err != nil {
		return val{}, err
	}
	a, b := vs[1], vs[2]
	t := a.t
	switch {
	case a.t == b.t:
	case a.t == tyNull || a.t == tyAny:
		t = b.t
	case b.t == tyNull || b.t == tyAny:
	default:
		return val{}, errAt(e.Pos, "IF branches have different types: %s and %s", a.t, b.t)
	}
	switch t {
	case tyRecord, tyEvent, tyArray:
		// Build both as JSON documents.
		a, b = anyVal(jsonOf(a), "$"), anyVal(jsonOf(b), "$")
		t = tyAny
	}
	if t == tyNull {
		return val{sql: "NULL", t: tyNull}, nil
	}
	if a, err = c.coerce(a, t, e.Args[1].Position()); err != nil {
		return val{}, err
	}
	if b, err = c.coerce(b, t, e.Args[2].Position()); err != nil {
		return val{}, err
	}
	sql := "CASE WHEN " + cond.sql + " THEN " + a.sql + " ELSE " + b.sql + " END"
	aggr := cond.isAggr || a.isAggr || b.isAggr
	if t == tyAny {
		v := anyVal("("+sql+")", "$")
		v.isAggr = aggr
		return v, nil
	}
	return val{sql: sql, t: t, isAggr: aggr}, nil
}

func (c *compiler) aggregate(e *Call, name string) (val, *Error) {
	if c.noAggWhere != "" {
		return val{}, errAt(e.Pos, "aggregate function %s is not allowed in %s", e.Name, c.noAggWhere)
	}
	if c.inAgg {
		return val{}, errAt(e.Pos, "aggregate function %s cannot be nested inside another aggregate", e.Name)
	}
	min, max := 1, 1
	switch name {
	case "COUNT":
		min = 0
	case "PERCENTILE":
		min, max = 2, 2
	}
	if err := arity(name, len(e.Args), min, max, e.Pos); err != nil {
		return val{}, err
	}
	c.inAgg = true
	defer func() { c.inAgg = false }()
	out := func(sql string, t typ) (val, *Error) {
		if t == tyAny {
			v := anyVal(sql, "$")
			v.isAggr = true
			return v, nil
		}
		return val{sql: sql, t: t, isAggr: true}, nil
	}
	if len(e.Args) == 0 {
		return out("count(*)", tyNumber)
	}
	x, err := c.expr(e.Args[0])
	if err != nil {
		return val{}, err
	}
	switch x.t {
	case tyRecord, tyEvent, tyArray, tyDuration:
		if name != "COUNT" {
			return val{}, errAt(e.Args[0].Position(), "%s needs a scalar, found %s", name, x.t)
		}
		return out("count(*)", tyNumber)
	}
	p := e.Args[0].Position()
	numeric := func() (val, *Error) { return c.coerce(x, tyNumber, p) }
	switch name {
	case "COUNT":
		if x.t == tyBool {
			return out("count(*) FILTER (WHERE "+x.sql+")", tyNumber)
		}
		if x.t == tyAny {
			x, _ = c.coerce(x, tyString, p)
		}
		return out("count("+x.sql+")", tyNumber)
	case "COUNT_DISTINCT":
		if x.t == tyAny {
			x, _ = c.coerce(x, tyString, p)
		}
		return out("count(DISTINCT "+x.sql+")", tyNumber)
	case "SUM", "AVG", "MEDIAN", "STDDEV", "VARIANCE":
		if x, err = numeric(); err != nil {
			return val{}, err
		}
		f := map[string]string{"SUM": "sum", "AVG": "avg", "MEDIAN": "median", "STDDEV": "stddev_samp", "VARIANCE": "var_samp"}[name]
		return out(f+"("+x.sql+")", tyNumber)
	case "MIN", "MAX":
		if x.t == tyAny {
			if x, err = numeric(); err != nil {
				return val{}, err
			}
		}
		if x.t == tyNull {
			return out("NULL", tyNull)
		}
		return out(strings.ToLower(name)+"("+x.sql+")", x.t)
	case "UNIQUE":
		// The group's single distinct non-null value; null when it has several.
		return out("CASE WHEN count(DISTINCT "+x.sql+") <= 1 THEN any_value("+x.sql+") END", x.t)
	case "PERCENTILE":
		if x, err = numeric(); err != nil {
			return val{}, err
		}
		l, ok := e.Args[1].(*Literal)
		frac, perr := 0.0, error(nil)
		if ok && l.Kind == LitNumber {
			frac, perr = strconv.ParseFloat(l.Text, 64)
		}
		if !ok || l.Kind != LitNumber || perr != nil || frac < 0 || frac > 1 {
			return val{}, errAt(e.Args[1].Position(), "PERCENTILE needs a constant fraction between 0 and 1")
		}
		return out("quantile_cont("+x.sql+", "+l.Text+")", tyNumber)
	}
	return val{}, errAt(e.Pos, "unknown aggregate %s", name)
}
