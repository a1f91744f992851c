package pgsql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// testSession is a Session over a settings map.
type testSession struct {
	user     string
	settings map[string]string
}

func newTestSession() *testSession {
	return &testSession{user: "alice", settings: DefaultSettings()}
}

func (s *testSession) Setting(name string) (string, bool) {
	v, ok := s.settings[strings.ToLower(name)]
	return v, ok
}

func (s *testSession) SetSetting(name, value string, local bool) error {
	s.settings[strings.ToLower(name)] = value
	return nil
}

func (s *testSession) User() string { return s.user }

// result is a query result with values rendered as text.
type result struct {
	cols []string
	rows [][]string
}

func (r result) col(name string) []string {
	for i, c := range r.cols {
		if c == name {
			out := make([]string, len(r.rows))
			for j, row := range r.rows {
				out[j] = row[i]
			}
			return out
		}
	}
	return nil
}

// runSQL parses, rewrites and runs one query statement on the engine.
func runSQL(t testing.TB, conn *sql.Conn, sess Session, text string, args ...any) (result, string, error) {
	t.Helper()
	stmts, err := Parse(text)
	if err != nil {
		return result{}, "", err
	}
	if len(stmts) != 1 {
		t.Fatalf("%d statements in %q", len(stmts), text)
	}
	return runStatement(conn, sess, stmts[0], args...)
}

func runStatement(conn *sql.Conn, sess Session, st *Statement, args ...any) (result, string, error) {
	out, err := st.Rewrite(sess)
	if err != nil {
		return result{}, "", err
	}
	rows, err := conn.QueryContext(context.Background(), out, args...)
	if err != nil {
		return result{}, out, err
	}
	defer rows.Close()
	var res result
	res.cols, _ = rows.Columns()
	for rows.Next() {
		vals := make([]any, len(res.cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return res, out, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				row[i] = "NULL"
			case []byte:
				row[i] = string(x)
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, out, rows.Err()
}

// goldenQueries reads a testdata file of queries, each ended by a line
// holding only ';', with '-- command: X' lines naming what issued them.
type goldenQuery struct {
	command string
	text    string
}

func readGolden(t testing.TB, path string) []goldenQuery {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenQuery
	var cur []string
	command := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "-- command: "):
			command = strings.TrimPrefix(line, "-- command: ")
		case line == ";":
			text := strings.TrimSpace(strings.Join(cur, "\n"))
			if text != "" {
				out = append(out, goldenQuery{command, text})
			}
			cur = nil
		case strings.HasPrefix(line, "--") && len(cur) == 0:
		default:
			cur = append(cur, line)
		}
	}
	return out
}

// splitStatements splits a file of SQL into statements with PostgreSQL's
// parser.
func splitStatements(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := pg_query.SplitWithParser(string(b), true)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return stmts
}
