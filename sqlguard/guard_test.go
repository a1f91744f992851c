package sqlguard_test

import (
	"bufio"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource/sqlguard"
)

// serialize asks the engine for q's parse tree, as the warehouse does.
func serialize(t testing.TB, db *sql.DB, q string) []byte {
	t.Helper()
	var out string
	if err := db.QueryRow("SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", q).Scan(&out); err != nil {
		t.Fatalf("serialize %q: %v", q, err)
	}
	return []byte(out)
}

func openEngine(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// Corpus is the shared escape corpus (testdata/escapes.sql at the module
// root): the statements to refuse, then those that may run.
type Corpus struct{ Refuse, MayRun []string }

func loadCorpus(t testing.TB) Corpus {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "escapes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c Corpus
	mayRun := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- @may-run") {
			mayRun = true
		}
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		line = strings.NewReplacer("{dir}", "/srv/allsource", "{other}", "beta", "{me}", "acme").Replace(line)
		if mayRun {
			c.MayRun = append(c.MayRun, line)
		} else {
			c.Refuse = append(c.Refuse, line)
		}
	}
	return c
}

func TestEscapeCorpusRefused(t *testing.T) {
	db := openEngine(t)
	c := loadCorpus(t)
	if len(c.Refuse)+len(c.MayRun) < 150 {
		t.Fatalf("the corpus has %d statements, want at least 150", len(c.Refuse)+len(c.MayRun))
	}
	for _, q := range c.Refuse {
		err := sqlguard.Check(serialize(t, db, q))
		var ge *sqlguard.Error
		if !errors.As(err, &ge) {
			t.Errorf("not refused: %s (err %v)", q, err)
		}
	}
}

func TestAllowed(t *testing.T) {
	db := openEngine(t)
	for _, q := range []string{
		`SELECT * FROM events`,
		`SELECT count(*) FROM events WHERE event_type = 'a'`,
		`SELECT payload->>'$.x', json_extract(payload, '$.y') FROM events`,
		`WITH a AS (SELECT * FROM events), b AS (SELECT * FROM a) SELECT * FROM b`,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r`,
		`SELECT * FROM (WITH x AS (SELECT 1 AS v) SELECT * FROM x) s`,
		`SELECT (WITH x AS (SELECT 2) SELECT * FROM x)`,
		`WITH x AS (SELECT 1) SELECT * FROM (SELECT * FROM x) y`,
		`WITH x AS (SELECT 1) SELECT 1 UNION ALL SELECT * FROM x`,
		`SELECT * FROM range(10) t(i) JOIN generate_series(1, 3) g(j) ON true`,
		`SELECT * FROM unnest([1, 2]) u(x)`,
		`SELECT * FROM json_each('{"a":1}')`,
		`SELECT [1, 2], {'a': 1}, MAP {'k': 1}`,
		`SELECT current_setting('TimeZone')`,
		`SELECT * FROM projections.counts`,
		`SELECT * FROM pgcat.pg_class`,
		`SELECT pgcat.format_type(25, -1)`,
		`SELECT * FROM pgcat.pg_roles('u')`,
		`SELECT main.date_part('year', now())`,
		`SELECT * FROM (VALUES (1, 'a')) t(a, b)`,
		`SELECT entity_id, count(*) FILTER (WHERE true) OVER (PARTITION BY entity_id) FROM events`,
		`SELECT * FROM events e1 JOIN events e2 USING (entity_id)`,
		`SELECT list_transform([1, 2], x -> x + 1)`,
		`SELECT * FROM EVENTS`,
	} {
		if err := sqlguard.Check(serialize(t, db, q)); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestScoping pins down where a WITH name is visible: a name defined
// after its use, inside a subquery, or in another branch does not count.
func TestScoping(t *testing.T) {
	db := openEngine(t)
	for _, tc := range []struct {
		q  string
		ok bool
	}{
		{`WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a`, false},
		{`WITH b AS (SELECT 1), a AS (SELECT * FROM b) SELECT * FROM a`, true},
		{`SELECT * FROM (WITH b AS (SELECT 1) SELECT * FROM b) s, b`, false},
		{`SELECT * FROM (WITH b AS (SELECT 1) SELECT * FROM b) s`, true},
		{`WITH b AS (SELECT 1) SELECT * FROM (SELECT * FROM b) s`, true},
		{`SELECT 1 UNION ALL (WITH b AS (SELECT 1) SELECT * FROM b) UNION ALL SELECT * FROM b`, false},
		{`WITH a AS (SELECT * FROM a) SELECT * FROM a`, false},
		{`WITH RECURSIVE a AS (SELECT 1 AS n UNION ALL SELECT n FROM a WHERE false) SELECT * FROM a`, true},
		{`WITH B AS (SELECT 1) SELECT * FROM b`, true},
	} {
		err := sqlguard.Check(serialize(t, db, tc.q))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.q, err, tc.ok)
		}
	}
}

func TestErrors(t *testing.T) {
	db := openEngine(t)
	for _, tc := range []struct {
		q, want   string
		undefined bool
		pos       int
	}{
		{`SELECT * FROM read_csv('/etc/passwd')`, "table function read_csv is not allowed", false, 14},
		{`SELECT * FROM "/etc/passwd"`, `relation "/etc/passwd" is not allowed`, true, 14},
		{`SELECT * FROM _hot.gen_1`, "schema _hot is internal", true, 14},
		{`SELECT current_setting('allowed_directories')`, "current_setting may read only", false, 7},
		{`SELECT 1; SELECT 2`, "exactly one statement", false, -1},
		{`DELETE FROM events`, "only SELECT", false, -1},
		{`SELECT * FROM pg_tables`, `relation "pg_tables" does not exist`, true, 14},
	} {
		err := sqlguard.Check(serialize(t, db, tc.q))
		var ge *sqlguard.Error
		if !errors.As(err, &ge) {
			t.Errorf("%s: %v, want a refusal", tc.q, err)
			continue
		}
		if !strings.Contains(ge.Reason, tc.want) || ge.Undefined != tc.undefined || ge.Position != tc.pos {
			t.Errorf("%s: %+v, want %q undefined=%v at %d", tc.q, ge, tc.want, tc.undefined, tc.pos)
		}
	}
}

func FuzzCheck(f *testing.F) {
	db := openEngine(f)
	for _, q := range loadCorpus(f).Refuse {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		var out string
		if err := db.QueryRow("SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", q).Scan(&out); err != nil {
			return
		}
		err := sqlguard.Check([]byte(out))
		if err != nil {
			return
		}
		// Whatever passes names no file and no internal schema.
		low := strings.ToLower(out)
		for _, bad := range []string{`"table_name":"/`, `"schema_name":"_hot"`, `"schema_name":"_proj"`, `"function_name":"read_`} {
			if strings.Contains(low, bad) {
				t.Fatalf("passed: %q", q)
			}
		}
	})
}

func TestCatalogQualifiedFunctionRefused(t *testing.T) {
	db := openEngine(t)
	for _, q := range []string{`SELECT system.main.repeat('x', 3)`, `SELECT memory.main.lower('x')`} {
		if err := sqlguard.Check(serialize(t, db, q)); err == nil {
			t.Errorf("%s: not refused", q)
		}
	}
}

// BenchmarkCheck measures the guard on a typical dashboard statement:
// the engine's serialization (what the warehouse asks once per new text)
// and the walk.
func BenchmarkCheck(b *testing.B) {
	db := openEngine(b)
	q := `WITH daily AS (SELECT date_trunc('day', "timestamp") AS d, event_type, count(*) AS n FROM events
		WHERE "timestamp" > now() - INTERVAL 30 DAY GROUP BY ALL) SELECT d, event_type, n, sum(n) OVER (PARTITION BY event_type ORDER BY d) FROM daily ORDER BY d`
	tree := serialize(b, db, q)
	b.Run("serialize", func(b *testing.B) {
		for b.Loop() {
			serialize(b, db, q)
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			if err := sqlguard.Check(tree); err != nil {
				b.Fatal(err)
			}
		}
	})
}
