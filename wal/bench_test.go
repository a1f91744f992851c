package wal

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

const benchRecordSize = 200

// BenchmarkAppend appends batches of 200-byte records, fsyncing every batch.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := openT(b, b.TempDir(), Options{})
			defer closeT(b, l)
			recs := make([][]byte, batch)
			for i := range recs {
				recs[i] = bytes.Repeat([]byte{byte(i)}, benchRecordSize)
			}
			b.SetBytes(int64(batch * benchRecordSize))
			ops := 0
			for b.Loop() {
				if _, err := l.Append(recs...); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			b.ReportMetric(float64(ops*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendParallel appends single 200-byte records from many
// goroutines; group commit lets them share fsyncs.
func BenchmarkAppendParallel(b *testing.B) {
	var syncs atomic.Int64
	l := openT(b, b.TempDir(), Options{OnSync: func(time.Duration) { syncs.Add(1) }})
	defer closeT(b, l)
	rec := bytes.Repeat([]byte{'x'}, benchRecordSize)
	b.SetBytes(benchRecordSize)
	b.SetParallelism(16)
	var appends atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(rec); err != nil {
				b.Error(err)
				return
			}
			appends.Add(1)
		}
	})
	b.StopTimer()
	n := appends.Load()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n)/float64(max(syncs.Load(), 1)), "appends/fsync")
}
