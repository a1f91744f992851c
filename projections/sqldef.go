package projections

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/allsource/allsource"
)

// A SQL projection is one grouped SELECT over events:
//
//	SELECT <group expressions and aggregates> FROM events [AS e]
//	[WHERE <row filter>] [GROUP BY <expressions>]
//
// Its state is a table with a row per group, kept current batch by batch:
// each batch's partial aggregates are merged into the rows (count, sum,
// min, max, avg, count(DISTINCT), first and last, each with an optional
// FILTER). Expressions are the engine's, so anything that runs over events
// runs here.

// sqlColumn is one column of a SQL projection, in select-list order.
type sqlColumn struct {
	name string
	agg  string // "" for a group expression; count, count_distinct, sum, min, max, avg, first, last
	arg  string // the argument (SQL); "" for count(*)
	filt string // the FILTER condition; "" for none
	expr string // a group expression's SQL
}

// sqlDef is a parsed SQL projection.
type sqlDef struct {
	alias  string // of events in FROM ("events" when none)
	where  string // "" for none
	groups []string
	cols   []sqlColumn
	uses   map[string]bool // the event columns it names
}

var aggNames = map[string]string{
	"count": "count", "sum": "sum", "min": "min", "max": "max", "avg": "avg", "mean": "avg",
	"first": "first", "first_value": "first", "last": "last", "last_value": "last",
}

// parseSQLDef parses a projection's SELECT. Errors name what is wrong and
// where (1-based character position in the statement).
func parseSQLDef(src string) (*sqlDef, error) {
	res, err := pg_query.Parse(src)
	if err != nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: %v", err)
	}
	if len(res.Stmts) != 1 {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: want one SELECT, got %d statements", len(res.Stmts))
	}
	ver := res.Version
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: want SELECT … FROM events … GROUP BY …")
	}
	bad := func(what string) error {
		return allsource.Errorf(allsource.CodeInvalid, "projection SQL: %s is not allowed in a projection (query the projection with it instead)", what)
	}
	switch {
	case sel.Op != pg_query.SetOperation_SETOP_NONE:
		return nil, bad("UNION/INTERSECT/EXCEPT")
	case sel.WithClause != nil:
		return nil, bad("WITH")
	case len(sel.DistinctClause) > 0:
		return nil, bad("SELECT DISTINCT")
	case sel.HavingClause != nil:
		return nil, bad("HAVING")
	case len(sel.SortClause) > 0:
		return nil, bad("ORDER BY")
	case sel.LimitCount != nil || sel.LimitOffset != nil:
		return nil, bad("LIMIT/OFFSET")
	case len(sel.WindowClause) > 0:
		return nil, bad("WINDOW")
	case sel.IntoClause != nil:
		return nil, bad("INTO")
	}
	if len(sel.FromClause) != 1 || sel.FromClause[0].GetRangeVar() == nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: FROM must name events alone (no joins or subqueries)")
	}
	rv := sel.FromClause[0].GetRangeVar()
	if rv.Relname != "events" || (rv.Schemaname != "" && rv.Schemaname != "public") || rv.Catalogname != "" {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: FROM %s: a projection reads events", rv.Relname)
	}
	if what := forbiddenNode(res); what != "" {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: %s is not allowed in a projection (it reads only the events of its batch)", what)
	}
	d := &sqlDef{alias: "events", uses: columnNames(res)}
	for n := range d.uses {
		// Not a column of events; the statements the projection runs
		// use such names for their own tables.
		if strings.HasPrefix(n, "_") {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: events has no column %s", n)
		}
	}
	if rv.Alias != nil {
		d.alias = rv.Alias.Aliasname
	}
	if sel.WhereClause != nil {
		if d.where, err = deparseExpr(ver, sel.WhereClause); err != nil {
			return nil, err
		}
		if hasAggregate(sel.WhereClause) {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: aggregates are not allowed in WHERE")
		}
	}
	for _, g := range sel.GroupClause {
		if g.GetGroupingSet() != nil {
			return nil, bad("GROUPING SETS/ROLLUP/CUBE")
		}
		if c := g.GetAConst(); c != nil && c.GetIval() != nil {
			n := int(c.GetIval().Ival)
			if n < 1 || n > len(sel.TargetList) {
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: GROUP BY position %d is not in the select list", n)
			}
			g = sel.TargetList[n-1].GetResTarget().Val
		}
		s, err := deparseExpr(ver, g)
		if err != nil {
			return nil, err
		}
		d.groups = append(d.groups, s)
	}
	usedGroups := map[string]bool{}
	names := map[string]bool{}
	nAgg := 0
	for i, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Val == nil {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d is not an expression", i+1)
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: * is not allowed; name the group columns and aggregates", i+1)
		}
		col := sqlColumn{name: rt.Name}
		if fc := rt.Val.GetFuncCall(); fc != nil && aggName(fc) != "" {
			col.agg = aggName(fc)
			if fc.AggDistinct {
				if col.agg != "count" {
					return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: DISTINCT is maintained for count only", i+1)
				}
				col.agg = "count_distinct"
			}
			if len(fc.AggOrder) > 0 || fc.Over != nil || fc.AggWithinGroup {
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: ORDER BY, OVER and WITHIN GROUP are not allowed in a projection's aggregates (first and last follow seq)", i+1)
			}
			switch {
			case fc.AggStar:
				if col.agg != "count" {
					return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: %s(*) is not valid", i+1, col.agg)
				}
			case len(fc.Args) != 1:
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: %s takes one argument", i+1, col.agg)
			default:
				if hasAggregate(fc.Args[0]) {
					return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: aggregates cannot be nested", i+1)
				}
				if col.arg, err = deparseExpr(ver, fc.Args[0]); err != nil {
					return nil, err
				}
			}
			if fc.AggFilter != nil {
				if col.filt, err = deparseExpr(ver, fc.AggFilter); err != nil {
					return nil, err
				}
			}
			if col.name == "" {
				col.name = strings.TrimSuffix(col.agg, "_distinct")
			}
			nAgg++
		} else {
			if hasAggregate(rt.Val) {
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d: an aggregate inside an expression is not maintained incrementally; select the aggregates and combine them when reading", i+1)
			}
			if col.expr, err = deparseExpr(ver, rt.Val); err != nil {
				return nil, err
			}
			found := false
			for _, g := range d.groups {
				if g == col.expr {
					found, usedGroups[g] = true, true
				}
			}
			if !found {
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d (%s) must be an aggregate or appear in GROUP BY", i+1, col.expr)
			}
			if col.name == "" {
				col.name = exprName(rt.Val)
			}
			if col.name == "" {
				return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: select item %d (%s) needs a name: add AS <name>", i+1, col.expr)
			}
		}
		if names[strings.ToLower(col.name)] {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: column name %q is used twice; rename one with AS", col.name)
		}
		if strings.HasPrefix(col.name, "_") {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: column name %q: names starting with _ are reserved", col.name)
		}
		names[strings.ToLower(col.name)] = true
		d.cols = append(d.cols, col)
	}
	if nAgg == 0 {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: a projection needs at least one aggregate (count, sum, min, max, avg, count(DISTINCT …), first, last)")
	}
	for _, g := range d.groups {
		if !usedGroups[g] {
			return nil, allsource.Errorf(allsource.CodeInvalid, "projection SQL: GROUP BY %s must also be selected (it names the rows of the projection)", g)
		}
	}
	return d, nil
}

// walkParse calls visit for every message of a parse tree, depth first,
// until visit returns false.
func walkParse(res *pg_query.ParseResult, visit func(m protoreflect.Message) bool) {
	walkMessages(res.ProtoReflect(), visit)
}

// walkMessages calls visit for m and every message below it, depth first,
// until visit returns false.
func walkMessages(root protoreflect.Message, visit func(m protoreflect.Message) bool) {
	more := true
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if !more {
			return
		}
		if more = visit(m); !more {
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
				for i := 0; i < v.List().Len() && more; i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
				walk(v.Message())
			}
			return more
		})
	}
	walk(root)
}

// columnNames collects the names in every column reference of a parse.
func columnNames(res *pg_query.ParseResult) map[string]bool {
	names := map[string]bool{}
	walkParse(res, func(m protoreflect.Message) bool {
		if cr, ok := m.Interface().(*pg_query.ColumnRef); ok {
			for _, f := range cr.Fields {
				if s := f.GetString_(); s != nil {
					names[strings.ToLower(s.Sval)] = true
				}
			}
		}
		return true
	})
	return names
}

// forbiddenNode names the first subquery or table function anywhere in a
// parse ("" for none): a projection's expressions read the event of their
// row only.
func forbiddenNode(res *pg_query.ParseResult) string {
	found := ""
	walkParse(res, func(m protoreflect.Message) bool {
		switch m.Interface().(type) {
		case *pg_query.SubLink, *pg_query.RangeSubselect:
			found = "a subquery"
		case *pg_query.RangeFunction, *pg_query.RangeTableFunc:
			found = "a table function"
		case *pg_query.CommonTableExpr:
			found = "WITH"
		}
		return found == ""
	})
	return found
}

func aggName(fc *pg_query.FuncCall) string {
	if len(fc.Funcname) == 0 {
		return ""
	}
	return aggNames[strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())]
}

// hasAggregate reports whether an expression calls an aggregate.
func hasAggregate(n *pg_query.Node) bool {
	if n == nil {
		return false
	}
	found := false
	walkMessages(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if fc, ok := m.Interface().(*pg_query.FuncCall); ok && (aggName(fc) != "" || fc.AggStar) {
			found = true
		}
		return !found
	})
	return found
}

// exprName is the column name a group expression gets without AS: a
// column's name, or the key of payload->>'key'.
func exprName(n *pg_query.Node) string {
	if tc := n.GetTypeCast(); tc != nil {
		return exprName(tc.Arg)
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) > 0 {
		return cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
	}
	if ae := n.GetAExpr(); ae != nil && len(ae.Name) == 1 {
		op := ae.Name[0].GetString_().GetSval()
		if op == "->>" || op == "->" {
			if c := ae.Rexpr.GetAConst(); c != nil && c.GetSval() != nil {
				return strings.TrimPrefix(c.GetSval().Sval, "$.")
			}
		}
	}
	return ""
}

// deparseExpr prints an expression as SQL.
func deparseExpr(ver int32, n *pg_query.Node) (string, error) {
	res := &pg_query.ParseResult{Version: ver, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}},
	}}}}}}
	s, err := pg_query.Deparse(res)
	if err != nil {
		return "", allsource.Errorf(allsource.CodeInvalid, "projection SQL: %v", err)
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlStatements are what a SQL projection runs, for a state table name.
type sqlStatements struct {
	delta     string   // the SELECT of one batch's partial aggregates (over events)
	upsert    string   // merges the delta into the state table
	distinct  []string // per count(DISTINCT): inserts the batch's (key, value) pairs
	checks    []string // the SELECTs over events these run, for the query checks
	view      string   // the published SELECT over the state table
	stateCols []string // the state table's columns, for restore
	// prepare says the upsert may run as a prepared statement. DuckDB
	// (1.5) gets a prepared INSERT … ON CONFLICT DO UPDATE wrong from its
	// second run on when a SET expression branches on the existing row
	// (CASE, if(), a list index: it takes the new value as if the row's
	// were NULL), so merges are written with coalesce, least and
	// greatest, and the upsert is prepared only when no merge branches
	// (first and last do: a NULL first value is not "none yet").
	prepare bool
}

// statements builds d's SQL for state table t (in schema _proj).
func (d *sqlDef) statements(t string) sqlStatements {
	st := sqlStatements{prepare: true}
	key := "''"
	if len(d.groups) > 0 {
		key = "CAST(json_array(" + strings.Join(d.groups, ", ") + ") AS VARCHAR)"
	}
	var sel, set, view []string
	sel = append(sel, key+" AS _key")
	filtered := func(agg, f string) string {
		if f == "" {
			return agg
		}
		return agg + " FILTER (WHERE " + f + ")"
	}
	var joins []string
	// plain replaces items of sel in the delta the query checks see (no
	// side tables: user statements may not name them).
	plain := map[int]string{}
	for i, c := range d.cols {
		n := quoteIdent(c.name)
		switch c.agg {
		case "":
			sel = append(sel, c.expr+" AS "+n)
			view = append(view, n)
		case "count":
			arg := "*"
			if c.arg != "" {
				arg = c.arg
			}
			sel = append(sel, filtered("count("+arg+")", c.filt)+" AS "+n)
			set = append(set, fmt.Sprintf("%s = s.%s + excluded.%s", n, n, n))
			view = append(view, n)
		case "count_distinct":
			// The values seen per key are kept in a side table; a batch
			// counts its values the side table does not hold yet (a join
			// in the delta), then adds them (in the same transaction).
			alias, side := quoteIdent(fmt.Sprintf("_d%d", i)), quoteIdent(fmt.Sprintf("%s_d%d", t, i))
			joins = append(joins, fmt.Sprintf(" LEFT JOIN _proj.%s AS %s ON %s._key = %s AND %s._v = (%s)", side, alias, alias, key, alias, c.arg))
			isNew := alias + "._key IS NULL"
			if c.filt != "" {
				isNew = "(" + c.filt + ") AND " + isNew
			}
			plain[len(sel)] = "CAST(0 AS BIGINT) AS " + n
			sel = append(sel, "count(DISTINCT "+c.arg+") FILTER (WHERE "+isNew+") AS "+n)
			set = append(set, fmt.Sprintf("%s = s.%s + excluded.%s", n, n, n))
			view = append(view, n)
			cond := "(" + c.arg + ") IS NOT NULL"
			if d.where != "" {
				cond = "(" + d.where + ") AND " + cond
			}
			if c.filt != "" {
				cond += " AND (" + c.filt + ")"
			}
			pairs := fmt.Sprintf("SELECT DISTINCT %s, %s FROM events AS %s WHERE %s", key, c.arg, quoteIdent(d.alias), cond)
			st.distinct = append(st.distinct, "INSERT INTO _proj."+side+" "+pairs+" ON CONFLICT DO NOTHING")
			st.checks = append(st.checks, pairs)
		case "sum":
			sel = append(sel, filtered("sum("+c.arg+")", c.filt)+" AS "+n)
			// A sum is NULL until a value comes: the known one, or both added.
			set = append(set, fmt.Sprintf("%s = coalesce(s.%s + excluded.%s, s.%s, excluded.%s)", n, n, n, n, n))
			view = append(view, n)
		case "min", "max":
			// The engine's least and greatest skip NULLs.
			pick := map[string]string{"min": "least", "max": "greatest"}[c.agg]
			sel = append(sel, filtered(c.agg+"("+c.arg+")", c.filt)+" AS "+n)
			set = append(set, fmt.Sprintf("%s = %s(s.%s, excluded.%s)", n, pick, n, n))
			view = append(view, n)
		case "avg":
			s, k := quoteIdent(fmt.Sprintf("_s%d", i)), quoteIdent(fmt.Sprintf("_n%d", i))
			sel = append(sel, filtered("sum(CAST("+c.arg+" AS DOUBLE))", c.filt)+" AS "+s, filtered("count("+c.arg+")", c.filt)+" AS "+k)
			set = append(set, fmt.Sprintf("%s = coalesce(s.%s + excluded.%s, s.%s, excluded.%s)", s, s, s, s, s),
				fmt.Sprintf("%s = s.%s + excluded.%s", k, k, k))
			view = append(view, fmt.Sprintf("%s / NULLIF(%s, 0) AS %s", s, k, n))
		case "first", "last":
			st.prepare = false
			m := quoteIdent(fmt.Sprintf("_q%d", i))
			if c.agg == "first" {
				sel = append(sel, filtered("first("+c.arg+" ORDER BY seq)", c.filt)+" AS "+n, filtered("min(seq)", c.filt)+" AS "+m)
				set = append(set, fmt.Sprintf("%s = CASE WHEN s.%s IS NULL THEN excluded.%s ELSE s.%s END", n, m, n, n),
					fmt.Sprintf("%s = coalesce(s.%s, excluded.%s)", m, m, m))
			} else {
				sel = append(sel, filtered("last("+c.arg+" ORDER BY seq)", c.filt)+" AS "+n, filtered("max(seq)", c.filt)+" AS "+m)
				set = append(set, fmt.Sprintf("%s = CASE WHEN excluded.%s IS NULL THEN s.%s ELSE excluded.%s END", n, m, n, n),
					fmt.Sprintf("%s = coalesce(excluded.%s, s.%s)", m, m, m))
			}
			view = append(view, n)
		}
	}
	sel = append(sel, "max(seq) AS _seq", `max("timestamp") AS _last_event_at`)
	set = append(set, "_seq = excluded._seq", "_last_event_at = greatest(s._last_event_at, excluded._last_event_at)")
	where := ""
	if d.where != "" {
		where = " WHERE " + d.where
	}
	group := ""
	if len(d.groups) > 0 {
		group = " GROUP BY " + strings.Join(d.groups, ", ")
	}
	st.delta = "SELECT " + strings.Join(sel, ", ") + " FROM events AS " + quoteIdent(d.alias) + strings.Join(joins, "") + where + group
	checked := slices.Clone(sel)
	for i, p := range plain {
		checked[i] = p
	}
	st.checks = append([]string{"SELECT " + strings.Join(checked, ", ") + " FROM events AS " + quoteIdent(d.alias) + where + group}, st.checks...)
	st.upsert = "INSERT INTO _proj." + quoteIdent(t) + " AS s " + st.delta + " ON CONFLICT (_key) DO UPDATE SET " + strings.Join(set, ", ")
	st.view = "SELECT " + strings.Join(view, ", ") + " FROM _proj." + quoteIdent(t)
	return st
}
