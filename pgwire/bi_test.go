package pgwire

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/allsource/allsource/pgwire/pgsql"
)

var tsColumn = regexp.MustCompile(`\bts\b`)

// TestBIClientQueries sends every statement Grafana, Metabase and DBeaver
// are known to send (pgsql/testdata/clients) over the wire, in the simple
// protocol and as extended-protocol prepared statements (as pgx in Grafana
// and pgjdbc in Metabase and DBeaver send them), with $1/$2 bound to the
// schema and table the tools would pass.
func TestBIClientQueries(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 50, 5)
	c := ts.connect(t)
	ctx := context.Background()
	files, err := filepath.Glob("pgsql/testdata/clients/*.sql")
	if err != nil || len(files) != 3 {
		t.Fatalf("client query files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := pg_query.SplitWithParser(string(b), true)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range stmts {
			st = strings.TrimSpace(st)
			if strings.HasPrefix(filepath.Base(f), "grafana") {
				// The macro example's time column is called ts.
				st = tsColumn.ReplaceAllString(st, `"timestamp"`)
			}
			parsed, err := pgsql.Parse(st)
			if err != nil {
				t.Errorf("%s statement %d: %v", filepath.Base(f), i+1, err)
				continue
			}
			var args []any
			switch parsed[0].Params {
			case 2:
				args = []any{"public", "events"}
			case 1:
				args = []any{"public"}
			}
			modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement}
			if args == nil {
				modes = append(modes, pgx.QueryExecModeSimpleProtocol)
			}
			for _, mode := range modes {
				rows, err := c.Query(ctx, st, append([]any{mode}, args...)...)
				if err == nil {
					for rows.Next() {
					}
					rows.Close()
					err = rows.Err()
				}
				if err != nil {
					t.Errorf("%s statement %d (%s): %v\n%s", filepath.Base(f), i+1, mode, err, st)
				}
			}
		}
	}
	// Grafana's column picker over the wire names the real columns.
	rows, err := c.Query(ctx, `SELECT column_name, data_type, udt_name FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, "public", "events")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, typ, udt string
		if err := rows.Scan(&name, &typ, &udt); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+":"+typ+":"+udt)
	}
	want := "seq:bigint:int8 id:uuid:uuid tenant_id:text:text entity_id:text:text event_type:text:text version:bigint:int8 " +
		"timestamp:timestamp with time zone:timestamptz ingested_at:timestamp with time zone:timestamptz payload:json:json metadata:json:json"
	if strings.Join(got, " ") != want {
		t.Errorf("columns:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// A Grafana time-series panel after macro expansion.
	var buckets int
	err = c.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT floor(extract(epoch from "timestamp")/60)*60 AS "time", event_type, count(*) AS "count"
		FROM events WHERE "timestamp" BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-08T00:00:00Z'
		GROUP BY 1, 2 ORDER BY 1) q`).Scan(&buckets)
	if err != nil || buckets != 3 {
		t.Errorf("panel query: %d buckets, %v; want 3", buckets, err)
	}
}
