package pgwire

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPointQuery is one round trip of a prepared point query over
// 100,000 events in the hot tier.
func BenchmarkPointQuery(b *testing.B) {
	ts := startServer(b, nil)
	for i := 0; i < 10; i++ {
		ts.appendN(b, 10_000, 5_000)
	}
	c := ts.connect(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := c.Query(ctx, `SELECT seq, entity_id, event_type, version, "timestamp", payload FROM events WHERE entity_id = $1`, fmt.Sprintf("e%d", i%5000))
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamRows reads 100,000 events in one query, text and binary.
func BenchmarkStreamRows(b *testing.B) {
	ts := startServer(b, nil)
	for i := 0; i < 10; i++ {
		ts.appendN(b, 10_000, 5_000)
	}
	c := ts.connect(b)
	ctx := context.Background()
	for _, format := range []int16{0, 1} {
		b.Run(fmt.Sprint("format=", format), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rr := c.PgConn().ExecParams(ctx, `SELECT seq, id, entity_id, event_type, version, "timestamp", payload FROM events`, nil, nil, nil, []int16{format})
				n := 0
				for rr.NextRow() {
					n++
				}
				if _, err := rr.Close(); err != nil {
					b.Fatal(err)
				}
				if n != 100_000 {
					b.Fatalf("%d rows", n)
				}
			}
			b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkPointQueryParquet is BenchmarkPointQuery over the same events
// flushed to Parquet.
func BenchmarkPointQueryParquet(b *testing.B) {
	ts := startServer(b, nil)
	for i := 0; i < 10; i++ {
		ts.appendN(b, 10_000, 5_000)
	}
	if err := ts.wh.FlushAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	c := ts.connect(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := c.Query(ctx, `SELECT seq, entity_id, event_type, version, "timestamp", payload FROM events WHERE entity_id = $1`, fmt.Sprintf("e%d", i%5000))
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
}
