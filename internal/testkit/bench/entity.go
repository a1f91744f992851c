package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/testkit/pgtest"
	"github.com/allsource/allsource/warehouse"
)

// The entity read comparison: an event store's most frequent reads (one
// entity's stream; the same as SQL over pgwire) against PostgreSQL with
// the B-tree index the query needs, over the same events, and the
// server's start-up and memory as history grows.

// EntityScript is the pgbench script both servers run: one entity's
// events, the entity drawn at random, as a prepared statement.
const EntityScript = "\\set e random(1, %d)\nSELECT * FROM events WHERE entity_id = :e;\n"

// EntityServer is the AllSource server the entity benchmark drives: a
// data directory it imports into while the server is stopped, and the
// server started on it.
type EntityServer struct {
	DataDir string
	// Import loads an NDJSON file into DataDir (the server stopped).
	Import func(ctx context.Context, file string) error
	// Start starts the server and returns once it answers; Stop stops it.
	Start func(ctx context.Context) (EntityEndpoints, error)
	Stop  func()
}

// EntityEndpoints is where a started server answers.
type EntityEndpoints struct {
	URL    string // HTTP API
	PGAddr string // host:port of the Postgres front end
	Pid    int
}

// EntityOptions shapes RunEntity.
type EntityOptions struct {
	Events   int // events loaded first; default DefaultAnalyticsEvents
	Entities int // entity pool; default DefaultAnalyticsEntities
	// More events are added after the first measurements, and start-up
	// and memory measured again (0: not).
	More     int
	Seconds  int // per pgbench run; default 10
	Requests int // timed HTTP and Go API reads; default 2000
	Starts   int // start-ups timed per size (the median is reported); default 3
	Scratch  string
	Server   EntityServer
	Progress io.Writer
}

// EntityReport is what RunEntity measured.
type EntityReport struct {
	CPUs, Events, Entities int
	Sizes                  []EntitySize
	PGBench                []PGBenchPair
	HTTP, GoAPI            PointResult
	StreamLen              int // events per stream of the HTTP and Go reads
	Notes                  []string
}

// EntitySize is the start-up and memory at one size of history.
type EntitySize struct {
	Events   int
	Startups []time.Duration
	RSS      int64 // bytes, after start-up
	Disk     int64 // bytes of the data directory
}

// PGBenchPair is one pgbench configuration run against both servers.
type PGBenchPair struct {
	Clients             int
	AllSource, Postgres PGBenchResult
}

// PGBenchResult is one pgbench run's throughput and latencies (from its
// per-transaction log).
type PGBenchResult struct {
	TPS           float64
	P50, P99, Max time.Duration
	Transactions  int
	Err           string
}

// RunEntity generates the session data set (numeric entity ids, so
// pgbench can draw them), loads it into AllSource and PostgreSQL, and
// compares entity reads; then measures AllSource's start-up and memory,
// with more history if asked.
func RunEntity(ctx context.Context, opts EntityOptions, w io.Writer) error {
	if opts.Events <= 0 {
		opts.Events = DefaultAnalyticsEvents
	}
	if opts.Entities <= 0 {
		opts.Entities = DefaultAnalyticsEntities
	}
	if opts.Seconds <= 0 {
		opts.Seconds = 10
	}
	if opts.Requests <= 0 {
		opts.Requests = 2000
	}
	if opts.Starts <= 0 {
		opts.Starts = 3
	}
	logf := progressLog(opts.Progress)
	if ok, why := pgtest.Available(); !ok {
		return fmt.Errorf("bench: PostgreSQL unavailable: %s", why)
	}
	pgbench, err := pgtest.Binary("pgbench")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	scratch, err := os.MkdirTemp(opts.Scratch, "allsource-bench-entity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	t0 := time.Now()
	evs := GenSessions(SessionOptions{Events: opts.Events + opts.More, Entities: opts.Entities})
	logf("generated %s events of %s entities in %s", fmtCount(len(evs)), fmtCount(opts.Entities), fmtDur(time.Since(t0)))
	first := evs[:min(opts.Events, len(evs))]
	rep := &EntityReport{CPUs: runtime.NumCPU(), Events: len(first), Entities: opts.Entities}

	// AllSource: imported in files of at most 5 M events.
	if err := importSessions(ctx, opts.Server, scratch, first, logf); err != nil {
		return err
	}
	size, ep, err := measureStartups(ctx, opts, len(first), logf)
	if err != nil {
		return err
	}
	rep.Sizes = append(rep.Sizes, size)
	defer func() { opts.Server.Stop() }()

	// PostgreSQL: the same events, the same columns, a B-tree on entity_id.
	pg, err := pgtest.Start(ctx, pgtest.Options{BaseDir: opts.Scratch})
	if err != nil {
		return fmt.Errorf("bench: starting PostgreSQL: %w", err)
	}
	defer pg.Stop()
	t0 = time.Now()
	if err := loadPostgresSessions(ctx, pg.DSN(), first); err != nil {
		return err
	}
	logf("PostgreSQL: loaded, indexed and analysed in %s", fmtDur(time.Since(t0)))

	script := filepath.Join(scratch, "entity.sql")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(EntityScript, opts.Entities)), 0o644); err != nil {
		return err
	}
	pgCfg, _ := pgx.ParseConfig(pg.DSN())
	asHost, asPort, _ := strings.Cut(ep.PGAddr, ":")
	for _, clients := range []int{1, 8} {
		pair := PGBenchPair{Clients: clients}
		pair.AllSource = runPGBench(ctx, pgbench, scratch, script, asHost, asPort, "bench", "allsource", clients, opts.Seconds)
		logf("AllSource, pgbench %d clients: %.0f tps, p99 %s %s", clients, pair.AllSource.TPS, fmtDur(pair.AllSource.P99), pair.AllSource.Err)
		pair.Postgres = runPGBench(ctx, pgbench, scratch, script, pgCfg.Host, strconv.Itoa(int(pgCfg.Port)), pgCfg.User, pgCfg.Database, clients, opts.Seconds)
		logf("PostgreSQL, pgbench %d clients: %.0f tps, p99 %s %s", clients, pair.Postgres.TPS, fmtDur(pair.Postgres.P99), pair.Postgres.Err)
		rep.PGBench = append(rep.PGBench, pair)
	}

	// GET /v1/entities/{id}/events, entities with about 10 events.
	ids, n := streamsOfLength(first, 10, opts.Requests)
	rep.StreamLen = n
	if rep.HTTP, err = timeHTTPStreams(ctx, ep.URL, ids, n); err != nil {
		return err
	}
	logf("HTTP entity stream (%d events): p50 %s, p99 %s", n, fmtDur(rep.HTTP.P50), fmtDur(rep.HTTP.P99))

	// The Go API in this process, on the same data dir (server stopped).
	opts.Server.Stop()
	if rep.GoAPI, err = timeGoStreams(ctx, opts.Server.DataDir, ids, n); err != nil {
		return err
	}
	logf("Go API entity stream: p50 %s, p99 %s", fmtDur(rep.GoAPI.P50), fmtDur(rep.GoAPI.P99))

	if opts.More > 0 && len(evs) > len(first) {
		if err := importSessions(ctx, opts.Server, scratch, evs[len(first):], logf); err != nil {
			return err
		}
		size, _, err := measureStartups(ctx, opts, len(evs), logf)
		if err != nil {
			return err
		}
		rep.Sizes = append(rep.Sizes, size)
		opts.Server.Stop()
	}
	return rep.Print(w)
}

// measureStartups starts the server opts.Starts times, keeping it running
// after the last, and records the start-up times and the memory after it.
func measureStartups(ctx context.Context, opts EntityOptions, events int, logf func(string, ...any)) (EntitySize, EntityEndpoints, error) {
	size := EntitySize{Events: events, Disk: dirSize(opts.Server.DataDir)}
	var ep EntityEndpoints
	for i := 0; i < opts.Starts; i++ {
		t0 := time.Now()
		var err error
		if ep, err = opts.Server.Start(ctx); err != nil {
			return size, ep, err
		}
		size.Startups = append(size.Startups, time.Since(t0))
		size.RSS = rssOf(ep.Pid)
		if i < opts.Starts-1 {
			opts.Server.Stop()
		}
	}
	logf("start-up at %s events: %v, RSS %s MiB", fmtCount(events), size.Startups, fmtCount(int(size.RSS>>20)))
	return size, ep, nil
}

// entityIDOf is the numeric id the benchmark gives an entity.
func entityIDOf(e int32) string { return strconv.Itoa(int(e) + 1) }

// importSessions writes evs as NDJSON files of at most 5 M events and
// imports each.
func importSessions(ctx context.Context, srv EntityServer, dir string, evs []SessionEvent, logf func(string, ...any)) error {
	const chunk = 5_000_000
	t0 := time.Now()
	for start := 0; start < len(evs); start += chunk {
		part := evs[start:min(start+chunk, len(evs))]
		path := filepath.Join(dir, "events.ndjson")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		var line []byte
		for _, ev := range part {
			// Numeric ids (entityIDOf), so pgbench can draw them.
			line = append(ev.appendJSON(line[:0], "", int64(ev.Entity)+1), '\n')
			bw.Write(line)
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		f.Close()
		if err := srv.Import(ctx, path); err != nil {
			return fmt.Errorf("bench: import: %w", err)
		}
		os.Remove(path)
	}
	logf("AllSource: imported %s events in %s", fmtCount(len(evs)), fmtDur(time.Since(t0)))
	return nil
}

// loadPostgresSessions copies evs into public.events with AllSource's
// columns, then builds the B-tree the query needs and analyses.
func loadPostgresSessions(ctx context.Context, dsn string, evs []SessionEvent) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS events; CREATE TABLE events (seq bigint, id uuid, tenant_id text, entity_id text,
		event_type text, version bigint, "timestamp" timestamptz, ingested_at timestamptz, payload jsonb, metadata jsonb)`); err != nil {
		return err
	}
	versions := map[int32]int64{}
	now := time.Now().UTC()
	i := 0
	var payload []byte
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(evs) {
			return nil, nil
		}
		ev := evs[i]
		i++
		versions[ev.Entity]++
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[8:], uint64(i))
		payload = ev.AppendPayload(payload[:0])
		return []any{int64(i), id, allsource.DefaultTenant, entityIDOf(ev.Entity), EventTypes[ev.Type], versions[ev.Entity],
			ev.Time(), now, string(payload), "{}"}, nil
	})
	cols := []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, cols, src); err != nil {
		return fmt.Errorf("bench: COPY into PostgreSQL: %w", err)
	}
	for _, q := range []string{"CREATE INDEX ON events (entity_id)", "VACUUM (ANALYZE) events"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("bench: %s: %w", q, err)
		}
	}
	return nil
}

// runPGBench runs the script with -M prepared for seconds and reads the
// latencies from pgbench's per-transaction log.
func runPGBench(ctx context.Context, pgbench, dir, script, host, port, user, db string, clients, seconds int) PGBenchResult {
	var res PGBenchResult
	logDir, err := os.MkdirTemp(dir, "pgbench-")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer os.RemoveAll(logDir)
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(clients),
		"-T", strconv.Itoa(seconds), "-f", script, "-l", "--log-prefix", filepath.Join(logDir, "log"),
		"-h", host, "-p", port, "-U", user, db)
	cmd.Dir = logDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		res.Err = fmt.Sprintf("pgbench: %v: %s", err, lastLine(string(out)))
		return res
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "tps = "); ok {
			res.TPS, _ = strconv.ParseFloat(strings.Fields(rest)[0], 64)
		}
	}
	files, _ := filepath.Glob(filepath.Join(logDir, "log.*"))
	var lat []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			if len(fs) < 3 {
				continue
			}
			if us, err := strconv.ParseInt(fs[2], 10, 64); err == nil {
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	if len(lat) == 0 {
		res.Err = "pgbench wrote no transaction log"
		return res
	}
	slices.Sort(lat)
	res.Transactions = len(lat)
	res.P50, res.P99, res.Max = percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1]
	return res
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// streamsOfLength picks up to want entities whose streams are closest to
// n events long, and returns them with that length.
func streamsOfLength(evs []SessionEvent, n, want int) ([]string, int) {
	counts := map[int32]int{}
	for _, ev := range evs {
		counts[ev.Entity]++
	}
	best := -1
	for _, c := range counts {
		if best < 0 || abs(c-n) < abs(best-n) {
			best = c
		}
	}
	var ids []string
	for e, c := range counts {
		if c == best && len(ids) < want {
			ids = append(ids, entityIDOf(e))
		}
	}
	slices.Sort(ids)
	return ids, best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// timeHTTPStreams reads each entity's stream over GET
// /v1/entities/{id}/events, one request at a time, after a warm-up.
func timeHTTPStreams(ctx context.Context, url string, ids []string, n int) (PointResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	one := func(id string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/entities/"+id+"/events", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || strings.Count(string(b), `"seq"`) != n {
			return fmt.Errorf("GET /v1/entities/%s/events: %d, %d events, want %d", id, resp.StatusCode, strings.Count(string(b), `"seq"`), n)
		}
		return nil
	}
	return timeEach(ids, one)
}

// timeGoStreams opens the data dir in this process and reads each
// entity's stream with Warehouse.EntityEvents.
func timeGoStreams(ctx context.Context, dataDir string, ids []string, n int) (PointResult, error) {
	w, err := warehouse.Open(ctx, warehouse.Options{DataDir: dataDir})
	if err != nil {
		return PointResult{}, err
	}
	defer w.Close()
	return timeEach(ids, func(id string) error {
		evs, err := w.EntityEvents(ctx, allsource.DefaultTenant, id, 0, 1000)
		if err == nil && len(evs) != n {
			err = fmt.Errorf("entity %s: %d events, want %d", id, len(evs), n)
		}
		return err
	})
}

// timeEach calls one for each id after a warm-up over the first hundred
// and returns the latencies.
func timeEach(ids []string, one func(string) error) (PointResult, error) {
	if len(ids) == 0 {
		return PointResult{}, errors.New("bench: no entities to read")
	}
	for _, id := range ids[:min(PointWarmup, len(ids))] {
		if err := one(id); err != nil {
			return PointResult{}, err
		}
	}
	lat := make([]time.Duration, 0, len(ids))
	start := time.Now()
	for _, id := range ids {
		t0 := time.Now()
		if err := one(id); err != nil {
			return PointResult{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	res := PointResult{Queries: len(ids), Entities: len(ids), Elapsed: time.Since(start)}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	slices.Sort(lat)
	res.P50, res.P99, res.Max, res.Mean = percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1], sum/time.Duration(len(lat))
	return res, nil
}

// rssOf is a process's resident memory in bytes (Linux), 0 when unknown.
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Print writes the report.
func (r *EntityReport) Print(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\nEntity reads: %s events of %s entities, %d cores shared by the servers and the clients\n\n",
		fmtCount(r.Events), fmtCount(r.Entities), r.CPUs)
	fmt.Fprintf(bw, "pgbench -M prepared, %q (PostgreSQL 15: B-tree on entity_id)\n\n", "SELECT * FROM events WHERE entity_id = :e")
	fmt.Fprintf(bw, "| clients | AllSource tps | PostgreSQL tps | ratio | AllSource p50 / p99 | PostgreSQL p50 / p99 | p99 ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.PGBench {
		a, g := p.AllSource, p.Postgres
		fmt.Fprintf(bw, "| %d | %s | %s | %s | %s / %s | %s / %s | %s |\n", p.Clients, fmtRate(a.TPS), fmtRate(g.TPS), fmtRatio(a.TPS, g.TPS),
			fmtDur(a.P50), fmtDur(a.P99), fmtDur(g.P50), fmtDur(g.P99), fmtRatio(float64(a.P99), float64(g.P99)))
		for _, e := range []string{a.Err, g.Err} {
			if e != "" {
				fmt.Fprintf(bw, "\n  error: %s\n", e)
			}
		}
	}
	fmt.Fprintf(bw, "\nOne entity's stream (%d events), one request at a time:\n\n| read | p50 | p99 | max |\n|---|---:|---:|---:|\n", r.StreamLen)
	fmt.Fprintf(bw, "| GET /v1/entities/{id}/events | %s | %s | %s |\n", fmtDur(r.HTTP.P50), fmtDur(r.HTTP.P99), fmtDur(r.HTTP.Max))
	fmt.Fprintf(bw, "| Go API (Warehouse.EntityEvents, in process) | %s | %s | %s |\n", fmtDur(r.GoAPI.P50), fmtDur(r.GoAPI.P99), fmtDur(r.GoAPI.Max))
	fmt.Fprintf(bw, "\nStart-up (process start to ready) and memory:\n\n| events | start-ups | RSS after start-up | data dir |\n|---:|---|---:|---:|\n")
	for _, s := range r.Sizes {
		var ds []string
		for _, d := range s.Startups {
			ds = append(ds, fmtDur(d))
		}
		fmt.Fprintf(bw, "| %s | %s | %s MiB | %s MiB |\n", fmtCount(s.Events), strings.Join(ds, ", "), fmtCount(int(s.RSS>>20)), fmtCount(int(s.Disk>>20)))
	}
	if len(r.Sizes) == 2 {
		a, b := median(r.Sizes[0].Startups), median(r.Sizes[1].Startups)
		fmt.Fprintf(bw, "\nmedian start-up %s at %s events, %s at %s: %s\n", fmtDur(a), fmtCount(r.Sizes[0].Events), fmtDur(b), fmtCount(r.Sizes[1].Events), fmtRatio(float64(b), float64(a)))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "\nnote: %s\n", n)
	}
	return bw.Flush()
}
