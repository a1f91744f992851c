package eventql

import "testing"

var benchQueries = []struct{ name, src string }{
	{"filter", `FROM e IN events WHERE e.type == "order.placed" AND e.data.total > 100 ORDER BY e.time DESC TOP 50 PROJECT INTO e`},
	{"group", `FROM e IN events WHERE e.time > NOW() - 7d GROUP BY e.data.country HAVING COUNT() > 10
PROJECT INTO { country: e.data.country, orders: COUNT(), revenue: SUM(e.data.total), p90: PERCENTILE(e.data.total, 0.9) }`},
	{"subquery_join", `FROM o IN (FROM e IN events WHERE e.type == "order.placed" PROJECT INTO { id: e.subject, total: e.data.total })
FROM c IN events WHERE c.type == "customer.registered" AND c.data.order_id == o.id AND o.total > 10
PROJECT INTO { order: o.id, customer: c.data.name, total: o.total }`},
}

// BenchmarkCompile measures parse + check + compile per query.
func BenchmarkCompile(b *testing.B) {
	for _, q := range benchQueries {
		b.Run("query="+q.name, func(b *testing.B) {
			b.SetBytes(int64(len(q.src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CompileString(q.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
