package eventql

import (
	"strconv"
	"strings"
)

// maxDepth bounds expression and subquery nesting so hostile input cannot
// exhaust the stack.
const maxDepth = 200

type parser struct {
	lx    *lexer
	tok   token
	depth int
}

// Parse parses src into a Query. It checks syntax only; Compile does the
// static checks. Errors are *Error.
func Parse(src string) (*Query, error) {
	q, err := parse(src)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func parse(src string) (*Query, *Error) {
	p := &parser{lx: newLexer(src)}
	if err := p.advance(); err != nil {
		return nil, err
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("end of query")
	}
	return q, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isKw(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + quoteEQL(t.text)
	case tIdent:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

func (p *parser) unexpected(want string) *Error {
	return errAt(p.tok.pos, "unexpected %s, expected %s", describe(p.tok), want)
}

func (p *parser) expectKw(kw string) *Error {
	if !p.isKw(kw) {
		return p.unexpected(kw)
	}
	return p.advance()
}

func (p *parser) expectOp(op string) *Error {
	if !p.isOp(op) {
		return p.unexpected(strconv.Quote(op))
	}
	return p.advance()
}

// reserved words cannot be binding names.
var reserved = map[string]bool{
	"FROM": true, "IN": true, "WHERE": true, "GROUP": true, "BY": true, "HAVING": true,
	"ORDER": true, "ASC": true, "DESC": true, "SKIP": true, "TOP": true, "LIMIT": true,
	"PROJECT": true, "INTO": true, "DISTINCT": true, "AND": true, "OR": true, "XOR": true,
	"NOT": true, "AS": true, "CONTAINS": true, "TRUE": true, "FALSE": true, "NULL": true,
	"AT": true, "BETWEEN": true, "SINCE": true, "UNTIL": true,
}

func (p *parser) query() (*Query, *Error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.tok.pos, "query nested too deeply")
	}
	q := &Query{Pos: p.tok.pos}
	if !p.isKw("FROM") {
		return nil, p.unexpected("FROM")
	}
	for p.isKw("FROM") {
		s, err := p.source()
		if err != nil {
			return nil, err
		}
		q.Sources = append(q.Sources, s)
	}
	seen := map[string]bool{}
	once := func(name string) *Error {
		if seen[name] {
			return errAt(p.tok.pos, "duplicate %s clause", name)
		}
		seen[name] = true
		return nil
	}
	for !p.isKw("PROJECT") {
		var err *Error
		switch {
		case p.isKw("WHERE"):
			if err = once("WHERE"); err == nil {
				if err = p.advance(); err == nil {
					q.Where, err = p.expr()
				}
			}
		case p.isKw("GROUP"):
			if err = once("GROUP BY"); err == nil {
				err = p.groupBy(q)
			}
		case p.isKw("ORDER"):
			if err = once("ORDER BY"); err == nil {
				err = p.orderBy(q)
			}
		case p.isKw("SKIP"):
			if err = once("SKIP"); err == nil {
				if err = p.advance(); err == nil {
					q.Skip, err = p.unary()
				}
			}
		case p.isKw("TOP"), p.isKw("LIMIT"):
			if err = once("TOP"); err == nil {
				if err = p.advance(); err == nil {
					q.Top, err = p.unary()
				}
			}
		case p.isKw("HAVING"):
			err = errAt(p.tok.pos, "HAVING without GROUP BY")
		default:
			err = p.unexpected("WHERE, GROUP BY, ORDER BY, SKIP, TOP or PROJECT INTO")
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expectKw("INTO"); err != nil {
		return nil, err
	}
	if p.isKw("DISTINCT") {
		q.Distinct = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	q.Project = e
	return q, nil
}

func (p *parser) source() (*Source, *Error) {
	s := &Source{Pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tIdent || reserved[strings.ToUpper(p.tok.text)] {
		return nil, p.unexpected("a binding name")
	}
	s.Name, s.NamePos = p.tok.text, p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expectKw("IN"); err != nil {
		return nil, err
	}
	switch {
	case p.isOp("("):
		if err := p.advance(); err != nil {
			return nil, err
		}
		sub, err := p.query()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		s.Kind, s.Sub = SourceSubquery, sub
	case p.tok.kind == tIdent && tableFunctionColumns[strings.ToLower(p.tok.text)] != nil:
		// An analytics table function: funnel('{"steps": [...]}').
		s.Kind, s.Func = SourceFunction, strings.ToLower(p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("the question as a JSON string, e.g. " + s.Func + "('{\"steps\": [\"a\", \"b\"]}')")
		}
		s.Arg = p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	case p.tok.kind == tIdent && strings.EqualFold(p.tok.text, "projections"):
		// A projection's rows, each a document of its columns.
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOp("."); err != nil {
			return nil, err
		}
		if p.tok.kind != tIdent {
			return nil, p.unexpected("a projection name after projections.")
		}
		s.Kind, s.Func = SourceProjection, p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
	case p.tok.kind == tIdent:
		switch strings.ToLower(p.tok.text) {
		case "events":
			s.Kind = SourceEvents
		case "subjects":
			s.Kind = SourceSubjects
		case "eventtypes":
			s.Kind = SourceEventTypes
		default:
			e := errAt(p.tok.pos, "unknown source %s", p.tok.text)
			if m := suggest(p.tok.text, []string{"events", "subjects", "eventtypes"}); m != "" {
				e.Hint = "did you mean " + m + "?"
			}
			return nil, e
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected("events, subjects, eventtypes, projections.<name> or a (subquery)")
	}
	for {
		var kind TimeKind
		switch {
		case p.isKw("AT"):
			kind = TimeAt
		case p.isKw("BETWEEN"):
			kind = TimeBetween
		case p.isKw("SINCE"):
			kind = TimeSince
		case p.isKw("UNTIL"):
			kind = TimeUntil
		default:
			return s, nil
		}
		t := &TimeClause{Pos: p.tok.pos, Kind: kind}
		if err := p.advance(); err != nil {
			return nil, err
		}
		var err *Error
		if t.A, err = p.binary(precAdd); err != nil {
			return nil, err
		}
		if kind == TimeBetween {
			if err := p.expectKw("AND"); err != nil {
				return nil, err
			}
			if t.B, err = p.binary(precAdd); err != nil {
				return nil, err
			}
		}
		s.Times = append(s.Times, t)
	}
}

func (p *parser) groupBy(q *Query) *Error {
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expectKw("BY"); err != nil {
		return err
	}
	for {
		e, err := p.expr()
		if err != nil {
			return err
		}
		q.GroupBy = append(q.GroupBy, e)
		if !p.isOp(",") {
			break
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
	if p.isKw("HAVING") {
		if err := p.advance(); err != nil {
			return err
		}
		e, err := p.expr()
		if err != nil {
			return err
		}
		q.Having = e
	}
	return nil
}

func (p *parser) orderBy(q *Query) *Error {
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expectKw("BY"); err != nil {
		return err
	}
	for {
		e, err := p.expr()
		if err != nil {
			return err
		}
		o := &OrderItem{Expr: e}
		if p.isKw("DESC") || p.isKw("ASC") {
			o.Desc = p.isKw("DESC")
			if err := p.advance(); err != nil {
				return err
			}
		}
		q.OrderBy = append(q.OrderBy, o)
		if !p.isOp(",") {
			return nil
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

func (p *parser) expr() (Expr, *Error) { return p.binary(precOr) }

// binaryOp returns the binary operator at the current token, if any.
func (p *parser) binaryOp() (string, int) {
	switch p.tok.kind {
	case tOp:
		if pr, ok := binaryPrec[p.tok.text]; ok {
			return p.tok.text, pr
		}
	case tIdent:
		op := strings.ToUpper(p.tok.text)
		if pr, ok := binaryPrec[op]; ok {
			return op, pr
		}
	}
	return "", 0
}

// binary parses an expression whose operators all bind at least as tightly as
// min, by precedence climbing.
func (p *parser) binary(min int) (Expr, *Error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.tok.pos, "expression nested too deeply")
	}
	var left Expr
	var err *Error
	switch {
	case min <= precNot && p.isKw("NOT"):
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.binary(precNot)
		if err != nil {
			return nil, err
		}
		left = &Unary{Pos: pos, Op: "NOT", X: x}
	case min <= precAs:
		// AS binds looser than arithmetic: a + b AS INT is (a + b) AS INT.
		left, err = p.binary(precAdd)
		if err != nil {
			return nil, err
		}
		for p.isKw("AS") {
			pos := p.tok.pos
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tIdent {
				return nil, p.unexpected("a type name")
			}
			left = &Cast{Pos: pos, X: left, Type: strings.ToUpper(p.tok.text)}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	default:
		left, err = p.unary()
		if err != nil {
			return nil, err
		}
	}
	for {
		op, pr := p.binaryOp()
		if op == "" || pr < min {
			return left, nil
		}
		if pr <= precAs && min > precAs {
			return left, nil
		}
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		next := pr + 1
		if pr == precCmp {
			next = precAs
		}
		right, err := p.binary(next)
		if err != nil {
			return nil, err
		}
		left = &Binary{Pos: pos, Op: op, L: left, R: right}
	}
}

func (p *parser) unary() (Expr, *Error) {
	if p.isOp("-") || p.isOp("+") {
		pos, op := p.tok.pos, p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errAt(p.tok.pos, "expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: pos, Op: op, X: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (Expr, *Error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tIdent {
			return nil, p.unexpected("a field name")
		}
		x = &Field{Pos: x.Position(), X: x, Name: p.tok.text}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func (p *parser) primary() (Expr, *Error) {
	t := p.tok
	switch t.kind {
	case tNumber:
		return &Literal{Pos: t.pos, Kind: LitNumber, Text: t.text}, p.advance()
	case tString:
		return &Literal{Pos: t.pos, Kind: LitString, Text: t.text}, p.advance()
	case tDuration:
		n, err := strconv.ParseInt(t.text[:len(t.text)-1], 10, 64)
		if err != nil {
			return nil, errAt(t.pos, "duration %s out of range", t.text)
		}
		return &Duration{Pos: t.pos, N: n, Unit: t.text[len(t.text)-1]}, p.advance()
	case tIdent:
		switch up := strings.ToUpper(t.text); up {
		case "TRUE", "FALSE", "NULL":
			kind := LitBool
			if up == "NULL" {
				kind = LitNull
			}
			return &Literal{Pos: t.pos, Kind: kind, Text: strings.ToLower(up)}, p.advance()
		default:
			if reserved[up] {
				return nil, p.unexpected("an expression")
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isOp("(") {
			return &Ident{Pos: t.pos, Name: t.text}, nil
		}
		call := &Call{Pos: t.pos, Name: strings.ToUpper(t.text)}
		args, err := p.list(")")
		if err != nil {
			return nil, err
		}
		call.Args = args
		return call, nil
	case tOp:
		switch t.text {
		case "(":
			if err := p.advance(); err != nil {
				return nil, err
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		case "[":
			elems, err := p.list("]")
			if err != nil {
				return nil, err
			}
			return &Array{Pos: t.pos, Elems: elems}, nil
		case "{":
			return p.record()
		}
	}
	return nil, p.unexpected("an expression")
}

// list parses "open a, b, ... close" with the opening token current.
func (p *parser) list(close string) ([]Expr, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	var out []Expr
	if p.isOp(close) {
		return out, p.advance()
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.isOp(close) {
			return out, p.advance()
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}

func (p *parser) record() (Expr, *Error) {
	r := &Record{Pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.isOp("}") {
		return r, p.advance()
	}
	for {
		if p.tok.kind != tIdent && p.tok.kind != tString {
			return nil, p.unexpected("a record key")
		}
		f := &RecordField{Pos: p.tok.pos, Key: p.tok.text}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOp(":"); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		f.Value = v
		r.Fields = append(r.Fields, f)
		if p.isOp("}") {
			return r, p.advance()
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}
