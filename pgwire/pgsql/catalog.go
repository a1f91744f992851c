package pgsql

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Table is a relation the catalog describes.
type Table struct {
	Schema string // "public" when empty
	Name   string // also the relation's name in the engine
	// 'r' table (default), 'v' view, 'm' materialized view, or 'f' a
	// table function taking one text argument (Args names it) and
	// returning rows of Columns: listed in pg_proc, not pg_class.
	Kind    byte
	Comment string
	Columns []Column
	Args    []string // a function's text arguments' names
}

// Column is a column of a Table.
type Column struct {
	Name    string
	TypeOID uint32 // a built-in PostgreSQL type (20 int8, 25 text, 1184 timestamptz, 114 json, …)
	// Cast, when set, is the engine type the column is read as (the
	// relation is read through a projection casting it): UUID for an id
	// the engine stores as text.
	Cast    string
	TypMod  int32 // -1 or 0 for none
	NotNull bool
	Comment string
}

// Schema names of the synthetic catalog in the engine.
const (
	CatalogSchema = "pgcat"    // pg_catalog relations, helper macros
	InfoSchema    = "pgcat_is" // information_schema relations
)

// EventsTable describes the events relation.
func EventsTable() Table {
	return Table{Schema: "public", Name: "events", Kind: 'r', Comment: "AllSource events, one row per stored event",
		Columns: []Column{
			{Name: "seq", TypeOID: oidInt8, NotNull: true, Comment: "server-assigned global sequence number"},
			{Name: "id", TypeOID: oidText, NotNull: true, Comment: "event id (UUID text)"},
			{Name: "tenant_id", TypeOID: oidText, NotNull: true},
			{Name: "entity_id", TypeOID: oidText, NotNull: true},
			{Name: "event_type", TypeOID: oidText, NotNull: true},
			{Name: "version", TypeOID: oidInt8, NotNull: true, Comment: "per-entity version"},
			{Name: "timestamp", TypeOID: oidTimestamptz, NotNull: true},
			{Name: "ingested_at", TypeOID: oidTimestamptz, NotNull: true},
			{Name: "payload", TypeOID: oidJSON},
			{Name: "metadata", TypeOID: oidJSON},
		}}
}

// DefaultTables is the table list of a fresh engine: events.
func DefaultTables() []Table { return []Table{EventsTable()} }

// registry is what Rewrite knows about relations: set by CatalogDDL.
type registry struct {
	gen    uint64
	tables []Table // what the registry was built from
	build  *catalogBuild
	// tenant caches the catalog rows of sessions' own relations (see
	// TenantTables), by their signature.
	tenantMu sync.Mutex
	tenant   map[string]map[*catRel][][]any
	user     map[string]*userTable // by name
	intCols  map[string]bool       // integer-typed user columns, by name
	catalogs map[string]*catRel    // "pg_catalog.pg_class", "information_schema.tables"
}

type userTable struct {
	Table
	oid uint32
}

// Catalog is one synthetic Postgres catalog: the relations statements are
// rewritten against, and (DDL) the statements that create them in the
// engine. A server owns one; sessions that name none (Session without a
// Catalog method) use DefaultCatalog.
type Catalog struct {
	reg atomic.Pointer[registry]
}

// NewCatalog returns a catalog of DefaultTables.
func NewCatalog() *Catalog {
	c := &Catalog{}
	c.reg.Store(newRegistry(DefaultTables()))
	return c
}

// DefaultCatalog is the catalog of sessions that do not name their own
// (tests, tools).
var DefaultCatalog *Catalog

// CatalogSession is implemented by sessions that rewrite against their
// server's own catalog.
type CatalogSession interface {
	Catalog() *Catalog
}

// catalogOf is the catalog sess rewrites against.
func catalogOf(sess Session) *Catalog {
	if cs, ok := sess.(CatalogSession); ok {
		if c := cs.Catalog(); c != nil {
			return c
		}
	}
	return DefaultCatalog
}

var registryGen atomic.Uint64

func init() {
	catalogRels = catalogRelDefs()
	DefaultCatalog = NewCatalog()
}

func newRegistry(tables []Table) *registry {
	b := newCatalogBuild(tables)
	r := &registry{gen: registryGen.Add(1), tables: tables, build: b, user: map[string]*userTable{}, intCols: map[string]bool{}, catalogs: map[string]*catRel{}}
	notInt := map[string]bool{}
	for _, t := range b.tables {
		r.user[t.Name] = t
		for _, c := range t.Columns {
			switch c.TypeOID {
			case oidInt2, oidInt4, oidInt8:
				r.intCols[c.Name] = true
			default:
				notInt[c.Name] = true
			}
		}
	}
	for n := range notInt {
		delete(r.intCols, n)
	}
	for _, c := range catalogRels {
		r.catalogs[c.schema+"."+c.name] = c
	}
	return r
}

// catalogBuild holds the table list with assigned OIDs while the catalog
// rows are made.
type catalogBuild struct {
	tables     []*userTable
	funcs      []*userTable // Kind 'f'
	schemaOIDs map[string]uint32
}

func newCatalogBuild(tables []Table) *catalogBuild {
	b := &catalogBuild{schemaOIDs: map[string]uint32{"pg_catalog": nsPgCatalog, "pg_toast": nsToast, "public": nsPublic, "information_schema": nsInfo}}
	next := uint32(firstUserID)
	for _, t := range tables {
		if t.Schema == "" {
			t.Schema = "public"
		}
		if t.Kind == 0 {
			t.Kind = 'r'
		}
		if t.Kind == 'f' {
			b.funcs = append(b.funcs, &userTable{Table: t, oid: next})
			next++
			continue
		}
		b.tables = append(b.tables, &userTable{Table: t, oid: next})
		next += 3 // the table, its row type, the row type's array type
	}
	for _, t := range b.tables {
		if _, ok := b.schemaOIDs[t.Schema]; !ok {
			b.schemaOIDs[t.Schema] = next
			next++
		}
	}
	return b
}

// CatalogDDL is DefaultCatalog.DDL (for tests and tools).
func CatalogDDL(tables []Table) []string { return DefaultCatalog.DDL(tables) }

// catCol is a parsed column of a catRel.
type catCol struct {
	name string
	typ  *pgType
}

func (c *catRel) columns() []catCol {
	parts := strings.Split(c.cols, ", ")
	out := make([]catCol, len(parts))
	for i, p := range parts {
		name, typ, _ := strings.Cut(p, " ")
		t := lookupType(typ)
		if t == nil {
			panic("pgsql: catalog column type " + typ)
		}
		out[i] = catCol{name, t}
	}
	return out
}

func (c *catRel) nsOID() uint32 {
	if c.schema == "information_schema" {
		return nsInfo
	}
	return nsPgCatalog
}

// engineName is the relation's name in the engine.
func (c *catRel) engineName() string {
	if c.schema == "information_schema" {
		return InfoSchema + "." + c.name
	}
	return CatalogSchema + "." + c.name
}

// DDL returns the statements that (re)create the synthetic catalog
// for tables in the engine: schemas pgcat and pgcat_is, the catalog
// relations (tables, or table macros keyed on the session user), and the
// helper macros Rewrite routes functions to. Every statement is idempotent.
// It also makes tables the relations Rewrite resolves names against; user
// table OIDs are assigned from 16384 in list order, three apart (the
// table, its row type, and the row type's array).
func (c *Catalog) DDL(tables []Table) []string {
	r := newRegistry(tables)
	c.reg.Store(r)
	b := r.build
	ddl := []string{
		"CREATE SCHEMA IF NOT EXISTS " + CatalogSchema,
		"CREATE SCHEMA IF NOT EXISTS " + InfoSchema,
		charTypeDDL(),
		typfmtDDL(),
		procSigDDL(b),
		keywordsDDL(),
	}
	for _, c := range catalogRels {
		ddl = append(ddl, relationDDL(c, b))
	}
	return append(ddl, macroDDL...)
}

// relationDDL creates one catalog relation: a table holding its rows, or
// for per-user relations a table macro taking the user name.
func relationDDL(c *catRel, b *catalogBuild) string {
	cols := c.columns()
	var rows [][]any
	if c.rows != nil {
		rows = c.rows(b)
	}
	var sb strings.Builder
	if c.perUser {
		fmt.Fprintf(&sb, "CREATE OR REPLACE MACRO %s(_user) AS TABLE ", c.engineName())
	} else if len(rows) == 0 {
		fmt.Fprintf(&sb, "CREATE OR REPLACE TABLE %s (", c.engineName())
		for i, col := range cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%s %s", quoteIdent(col.name), col.typ.duck)
		}
		sb.WriteString(")")
		return sb.String()
	} else {
		fmt.Fprintf(&sb, "CREATE OR REPLACE TABLE %s AS ", c.engineName())
	}
	sb.WriteString("SELECT ")
	for i, col := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "CAST(c%d AS %s) AS %s", i, col.typ.duck, quoteIdent(col.name))
	}
	if len(rows) == 0 {
		sb.WriteString(" FROM (SELECT ")
		for i := range cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "NULL AS c%d", i)
		}
		sb.WriteString(") v WHERE false")
		return sb.String()
	}
	if from, ok := jsonRows(rows, len(cols)); ok {
		sb.WriteString(" FROM " + from)
		return sb.String()
	}
	sb.WriteString(valuesFrom(c, rows))
	return sb.String()
}

// valuesFrom is " FROM (VALUES …) v(c0, …)" for rows of c.
func valuesFrom(c *catRel, rows [][]any) string {
	cols := c.columns()
	var sb strings.Builder
	sb.WriteString(" FROM (VALUES ")
	for i, row := range rows {
		if len(row) != len(cols) {
			panic(fmt.Sprintf("pgsql: catalog %s row %d has %d values for %d columns", c.name, i, len(row), len(cols)))
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j, v := range row {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(sqlValue(v))
		}
		sb.WriteString(")")
	}
	sb.WriteString(") v(")
	for i := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "c%d", i)
	}
	sb.WriteString(")")
	return sb.String()
}

// tenantRows are the catalog rows that a session's own relations (own,
// TenantTables) add to the server's: the rows of a catalog built from the
// server's tables and own, less those of the server's catalog. Own
// relations come after the server's, so every OID of the server's stays.
func (r *registry) tenantRows(own []Table) map[*catRel][][]any {
	if len(own) == 0 {
		return nil
	}
	var key strings.Builder
	for _, t := range own {
		fmt.Fprintf(&key, "%s.%s(", t.Schema, t.Name)
		for _, c := range t.Columns {
			fmt.Fprintf(&key, "%s %d,", c.Name, c.TypeOID)
		}
		key.WriteString(")")
	}
	r.tenantMu.Lock()
	if rows, ok := r.tenant[key.String()]; ok {
		r.tenantMu.Unlock()
		return rows
	}
	r.tenantMu.Unlock()
	b := newCatalogBuild(append(slices.Clone(r.tables), own...))
	out := map[*catRel][][]any{}
	for _, c := range catalogRels {
		if c.rows == nil || c.perUser {
			continue
		}
		have := map[string]bool{}
		for _, row := range c.rows(r.build) {
			have[fmt.Sprint(row)] = true
		}
		for _, row := range c.rows(b) {
			if !have[fmt.Sprint(row)] {
				out[c] = append(out[c], row)
			}
		}
	}
	r.tenantMu.Lock()
	if r.tenant == nil || len(r.tenant) > 256 {
		r.tenant = map[string]map[*catRel][][]any{}
	}
	r.tenant[key.String()] = out
	r.tenantMu.Unlock()
	return out
}

// unionSQL is catalog relation c with extra rows: the server's table and
// the rows, one relation.
func unionSQL(c *catRel, rows [][]any) string {
	var sb strings.Builder
	sb.WriteString("SELECT * FROM " + c.engineName() + " UNION ALL SELECT ")
	for i, col := range c.columns() {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "CAST(c%d AS %s) AS %s", i, col.typ.duck, quoteIdent(col.name))
	}
	sb.WriteString(valuesFrom(c, rows))
	return sb.String()
}

// jsonRows renders rows as a relation with columns c0…c<n-1> read from one
// JSON literal, which the engine takes in far less time than the same
// rows as a VALUES list (every engine instance runs the catalog's DDL when
// it opens). Rows holding SQL expressions are not JSON: ok is false.
func jsonRows(rows [][]any, n int) (from string, ok bool) {
	kinds := make([]string, n) // the column's JSON structure
	for i := range kinds {
		kinds[i] = `"VARCHAR"`
	}
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		if len(row) != n {
			return "", false
		}
		m := make(map[string]any, n)
		for j, v := range row {
			key := "c" + strconv.Itoa(j)
			switch x := v.(type) {
			case nil:
				m[key] = nil
			case string:
				m[key] = x
			case bool, int, int32, uint32, int64, float64:
				m[key] = fmt.Sprint(x) // the column's cast reads it as text
			case []string:
				m[key], kinds[j] = x, `["VARCHAR"]`
			case []int:
				m[key], kinds[j] = x, `["BIGINT"]`
			default:
				return "", false
			}
		}
		out[i] = m
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", false
	}
	var st strings.Builder
	st.WriteString("[{")
	for i, k := range kinds {
		if i > 0 {
			st.WriteString(", ")
		}
		fmt.Fprintf(&st, `"c%d": %s`, i, k)
	}
	st.WriteString("}]")
	return "(SELECT unnest(json_transform(" + sqlString(string(b)) + ", " + sqlString(st.String()) + "), recursive := true)) v", true
}

// sqlValue renders a Go value as a DuckDB literal.
func sqlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case rawSQL:
		return string(x)
	case string:
		return sqlString(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.Itoa(int(x))
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = sqlString(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []int:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(n)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("pgsql: catalog value %T", v))
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Catalog columns of PostgreSQL's one-byte "char" type (pg_type.typtype,
// pg_class.relkind, …) are stored as an engine ENUM of the printable ASCII
// characters, so a result column read from one is recognisably "char"
// (OID 18), which drivers decode as a byte (asyncpg compares typtype with
// b'b'); oid columns are stored as UINTEGER, PostgreSQL's oid being an
// unsigned 32-bit number. Both compare with text and integer literals as
// before.

// CharEngineType is the engine type of "char" catalog columns.
const CharEngineType = CatalogSchema + ".pgchar"

// CharValues are the values of CharEngineType: "" and the printable ASCII
// characters, in order.
var CharValues = func() []string {
	vs := []string{""}
	for c := byte(' '); c <= '~'; c++ {
		vs = append(vs, string(c))
	}
	return vs
}()

func charTypeDDL() string {
	q := make([]string, len(CharValues))
	for i, v := range CharValues {
		q[i] = sqlString(v)
	}
	return "CREATE TYPE IF NOT EXISTS " + CharEngineType + " AS ENUM (" + strings.Join(q, ", ") + ")"
}

// procSigDDL creates pgcat._procsig: each function's argument list and
// result as pg_get_function_arguments and pg_get_function_result print
// them.
func procSigDDL(b *catalogBuild) string {
	var sb strings.Builder
	sb.WriteString("CREATE OR REPLACE TABLE " + CatalogSchema + "._procsig AS SELECT CAST(c0 AS UINTEGER) AS oid, CAST(c1 AS VARCHAR) AS args, CAST(c2 AS VARCHAR) AS result, CAST(c3 AS VARCHAR) AS def FROM (VALUES ")
	for i, p := range b.procEntries() {
		if i > 0 {
			sb.WriteString(", ")
		}
		def := "NULL"
		if p.def != "" {
			def = sqlString(p.def)
		}
		fmt.Fprintf(&sb, "(%d, %s, %s, %s)", p.row[0], sqlString(p.args), sqlString(p.result), def)
	}
	sb.WriteString(") v(c0, c1, c2, c3)")
	return sb.String()
}

// typfmtDDL creates pgcat._typfmt, what format_type and regtype need.
func typfmtDDL() string {
	oids := make([]int, 0, len(typeByOID))
	for oid := range typeByOID {
		oids = append(oids, int(oid))
	}
	sort.Ints(oids)
	var sb strings.Builder
	sb.WriteString("CREATE OR REPLACE TABLE " + CatalogSchema + "._typfmt AS SELECT CAST(c0 AS BIGINT) AS oid, CAST(c1 AS VARCHAR) AS typname, CAST(c2 AS VARCHAR) AS pre, CAST(c3 AS VARCHAR) AS post, CAST(c4 AS VARCHAR) AS modkind FROM (VALUES ")
	for i, oid := range oids {
		t := typeByOID[uint32(oid)]
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, %s, %s, %s, %s)", oid, sqlString(t.name), sqlString(t.pre), sqlString(t.post), sqlString(t.modkind))
	}
	sb.WriteString(") v(c0, c1, c2, c3, c4)")
	return sb.String()
}

func keywordsDDL() string {
	var sb strings.Builder
	sb.WriteString("CREATE OR REPLACE TABLE " + CatalogSchema + "._keywords AS SELECT CAST(c0 AS VARCHAR) AS word, CAST(c1 AS VARCHAR) AS catcode, CAST(c2 AS BOOLEAN) AS barelabel, CAST(c3 AS VARCHAR) AS catdesc, CAST(c4 AS VARCHAR) AS baredesc FROM (VALUES ")
	desc := map[byte]string{'U': "unreserved", 'C': "unreserved (cannot be function or type name)", 'T': "reserved (can be function or type name)", 'R': "reserved"}
	for i, k := range keywords {
		if i > 0 {
			sb.WriteString(", ")
		}
		bare := "requires AS"
		if k.barelabel {
			bare = "can be bare label"
		}
		fmt.Fprintf(&sb, "('%s', '%c', %t, %s, %s)", k.word, k.catcode, k.barelabel, sqlString(desc[k.catcode]), sqlString(bare))
	}
	sb.WriteString(") v(c0, c1, c2, c3, c4)")
	return sb.String()
}

func (b *catalogBuild) namespaces() [][]any {
	rows := [][]any{{nsPgCatalog, "pg_catalog", ownerOID, nil}, {nsToast, "pg_toast", ownerOID, nil},
		{nsPublic, "public", ownerOID, nil}, {nsInfo, "information_schema", ownerOID, nil}}
	for name, oid := range b.schemaOIDs {
		switch name {
		case "pg_catalog", "pg_toast", "public", "information_schema":
			continue
		}
		rows = append(rows, []any{oid, name, ownerOID, nil})
	}
	return rows
}

func (b *catalogBuild) classes() [][]any {
	var rows [][]any
	for _, c := range catalogRels {
		rows = append(rows, classRow(c.oid, c.name, c.nsOID(), 0, c.kind, len(c.columns()), "n"))
	}
	for _, t := range b.tables {
		rows = append(rows, classRow(t.oid, t.Name, b.schemaOIDs[t.Schema], t.oid+1, t.Kind, len(t.Columns), "d"))
	}
	return rows
}

func classRow(oid uint32, name string, ns, reltype uint32, kind byte, natts int, replident string) []any {
	am := 0
	if kind == 'r' || kind == 'm' {
		am = 2
	}
	return []any{oid, name, ns, reltype, 0, ownerOID, am, 0, 0, 0, -1, 0, 0, false, false, "p", string(kind),
		natts, 0, kind == 'v', false, false, false, false, true, replident, false, 0, 0, 0, nil, nil, nil}
}

func (b *catalogBuild) attributes() [][]any {
	var rows [][]any
	for _, c := range catalogRels {
		for i, col := range c.columns() {
			rows = append(rows, attributeRow(c.oid, col.name, col.typ, i+1, -1, false))
		}
	}
	for _, t := range b.tables {
		for i, col := range t.Columns {
			typ := typeByOID[col.TypeOID]
			if typ == nil {
				typ = typeByOID[oidText]
			}
			mod := col.TypMod
			if mod == 0 {
				mod = -1
			}
			rows = append(rows, attributeRow(t.oid, col.Name, typ, i+1, mod, col.NotNull))
		}
	}
	return rows
}

func attributeRow(rel uint32, name string, t *pgType, num int, typmod int32, notNull bool) []any {
	ndims := 0
	if t.category == "A" && t.input == "array_in" {
		ndims = 1
	}
	return []any{rel, name, t.oid, -1, t.length, num, ndims, -1, typmod, t.byval, t.align, t.storage, "",
		notNull, false, false, "", "", false, true, 0, collationOf(t), nil, nil, nil, nil}
}

func collationOf(t *pgType) int {
	switch t.oid {
	case oidText, oidVarchar, oidBpchar:
		return 100
	case oidName:
		return 950
	}
	return 0
}

func (b *catalogBuild) types() [][]any {
	oids := make([]int, 0, len(typeByOID))
	for oid := range typeByOID {
		oids = append(oids, int(oid))
	}
	sort.Ints(oids)
	var rows [][]any
	for _, oid := range oids {
		t := typeByOID[uint32(oid)]
		rows = append(rows, typeRow(t.oid, t.name, nsPgCatalog, t.length, t.byval, t.typtype, t.category, 0, t.elem, t.array, t.input, t.align, t.storage, collationOf(t)))
	}
	for _, t := range b.tables {
		ns := b.schemaOIDs[t.Schema]
		rows = append(rows,
			typeRow(t.oid+1, t.Name, ns, -1, false, "c", "C", t.oid, 0, t.oid+2, "record_in", "d", "x", 0),
			typeRow(t.oid+2, "_"+t.Name, ns, -1, false, "b", "A", 0, t.oid+1, 0, "array_in", "d", "x", 0))
	}
	return rows
}

func typeRow(oid uint32, name string, ns uint32, length int, byval bool, typtype, category string, relid, elem, array uint32, input, align, storage string, coll int) []any {
	output := strings.TrimSuffix(strings.TrimSuffix(input, "_in"), "in") + "out"
	if strings.HasSuffix(input, "_in") {
		output = strings.TrimSuffix(input, "_in") + "_out"
	}
	subscript := "-"
	if category == "A" {
		subscript = "array_subscript_handler"
	}
	return []any{oid, name, ns, ownerOID, length, byval, typtype, category, false, true, ",", relid, subscript, elem, array,
		input, output, "-", "-", "-", "-", "-", align, storage, false, 0, -1, 0, coll, nil, nil, nil}
}

// procEntry is one pg_proc row and the signature pg_get_function_arguments
// and pg_get_function_result print for it.
type procEntry struct {
	row          []any
	args, result string
	def          string // what pg_get_functiondef prints
}

func (b *catalogBuild) procs() [][]any {
	var rows [][]any
	for _, p := range b.procEntries() {
		rows = append(rows, p.row)
	}
	return rows
}

// typeText is a type's name as format_type prints it.
func typeText(oid int) string {
	if t := typeByOID[uint32(oid)]; t != nil {
		return t.pre + t.post
	}
	return "-"
}

func (b *catalogBuild) procEntries() []procEntry {
	type proc struct {
		oid     int
		name    string
		kind    string
		ret     int
		args    []int
		retset  bool
		volatil string
	}
	procs := []proc{
		{89, "version", "f", oidText, nil, false, "s"},
		{861, "current_database", "f", oidName, nil, false, "s"},
		{1299, "now", "f", oidTimestamptz, nil, false, "s"},
		{1081, "format_type", "f", oidText, []int{oidOid, oidInt4}, false, "s"},
		{1642, "pg_get_userbyid", "f", oidName, []int{oidOid}, false, "s"},
		{2079, "pg_table_is_visible", "f", oidBool, []int{oidOid}, false, "s"},
		{2077, "current_setting", "f", oidText, []int{oidText}, false, "s"},
		{2078, "set_config", "f", oidText, []int{oidText, oidText, oidBool}, false, "v"},
		{750, "array_in", "f", oidAnyarray, []int{2275, oidOid, oidInt4}, false, "s"},
		{2147, "count", "a", oidInt8, []int{2276}, false, "i"},
		{1067, "generate_series", "f", oidInt8, []int{oidInt8, oidInt8}, true, "i"},
	}
	var rows []procEntry
	for _, p := range procs {
		var args []string
		for _, a := range p.args {
			args = append(args, typeText(a))
		}
		result := typeText(p.ret)
		if p.retset {
			result = "SETOF " + result
		}
		e := procEntry{row: []any{p.oid, p.name, nsPgCatalog, ownerOID, 12, 1, 0, 0, "-", p.kind, false, false, true, p.retset,
			p.volatil, "s", len(p.args), 0, p.ret, append([]int{}, p.args...), nil, nil, nil, nil, nil, p.name, nil, nil, nil, nil},
			args: strings.Join(args, ", "), result: result}
		if p.kind == "f" {
			e.def = fmt.Sprintf("CREATE OR REPLACE FUNCTION pg_catalog.%s(%s)\n RETURNS %s\n LANGUAGE internal\nAS $function$%s$function$\n",
				p.name, e.args, result, p.name)
		}
		rows = append(rows, e)
	}
	// The server's table functions (funnel …): text arguments in, the
	// columns out, as a function RETURNS TABLE (…) is recorded.
	for _, f := range b.funcs {
		ns := b.schemaOIDs[f.Schema]
		in := make([]int, len(f.Args))
		all, modes, names := []int{}, []string{}, []string{}
		var args, outs []string
		for i, a := range f.Args {
			in[i] = oidText
			all, modes, names = append(all, oidText), append(modes, "i"), append(names, a)
			args = append(args, a+" text")
		}
		for _, c := range f.Columns {
			all, modes, names = append(all, int(c.TypeOID)), append(modes, "t"), append(names, c.Name)
			outs = append(outs, quoteIdent(c.Name)+" "+typeText(int(c.TypeOID)))
		}
		// The body a dump carries into another PostgreSQL: there the
		// function exists but says where it runs.
		src := fmt.Sprintf("\nBEGIN\n  -- %s is computed by the AllSource server from its events; this definition only describes it.\n"+
			"  RAISE EXCEPTION '%s() is computed by AllSource: call it there';\nEND\n", f.Name, f.Name)
		e := procEntry{row: []any{int(f.oid), f.Name, int(ns), ownerOID, langPlpgsql, 100, 1000, 0, "-", "f", false, false, true, true,
			"v", "s", len(in), 0, 2249, in, all, modes, names, nil, nil, src, nil, nil, nil, nil},
			args: strings.Join(args, ", "), result: "TABLE(" + strings.Join(outs, ", ") + ")"}
		e.def = fmt.Sprintf("CREATE OR REPLACE FUNCTION %s.%s(%s)\n RETURNS %s\n LANGUAGE plpgsql\n STRICT PARALLEL SAFE\nAS $function$%s$function$\n",
			quoteIdent(f.Schema), quoteIdent(f.Name), e.args, e.result, src)
		rows = append(rows, e)
	}
	return rows
}

func (b *catalogBuild) descriptions() [][]any {
	var rows [][]any
	for _, f := range b.funcs {
		if f.Comment != "" {
			rows = append(rows, []any{int(f.oid), 1255, 0, f.Comment})
		}
	}
	for _, t := range b.tables {
		if t.Comment != "" {
			rows = append(rows, []any{t.oid, 1259, 0, t.Comment})
		}
		for i, c := range t.Columns {
			if c.Comment != "" {
				rows = append(rows, []any{t.oid, 1259, i + 1, c.Comment})
			}
		}
	}
	return rows
}

func (b *catalogBuild) settingsRows() [][]any {
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var rows [][]any
	for _, k := range names {
		s := settings[k]
		vartype := "string"
		if s.value == "on" || s.value == "off" {
			vartype = "bool"
		} else if _, err := strconv.Atoi(s.value); err == nil {
			vartype = "integer"
		}
		context := "user"
		if s.readOnly {
			context = "internal"
		}
		rows = append(rows, []any{s.name, s.value, nil, s.category, s.desc, nil, context, vartype, "default",
			nil, nil, nil, s.value, s.value, nil, nil, false})
	}
	return rows
}

func (b *catalogBuild) tablesView() [][]any {
	var rows [][]any
	for _, c := range catalogRels {
		if c.kind == 'r' {
			rows = append(rows, []any{c.schema, c.name, userSQL, nil, false, false, false, false})
		}
	}
	for _, t := range b.tables {
		if t.Kind == 'r' {
			rows = append(rows, []any{t.Schema, t.Name, userSQL, nil, false, false, false, false})
		}
	}
	return rows
}

func (b *catalogBuild) viewsView() [][]any {
	var rows [][]any
	for _, c := range catalogRels {
		if c.kind == 'v' {
			rows = append(rows, []any{c.schema, c.name, userSQL, nil})
		}
	}
	for _, t := range b.tables {
		if t.Kind == 'v' {
			rows = append(rows, []any{t.Schema, t.Name, userSQL, nil})
		}
	}
	return rows
}

func (b *catalogBuild) matviewsView() [][]any {
	var rows [][]any
	for _, t := range b.tables {
		if t.Kind == 'm' {
			rows = append(rows, []any{t.Schema, t.Name, userSQL, nil, false, true, nil})
		}
	}
	return rows
}

func (b *catalogBuild) statUserTables() [][]any {
	var rows [][]any
	for _, t := range b.tables {
		if t.Kind == 'r' || t.Kind == 'm' {
			rows = append(rows, []any{t.oid, t.Schema, t.Name, 0, 0, nil, nil, 0, 0, 0, 0, 0, 0, 0, 0, nil, nil, nil, nil, 0, 0, 0, 0})
		}
	}
	return rows
}

func (b *catalogBuild) schemata() [][]any {
	names := make([]string, 0, len(b.schemaOIDs))
	for n := range b.schemaOIDs {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows [][]any
	for _, n := range names {
		rows = append(rows, []any{DatabaseName, n, userSQL, nil, nil, nil, nil})
	}
	return rows
}

// relInfo is a relation as information_schema lists it.
type relInfo struct {
	schema, name string
	kind         byte
	cols         []colInfo
}

type colInfo struct {
	name    string
	typ     *pgType
	typmod  int32
	notNull bool
}

func (b *catalogBuild) allRelations() []relInfo {
	var rels []relInfo
	for _, c := range catalogRels {
		r := relInfo{schema: c.schema, name: c.name, kind: c.kind}
		for _, col := range c.columns() {
			r.cols = append(r.cols, colInfo{col.name, col.typ, -1, false})
		}
		rels = append(rels, r)
	}
	for _, t := range b.tables {
		r := relInfo{schema: t.Schema, name: t.Name, kind: t.Kind}
		for _, c := range t.Columns {
			typ := typeByOID[c.TypeOID]
			if typ == nil {
				typ = typeByOID[oidText]
			}
			mod := c.TypMod
			if mod == 0 {
				mod = -1
			}
			r.cols = append(r.cols, colInfo{c.Name, typ, mod, c.NotNull})
		}
		rels = append(rels, r)
	}
	return rels
}

func (b *catalogBuild) infoTables() [][]any {
	var rows [][]any
	for _, r := range b.allRelations() {
		typ := "BASE TABLE"
		switch r.kind {
		case 'v':
			typ = "VIEW"
		case 'm':
			continue // PostgreSQL's information_schema omits materialized views
		}
		rows = append(rows, []any{DatabaseName, r.schema, r.name, typ, nil, nil, nil, nil, nil, "NO", "NO", nil})
	}
	return rows
}

func (b *catalogBuild) infoViews() [][]any {
	var rows [][]any
	for _, r := range b.allRelations() {
		if r.kind == 'v' {
			rows = append(rows, []any{DatabaseName, r.schema, r.name, nil, "NONE", "NO", "NO", "NO", "NO", "NO"})
		}
	}
	return rows
}

func (b *catalogBuild) infoColumns() [][]any {
	var rows [][]any
	for _, r := range b.allRelations() {
		if r.kind == 'm' {
			continue
		}
		for i, c := range r.cols {
			t := c.typ
			nullable := "YES"
			if c.notNull {
				nullable = "NO"
			}
			var charMax, charOctet, numPrec, numRadix, numScale, dtPrec any
			switch t.oid {
			case oidVarchar, oidBpchar:
				if c.typmod > 4 {
					charMax = int(c.typmod - 4)
					charOctet = int(c.typmod-4) * 4
				} else {
					charOctet = 1073741824
				}
			case oidText:
				charOctet = 1073741824
			case oidInt2:
				numPrec, numRadix, numScale = 16, 2, 0
			case oidInt4:
				numPrec, numRadix, numScale = 32, 2, 0
			case oidInt8:
				numPrec, numRadix, numScale = 64, 2, 0
			case oidFloat4:
				numPrec, numRadix = 24, 2
			case oidFloat8:
				numPrec, numRadix = 53, 2
			case oidNumeric:
				numRadix = 10
				if c.typmod > 4 {
					numPrec, numScale = int((c.typmod-4)>>16&0xffff), int((c.typmod-4)&0xffff)
				}
			case oidDate:
				dtPrec = 0
			case oidTime, oidTimestamp, oidTimestamptz, 1266, oidInterval:
				dtPrec = 6
				if c.typmod >= 0 {
					dtPrec = int(c.typmod)
				}
			}
			var collName any
			rows = append(rows, []any{DatabaseName, r.schema, r.name, c.name, i + 1, nil, nullable, infoSchemaType(t.oid),
				charMax, charOctet, numPrec, numRadix, numScale, dtPrec, nil, nil, nil, nil, nil, nil, nil, collName, nil, nil, nil,
				DatabaseName, "pg_catalog", t.name, nil, nil, nil, nil, strconv.Itoa(i + 1), "NO", "NO", nil, nil, nil, nil, nil, "NO",
				"NEVER", nil, "NO"})
		}
	}
	return rows
}

func (b *catalogBuild) tablePrivileges() [][]any {
	var rows [][]any
	for _, t := range b.tables {
		rows = append(rows, []any{userSQL, userSQL, DatabaseName, t.Schema, t.Name, "SELECT", "YES", "YES"})
	}
	return rows
}

// classOID resolves a relation name as 'name'::regclass spells it
// ("pg_class", "pg_catalog.pg_class", "public.events", `"events"`).
func (r *registry) classOID(name string) (uint32, bool) {
	parts := splitQualified(name)
	var schema, rel string
	switch len(parts) {
	case 1:
		rel = parts[0]
	case 2:
		schema, rel = parts[0], parts[1]
	case 3:
		if parts[0] != DatabaseName {
			return 0, false
		}
		schema, rel = parts[1], parts[2]
	default:
		return 0, false
	}
	if schema == "" || schema == "pg_catalog" || schema == "information_schema" {
		s := schema
		if s == "" {
			s = "pg_catalog"
		}
		if c := r.catalogs[s+"."+rel]; c != nil {
			return c.oid, true
		}
	}
	if t := r.user[rel]; t != nil && (schema == "" || schema == t.Schema) {
		return t.oid, true
	}
	return 0, false
}

// splitQualified splits a possibly quoted, dot-qualified name, lower-casing
// unquoted parts.
func splitQualified(s string) []string {
	var parts []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inQuote && ch == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			inQuote = !inQuote
		case !inQuote && ch == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		case !inQuote:
			cur.WriteString(strings.ToLower(string(ch)))
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}
