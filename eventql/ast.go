package eventql

import (
	"strconv"
	"strings"
)

// Query is a parsed EventQL query.
type Query struct {
	Pos      Pos
	Sources  []*Source
	Where    Expr // nil when absent
	GroupBy  []Expr
	Having   Expr
	OrderBy  []*OrderItem
	Skip     Expr
	Top      Expr // TOP or LIMIT
	Distinct bool
	Project  Expr
}

// SourceKind says what a FROM clause ranges over.
type SourceKind int

// Source kinds.
const (
	SourceEvents SourceKind = iota
	SourceSubjects
	SourceEventTypes
	SourceSubquery
	SourceFunction   // an analytics table function: funnel('{…}')
	SourceProjection // a projection's rows: projections.<name> (Func holds the name)
)

// Source is one FROM <Name> IN <source> clause with its time clauses.
type Source struct {
	Pos     Pos
	Name    string
	NamePos Pos
	Kind    SourceKind
	Sub     *Query // for SourceSubquery
	Func    string // for SourceFunction: funnel, retention, time_series, anomalies
	Arg     string // for SourceFunction: the JSON question
	Times   []*TimeClause
}

// TimeKind is an AllSource time-travel clause.
type TimeKind int

// Time clause kinds.
const (
	TimeAt TimeKind = iota
	TimeBetween
	TimeSince
	TimeUntil
)

var timeKindNames = [...]string{"AT", "BETWEEN", "SINCE", "UNTIL"}

// TimeClause restricts an events source by timestamp: AT t (≤ t), BETWEEN a AND b
// (a ≤ ts ≤ b), SINCE t (≥ t), UNTIL t (≤ t).
type TimeClause struct {
	Pos  Pos
	Kind TimeKind
	A, B Expr
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Expr Expr
	Desc bool
}

// Expr is an expression node.
type Expr interface {
	Position() Pos
}

type (
	// Ident is a bare name: a binding such as e.
	Ident struct {
		Pos  Pos
		Name string
	}
	// Field is X.Name.
	Field struct {
		Pos  Pos // of the whole access (its root)
		X    Expr
		Name string
	}
	// Literal is a string, number, boolean or null constant.
	Literal struct {
		Pos  Pos
		Kind LitKind
		Text string // number text as written, or the decoded string
	}
	// Duration is a relative time such as 7d (units s m h d w).
	Duration struct {
		Pos  Pos
		N    int64
		Unit byte
	}
	// Unary is NOT x or -x / +x.
	Unary struct {
		Pos Pos
		Op  string // "NOT", "-", "+"
		X   Expr
	}
	// Binary is L Op R; Op is upper-case for keywords.
	Binary struct {
		Pos  Pos // of the operator
		Op   string
		L, R Expr
	}
	// Cast is X AS Type; Type is upper-case as written.
	Cast struct {
		Pos  Pos // of AS
		X    Expr
		Type string
	}
	// Call is a function application; Name is upper-case.
	Call struct {
		Pos  Pos
		Name string
		Args []Expr
	}
	// Array is [a, b, ...].
	Array struct {
		Pos   Pos
		Elems []Expr
	}
	// Record is {k: v, ...}.
	Record struct {
		Pos    Pos
		Fields []*RecordField
	}
)

// RecordField is one key of a record literal.
type RecordField struct {
	Pos   Pos
	Key   string
	Value Expr
}

// LitKind is the kind of a Literal.
type LitKind int

// Literal kinds.
const (
	LitString LitKind = iota
	LitNumber
	LitBool
	LitNull
)

func (e *Ident) Position() Pos    { return e.Pos }
func (e *Field) Position() Pos    { return e.Pos }
func (e *Literal) Position() Pos  { return e.Pos }
func (e *Duration) Position() Pos { return e.Pos }
func (e *Unary) Position() Pos    { return e.Pos }
func (e *Binary) Position() Pos   { return e.Pos }
func (e *Cast) Position() Pos     { return e.Pos }
func (e *Call) Position() Pos     { return e.Pos }
func (e *Array) Position() Pos    { return e.Pos }
func (e *Record) Position() Pos   { return e.Pos }

// String prints the query in canonical form: upper-case keywords, one clause
// per line, minimal parentheses. Parse(q.String()) yields an equal AST.
func (q *Query) String() string {
	var b strings.Builder
	q.print(&b, "\n")
	return b.String()
}

func (q *Query) print(b *strings.Builder, sep string) {
	for i, s := range q.Sources {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString("FROM ")
		b.WriteString(s.Name)
		b.WriteString(" IN ")
		switch s.Kind {
		case SourceEvents:
			b.WriteString("events")
		case SourceSubjects:
			b.WriteString("subjects")
		case SourceEventTypes:
			b.WriteString("eventtypes")
		case SourceSubquery:
			b.WriteString("(")
			s.Sub.print(b, " ")
			b.WriteString(")")
		case SourceProjection:
			b.WriteString("projections.")
			b.WriteString(s.Func)
		case SourceFunction:
			b.WriteString(s.Func)
			b.WriteString("(")
			writeExpr(b, &Literal{Kind: LitString, Text: s.Arg}, precOr)
			b.WriteString(")")
		}
		for _, t := range s.Times {
			b.WriteString(" ")
			b.WriteString(timeKindNames[t.Kind])
			b.WriteString(" ")
			writeExpr(b, t.A, precAdd)
			if t.Kind == TimeBetween {
				b.WriteString(" AND ")
				writeExpr(b, t.B, precAdd)
			}
		}
	}
	if q.Where != nil {
		b.WriteString(sep + "WHERE ")
		writeExpr(b, q.Where, 0)
	}
	if len(q.GroupBy) > 0 {
		b.WriteString(sep + "GROUP BY ")
		for i, g := range q.GroupBy {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, g, 0)
		}
		if q.Having != nil {
			b.WriteString(" HAVING ")
			writeExpr(b, q.Having, 0)
		}
	}
	if len(q.OrderBy) > 0 {
		b.WriteString(sep + "ORDER BY ")
		for i, o := range q.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, o.Expr, 0)
			if o.Desc {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
		}
	}
	if q.Skip != nil {
		b.WriteString(sep + "SKIP ")
		writeExpr(b, q.Skip, precUnary)
	}
	if q.Top != nil {
		b.WriteString(sep + "TOP ")
		writeExpr(b, q.Top, precUnary)
	}
	b.WriteString(sep + "PROJECT INTO ")
	if q.Distinct {
		b.WriteString("DISTINCT ")
	}
	writeExpr(b, q.Project, 0)
}

// Operator precedence, lowest first.
const (
	precOr = iota + 1
	precXor
	precAnd
	precNot
	precCmp
	precAs
	precAdd
	precMul
	precUnary
	precPrimary
)

var binaryPrec = map[string]int{
	"OR": precOr, "XOR": precXor, "AND": precAnd,
	"==": precCmp, "!=": precCmp, "<": precCmp, "<=": precCmp, ">": precCmp, ">=": precCmp, "CONTAINS": precCmp,
	"+": precAdd, "-": precAdd, "*": precMul, "/": precMul,
}

func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		return binaryPrec[e.Op]
	case *Unary:
		if e.Op == "NOT" {
			return precNot
		}
		return precUnary
	case *Cast:
		return precAs
	}
	return precPrimary
}

// ExprString prints an expression in canonical form.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, 0)
	return b.String()
}

// writeExpr prints e, parenthesised when its precedence is below min.
func writeExpr(b *strings.Builder, e Expr, min int) {
	p := exprPrec(e)
	if p < min {
		b.WriteString("(")
		defer b.WriteString(")")
	}
	switch e := e.(type) {
	case *Ident:
		b.WriteString(e.Name)
	case *Field:
		writeExpr(b, e.X, precPrimary)
		b.WriteString(".")
		b.WriteString(e.Name)
	case *Literal:
		switch e.Kind {
		case LitString:
			b.WriteString(quoteEQL(e.Text))
		default:
			b.WriteString(e.Text)
		}
	case *Duration:
		b.WriteString(strconv.FormatInt(e.N, 10))
		b.WriteByte(e.Unit)
	case *Unary:
		if e.Op == "NOT" {
			b.WriteString("NOT ")
			writeExpr(b, e.X, precNot)
		} else {
			b.WriteString(e.Op)
			// Avoid "--x" reading as a comment-like double sign; keep a space.
			if u, ok := e.X.(*Unary); ok && u.Op != "NOT" {
				b.WriteString(" ")
			}
			writeExpr(b, e.X, precUnary)
		}
	case *Binary:
		// Left-associative: the right operand needs a tighter precedence.
		writeExpr(b, e.L, p)
		b.WriteString(" ")
		b.WriteString(e.Op)
		b.WriteString(" ")
		writeExpr(b, e.R, p+1)
	case *Cast:
		writeExpr(b, e.X, precAs)
		b.WriteString(" AS ")
		b.WriteString(e.Type)
	case *Call:
		b.WriteString(e.Name)
		b.WriteString("(")
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, 0)
		}
		b.WriteString(")")
	case *Array:
		b.WriteString("[")
		for i, a := range e.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, 0)
		}
		b.WriteString("]")
	case *Record:
		if len(e.Fields) == 0 {
			b.WriteString("{}")
			break
		}
		b.WriteString("{ ")
		for i, f := range e.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			if isPlainIdent(f.Key) {
				b.WriteString(f.Key)
			} else {
				b.WriteString(quoteEQL(f.Key))
			}
			b.WriteString(": ")
			writeExpr(b, f.Value, 0)
		}
		b.WriteString(" }")
	}
}

func isPlainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	return true
}

// quoteEQL writes s as a double-quoted EventQL string literal.
func quoteEQL(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&15])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
