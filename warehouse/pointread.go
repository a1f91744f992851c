package warehouse

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/allsource/allsource"
)

// Point reads: the statements an event store's clients repeat most (one
// entity's events, perhaps from a version, in version order, perhaps the
// last few) are answered by Stream from the entity index directly, with
// no engine connection, view or plan. A statement qualifies when it is, up
// to column-picking subqueries (as the Postgres front end wraps its
// statements: positional references, JSON columns cast to text, ids to
// UUID),
//
//	SELECT <*, columns> FROM events [alias]
//	WHERE entity_id = <text or $n> [AND <seq|version> <op> <integer or $n>]
//	      [AND <event_type|id> <=|<>> <text or $n>] ...
//	[ORDER BY <seq|version> [ASC|DESC]] [LIMIT <n or $n>] [OFFSET <n or $n>]
//
// in a scope of one tenant without a read restriction. Anything else, or
// arguments of types the plan does not expect, runs through the engine
// (where a pinned entity_id still reads the entity scan). TestPointReads
// runs each shape both ways.

// Fields of the events view, in its column order.
const (
	fSeq = iota
	fID
	fTenant
	fEntity
	fType
	fVersion
	fTimestamp
	fIngested
	fPayload
	fMetadata
	numFields
)

var fieldNames = [numFields]string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}

// conversion is what a column of a point read does to its field.
type conversion uint8

const (
	convNone conversion = iota // the field's value (JSON fields: not emittable as is)
	convText                   // a JSON field's text
	convUUID                   // the id as a UUID
)

type pointCol struct {
	name  string
	field int
	conv  conversion
}

// pointValue is a constant or the $n-th argument (param > 0).
type pointValue struct {
	param int
	cast  string // a cast applied to the parameter: "", "VARCHAR", "BIGINT"
	str   string
	num   int64
	isNum bool
}

type pointCond struct {
	field int
	op    string // =, <>, <, <=, >, >=
	val   pointValue
}

type pointPlan struct {
	cols          []pointCol
	entities      []pointValue // entity_id = v, IN (v, ...)
	entityList    *pointValue  // = ANY($n), list_contains($n, entity_id)
	conds         []pointCond
	ordered, desc bool // ORDER BY seq or version
	orderBy       int  // fSeq or fVersion
	limit, offset *pointValue
}

// pointLayer is a SELECT being analysed: the columns it yields and what
// it does to its source's rows.
type pointLayer struct {
	pointPlan
	windowed bool // has ORDER BY, LIMIT or OFFSET
}

// pointPlanOf recognises a point read in a statement's parse tree (the
// engine's json_serialize_sql form); nil when it is not one.
func pointPlanOf(node map[string]any) *pointPlan {
	l := pointSelect(node)
	if l == nil || (l.entities == nil && l.entityList == nil) {
		return nil
	}
	for _, c := range l.cols {
		if c.conv == convNone && (c.field == fPayload || c.field == fMetadata) {
			return nil // the engine's driver decodes JSON: not reproduced here
		}
	}
	return &l.pointPlan
}

func pointSelect(node map[string]any) *pointLayer {
	if node == nil || node["type"] != "SELECT_NODE" || node["having"] != nil || node["qualify"] != nil || node["sample"] != nil {
		return nil
	}
	if node["aggregate_handling"] != nil && node["aggregate_handling"] != "STANDARD_HANDLING" {
		return nil
	}
	if groups, _ := node["group_expressions"].([]any); len(groups) > 0 {
		return nil
	}
	if sets, _ := node["group_sets"].([]any); len(sets) > 0 {
		return nil
	}
	if ctes, _ := node["cte_map"].(map[string]any); ctes != nil {
		if m, _ := ctes["map"].([]any); len(m) > 0 {
			return nil
		}
	}
	from, _ := node["from_table"].(map[string]any)
	if from == nil || from["sample"] != nil {
		return nil
	}
	if aliases, _ := from["column_name_alias"].([]any); len(aliases) > 0 {
		return nil
	}
	alias, _ := from["alias"].(string)
	var src *pointLayer
	switch {
	case isEventsView(from):
		src = &pointLayer{}
		for f := 0; f < numFields; f++ {
			src.cols = append(src.cols, pointCol{name: fieldNames[f], field: f})
		}
		if alias == "" {
			alias = "events"
		}
	case subqueryNode(from) != nil:
		if src = pointSelect(subqueryNode(from)); src == nil {
			return nil
		}
	default:
		return nil
	}
	out := &pointLayer{pointPlan: pointPlan{entities: src.entities, entityList: src.entityList, conds: src.conds, ordered: src.ordered, desc: src.desc,
		orderBy: src.orderBy, limit: src.limit, offset: src.offset}}
	out.windowed = src.windowed
	// The source's columns by name: a name given twice cannot be referenced.
	byName := func(n any) (pointCol, bool) {
		m, _ := n.(map[string]any)
		if m == nil {
			return pointCol{}, false
		}
		switch m["class"] {
		case "POSITIONAL_REFERENCE":
			i, err := m["index"].(json.Number).Int64()
			if err != nil || i < 1 || int(i) > len(src.cols) {
				return pointCol{}, false
			}
			return src.cols[i-1], true
		case "COLUMN_REF":
		default:
			return pointCol{}, false
		}
		names, _ := m["column_names"].([]any)
		var name string
		switch len(names) {
		case 1:
			name, _ = names[0].(string)
		case 2:
			if q, _ := names[0].(string); q != alias {
				return pointCol{}, false
			}
			name, _ = names[1].(string)
		default:
			return pointCol{}, false
		}
		found, n2 := pointCol{}, 0
		for _, c := range src.cols {
			if strings.EqualFold(c.name, name) {
				found, n2 = c, n2+1
			}
		}
		return found, n2 == 1
	}

	items, _ := node["select_list"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m == nil {
			return nil
		}
		name, _ := m["alias"].(string)
		switch m["class"] {
		case "STAR":
			if m["expr"] != nil || m["columns"] != false || name != "" {
				return nil
			}
			for _, k := range []string{"exclude_list", "replace_list", "qualified_exclude_list", "rename_list"} {
				if l, _ := m[k].([]any); len(l) > 0 {
					return nil
				}
			}
			if r, _ := m["relation_name"].(string); r != "" && r != alias {
				return nil
			}
			out.cols = append(out.cols, src.cols...)
		case "CAST":
			if m["try_cast"] != false {
				return nil
			}
			c, ok := byName(m["child"])
			ct, _ := m["cast_type"].(map[string]any)
			if !ok || ct == nil || ct["type_info"] != nil {
				return nil
			}
			switch {
			case ct["id"] == "VARCHAR" && c.conv == convNone && (c.field == fPayload || c.field == fMetadata):
				c.conv = convText
			case ct["id"] == "VARCHAR" && (c.conv == convText || (c.conv == convNone && c.field != fSeq && c.field != fVersion && c.field != fTimestamp && c.field != fIngested)):
			case ct["id"] == "UUID" && c.field == fID && c.conv == convNone:
				c.conv = convUUID
			default:
				return nil
			}
			if name == "" {
				return nil // the engine names it after the expression
			}
			c.name = name
			out.cols = append(out.cols, c)
		default:
			c, ok := byName(m)
			if !ok {
				return nil
			}
			if name != "" {
				c.name = name
			} else if m["class"] == "POSITIONAL_REFERENCE" {
				return nil // the engine names it #n
			}
			out.cols = append(out.cols, c)
		}
	}
	if len(out.cols) == 0 {
		return nil
	}

	// WHERE: a conjunction of comparisons of fields with values. Rows are
	// filtered before the source's window applies, so a windowed source
	// cannot take one.
	var conds []any
	if w, _ := node["where_clause"].(map[string]any); w != nil {
		if src.windowed {
			return nil
		}
		if w["type"] == "CONJUNCTION_AND" {
			conds, _ = w["children"].([]any)
		} else {
			conds = []any{w}
		}
	}
	pinned := func() bool { return out.entities != nil || out.entityList != nil }
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m != nil && m["class"] != "COMPARISON" {
			// entity_id IN (...), = ANY(list), list_contains(list, entity_id)
			list, _ := pinnedEntities(m, alias).(map[string]any)
			col, ok := byName(map[string]any{"class": "COLUMN_REF", "column_names": []any{"entity_id"}})
			if list == nil || !ok || col.field != fEntity || col.conv != convNone || pinned() {
				return nil
			}
			switch list["class"] {
			case "PARAMETER":
				v, ok := pointValueOf(list)
				if !ok || v.cast != "" {
					return nil
				}
				out.entityList = &v
			case "FUNCTION":
				args, _ := list["children"].([]any)
				out.entities = []pointValue{}
				for _, a := range args {
					v, ok := pointValueOf(a)
					if !ok || v.isNum || (v.cast != "" && v.cast != "VARCHAR") {
						return nil
					}
					out.entities = append(out.entities, v)
				}
			default:
				return nil
			}
			continue
		}
		if m == nil {
			return nil
		}
		op, ok := compareOps[m["type"].(string)]
		if !ok {
			return nil
		}
		col, okc := byName(m["left"])
		val, okv := pointValueOf(m["right"])
		if !okc || !okv {
			col, okc = byName(m["right"])
			val, okv = pointValueOf(m["left"])
			op = flipped[op]
		}
		if !okc || !okv || col.conv != convNone {
			return nil
		}
		switch col.field {
		case fSeq, fVersion:
			if !val.isNum && val.param == 0 {
				return nil
			}
			if val.cast != "" && val.cast != "BIGINT" && val.cast != "INTEGER" {
				return nil
			}
		case fEntity, fType, fID:
			if val.isNum || (val.cast != "" && val.cast != "VARCHAR") || (op != "=" && op != "<>") {
				return nil
			}
		default:
			return nil
		}
		if col.field == fEntity && op == "=" {
			if pinned() {
				return nil
			}
			out.entities = []pointValue{val}
			continue
		}
		out.conds = append(append([]pointCond(nil), out.conds...), pointCond{field: col.field, op: op, val: val})
	}

	// ORDER BY seq or version, LIMIT, OFFSET.
	mods, _ := node["modifiers"].([]any)
	if len(mods) > 0 && src.windowed {
		return nil
	}
	for _, md := range mods {
		m, _ := md.(map[string]any)
		switch m["type"] {
		case "ORDER_MODIFIER":
			orders, _ := m["orders"].([]any)
			if len(orders) != 1 {
				return nil
			}
			o, _ := orders[0].(map[string]any)
			col, ok := byName(o["expression"])
			if !ok || (col.field != fSeq && col.field != fVersion) || col.conv != convNone {
				return nil
			}
			out.orderBy = col.field
			switch o["type"] {
			case "ASCENDING", "ORDER_DEFAULT":
				out.ordered, out.desc = true, false
			case "DESCENDING":
				out.ordered, out.desc = true, true
			default:
				return nil
			}
		case "LIMIT_MODIFIER":
			for _, k := range []string{"limit", "offset"} {
				if m[k] == nil {
					continue
				}
				v, ok := pointValueOf(m[k])
				if !ok || (!v.isNum && v.param == 0) || (v.isNum && v.num < 0) || (v.cast != "" && v.cast != "BIGINT" && v.cast != "INTEGER") {
					return nil
				}
				if k == "limit" {
					out.limit = &v
				} else {
					out.offset = &v
				}
			}
		default:
			return nil // DISTINCT, LIMIT PERCENT
		}
		out.windowed = true
	}
	return out
}

var compareOps = map[string]string{
	"COMPARE_EQUAL": "=", "COMPARE_NOTEQUAL": "<>", "COMPARE_LESSTHAN": "<",
	"COMPARE_LESSTHANOREQUALTO": "<=", "COMPARE_GREATERTHAN": ">", "COMPARE_GREATERTHANOREQUALTO": ">=",
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// pointValueOf reads a constant (text or integer, not NULL) or a
// parameter, bare or cast to one type.
func pointValueOf(n any) (pointValue, bool) {
	m, _ := n.(map[string]any)
	if m == nil {
		return pointValue{}, false
	}
	cast := ""
	if m["class"] == "CAST" {
		ct, _ := m["cast_type"].(map[string]any)
		if m["try_cast"] != false || ct == nil || ct["type_info"] != nil {
			return pointValue{}, false
		}
		cast, _ = ct["id"].(string)
		if m, _ = m["child"].(map[string]any); m == nil || m["class"] != "PARAMETER" {
			return pointValue{}, false
		}
	}
	switch m["class"] {
	case "PARAMETER":
		id, _ := m["identifier"].(string)
		p, err := strconv.Atoi(id)
		if err != nil || p < 1 {
			return pointValue{}, false
		}
		return pointValue{param: p, cast: cast}, true
	case "CONSTANT":
		v, _ := m["value"].(map[string]any)
		t, _ := v["type"].(map[string]any)
		if t == nil || v["is_null"] != false || t["type_info"] != nil {
			return pointValue{}, false
		}
		switch t["id"] {
		case "VARCHAR":
			s, ok := v["value"].(string)
			return pointValue{str: s}, ok
		case "INTEGER", "BIGINT", "SMALLINT", "TINYINT":
			num, ok := v["value"].(json.Number)
			if !ok {
				return pointValue{}, false
			}
			i, err := num.Int64()
			return pointValue{num: i, isNum: true}, err == nil
		}
	}
	return pointValue{}, false
}

// resolve binds v to the statement's arguments: a string or
// an integer; null when the argument is NULL (no row compares equal to it);
// ok false when the argument is of a type the plan does not handle.
func (v pointValue) resolve(args []driver.NamedValue, wantNum bool) (s string, n int64, null, ok bool) {
	if v.param == 0 {
		return v.str, v.num, false, v.isNum == wantNum
	}
	var arg driver.Value
	found := false
	for _, a := range args {
		if a.Ordinal == v.param && a.Name == "" {
			arg, found = a.Value, true
		}
	}
	if !found {
		return "", 0, false, false
	}
	switch x := arg.(type) {
	case nil:
		return "", 0, true, true
	case string:
		if !wantNum {
			return x, 0, false, true
		}
		if v.cast == "" {
			return "", 0, false, false
		}
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return "", i, false, err == nil
	case int64:
		return "", x, false, wantNum
	case int32:
		return "", int64(x), false, wantNum
	case int:
		return "", int64(x), false, wantNum
	case int16:
		return "", int64(x), false, wantNum
	case int8:
		return "", int64(x), false, wantNum
	case uint32:
		return "", int64(x), false, wantNum
	case uint64:
		if x > math.MaxInt64 {
			return "", 0, false, false
		}
		return "", int64(x), false, wantNum
	}
	return "", 0, false, false
}

// resolveEntities binds the plan's entity ids: distinct, in the order
// given, without NULLs (which no entity_id equals); ok is false for an
// argument of a type the plan does not take.
func (p *pointPlan) resolveEntities(args []driver.NamedValue) (ids []string, ok bool) {
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			ids = append(ids, s)
		}
	}
	for _, v := range p.entities {
		s, _, null, ok := v.resolve(args, false)
		if !ok {
			return nil, false
		}
		if !null {
			add(s)
		}
	}
	if p.entityList != nil {
		var arg driver.Value
		for _, a := range args {
			if a.Ordinal == p.entityList.param && a.Name == "" {
				arg = a.Value
			}
		}
		switch x := arg.(type) {
		case nil:
		case []string:
			for _, s := range x {
				add(s)
			}
		case []any:
			for _, e := range x {
				switch y := e.(type) {
				case nil:
				case string:
					add(y)
				default:
					return nil, false
				}
			}
		default:
			return nil, false
		}
	}
	return ids, true
}

// pointPlanFor is the point read plan of q for ctx's statements, or nil.
func (w *Warehouse) pointPlanFor(ctx context.Context, q string) *pointPlan {
	if w.index == nil || entityScanOff.Load() || mentionsPublished(q) {
		return nil
	}
	entityRewrites.Lock()
	rw := entityRewrites.m[q]
	entityRewrites.Unlock()
	if rw.plan == nil {
		return nil
	}
	if sc := scopeOf(ctx); sc.key != sc.tenant {
		return nil // a read restriction: the view applies it
	}
	return rw.plan
}

// streamPoint answers a point read; handled is false (and fn not called)
// when it cannot: an argument of another type, an index behind the files,
// or a descending read of a stream too long to hold.
func (w *Warehouse) streamPoint(ctx context.Context, p *pointPlan, args []driver.NamedValue,
	fn func(cols []Column, next func(dest []driver.Value) error) error) (handled bool, err error) {
	began := time.Now()
	tenant := scopeOf(ctx).tenant
	entities, ok := p.resolveEntities(args)
	if !ok {
		return false, nil
	}
	none := len(entities) == 0
	type bound struct {
		field int
		op    string
		s     string
		n     int64
	}
	conds := make([]bound, 0, len(p.conds))
	start := uint64(0) // the first version a stream's read needs
	for _, c := range p.conds {
		num := c.field == fSeq || c.field == fVersion
		s, n, null, ok := c.val.resolve(args, num)
		if !ok {
			return false, nil
		}
		if null {
			none = true // a comparison with NULL holds for no row
			continue
		}
		if c.field == fVersion { // where the stream's read starts
			switch {
			case (c.op == ">=" || c.op == "=") && n > 0 && uint64(n) > start:
				start = uint64(n)
			case c.op == ">" && n >= 0 && uint64(n)+1 > start:
				start = uint64(n) + 1
			}
		}
		conds = append(conds, bound{c.field, c.op, s, n})
	}
	limit, offset := int64(-1), int64(0)
	for _, lv := range []struct {
		v   *pointValue
		dst *int64
	}{{p.limit, &limit}, {p.offset, &offset}} {
		if lv.v == nil {
			continue
		}
		_, n, null, ok := lv.v.resolve(args, true)
		if !ok || (!null && n < 0) {
			return false, nil // the engine reports a negative limit
		}
		if !null {
			*lv.dst = n
		}
	}
	if limit == 0 {
		none = true
	}

	keep := func(e *EntityEvent) bool {
		for _, c := range conds {
			var order int
			switch c.field {
			case fSeq, fVersion:
				x := int64(e.Seq)
				if c.field == fVersion {
					x = int64(e.Version)
				}
				order = cmp.Compare(x, c.n)
			case fType:
				order = strings.Compare(e.EventType, c.s)
			case fEntity:
				order = strings.Compare(e.EntityID, c.s)
			case fID:
				order = strings.Compare(e.ID, c.s)
			}
			if !holds(c.op, order) {
				return false
			}
		}
		return true
	}

	// One stream is read a page at a time. Several (several entities, or
	// statements over every tenant) are read whole, when they fit in a
	// page, and put in order; a descending order needs the whole stream
	// too.
	tenants := []string{tenant}
	switch tenant {
	case allScopes:
		tenants = w.tenantsHolding(false)
	case allsource.AllTenants:
		tenants = w.tenantsHolding(true)
	}
	streams := streamsOf(tenants, entities)
	page, _ := pagePool.Get().([]EntityEvent)
	next, from := 0, start
	done, behind := none, false
	read := func() (bool, error) {
		for !done && len(streams) > 0 {
			if err := ctx.Err(); err != nil { // a long list of entities: cancellable
				return false, err
			}
			evs, ok, err := w.indexedEntityEvents(ctx, streams[0].tenant, streams[0].entity, from, entityScanPage, page)
			if err != nil || !ok {
				behind = !ok
				return false, err
			}
			if len(evs) < entityScanPage {
				streams, from = streams[1:], start
				done = len(streams) == 0
			} else {
				from = evs[len(evs)-1].Version + 1
			}
			// evs is this read's own: filtered in place.
			page, next = evs[:0], 0
			for i := range evs {
				if keep(&evs[i]) {
					page = append(page, evs[i])
				}
			}
			if len(page) > 0 {
				return true, nil
			}
		}
		done = true
		return false, nil
	}
	if len(streams) > 1 {
		var all []EntityEvent
		for !done {
			_, err := read()
			if err != nil {
				return true, w.engineError(ctx, err)
			}
			if behind {
				return false, nil // the index is behind the files
			}
			if all = append(all, page...); len(all) > entityScanPage {
				return false, nil // the engine sorts so many
			}
		}
		if p.ordered {
			slices.SortStableFunc(all, func(a, b EntityEvent) int {
				if p.orderBy == fVersion && a.Version != b.Version {
					return cmp.Compare(a.Version, b.Version)
				}
				return cmp.Compare(a.Seq, b.Seq)
			})
		}
		page, next = all, 0
	} else {
		if _, err := read(); err != nil {
			return true, w.engineError(ctx, err)
		}
		if behind {
			return false, nil // the index is behind the files
		}
	}
	if p.desc {
		if !done {
			return false, nil // longer than a page: the engine sorts it
		}
		slices.Reverse(page)
	}
	w.pointReads.Add(1)

	cols := make([]Column, len(p.cols))
	for i, c := range p.cols {
		cols[i].Name = c.name
	}
	skipped, sent := int64(0), int64(0)
	var bx boxes
	nextRow := func(dest []driver.Value) error {
		for {
			if limit >= 0 && sent >= limit {
				return io.EOF
			}
			if next >= len(page) {
				more, err := read()
				if err == nil && behind {
					err = errIndexBehind
				}
				if err != nil {
					return w.engineError(ctx, err)
				}
				if !more {
					return io.EOF
				}
			}
			e := &page[next]
			next++
			if skipped < offset {
				skipped++
				continue
			}
			sent++
			for i, c := range p.cols {
				switch c.field {
				case fTenant, fEntity, fType:
					dest[i] = bx.str(c.field, fieldString(e, c.field))
				default:
					dest[i] = fieldValue(e, c)
				}
			}
			return nil
		}
	}
	err = fn(cols, nextRow)
	// The rows went out as copies: the page's array serves the next read.
	if cap(page) <= 1024 {
		clear(page[:cap(page)])
		pagePool.Put(page[:0])
	}
	if w.opts.Observe != nil {
		w.opts.Observe.Queried(time.Since(began))
	}
	return true, err
}

// pagePool keeps the arrays point reads decode events into.
var pagePool sync.Pool

// boxes holds the driver values of the string fields that repeat from
// row to row (tenant, entity, event type), each boxed once while it does
// not change.
type boxes struct {
	s [numFields]string
	v [numFields]driver.Value
}

func (b *boxes) str(field int, s string) driver.Value {
	if b.v[field] == nil || b.s[field] != s {
		b.s[field], b.v[field] = s, s
	}
	return b.v[field]
}

func fieldString(e *EntityEvent, field int) string {
	switch field {
	case fTenant:
		return e.Tenant
	case fEntity:
		return e.EntityID
	}
	return e.EventType
}

// viewString is b as a string without a copy: the events point reads and
// the entity scan hand out are their own (decoded from the index) or the
// hot tier's, neither written again.
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func holds(op string, cmp int) bool {
	switch op {
	case "=":
		return cmp == 0
	case "<>":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

// fieldValue is a column's value as the engine's driver hands it over
// (JSON fields as their text), and as the entity scan hands it to the
// engine.
func fieldValue(e *EntityEvent, c pointCol) driver.Value {
	switch c.field {
	case fSeq:
		return int64(e.Seq)
	case fID:
		if c.conv == convUUID {
			if u, err := uuid.Parse(e.ID); err == nil {
				return u[:]
			}
		}
		return e.ID
	case fTenant:
		return e.Tenant
	case fEntity:
		return e.EntityID
	case fType:
		return e.EventType
	case fVersion:
		return int64(e.Version)
	case fTimestamp:
		return e.Timestamp
	case fIngested:
		return e.IngestedAt
	case fPayload:
		return viewString(e.Payload)
	case fMetadata:
		return viewString(e.Metadata)
	}
	return nil
}
