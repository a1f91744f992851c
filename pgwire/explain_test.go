package pgwire

import (
	"context"
	"strings"
	"testing"
)

// TestExplainAnalyzeHidesPaths runs EXPLAIN ANALYZE over Parquet files:
// the plan must not show the server's directories.
func TestExplainAnalyzeHidesPaths(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 100, 10)
	if err := ts.wh.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.appendN(t, 10, 10)
	c := ts.connect(t)
	rows, err := c.Query(context.Background(), "EXPLAIN ANALYZE SELECT * FROM events WHERE entity_id = 'e7'")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "READ_PARQUET") || !strings.Contains(plan, "Filename(s): hidden") {
		t.Fatalf("plan does not show the Parquet scan:\n%s", plan)
	}
	// The directory is cut across lines; no piece of it may remain.
	for _, piece := range []string{ts.dir, "/tmp", ".parquet", "tenant=default"} {
		if strings.Contains(plan, piece) {
			t.Fatalf("plan shows %q:\n%s", piece, plan)
		}
	}
}
