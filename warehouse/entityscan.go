package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// Statements that pin entity_id read the entity index, not every file.
//
// A SELECT whose FROM is the events view alone and whose WHERE holds, at
// its top level, entity_id = a constant or a parameter (or entity_id IN a
// list of them, = ANY(a list), list_contains(a list, entity_id)), is run
// with the view replaced by entityScanMacro(the list of values): a table
// function over those entities' streams (the entity index and the hot
// tier, as EntityEvents reads them). The rest of the statement (other conditions,
// ORDER BY, LIMIT, aggregates) runs on those rows as it would on the view,
// so the answer is the same (TestEntityScanMatchesView runs statements
// both ways). A tenant's own instance's function reads that tenant's
// streams only; the main instance's, every tenant's (or every tenant's
// but the server's own, for AllTenants statements). Statements under a
// read restriction read the view.
const (
	entityScanFunc  = "_allsource_entity_scan"
	entityScanMacro = "_allsource_entity_events"
)

// entityScanSetup is what an instance runs to have the macro: the view's
// columns and types over the function's. The driver hands a table
// function neither lists nor NULLs, so the list of entity ids arrives as
// JSON text; a NULL list is the empty one, and NULL ids are no entity's
// (entity_id = NULL holds for no row).
var entityScanSetup = `CREATE MACRO ` + entityScanMacro + `(e) AS TABLE SELECT seq, id, tenant_id, entity_id, event_type, version,
	"timestamp", ingested_at, payload::JSON AS payload, metadata::JSON AS metadata
	FROM ` + entityScanFunc + `(coalesce(CAST(to_json(CAST(e AS VARCHAR[])) AS VARCHAR), '[]'))`

// registerEntityScan gives tenant's instance the entity scan function.
func (w *Warehouse) registerEntityScan(ctx context.Context, e *engine, tenant string) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	str, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	err = duckdb.RegisterTableUDF(conn, entityScanFunc, duckdb.RowTableFunction{
		Config: duckdb.TableFunctionConfig{Arguments: []duckdb.TypeInfo{str}},
		BindArgumentsContext: func(ctx context.Context, _ map[string]any, args ...any) (duckdb.RowTableSource, error) {
			list, _ := args[0].(string)
			var ids []*string
			if err := json.Unmarshal([]byte(list), &ids); err != nil {
				return nil, fmt.Errorf("warehouse: entity scan: %w", err)
			}
			s := &entityScan{ctx: ctx, w: w, tenant: tenant}
			seen := map[string]bool{}
			for _, id := range ids {
				if id != nil && *id != "" && !seen[*id] {
					seen[*id] = true
					s.entities = append(s.entities, *id)
				}
			}
			if tenant == allScopes {
				// The main instance serves the statements of every tenant
				// (allScopes) and of every tenant but the server's own
				// (AllTenants): its statements are bound in one scope.
				s.scope = scopeOf(ctx).tenant
			}
			return s, nil
		},
	})
	if err != nil {
		return fmt.Errorf("warehouse: register the entity scan: %w", err)
	}
	_, err = conn.ExecContext(ctx, entityScanSetup)
	return err
}

// entityScan is one execution's rows: read when the execution starts, so
// a statement prepared once sees the stream as it is each time it runs.
type entityScan struct {
	ctx      context.Context // the statement's: a cancelled one stops the read
	w        *Warehouse
	tenant   string // allScopes: scope says whose
	scope    string
	entities []string // distinct, in the order given

	// A stream is read a page at a time, so a statement over a long one
	// holds at most a page, not the whole stream.
	streams []entityStream // in turn
	from    uint64         // the next page's first version in streams[0]
	page    []EntityEvent
	next    int
	err     error
}

// entityStream names one tenant's stream of one entity.
type entityStream struct{ tenant, entity string }

// entityScanPage is how many events the entity scan holds at once (tests
// make it small to read streams over several pages).
var entityScanPage = 10_000

func (s *entityScan) ColumnInfos() []duckdb.ColumnInfo {
	t := func(ty duckdb.Type) duckdb.TypeInfo { ti, _ := duckdb.NewTypeInfo(ty); return ti }
	return []duckdb.ColumnInfo{
		{Name: "seq", T: t(duckdb.TYPE_BIGINT)}, {Name: "id", T: t(duckdb.TYPE_VARCHAR)},
		{Name: "tenant_id", T: t(duckdb.TYPE_VARCHAR)}, {Name: "entity_id", T: t(duckdb.TYPE_VARCHAR)},
		{Name: "event_type", T: t(duckdb.TYPE_VARCHAR)}, {Name: "version", T: t(duckdb.TYPE_BIGINT)},
		{Name: "timestamp", T: t(duckdb.TYPE_TIMESTAMP_TZ)}, {Name: "ingested_at", T: t(duckdb.TYPE_TIMESTAMP_TZ)},
		{Name: "payload", T: t(duckdb.TYPE_VARCHAR)}, {Name: "metadata", T: t(duckdb.TYPE_VARCHAR)},
	}
}

func (s *entityScan) Cardinality() *duckdb.CardinalityInfo { return nil }

// entityScanOff turns the rewrite and point reads off (for tests, which
// compare both ways).
var entityScanOff atomic.Bool

func (s *entityScan) Init() {
	s.w.entityScans.Add(1)
	s.page, s.next, s.err, s.from, s.streams = nil, 0, nil, 0, nil
	tenants := []string{s.tenant}
	if s.tenant == allScopes {
		tenants = s.w.tenantsHolding(s.scope == allsource.AllTenants)
	}
	s.streams = streamsOf(tenants, s.entities)
}

// streamsOf is every tenant's stream of every entity, tenant by tenant.
func streamsOf(tenants, entities []string) []entityStream {
	out := make([]entityStream, 0, len(tenants)*len(entities))
	for _, t := range tenants {
		for _, e := range entities {
			out = append(out, entityStream{t, e})
		}
	}
	return out
}

// fill reads the next page, moving on to the next stream when one ends; false when every stream is read.
func (s *entityScan) fill() bool {
	for len(s.streams) > 0 {
		if s.err = s.ctx.Err(); s.err != nil {
			return false
		}
		st := s.streams[0]
		page, ok, err := s.w.indexedEntityEvents(allsource.WithTenantScope(context.Background(), st.tenant), st.tenant, st.entity, s.from, entityScanPage, nil)
		switch {
		case err != nil:
			s.err = err
		case !ok:
			s.err = errIndexBehind
		}
		if s.err != nil {
			return false
		}
		if len(page) < entityScanPage {
			s.streams, s.from = s.streams[1:], 0
		} else {
			s.from = page[len(page)-1].Version + 1
		}
		if len(page) > 0 {
			s.page, s.next = page, 0
			return true
		}
	}
	return false
}

// errIndexBehind ends a statement reading the entity index when the index
// no longer covers the files of the version it reads.
var errIndexBehind = errors.New("the entity index is behind the files (a failed flush step); it is rebuilt at the next start-up")

// tenantsHolding lists the tenants with events in the files or the hot
// tier (without the server's own, reserved ones when exceptReserved). The
// list is kept until the files or the set of tenants appending change;
// callers must not modify it.
func (w *Warehouse) tenantsHolding(exceptReserved bool) []string {
	w.mu.Lock()
	cur := w.cur
	w.mu.Unlock()
	w.tenantMu.Lock()
	defer w.tenantMu.Unlock()
	// tenantSeq only grows, so its size tells whether a tenant was added.
	l := &w.tenants
	if l.version != cur || l.appending != len(w.tenantSeq) {
		seen := map[string]bool{}
		for _, f := range cur.files {
			seen[f.Tenant] = true
		}
		for t := range w.tenantSeq {
			seen[t] = true
		}
		l.all, l.users = l.all[:0:0], nil
		for t := range seen {
			l.all = append(l.all, t)
			if !allsource.Reserved(t) {
				l.users = append(l.users, t)
			}
		}
		slices.Sort(l.all)
		slices.Sort(l.users)
		l.version, l.appending = cur, len(w.tenantSeq)
	}
	if exceptReserved {
		return l.users
	}
	return l.all
}

// tenantList is the tenants holding events as of a version of the files
// and a number of tenants appending since start.
type tenantList struct {
	version    *version
	appending  int
	all, users []string
}

func (s *entityScan) FillRow(r duckdb.Row) (ok bool, err error) {
	// Called from inside the engine: a panic here would end the process,
	// so it ends the statement instead.
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("warehouse: entity scan: %v", p)
		}
	}()
	if s.next >= len(s.page) && !s.fill() {
		return false, s.err
	}
	e := &s.page[s.next]
	s.next++
	// Only the columns the statement reads (count(*) reads none): the
	// driver builds an error value for every other column it is handed.
	for i := 0; i < numFields; i++ {
		if r.IsProjected(i) {
			if err := r.SetRowValue(i, fieldValue(e, pointCol{field: i, conv: convText})); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// entityRewrites caches the rewritten text of statements ("" when a
// statement does not pin entity_id); the text does not depend on who runs
// it.
var entityRewrites struct {
	sync.Mutex
	m map[string]entityRewrite
}

// entityRewrite is what a statement's text becomes: its rewrite ("" when
// it does not pin entity_id) and its point read plan (nil when it is not
// one).
type entityRewrite struct {
	sql  string
	plan *pointPlan
}

// entityScanRewrite returns q with the events view replaced by the entity
// scan when q pins entity_id and ctx's statements may use it, else q.
func (w *Warehouse) entityScanRewrite(ctx context.Context, conn *sql.Conn, q string) string {
	sc := scopeOf(ctx)
	r := sc.restrict
	if w.index == nil || entityScanOff.Load() ||
		len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		return q
	}
	lower := strings.ToLower(q)
	if !strings.Contains(lower, "entity_id") || !strings.Contains(lower, "events") {
		return q
	}
	w.mu.Lock()
	behind := w.index.indexed.Load() < w.cur.watermark
	w.mu.Unlock()
	if behind {
		return q
	}
	entityRewrites.Lock()
	rw, ok := entityRewrites.m[q]
	entityRewrites.Unlock()
	if !ok {
		rw = pinnedEntityRewrite(ctx, conn, q)
		entityRewrites.Lock()
		if entityRewrites.m == nil || len(entityRewrites.m) >= checkCacheSize {
			entityRewrites.m = map[string]entityRewrite{}
		}
		entityRewrites.m[q] = rw
		entityRewrites.Unlock()
	}
	if rw.sql == "" {
		return q
	}
	return rw.sql
}

// cachedEntityRewrite is the rewrite of q decided before, or "".
func cachedEntityRewrite(q string) string {
	entityRewrites.Lock()
	defer entityRewrites.Unlock()
	return entityRewrites.m[q].sql
}

// pinnedEntityRewrite does the rewrite on the engine's parse tree, and
// recognises a point read (see pointPlanOf). The rewrite is "" when q is
// not one SELECT over the events view alone with an entity_id = value
// condition at the top of its WHERE.
func pinnedEntityRewrite(ctx context.Context, conn *sql.Conn, q string) (rw entityRewrite) {
	var tree string
	if conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql("+sqlString(q)+") AS VARCHAR)").Scan(&tree) != nil {
		return rw
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(tree))
	dec.UseNumber() // locations are uint64s a float64 would round
	if dec.Decode(&doc) != nil || doc["error"] != false {
		return rw
	}
	stmts, _ := doc["statements"].([]any)
	if len(stmts) != 1 {
		return rw
	}
	node, _ := stmts[0].(map[string]any)["node"].(map[string]any)
	rw.plan = pointPlanOf(node) // before the rewrite changes the tree
	if !rewriteSelect(node) {
		return rw
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return rw
	}
	if conn.QueryRowContext(ctx, "SELECT json_deserialize_sql("+sqlString(string(b))+"::JSON)").Scan(&rw.sql) != nil {
		rw.sql = ""
	}
	return rw
}

// rewriteSelect replaces, in a SELECT or the subqueries it reads from, a
// read of the events view whose rows the SELECT's WHERE pins to one
// entity by the entity scan of that entity. The events view may be read
// directly (FROM events) or through a subquery that only picks and casts
// its columns (as the Postgres front end reads it), entity_id among them
// as it is. Anything else is left alone (false).
func rewriteSelect(node map[string]any) bool {
	if node == nil || node["type"] != "SELECT_NODE" {
		return false
	}
	if ctes, _ := node["cte_map"].(map[string]any); ctes != nil {
		if m, _ := ctes["map"].([]any); len(m) > 0 {
			return false // a CTE could be named events
		}
	}
	from, _ := node["from_table"].(map[string]any)
	if from == nil || from["sample"] != nil {
		return false
	}
	alias, _ := from["alias"].(string)
	if v := pinnedEntities(node["where_clause"], alias); v != nil {
		if isEventsView(from) {
			node["from_table"] = entityScanNode(from, v)
			return true
		}
		if inner := subqueryNode(from); inner != nil && passesEventsThrough(inner) {
			inner["from_table"] = entityScanNode(inner["from_table"].(map[string]any), v)
			return true
		}
	}
	if inner := subqueryNode(from); inner != nil {
		return rewriteSelect(inner) // the same answer whatever reads it
	}
	return false
}

func isEventsView(from map[string]any) bool {
	return from["type"] == "BASE_TABLE" && from["table_name"] == "events" && from["schema_name"] == "" && from["catalog_name"] == "" && from["sample"] == nil
}

func subqueryNode(from map[string]any) map[string]any {
	if from["type"] != "SUBQUERY" {
		return nil
	}
	sq, _ := from["subquery"].(map[string]any)
	node, _ := sq["node"].(map[string]any)
	return node
}

// passesEventsThrough reports whether node is SELECT <columns> FROM events
// and nothing more: each item a column or a cast of one, entity_id passed
// on unchanged.
func passesEventsThrough(node map[string]any) bool {
	if node["type"] != "SELECT_NODE" || node["where_clause"] != nil || node["having"] != nil || node["qualify"] != nil || node["sample"] != nil {
		return false
	}
	if mods, _ := node["modifiers"].([]any); len(mods) > 0 {
		return false
	}
	if groups, _ := node["group_expressions"].([]any); len(groups) > 0 {
		return false
	}
	if ctes, _ := node["cte_map"].(map[string]any); ctes != nil {
		if m, _ := ctes["map"].([]any); len(m) > 0 {
			return false
		}
	}
	from, _ := node["from_table"].(map[string]any)
	if from == nil || !isEventsView(from) {
		return false
	}
	items, _ := node["select_list"].([]any)
	entity := false
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m == nil {
			return false
		}
		col := m
		if m["class"] == "CAST" {
			col, _ = m["child"].(map[string]any)
			if col == nil {
				return false
			}
		}
		if col["class"] != "COLUMN_REF" {
			return false
		}
		names, _ := col["column_names"].([]any)
		if m["class"] == "COLUMN_REF" && len(names) == 1 && names[0] == "entity_id" && (m["alias"] == "" || m["alias"] == "entity_id") {
			entity = true
		} else if m["alias"] == "entity_id" {
			return false // another column named entity_id
		}
	}
	return entity
}

// entityScanNode is the FROM item reading the entity scan of value, under
// the alias the events view had (or events, so events.column still names
// the rows).
func entityScanNode(from map[string]any, value any) map[string]any {
	alias, _ := from["alias"].(string)
	if alias == "" {
		alias = "events"
	}
	return map[string]any{
		"type": "TABLE_FUNCTION", "alias": alias, "sample": nil, "query_location": from["query_location"],
		"column_name_alias": []any{}, "with_ordinality": "WITHOUT_ORDINALITY",
		"function": functionNode(entityScanMacro, []any{value}, from["query_location"]),
	}
}

// functionNode is a call of a function in the parse tree's form.
func functionNode(name string, args []any, location any) map[string]any {
	return map[string]any{
		"class": "FUNCTION", "type": "FUNCTION", "alias": "", "query_location": location,
		"function_name": name, "schema": "", "children": args, "filter": nil,
		"order_bys": map[string]any{"type": "ORDER_MODIFIER", "orders": []any{}}, "distinct": false,
		"is_operator": false, "export_state": false, "catalog": "",
	}
}

// pinnedEntities finds, among the top-level conjuncts of where, one that
// pins entity_id to a list of values, and returns that list's node:
// entity_id = v, entity_id IN (v, ...), entity_id = ANY(list),
// list_contains(list, entity_id), where each v is a text constant or a
// parameter and a list is a parameter or a constant.
func pinnedEntities(where any, alias string) any {
	w, _ := where.(map[string]any)
	if w == nil {
		return nil
	}
	isEntity := func(n any) bool {
		m, _ := n.(map[string]any)
		if m == nil || m["class"] != "COLUMN_REF" {
			return false
		}
		names, _ := m["column_names"].([]any)
		switch len(names) {
		case 1:
			return names[0] == "entity_id"
		case 2:
			return names[1] == "entity_id" && (names[0] == alias || (alias == "" && names[0] == "events"))
		}
		return false
	}
	isValue := func(n any) bool {
		m, _ := n.(map[string]any)
		if m == nil {
			return false
		}
		if m["class"] == "PARAMETER" {
			return true
		}
		if m["class"] != "CONSTANT" {
			return false
		}
		v, _ := m["value"].(map[string]any)
		t, _ := v["type"].(map[string]any)
		return t != nil && t["id"] == "VARCHAR" && v["is_null"] == false
	}
	isList := func(n any) bool {
		m, _ := n.(map[string]any)
		if m == nil {
			return false
		}
		switch m["class"] {
		case "PARAMETER":
			return true
		case "FUNCTION": // ['a', 'b']
			args, _ := m["children"].([]any)
			for _, a := range args {
				if !isValue(a) {
					return false
				}
			}
			return m["function_name"] == "list_value" && (m["schema"] == "" || m["schema"] == "main") && len(args) > 0
		}
		v, _ := m["value"].(map[string]any)
		t, _ := v["type"].(map[string]any)
		return m["class"] == "CONSTANT" && t != nil && (t["id"] == "LIST" || t["id"] == "VARCHAR")
	}
	list := func(vals ...any) any { return functionNode("list_value", vals, w["query_location"]) }
	switch w["type"] {
	case "CONJUNCTION_AND":
		children, _ := w["children"].([]any)
		for _, c := range children {
			if v := pinnedEntities(c, alias); v != nil {
				return v
			}
		}
	case "COMPARE_EQUAL":
		switch {
		case isEntity(w["left"]) && isValue(w["right"]):
			return list(w["right"])
		case isEntity(w["right"]) && isValue(w["left"]):
			return list(w["left"])
		}
	case "COMPARE_IN":
		children, _ := w["children"].([]any)
		if len(children) < 2 || !isEntity(children[0]) {
			return nil
		}
		for _, c := range children[1:] {
			if !isValue(c) {
				return nil
			}
		}
		return list(children[1:]...)
	case "SUBQUERY":
		// entity_id = ANY(list): a subquery SELECT unnest(list).
		sq, _ := w["subquery"].(map[string]any)
		node, _ := sq["node"].(map[string]any)
		if w["subquery_type"] != "ANY" || w["comparison_type"] != "COMPARE_EQUAL" || !isEntity(w["child"]) || node == nil ||
			node["type"] != "SELECT_NODE" || node["where_clause"] != nil {
			return nil
		}
		if from, _ := node["from_table"].(map[string]any); from == nil || from["type"] != "EMPTY" {
			return nil
		}
		if mods, _ := node["modifiers"].([]any); len(mods) > 0 {
			return nil
		}
		items, _ := node["select_list"].([]any)
		if len(items) != 1 {
			return nil
		}
		f, _ := items[0].(map[string]any)
		args, _ := f["children"].([]any)
		if f["class"] != "FUNCTION" || f["function_name"] != "unnest" || len(args) != 1 || !isList(args[0]) {
			return nil
		}
		return args[0]
	case "FUNCTION":
		args, _ := w["children"].([]any)
		if w["function_name"] == "list_contains" && w["schema"] == "" && len(args) == 2 && isList(args[0]) && isEntity(args[1]) {
			return args[0]
		}
	}
	return nil
}
