package pgwire

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/eventql"
	"github.com/allsource/allsource/pgwire/pgsql"
	"github.com/allsource/allsource/warehouse"
)

// shape is what the server knows of a rewritten statement's result: the
// columns clients see and the statement the engine runs (JSON and nested
// columns selected as text).
type shape struct {
	cols   []column
	engine string
	params []duckdb.Type
}

// shapeCache keeps shapes per engine statement text. The tables' columns
// do not change while the server runs, so neither do shapes.
type shapeCache struct {
	mu sync.Mutex
	m  map[string]*shape
}

const shapeCacheSize = 4096

func (s *Server) shapeOf(ctx context.Context, engineSQL string) (*shape, error) {
	s.shapes.mu.Lock()
	sh, ok := s.shapes.m[engineSQL]
	s.shapes.mu.Unlock()
	if ok {
		return sh, nil
	}
	d, err := s.opts.Warehouse.Describe(ctx, engineSQL)
	if err != nil {
		return nil, err
	}
	sh = &shape{engine: engineSQL, params: d.Params}
	needWrap := false
	for _, col := range d.Columns {
		pc := pgColumn(col.Name, col.Type)
		needWrap = needWrap || pc.cast != ""
		sh.cols = append(sh.cols, pc)
	}
	if needWrap {
		sh.engine = wrapColumns(engineSQL, sh.cols)
	}
	s.shapes.mu.Lock()
	if s.shapes.m == nil || len(s.shapes.m) >= shapeCacheSize {
		s.shapes.m = make(map[string]*shape)
	}
	s.shapes.m[engineSQL] = sh
	s.shapes.mu.Unlock()
	return sh, nil
}

// wrapColumns selects q's columns by position, JSON and nested ones as
// JSON text.
func wrapColumns(q string, cols []column) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		switch c.cast {
		case "json":
			fmt.Fprintf(&b, "CAST(#%d AS VARCHAR)", i+1)
		case "tojson":
			fmt.Fprintf(&b, "CAST(to_json(#%d) AS VARCHAR)", i+1)
		default:
			fmt.Fprintf(&b, "#%d", i+1)
		}
		b.WriteString(` AS "` + strings.ReplaceAll(c.name, `"`, `""`) + `"`)
	}
	b.WriteString(" FROM (\n")
	b.WriteString(strings.TrimRight(strings.TrimSpace(q), "; \t\n"))
	b.WriteString("\n) AS _q")
	return b.String()
}

// prepared is a parsed statement: from Parse, or one statement of a simple
// Query.
type prepared struct {
	stmt      *pgsql.Statement
	sh        *shape         // statements returning rows from the engine
	paramOIDs []uint32       // as announced in ParameterDescription
	listOIDs  map[int]uint32 // array types found for untyped list parameters ($n → OID)
	guessed   map[int]uint32 // types found for untyped parameters text does not fit ($1 % 3)
	// dynamic statements embed computed tables (analytics functions):
	// each execution computes them again, so new data shows.
	dynamic bool

	// The last RowDescription sent for sh's columns, and its formats:
	// drivers describe a portal at every execution.
	desc      *pgproto3.RowDescription
	descShape *shape
	descFmts  []int16
}

// portal is a bound statement ready to execute.
type portal struct {
	ps      *prepared
	args    []driver.NamedValue
	formats []int16 // result formats, one per column (or empty: text)

	// A portal read in parts (Execute with a row limit) holds its rows.
	started bool
	rows    [][]byte // encoded DataRow messages
	size    int64    // bytes held in rows
	next    int
	done    bool // ran to completion: a SELECT returns no more rows
}

// parseStatements splits and classifies a query string. A string that is
// EventQL (it starts with FROM <name> IN) is one statement; EXPLAIN before
// it shows the SQL it compiles to.
func (c *conn) parseStatements(text string) ([]*pgsql.Statement, error) {
	src := strings.TrimRight(strings.TrimSpace(text), "; \t\n")
	if cmds := c.srv.opts.Commands; cmds != nil && cmds.Handles(src) {
		return []*pgsql.Statement{{Kind: pgsql.KindCommand, Text: src}}, nil
	}
	if eventql.IsEventQL(src) {
		return []*pgsql.Statement{{Kind: pgsql.KindSelect, Text: src}}, nil
	}
	if rest, ok := cutKeyword(src, "explain"); ok && eventql.IsEventQL(rest) {
		sql, err := compileEventQL(rest)
		if err != nil {
			return nil, err
		}
		return pgsql.Parse(`SELECT ` + quoteLiteral(sql) + ` AS "QUERY PLAN"`)
	}
	return pgsql.Parse(text)
}

// compileEventQL compiles EventQL, turning its errors into SQLSTATE 42601
// with the position of the line and column it names.
func compileEventQL(src string) (string, error) {
	q, err := compileEventQLFull(src)
	if err != nil {
		return "", err
	}
	return q.SQL, nil
}

func compileEventQLFull(src string) (*eventql.Compiled, error) {
	q, err := eventql.CompileString(src)
	if err != nil {
		pe := &pgsql.Error{Code: "42601", Message: "EventQL: " + err.Error()}
		var qe *eventql.Error
		if errors.As(err, &qe) {
			pe.Position = positionOf(src, qe.Line, qe.Col)
			pe.Hint = qe.Hint
		}
		return nil, pe
	}
	return q, nil
}

// positionOf turns a 1-based line and column into a 1-based character
// position in src.
func positionOf(src string, line, col int) int {
	pos := 0
	for l, text := range strings.SplitAfter(src, "\n") {
		if l+1 == line {
			return pos + col
		}
		pos += utf8.RuneCountInString(text)
	}
	return 0
}

// cutKeyword removes a leading keyword (case-insensitive) and the space
// after it.
func cutKeyword(s, kw string) (string, bool) {
	if len(s) > len(kw) && strings.EqualFold(s[:len(kw)], kw) && (s[len(kw)] == ' ' || s[len(kw)] == '\t' || s[len(kw)] == '\n' || s[len(kw)] == '\r') {
		return strings.TrimSpace(s[len(kw):]), true
	}
	return "", false
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// rowStatement reports whether a statement kind returns rows computed by
// the engine.
func rowStatement(k pgsql.Kind) bool {
	return k == pgsql.KindSelect || k == pgsql.KindExplain
}

// prepare rewrites and describes a statement. paramOIDs are the types the
// client gave (0 = infer).
func (c *conn) prepare(ctx context.Context, st *pgsql.Statement, paramOIDs []uint32) (*prepared, error) {
	ps := &prepared{stmt: st}
	var q *pgsql.Statement
	switch {
	case rowStatement(st.Kind):
		q = st
	case st.Kind == pgsql.KindCopyTo && st.Copy != nil && st.Copy.Query != nil:
		q = st.Copy.Query
	case st.Kind == pgsql.KindDeclare:
		q = st.Cursor.Query
	case st.Kind == pgsql.KindAdvisory:
		ps.sh = &shape{cols: advisoryColumns(st), params: make([]duckdb.Type, st.Params)}
		for i := range ps.sh.params {
			ps.sh.params[i] = duckdb.TYPE_BIGINT
		}
	case st.Kind == pgsql.KindExecute:
		// Described as the prepared statement's rows.
		if target := c.sess.stmts[st.Name]; target != nil {
			ps.sh = target.sh
		}
		return ps, nil
	case st.Kind == pgsql.KindFetch:
		// Described as the cursor's rows, when it exists already.
		if cur := c.sess.cursors[st.Name]; cur != nil && !st.Cursor.Move {
			ps.sh = cur.pt.ps.sh
		}
		return ps, nil
	case st.Kind == pgsql.KindCopyTo:
		return nil, &pgsql.Error{Code: "0A000", Message: "COPY table TO is not supported; use COPY (SELECT ...) TO STDOUT"}
	}
	if q != nil {
		if err := c.authorize(authz.ActionQuery); err != nil {
			return nil, err
		}
		var engineSQL string
		var err error
		if eventql.IsEventQL(q.Text) {
			// EventQL compiles straight to engine SQL over events; the
			// analytics functions it reads are computed now (and again on
			// each execution).
			var comp *eventql.Compiled
			if comp, err = compileEventQLFull(q.Text); err == nil {
				engineSQL = comp.SQL
				if len(comp.Tables) > 0 {
					ps.dynamic = true
					err = analytics.ExpandTables(ctx, c.srv.opts.Warehouse, comp.Tables, &engineSQL)
				}
			}
		} else {
			c.sess.tables = func(name string, args []string) (*pgsql.TableResult, bool, error) {
				res, handled, err := c.srv.analyticsTable(ctx, name, args)
				if handled {
					ps.dynamic = true
				}
				return res, handled, err
			}
			c.sess.own = func() []pgsql.Table { return c.srv.projectionTables(ctx, c.tenant()) }
			engineSQL, err = q.Rewrite(c.sess)
			c.sess.tables, c.sess.own = nil, nil
			if q.SessionDependent() {
				ps.dynamic = true // rewritten again at each execution
			}
		}
		if err != nil {
			return nil, err
		}
		sh, err := c.srv.shapeOf(ctx, engineSQL)
		if err != nil {
			return nil, err
		}
		if typed := typeParams(sh, paramOIDs, castParamTypes(q.Text)); typed != nil {
			// The engine could not type some parameters (select 1, $1
			// describes as one column of unknown type): they take the
			// client's announced type, else text, as in PostgreSQL.
			if g, ok := c.srv.guesses.get(engineSQL, typed); ok {
				if tsh, err := c.srv.shapeOf(ctx, g.sql); err == nil {
					sh, ps.guessed = tsh, g.types
				}
			} else if tsh, err := c.srv.shapeOf(ctx, castParams(engineSQL, typed)); err == nil {
				sh = tsh
			} else if tsh, guessed := c.srv.guessParamTypes(ctx, engineSQL, typed, paramOIDs, castParamTypes(q.Text)); tsh != nil {
				c.srv.guesses.put(engineSQL, typed, guess{sql: tsh.engine, types: guessed})
				sh, ps.guessed = tsh, guessed
			} else {
				n := slices.Sorted(maps.Keys(typed))[0]
				return nil, &pgsql.Error{Code: "42P18", Message: fmt.Sprintf("could not determine data type of parameter $%d", n),
					Hint: "Cast the parameter to its type ($1::int8) or announce its type when preparing."}
			}
		}
		ps.sh = sh
		ps.listOIDs = c.srv.listParamTypes(ctx, engineSQL, sh, paramOIDs, castParamTypes(q.Text))
	}
	n := max(st.Params, len(paramOIDs))
	if ps.sh != nil {
		n = max(n, len(ps.sh.params))
	}
	ps.paramOIDs = make([]uint32, n)
	var casts map[int]uint32
	if n > 0 {
		casts = castParamTypes(st.Text)
	}
	for i := range ps.paramOIDs {
		if i < len(paramOIDs) && paramOIDs[i] != 0 {
			ps.paramOIDs[i] = paramOIDs[i]
		} else if oid, ok := casts[i+1]; ok {
			ps.paramOIDs[i] = oid
		} else if oid, ok := ps.guessed[i+1]; ok {
			ps.paramOIDs[i] = oid
		} else if oid, ok := ps.listOIDs[i+1]; ok {
			ps.paramOIDs[i] = oid
		} else if ps.sh != nil && i < len(ps.sh.params) && ps.sh.params[i] != duckdb.TYPE_INVALID {
			ps.paramOIDs[i] = paramOID(ps.sh.params[i])
		} else {
			ps.paramOIDs[i] = oidText
		}
	}
	return ps, nil
}

// maxProbedParams bounds the parameters whose types are found by
// preparing with candidates, one at a time.
const maxProbedParams = 16

// paramCandidates are the types tried, in order, for a parameter nobody
// typed where text does not fit ('e' || ($1 % 3)): PostgreSQL would infer
// it from the operator.
var paramCandidates = []struct {
	engine string
	oid    uint32
}{
	{"VARCHAR", oidText}, {"BIGINT", oidInt8}, {"DOUBLE", oidFloat8}, {"TIMESTAMPTZ", oidTimestampTZ},
	{"BOOLEAN", oidBool}, {"DATE", oidDate}, {"INTERVAL", oidInterval},
}

// guess is a statement's parameter types found by guessParamTypes, and
// the engine statement with them cast.
type guess struct {
	sql   string
	types map[int]uint32
}

// guessCache keeps guesses per statement and the types given, so a
// client re-preparing one statement (pgbench -M extended) probes once.
type guessCache struct {
	mu sync.Mutex
	m  map[string]guess
}

func guessKey(engineSQL string, typed map[int]string) string {
	keys := slices.Sorted(maps.Keys(typed))
	var b strings.Builder
	b.WriteString(engineSQL)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%d=%s", k, typed[k])
	}
	return b.String()
}

func (c *guessCache) get(engineSQL string, typed map[int]string) (guess, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.m[guessKey(engineSQL, typed)]
	return g, ok
}

func (c *guessCache) put(engineSQL string, typed map[int]string, g guess) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= shapeCacheSize {
		c.m = map[string]guess{}
	}
	c.m[guessKey(engineSQL, typed)] = g
}

// guessParamTypes types the parameters of typed that neither the client
// nor a cast typed: first all of them alike with each candidate in turn,
// then one at a time (the others as text). It returns the shape and the
// types found, or nil when no choice prepares.
func (s *Server) guessParamTypes(ctx context.Context, engineSQL string, typed map[int]string, paramOIDs []uint32, casts map[int]uint32) (*shape, map[int]uint32) {
	var free []int
	for n := range typed {
		if _, cast := casts[n]; cast || (n-1 < len(paramOIDs) && paramOIDs[n-1] != 0) {
			continue
		}
		free = append(free, n)
	}
	slices.Sort(free)
	try := func(choice map[int]int) (*shape, map[int]uint32) {
		types := maps.Clone(typed)
		guessed := map[int]uint32{}
		for _, n := range free {
			c := paramCandidates[choice[n]]
			types[n], guessed[n] = c.engine, c.oid
		}
		if sh, err := s.shapeOf(ctx, castParams(engineSQL, types)); err == nil {
			return sh, guessed
		}
		return nil, nil
	}
	for i := range paramCandidates {
		all := map[int]int{}
		for _, n := range free {
			all[n] = i
		}
		if sh, g := try(all); sh != nil {
			return sh, g
		}
	}
	// One at a time costs a prepare per candidate per parameter: only
	// for a handful of parameters (a statement is prepared within its
	// timeout, and every probe counts).
	if len(free) > 1 && len(free) <= maxProbedParams {
		for _, n := range free {
			for i := 1; i < len(paramCandidates); i++ {
				if sh, g := try(map[int]int{n: i}); sh != nil {
					return sh, g
				}
			}
		}
	}
	return nil, nil
}

// listCandidates are the element types tried, in order, for a list
// parameter the engine types only as "a list" (x = ANY($1)).
var listCandidates = []struct {
	engine string
	oid    uint32
}{
	{"VARCHAR", oidTextArr}, {"BIGINT", oidInt8Arr}, {"DOUBLE", oidFloat8Arr}, {"TIMESTAMPTZ", oidTSTZArr},
	{"BOOLEAN", oidBoolArr}, {"DATE", oidDateArr}, {"UUID", oidUUIDArr}, {"INTERVAL", oidIntervalArr},
}

// listParamTypes finds the array type of each list parameter the client
// did not type: x = ANY($1) is described as an array of x's type, as in
// PostgreSQL. The engine reports such a parameter as a list without its
// element type, and refuses a list of the wrong element type, so the
// first candidate the statement prepares with is it (text[] if none).
// The arguments then arrive as list literals that the engine casts.
func (s *Server) listParamTypes(ctx context.Context, engineSQL string, sh *shape, paramOIDs []uint32, casts map[int]uint32) map[int]uint32 {
	var out map[int]uint32
	for i, t := range sh.params {
		if t != duckdb.TYPE_LIST || (i < len(paramOIDs) && paramOIDs[i] != 0) {
			continue
		}
		if _, cast := casts[i+1]; cast {
			continue
		}
		if out == nil {
			out = map[int]uint32{}
		}
		out[i+1] = oidTextArr
		if len(out) > maxProbedParams {
			continue // text[], unprobed: a bound on the prepares one statement costs
		}
		for _, c := range listCandidates {
			if _, err := s.shapeOf(ctx, castParams(engineSQL, map[int]string{i + 1: c.engine + "[]"})); err == nil {
				out[i+1] = c.oid
				break
			}
		}
	}
	return out
}

// typeParams returns the engine types for the parameters sh left untyped
// (the client's announced type, a cast in the statement, else text), or
// nil when every parameter is typed.
func typeParams(sh *shape, paramOIDs []uint32, casts map[int]uint32) map[int]string {
	var out map[int]string
	for i, t := range sh.params {
		if t != duckdb.TYPE_INVALID {
			continue
		}
		oid := casts[i+1]
		if i < len(paramOIDs) && paramOIDs[i] != 0 {
			oid = paramOIDs[i]
		}
		if out == nil {
			out = map[int]string{}
		}
		out[i+1] = engineTypeOf(oid)
	}
	return out
}

// rowDescription describes ps's result columns in the given formats.
func rowDescription(cols []column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, col := range cols {
		rd.Fields[i] = pgproto3.FieldDescription{Name: []byte(col.name), DataTypeOID: col.oid,
			DataTypeSize: typeSize(col.oid), TypeModifier: -1, Format: formatOf(formats, i)}
	}
	return rd
}

func formatOf(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// resultColumns are the columns a statement's rows have for the client.
func resultColumns(ps *prepared) []column {
	if ps.stmt.Kind == pgsql.KindExplain {
		return explainColumns
	}
	return ps.sh.cols
}

// describeResult queues the RowDescription (or NoData) of a statement.
func (c *conn) describeResult(ps *prepared, formats []int16) {
	switch {
	case ps.sh != nil && ps.stmt.Kind != pgsql.KindCopyTo && ps.stmt.Kind != pgsql.KindDeclare:
		if ps.desc == nil || ps.descShape != ps.sh || !slices.Equal(ps.descFmts, formats) {
			ps.desc, ps.descShape, ps.descFmts = rowDescription(resultColumns(ps), formats), ps.sh, slices.Clone(formats)
		}
		c.be.Send(ps.desc)
	case ps.stmt.Kind == pgsql.KindShow:
		c.be.Send(rowDescription(showColumns(ps.stmt), formats))
	default:
		c.be.Send(&pgproto3.NoData{})
	}
}

// simpleQuery runs every statement of a Query message, stopping at the
// first error.
func (c *conn) simpleQuery(text string) {
	defer func() {
		if c.fatal {
			c.flush()
		}
	}()
	stmts, err := c.parseStatements(text)
	if err != nil {
		c.sendError(err)
		return
	}
	for _, st := range stmts {
		if st.Kind == pgsql.KindEmpty {
			if len(stmts) == 1 {
				c.be.Send(&pgproto3.EmptyQueryResponse{})
			}
			continue
		}
		if err := c.runSimple(st); err != nil {
			// Rewrite errors point into the statement; clients expect
			// positions in the whole query string.
			var pe *pgsql.Error
			if errors.As(err, &pe) && pe.Position > 0 && st.Offset > 0 && st.Offset <= len(text) {
				moved := *pe
				moved.Position += utf8.RuneCountInString(text[:st.Offset])
				err = &moved
			}
			c.sendError(err)
			return
		}
	}
}

func (c *conn) runSimple(st *pgsql.Statement) error {
	if err := c.checkAborted(st); err != nil {
		return err
	}
	ctx, done := c.statementContext()
	defer done()
	ps, err := c.prepare(ctx, st, nil)
	if err != nil {
		return c.statementError(ctx, err)
	}
	if ps.sh != nil && len(ps.paramOIDs) > 0 {
		return &pgsql.Error{Code: "42P02", Message: "there is no parameter $1",
			Hint: "Parameters ($1, $2, ...) need the extended query protocol, which sends their values."}
	}
	pt := &portal{ps: ps}
	return c.execute(ctx, pt, 0, true)
}

// checkAborted refuses statements in a failed transaction block.
func (c *conn) checkAborted(st *pgsql.Statement) error {
	if c.sess.txStatus != 'E' {
		return nil
	}
	switch st.Kind {
	case pgsql.KindRollback, pgsql.KindCommit, pgsql.KindRollbackTo:
		return nil
	}
	return &pgsql.Error{Code: "25P02", Message: "current transaction is aborted, commands ignored until end of transaction block"}
}

// statementContext returns the context one statement runs under: it ends
// at statement_timeout or on a cancel request.
func (c *conn) statementContext() (context.Context, func()) {
	// The admitted scope's context carries the principal, its tenant
	// scope and its read restriction.
	ctx, cancel := context.WithCancelCause(c.sess.scope.Ctx)
	var stop func() bool
	d := c.sess.statementTimeout()
	if qd := c.sess.scope.Timeout(); qd > 0 && (d <= 0 || qd < d) {
		d = qd // the tenant's quota is the ceiling
	}
	if d > 0 {
		t := time.AfterFunc(d, func() { cancel(errStatementTimeout) })
		stop = t.Stop
	}
	c.sess.mu.Lock()
	c.sess.running = func() { cancel(errCanceled) }
	c.sess.mu.Unlock()
	return ctx, func() {
		if stop != nil {
			stop()
		}
		c.sess.mu.Lock()
		c.sess.running = nil
		c.sess.mu.Unlock()
		cancel(nil)
	}
}

var (
	errStatementTimeout = &pgsql.Error{Code: "57014", Message: "canceling statement due to statement timeout"}
	errCanceled         = &pgsql.Error{Code: "57014", Message: "canceling statement due to user request"}
)

// statementError prefers the reason a statement's context ended.
func (c *conn) statementError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			return cause
		}
		return errCanceled
	}
	return err
}

// execute runs a portal. describe queues a RowDescription first (simple
// protocol). maxRows > 0 returns at most that many rows and suspends.
func (c *conn) execute(ctx context.Context, pt *portal, maxRows int, describe bool) error {
	st := pt.ps.stmt
	if pt.done {
		if rowStatement(st.Kind) {
			c.be.Send(&pgproto3.CommandComplete{CommandTag: selectTag(st, 0)})
			return nil
		}
		return &pgsql.Error{Code: "55000", Message: "portal cannot be run: it has already run to completion"}
	}
	start := time.Now()
	kind := kindName(st.Kind)
	text := st.Text
	if len(text) > 2048 {
		text = text[:2048]
	}
	ctx, span := tracer.Start(ctx, "pgwire "+kind, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", text), attribute.String("allsource.tenant", c.tenant())))
	defer span.End()
	if pt.ps.dynamic && !describe && !pt.started {
		// Compute the tables again; the portal keeps its identity so a
		// read in parts continues where it stopped.
		c.sess.bound = pt.args
		fresh, err := c.prepare(ctx, st, pt.ps.paramOIDs)
		c.sess.bound = nil
		if err != nil {
			return c.statementError(ctx, err)
		}
		pt.ps = fresh
	}
	c.sess.rows = 0
	if rowStatement(st.Kind) || st.Kind == pgsql.KindFetch {
		done, err := c.sess.scope.TakeSlot()
		if err != nil {
			return &pgsql.Error{Code: "53400", Message: allsource.ErrorMessage(err)}
		}
		defer done()
	}
	err := c.executeKind(ctx, pt, maxRows, describe)
	if err != nil {
		err = c.statementError(ctx, err)
	} else if !pt.started || pt.next >= len(pt.rows) {
		pt.done = true
	}
	if o := c.srv.opts.Observe; o != nil {
		o.Statement(kind, time.Since(start), err != nil)
	}
	span.SetAttributes(attribute.Int64("db.response.returned_rows", c.sess.rows))
	if err != nil {
		span.SetStatus(codes.Error, errorMessage(err))
	}
	c.audit(authz.AuditRecord{Kind: "query", Target: kind, Query: st.Text, DurationMS: msSince(start), Rows: c.sess.rows, Status: statusOf(err)})
	return err
}

// audit records r for the session's principal (with a server auditor).
func (c *conn) audit(r authz.AuditRecord) {
	if c.srv.opts.Gate.Auditor() == nil {
		return
	}
	if p := c.sess.principal; p != nil {
		r.Subject, r.Tenant, r.Via = p.Subject, sessionTenant(*p, c.srv.opts.Tenant), p.Via
	}
	if r.Subject == "" {
		r.Subject = c.sess.user
	}
	r.Interface, r.Remote = "pgwire", c.nc.RemoteAddr().String()
	c.srv.opts.Gate.Record(r)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// statusOf is "ok" or the SQLSTATE of err.
func statusOf(err error) string {
	if err == nil {
		return "ok"
	}
	return sqlstateOf(err)
}

func (c *conn) executeKind(ctx context.Context, pt *portal, maxRows int, describe bool) error {
	st := pt.ps.stmt
	ss := c.sess
	switch st.Kind {
	case pgsql.KindSelect, pgsql.KindExplain:
		if describe {
			c.be.Send(rowDescription(resultColumns(pt.ps), pt.formats))
		}
		return c.sendRows(ctx, pt, maxRows, st.Kind == pgsql.KindExplain)
	case pgsql.KindAdvisory:
		return c.runAdvisory(ctx, pt, describe)
	case pgsql.KindLock:
		if ss.txStatus == 'I' {
			return &pgsql.Error{Code: "25P01", Message: "LOCK TABLE can only be used in transaction blocks"}
		}
		c.complete(st, "LOCK TABLE")
	case pgsql.KindPrepare:
		return c.prepareSQL(ctx, st)
	case pgsql.KindExecute:
		return c.executeSQL(ctx, st, describe)
	case pgsql.KindDeclare:
		return c.declare(pt)
	case pgsql.KindFetch:
		return c.fetch(ctx, pt, describe)
	case pgsql.KindCloseCursor:
		if st.Name == "" {
			clear(ss.cursors)
		} else if _, ok := ss.cursors[st.Name]; ok {
			delete(ss.cursors, st.Name)
		} else {
			return &pgsql.Error{Code: "34000", Message: fmt.Sprintf("cursor \"%s\" does not exist", st.Name)}
		}
		c.complete(st, "CLOSE CURSOR")
	case pgsql.KindCommand:
		if err := c.authorize(authz.ActionManageProjections); err != nil {
			return err
		}
		tenant := c.srv.opts.Tenant
		if p := c.sess.principal; p != nil {
			tenant = sessionTenant(*p, tenant)
		}
		tag, notice, err := c.srv.opts.Commands.Run(ctx, tenant, st.Text)
		if err != nil {
			code := map[allsource.Code]string{allsource.CodeConflict: "42710", allsource.CodeInvalid: "42601"}[allsource.ErrorCode(err)]
			if code == "" {
				return err
			}
			return &pgsql.Error{Code: code, Message: allsource.ErrorMessage(err)}
		}
		if notice != "" {
			c.be.Send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: notice})
		}
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	case pgsql.KindShow:
		cols := showColumns(st)
		if describe {
			c.be.Send(rowDescription(cols, pt.formats))
		}
		rows, err := c.showRows(st)
		if err != nil {
			return err
		}
		for _, r := range rows {
			vals := make([][]byte, len(r))
			for i, v := range r {
				vals[i] = []byte(v)
			}
			c.be.Send(&pgproto3.DataRow{Values: vals})
		}
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SHOW")})
	case pgsql.KindSet:
		if st.Value == "" && st.Name != "" {
			if err := c.reset(st.Name); err != nil {
				return err
			}
		} else if err := c.set(st.Name, st.Value, st.Local); err != nil {
			return err
		}
		c.complete(st, "SET")
	case pgsql.KindReset:
		if err := c.reset(st.Name); err != nil {
			return err
		}
		c.complete(st, "RESET")
	case pgsql.KindBegin:
		if ss.txStatus == 'I' {
			ss.txStatus = 'T'
		} else {
			c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "25001", Message: "there is already a transaction in progress"})
		}
		c.complete(st, "BEGIN")
	case pgsql.KindCommit:
		tag := "COMMIT"
		switch ss.txStatus {
		case 'E':
			tag = "ROLLBACK"
		case 'I':
			c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "25P01", Message: "there is no transaction in progress"})
		}
		ss.txStatus = 'I'
		c.endTransaction()
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	case pgsql.KindRollback:
		if ss.txStatus == 'I' {
			c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "25P01", Message: "there is no transaction in progress"})
		}
		ss.txStatus = 'I'
		c.endTransaction()
		c.complete(st, "ROLLBACK")
	case pgsql.KindDiscard:
		if !strings.EqualFold(st.Name, "all") && st.Name != "" {
			c.complete(st, "DISCARD") // plans, sequences, temp: nothing is kept
			return nil
		}
		if ss.txStatus != 'I' {
			return &pgsql.Error{Code: "25001", Message: "DISCARD ALL cannot run inside a transaction block"}
		}
		ss.settings = maps.Clone(ss.defaults)
		ss.local = nil
		ss.savepoints = nil
		ss.applySettings()
		for _, name := range reportedSettings {
			c.reportSetting(name)
		}
		clear(ss.stmts)
		clear(ss.portals)
		clear(ss.cursors)
		c.complete(st, "DISCARD ALL")
	case pgsql.KindDeallocate:
		if st.Name == "" || strings.EqualFold(st.Name, "all") {
			for name := range ss.stmts {
				delete(ss.stmts, name)
			}
		} else if _, ok := ss.stmts[st.Name]; ok {
			delete(ss.stmts, st.Name)
		} else {
			return &pgsql.Error{Code: "26000", Message: fmt.Sprintf("prepared statement %q does not exist", st.Name)}
		}
		c.complete(st, "DEALLOCATE")
	case pgsql.KindSavepoint:
		if ss.txStatus == 'I' {
			return &pgsql.Error{Code: "25P01", Message: "SAVEPOINT can only be used in transaction blocks"}
		}
		ss.savepoints = append(ss.savepoints, strings.ToLower(st.Name))
		c.complete(st, "SAVEPOINT")
	case pgsql.KindRelease, pgsql.KindRollbackTo:
		i := -1
		if ss.txStatus == 'I' {
			return &pgsql.Error{Code: "25P01", Message: fmt.Sprintf("%s can only be used in transaction blocks", map[bool]string{true: "RELEASE SAVEPOINT", false: "ROLLBACK TO SAVEPOINT"}[st.Kind == pgsql.KindRelease])}
		}
		// The newest savepoint of that name counts.
		for k := len(ss.savepoints) - 1; k >= 0; k-- {
			if ss.savepoints[k] == strings.ToLower(st.Name) {
				i = k
				break
			}
		}
		if i < 0 {
			return &pgsql.Error{Code: "3B001", Message: fmt.Sprintf("savepoint %q does not exist", st.Name)}
		}
		if st.Kind == pgsql.KindRelease {
			ss.savepoints = ss.savepoints[:i]
			c.complete(st, "RELEASE")
		} else {
			ss.savepoints = ss.savepoints[:i+1]
			ss.txStatus = 'T' // the failed part is undone
			c.complete(st, "ROLLBACK")
		}
	case pgsql.KindCopyTo:
		return c.copyOut(ctx, pt)
	case pgsql.KindCopyFrom:
		return c.copyIn(ctx, st)
	case pgsql.KindEmpty:
		c.be.Send(&pgproto3.EmptyQueryResponse{})
	default:
		c.complete(st, "")
	}
	return nil
}

func (c *conn) complete(st *pgsql.Statement, def string) {
	tag := st.Tag
	if tag == "" {
		tag = def
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// set changes a setting and reports it when clients track it.
func (c *conn) set(name, value string, local bool) error {
	if err := c.sess.SetSetting(name, value, local); err != nil {
		return err
	}
	c.reportSetting(name)
	return nil
}

func (c *conn) reset(name string) error {
	ss := c.sess
	if strings.EqualFold(name, "all") {
		ss.settings = maps.Clone(ss.defaults)
		ss.local = nil
		ss.applySettings()
		for _, k := range reportedSettings {
			c.reportSetting(k)
		}
		return nil
	}
	name = strings.ToLower(name)
	v, ok := ss.defaults[name]
	if !ok {
		if !pgsql.KnownSetting(name) {
			return &pgsql.Error{Code: "42704", Message: fmt.Sprintf("unrecognized configuration parameter %q", name)}
		}
		delete(ss.settings, name) // a custom setting: back to unset
		return nil
	}
	ss.settings[name] = v
	delete(ss.local, name)
	ss.applySettings()
	c.reportSetting(name)
	return nil
}

func (c *conn) reportSetting(name string) {
	name = strings.ToLower(name)
	if canon, ok := reportedNames[name]; ok {
		v, _ := c.sess.Setting(name)
		c.be.Send(&pgproto3.ParameterStatus{Name: canon, Value: v})
	}
}

// showColumns is SHOW's result: one text column named after the setting,
// or name/setting/description for SHOW ALL.
func showColumns(st *pgsql.Statement) []column {
	if strings.EqualFold(st.Name, "all") {
		return []column{{name: "name", oid: oidText}, {name: "setting", oid: oidText}, {name: "description", oid: oidText}}
	}
	return []column{{name: st.Name, oid: oidText}}
}

func (c *conn) showRows(st *pgsql.Statement) ([][]string, error) {
	if strings.EqualFold(st.Name, "all") {
		names := make([]string, 0, len(c.sess.settings))
		for k := range c.sess.settings {
			names = append(names, k)
		}
		slices.Sort(names)
		rows := make([][]string, 0, len(names))
		for _, k := range names {
			v, _ := c.sess.Setting(k)
			rows = append(rows, []string{k, v, ""})
		}
		return rows, nil
	}
	v, ok := c.sess.Setting(st.Name)
	if !ok {
		return nil, &pgsql.Error{Code: "42704", Message: fmt.Sprintf("unrecognized configuration parameter %q", st.Name)}
	}
	return [][]string{{v}}, nil
}

// sendRows streams a SELECT's rows as DataRow messages, or serves a portal
// read in parts.
func (c *conn) sendRows(ctx context.Context, pt *portal, maxRows int, explain bool) error {
	if maxRows > 0 || pt.started {
		return c.sendPortionOf(ctx, pt, maxRows)
	}
	n := 0
	limit, sent := c.resultQuota(), int64(0)
	err := c.srv.opts.Warehouse.Stream(ctx, pt.ps.sh.engine, pt.args, func(ecols []warehouse.Column, next func([]driver.Value) error) error {
		if err := sameShape(pt, ecols, explain); err != nil {
			return err
		}
		if err := c.be.Flush(); err != nil {
			return err
		}
		return c.eachRow(pt, next, explain, func(row []byte) error {
			if sent += int64(len(row)); limit > 0 && sent > limit {
				return &pgsql.Error{Code: "54000", Message: authz.ResultTooLarge(c.tenant(), limit).Message}
			}
			n++
			_, err := c.out.Write(row)
			return err
		})
	})
	if err != nil {
		return err
	}
	c.sess.rows = int64(n)
	c.be.Send(&pgproto3.CommandComplete{CommandTag: selectTag(pt.ps.stmt, n)})
	return nil
}

// resultQuota is the tenant's limit on one result's bytes, or 0.
func (c *conn) resultQuota() int64 {
	return c.sess.scope.MaxResultBytes()
}

func selectTag(st *pgsql.Statement, n int) []byte {
	if st.Kind == pgsql.KindExplain {
		return []byte("EXPLAIN")
	}
	return []byte("SELECT " + strconv.Itoa(n))
}

// fillPortal runs a portal's statement on first use and keeps its rows,
// encoded in the portal's formats, for reading in parts (Execute with a
// row limit, FETCH from a cursor).
func (c *conn) fillPortal(ctx context.Context, pt *portal) error {
	if !pt.started {
		pt.started = true
		// The budget is the session's: other open portals' rows count.
		var held int64
		for _, other := range c.sess.portals {
			if other != pt {
				held += other.size
			}
		}
		for _, cur := range c.sess.cursors {
			if cur.pt != pt {
				held += cur.pt.size
			}
		}
		limit, total := c.resultQuota(), int64(0)
		err := c.srv.opts.Warehouse.Stream(ctx, pt.ps.sh.engine, pt.args, func(ecols []warehouse.Column, next func([]driver.Value) error) error {
			if err := sameShape(pt, ecols, pt.ps.stmt.Kind == pgsql.KindExplain); err != nil {
				return err
			}
			return c.eachRow(pt, next, pt.ps.stmt.Kind == pgsql.KindExplain, func(row []byte) error {
				if total += int64(len(row)); limit > 0 && total > limit {
					return &pgsql.Error{Code: "54000", Message: authz.ResultTooLarge(c.tenant(), limit).Message}
				}
				pt.size += int64(len(row)) + 32 // and the slice header
				if held+pt.size > c.srv.opts.MaxResultBytes {
					return &pgsql.Error{Code: "54000", Message: fmt.Sprintf("the portals of a session may hold at most %d bytes of rows", c.srv.opts.MaxResultBytes),
						Hint: "Fetch without a row limit to stream the result, close other portals, or narrow the query."}
				}
				pt.rows = append(pt.rows, append([]byte(nil), row...))
				return nil
			})
		})
		if err != nil {
			pt.rows, pt.size = nil, 0
			return err
		}
	}
	return nil
}

// sendPortionOf runs the portal's statement on first use, keeping its
// encoded rows, then sends up to maxRows of them.
func (c *conn) sendPortionOf(ctx context.Context, pt *portal, maxRows int) error {
	if err := c.fillPortal(ctx, pt); err != nil {
		return err
	}
	if err := c.be.Flush(); err != nil {
		return err
	}
	end := len(pt.rows)
	if maxRows > 0 && pt.next+maxRows < end {
		end = pt.next + maxRows
	}
	sent := end - pt.next
	for ; pt.next < end; pt.next++ {
		if _, err := c.out.Write(pt.rows[pt.next]); err != nil {
			return err
		}
		pt.size -= int64(len(pt.rows[pt.next])) + 32
		pt.rows[pt.next] = nil
	}
	if pt.next < len(pt.rows) {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	c.sess.rows = int64(sent)
	c.be.Send(&pgproto3.CommandComplete{CommandTag: selectTag(pt.ps.stmt, sent)})
	return nil
}

// sameShape refuses a result whose columns are not the ones described to
// the client (a statement whose shape depends on its arguments), rather
// than sending rows that do not fit its RowDescription.
func sameShape(pt *portal, ecols []warehouse.Column, explain bool) error {
	if explain || len(ecols) == len(pt.ps.sh.cols) {
		return nil
	}
	return &pgsql.Error{Code: "42P18", Message: fmt.Sprintf("the result has %d columns where %d were described", len(ecols), len(pt.ps.sh.cols)),
		Hint: "Cast the statement's parameters to their types ($1::int8), so its columns do not depend on the values bound."}
}

// testHookEachRow, set by tests only, is called as a result starts
// streaming (where a failure holds an engine connection).
var testHookEachRow func(text string)

// eachRow encodes every row of a result as a DataRow message and passes it
// to emit (the slice is reused).
func (c *conn) eachRow(pt *portal, next func([]driver.Value) error, explain bool, emit func([]byte) error) error {
	if testHookEachRow != nil {
		testHookEachRow(pt.ps.stmt.Text)
	}
	if explain {
		return c.eachPlanLine(next, emit)
	}
	cols := pt.ps.sh.cols
	dest := make([]driver.Value, len(cols))
	formats := make([]int16, len(cols))
	for i := range cols {
		formats[i] = formatOf(pt.formats, i)
	}
	for {
		if err := next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		buf := c.rowBuf[:0]
		buf = append(buf, 'D', 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(cols)))
		for i, v := range dest {
			if v == nil {
				buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
				continue
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			var err error
			if formats[i] == 1 {
				buf, err = appendBinary(buf, v, cols[i].oid)
			} else {
				buf, err = appendText(buf, v, cols[i].oid, &c.sess.env)
			}
			if err != nil {
				return &pgsql.Error{Code: "22000", Message: fmt.Sprintf("column %q: %v", cols[i].name, err)}
			}
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
		binary.BigEndian.PutUint32(buf[1:], uint32(len(buf)-1))
		c.rowBuf = buf
		if err := emit(buf); err != nil {
			return err
		}
	}
}

// explainColumns is EXPLAIN's result as Postgres shapes it.
var explainColumns = []column{{name: "QUERY PLAN", oid: oidText}}

// eachPlanLine sends the engine's plan (rows of key and text) as one
// "QUERY PLAN" row per line, as Postgres does.
func (c *conn) eachPlanLine(next func([]driver.Value) error, emit func([]byte) error) error {
	dest := make([]driver.Value, 2)
	for {
		if err := next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		text, _ := dest[len(dest)-1].(string)
		for _, line := range hideFileNames(strings.Split(strings.TrimRight(text, "\n"), "\n")) {
			buf := c.rowBuf[:0]
			buf = append(buf, 'D', 0, 0, 0, 0, 0, 1)
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(line)))
			buf = append(buf, line...)
			binary.BigEndian.PutUint32(buf[1:], uint32(len(buf)-1))
			c.rowBuf = buf
			if err := emit(buf); err != nil {
				return err
			}
		}
	}
}

// hideFileNames blanks the file lists EXPLAIN ANALYZE prints in its plan
// boxes ("Filename(s):" and the paths under it, cut across lines): they
// name the server's directories. Each box is a column of the drawing, so
// the cells below the label are cleared until an empty one.
func hideFileNames(lines []string) []string {
	rows := make([][]rune, len(lines))
	for i, l := range lines {
		rows[i] = []rune(l)
	}
	const label = "Filename(s):"
	for i, r := range rows {
		line := string(r)
		at := strings.Index(line, label)
		if at < 0 {
			continue
		}
		start := utf8.RuneCountInString(line[:at])
		left, right := start, start
		for left > 0 && r[left-1] != '│' {
			left--
		}
		for right < len(r) && r[right] != '│' {
			right++
		}
		copy(r[left:right], []rune(centre("Filename(s): hidden", right-left)))
		for j := i + 1; j < len(rows); j++ {
			if right > len(rows[j]) || strings.TrimSpace(string(rows[j][left:right])) == "" {
				break
			}
			for k := left; k < right; k++ {
				rows[j][k] = ' '
			}
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(r)
	}
	return out
}

// centre pads s with spaces to width n, centred (or cuts it).
func centre(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	pad := n - len(s)
	return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
}

func kindName(k pgsql.Kind) string {
	switch k {
	case pgsql.KindSelect:
		return "select"
	case pgsql.KindExplain:
		return "explain"
	case pgsql.KindCopyTo:
		return "copy_out"
	case pgsql.KindCopyFrom:
		return "copy_in"
	case pgsql.KindShow:
		return "show"
	case pgsql.KindSet, pgsql.KindReset:
		return "set"
	case pgsql.KindBegin, pgsql.KindCommit, pgsql.KindRollback:
		return "transaction"
	}
	return "other"
}

// tracer makes a span per statement (a no-op unless the server sets up
// tracing).
var tracer = otel.Tracer("github.com/allsource/allsource/pgwire")

// prepareSQL runs PREPARE name [(types)] AS query: a named prepared
// statement, the same as one made with the Parse message.
func (c *conn) prepareSQL(ctx context.Context, st *pgsql.Statement) error {
	if _, dup := c.sess.stmts[st.Name]; dup {
		return &pgsql.Error{Code: "42P05", Message: fmt.Sprintf("prepared statement \"%s\" already exists", st.Name)}
	}
	oids := make([]uint32, len(st.Types))
	for i, t := range st.Types {
		if strings.HasSuffix(t, "[]") {
			oids[i] = arrayOf[pgTypeOIDs[strings.TrimSuffix(t, "[]")]]
		} else {
			oids[i] = pgTypeOIDs[t]
		}
	}
	ps, err := c.prepare(ctx, st.Prepare, oids)
	if err != nil {
		return err
	}
	c.sess.stmts[st.Name] = ps
	c.complete(st, "PREPARE")
	return nil
}

// executeSQL runs EXECUTE name [(values)]: the values are read as text in
// the parameters' types, as a Bind message's text values are.
func (c *conn) executeSQL(ctx context.Context, st *pgsql.Statement, describe bool) error {
	ps := c.sess.stmts[st.Name]
	if ps == nil {
		return &pgsql.Error{Code: "26000", Message: fmt.Sprintf("prepared statement \"%s\" does not exist", st.Name)}
	}
	if len(st.Execute) != len(ps.paramOIDs) {
		return &pgsql.Error{Code: "42601", Message: fmt.Sprintf("wrong number of parameters for prepared statement \"%s\"", st.Name),
			Detail: fmt.Sprintf("Expected %d parameters but got %d.", len(ps.paramOIDs), len(st.Execute))}
	}
	args := make([]driver.NamedValue, len(st.Execute))
	for i, text := range st.Execute {
		var raw []byte
		if text != nil {
			raw = []byte(*text)
		}
		v, err := decodeParam(raw, 0, ps.paramOIDs[i])
		if err != nil {
			return &pgsql.Error{Code: "22P02", Message: fmt.Sprintf("parameter $%d: %v", i+1, err)}
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return c.executeKind(ctx, &portal{ps: ps, args: args}, 0, describe)
}

// projectionTables are tenant's projections as catalog relations of
// schema projections, their columns described from the engine (in the
// statement's scope: a reader projections are closed to gets none). Kept
// per tenant until its published tables change.
func (s *Server) projectionTables(ctx context.Context, tenant string) []pgsql.Table {
	published := s.opts.Warehouse.PublishedTables(tenant)
	if len(published) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(published))
	var key strings.Builder
	key.WriteString(tenant)
	for _, n := range names {
		key.WriteString("\x00" + n + "=" + published[n])
	}
	s.projMu.Lock()
	if t, ok := s.projTables[key.String()]; ok {
		s.projMu.Unlock()
		return t
	}
	s.projMu.Unlock()
	var out []pgsql.Table
	for _, n := range names {
		d, err := s.opts.Warehouse.Describe(ctx, "SELECT * FROM projections."+quoteIdentPG(n))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		t := pgsql.Table{Schema: "projections", Name: n, Kind: 'v', Comment: "projection " + n + " (state kept as events arrive)"}
		for _, c := range d.Columns {
			t.Columns = append(t.Columns, pgsql.Column{Name: c.Name, TypeOID: pgColumn(c.Name, c.Type).oid, TypMod: -1})
		}
		out = append(out, t)
	}
	s.projMu.Lock()
	if s.projTables == nil || len(s.projTables) > 1024 {
		s.projTables = map[string][]pgsql.Table{}
	}
	s.projTables[key.String()] = out
	s.projMu.Unlock()
	return out
}

func quoteIdentPG(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
