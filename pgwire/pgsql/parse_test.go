package pgsql

import (
	"errors"
	"strings"
	"testing"
)

func TestParseClassify(t *testing.T) {
	cases := []struct {
		sql   string
		kind  Kind
		tag   string
		name  string
		value string
		local bool
	}{
		{"", KindEmpty, "", "", "", false},
		{" ; ;", KindEmpty, "", "", "", false},
		{"-- only a comment", KindEmpty, "", "", "", false},
		{"SELECT 1", KindSelect, "", "", "", false},
		{"VALUES (1), (2)", KindSelect, "", "", "", false},
		{"TABLE events", KindSelect, "", "", "", false},
		{"WITH x AS (SELECT 1) SELECT * FROM x", KindSelect, "", "", "", false},
		{"EXPLAIN SELECT * FROM events", KindExplain, "EXPLAIN", "", "", false},
		{"SET search_path = \"$user\", public", KindSet, "SET", "search_path", `"$user", public`, false},
		{"SET search_path TO public,pg_catalog", KindSet, "SET", "search_path", "public, pg_catalog", false},
		{"SET extra_float_digits = 3", KindSet, "SET", "extra_float_digits", "3", false},
		{"SET application_name = 'Metabase v0.55.1'", KindSet, "SET", "application_name", "Metabase v0.55.1", false},
		{"SET SESSION statement_timeout TO 5000", KindSet, "SET", "statement_timeout", "5000", false},
		{"SET LOCAL statement_timeout = '5s'", KindSet, "SET", "statement_timeout", "5s", true},
		{"SET DateStyle = ISO, MDY", KindSet, "SET", "datestyle", "iso, mdy", false}, // the GUC canonicalizes; pgwire may too
		{"SET TIME ZONE 'UTC'", KindSet, "SET", "timezone", "UTC", false},
		{"SET TIME ZONE LOCAL", KindReset, "SET", "timezone", "", false},
		{"SET NAMES 'UTF8'", KindSet, "SET", "client_encoding", "UTF8", false},
		{"SET client_min_messages TO DEFAULT", KindReset, "SET", "client_min_messages", "", false},
		{"SET myapp.tenant = 't1'", KindSet, "SET", "myapp.tenant", "t1", false},
		{"RESET statement_timeout", KindReset, "RESET", "statement_timeout", "", false},
		{"RESET ALL", KindReset, "RESET", "all", "", false},
		{"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED", KindNoop, "SET", "default_transaction_isolation", "read uncommitted", false},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", KindNoop, "SET", "transaction_isolation", "serializable", false},
		{"SHOW TRANSACTION ISOLATION LEVEL", KindShow, "SHOW", "transaction_isolation", "", false},
		{"SHOW ALL", KindShow, "SHOW", "all", "", false},
		{"show timezone", KindShow, "SHOW", "timezone", "", false},
		{"SHOW TIME ZONE", KindShow, "SHOW", "timezone", "", false},
		{"SHOW server_version", KindShow, "SHOW", "server_version", "", false},
		{"BEGIN", KindBegin, "BEGIN", "", "", false},
		{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", KindBegin, "BEGIN", "", "", false},
		{"START TRANSACTION", KindBegin, "START TRANSACTION", "", "", false},
		{"COMMIT", KindCommit, "COMMIT", "", "", false},
		{"END", KindCommit, "COMMIT", "", "", false},
		{"ROLLBACK", KindRollback, "ROLLBACK", "", "", false},
		{"ABORT", KindRollback, "ROLLBACK", "", "", false},
		{"SAVEPOINT sp1", KindSavepoint, "SAVEPOINT", "sp1", "", false},
		{"RELEASE SAVEPOINT sp1", KindRelease, "RELEASE", "sp1", "", false},
		{"ROLLBACK TO SAVEPOINT sp1", KindRollbackTo, "ROLLBACK", "sp1", "", false},
		{"DISCARD ALL", KindDiscard, "DISCARD ALL", "all", "", false},
		{"DEALLOCATE ALL", KindDeallocate, "DEALLOCATE ALL", "", "", false},
		{"DEALLOCATE pdo_stmt_1", KindDeallocate, "DEALLOCATE", "pdo_stmt_1", "", false},
		{"LISTEN chan", KindNoop, "LISTEN", "chan", "", false},
		{"UNLISTEN *", KindNoop, "UNLISTEN", "", "", false},
		{"COPY events TO STDOUT", KindCopyTo, "COPY", "", "", false},
		{"COPY (SELECT seq FROM events) TO STDOUT WITH (FORMAT csv, HEADER)", KindCopyTo, "COPY", "", "", false},
		{"COPY events FROM STDIN", KindCopyFrom, "COPY", "", "", false},
		{"COPY public.events (id, payload) FROM STDIN WITH CSV HEADER", KindCopyFrom, "COPY", "", "", false},
	}
	for _, c := range cases {
		stmts, err := Parse(c.sql)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sql, err)
			continue
		}
		if len(stmts) != 1 {
			t.Errorf("Parse(%q): %d statements", c.sql, len(stmts))
			continue
		}
		st := stmts[0]
		if st.Kind != c.kind || st.Tag != c.tag || st.Name != c.name || st.Value != c.value || st.Local != c.local {
			t.Errorf("Parse(%q) = kind %v tag %q name %q value %q local %v; want %v %q %q %q %v",
				c.sql, st.Kind, st.Tag, st.Name, st.Value, st.Local, c.kind, c.tag, c.name, c.value, c.local)
		}
	}
}

func TestParseMulti(t *testing.T) {
	sql := "SET extra_float_digits = 3; SELECT $1::int, $3 ;\n  -- trailing\n SHOW search_path"
	stmts, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements", len(stmts))
	}
	want := []string{"SET extra_float_digits = 3", "SELECT $1::int, $3", "-- trailing\n SHOW search_path"}
	for i, st := range stmts {
		if st.Text != want[i] {
			t.Errorf("statement %d text %q, want %q", i, st.Text, want[i])
		}
		if sql[st.Offset:st.Offset+len(st.Text)] != st.Text {
			t.Errorf("statement %d offset %d does not locate its text", i, st.Offset)
		}
	}
	if stmts[1].Params != 3 {
		t.Errorf("Params = %d, want 3", stmts[1].Params)
	}
	again, _ := Parse(sql)
	if again[1] != stmts[1] {
		t.Error("Parse result not cached")
	}
}

func TestParseCopy(t *testing.T) {
	st := mustParse(t, "COPY public.events (id, payload) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')")
	c := st.Copy
	if c.Table != "events" || strings.Join(c.Columns, ",") != "id,payload" || c.Format != "csv" || !c.Header ||
		c.Delimiter != ";" || c.Quote != `"` || c.Escape != `"` || c.Null != "" {
		t.Errorf("COPY FROM: %+v", c)
	}
	st = mustParse(t, "COPY events TO STDOUT")
	if st.Copy.Format != "text" || st.Copy.Delimiter != "\t" || st.Copy.Null != `\N` || st.Copy.Query == nil {
		t.Errorf("COPY TO: %+v", st.Copy)
	}
	st = mustParse(t, "COPY events TO STDOUT (FORMAT binary)")
	if st.Copy.Format != "binary" {
		t.Errorf("COPY binary: %+v", st.Copy)
	}
}

func mustParse(t testing.TB, sql string) *Statement {
	t.Helper()
	stmts, err := Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return stmts[0]
}

// TestRefusals checks that unsafe and unsupported statements are refused
// with the right SQLSTATE, a message naming what was refused, and a
// position where PostgreSQL would give one.
func TestRefusals(t *testing.T) {
	cases := []struct {
		sql  string
		code string
		msg  string // a substring of the message
		pos  int    // expected position; -1 = do not check
	}{
		{"INSERT INTO events (id) VALUES ('x')", "42501", "INSERT is not allowed", 0},
		{"UPDATE events SET id = 'x'", "42501", "UPDATE is not allowed", 0},
		{"DELETE FROM events", "42501", "DELETE is not allowed", 0},
		{"MERGE INTO events e USING events f ON e.seq = f.seq WHEN MATCHED THEN DELETE", "42501", "MERGE is not allowed", 0},
		{"CREATE TABLE t (a int)", "42501", "CREATE TABLE is not allowed", 0},
		{"CREATE VIEW v AS SELECT 1", "42501", "CREATE VIEW is not allowed", 0},
		{"CREATE TABLE t AS SELECT 1", "42501", "CREATE TABLE AS is not allowed", 0},
		{"CREATE MACRO m(x) AS x", "42501", "CREATE is not allowed", 0},
		{"CREATE SCHEMA s", "42501", "CREATE SCHEMA is not allowed", 0},
		{"DROP TABLE events", "42501", "DROP TABLE is not allowed", 0},
		{"ALTER TABLE events ADD COLUMN x int", "42501", "ALTER TABLE is not allowed", 0},
		{"TRUNCATE events", "42501", "TRUNCATE is not allowed", 0},
		{"GRANT SELECT ON events TO bob", "42501", "GRANT is not allowed", 0},
		{"REVOKE SELECT ON events FROM bob", "42501", "REVOKE is not allowed", 0},
		{"VACUUM", "42501", "VACUUM is not allowed", 0},
		{"ANALYZE events", "42501", "ANALYZE is not allowed", 0},
		{"CHECKPOINT", "42501", "CHECKPOINT is not allowed", 0},
		{"CALL p()", "42501", "CALL is not allowed", 0},
		{"DO $$ BEGIN END $$", "42501", "DO is not allowed", 0},
		{"LOAD 'httpfs'", "42501", "LOAD is not allowed", 0},
		{"ATTACH 'x.db' AS x", "42501", "ATTACH is not allowed", 0},
		{"INSTALL httpfs", "42501", "INSTALL is not allowed", 0},
		{"PRAGMA database_list", "42501", "PRAGMA is not allowed", 0},
		{"EXPORT DATABASE '/tmp/x'", "42501", "EXPORT is not allowed", 0},
		{"COPY events TO '/tmp/x.csv'", "42501", "COPY TO a file is not allowed", 0},
		{"COPY events FROM '/etc/passwd'", "42501", "COPY FROM a file is not allowed", 0},
		{"COPY events TO PROGRAM 'cat'", "42501", "COPY TO PROGRAM is not allowed", 0},
		{"COPY pg_class FROM STDIN", "42501", "COPY FROM into pg_class is not allowed", 0},
		{"COPY other.events FROM STDIN", "42501", "not allowed", 0},
		{"SELECT 1 INTO t", "42501", "SELECT INTO is not allowed", 0},
		{"SELECT * FROM events FOR UPDATE", "0A000", "FOR UPDATE", 0},
		{"DECLARE c SCROLL CURSOR FOR SELECT 1", "0A000", "SCROLL cursors is not supported", 0},
		{"FETCH BACKWARD 10 FROM c", "0A000", "FETCH BACKWARD/PRIOR is not supported", 0},
		{"MOVE ABSOLUTE 3 IN c", "0A000", "MOVE ABSOLUTE/RELATIVE is not supported", 0},
		{"PREPARE p AS INSERT INTO events VALUES (1)", "42501", "PREPARE of INSERT is not allowed", 0},
		{"EXECUTE p(now())", "0A000", "EXECUTE with expressions as arguments is not supported", 0},
		{"NOTIFY chan", "0A000", "NOTIFY is not supported", 0},
		{"EXPLAIN DELETE FROM events", "42501", "DELETE is not allowed", 0},
		{"SET no_such_setting = 1", "42704", `unrecognized configuration parameter "no_such_setting"`, 0},
		{"SHOW no_such_setting", "42704", `unrecognized configuration parameter "no_such_setting"`, 0},
		{"SET server_version = '16'", "55P02", `parameter "server_version" cannot be changed`, 0},
		{"SELECT * FROM", "42601", "syntax error at end of input", 14},
		{"SELECT 1; SELEC 2", "42601", `syntax error at or near "SELEC"`, 11},
		{"SELECT 'unterminated", "42601", "unterminated quoted string", 8},
	}
	for _, c := range cases {
		_, err := Parse(c.sql)
		checkError(t, c.sql, err, c.code, c.msg, c.pos)
	}
	// COPY's relation is resolved with the statement's query, against
	// the session's catalog.
	sts, err := Parse("COPY nope TO STDOUT")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts[0].Rewrite(nil)
	checkError(t, "COPY nope TO STDOUT", err, "42P01", `relation "nope" does not exist`, 0)
}

func checkError(t *testing.T, sql string, err error, code, msg string, pos int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%q: got %v (%T), want *Error %s", sql, err, err, code)
		return
	}
	if e.Code != code || !strings.Contains(e.Message, msg) || (pos >= 0 && e.Position != pos) {
		t.Errorf("%q: got %s %q position %d; want %s containing %q position %d", sql, e.Code, e.Message, e.Position, code, msg, pos)
	}
}
