package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// DefaultBatchSizes are the batch sizes Run measures by default.
var DefaultBatchSizes = []int{1, 100, 10000}

// DefaultMaxRequests caps the requests Run makes per batch size.
const DefaultMaxRequests = 100_000

// Options configures Run. Only ServerURL is required.
type Options struct {
	// ServerURL is the running AllSource server's base URL, e.g.
	// "http://127.0.0.1:8080".
	ServerURL string
	// WarehouseDir is the server's <data-dir>/warehouse, for the query
	// comparison; empty skips it.
	WarehouseDir string
	// ScratchDir is where Run creates its temporary directory (DuckDB file,
	// PostgreSQL data directory), removed at the end; empty means
	// os.TempDir().
	ScratchDir string
	// Events is the number of events per batch size; default DefaultEvents.
	Events int
	// BatchSizes are the batch sizes to measure; default DefaultBatchSizes.
	BatchSizes []int
	// Clients is the number of concurrent HTTP clients and PostgreSQL
	// connections; default DefaultClients.
	Clients int
	// MaxRequests caps the requests per batch size: a batch size that would
	// need more sends only MaxRequests×batch events (so batch size 1 does
	// not take a million round trips). Default DefaultMaxRequests; negative
	// means no cap.
	MaxRequests int
	// Seed seeds the event generator; default DefaultSeed.
	Seed int64
	// PostgresDSN is an existing PostgreSQL server to load into (a table
	// named PostgresTable is dropped and recreated). Empty starts a
	// throwaway server with pgtest.
	PostgresDSN string
	// SkipPostgres and SkipAppender leave those peers out.
	SkipPostgres, SkipAppender bool
	// Queries are the queries to compare; default StandardQueries.
	Queries []string
	// QueryRuns is the number of timed runs per query; default
	// DefaultQueryRuns.
	QueryRuns int
	// Progress receives a line as each step finishes; nil means the report
	// writer. Use io.Discard to silence it.
	Progress io.Writer
}

// Run runs the whole suite against the server at opts.ServerURL and writes
// the report to w: for each batch size, AllSource over HTTP and PostgreSQL
// COPY on the same events; one DuckDB Appender bulk load of all events; the
// query comparison when opts.WarehouseDir is set. The same generated events
// are sent at every batch size, so the server receives them once per batch
// size. A peer that cannot run (PostgreSQL not installed) is reported as
// skipped with the reason; a failing load is an error.
func Run(ctx context.Context, opts Options, w io.Writer) error {
	if opts.ServerURL == "" {
		return errors.New("bench: Run needs the server URL")
	}
	if opts.Events <= 0 {
		opts.Events = DefaultEvents
	}
	if len(opts.BatchSizes) == 0 {
		opts.BatchSizes = DefaultBatchSizes
	}
	for _, b := range opts.BatchSizes {
		if b < 1 {
			return fmt.Errorf("bench: batch size %d is not positive", b)
		}
	}
	if opts.Clients <= 0 {
		opts.Clients = DefaultClients
	}
	if opts.MaxRequests == 0 {
		opts.MaxRequests = DefaultMaxRequests
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.Queries == nil {
		opts.Queries = StandardQueries
	}
	if opts.QueryRuns <= 0 {
		opts.QueryRuns = DefaultQueryRuns
	}
	progress := opts.Progress
	if progress == nil {
		progress = w
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "bench: "+format+"\n", args...)
	}

	base := opts.ScratchDir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	work, err := os.MkdirTemp(base, "allsource-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)

	rep := NewReport(opts.Clients, opts.Seed)

	t0 := time.Now()
	data := GenEvents(opts.Events, opts.Seed)
	stored, err := ToStored(data, opts.Seed)
	if err != nil {
		return fmt.Errorf("bench: decoding generated events: %w", err)
	}
	var size int
	for _, e := range data {
		size += len(e)
	}
	logf("generated %s events, %d bytes each on average, in %s", fmtCount(len(data)), size/len(data), fmtDur(time.Since(t0)))

	dsn := opts.PostgresDSN
	switch {
	case opts.SkipPostgres:
		rep.Skipped = append(rep.Skipped, "PostgreSQL COPY peer: skipped by request")
	case dsn == "":
		if ok, why := pgtest.Available(); !ok {
			rep.Skipped = append(rep.Skipped, "PostgreSQL COPY peer: PostgreSQL unavailable: "+why)
			logf("PostgreSQL peer skipped: %s", why)
			break
		}
		srv, err := pgtest.Start(ctx, pgtest.Options{BaseDir: work})
		if err != nil {
			rep.Skipped = append(rep.Skipped, "PostgreSQL COPY peer: could not start PostgreSQL: "+err.Error())
			logf("PostgreSQL peer skipped: %v", err)
			break
		}
		defer srv.Stop()
		dsn = srv.DSN()
		logf("started PostgreSQL in %s", srv.Dir())
	}

	for _, batch := range opts.BatchSizes {
		n := opts.Events
		if opts.MaxRequests > 0 && (n+batch-1)/batch > opts.MaxRequests {
			n = opts.MaxRequests * batch
		}
		res, err := IngestHTTP(ctx, Config{URL: opts.ServerURL, Batch: batch, Clients: opts.Clients, Data: data[:n]})
		if err != nil {
			return fmt.Errorf("AllSource ingest at batch %d: %w", batch, err)
		}
		logf("AllSource batch=%d: %s events in %s = %s events/s, p50 %s, p99 %s",
			batch, fmtCount(res.Events), fmtDur(res.Elapsed), fmtRate(res.EventsPerSec), fmtDur(res.P50), fmtDur(res.P99))
		row := BatchRow{Batch: batch, AllSource: res}
		if dsn != "" && !opts.SkipPostgres {
			pg, err := PostgresCopy(ctx, dsn, stored[:n], CopyOptions{Batch: batch, Clients: opts.Clients})
			if err != nil {
				return fmt.Errorf("PostgreSQL COPY at batch %d: %w", batch, err)
			}
			logf("PostgreSQL COPY batch=%d: %s events in %s = %s events/s", batch, fmtCount(pg.Events), fmtDur(pg.Elapsed), fmtRate(pg.EventsPerSec))
			row.Postgres = &pg
		}
		rep.Rows = append(rep.Rows, row)
	}

	if opts.SkipAppender {
		rep.Skipped = append(rep.Skipped, "DuckDB Appender peer: skipped by request")
	} else {
		app, err := AppenderBaseline(ctx, stored, work)
		if err != nil {
			return fmt.Errorf("DuckDB Appender: %w", err)
		}
		logf("DuckDB Appender: %s events in %s = %s events/s", fmtCount(app.Events), fmtDur(app.Elapsed), fmtRate(app.EventsPerSec))
		rep.Appender = &app
	}

	if opts.WarehouseDir == "" {
		rep.Skipped = append(rep.Skipped, "query comparison: no warehouse directory given")
	} else if len(opts.Queries) > 0 {
		qs, err := QueryOverheadRuns(ctx, opts.ServerURL, opts.WarehouseDir, opts.Queries, opts.QueryRuns)
		if err != nil {
			return fmt.Errorf("query comparison: %w", err)
		}
		rep.Queries = qs
	}

	rep.Notes = append(rep.Notes,
		"PostgreSQL and the Appender receive already-decoded rows (JSON decoding not timed); AllSource parses and validates NDJSON.")
	if opts.MaxRequests > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"Each batch size sends the first events of the same generated set, capped at %s requests per batch size.", fmtCount(opts.MaxRequests)))
	}
	return rep.Print(w)
}
