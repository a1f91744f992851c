package main

import (
	"bufio"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestQueryStreamsLargeResults reads a 10-million-row answer and checks the
// server never held it: the Go heap (where results are encoded) stays far
// below the size of the answer.
func TestQueryStreamsLargeResults(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 10M rows")
	}
	url, _ := startAPI(t)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	req, _ := http.NewRequest("POST", url+"/v1/query", strings.NewReader(`{"sql":"SELECT i, 'row-' || i AS label FROM range(10000000) t(i)"}`))
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	rows, bytes := 0, 0
	for sc.Scan() {
		rows++
		bytes += len(sc.Bytes()) + 1
	}
	close(stop)
	<-done
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 10_000_000 {
		t.Fatalf("%d rows", rows)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("answer %d MB; heap grew at most %d MB", bytes>>20, grew>>20)
	if grew > int64(bytes)/4 {
		t.Fatalf("heap grew by %d bytes for a %d-byte answer: the result was buffered", grew, bytes)
	}
}
