package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/allsource/allsource"
)

// Published tables are engine tables that a package above the warehouse
// keeps (projection state) and that a tenant's queries read as
// projections.<name>. The engine has one catalog for every tenant, so a
// statement naming projections.<name> is rewritten to the table published
// under that name for the tenant of its scope; another tenant's tables
// cannot be named. Tables live in the engine schema _proj, which user
// statements may not name.

// PublishedSchema is the schema name queries use for published tables.
const PublishedSchema = "projections"

// internalSchema holds the published tables in the engine.
const internalSchema = "_proj"

// Publish makes table (in schema _proj of the engine) readable by tenant's
// queries as projections.<name>, replacing what the name showed before.
// Statements already running keep the table they started with.
func (w *Warehouse) Publish(tenant, name, table string) {
	w.pubMu.Lock()
	defer w.pubMu.Unlock()
	if w.published == nil {
		w.published = map[string]map[string]string{}
	}
	if w.published[tenant] == nil {
		w.published[tenant] = map[string]string{}
	}
	w.published[tenant][strings.ToLower(name)] = table
	w.pubGen.Add(1)
}

// Unpublish removes tenant's name.
func (w *Warehouse) Unpublish(tenant, name string) {
	w.pubMu.Lock()
	defer w.pubMu.Unlock()
	delete(w.published[tenant], strings.ToLower(name))
	w.pubGen.Add(1)
}

// PublishedTables lists tenant's published names (sorted by the caller).
func (w *Warehouse) PublishedTables(tenant string) map[string]string {
	w.pubMu.Lock()
	defer w.pubMu.Unlock()
	out := map[string]string{}
	for n, t := range w.published[tenant] {
		out[n] = t
	}
	return out
}

// errCrossTenantProjections is rewritePublished's answer to a statement
// naming projections in a scope spanning tenants (authentication off, an
// administrator's): projections are a tenant's objects, and such a
// statement reads the default tenant's, as if in its scope.
var errCrossTenantProjections = errors.New("warehouse: projections named across tenants")

// inDefaultTenant is ctx scoped to the default tenant when err says its
// statement named projections across tenants.
func inDefaultTenant(ctx context.Context, err error) (context.Context, bool) {
	if !errors.Is(err, errCrossTenantProjections) {
		return ctx, false
	}
	return allsource.WithTenantScope(ctx, allsource.DefaultTenant), true
}

// mentionsPublished is a cheap test for statements that may name a
// published table; only those are parsed for rewriting.
func mentionsPublished(q string) bool {
	// An ASCII case-insensitive search, without copying q: no other
	// letter lowercases to one of the name's.
	const name = PublishedSchema
	for i := 0; i+len(name) <= len(q); i++ {
		if q[i]|0x20 == name[0] && strings.EqualFold(q[i:i+len(name)], name) {
			return true
		}
	}
	return false
}

// resolvePublished rewrites the references to projections.<name> in q to
// the tables published for ctx's tenant. Statements that name none, or that
// the engine cannot serialise (not a SELECT), are returned as they are.
func (w *Warehouse) resolvePublished(ctx context.Context, conn *sql.Conn, q string) (string, error) {
	if !mentionsPublished(q) {
		return q, nil
	}
	// Dashboards repeat their statements: the rewrite is kept per tenant,
	// scope restriction and text until the published tables change.
	key := scopeKey(ctx) + "\x00" + q
	gen := w.pubGen.Load()
	w.pubMu.Lock()
	if w.resolvedGen != gen || w.resolved == nil {
		w.resolved, w.resolvedGen = map[string]string{}, gen
	}
	out, ok := w.resolved[key]
	w.pubMu.Unlock()
	if ok {
		return out, nil
	}
	out, err := w.rewritePublished(ctx, conn, q)
	if err != nil {
		return "", err
	}
	w.pubMu.Lock()
	if w.resolvedGen == gen && w.resolved != nil {
		if len(w.resolved) >= 1024 {
			w.resolved = map[string]string{}
		}
		w.resolved[key] = out
	}
	w.pubMu.Unlock()
	return out, nil
}

// rewritePublished does resolvePublished's work, uncached.
func (w *Warehouse) rewritePublished(ctx context.Context, conn *sql.Conn, q string) (string, error) {
	var out string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql("+sqlString(q)+") AS VARCHAR)").Scan(&out); err != nil {
		return q, nil
	}
	var tree map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber() // positions are 64-bit; float64 would change them
	if err := dec.Decode(&tree); err != nil || tree["error"] == true {
		return q, nil
	}
	tenant := scopeOf(ctx).tenant
	names := w.PublishedTables(tenant)
	found := false
	var missing error
	var walk func(n any)
	walk = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			if t, _ := x["type"].(string); t == "BASE_TABLE" {
				schema, _ := x["schema_name"].(string)
				catalog, _ := x["catalog_name"].(string)
				if catalog == "" && strings.EqualFold(schema, PublishedSchema) {
					name, _ := x["table_name"].(string)
					if engineKey(tenant) == allScopes {
						// Each tenant's tables are in its own engine
						// instance: the statement runs again in the
						// default tenant's (see inDefaultTenant).
						missing = errCrossTenantProjections
						return
					}
					table, ok := names[strings.ToLower(name)]
					if !ok {
						if missing == nil {
							missing = allsource.Errorf(allsource.CodeNotFound, "projection %q does not exist in tenant %s (GET /v1/projections lists them)", name, tenant)
						}
						return
					}
					found = true
					if a, _ := x["alias"].(string); a == "" {
						x["alias"] = name
					}
					x["schema_name"], x["table_name"] = internalSchema, table
				}
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(tree)
	if missing != nil {
		return "", missing
	}
	if !found {
		return q, nil
	}
	if r := scopeOf(ctx).restrict; len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		// A projection aggregates every event of its tenant, including
		// what this reader may not see.
		return "", allsource.Errorf(allsource.CodeForbidden, "projections are not open to readers with hidden event types or fields: they aggregate every event of the tenant")
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return "", err
	}
	var back string
	if err := conn.QueryRowContext(ctx, "SELECT json_deserialize_sql("+sqlString(string(b))+"::JSON)").Scan(&back); err != nil {
		return "", fmt.Errorf("warehouse: rewrite projection references: %w", err)
	}
	return back, nil
}

// Catalog is the catalog database, for packages above the warehouse that
// keep their definitions there (see migrations).
func (w *Warehouse) Catalog() *sql.DB { return w.catalog }

// ProjectionsDir is where projection checkpoints are written; the engine
// may read and write files there.
func (w *Warehouse) ProjectionsDir() string { return w.projDir }

// engineDirs are the directories the engine may touch.
func (w *Warehouse) engineDirs() []string {
	return []string{w.whDir + string(filepath.Separator), w.tmpDir + string(filepath.Separator), w.projDir + string(filepath.Separator)}
}

// CheckQuery applies the checks user queries get (one read-only SELECT,
// allowed table functions only, no file access, no internal schemas) to
// SQL that a package above builds from user input (projection
// definitions), without running it.
func (w *Warehouse) CheckQuery(ctx context.Context, q string) error {
	conn, err := w.main.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return checkReadOnly(ctx, conn, q)
}

// CanonicalCondition checks that cond is one SQL condition over events
// (what follows WHERE, nothing more: no GROUP BY, LIMIT or set operation
// smuggled after it) and returns it as the engine prints it, parenthesised
// as one expression, so it can be ANDed with other conditions safely.
func (w *Warehouse) CanonicalCondition(ctx context.Context, cond string) (string, error) {
	q := "SELECT 1 FROM events WHERE " + cond
	conn, err := w.main.db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := checkReadOnly(ctx, conn, q); err != nil {
		return "", err
	}
	var out string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql("+sqlString(q)+") AS VARCHAR)").Scan(&out); err != nil {
		return "", err
	}
	var tree struct {
		Statements []map[string]json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		return "", fmt.Errorf("warehouse: check condition: %w", err)
	}
	bad := allsource.Errorf(allsource.CodeInvalid, "the condition must be one expression over events (as after WHERE, nothing more)")
	if len(tree.Statements) != 1 {
		return "", bad
	}
	var node map[string]json.RawMessage
	if err := json.Unmarshal(tree.Statements[0]["node"], &node); err != nil {
		return "", fmt.Errorf("warehouse: check condition: %w", err)
	}
	empty := func(k string) bool {
		v := strings.TrimSpace(string(node[k]))
		return v == "" || v == "null" || v == "[]" || v == "{}"
	}
	var cte struct {
		Map []json.RawMessage `json:"map"`
	}
	json.Unmarshal(node["cte_map"], &cte)
	if string(node["type"]) != `"SELECT_NODE"` || !empty("modifiers") || !empty("group_expressions") || !empty("having") ||
		!empty("qualify") || len(cte.Map) > 0 || empty("where_clause") {
		return "", bad
	}
	var back string
	if err := conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(json_serialize_sql("+sqlString(q)+"))").Scan(&back); err != nil {
		return "", err
	}
	i := strings.Index(back, " WHERE ")
	if i < 0 {
		return "", bad
	}
	return "(" + back[i+len(" WHERE "):] + ")", nil
}
