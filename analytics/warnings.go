package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/allsource/allsource/internal/suggest"
	"github.com/allsource/allsource/warehouse"
)

// Warnings names what a question asks about that the tenant's events do
// not have: event types no event has, and payload fields (breakdown,
// group_by, field, by) no event of the question's types carries, each
// with the closest known name. Such a question is not an error (the
// events may come later), but its empty answer would otherwise say
// nothing. The tenant's types and fields are read at most every 10 s.
func Warnings(ctx context.Context, wh *warehouse.Warehouse, question any) []string {
	b, err := json.Marshal(question)
	if err != nil {
		return nil
	}
	var tree any
	if json.Unmarshal(b, &tree) != nil {
		return nil
	}
	var types, fields []string
	collectNames(tree, &types, &fields)
	if len(types) == 0 && len(fields) == 0 {
		return nil
	}
	known, err := knownNames(ctx, wh)
	if err != nil {
		return nil
	}
	var out []string
	var present []string
	for _, t := range types {
		if strings.ContainsAny(t, "*%") {
			continue
		}
		if known.has(t) {
			present = append(present, t)
			continue
		}
		w := fmt.Sprintf("no event has type %q", t)
		if near := suggest.Closest(t, known.typeList()); near != "" {
			w += fmt.Sprintf(" (did you mean %q?)", near)
		}
		out = append(out, w)
	}
	if all := known.typeList(); len(types) == 0 && len(all) <= 20 {
		present = all // a question over every type
	}
	for _, f := range fields {
		top, _, _ := strings.Cut(strings.TrimPrefix(f, "payload."), ".")
		var keys []string
		found := false
		for _, t := range present {
			for _, k := range known.keys(ctx, wh, t) {
				found = found || k == top
				keys = append(keys, k)
			}
		}
		if found || len(present) == 0 {
			continue
		}
		w := fmt.Sprintf("no event of the question's types has the field %s", f)
		if near := suggest.Closest(top, keys); near != "" {
			w += fmt.Sprintf(" (did you mean payload.%s?)", near)
		}
		out = append(out, w)
	}
	return out
}

// collectNames gathers event types and payload fields from a question's
// JSON.
func collectNames(v any, types, fields *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			s, isString := e.(string)
			switch {
			case isString && k == "event_type" && s != "":
				if !slices.Contains(*types, s) {
					*types = append(*types, s)
				}
			case isString && (k == "field" || k == "breakdown" || k == "group_by" || k == "by") && strings.HasPrefix(s, "payload."):
				if !slices.Contains(*fields, s) {
					*fields = append(*fields, s)
				}
			default:
				collectNames(e, types, fields)
			}
		}
	case []any:
		for _, e := range x {
			collectNames(e, types, fields)
		}
	}
}

// tenantNames are a tenant's event types and, once asked for, the
// top-level payload keys of a type (from a sample of its events).
type tenantNames struct {
	types map[string][]string
	mu    sync.Mutex
	keyed map[string]bool
	at    time.Time
}

func (n *tenantNames) has(typ string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.types[typ]
	return ok
}

func (n *tenantNames) typeList() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.types))
	for t := range n.types {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// keys returns the payload keys of a type's events, reading 200 of them
// the first time.
func (n *tenantNames) keys(ctx context.Context, wh *warehouse.Warehouse, typ string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.keyed[typ] {
		return n.types[typ]
	}
	rows, err := wh.QueryInternal(ctx, `SELECT DISTINCT unnest(json_keys(payload)) FROM (SELECT payload FROM events WHERE event_type = ? LIMIT 200)`, typ)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if rows.Scan(&k) == nil {
			keys = append(keys, k)
		}
	}
	n.keyed[typ] = true
	n.types[typ] = keys
	return keys
}

var namesCache struct {
	sync.Mutex
	byTenant map[string]*tenantNames
}

func knownNames(ctx context.Context, wh *warehouse.Warehouse) (*tenantNames, error) {
	// Keyed by what the view shows (tenant and read restriction), so no
	// one is told of types or fields they cannot see.
	tenant := warehouse.ScopeKey(ctx)
	namesCache.Lock()
	if n := namesCache.byTenant[tenant]; n != nil && time.Since(n.at) < 10*time.Second {
		namesCache.Unlock()
		return n, nil
	}
	namesCache.Unlock()
	rows, err := wh.QueryInternal(ctx, `SELECT DISTINCT event_type FROM events LIMIT 100000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := &tenantNames{types: map[string][]string{}, keyed: map[string]bool{}, at: time.Now()}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		n.types[t] = nil
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	namesCache.Lock()
	if namesCache.byTenant == nil || len(namesCache.byTenant) > 1000 {
		namesCache.byTenant = map[string]*tenantNames{}
	}
	namesCache.byTenant[tenant] = n
	namesCache.Unlock()
	return n, nil
}
