package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/sqlguard"
)

// queryConn is one engine connection with the events view it last defined
// and the statements Stream prepared on it for that view.
type queryConn struct {
	conn        *sql.Conn
	viewVersion uint64
	viewScope   string // the tenant scope of the view (see scopeKey)
	pubGen      uint64 // the published tables its statements were prepared for
	stmts       map[string]*duckdb.Stmt
}

// viewScope is what the events view of a statement shows: one tenant (or
// all), less what a read restriction hides.
type viewScope struct {
	key      string // names the scope: equal keys, equal views
	tenant   string // allScopes for every tenant
	restrict allsource.ReadRestriction
}

// scopeOf is ctx's view scope.
func scopeOf(ctx context.Context) viewScope {
	sc := viewScope{tenant: allScopes}
	if t, ok := allsource.TenantScope(ctx); ok {
		sc.tenant = t
	}
	sc.restrict = allsource.ReadRestrictionFrom(ctx)
	sc.key = sc.tenant
	if r := sc.restrict; len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		sc.key += "\x00" + strings.Join(r.OnlyTypes, "\x01") + "\x00" + strings.Join(r.HiddenTypes, "\x01") + "\x00" + strings.Join(r.HiddenFields, "\x01")
	}
	return sc
}

// scopeKey names the view scope of ctx.
func scopeKey(ctx context.Context) string { return scopeOf(ctx).key }

// ScopeKey names what ctx's statements see (its tenant, or all, and the
// read restriction): equal keys, equal events views. For caches of what
// a view holds.
func ScopeKey(ctx context.Context) string { return scopeKey(ctx) }

// allScopes cannot be a tenant name (they are [A-Za-z0-9_-]).
const allScopes = "*all*"

// bindView brings the mirrors of v's generations in instance e up to
// date and makes qc's events view show version v as ctx's tenant scope
// sees it. Statements prepared for another view are dropped.
func (w *Warehouse) bindView(ctx context.Context, e *engine, qc *queryConn, v *version) error {
	for _, g := range v.gens {
		if err := w.syncMirror(ctx, e, g, g.rowCount()); err != nil {
			return err
		}
	}
	sc := scopeOf(ctx)
	if gen := w.pubGen.Load(); qc.pubGen != gen {
		qc.dropStmts() // they may name a table no longer published
		qc.pubGen = gen
	}
	if qc.viewVersion == v.id && qc.viewScope == sc.key {
		return nil
	}
	qc.dropStmts()
	qc.viewVersion, qc.viewScope = 0, ""
	if _, err := qc.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW events AS "+w.viewSQL(v, sc)); err != nil {
		return fmt.Errorf("warehouse: define events view: %w", err)
	}
	qc.viewVersion, qc.viewScope = v.id, sc.key
	return nil
}

// maxCachedStmts bounds the prepared statements kept per connection.
const maxCachedStmts = 256

// discard closes the connection and its statements (after a failure that
// may have left it in an unknown state).
func (qc *queryConn) discard() {
	qc.dropStmts()
	if qc.conn != nil {
		qc.conn.Close()
		qc.conn = nil
	}
}

// dropStmts closes the connection's cached statements.
func (qc *queryConn) dropStmts() {
	for q, st := range qc.stmts {
		st.Close()
		delete(qc.stmts, q)
	}
}

// Rows is a streaming query result. Close must be called; it releases the
// connection and the pinned version.
type Rows struct {
	*sql.Rows
	// JSON marks columns of type JSON, delivered as their JSON text (the
	// driver would decode them into Go values, losing key order and the
	// precision of large numbers).
	JSON    []bool
	release func()
}

// Close closes the result and releases what the query held.
func (r *Rows) Close() error {
	err := r.Rows.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}

// Query runs user SQL after CheckReadOnly. Errors in the statement are
// *allsource.Error with CodeInvalid and DuckDB's message.
func (w *Warehouse) Query(ctx context.Context, q string, args ...any) (*Rows, error) {
	return w.query(ctx, true, q, args...)
}

// QueryInternal runs trusted SQL (from this program, not from a user) over
// the same events view.
func (w *Warehouse) QueryInternal(ctx context.Context, q string, args ...any) (*Rows, error) {
	return w.query(ctx, false, q, args...)
}

func (w *Warehouse) query(ctx context.Context, check bool, q string, args ...any) (*Rows, error) {
	gen := w.pubGen.Load()
	rows, err := w.queryOnce(ctx, check, q, args...)
	if c, ok := inDefaultTenant(ctx, err); ok {
		ctx = c
		rows, err = w.queryOnce(ctx, check, q, args...)
	}
	if err != nil && w.republished(ctx, q, gen) {
		return w.queryOnce(ctx, check, q, args...)
	}
	return rows, err
}

func (w *Warehouse) queryOnce(ctx context.Context, check bool, q string, args ...any) (*Rows, error) {
	start := time.Now()
	h, err := w.acquire(ctx)
	if err != nil {
		return nil, err
	}
	qc := h.qc
	v := w.pin()
	released := false
	release := func(broken bool) {
		if released {
			return
		}
		released = true
		w.unpin(v)
		h.release(broken)
		if w.opts.Observe != nil {
			w.opts.Observe.Queried(time.Since(start))
		}
	}
	fail := func(err error) (*Rows, error) {
		release(false)
		return nil, err
	}
	if check {
		if err := w.checked.check(ctx, qc.conn, q); err != nil {
			return fail(err)
		}
	}
	if err := w.bindView(ctx, h.e, qc, v); err != nil {
		return fail(err)
	}
	q, err = w.resolvePublished(ctx, qc.conn, q)
	if err != nil {
		return fail(err)
	}
	var jsonCols []bool
	if check {
		// The server's own statements read the view; a user's that pins
		// entity_id reads the entity scan, with the shape (names, JSON
		// columns) of the statement as written.
		scanned := w.entityScanRewrite(ctx, qc.conn, q)
		// Best effort: a statement whose shape cannot be known without its
		// arguments, or that cannot be wrapped, runs as written.
		if shape := w.shapes.get(ctx, qc.conn, q); shape != nil && shape.wrapped != "" {
			jsonCols = shape.json
			if scanned != q {
				q = wrap(scanned, shape.names, shape.json)
			} else {
				q = shape.wrapped
			}
		} else {
			q = scanned
		}
	}
	rows, err := qc.conn.QueryContext(ctx, q, args...)
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(&allsource.Error{Code: allsource.CodeInvalid, Message: w.UserMessage(err), Index: -1, Err: err})
	}
	return &Rows{Rows: rows, JSON: jsonCols, release: func() { release(false) }}, nil
}

// resultShape is what preparing a statement tells about its result columns.
type resultShape struct {
	names   []string // the columns' names as answered
	json    []bool   // columns of type JSON
	wrapped string   // the statement selecting JSON columns as text, or ""
}

// wrap selects q's columns by position under the given names, casting
// JSON ones to their text.
func wrap(q string, names []string, json []bool) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, name := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		if json[i] {
			fmt.Fprintf(&b, "CAST(#%d AS VARCHAR)", i+1)
		} else {
			fmt.Fprintf(&b, "#%d", i+1)
		}
		b.WriteString(` AS "` + strings.ReplaceAll(name, `"`, `""`) + `"`)
	}
	b.WriteString(" FROM (\n")
	b.WriteString(strings.TrimRight(strings.TrimSpace(q), "; \t\n"))
	b.WriteString("\n) AS _q")
	return b.String()
}

// shapeCache remembers result shapes per statement text; the events schema
// does not change, so neither do they.
type shapeCache struct {
	mu     sync.Mutex
	shapes map[string]*resultShape
}

// get returns q's shape, or nil when preparing it fails (an untyped
// parameter, say); failures are not cached.
func (c *shapeCache) get(ctx context.Context, conn *sql.Conn, q string) *resultShape {
	c.mu.Lock()
	r, ok := c.shapes[q]
	c.mu.Unlock()
	if ok {
		return r
	}
	names, jsonCols, err := describe(ctx, conn, q)
	if err != nil {
		return nil
	}
	r = &resultShape{json: jsonCols}
	renamed := false
	var tree string
	if conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql("+sqlString(q)+") AS VARCHAR)").Scan(&tree) == nil {
		names, renamed = postgresNames(tree, names)
	}
	r.names = names
	if renamed || slices.Contains(jsonCols, true) {
		// Use the wrapped form only if it prepares: odd endings (a ';'
		// followed by a comment) run as written instead.
		if w := wrap(q, names, jsonCols); func() error { _, _, err := describe(ctx, conn, w); return err }() == nil {
			r.wrapped = w
		}
	}
	c.mu.Lock()
	if c.shapes == nil || len(c.shapes) >= checkCacheSize {
		c.shapes = make(map[string]*resultShape)
	}
	c.shapes[q] = r
	c.mu.Unlock()
	return r
}

// describe prepares q and returns its result column names and which are
// JSON.
func describe(ctx context.Context, conn *sql.Conn, q string) (names []string, jsonCols []bool, err error) {
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("warehouse: driver cannot prepare")
		}
		st, err := pc.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("warehouse: unexpected statement type %T", st)
		}
		n, err := ds.ColumnCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			name, err := ds.ColumnName(i)
			if err != nil {
				return err
			}
			info, err := ds.ColumnTypeInfo(i)
			if err != nil {
				return err
			}
			names = append(names, name)
			jsonCols = append(jsonCols, info.Alias() == "JSON")
		}
		return nil
	})
	return names, jsonCols, err
}

// viewSQL is the SELECT that defines events for version v as scope sees
// it: its Parquet files (of the scope's tenant only, whose files are in
// their own directory) and its live generations (filtered by tenant).
// Built once per version and scope.
func (w *Warehouse) viewSQL(v *version, sc viewScope) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q, ok := v.viewSQL[sc.key]; ok {
		return q
	}
	scope := sc.tenant
	var parts []string
	var files []fileEntry
	for _, f := range v.files {
		if scope == allScopes || f.Tenant == scope || (scope == allsource.AllTenants && !allsource.Reserved(f.Tenant)) {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		parts = append(parts, w.parquetSQL(files))
	}
	filter := ""
	switch scope {
	case allScopes:
	case allsource.AllTenants: // every tenant but the server's own
		filter = " WHERE NOT starts_with(tenant_id, '_')"
	default:
		filter = " WHERE tenant_id = " + sqlString(scope)
	}
	for _, g := range v.gens {
		parts = append(parts, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
			payload::JSON AS payload, metadata::JSON AS metadata FROM `+g.table+filter)
	}
	if len(parts) == 0 { // nothing at all: the columns, no rows
		parts = append(parts, noEvents)
	}
	if v.viewSQL == nil {
		v.viewSQL = map[string]string{}
	}
	q := restrictedView(strings.Join(parts, " UNION ALL "), sc.restrict)
	v.viewSQL[sc.key] = q
	return q
}

// noEvents is the events columns without a row.
const noEvents = `SELECT NULL::BIGINT AS seq, NULL::VARCHAR AS id, NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS entity_id,
			NULL::VARCHAR AS event_type, NULL::BIGINT AS version, NULL::TIMESTAMPTZ AS "timestamp", NULL::TIMESTAMPTZ AS ingested_at,
			NULL::JSON AS payload, NULL::JSON AS metadata WHERE false`

// parquetSQL selects the events of files (none: no rows).
func (w *Warehouse) parquetSQL(files []fileEntry) string {
	if len(files) == 0 {
		return noEvents
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = sqlString(filepath.Join(w.whDir, filepath.FromSlash(f.Path)))
	}
	return fmt.Sprintf("SELECT %s FROM read_parquet([%s])", columns, strings.Join(paths, ", "))
}

// restrictedView applies a read restriction to the events SELECT q: only
// the allowed event types are kept and the hidden ones filtered out (GLOB
// patterns), hidden payload
// fields removed where present (a JSON merge patch setting them to null).
func restrictedView(q string, r allsource.ReadRestriction) string {
	if len(r.OnlyTypes) == 0 && len(r.HiddenTypes) == 0 && len(r.HiddenFields) == 0 {
		return q
	}
	payload := "payload"
	for _, f := range r.HiddenFields {
		keys := strings.Split(strings.TrimPrefix(f, "payload."), ".")
		jp := "$"
		patch := "null"
		for i := len(keys) - 1; i >= 0; i-- {
			b, _ := json.Marshal(map[string]json.RawMessage{keys[i]: json.RawMessage(patch)})
			patch = string(b)
		}
		for _, k := range keys {
			jp += `."` + strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `"`, `\"`) + `"`
		}
		payload = fmt.Sprintf("CASE WHEN json_exists(%s, %s) THEN json_merge_patch(%s, %s::JSON) ELSE %s END",
			payload, sqlString(jp), payload, sqlString(patch), payload)
	}
	globs := func(gs []string) string {
		var ors []string
		for _, g := range gs {
			ors = append(ors, "event_type GLOB "+sqlString(g))
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	where := "true"
	if len(r.OnlyTypes) > 0 {
		where += " AND " + globs(r.OnlyTypes)
	}
	if len(r.HiddenTypes) > 0 {
		where += " AND NOT " + globs(r.HiddenTypes)
	}
	return fmt.Sprintf(`SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
		(%s)::JSON AS payload, metadata FROM (%s) WHERE %s`, payload, q, where)
}

// checkCache remembers the verdict of checkReadOnly per statement text, so
// the statements dashboards repeat are parsed once.
type checkCache struct {
	mu      sync.Mutex
	verdict map[string]error
}

const checkCacheSize = 4096

func (c *checkCache) check(ctx context.Context, conn *sql.Conn, q string) error {
	c.mu.Lock()
	err, ok := c.verdict[q]
	c.mu.Unlock()
	if ok {
		return err
	}
	err = checkReadOnly(ctx, conn, q)
	if err != nil && allsource.ErrorCode(err) != allsource.CodeInvalid {
		return err // a failure to check, not a verdict
	}
	c.mu.Lock()
	if c.verdict == nil || len(c.verdict) >= checkCacheSize {
		c.verdict = make(map[string]error) // simple reset; the working set refills it
	}
	c.verdict[q] = err
	c.mu.Unlock()
	return err
}

// checkReadOnly applies the statement guard (package sqlguard) to q as the
// engine parses it (json_serialize_sql), so what is checked is what would
// run. A refusal is *allsource.Error with CodeInvalid wrapping the
// *sqlguard.Error; positions become line and column of q.
func checkReadOnly(ctx context.Context, conn *sql.Conn, q string) error {
	// EXPLAIN [ANALYZE] of a statement is judged as that statement.
	whole := q
	q, skipped := explained(q)
	var out string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql("+sqlString(q)+") AS VARCHAR)").Scan(&out); err != nil {
		return fmt.Errorf("warehouse: check statement: %w", err)
	}
	err := sqlguard.Check([]byte(out))
	var ge *sqlguard.Error
	if !errors.As(err, &ge) {
		return err
	}
	msg := ge.Reason
	if p := ge.Position + skipped; ge.Position >= 0 && p <= len(whole) {
		line, col := lineColumn(whole, p)
		msg = fmt.Sprintf("%s (line %d, column %d)", msg, line, col)
	}
	return &allsource.Error{Code: allsource.CodeInvalid, Message: msg, Index: -1, Err: ge}
}

// explained returns the statement an EXPLAIN or EXPLAIN ANALYZE explains,
// and how many bytes of q come before it; other text is returned as it is.
func explained(q string) (string, int) {
	rest := strings.TrimLeft(q, " \t\r\n")
	cut := func(s, kw string) (string, bool) {
		if len(s) > len(kw) && strings.EqualFold(s[:len(kw)], kw) && strings.ContainsRune(" \t\r\n", rune(s[len(kw)])) {
			return strings.TrimLeft(s[len(kw):], " \t\r\n"), true
		}
		return s, false
	}
	rest, ok := cut(rest, "EXPLAIN")
	if !ok {
		return q, 0
	}
	rest, _ = cut(rest, "ANALYZE")
	return rest, len(q) - len(rest)
}

// lineColumn turns a 0-based byte offset into a 1-based line and column
// (in characters).
func lineColumn(q string, off int) (line, col int) {
	line = 1 + strings.Count(q[:off], "\n")
	start := strings.LastIndexByte(q[:off], '\n') + 1
	return line, 1 + utf8.RuneCountInString(q[start:off])
}

// internalNames matches the engine's internal relations in messages.
var internalNames = regexp.MustCompile(`"?(_hot|_proj)"?\."?[A-Za-z0-9_]+"?`)

// UserMessage is DuckDB's message for err as a user may see it: without
// the server's absolute directories (paths appear relative to the data
// directory), the quoted generated view, or the engine's internal tables.
// Front ends use it for an error that reaches them after a result began.
func (w *Warehouse) UserMessage(err error) string {
	msg := strings.TrimSpace(err.Error())
	// The engine quotes the failing statement ("LINE 1: ..." and a caret);
	// when that is the generated events view, the quote is a truncated
	// list of server paths, useless to the user.
	if i := strings.Index(msg, "\nLINE "); i >= 0 && strings.Contains(msg[i:], "read_parquet(") {
		msg = strings.TrimSpace(msg[:i])
	}
	for _, dir := range []string{w.whDir, w.tmpDir, w.projDir} {
		msg = strings.ReplaceAll(msg, dir, filepath.Base(dir))
	}
	// The engine's own tables (hot generations, other tenants' projection
	// state) never appear in an answer, not even as a "did you mean".
	return internalNames.ReplaceAllString(msg, "(internal)")
}
