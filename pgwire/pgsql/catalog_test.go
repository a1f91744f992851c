package pgsql

import (
	"context"
	"strings"
	"testing"
)

// TestCatalogTables applies the catalog for a longer table list (as
// projections will add) twice, and checks that the new relations appear
// with stable OIDs, types and kinds.
func TestCatalogTables(t *testing.T) {
	conn := openEngine(t)
	t.Cleanup(func() { CatalogDDL(DefaultTables()) })
	tables := append(DefaultTables(),
		Table{Name: "order_totals", Kind: 'v', Comment: "per-order totals", Columns: []Column{
			{Name: "entity_id", TypeOID: oidText, NotNull: true},
			{Name: "total", TypeOID: oidNumeric, TypMod: (12<<16 | 2) + 4},
			{Name: "tags", TypeOID: 1009},
		}},
		Table{Schema: "analytics", Name: "daily", Kind: 'm', Columns: []Column{{Name: "day", TypeOID: oidDate}}},
	)
	for i := 0; i < 2; i++ {
		for _, q := range CatalogDDL(tables) {
			if _, err := conn.ExecContext(context.Background(), q); err != nil {
				t.Fatalf("apply %d: %s: %v", i, q, err)
			}
		}
	}
	if _, err := conn.ExecContext(context.Background(), "CREATE OR REPLACE TEMP VIEW order_totals AS SELECT 'o' AS entity_id, 1.5::DECIMAL(12,2) AS total, ['a'] AS tags"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ sql, want string }{
		{"SELECT oid, relkind FROM pg_class WHERE relname = 'order_totals'", "16387|v"},
		{"SELECT n.nspname, c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE relname = 'daily'", "analytics|16390|m"},
		{"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'order_totals'::regclass ORDER BY attnum", "text\nnumeric(12,2)\ntext[]"},
		{"SELECT table_type FROM information_schema.tables WHERE table_name = 'order_totals'", "VIEW"},
		{"SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'order_totals' AND column_name = 'total'", "numeric|12|2"},
		{"SELECT data_type, udt_name FROM information_schema.columns WHERE table_name = 'order_totals' AND column_name = 'tags'", "ARRAY|_text"},
		{"SELECT viewname FROM pg_views WHERE schemaname = 'public'", "order_totals"},
		{"SELECT matviewname FROM pg_matviews", "daily"},
		{"SELECT obj_description('order_totals'::regclass, 'pg_class')", "per-order totals"},
		{"SELECT total FROM public.order_totals", "1.5"},
		{"SELECT count(*) FROM pg_class WHERE oid = 'events'::regclass", "1"},
	}
	for _, c := range cases {
		res, out, err := runSQL(t, conn, newTestSession(), c.sql)
		if err != nil {
			t.Errorf("%s: %v\nrewritten: %s", c.sql, err, out)
			continue
		}
		var got []string
		for _, r := range res.rows {
			got = append(got, strings.Join(r, "|"))
		}
		if strings.Join(got, "\n") != c.want {
			t.Errorf("%s: got %q, want %q", c.sql, got, c.want)
		}
	}
}
