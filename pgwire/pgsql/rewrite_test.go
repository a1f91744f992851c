package pgsql

import (
	"strings"
	"testing"
)

// TestRewriteResults runs PostgreSQL queries on the engine and checks
// their results: the semantics the rewrite must keep.
func TestRewriteResults(t *testing.T) {
	conn := openEngine(t)
	cases := []struct {
		sql  string
		cols string   // comma-separated column names; "" = do not check
		rows []string // rows, columns joined with "|"
	}{
		{"SELECT version()", "version", []string{VersionString}},
		{"SELECT current_database(), current_catalog", "current_database,current_catalog", []string{"allsource|allsource"}},
		{"SELECT current_user, session_user, user, current_role", "current_user,session_user,user,current_role", []string{"alice|alice|alice|alice"}},
		{"SELECT current_schema(), current_schema", "current_schema,current_schema", []string{"public|public"}},
		{"SELECT current_schemas(true), current_schemas(false)", "", []string{"[pg_catalog public]|[public]"}},
		{"SELECT current_setting('search_path')", "current_setting", []string{`"$user", public`}},
		{"SELECT current_setting('server_version_num')::int / 100 AS v", "v", []string{"1500"}},
		{"SELECT current_setting('no.such', true) IS NULL", "", []string{"true"}},
		{"SELECT pg_backend_pid() >= 0, pg_is_in_recovery()", "", []string{"true|false"}},
		{"SELECT 7 / 2, 7.0 / 2, -7 / 2", "", []string{"3|3.5|-3"}},
		{"SELECT count(*), max(seq) FROM events", "count,max", []string{"3|3"}},
		{"SELECT 1, 'a'", "?column?,?column?", []string{"1|a"}},
		// Regular expressions match anywhere, as in PostgreSQL.
		{"SELECT 'abc' ~ 'b', 'abc' !~ '^b', 'ABC' ~* 'b', 'abc' !~* 'B'", "", []string{"true|true|true|false"}},
		{"SELECT relname FROM pg_class WHERE relname OPERATOR(pg_catalog.~) '^(events)$' COLLATE pg_catalog.default", "", []string{"events"}},
		{"SELECT 'a_c' LIKE 'a!_c' ESCAPE '!', 'abc' NOT LIKE 'a!_c' ESCAPE '!'", "", []string{"true|true"}},
		// OID alias types.
		{"SELECT 'pg_class'::regclass::oid, 'pg_namespace'::regclass::oid, 'pg_constraint'::regclass::oid", "", []string{"1259|2615|2606"}},
		{"SELECT 'events'::regclass::oid, 'public.events'::regclass::oid", "", []string{"16384|16384"}},
		{"SELECT oid FROM pg_class WHERE oid = 'pg_type'::regclass", "", []string{"1247"}},
		{"SELECT c.oid::regclass, c.oid::regclass::text FROM pg_class c WHERE c.oid = 16384", "oid,oid", []string{"events|events"}},
		{"SELECT reltype::regtype::text FROM pg_class WHERE relname = 'events'", "", []string{"events"}},
		{"SELECT 'int4'::regtype::oid, 'timestamp with time zone'::regtype::oid, 'text'::regtype", "", []string{"23|1184|25"}},
		{"SELECT 1184::regtype::text, 'public'::regnamespace::oid, 2200::regnamespace::text", "", []string{"timestamp with time zone|2200|public"}},
		{"SELECT typname FROM pg_type WHERE typinput = 'pg_catalog.array_in'::regproc AND oid = 1009", "", []string{"_text"}},
		{"SELECT to_regclass('events')::oid, to_regclass('nope') IS NULL", "", []string{"16384|true"}},
		{"SELECT 'x'::name, 'y'::\"char\", '1 2'::pg_catalog.text, 5::oid", "", []string{"x|y|1 2|5"}},
		{"SELECT '{a,b,\"c d\",NULL}'::text[], '{}'::text[], '{1,2}'::int2[]", "", []string{"[a b c d <nil>]|[]|[1 2]"}},
		{"SELECT 'x' = ANY('{x,y}'::text[]), 'z' <> ALL('{x,y}'::text[])", "", []string{"true|true"}},
		// Catalog helper functions.
		{"SELECT format_type(1184, -1), format_type(1043, 14), format_type(1700, 655366), format_type(1009, NULL), format_type(99999, NULL)", "",
			[]string{"timestamp with time zone|character varying(10)|numeric(10,2)|text[]|???"}},
		{"SELECT pg_catalog.pg_get_userbyid(10), pg_get_userbyid(7)", "", []string{"alice|unknown (OID=7)"}},
		{"SELECT pg_table_is_visible(16384), pg_type_is_visible(23), has_table_privilege('events', 'select')", "", []string{"true|true|true"}},
		{"SELECT obj_description(16384, 'pg_class'), col_description(16384, 1), col_description(16384, 3)", "", []string{"AllSource events, one row per stored event|server-assigned global sequence number|NULL"}},
		{"SELECT quote_ident('events'), quote_ident('Events'), quote_ident('select'), quote_ident('a\"b')", "", []string{`events|"Events"|"select"|"a""b"`}},
		{"SELECT parse_ident('public.\"Ev\"'), array_length(parse_ident('a.b'), 1)", "", []string{"[public Ev]|2"}},
		{"SELECT array_lower(ARRAY[1,2], 1), array_upper(ARRAY[1,2], 1), array_length(ARRAY[]::int[], 1)", "", []string{"1|2|NULL"}},
		{"SELECT pg_size_pretty(100), pg_size_pretty(20480), pg_relation_size(16384), pg_encoding_to_char(6)", "", []string{"100 bytes|20 kB|0|UTF8"}},
		{"SELECT pg_typeof(1), pg_typeof('a'::text), pg_typeof(now())", "", []string{"integer|text|timestamp with time zone"}},
		{"SELECT format('%I.%I = %L', 'public', 'My Table', 'it''s')", "", []string{`public."My Table" = 'it''s'`}},
		{"SELECT count(*) > 400 FROM pg_get_keywords()", "", []string{"true"}},
		{"SELECT string_agg(word, ',') FROM pg_catalog.pg_get_keywords() WHERE word IN ('select', 'from')", "", []string{"from,select"}},
		// Set-returning functions.
		{"SELECT generate_series(1, 3)", "generate_series", []string{"1", "2", "3"}},
		{"SELECT i FROM generate_series(1, 3) AS i", "i", []string{"1", "2", "3"}},
		{"SELECT s FROM string_to_array('a,b', ',') s", "s", []string{"[a b]"}},
		{"SELECT s[2] FROM string_to_array('a,b', ',') AS s", "s", []string{"b"}},
		// CTEs, subqueries, user tables under their PostgreSQL names.
		{"WITH t AS (SELECT entity_id FROM public.events WHERE version = 2) SELECT * FROM t", "entity_id", []string{"order-1"}},
		{"SELECT allsource.public.events.seq FROM allsource.public.events ORDER BY 1 LIMIT 1", "seq", []string{"1"}},
		{"SELECT payload->>'amount' AS a FROM events WHERE seq = 3", "a", []string{"25"}},
		{"SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1", "event_type,count", []string{"OrderPaid|1", "OrderPlaced|2"}},
		{"SELECT 1 UNION ALL SELECT 2 ORDER BY 1", "?column?", []string{"1", "2"}},
		// Catalog content.
		{"SELECT nspname FROM pg_namespace ORDER BY oid", "", []string{"pg_catalog", "pg_toast", "public", "information_schema"}},
		{"SELECT datname FROM pg_database", "", []string{"allsource"}},
		{"SELECT rolname, rolsuper FROM pg_roles", "", []string{"alice|true"}},
		{"SELECT usename FROM pg_user", "", []string{"alice"}},
		{"SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'", "", []string{"events|alice"}},
		{"SELECT count(*) FROM pg_extension", "", []string{"0"}},
		{"SELECT table_schema, table_type FROM information_schema.tables WHERE table_name = 'events'", "", []string{"public|BASE TABLE"}},
		{"SELECT column_name, data_type, udt_name, is_nullable FROM information_schema.columns WHERE table_name = 'events' AND ordinal_position IN (1, 7, 9)",
			"", []string{"seq|bigint|int8|NO", "timestamp|timestamp with time zone|timestamptz|NO", "payload|json|json|YES"}},
		{"SELECT attname, atttypid, attnum FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum = 2", "", []string{"id|25|2"}},
		{"SELECT setting FROM pg_settings WHERE name = 'standard_conforming_strings'", "", []string{"on"}},
		{"SELECT typname, typlen, typcategory, typarray FROM pg_type WHERE oid IN (20, 1184) ORDER BY oid", "", []string{"int8|8|N|1016", "timestamptz|8|D|1185"}},
	}
	for _, c := range cases {
		res, out, err := runSQL(t, conn, newTestSession(), c.sql)
		if err != nil {
			t.Errorf("%s: %v\nrewritten: %s", c.sql, err, out)
			continue
		}
		if c.cols != "" && strings.Join(res.cols, ",") != c.cols {
			t.Errorf("%s: columns %v, want %s\nrewritten: %s", c.sql, res.cols, c.cols, out)
		}
		var got []string
		for _, r := range res.rows {
			got = append(got, strings.Join(r, "|"))
		}
		if strings.Join(got, "\n") != strings.Join(c.rows, "\n") {
			t.Errorf("%s:\n got %q\nwant %q\nrewritten: %s", c.sql, got, c.rows, out)
		}
	}
}

// TestRewriteErrors checks refusals found while rewriting, with positions
// in the statement text.
func TestRewriteErrors(t *testing.T) {
	cases := []struct {
		sql  string
		code string
		msg  string
		pos  int
	}{
		{"SELECT * FROM nope", "42P01", `relation "nope" does not exist`, 15},
		{"SELECT * FROM public.nope", "42P01", `relation "public.nope" does not exist`, 15},
		{"SELECT * FROM pg_catalog.pg_nope", "42P01", `relation "pg_catalog.pg_nope" does not exist`, 15},
		{"SELECT * FROM _hot.ev", "42501", "permission denied for schema _hot", 15},
		{"SELECT * FROM pgcat.pg_class", "42501", "permission denied for schema pgcat", 15},
		{"SELECT * FROM other.public.events", "0A000", "cross-database references are not implemented", 15},
		{"SELECT * FROM read_csv('/etc/passwd')", "42501", "function read_csv is not allowed", 15},
		{"SELECT * FROM read_parquet('x.parquet')", "42501", "function read_parquet is not allowed", 15},
		{"SELECT read_text('/etc/passwd')", "42501", "function read_text is not allowed", 8},
		{"SELECT 1 FROM events WHERE glob('*') IS NOT NULL", "42501", "function glob is not allowed", 28},
		{"SELECT * FROM duckdb_settings()", "42501", "function duckdb_settings is not allowed", 15},
		{"SELECT * FROM pragma_database_list()", "42501", "function pragma_database_list is not allowed", 15},
		{"SELECT getenv('HOME')", "42501", "function getenv is not allowed", 8},
		{"SELECT * FROM query('SELECT 1')", "42501", "function query is not allowed", 15},
		{"SELECT json_execute_serialized_sql('x')", "42501", "function json_execute_serialized_sql is not allowed", 8},
		{"SELECT enable_logging()", "42501", "function enable_logging is not allowed", 8},
		{"SELECT checkpoint()", "42501", "function checkpoint is not allowed", 8},
		{"SELECT main.lower('x')", "42883", "function main.lower does not exist", 8},
		{"SELECT current_setting('no_such')", "42704", `unrecognized configuration parameter "no_such"`, 8},
		{"SELECT 'nope'::regclass", "42P01", `relation "nope" does not exist`, 14},
		{"SELECT set_config('server_version', '1', false)", "55P02", "cannot be changed", 8},
		{"SELECT x FROM (SELECT 1 AS x) s, LATERAL (SELECT * FROM nope) n", "42P01", `relation "nope" does not exist`, 57},
	}
	for _, c := range cases {
		stmts, err := Parse(c.sql)
		if err == nil {
			_, err = stmts[0].Rewrite(newTestSession())
		}
		checkError(t, c.sql, err, c.code, c.msg, c.pos)
	}
}

func TestRewritePassThrough(t *testing.T) {
	for _, sql := range []string{
		"SELECT * FROM events WHERE entity_id = $1",
		"SELECT seq, id, payload FROM events WHERE entity_id = $1 AND seq > $2 ORDER BY seq LIMIT 100",
	} {
		st := mustParse(t, sql)
		out, err := st.Rewrite(newTestSession())
		if err != nil {
			t.Fatal(err)
		}
		if out != sql {
			t.Errorf("%q rewritten to %q, want it unchanged", sql, out)
		}
	}
	st := mustParse(t, "SELECT * FROM public.events WHERE entity_id = $1")
	if out, _ := st.Rewrite(newTestSession()); out != "SELECT * FROM events WHERE entity_id = $1" {
		t.Errorf("public.events: %q", out)
	}
}

func TestSetConfig(t *testing.T) {
	conn := openEngine(t)
	sess := newTestSession()
	res, _, err := runSQL(t, conn, sess, "SELECT set_config('application_name', 'grafana', false)")
	if err != nil {
		t.Fatal(err)
	}
	if res.rows[0][0] != "grafana" || sess.settings["application_name"] != "grafana" {
		t.Errorf("set_config: result %v, session %q", res.rows, sess.settings["application_name"])
	}
	// The value is read from the session at each execution.
	st := mustParse(t, "SELECT current_setting('application_name')")
	sess.settings["application_name"] = "metabase"
	if out, _ := st.Rewrite(sess); !strings.Contains(out, "'metabase'") {
		t.Errorf("current_setting not re-read: %s", out)
	}
}

func TestExplainAndCopy(t *testing.T) {
	conn := openEngine(t)
	for _, sql := range []string{
		"EXPLAIN SELECT * FROM events WHERE entity_id = 'order-1'",
		"EXPLAIN (ANALYZE, FORMAT TEXT) SELECT count(*) FROM public.events",
		"EXPLAIN SELECT * FROM pg_class",
	} {
		st := mustParse(t, sql)
		res, out, err := runStatement(conn, newTestSession(), st)
		if err != nil || len(res.rows) == 0 {
			t.Errorf("%s: %v (%d rows)\nrewritten: %s", sql, err, len(res.rows), out)
		}
	}
	st := mustParse(t, "COPY (SELECT seq, event_type FROM public.events ORDER BY seq) TO STDOUT WITH CSV HEADER")
	res, out, err := runStatement(conn, newTestSession(), st)
	if err != nil || len(res.rows) != 3 || strings.Join(res.cols, ",") != "seq,event_type" {
		t.Errorf("COPY query: %v %v %v\nrewritten: %s", err, res.cols, res.rows, out)
	}
	st = mustParse(t, "COPY events (seq, id) TO STDOUT")
	res, out, err = runStatement(conn, newTestSession(), st)
	if err != nil || len(res.rows) != 3 || strings.Join(res.cols, ",") != "seq,id" {
		t.Errorf("COPY table: %v %v\nrewritten: %s", err, res.cols, out)
	}
}

// TestConcurrentRewrite shares cached statements between goroutines, as
// pgwire's sessions do (run with -race).
func TestConcurrentRewrite(t *testing.T) {
	queries := []string{
		"SELECT * FROM events WHERE entity_id = $1",
		"SELECT current_setting('application_name'), current_user",
		"SELECT c.oid::regclass FROM pg_class c WHERE c.relname ~ 'ev'",
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			sess := newTestSession()
			for i := 0; i < 50; i++ {
				st, err := Parse(queries[i%len(queries)])
				if err == nil {
					_, err = st[0].Rewrite(sess)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
