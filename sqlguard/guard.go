// Package sqlguard decides whether a user's statement may run on the
// engine. It is the one statement check of the server: every front end
// (HTTP SQL, EventQL and the JSON DSL after compilation, pgwire simple,
// extended and COPY (query) after rewriting, projection definitions,
// export conditions) reaches the engine through the warehouse, which
// applies Check to the exact text the engine will execute.
//
// The check reads the engine's own parse tree (DuckDB's
// json_serialize_sql output), so what is judged is what would run: no
// second parser can disagree with the engine about what a name means. It
// is an allow list:
//
//   - one SELECT statement (the serializer refuses every other kind);
//   - relations: events, a common table expression visible at that point
//     (scoped as the engine scopes them: a WITH's names are seen by its
//     own query, by its later members and, for a recursive member, by
//     itself), the server's catalog schemas (pgcat, pgcat_is) and
//     projections.<name>; nothing else, and never a name that could be
//     read as a file path (replacement scans);
//   - table functions: range, generate_series, unnest, json_each,
//     json_tree and the server's catalog macros;
//   - scalar functions: any but those that read files, run other SQL,
//     change or reveal engine state and settings, or describe the
//     engine's catalog (duckdb_*, pragma_*, current_setting …);
//   - no time travel, no table sampling of files, no SHOW/DESCRIBE/
//     SUMMARIZE of arbitrary relations.
//
// Behind this check the engine's own sandbox still refuses file access
// outside the data directory, so a case missed here is not a breach of
// the host; the tenant scope of the events view is the warehouse's.
//
// The package imports nothing of the project and does no I/O.
package sqlguard

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Error is a refused statement.
type Error struct {
	// Reason is the message for the user.
	Reason string
	// Position is the byte offset in the checked text the refusal is
	// about, or -1.
	Position int
	// Undefined marks a relation that is not one the caller may read
	// (as opposed to a function or construct that is refused).
	Undefined bool
	// Syntax marks a statement the engine could not parse.
	Syntax bool
}

func (e *Error) Error() string { return e.Reason }

// Schemas whose relations and macros the server itself defines (the
// Postgres catalog the pgwire front end answers from).
var trustedSchemas = map[string]bool{"pgcat": true, "pgcat_is": true}

// ProjectionsSchema names a tenant's projections (projections.<name>); the
// warehouse resolves them to the tenant's own tables.
const ProjectionsSchema = "projections"

// EventsTable is the one table of the events view.
const EventsTable = "events"

// tableFunctions are the table functions a query may use.
var tableFunctions = map[string]bool{
	"range": true, "generate_series": true, "unnest": true, "json_each": true, "json_tree": true,
	"generate_subscripts": true,
}

// deniedFunctions are scalar (or table) functions refused by name.
var deniedFunctions = map[string]bool{
	"glob": true, "sniff_csv": true, "query": true, "query_table": true, "json_execute_serialized_sql": true,
	"json_serialize_sql": true, "json_deserialize_sql": true, "json_serialize_plan": true, "getenv": true,
	"checkpoint": true, "force_checkpoint": true, "getvariable": true, "set_variable": true, "which_secret": true,
	"current_setting": true, "current_setting_duckdb": true, "load_aws_credentials": true, "arrow_scan": true,
	"arrow_scan_dumb": true, "from_substrait": true, "get_substrait": true, "get_substrait_json": true,
	"st_read": true, "st_readosm": true, "st_read_meta": true, "st_write": true, "pg_read_file": true,
	"pg_read_binary_file": true, "pg_ls_dir": true, "pg_stat_file": true, "pg_terminate_backend": true,
	"pg_cancel_backend": true, "pg_reload_conf": true, "pg_rotate_logfile": true, "pg_promote": true,
	"lo_import": true, "lo_export": true, "pg_file_write": true, "sql_auto_complete": true,
	"test_all_types": true, "test_vector_types": true, "enable_profiling": true, "disable_profiling": true,
	"iceberg_scan": true, "delta_scan": true, "postgres_scan": true, "postgres_query": true, "mysql_query": true,
	"nextval": true, "currval": true, "setseed": true, "current_database_size": true, "database_size": true,
	"enable_logging": true, "disable_logging": true, "truncate_duckdb_logs": true,
	"vacuum": true, "attach": true, "detach": true,
	"getvariables": true, "current_query": true,
}

// deniedPrefixes are name prefixes refused: file readers and scanners,
// the engine's catalog and settings, extensions' remote access.
var deniedPrefixes = []string{"read_", "parquet_", "scan_", "duckdb_", "pragma_", "iceberg_", "delta_",
	"sqlite_", "postgres_", "mysql_", "http", "dblink", "pg_ls_", "ducklake_", "icu_calendar", "lo_",
	"json_execute", "copy_", "export_", "import_", "force_", "checkpoint"}

// DeniedFunction reports whether a function of this name is refused.
func DeniedFunction(name string) bool {
	name = strings.ToLower(name)
	if deniedFunctions[name] {
		return true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return strings.Contains(name, "logging") || strings.Contains(name, "secret") || strings.Contains(name, "extension") ||
		strings.Contains(name, "setting")
}

// serialized is the engine's answer for one text: json_serialize_sql.
type serialized struct {
	Error      bool              `json:"error"`
	Message    string            `json:"error_message"`
	Position   string            `json:"position"`
	Statements []json.RawMessage `json:"statements"`
}

// Check judges the engine's serialization of one statement text (the
// JSON text json_serialize_sql returned for it). A refusal is *Error.
func Check(parsed []byte) error {
	var res serialized
	if err := json.Unmarshal(parsed, &res); err != nil {
		return fmt.Errorf("sqlguard: read the engine's parse tree: %w", err)
	}
	if res.Error {
		msg := strings.TrimSpace(res.Message)
		pos := -1
		if p, err := strconv.Atoi(res.Position); err == nil {
			pos = p
		}
		if strings.Contains(msg, "Only SELECT statements") {
			return &Error{Reason: "only SELECT queries are allowed here; the statement would write, change settings or reach the file system", Position: -1}
		}
		return &Error{Reason: msg, Position: pos, Syntax: true}
	}
	if len(res.Statements) != 1 {
		return &Error{Reason: fmt.Sprintf("send exactly one statement per query, got %d", len(res.Statements)), Position: -1}
	}
	var tree any
	dec := json.NewDecoder(strings.NewReader(string(res.Statements[0])))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return fmt.Errorf("sqlguard: read the engine's parse tree: %w", err)
	}
	w := &walker{}
	return w.statement(tree)
}

// walker walks one statement's tree with the common table expressions in
// scope.
type walker struct {
	scopes [][]string // visible CTE names, innermost last (lower-case)
}

func (w *walker) visible(name string) bool {
	name = strings.ToLower(name)
	for i := len(w.scopes) - 1; i >= 0; i-- {
		for _, n := range w.scopes[i] {
			if n == name {
				return true
			}
		}
	}
	return false
}

func (w *walker) push(names []string) { w.scopes = append(w.scopes, names) }
func (w *walker) pop()                { w.scopes = w.scopes[:len(w.scopes)-1] }

func (w *walker) statement(tree any) error {
	m, ok := tree.(map[string]any)
	if !ok {
		return fmt.Errorf("sqlguard: unexpected parse tree")
	}
	if n, ok := m["node"]; ok {
		return w.queryNode(n)
	}
	return w.any(m)
}

// queryNode walks a query node (SELECT_NODE, SET_OPERATION_NODE,
// RECURSIVE_CTE_NODE, CTE_NODE): its WITH members first, each seeing the
// ones before it, then the rest with every member visible.
func (w *walker) queryNode(n any) error {
	m, ok := n.(map[string]any)
	if !ok {
		return w.any(n)
	}
	var names []string
	if cm, ok := m["cte_map"].(map[string]any); ok {
		entries, _ := cm["map"].([]any)
		for _, e := range entries {
			em, _ := e.(map[string]any)
			key, _ := em["key"].(string)
			w.push(names)
			selfName := []string{}
			if isRecursive(em["value"]) {
				selfName = []string{strings.ToLower(key)}
			}
			w.push(selfName)
			err := w.any(em["value"])
			w.pop()
			w.pop()
			if err != nil {
				return err
			}
			names = append(names, strings.ToLower(key))
		}
	}
	w.push(names)
	defer w.pop()
	if t, _ := m["type"].(string); t == "RECURSIVE_CTE_NODE" {
		if name, _ := m["cte_name"].(string); name != "" {
			w.push([]string{strings.ToLower(name)})
			defer w.pop()
		}
	}
	for k, v := range m {
		if k == "cte_map" {
			continue
		}
		if err := w.any(v); err != nil {
			return err
		}
	}
	return nil
}

// isRecursive reports whether a CTE's definition is a recursive one (it
// may name itself).
func isRecursive(def any) bool {
	m, _ := def.(map[string]any)
	q, _ := m["query"].(map[string]any)
	node, _ := q["node"].(map[string]any)
	t, _ := node["type"].(string)
	return t == "RECURSIVE_CTE_NODE"
}

// tableRefTypes are the relation kinds a query may use.
var tableRefTypes = map[string]bool{
	"BASE_TABLE": true, "TABLE_FUNCTION": true, "SUBQUERY": true, "JOIN": true, "EMPTY": true,
	"EXPRESSION_LIST": true, "PIVOT": true,
}

func (w *walker) any(n any) error {
	switch x := n.(type) {
	case []any:
		for _, v := range x {
			if err := w.any(v); err != nil {
				return err
			}
		}
	case map[string]any:
		return w.object(x)
	}
	return nil
}

func position(m map[string]any) int {
	switch v := m["query_location"].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil && i >= 0 && i < 1<<40 {
			return int(i)
		}
	}
	return -1
}

func (w *walker) object(m map[string]any) error {
	// A query node below (a subquery, a CTE's body) has its own scope.
	if node, ok := m["node"]; ok {
		if nm, ok := node.(map[string]any); ok {
			if _, isQuery := nm["cte_map"]; isQuery {
				if err := w.queryNode(node); err != nil {
					return err
				}
				for k, v := range m {
					if k == "node" {
						continue
					}
					if err := w.any(v); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	if _, isQuery := m["cte_map"]; isQuery {
		if t, _ := m["type"].(string); strings.HasSuffix(t, "_NODE") {
			return w.queryNode(m)
		}
	}
	typ, _ := m["type"].(string)
	if _, isRef := m["sample"]; isRef && m["class"] == nil {
		// A table reference (the only objects with a sample member and
		// no expression class).
		if !tableRefTypes[typ] {
			return &Error{Reason: fmt.Sprintf("%s is not allowed here; query events, projections.<name> or the catalog", strings.ToLower(strings.ReplaceAll(typ, "_", " "))), Position: position(m)}
		}
		if at := m["at_clause"]; at != nil {
			return &Error{Reason: "AT (time travel) is not supported", Position: position(m)}
		}
		switch typ {
		case "BASE_TABLE":
			if err := w.baseTable(m); err != nil {
				return err
			}
		case "TABLE_FUNCTION":
			if err := w.tableFunction(m); err != nil {
				return err
			}
		}
	}
	if class, _ := m["class"].(string); class == "FUNCTION" || class == "AGGREGATE" || class == "WINDOW" {
		if name, ok := m["function_name"].(string); ok {
			schema, _ := m["schema"].(string)
			catalog, _ := m["catalog"].(string)
			if err := checkFunction(m, catalog, schema, name, position(m)); err != nil {
				return err
			}
		}
	}
	for k, v := range m {
		if k == "function" && typ == "TABLE_FUNCTION" {
			// Checked as a table function; its arguments still need a
			// walk.
			if fm, ok := v.(map[string]any); ok {
				if err := w.any(fm["children"]); err != nil {
					return err
				}
				continue
			}
		}
		if err := w.any(v); err != nil {
			return err
		}
	}
	return nil
}

// plainName reports whether a relation name is an identifier that no
// engine could read as a file path or URL.
func plainName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '$', r == ' ', r == '-':
		default:
			return false
		}
	}
	return true
}

func (w *walker) baseTable(m map[string]any) error {
	name, _ := m["table_name"].(string)
	schema, _ := m["schema_name"].(string)
	catalog, _ := m["catalog_name"].(string)
	pos := position(m)
	if !plainName(name) {
		return &Error{Reason: fmt.Sprintf("relation %q is not allowed: queries may not read files", name), Position: pos, Undefined: true}
	}
	if catalog != "" {
		return &Error{Reason: fmt.Sprintf("relation %s.%s.%s does not exist", catalog, schema, name), Position: pos, Undefined: true}
	}
	switch {
	case schema == "":
		if w.visible(name) || strings.EqualFold(name, EventsTable) {
			return nil
		}
	case trustedSchemas[schema]:
		return nil
	case strings.EqualFold(schema, ProjectionsSchema):
		return nil
	}
	if strings.HasPrefix(schema, "_") {
		return &Error{Reason: fmt.Sprintf("schema %s is internal; query events or projections.<name>", schema), Position: pos, Undefined: true}
	}
	full := name
	if schema != "" {
		full = schema + "." + name
	}
	return &Error{Reason: fmt.Sprintf("relation %q does not exist (queries may read events, projections.<name> and, over the Postgres protocol, the catalog)", full), Position: pos, Undefined: true}
}

func (w *walker) tableFunction(m map[string]any) error {
	fn, _ := m["function"].(map[string]any)
	name, _ := fn["function_name"].(string)
	schema, _ := fn["schema"].(string)
	catalog, _ := fn["catalog"].(string)
	pos := position(m)
	if catalog == "" && trustedSchemas[schema] {
		return nil
	}
	if catalog == "" && schema == "" && tableFunctions[strings.ToLower(name)] {
		return nil
	}
	return &Error{Reason: fmt.Sprintf("table function %s is not allowed here (allowed: generate_series, json_each, json_tree, range, unnest)", name), Position: pos}
}

// builtinSchemas are the qualifiers the engine itself puts on built-in
// functions (a list literal is main.list_value).
var builtinSchemas = map[string]bool{"": true, "main": true, "pg_catalog": true}

// safeSettings are the engine settings current_setting may read: they
// describe how values are shown, nothing of the server.
var safeSettings = map[string]bool{"timezone": true, "calendar": true, "default_order": true,
	"default_null_order": true, "default_collation": true, "errors_as_json": true}

func checkFunction(m map[string]any, catalog, schema, name string, pos int) error {
	if catalog == "" && trustedSchemas[schema] {
		return nil
	}
	if strings.EqualFold(name, "current_setting") && catalog == "" && builtinSchemas[schema] {
		if kids, _ := m["children"].([]any); len(kids) == 1 {
			if c, _ := kids[0].(map[string]any); c != nil && c["class"] == "CONSTANT" {
				if v, _ := c["value"].(map[string]any); v != nil {
					if s, ok := v["value"].(string); ok && safeSettings[strings.ToLower(s)] {
						return nil
					}
				}
			}
		}
		return &Error{Reason: "current_setting may read only TimeZone and Calendar here; the server's settings are not shown", Position: pos}
	}
	if DeniedFunction(name) {
		return &Error{Reason: fmt.Sprintf("function %s is not allowed: queries may not read files, run other SQL, or read or change engine settings", name), Position: pos}
	}
	// A catalog qualifier (system.main.repeat) would reach past the
	// bounded versions the warehouse defines on its connections.
	if catalog != "" || !builtinSchemas[schema] {
		return &Error{Reason: fmt.Sprintf("function %s.%s does not exist", schema, name), Position: pos, Undefined: true}
	}
	return nil
}
