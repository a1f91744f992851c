package warehouse

import (
	"context"
	"testing"
)

func TestZZProbe(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	for _, q := range []string{
		"SELECT list_contains('[1,2]', 1::BIGINT)::VARCHAR",
		"SELECT list_contains(['1','2'], 1::BIGINT)::VARCHAR",
		"SELECT (1::BIGINT IN (SELECT unnest(['1','2'])))::VARCHAR",
		"SELECT (1::BIGINT = ANY(['1','2']))::VARCHAR",
		"SELECT list_contains(CAST(['1','2'] AS VARCHAR[]), 1::BIGINT)::VARCHAR",
		"SELECT list_has_any(['1','2'], [1::BIGINT])::VARCHAR",
		"SELECT (1::BIGINT IN ('1','2'))::VARCHAR",
		"SELECT (NOW() IN ('2020-01-01'))::VARCHAR",
	} {
		rows, err := w.QueryInternal(context.Background(), q)
		if err != nil {
			t.Log(q, "ERR", err)
			continue
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			t.Log(q, s)
		}
		rows.Close()
	}
}
