// Package bench measures AllSource's ingest and query speed in domain units
// (events per second, acknowledgement latency, query time) and, in the same
// run on the same machine and the same events, the speed of peers: DuckDB's
// Appender loading an embedded database file, PostgreSQL's COPY into a plain
// durable table, and DuckDB querying the server's Parquet files directly.
// Every figure is printed next to its ratio to the peers, so a result is
// never read without its yardstick.
//
// It is the engine of "allsource bench ingest": Run does the whole suite;
// GenEvents, IngestHTTP, AppenderBaseline, PostgresCopy and QueryOverheadRuns are
// its parts. It is also the engine of "allsource bench pgwire": RunPGWire
// compares the Postgres wire-protocol front end with PostgreSQL 15 on the
// same events, with PointQuery and StreamRows as its parts. And it is the
// engine of "allsource bench analytics": RunAnalytics loads GenSessions'
// shop sessions into the server and into ClickHouse (started with chtest)
// and asks funnel, retention and time-series questions three ways: the
// server's analytics endpoints, hand-written DuckDB SQL over the server's
// Parquet files, and ClickHouse's windowFunnel and retention; it prints the
// times, their ratios and whether the answers agree cell by cell.
package bench

import (
	"math"
	"slices"
	"time"
)

// Result is the outcome of one load: AllSource over HTTP or a peer.
type Result struct {
	// Name says what was measured, e.g. "allsource", "duckdb-appender",
	// "postgres-copy".
	Name string
	// Events is the number of events loaded and acknowledged.
	Events int
	// Batch is the number of events per request (or COPY chunk); 0 when the
	// load is one bulk operation.
	Batch int
	// Clients is the number of concurrent clients or connections.
	Clients int
	// Requests is the number of requests (or COPY chunks) made.
	Requests int
	// Bytes is the number of request body bytes sent (IngestHTTP only).
	Bytes int64
	// Elapsed is the wall time from the first request to the last
	// acknowledgement (for the Appender: until CHECKPOINT returned).
	Elapsed time.Duration
	// EventsPerSec is Events / Elapsed.
	EventsPerSec float64
	// P50, P99 and Max are the acknowledgement latencies per request (or
	// per COPY chunk): from just before sending it to having read the whole
	// response. Zero for bulk loads.
	P50, P99, Max time.Duration
	// ClientCPU is the CPU time (user+system) this process spent during the
	// load, where the OS reports it. For IngestHTTP it is the load
	// generator's own cost, which competes with the server for the cores;
	// for the Appender it is the whole embedded database's cost.
	ClientCPU time.Duration
	// Note qualifies the figure (e.g. how JSON was appended).
	Note string
}

// finish fills EventsPerSec and the latency percentiles.
func (r *Result) finish(lat []time.Duration) {
	if r.Elapsed > 0 {
		r.EventsPerSec = float64(r.Events) / r.Elapsed.Seconds()
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	r.P50 = percentile(lat, 0.50)
	r.P99 = percentile(lat, 0.99)
	r.Max = lat[len(lat)-1]
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
