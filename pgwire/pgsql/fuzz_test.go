package pgsql

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse and Rewrite never panic and only return
// *Error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "", ";", "SET x = 1", "SELECT * FROM events WHERE entity_id = $1",
		"SELECT 'pg_class'::regclass", "SELECT '{a,\"b\"}'::text[]", "COPY events FROM STDIN",
		"SELECT c.oid::regclass FROM pg_class c", "SELECT format('%I', 'x')", "EXPLAIN SELECT 1",
		"SELECT * FROM generate_series(1,2) g", "SELECT x ~ 'a' FROM (VALUES ('a')) v(x)",
	} {
		f.Add(s)
	}
	for _, file := range []string{"testdata/psql.sql", "testdata/sqlalchemy.sql"} {
		if _, err := os.Stat(file); err == nil {
			for _, g := range readGolden(f, file) {
				f.Add(g.text)
			}
		}
	}
	files, _ := filepath.Glob("testdata/clients/*.sql")
	for _, file := range files {
		for _, s := range splitStatements(f, file) {
			f.Add(s)
		}
	}
	sess := newTestSession()
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := Parse(sql)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T: %v", sql, err, err)
			}
			return
		}
		for _, st := range stmts {
			switch st.Kind {
			case KindSelect, KindExplain, KindCopyTo:
				if _, err := st.Rewrite(sess); err != nil {
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("Rewrite(%q) error %T: %v", sql, err, err)
					}
				}
			}
		}
	})
}
