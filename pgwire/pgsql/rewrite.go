package pgsql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/allsource/allsource/sqlguard"
	"google.golang.org/protobuf/proto"
)

// Session is what rewriting needs from the connection.
type Session interface {
	Setting(name string) (string, bool)              // current_setting(name), SHOW; name is lower-case
	SetSetting(name, value string, local bool) error // set_config(name, value, is_local)
	User() string
}

// BackendPIDer is optionally implemented by a Session to answer
// pg_backend_pid().
type BackendPIDer interface {
	BackendPID() int32
}

// rewriteCache keeps a statement's rewrite when it does not depend on the
// session, for the registry generation it was made with.
type rewriteCache struct {
	mu  sync.Mutex
	gen uint64
	sql string
}

// Rewrite returns the DuckDB SQL for a KindSelect or KindExplain statement,
// or for the query of a COPY … TO. $n parameters stay $n. Functions with
// side effects (set_config) act on sess each time Rewrite runs, so call it
// once per execution.
func (s *Statement) Rewrite(sess Session) (string, error) {
	switch s.Kind {
	case KindSelect, KindExplain:
	case KindCopyTo:
		out, err := s.Copy.Query.Rewrite(sess)
		var pe *Error
		if s.Copy.Table != "" && errors.As(err, &pe) {
			pe.Position = 0 // the query was made from the table's name, not typed
		}
		return out, err
	default:
		return "", errorf(CodeInternal, 0, "%s statement has no SQL to rewrite", s.Kind)
	}
	reg := catalogOf(sess).reg.Load()
	s.cache.mu.Lock()
	if s.cache.gen == reg.gen && s.cache.sql != "" {
		out := s.cache.sql
		s.cache.mu.Unlock()
		return out, nil
	}
	s.cache.mu.Unlock()

	r := &rewriter{st: s, sess: sess, reg: reg, ctes: map[string]bool{}}
	root := proto.Clone(s.node).(*pg_query.Node)
	root, err := r.node(root)
	if err != nil {
		return "", err
	}
	out := s.Text
	if r.changed || s.Kind == KindExplain {
		out, err = pg_query.Deparse(&pg_query.ParseResult{Version: s.version, Stmts: []*pg_query.RawStmt{{Stmt: root}}})
		if err != nil {
			return "", errorf(CodeInternal, 0, "deparse rewritten query: %v", err)
		}
		if s.Kind == KindExplain {
			prefix := "EXPLAIN "
			if s.analyze {
				prefix = "EXPLAIN ANALYZE "
			}
			out = prefix + out
		}
	}
	if !r.sessionDep {
		s.cache.mu.Lock()
		s.cache.gen, s.cache.sql = reg.gen, out
		s.cache.mu.Unlock()
	} else {
		s.sessionDep.Store(true)
	}
	return out, nil
}

// SessionDependent reports whether a rewrite of s depended on the session
// (its settings, its tenant's catalog, set_config): a prepared statement
// must then be rewritten again for each execution, as PostgreSQL reads
// the settings when it runs one.
func (s *Statement) SessionDependent() bool {
	if s.Kind == KindCopyTo && s.Copy != nil && s.Copy.Query != nil {
		return s.Copy.Query.SessionDependent()
	}
	return s.sessionDep.Load()
}

// rewriter rewrites one statement's tree in place.
type rewriter struct {
	st   *Statement
	sess Session
	reg  *registry
	ctes map[string]bool // CTE names: relations that need no resolving
	// tableoids are the catalog relations in FROM clauses by the name
	// their columns are qualified with, for the tableoid system column.
	tableoids  map[string]uint32
	changed    bool // the tree differs from the text
	sessionDep bool // the result depends on the session
}

// pos converts a node location into a position in the statement text.
func (r *rewriter) pos(loc int32) int {
	if loc < 0 {
		return 0
	}
	return charPos(r.st.Text, int(loc)-r.st.Offset)
}

func (r *rewriter) user() string {
	r.sessionDep = true
	if r.sess == nil {
		return "allsource"
	}
	return r.sess.User()
}

func (r *rewriter) setting(name string) (string, bool) {
	r.sessionDep = true
	if r.sess != nil {
		if v, ok := r.sess.Setting(name); ok {
			return v, true
		}
		if !KnownSetting(name) {
			return "", false
		}
	}
	if s, ok := settings[name]; ok {
		return s.value, true
	}
	return "", false
}

// node rewrites n and everything below it, returning its replacement.
func (r *rewriter) node(n *pg_query.Node) (*pg_query.Node, error) {
	if n == nil {
		return nil, nil
	}
	m, err := replaceIn(n.ProtoReflect(), r.visit)
	if err != nil {
		return nil, err
	}
	if m != nil {
		return m.Interface().(*pg_query.Node), nil
	}
	return n, nil
}

func (r *rewriter) nodes(list []*pg_query.Node) error {
	for i, n := range list {
		nn, err := r.node(n)
		if err != nil {
			return err
		}
		list[i] = nn
	}
	return nil
}

// children rewrites the nodes below n, but not n itself.
func (r *rewriter) children(n *pg_query.Node) error {
	return replaceChildren(n.ProtoReflect(), r.visit)
}

// visit is called top-down for every node: it returns a replacement (or
// nil) and whether the walk should descend into the node's children.
func (r *rewriter) visit(n *pg_query.Node) (*pg_query.Node, bool, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_SelectStmt:
		return nil, true, r.selectStmt(x.SelectStmt)
	case *pg_query.Node_RangeVar:
		repl, err := r.rangeVar(x.RangeVar)
		return repl, false, err
	case *pg_query.Node_RangeFunction:
		repl, err := r.rangeFunction(x.RangeFunction)
		return repl, false, err
	case *pg_query.Node_FuncCall:
		repl, err := r.funcCall(n, x.FuncCall)
		return repl, false, err
	case *pg_query.Node_TypeCast:
		repl, err := r.typeCast(n, x.TypeCast)
		return repl, false, err
	case *pg_query.Node_AExpr:
		repl, err := r.aExpr(n, x.AExpr)
		return repl, false, err
	case *pg_query.Node_SqlvalueFunction:
		return r.sqlValueFunction(x.SqlvalueFunction), false, nil
	case *pg_query.Node_AIndirection:
		if repl := nameSubscript(x.AIndirection); repl != nil {
			r.changed = true
			return repl, false, nil
		}
	case *pg_query.Node_CollateClause:
		// PostgreSQL collations mean nothing to DuckDB: drop the clause.
		r.changed = true
		arg, err := r.node(x.CollateClause.Arg)
		return arg, false, err
	case *pg_query.Node_ColumnRef:
		return r.columnRef(x.ColumnRef), false, nil
	case *pg_query.Node_RangeTableSample:
		return nil, false, errorf(CodeFeatureNotSupported, 0, "TABLESAMPLE is not supported")
	}
	return nil, true, nil
}

// nameSubscript reads typname[0] as PostgreSQL reads a subscript of a
// name column (pg_dump tells array types by typname[0] = '_'): the
// character at that 0-based position.
func nameSubscript(ind *pg_query.A_Indirection) *pg_query.Node {
	cr := ind.Arg.GetColumnRef()
	if cr == nil || len(ind.Indirection) != 1 {
		return nil
	}
	col := cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
	if !strings.HasSuffix(col, "name") {
		return nil
	}
	idx := ind.Indirection[0].GetAIndices()
	if idx == nil || idx.IsSlice || idx.Uidx == nil {
		return nil
	}
	k, ok := idx.Uidx.GetAConst().GetVal().(*pg_query.A_Const_Ival)
	if !ok {
		return nil
	}
	return funcCall("substr", ind.Arg, intConst(int64(k.Ival.Ival)+1), intConst(1))
}

// selectStmt records CTE names and names unnamed output columns the way
// PostgreSQL does, since DuckDB names them after the expression text.
func (r *rewriter) selectStmt(s *pg_query.SelectStmt) error {
	if s.IntoClause != nil {
		return refusal("SELECT INTO")
	}
	if len(s.LockingClause) > 0 {
		return unsupported("SELECT FOR UPDATE/SHARE", "AllSource tables are read-only; remove the locking clause.")
	}
	// The arms of UNION/INTERSECT/EXCEPT are plain messages, not nodes.
	for _, arm := range []*pg_query.SelectStmt{s.Larg, s.Rarg} {
		if arm != nil {
			if err := r.selectStmt(arm); err != nil {
				return err
			}
		}
	}
	r.noteTableoids(s.FromClause)
	if s.WithClause != nil {
		for _, c := range s.WithClause.Ctes {
			if cte := c.GetCommonTableExpr(); cte != nil {
				r.ctes[cte.Ctename] = true
			}
		}
	}
	for _, t := range s.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Name != "" || rt.Val == nil {
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil {
			// tableoid becomes a constant (see columnRef), which the
			// engine would name after itself.
			if f := cr.Fields; f[len(f)-1].GetString_().GetSval() == "tableoid" {
				rt.Name = "tableoid"
				r.changed = true
			}
			continue
		}
		rt.Name = figureColname(rt.Val)
		r.changed = true
	}
	return nil
}

// figureColname is PostgreSQL's FigureColname: the default output column
// name of an expression.
func figureColname(n *pg_query.Node) string {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if len(f) > 0 {
			if s := f[len(f)-1].GetString_(); s != nil {
				return s.Sval
			}
		}
	case *pg_query.Node_AIndirection:
		for i := len(x.AIndirection.Indirection) - 1; i >= 0; i-- {
			if s := x.AIndirection.Indirection[i].GetString_(); s != nil {
				return s.Sval
			}
		}
		return figureColname(x.AIndirection.Arg)
	case *pg_query.Node_FuncCall:
		f := x.FuncCall.Funcname
		if len(f) > 0 {
			return f[len(f)-1].GetString_().GetSval()
		}
	case *pg_query.Node_TypeCast:
		if name := figureColname(x.TypeCast.Arg); name != "?column?" {
			return name
		}
		names := x.TypeCast.TypeName.GetNames()
		if len(names) > 0 {
			name := names[len(names)-1].GetString_().GetSval()
			if t := lookupType(name); t != nil && t.category != "A" {
				switch t.oid {
				case oidInt4:
					return "int4"
				case oidBool:
					return "bool"
				}
			}
			return name
		}
	case *pg_query.Node_CollateClause:
		return figureColname(x.CollateClause.Arg)
	case *pg_query.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := x.SubLink.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				if rt := sel.TargetList[0].GetResTarget(); rt != nil {
					if rt.Name != "" {
						return rt.Name
					}
					return figureColname(rt.Val)
				}
			}
		}
	case *pg_query.Node_CaseExpr:
		if name := figureColname(x.CaseExpr.Defresult); name != "?column?" {
			return name
		}
		return "case"
	case *pg_query.Node_AArrayExpr:
		return "array"
	case *pg_query.Node_RowExpr:
		return "row"
	case *pg_query.Node_CoalesceExpr:
		return "coalesce"
	case *pg_query.Node_MinMaxExpr:
		if x.MinMaxExpr.Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case *pg_query.Node_SqlvalueFunction:
		return sqlValueFunctionName(x.SqlvalueFunction.Op)
	case *pg_query.Node_XmlExpr, *pg_query.Node_XmlSerialize:
		return "xml"
	}
	return "?column?"
}

func sqlValueFunctionName(op pg_query.SQLValueFunctionOp) string {
	switch op {
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "current_date"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return "current_time"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "current_timestamp"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "localtime"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "localtimestamp"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return "current_role"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:
		return "current_user"
	case pg_query.SQLValueFunctionOp_SVFOP_USER:
		return "user"
	case pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return "session_user"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return "current_catalog"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "current_schema"
	}
	return "?column?"
}

func (r *rewriter) sqlValueFunction(f *pg_query.SQLValueFunction) *pg_query.Node {
	switch f.Op {
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER,
		pg_query.SQLValueFunctionOp_SVFOP_USER, pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
		r.changed = true
		return strConst(r.user())
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		r.changed = true
		return strConst(DatabaseName)
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		r.changed = true
		return r.currentSchema()
	}
	return nil
}

// searchPath returns the schemas of search_path that exist.
func (r *rewriter) searchPath() []string {
	path, _ := r.setting("search_path")
	var out []string
	for _, p := range splitList(path) {
		if p == "$user" {
			p = r.user()
		}
		if _, ok := r.reg.build.schemaOIDs[p]; ok && p != "pg_toast" {
			out = append(out, p)
		}
	}
	return out
}

// splitList splits a list setting ("\"$user\", public") into names.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		} else {
			p = strings.ToLower(p)
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *rewriter) currentSchema() *pg_query.Node {
	if p := r.searchPath(); len(p) > 0 {
		return strConst(p[0])
	}
	return nullOf("varchar")
}

// columnRef drops catalog or schema qualifiers of a column reference
// (pg_catalog.pg_class.oid → pg_class.oid), since DuckDB sees the relation
// under its bare name.
func (r *rewriter) columnRef(c *pg_query.ColumnRef) *pg_query.Node {
	// tableoid, a system column of every relation: the catalog relation's
	// OID (pg_dump reads it with every catalog row).
	if n := len(c.Fields); n <= 2 && c.Fields[n-1].GetString_().GetSval() == "tableoid" {
		var oid uint32
		if n == 2 {
			oid = r.tableoids[c.Fields[0].GetString_().GetSval()]
		} else if len(r.tableoids) == 1 {
			for _, o := range r.tableoids {
				oid = o
			}
		}
		if oid != 0 {
			r.changed = true
			return castTo(intConst(int64(oid)), "oid")
		}
	}
	if len(c.Fields) < 3 {
		return nil
	}
	if _, star := c.Fields[len(c.Fields)-1].Node.(*pg_query.Node_AStar); !star && len(c.Fields) < 3 {
		return nil
	}
	first := c.Fields[0].GetString_().GetSval()
	switch first {
	case "pg_catalog", "information_schema", "public", DatabaseName:
		c.Fields = c.Fields[len(c.Fields)-2:]
		r.changed = true
	}
	return nil
}

// castedRelation is t read through a projection that casts its columns
// with a Cast (events.id as uuid), named as rv names t; nil when no column
// needs one.
func castedRelation(t *userTable, rv *pg_query.RangeVar) *pg_query.Node {
	cast := false
	var cols []string
	for _, c := range t.Columns {
		if c.Cast != "" {
			cast = true
			cols = append(cols, fmt.Sprintf("CAST(%s AS %s) AS %s", quoteIdent(c.Name), c.Cast, quoteIdent(c.Name)))
		} else {
			cols = append(cols, quoteIdent(c.Name))
		}
	}
	if !cast {
		return nil
	}
	tree, err := pg_query.Parse("SELECT * FROM (SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(t.Name) + ") AS x")
	if err != nil {
		return nil
	}
	sub := tree.Stmts[0].Stmt.GetSelectStmt().FromClause[0]
	alias := t.Name
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		alias = rv.Alias.Aliasname
		sub.GetRangeSubselect().Alias.Colnames = rv.Alias.Colnames
	}
	sub.GetRangeSubselect().Alias.Aliasname = alias
	return sub
}

// noteTableoids records the catalog relations of a FROM clause (see
// tableoids).
func (r *rewriter) noteTableoids(from []*pg_query.Node) {
	for _, n := range from {
		if j := n.GetJoinExpr(); j != nil {
			r.noteTableoids([]*pg_query.Node{j.Larg, j.Rarg})
			continue
		}
		rv := n.GetRangeVar()
		if rv == nil {
			continue
		}
		var cat *catRel
		switch rv.Schemaname {
		case "", "pg_catalog":
			cat = r.reg.catalogs["pg_catalog."+rv.Relname]
		case "information_schema":
			cat = r.reg.catalogs["information_schema."+rv.Relname]
		}
		if cat == nil || cat.oid == 0 {
			continue
		}
		key := rv.Relname
		if rv.Alias != nil && rv.Alias.Aliasname != "" {
			key = rv.Alias.Aliasname
		}
		if r.tableoids == nil {
			r.tableoids = map[string]uint32{}
		}
		r.tableoids[key] = cat.oid
	}
}

// rangeVar resolves a relation in FROM.
func (r *rewriter) rangeVar(rv *pg_query.RangeVar) (*pg_query.Node, error) {
	pos := r.pos(rv.Location)
	if rv.Catalogname != "" && rv.Catalogname != DatabaseName {
		return nil, errorf(CodeFeatureNotSupported, pos, "cross-database references are not implemented: %s", rangeVarName(rv))
	}
	schema, name := rv.Schemaname, rv.Relname
	if strings.EqualFold(schema, "_hot") || strings.EqualFold(schema, "_proj") || schema == "pgcat" || schema == "pgcat_is" {
		return nil, errorf(CodeInsufficientPriv, pos, "permission denied for schema %s", schema)
	}
	if schema == "" && r.ctes[name] {
		return nil, nil
	}
	if schema == "projections" {
		return nil, nil // projection state, resolved per tenant by the warehouse
	}
	var cat *catRel
	switch schema {
	case "", "pg_catalog":
		cat = r.reg.catalogs["pg_catalog."+name]
	case "information_schema":
		cat = r.reg.catalogs["information_schema."+name]
	}
	if cat != nil {
		r.changed = true
		if cat.perUser {
			alias := rv.Alias
			if alias == nil {
				alias = &pg_query.Alias{Aliasname: name}
			}
			call := funcCall(cat.engineName(), strConst(r.user()))
			return &pg_query.Node{Node: &pg_query.Node_RangeFunction{RangeFunction: &pg_query.RangeFunction{
				Functions: []*pg_query.Node{pg_query.MakeListNode([]*pg_query.Node{call, {}})},
				Alias:     alias,
			}}}, nil
		}
		if tt, ok := r.sess.(TenantTables); ok {
			// The session's own relations (a tenant's projections) are
			// listed too: the rewrite depends on the session.
			r.sessionDep = true
			if extra := r.reg.tenantRows(tt.TenantTables())[cat]; len(extra) > 0 {
				alias := name
				if rv.Alias != nil && rv.Alias.Aliasname != "" {
					alias = rv.Alias.Aliasname
				}
				tree, err := pg_query.Parse("SELECT * FROM (" + unionSQL(cat, extra) + ") AS " + quoteIdent(alias))
				if err != nil {
					return nil, errorf(CodeInternal, pos, "catalog %s: %v", name, err)
				}
				sub := tree.Stmts[0].Stmt.GetSelectStmt().FromClause[0]
				if rv.Alias != nil && len(rv.Alias.Colnames) > 0 {
					sub.GetRangeSubselect().Alias.Colnames = rv.Alias.Colnames
				}
				r.changed = true
				return sub, nil
			}
		}
		rv.Catalogname = ""
		rv.Schemaname, rv.Relname = strings.Split(cat.engineName(), ".")[0], cat.name
		return nil, nil
	}
	if t := r.reg.user[name]; t != nil && (schema == "" || schema == t.Schema) {
		if rv.Schemaname != "" || rv.Catalogname != "" {
			rv.Schemaname, rv.Catalogname = "", ""
			r.changed = true
		}
		if sub := castedRelation(t, rv); sub != nil {
			r.changed = true
			return sub, nil
		}
		return nil, nil
	}
	return nil, errorf(CodeUndefinedTable, pos, "relation \"%s\" does not exist", rangeVarName(rv))
}

// Table functions a query may call in FROM. Everything else in FROM is run
// as a scalar function in a one-row subquery, which no table function
// survives.
var tableFunctions = map[string]bool{
	"generate_series": true, "unnest": true, "range": true, "json_each": true, "json_tree": true,
	"generate_subscripts": true, "pg_get_keywords": true, "pg_options_to_table": true,
}

// singleColumn are the table functions that return one column, which
// PostgreSQL names after the alias.
var singleColumn = map[string]bool{"generate_series": true, "unnest": true, "range": true, "generate_subscripts": true}

func (r *rewriter) rangeFunction(rf *pg_query.RangeFunction) (*pg_query.Node, error) {
	if rf.IsRowsfrom || len(rf.Functions) != 1 {
		return nil, errorf(CodeFeatureNotSupported, 0, "ROWS FROM is not supported")
	}
	if len(rf.Coldeflist) > 0 {
		return nil, errorf(CodeFeatureNotSupported, 0, "column definition lists in FROM are not supported")
	}
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 {
		return nil, nil
	}
	fc := items[0].GetFuncCall()
	if fc == nil {
		return nil, errorf(CodeFeatureNotSupported, 0, "this FROM-clause function is not supported")
	}
	schema, name := funcName(fc)
	pos := r.pos(fc.Location)
	if tp, ok := r.sess.(TableFunctionProvider); ok && schema == "" {
		if node, handled, err := r.providedTable(tp, name, fc, rf.Alias, pos); handled || err != nil {
			return node, err
		}
	}
	if err := checkFunction(schema, name, pos); err != nil {
		return nil, err
	}
	if tableFunctions[name] {
		if schema != "" {
			fc.Funcname = []*pg_query.Node{pg_query.MakeStrNode(name)}
			r.changed = true
		}
		if name == "pg_get_keywords" || name == "pg_options_to_table" {
			fc.Funcname = qualifiedName(CatalogSchema + "." + name)
			r.changed = true
		}
		if err := r.nodes(fc.Args); err != nil {
			return nil, err
		}
		if singleColumn[name] && rf.Alias != nil && len(rf.Alias.Colnames) == 0 {
			rf.Alias.Colnames = []*pg_query.Node{pg_query.MakeStrNode(rf.Alias.Aliasname)}
			if rf.Ordinality {
				rf.Alias.Colnames = append(rf.Alias.Colnames, pg_query.MakeStrNode("ordinality"))
			}
			r.changed = true
		}
		return nil, nil
	}
	// A scalar function in FROM: one row, one column named after the alias
	// (or the function).
	call, err := r.node(items[0])
	if err != nil {
		return nil, err
	}
	alias := rf.Alias
	if alias == nil {
		alias = &pg_query.Alias{Aliasname: name}
	}
	col := alias.Aliasname
	if len(alias.Colnames) > 0 {
		col = alias.Colnames[0].GetString_().GetSval()
	}
	r.changed = true
	sel := &pg_query.SelectStmt{
		TargetList:  []*pg_query.Node{pg_query.MakeResTargetNodeWithNameAndVal(col, call, -1)},
		LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT,
		Op:          pg_query.SetOperation_SETOP_NONE,
	}
	return &pg_query.Node{Node: &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
		Lateral:  rf.Lateral,
		Subquery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}},
		Alias:    &pg_query.Alias{Aliasname: alias.Aliasname, Colnames: []*pg_query.Node{pg_query.MakeStrNode(col)}},
	}}}, nil
}

// funcName returns a function's schema (lower-case, "" when unqualified)
// and name.
func funcName(fc *pg_query.FuncCall) (string, string) {
	parts := fc.Funcname
	name := ""
	if len(parts) > 0 {
		name = parts[len(parts)-1].GetString_().GetSval()
	}
	schema := ""
	if len(parts) > 1 {
		schema = parts[len(parts)-2].GetString_().GetSval()
	}
	return schema, name
}

func qualifiedName(s string) []*pg_query.Node {
	var out []*pg_query.Node
	for _, p := range strings.Split(s, ".") {
		out = append(out, pg_query.MakeStrNode(p))
	}
	return out
}

// checkFunction refuses engine functions that reach files, run SQL or
// change engine state, and functions qualified with another schema.
func checkFunction(schema, name string, pos int) error {
	lname := strings.ToLower(name)
	if deniedFunction(lname) {
		return errorf(CodeInsufficientPriv, pos, "function %s is not allowed: it reaches files or engine internals", name).
			withHint("Queries may read the AllSource tables and the catalog only.")
	}
	switch schema {
	case "", "pg_catalog":
		return nil
	case "information_schema":
		if lname == "_pg_expandarray" {
			return nil
		}
	}
	return errorf(CodeUndefinedFunction, pos, "function %s.%s does not exist", schema, name)
}

// deniedFunction is the statement guard's list (package sqlguard), asked
// here too so a refused function is reported at its position in the
// client's text; the guard still judges the rewritten statement.
// current_setting is answered from the session (see funcs.go), never by
// the engine.
func deniedFunction(name string) bool {
	return !strings.EqualFold(name, "current_setting") && sqlguard.DeniedFunction(name)
}

// Node constructors.

func strConst(s string) *pg_query.Node { return pg_query.MakeAConstStrNode(s, -1) }

func intConst(i int64) *pg_query.Node { return pg_query.MakeAConstIntNode(i, -1) }

func boolConst(b bool) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
		Val: &pg_query.A_Const_Boolval{Boolval: &pg_query.Boolean{Boolval: b}}, Location: -1}}}
}

func nullConst() *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Isnull: true, Location: -1}}}
}

func typeName(name string) *pg_query.TypeName {
	tn := &pg_query.TypeName{Location: -1, Typemod: -1}
	base := strings.TrimSuffix(name, "[]")
	tn.Names = qualifiedName(base)
	if base != name {
		tn.ArrayBounds = []*pg_query.Node{pg_query.MakeIntNode(-1)}
	}
	return tn
}

func castTo(n *pg_query.Node, typ string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: n, TypeName: typeName(typ), Location: -1}}}
}

func nullOf(typ string) *pg_query.Node { return castTo(nullConst(), typ) }

func funcCall(name string, args ...*pg_query.Node) *pg_query.Node {
	return pg_query.MakeFuncCallNode(qualifiedName(name), args, -1)
}

func notExpr(n *pg_query.Node) *pg_query.Node {
	return pg_query.MakeBoolExprNode(pg_query.BoolExprType_NOT_EXPR, []*pg_query.Node{n}, -1)
}

// constText returns the value of a string constant (looking through
// casts), or false.
func constText(n *pg_query.Node) (string, bool) {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_AConst:
		if s, ok := x.AConst.Val.(*pg_query.A_Const_Sval); ok {
			return s.Sval.Sval, true
		}
		if x.AConst.Isnull {
			return "", false
		}
		return constString(x.AConst), true
	case *pg_query.Node_TypeCast:
		return constText(x.TypeCast.Arg)
	}
	return "", false
}

func constBool(n *pg_query.Node) (bool, bool) {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_AConst:
		switch v := x.AConst.Val.(type) {
		case *pg_query.A_Const_Boolval:
			return v.Boolval.Boolval, true
		case *pg_query.A_Const_Sval:
			switch strings.ToLower(v.Sval.Sval) {
			case "t", "true", "on", "yes", "1":
				return true, true
			case "f", "false", "off", "no", "0":
				return false, true
			}
		case *pg_query.A_Const_Ival:
			return v.Ival.Ival != 0, true
		}
	case *pg_query.Node_TypeCast:
		return constBool(x.TypeCast.Arg)
	}
	return false, false
}

func isNullConst(n *pg_query.Node) bool {
	c := n.GetAConst()
	return c != nil && c.Isnull
}

func itoa32(i int32) string { return strconv.Itoa(int(i)) }

// TableFunctionProvider is implemented by sessions that compute table
// functions themselves (analytics: funnel, retention, time_series). The
// arguments are the call's text arguments: constants, or parameters'
// bound values; nil args probe whether the name is the provider's.
// TableShape is the table with its columns only, no rows, for a call of
// nargs arguments described before its parameters are bound.
type TableFunctionProvider interface {
	TableFunction(name string, args []string) (*TableResult, bool, error)
	TableShape(name string, nargs int) (*TableResult, bool, error)
}

// TenantTables is optionally implemented by a Session whose catalog also
// lists relations of its own (a tenant's projections, schema projections),
// besides the server's tables. Catalog relations are then read with the
// rows those add.
type TenantTables interface {
	TenantTables() []Table
}

// ParamBinder is optionally implemented by a Session to give the text of
// parameter $n while a statement is rewritten for execution; ok is false
// while it is being prepared (no values yet).
type ParamBinder interface {
	ParamText(n int) (text string, ok bool)
}

// TableResult is a computed table as a statement of the form
// SELECT * FROM (VALUES …) AS t(columns): the call is replaced by it.
type TableResult struct {
	SQL string
}

// providedTable replaces a provider's table function call by the rows it
// computed, as a VALUES subquery.
func (r *rewriter) providedTable(tp TableFunctionProvider, name string, fc *pg_query.FuncCall, alias *pg_query.Alias, pos int) (*pg_query.Node, bool, error) {
	args := []string{}
	unbound := false
	var consumed []int32 // parameters whose values are arguments
	for _, a := range fc.Args {
		p := a.GetParamRef()
		if tc := a.GetTypeCast(); tc != nil && tc.Arg.GetParamRef() != nil {
			p = tc.Arg.GetParamRef()
		}
		if p != nil {
			// A parameter: its bound value when executing; while
			// preparing, the table's columns only.
			consumed = append(consumed, p.Number)
			if pb, ok := r.sess.(ParamBinder); ok {
				if text, ok := pb.ParamText(int(p.Number)); ok {
					args = append(args, text)
					continue
				}
			}
			unbound = true
			continue
		}
		c := a.GetAConst()
		if c == nil || c.GetSval() == nil {
			if tc := a.GetTypeCast(); tc != nil && tc.Arg.GetAConst().GetSval() != nil {
				c = tc.Arg.GetAConst()
			} else {
				// Not a provider call with text arguments: leave it to
				// the usual checks (the provider may not know the name).
				if _, handled, _ := tp.TableFunction(name, nil); !handled {
					return nil, false, nil
				}
				return nil, true, errorf(CodeInvalidParameter, pos, "%s takes its arguments as text constants or parameters, e.g. %s('{\"steps\": [\"a\", \"b\"]}')", name, name)
			}
		}
		args = append(args, c.GetSval().Sval)
	}
	var res *TableResult
	var handled bool
	var err error
	if unbound {
		res, handled, err = tp.TableShape(name, len(fc.Args))
	} else {
		res, handled, err = tp.TableFunction(name, args)
	}
	if !handled {
		return nil, false, nil
	}
	if err == nil && res == nil {
		err = fmt.Errorf("takes one argument, the question as JSON text")
	}
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) { // the provider chose the code (permission denied …)
			return nil, true, pe
		}
		e := errorf(CodeInvalidParameter, pos, "%s: %v", name, err)
		return nil, true, e
	}
	r.changed, r.sessionDep = true, true
	sql := res.SQL
	if len(consumed) > 0 {
		// The parameter stays in the statement, so the engine numbers
		// and types the others as the client does.
		var refs []string
		for _, n := range consumed {
			refs = append(refs, fmt.Sprintf("CAST($%d AS varchar) IS NULL", n))
		}
		sql = "SELECT * FROM (SELECT * FROM (" + sql + ") AS _v WHERE (" + strings.Join(refs, " OR ") + ") OR true) AS _t"
	}
	tree, perr := pg_query.Parse(sql)
	if perr != nil {
		return nil, true, errorf(CodeInternal, pos, "%s: %v", name, perr)
	}
	node := tree.Stmts[0].Stmt.GetSelectStmt().FromClause[0]
	sub := node.GetRangeSubselect()
	if alias != nil {
		sub.Alias.Aliasname = alias.Aliasname
		if len(alias.Colnames) > 0 {
			sub.Alias.Colnames = alias.Colnames
		}
	} else {
		// The call's name, unless the engine reserves it (PIVOT).
		sub.Alias.Aliasname = name
		if name == "pivot" || name == "unpivot" {
			sub.Alias.Aliasname = name + "_table"
		}
	}
	return node, true, nil
}
