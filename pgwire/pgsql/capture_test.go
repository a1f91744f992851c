package pgsql

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/allsource/allsource/internal/testkit/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestCaptureClientQueries regenerates testdata/psql.sql and
// testdata/sqlalchemy.sql from a real PostgreSQL 15: psql -E for the
// describe commands, and the server's statement log for SQLAlchemy 1.4 +
// psycopg2. It runs only with PGSQL_CAPTURE=1:
//
//	PGSQL_CAPTURE=1 go test -run TestCaptureClientQueries ./pgwire/pgsql/
func TestCaptureClientQueries(t *testing.T) {
	if os.Getenv("PGSQL_CAPTURE") != "1" {
		t.Skip("set PGSQL_CAPTURE=1 to regenerate testdata from a real PostgreSQL")
	}
	pgtest.RequireAvailable(t)
	ctx := context.Background()
	srv, err := pgtest.Start(ctx, pgtest.Options{Settings: map[string]string{"log_statement": "all"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE events (seq bigint NOT NULL, id text, tenant_id text, entity_id text,
		event_type text, version bigint, "timestamp" timestamptz, ingested_at timestamptz, payload json, metadata json)`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	out.WriteString("-- psql 15 -E against PostgreSQL 15 with table public.events; regenerate with PGSQL_CAPTURE=1 (capture_test.go).\n")
	out.WriteString("-- Each query is preceded by a line '-- command: <psql command>'; queries end with a line holding only ';'.\n")
	for _, cmd := range []string{`\l`, `\dn`, `\dt`, `\d`, `\d events`, `\d+ events`, `\df`, `\du`, `\dv`, `\di`} {
		res, err := exec.Command("/usr/bin/psql", "-X", "-E", "-c", cmd, srv.DSN()).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %s: %v\n%s", cmd, err, res)
		}
		for _, q := range psqlEchoed(string(res)) {
			fmt.Fprintf(&out, "\n-- command: %s\n%s\n;\n", cmd, q)
		}
	}
	writeTestdata(t, "psql.sql", out.String())

	script := `
import sqlalchemy as sa
e = sa.create_engine(%q)
with e.connect() as c:
    i = sa.inspect(c)
    i.get_table_names()
    i.get_columns('events')
    i.get_pk_constraint('events')
    i.get_foreign_keys('events')
    i.get_indexes('events')
    i.get_unique_constraints('events')
    i.get_view_names()
    i.get_schema_names()
    i.get_table_comment('events')
    e.dialect.has_table(c, 'events')
    c.execute(sa.text("SELECT count(*) FROM events WHERE entity_id = :e"), {"e": "order-1"}).fetchall()
`
	logPath := filepath.Join(srv.Dir(), "postgres.log")
	before, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(srv.DSN(), "postgres://", "postgresql+psycopg2://", 1)
	if res, err := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf(script, dsn)).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, res)
	}
	logText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logText = logText[len(before):]
	out.Reset()
	out.WriteString("-- SQLAlchemy 1.4 + psycopg2 (Debian python3) connect and inspect() against PostgreSQL 15, from the\n")
	out.WriteString("-- server log (log_statement=all); regenerate with PGSQL_CAPTURE=1 (capture_test.go). Queries end with a line ';'.\n")
	seen := map[string]bool{}
	for _, q := range loggedStatements(string(logText)) {
		if strings.Contains(q, "CREATE TABLE events") || seen[q] {
			continue
		}
		seen[q] = true
		fmt.Fprintf(&out, "\n%s\n;\n", q)
	}
	writeTestdata(t, "sqlalchemy.sql", out.String())
}

func writeTestdata(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// psqlEchoed extracts the queries psql -E echoes between its marker lines.
func psqlEchoed(out string) []string {
	var qs []string
	const begin, end = "********* QUERY **********\n", "\n**************************"
	for {
		i := strings.Index(out, begin)
		if i < 0 {
			return qs
		}
		out = out[i+len(begin):]
		j := strings.Index(out, end)
		if j < 0 {
			return qs
		}
		qs = append(qs, strings.TrimSpace(out[:j]))
		out = out[j+len(end):]
	}
}

var logPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// loggedStatements extracts the statements of "LOG:  statement: " lines,
// with their continuation lines.
func loggedStatements(log string) []string {
	var qs []string
	var cur *strings.Builder
	for _, line := range strings.Split(log, "\n") {
		if logPrefix.MatchString(line) {
			if cur != nil {
				qs = append(qs, strings.TrimSpace(cur.String()))
				cur = nil
			}
			if i := strings.Index(line, "LOG:  statement: "); i >= 0 {
				cur = &strings.Builder{}
				cur.WriteString(line[i+len("LOG:  statement: "):])
			}
			continue
		}
		if cur != nil {
			cur.WriteString("\n" + line)
		}
	}
	if cur != nil {
		qs = append(qs, strings.TrimSpace(cur.String()))
	}
	return qs
}
