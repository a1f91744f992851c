package pgsql

import (
	"path/filepath"
	"strings"
	"testing"
)

// clientArgs are the parameters bound to client queries with $1… ($1 a
// schema, $2 a table, as Grafana's schema queries use them).
var clientArgs = map[int][]any{1: {"public"}, 2: {"public", "events"}}

// TestClientQueries runs every statement the BI clients send
// (testdata/clients, copied from /work/shared/client-queries) through
// Parse, Rewrite and the engine, and checks the answers the clients build
// their schema browsers from.
func TestClientQueries(t *testing.T) {
	conn := openEngine(t)
	files, _ := filepath.Glob("testdata/clients/*.sql")
	if len(files) != 3 {
		t.Fatalf("client query files: %v", files)
	}
	results := map[string]result{} // by the query's first line that is not a comment
	for _, f := range files {
		for i, q := range splitStatements(t, f) {
			sess := newTestSession()
			// Grafana's macro example reads a column ts; events calls it "timestamp".
			q = strings.ReplaceAll(q, "ts BETWEEN", `"timestamp" BETWEEN`)
			q = strings.ReplaceAll(q, "from ts)", `from "timestamp")`)
			stmts, err := Parse(q)
			if err != nil {
				t.Errorf("%s #%d: Parse: %v\n%s", filepath.Base(f), i, err, q)
				continue
			}
			for _, st := range stmts {
				if st.Kind != KindSelect {
					continue
				}
				res, out, err := runStatement(conn, sess, st, clientArgs[st.Params]...)
				if err != nil {
					t.Errorf("%s #%d: %v\n--- query:\n%s\n--- rewritten:\n%s", filepath.Base(f), i, err, q, out)
					continue
				}
				results[firstLine(st.Text)] = res
			}
		}
	}
	checks := []struct {
		query string // first line of the query
		col   string
		want  []string
	}{
		{"SELECT current_setting('server_version_num')::int/100 as version", "version", []string{"1500"}},
		{"SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", "extversion", nil},
		{`SELECT schema_name AS "name"`, "name", []string{"public"}},
		{`SELECT quote_ident(table_name) AS "table"`, "table", []string{"events"}},
		{`SELECT quote_ident(column_name) AS "column", data_type AS "type"`, "type",
			[]string{"bigint", "text", "text", "text", "text", "bigint", "timestamp with time zone", "timestamp with time zone", "json", "json"}},
		{`SELECT quote_ident(column_name) AS "column", data_type AS "type"`, "column",
			[]string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", `"timestamp"`, "ingested_at", "payload", "metadata"}},
		{"SELECT schema_name FROM information_schema.schemata", "schema_name", []string{"public"}},
		{"SELECT table_name FROM information_schema.tables", "table_name", []string{"events"}},
		{"SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale", "udt_name",
			[]string{"int8", "text", "text", "text", "text", "int8", "timestamptz", "timestamptz", "json", "json"}},
		{`SELECT 'event_type' AS col_name, "event_type"::text AS val FROM (SELECT DISTINCT "event_type" FROM "public"."events" WHERE "event_type" IS NOT NULL ORDER BY "event_type" LIMIT 100) sub_0`,
			"val", []string{"OrderPaid", "OrderPlaced"}},
		{`SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM"`,
			"TABLE_SCHEM", []string{"information_schema", "pg_catalog", "public"}},
		{"with table_privileges as (", "table", []string{"events"}},
		{`SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = '0') AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC`,
			"name", []string{"events"}},
		{"SELECT current_schema(),session_user", "session_user", []string{"alice"}},
		{"SELECT version()", "version", []string{VersionString}},
		{"SELECT * FROM pg_catalog.pg_settings where name='standard_conforming_strings'", "setting", []string{"on"}},
		{"SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = 1034", "typname", []string{"_aclitem"}},
		{"SELECT a.oid,a.*,pd.description FROM pg_catalog.pg_roles a left join pg_catalog.pg_shdescription pd on a.oid = pd.objoid ORDER BY a.rolname", "rolname", []string{"alice"}},
		{"SELECT t.oid,t.*,pg_tablespace_location(t.oid) loc FROM pg_catalog.pg_tablespace t ORDER BY t.oid", "spcname", []string{"pg_default", "pg_global"}},
	}
	for _, c := range checks {
		res, ok := results[c.query]
		if !ok {
			t.Errorf("no result for %q", c.query)
			continue
		}
		if got := res.col(c.col); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%.80s…: column %s = %q, want %q", c.query, c.col, got, c.want)
		}
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			return l
		}
	}
	return ""
}

// TestPsqlDescribe runs the queries psql 15 sends for \l, \dn, \dt, \d,
// \d events, \d+ events, \df, \du, \dv and \di (testdata/psql.sql, captured
// with psql -E from a real PostgreSQL 15) and checks what psql would show.
func TestPsqlDescribe(t *testing.T) {
	conn := openEngine(t)
	byCommand := map[string][]result{}
	for i, g := range readGolden(t, "testdata/psql.sql") {
		res, out, err := runSQL(t, conn, newTestSession(), g.text)
		if err != nil {
			t.Errorf("psql %s #%d: %v\n--- query:\n%s\n--- rewritten:\n%s", g.command, i, err, g.text, out)
			continue
		}
		byCommand[g.command] = append(byCommand[g.command], res)
	}
	for _, cmd := range []string{`\l`, `\dn`, `\dt`, `\d`, `\d events`, `\d+ events`, `\df`, `\du`, `\dv`, `\di`} {
		if len(byCommand[cmd]) == 0 {
			t.Errorf("no queries ran for %s", cmd)
		}
	}
	checks := []struct {
		cmd   string
		query int
		col   string
		want  []string
	}{
		{`\l`, 0, "Name", []string{"allsource"}},
		{`\l`, 0, "Encoding", []string{"UTF8"}},
		{`\dn`, 0, "Name", []string{"public"}},
		{`\dt`, 0, "Name", []string{"events"}},
		{`\dt`, 0, "Type", []string{"table"}},
		{`\dt`, 0, "Schema", []string{"public"}},
		{`\d`, 0, "Name", []string{"events"}},
		{`\d events`, 0, "oid", []string{"16384"}},
		{`\d events`, 1, "relkind", []string{"r"}},
		{`\d events`, 2, "attname", []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}},
		{`\d events`, 2, "format_type", []string{"bigint", "text", "text", "text", "text", "bigint", "timestamp with time zone", "timestamp with time zone", "json", "json"}},
		{`\d events`, 2, "attnotnull", []string{"true", "true", "true", "true", "true", "true", "true", "true", "false", "false"}},
		{`\d+ events`, 2, "col_description", []string{"server-assigned global sequence number", "event id (UUID text)", "NULL", "NULL", "NULL", "per-entity version", "NULL", "NULL", "NULL", "NULL"}},
		{`\df`, 0, "Name", nil},
		{`\du`, 0, "rolname", []string{"alice"}},
		{`\dv`, 0, "Name", nil},
		{`\di`, 0, "Name", nil},
	}
	for _, c := range checks {
		if c.query >= len(byCommand[c.cmd]) {
			t.Errorf("%s: no query #%d", c.cmd, c.query)
			continue
		}
		if got := byCommand[c.cmd][c.query].col(c.col); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s query #%d column %s = %q, want %q", c.cmd, c.query, c.col, got, c.want)
		}
	}
}

// TestSQLAlchemyReflection runs what SQLAlchemy 1.4 with psycopg2 sends on
// connect and for inspect() (testdata/sqlalchemy.sql, captured from a real
// PostgreSQL 15's statement log).
func TestSQLAlchemyReflection(t *testing.T) {
	conn := openEngine(t)
	var results []result
	var texts []string
	for i, g := range readGolden(t, "testdata/sqlalchemy.sql") {
		stmts, err := Parse(g.text)
		if err != nil {
			t.Errorf("#%d: Parse: %v\n%s", i, err, g.text)
			continue
		}
		for _, st := range stmts {
			if st.Kind != KindSelect {
				continue
			}
			res, out, err := runStatement(conn, newTestSession(), st)
			if err != nil {
				t.Errorf("#%d: %v\n--- query:\n%s\n--- rewritten:\n%s", i, err, g.text, out)
				continue
			}
			results = append(results, res)
			texts = append(texts, st.Text)
		}
	}
	find := func(substr string) result {
		for i, s := range texts {
			if strings.Contains(s, substr) {
				return results[i]
			}
		}
		t.Errorf("no query containing %q", substr)
		return result{}
	}
	if got := find("select pg_catalog.version()").rows; len(got) != 1 || !strings.HasPrefix(got[0][0], "PostgreSQL 15.13") {
		t.Errorf("version: %v", got)
	}
	if got := find("select current_schema()").rows; len(got) != 1 || got[0][0] != "public" {
		t.Errorf("current_schema: %v", got)
	}
	if got := find("c.relkind in ('r', 'p')").col("relname"); strings.Join(got, ",") != "events" {
		t.Errorf("get_table_names: %v", got)
	}
	if got := find("AND c.relname = 'events' AND c.relkind in").col("oid"); strings.Join(got, ",") != "16384" {
		t.Errorf("table oid: %v", got)
	}
	cols := find("pg_catalog.format_type(a.atttypid, a.atttypmod),\n")
	if got := cols.col("format_type"); len(got) != 10 || got[6] != "timestamp with time zone" || got[8] != "json" {
		t.Errorf("get_columns types: %v", got)
	}
	if got := cols.col("attname"); len(got) != 10 || got[0] != "seq" {
		t.Errorf("get_columns names: %v", got)
	}
	if got := find("relname='events'").rows; len(got) != 1 {
		t.Errorf("has_table: %v", got)
	}
	if got := find("SELECT count(*) FROM events").rows; len(got) != 1 || got[0][0] != "2" {
		t.Errorf("count: %v", got)
	}
}
