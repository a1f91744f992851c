package bench

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TestMeasurePeers measures the peers on a large event set; it runs only
// when BENCH_PEERS_EVENTS is set. BENCH_PEERS_CLIENTS sets the PostgreSQL
// connections, BENCH_PEERS_ROUNDS repeats the Appender runs (JSON and VARCHAR
// alternately), BENCH_PEERS_SKIP_PG leaves PostgreSQL out. E.g.
//
//	BENCH_PEERS_EVENTS=1000000 go test -run TestMeasurePeers -v -timeout 30m ./internal/testkit/bench/
func TestMeasurePeers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BENCH_PEERS_EVENTS"))
	if n <= 0 {
		t.Skip("set BENCH_PEERS_EVENTS=<events> to measure the peers")
	}
	clients := DefaultClients
	if c, _ := strconv.Atoi(os.Getenv("BENCH_PEERS_CLIENTS")); c > 0 {
		clients = c
	}
	ctx := context.Background()
	stored, err := ToStored(GenEvents(n, DefaultSeed), DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rounds := 1
	if r, _ := strconv.Atoi(os.Getenv("BENCH_PEERS_ROUNDS")); r > 0 {
		rounds = r
	}
	var appenderRuns []AppenderOptions
	for range rounds {
		appenderRuns = append(appenderRuns, AppenderOptions{}, AppenderOptions{VarcharJSON: true})
	}
	for _, o := range appenderRuns {
		r, err := AppenderBaselineWith(ctx, stored, dir, o)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(dir + "/" + AppenderDBName)
		t.Logf("DuckDB Appender, %s: %d events in %s = %s events/s (CPU %s, file %d MB)",
			r.Note, r.Events, fmtDur(r.Elapsed), fmtRate(r.EventsPerSec), fmtDur(r.ClientCPU), st.Size()>>20)
	}
	if os.Getenv("BENCH_PEERS_SKIP_PG") != "" {
		return
	}
	pg := pgtest.Require(t)
	for _, batch := range DefaultBatchSizes {
		m := n
		if m/batch > DefaultMaxRequests {
			m = DefaultMaxRequests * batch
		}
		r, err := PostgresCopy(ctx, pg.DSN(), stored[:m], CopyOptions{Batch: batch, Clients: clients})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("PostgreSQL COPY batch=%d clients=%d: %d events in %s = %s events/s, p50 %s, p99 %s",
			batch, r.Clients, r.Events, fmtDur(r.Elapsed), fmtRate(r.EventsPerSec), fmtDur(r.P50), fmtDur(r.P99))
	}
}
