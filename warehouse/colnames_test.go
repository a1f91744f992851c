package warehouse

import (
	"context"
	"slices"
	"testing"
)

// TestPostgresColumnNames: unnamed result columns take PostgreSQL's names
// (count(*) is count), named ones and plain columns keep theirs, and a
// name that would clash with another column's is not given.
func TestPostgresColumnNames(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT count(*) FROM events", []string{"count"}},
		{"SELECT event_type, count(*), sum(version), min(seq)::BIGINT FROM events GROUP BY 1", []string{"event_type", "count", "sum", "min"}},
		{"SELECT count(*) AS n, max(seq) AS count_star FROM events", []string{"n", "count_star"}},
		{"SELECT CAST(seq AS VARCHAR), CASE WHEN seq > 1 THEN 1 END FROM events", []string{"seq", "case"}},
		{"SELECT min(seq), min(version) FROM events", []string{"min(seq)", "min(\"version\")"}},
		{"SELECT count(*), 1 + 1 AS count FROM events", []string{"count_star()", "count"}},
		{"SELECT * FROM (SELECT count(*) FROM events)", []string{"count_star()"}}, // a * keeps the engine's names
	}
	for _, c := range cases {
		rows, err := w.Query(context.Background(), c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		cols, _ := rows.Columns()
		rows.Close()
		if !slices.Equal(cols, c.want) {
			t.Errorf("%s: columns %q, want %q", c.sql, cols, c.want)
		}
	}
}
