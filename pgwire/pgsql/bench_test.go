package pgsql

import (
	"fmt"
	"testing"
)

// BenchmarkParseRewrite measures the per-execution cost pgwire pays: Parse
// (cached after the first call) and Rewrite, for a point query that passes
// through, a dashboard query the rewrite changes, a catalog query and a
// session-dependent one. The uncached variants parse a new text each time.
func BenchmarkParseRewrite(b *testing.B) {
	queries := []struct{ name, sql string }{
		{"point", "SELECT * FROM events WHERE entity_id = $1"},
		{"dashboard", "SELECT floor(extract(epoch from \"timestamp\")/300)*300 AS \"time\", event_type, count(*) FROM public.events WHERE \"timestamp\" BETWEEN $1 AND $2 GROUP BY 1, 2 ORDER BY 1"},
		{"catalog", "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(events)$' AND pg_catalog.pg_table_is_visible(c.oid)"},
		{"session", "SELECT current_setting('server_version_num')::int, current_user"},
	}
	sess := newTestSession()
	for _, q := range queries {
		b.Run("query="+q.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				stmts, err := Parse(q.sql)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := stmts[0].Rewrite(sess); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("query="+q.name+"/uncached", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				// A distinct text defeats both caches.
				stmts, err := Parse(fmt.Sprintf("%s -- %d", q.sql, i))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := stmts[0].Rewrite(sess); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
