package warehouse

import (
	"context"
	"testing"
)

func TestZZProbe(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	if err := w.Exec(ctx, `CREATE TYPE pgchar AS ENUM ('b','c','d','r','v',',')`, `CREATE TABLE tt AS SELECT CAST('r' AS pgchar) AS k, CAST(5 AS UINTEGER) AS o UNION ALL SELECT 'v', 7`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT count(*)::VARCHAR FROM tt WHERE k = 'r'",
		"SELECT count(*)::VARCHAR FROM tt WHERE k IN ('r','x')",
		"SELECT count(*)::VARCHAR FROM tt WHERE list_contains(['r','p'], k)",
		"SELECT count(*)::VARCHAR FROM tt WHERE list_contains('[\"r\",\"p\"]', k)",
		"SELECT string_agg(CASE k WHEN 'r' THEN 'table' ELSE 'view' END, ',') FROM tt",
		"SELECT string_agg(k || 'x', ',') FROM tt",
		"SELECT string_agg(upper(k), ',') FROM tt",
		"SELECT string_agg(coalesce(k, ''), ',') FROM tt",
		"SELECT string_agg(k::VARCHAR, ',') FROM (SELECT k FROM tt UNION ALL SELECT 'zz')",
		"SELECT count(*)::VARCHAR FROM tt WHERE k = 'zz'",
		"SELECT count(*)::VARCHAR FROM tt WHERE o = 5",
		"SELECT count(*)::VARCHAR FROM tt WHERE o = 5::BIGINT",
		"SELECT count(*)::VARCHAR FROM tt WHERE list_contains([5::BIGINT, 6], o)",
		"SELECT count(*)::VARCHAR FROM tt WHERE o IN (SELECT 5::BIGINT)",
		"SELECT string_agg((o + 1)::VARCHAR, ',') FROM tt",
		"SELECT count(*)::VARCHAR FROM tt WHERE o = '5'",
	} {
		rows, err := w.QueryInternal(ctx, q)
		if err != nil {
			t.Log(q, "ERR", err.Error()[:min(150, len(err.Error()))])
			continue
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			t.Log(q, "=>", s)
		}
		rows.Close()
	}
}
