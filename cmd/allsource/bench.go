//go:build bench

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/allsource/allsource/internal/testkit/bench"
	"github.com/allsource/allsource/internal/testkit/chtest"
)

func (m *Main) runBench(ctx context.Context, args []string) error {
	kind, err := m.pickCommand("bench", benchHelp, args, "ingest", "pgwire", "analytics", "auth", "projections", "fanout", "export", "entity", "peergen")
	if err != nil {
		return err
	}
	run := map[string]func(context.Context, []string) error{
		"ingest": m.runBenchIngest, "pgwire": m.runBenchPGWire, "analytics": m.runBenchAnalytics, "auth": m.runBenchAuth,
		"projections": m.runBenchProjections, "fanout": m.runBenchFanout, "export": m.runBenchExport, "entity": m.runBenchEntity, "peergen": m.runBenchPeergen,
	}[kind]
	return run(ctx, args[1:])
}

const benchHelp = `Usage: allsource bench <kind> [flags]

Each benchmark runs its peer or baseline in the same run and prints the
ratio. The kinds:
  ingest       HTTP ingest against PostgreSQL COPY and DuckDB's Appender
  pgwire       the Postgres front end against PostgreSQL
  analytics    funnel, retention, time series against DuckDB SQL and ClickHouse
  auth         ingest with authentication off, by API key, by token
  projections  projection lag under ingest, against SQL over events
  fanout       live-subscription delivery latency over WebSocket
  export       export throughput against psql \copy and clickhouse-client
  entity       entity streams and point queries against PostgreSQL; start-up as history grows
  peergen      funnels, retention, hourly counts on the shared peergen data against ClickHouse (best set-up)

'allsource bench <kind> --help' lists the flags of one.
`

func (m *Main) runBenchIngest(ctx context.Context, args []string) error {
	fs := newFlags("bench ingest", "Usage: allsource bench ingest [flags]\n\nMeasures ingest over HTTP at several batch sizes against PostgreSQL COPY\nand DuckDB's Appender in the same run, and prints the ratios; with\n--query-events, also queries over the flushed Parquet files against DuckDB\nreading the same files.")
	server := fs.String("server", "", "a running server to drive (default: start one on a temporary data dir)")
	dataDir := fs.String("data-dir", "", "with --server: its data dir, for the query comparison over its Parquet files")
	events := fs.Int("events", bench.DefaultEvents, "events sent per batch size")
	batches := fs.String("batch-sizes", "1,100,10000", "comma-separated batch sizes")
	clients := fs.Int("clients", bench.DefaultClients, "concurrent HTTP clients (and PostgreSQL connections)")
	maxReq := fs.Int("max-requests", bench.DefaultMaxRequests, "cap on requests per batch size (batch 1 sends at most this many events)")
	pgDSN := fs.String("pg-dsn", "", "PostgreSQL to load as the peer (default: start a throwaway one from the Debian packages)")
	noPG := fs.Bool("no-postgres", false, "skip the PostgreSQL COPY peer")
	noApp := fs.Bool("no-appender", false, "skip the DuckDB Appender baseline")
	queryEvents := fs.Int("query-events", 0, "for the query comparison, load this many events (e.g. 10000000), flush them to Parquet and compare queries with DuckDB reading the same files; 0 skips it")
	fsync := fs.String("fsync", "always", "fsync mode of the server it starts")
	scratch := fs.String("scratch-dir", "", "where temporary data goes (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	sizes, err := parseInts(*batches)
	if err != nil {
		return fmt.Errorf("--batch-sizes: %w", err)
	}
	opts := bench.Options{
		ServerURL: *server, Events: *events, BatchSizes: sizes, Clients: *clients, MaxRequests: *maxReq,
		PostgresDSN: *pgDSN, SkipPostgres: *noPG, SkipAppender: *noApp, ScratchDir: *scratch, Progress: m.Stderr,
	}
	var srv *benchServer
	if *server == "" {
		base := *scratch
		if base == "" {
			base = os.TempDir()
		}
		dir, err := os.MkdirTemp(base, "allsource-bench-server-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		// Flushing every 250,000 events makes every measured run pay for
		// writing its events to Parquet, not only the burst into memory.
		srv = &benchServer{dir: dir, args: []string{"--fsync", *fsync, "--flush-rows", "250000"}, stderr: m.Stderr}
		if err := srv.start(ctx); err != nil {
			return err
		}
		defer srv.stop()
		opts.ServerURL = srv.url
		fmt.Fprintf(m.Stderr, "bench: started allsource serve on %s (data dir %s, --fsync %s, --flush-rows 250000)\n", srv.url, dir, *fsync)
	}
	if err := bench.Run(ctx, opts, m.Stdout); err != nil {
		return err
	}
	if *queryEvents <= 0 {
		return nil
	}
	if srv == nil && *dataDir == "" {
		return errors.New("--query-events with --server needs --data-dir (the server's data directory)")
	}
	fmt.Fprintf(m.Stderr, "bench: loading %d events for the query comparison\n", *queryEvents)
	url := opts.ServerURL
	const chunk = 1_000_000
	for done := 0; done < *queryEvents; done += chunk {
		n := min(chunk, *queryEvents-done)
		if _, err := bench.IngestHTTP(ctx, bench.Config{URL: url, Batch: 10_000, Clients: 4, Data: bench.GenEvents(n, int64(1000+done/chunk))}); err != nil {
			return fmt.Errorf("loading query events: %w", err)
		}
		fmt.Fprintf(m.Stderr, "bench: loaded %d/%d\n", done+n, *queryEvents)
	}
	whDir := filepath.Join(*dataDir, "warehouse")
	if srv != nil {
		// A clean restart flushes the hot tier, so both sides read the same
		// Parquet files and nothing else.
		srv.stop()
		if err := srv.start(ctx); err != nil {
			return err
		}
		url = srv.url
		whDir = filepath.Join(srv.dir, "warehouse")
	}
	qs, err := bench.QueryOverheadRuns(ctx, url, whDir, bench.StandardQueries, bench.DefaultQueryRuns)
	if err != nil {
		return err
	}
	eq, err := bench.EventQLOverheadRuns(ctx, url, bench.StandardEventQLPairs, bench.DefaultQueryRuns)
	if err != nil {
		return err
	}
	rep := bench.NewReport(*clients, 0)
	rep.Queries = qs
	rep.EventQL = eq
	return rep.Print(m.Stdout)
}

// runBenchPGWire compares the pgwire front end with PostgreSQL: point
// queries and full reads over the same events on both.
func (m *Main) runBenchPGWire(ctx context.Context, args []string) error {
	fs := newFlags("bench pgwire", "Usage: allsource bench pgwire [flags]\n\nCompares the Postgres wire protocol front end with PostgreSQL (given the\nindexes the queries need): point queries and full reads over the same events.")
	server := fs.String("server", "", "a running server's HTTP URL to load and measure (default: start one on a temporary data dir)")
	pgAddr := fs.String("pg-addr", "127.0.0.1:5433", "with --server: its pgwire address (loopback, no password)")
	events := fs.Int("events", bench.DefaultEvents, "events loaded into both servers")
	points := fs.Int("point-queries", bench.DefaultPointQueries, "timed point queries per server")
	streamRuns := fs.Int("stream-runs", bench.DefaultStreamRuns, "runs of each full read per server (the fastest is reported)")
	pgDSN := fs.String("pg-dsn", "", "PostgreSQL to compare with; its schema "+bench.PGSchema+" is replaced (default: start a throwaway one from the Debian packages)")
	scratch := fs.String("scratch-dir", "", "where temporary data goes (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	opts := bench.PGWireOptions{
		ServerURL: *server, AllSourceDSN: bench.PGWireDSN(*pgAddr), PostgresDSN: *pgDSN, ScratchDir: *scratch,
		Events: *events, PointQueries: *points, StreamRuns: *streamRuns, Progress: m.Stderr,
	}
	if *server == "" {
		base := *scratch
		if base == "" {
			base = os.TempDir()
		}
		dir, err := os.MkdirTemp(base, "allsource-bench-server-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv := &benchServer{dir: dir, stderr: m.Stderr}
		if err := srv.start(ctx); err != nil {
			return err
		}
		defer srv.stop()
		opts.ServerURL, opts.AllSourceDSN = srv.url, bench.PGWireDSN(srv.pgAddr)
		fmt.Fprintf(m.Stderr, "bench: started allsource serve on %s, pgwire on %s (data dir %s, default settings)\n", srv.url, srv.pgAddr, dir)
	}
	return bench.RunPGWire(ctx, opts, m.Stdout)
}

// runBenchAnalytics compares the analytics endpoints (funnel, retention,
// time series) with hand-written DuckDB SQL over the same Parquet files and
// with ClickHouse over the same events.
func (m *Main) runBenchAnalytics(ctx context.Context, args []string) error {
	fs := newFlags("bench analytics", "Usage: allsource bench analytics [flags]\n\nCompares the analytics endpoints (funnel, retention, time series) with\nhand-written DuckDB SQL over the same Parquet files and with ClickHouse\n(ORDER BY the grouping key, OPTIMIZE FINAL) over the same events.")
	server := fs.String("server", "", "a running server to load and ask (default: start one on a temporary data dir); its events must be flushed to Parquet before the questions (restart it)")
	dataDir := fs.String("data-dir", "", "with --server: its data dir, for DuckDB over its Parquet files")
	events := fs.Int("events", bench.DefaultAnalyticsEvents, "events generated and loaded into every side")
	entities := fs.Int("entities", bench.DefaultAnalyticsEntities, "entities the events belong to")
	runs := fs.Int("runs", 3, "timed runs per question and side (after one warm-up); the median is reported")
	noCH := fs.Bool("no-clickhouse", false, "leave ClickHouse out")
	chURL := fs.String("clickhouse-url", "", "an existing ClickHouse HTTP interface to load (table "+bench.ClickHouseTable+" is replaced; default: start a throwaway one from the Debian package)")
	skipLoad := fs.Bool("skip-load", false, "with --server: the server already holds these events (same --events, --entities); only ClickHouse is loaded")
	scratch := fs.String("scratch-dir", "", "where temporary data goes (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *server != "" && *dataDir == "" {
		return errors.New("--server needs --data-dir (the server's data directory)")
	}
	base := *scratch
	if base == "" {
		base = os.TempDir()
	}
	opts := bench.AnalyticsOptions{
		ServerURL: *server, Events: *events, Entities: *entities, Runs: *runs, SkipLoad: *skipLoad, Progress: m.Stderr,
	}
	if *server != "" {
		opts.WarehouseDir = filepath.Join(*dataDir, "warehouse")
	} else {
		dir, err := os.MkdirTemp(base, "allsource-bench-server-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv := &benchServer{dir: dir, stderr: m.Stderr}
		if err := srv.start(ctx); err != nil {
			return err
		}
		defer srv.stop()
		opts.ServerURL, opts.WarehouseDir = srv.url, filepath.Join(dir, "warehouse")
		// A clean restart flushes the hot tier, so AllSource and DuckDB read
		// the same Parquet files and nothing else.
		opts.Flush = func(ctx context.Context) (string, error) {
			srv.stop()
			if err := srv.start(ctx); err != nil {
				return "", err
			}
			return srv.url, nil
		}
		fmt.Fprintf(m.Stderr, "bench: started allsource serve on %s (data dir %s, default settings)\n", srv.url, dir)
	}
	var stopCH func()
	opts.ClickHouseURL, opts.SkipClickHouseReason, stopCH = m.clickHousePeer(ctx, *noCH, *chURL, base)
	defer stopCH()
	return bench.RunAnalytics(ctx, opts, m.Stdout)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchServer is an allsource serve child process on a scratch data dir,
// with its HTTP API at url and its pgwire front end at pgAddr, both on free
// loopback ports.
type benchServer struct {
	dir    string
	args   []string
	url    string
	pgAddr string
	cmd    *exec.Cmd
	stderr interface{ Write([]byte) (int, error) }
}

func (b *benchServer) start(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	addr := addrs[0]
	b.pgAddr = addrs[1]
	logf, err := os.Create(filepath.Join(b.dir, "server.log"))
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--data-dir", b.dir, "--http-addr", addr, "--pg-addr", b.pgAddr}, b.args...)
	b.cmd = exec.CommandContext(ctx, exe, args...)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.Env = os.Environ()
	if err := b.cmd.Start(); err != nil {
		return err
	}
	b.url = "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(b.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			// The pgwire listener opens just after the HTTP one.
			if resp.StatusCode == http.StatusOK && dialable(b.pgAddr) {
				return nil
			}
		}
	}
	b.stop()
	return fmt.Errorf("the bench server did not become ready; see %s", logf.Name())
}

func (b *benchServer) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

// clickHousePeer is the ClickHouse a benchmark compares with: none (why is
// said), the one at url, or a throwaway one started from the Debian
// package under base. stop ends what it started.
func (m *Main) clickHousePeer(ctx context.Context, none bool, url, base string) (httpURL, why string, stop func()) {
	stop = func() {}
	switch {
	case none:
		return "", "skipped by request (--no-clickhouse)", stop
	case url != "":
		return url, "", stop
	}
	if ok, reason := chtest.Available(); !ok {
		fmt.Fprintf(m.Stderr, "bench: ClickHouse skipped: %s\n", reason)
		return "", "unavailable: " + reason, stop
	}
	ch, err := chtest.Start(ctx, chtest.Options{BaseDir: base})
	if err != nil {
		fmt.Fprintf(m.Stderr, "bench: ClickHouse skipped: %v\n", err)
		return "", "could not start: " + err.Error(), stop
	}
	fmt.Fprintf(m.Stderr, "bench: started ClickHouse on %s (dir %s)\n", ch.HTTPURL(), ch.Dir())
	return ch.HTTPURL(), "", func() { ch.Stop() }
}
