package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The queries of the pgwire comparison. Both servers see the same text: on
// PostgreSQL, events is a table in the schema PGSchema, reached through the
// connection's search_path.
const (
	// QueryPoint reads all events of one entity: a point lookup on
	// entity_id, run as a prepared statement with one parameter.
	QueryPoint = `SELECT seq, entity_id, event_type, version, "timestamp", payload FROM events WHERE entity_id = $1`
	// QueryStream reads every event: a large result streamed to the client.
	QueryStream = `SELECT seq, id, entity_id, event_type, version, "timestamp", payload FROM events`
)

// Defaults for PGWireOptions and PointQuery.
const (
	// DefaultPointQueries is the number of timed point queries per server.
	DefaultPointQueries = 2000
	// DefaultPointEntities is the number of distinct entity ids the point
	// queries cycle through.
	DefaultPointEntities = 200
	// PointWarmup is the number of untimed point queries PointQuery runs
	// before the timed ones (at most the number of timed ones).
	PointWarmup = 100
	// DefaultStreamRuns is how many times each full read runs per server;
	// the fastest run is reported.
	DefaultStreamRuns = 2
	// DefaultFlushWait bounds the wait for AllSource to flush its hot tier.
	DefaultFlushWait = 3 * time.Minute
)

// PGSchema is the PostgreSQL schema RunPGWire loads its events table into,
// dropped and recreated on every run so that nothing else in the database
// is touched.
const PGSchema = "allsource_bench"

// PointResult is the outcome of PointQuery.
type PointResult struct {
	// Queries is the number of timed queries (warm-up runs excluded).
	Queries int
	// Entities is the number of distinct entity ids cycled through.
	Entities int
	// Rows is the number of rows the timed queries returned in total.
	Rows int
	// P50, P99, Mean and Max are the latencies of one query: from sending
	// Bind/Execute to having scanned its last row.
	P50, P99, Mean, Max time.Duration
	// Elapsed is the wall time of all timed queries.
	Elapsed time.Duration
}

// StreamResult is the outcome of StreamRows or StreamRowsDecoded.
type StreamResult struct {
	// Query is the SQL that was read.
	Query string
	// Format is "text" or "binary" (raw values, StreamRows) or "decoded"
	// (pgx's default choice of formats, every value scanned into a Go
	// value, StreamRowsDecoded).
	Format string
	// Rows is the number of rows read.
	Rows int64
	// Bytes is the total size of the column values received, without the
	// protocol's framing.
	Bytes int64
	// FirstRow is the time from sending the query to having the first row.
	FirstRow time.Duration
	// Elapsed is the time from sending the query to having read the
	// command completion.
	Elapsed time.Duration
	// RowsPerSec is Rows / Elapsed.
	RowsPerSec float64
}

func (r *StreamResult) finish() {
	if r.Elapsed > 0 {
		r.RowsPerSec = float64(r.Rows) / r.Elapsed.Seconds()
	}
}

// PointQuery opens one connection to dsn and runs QueryPoint n times as a
// prepared statement (Parse once, then Bind/Execute per query over the
// extended protocol), with the entity ids cycling through entities and every
// row scanned into typed Go values. PointWarmup untimed queries run first.
func PointQuery(ctx context.Context, dsn string, entities []string, n int) (PointResult, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return PointResult{}, fmt.Errorf("bench: %w", err)
	}
	return pointQuery(ctx, cfg, entities, n)
}

func pointQuery(ctx context.Context, cfg *pgx.ConnConfig, entities []string, n int) (PointResult, error) {
	if len(entities) == 0 || n <= 0 {
		return PointResult{}, errors.New("bench: PointQuery needs entity ids and a positive count")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return PointResult{}, fmt.Errorf("bench: connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sd, err := conn.Prepare(ctx, "point", QueryPoint)
	if err != nil {
		return PointResult{}, fmt.Errorf("bench: preparing %q: %w", QueryPoint, err)
	}

	var (
		seq, version   int64
		entity, evType string
		ts             time.Time
		payload        []byte
	)
	one := func(entity0 string) (int, error) {
		rows, err := conn.Query(ctx, sd.Name, entity0)
		if err != nil {
			return 0, err
		}
		k := 0
		for rows.Next() {
			if err := rows.Scan(&seq, &entity, &evType, &version, &ts, &payload); err != nil {
				rows.Close()
				return k, err
			}
			k++
		}
		rows.Close()
		return k, rows.Err()
	}

	warm := min(PointWarmup, n)
	for i := range warm {
		if _, err := one(entities[i%len(entities)]); err != nil {
			return PointResult{}, fmt.Errorf("bench: point query (warm-up) for %q: %w", entities[i%len(entities)], err)
		}
	}
	lat := make([]time.Duration, n)
	res := PointResult{Queries: n, Entities: len(entities)}
	start := time.Now()
	for i := range n {
		id := entities[(warm+i)%len(entities)]
		t0 := time.Now()
		k, err := one(id)
		lat[i] = time.Since(t0)
		if err != nil {
			return PointResult{}, fmt.Errorf("bench: point query for %q: %w", id, err)
		}
		res.Rows += k
	}
	res.Elapsed = time.Since(start)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	slices.Sort(lat)
	res.P50 = percentile(lat, 0.50)
	res.P99 = percentile(lat, 0.99)
	res.Mean = sum / time.Duration(n)
	res.Max = lat[n-1]
	return res, nil
}

// StreamRows opens one connection to dsn and reads the whole result of query
// through the extended protocol (unnamed statement, ExecParams) with every
// result column in text or binary format, touching each raw value without
// decoding it: the server's raw row throughput as a client sees it.
func StreamRows(ctx context.Context, dsn, query string, binary bool) (StreamResult, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return StreamResult{}, fmt.Errorf("bench: %w", err)
	}
	return streamRows(ctx, cfg, query, binary)
}

func streamRows(ctx context.Context, cfg *pgx.ConnConfig, query string, binary bool) (StreamResult, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return StreamResult{}, fmt.Errorf("bench: connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := StreamResult{Query: query, Format: "text"}
	format := []int16{pgx.TextFormatCode}
	if binary {
		res.Format = "binary"
		format = []int16{pgx.BinaryFormatCode}
	}
	start := time.Now()
	rr := conn.PgConn().ExecParams(ctx, query, nil, nil, nil, format)
	for rr.NextRow() {
		if res.Rows == 0 {
			res.FirstRow = time.Since(start)
		}
		res.Rows++
		for _, v := range rr.Values() {
			res.Bytes += int64(len(v))
		}
	}
	if _, err := rr.Close(); err != nil {
		return StreamResult{}, fmt.Errorf("bench: reading %q (%s) after %d rows: %w", query, res.Format, res.Rows, err)
	}
	res.Elapsed = time.Since(start)
	res.finish()
	return res, nil
}

// StreamRowsDecoded is StreamRows as an application reads: pgx's default
// query mode (a cached prepared statement, binary results for the types pgx
// knows) and every value scanned into a Go value of its column's type
// (integers, strings, times; JSON as raw bytes, not unmarshalled).
func StreamRowsDecoded(ctx context.Context, dsn, query string) (StreamResult, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return StreamResult{}, fmt.Errorf("bench: %w", err)
	}
	return streamRowsDecoded(ctx, cfg, query)
}

func streamRowsDecoded(ctx context.Context, cfg *pgx.ConnConfig, query string) (StreamResult, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return StreamResult{}, fmt.Errorf("bench: connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := StreamResult{Query: query, Format: "decoded"}
	start := time.Now()
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return StreamResult{}, fmt.Errorf("bench: %q: %w", query, err)
	}
	defer rows.Close()
	var targets []any
	for rows.Next() {
		if res.Rows == 0 {
			res.FirstRow = time.Since(start)
			targets = scanTargets(rows.FieldDescriptions())
		}
		res.Rows++
		for _, v := range rows.RawValues() {
			res.Bytes += int64(len(v))
		}
		if err := rows.Scan(targets...); err != nil {
			return StreamResult{}, fmt.Errorf("bench: scanning row %d of %q: %w", res.Rows, query, err)
		}
	}
	if err := rows.Err(); err != nil {
		return StreamResult{}, fmt.Errorf("bench: reading %q (decoded) after %d rows: %w", query, res.Rows, err)
	}
	res.Elapsed = time.Since(start)
	res.finish()
	return res, nil
}

// scanTargets returns one pointer per column to a Go value fitting its type.
func scanTargets(fields []pgconn.FieldDescription) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		switch f.DataTypeOID {
		case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
			out[i] = new(int64)
		case pgtype.Float4OID, pgtype.Float8OID:
			out[i] = new(float64)
		case pgtype.BoolOID:
			out[i] = new(bool)
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID:
			out[i] = new(string)
		case pgtype.TimestamptzOID, pgtype.TimestampOID, pgtype.DateOID:
			out[i] = new(time.Time)
		case pgtype.JSONOID, pgtype.JSONBOID:
			out[i] = new([]byte)
		default:
			out[i] = new(any)
		}
	}
	return out
}

// PGWireOptions configures RunPGWire. ServerURL and AllSourceDSN are
// required.
type PGWireOptions struct {
	// ServerURL is the running AllSource server's HTTP base URL, used to
	// load the events and to read GET /readyz.
	ServerURL string
	// AllSourceDSN is a connection string for the same server's pgwire
	// front end, e.g. PGWireDSN("127.0.0.1:5433").
	AllSourceDSN string
	// PostgresDSN is an existing PostgreSQL server to compare with; the
	// schema PGSchema in it is dropped and recreated. Empty starts a
	// throwaway server with pgtest.
	PostgresDSN string
	// ScratchDir is where a throwaway PostgreSQL keeps its data directory;
	// empty means os.TempDir().
	ScratchDir string
	// Events is the number of generated events loaded into both servers;
	// default DefaultEvents.
	Events int
	// Seed seeds the generator; default DefaultSeed.
	Seed int64
	// PointQueries is the number of timed point queries per server; default
	// DefaultPointQueries.
	PointQueries int
	// PointEntities is the number of distinct entity ids they cycle
	// through; default DefaultPointEntities.
	PointEntities int
	// StreamRuns is the number of runs of each full read per server (the
	// fastest is reported); default DefaultStreamRuns.
	StreamRuns int
	// FlushWait bounds the wait for AllSource's hot tier to be flushed to
	// Parquet before measuring; default DefaultFlushWait, negative means do
	// not wait.
	FlushWait time.Duration
	// Progress receives a line as each step finishes; nil means the report
	// writer. Use io.Discard to silence it.
	Progress io.Writer
}

// PGWireDSN returns the connection string of an AllSource pgwire front end
// at addr (host:port) that admits loopback clients without a password.
func PGWireDSN(addr string) string {
	return "postgres://bench@" + addr + "/allsource?sslmode=disable"
}

// PGWireSide is one server's figures in the pgwire comparison.
type PGWireSide struct {
	// Name is "AllSource" or "PostgreSQL".
	Name string
	// Version is the server_version the server reported.
	Version string
	// Load is how its events were loaded.
	Load Result
	// Rows is SELECT count(*) FROM events just before measuring; -1 if it
	// failed.
	Rows int64
	// State describes the storage state at measurement time.
	State string
	// Point is the point-query result; nil when it failed (see Errors).
	Point *PointResult
	// Streams has one entry per stream format in StreamFormats, nil where
	// it failed.
	Streams []*StreamResult
	// Errors lists what failed on this side, with the query.
	Errors []string
}

// StreamFormats are the full-read variants measured, in order.
var StreamFormats = []string{"text", "binary", "decoded"}

// PGWireReport holds the figures of RunPGWire.
type PGWireReport struct {
	// CPUs is runtime.NumCPU(); both servers and the client share them.
	CPUs int
	// Events is the number of generated events; Seed their seed.
	Events int
	Seed   int64
	// StreamRuns is the number of runs per full read (the fastest counts).
	StreamRuns int
	// AllSource and Postgres are the two sides.
	AllSource, Postgres PGWireSide
	// Notes are extra lines printed at the end.
	Notes []string
}

// readyz is the answer of AllSource's GET /readyz.
type readyz struct {
	Status       string `json:"status"`
	HotRows      int64  `json:"hot_rows"`
	ParquetFiles int64  `json:"parquet_files"`
	FlushedSeq   uint64 `json:"flushed_seq"`
}

func getReadyz(ctx context.Context, base string) (readyz, error) {
	var rz readyz
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpointURL(base, "/readyz"), nil)
	if err != nil {
		return rz, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rz, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rz, err
	}
	if resp.StatusCode != http.StatusOK {
		return rz, statusError(resp.StatusCode, b)
	}
	return rz, json.Unmarshal(b, &rz)
}

// sampleEntities returns up to k distinct entity ids of events, taken at
// evenly spaced positions, so they are as skewed as the data.
func sampleEntities(events [][]byte, k int) ([]string, error) {
	seen := make(map[string]bool, k)
	var out []string
	step := max(1, len(events)/(4*k))
	for i := 0; i < len(events) && len(out) < k; i += step {
		var e struct {
			EntityID string `json:"entity_id"`
		}
		if err := json.Unmarshal(events[i], &e); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if !seen[e.EntityID] {
			seen[e.EntityID] = true
			out = append(out, e.EntityID)
		}
	}
	return out, nil
}

// pgPrepared says what preparePostgres did.
type pgPrepared struct {
	Index, Vacuum time.Duration
}

// preparePostgres moves the table PostgresCopy left behind into the schema
// PGSchema as "events", indexes entity_id (as any PostgreSQL user looking
// events up by entity would) and runs VACUUM (ANALYZE), so the planner has
// statistics and the first full read does not pay for setting hint bits.
func preparePostgres(ctx context.Context, dsn string) (pgPrepared, error) {
	var p pgPrepared
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return p, fmt.Errorf("bench: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range []string{
		"DROP SCHEMA IF EXISTS " + PGSchema + " CASCADE",
		"CREATE SCHEMA " + PGSchema,
		"ALTER TABLE " + PostgresTable + " SET SCHEMA " + PGSchema,
		"ALTER TABLE " + PGSchema + "." + PostgresTable + " RENAME TO events",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return p, fmt.Errorf("bench: PostgreSQL %q: %w", s, err)
		}
	}
	t0 := time.Now()
	if _, err := conn.Exec(ctx, "CREATE INDEX events_entity_id_idx ON "+PGSchema+".events (entity_id)"); err != nil {
		return p, fmt.Errorf("bench: PostgreSQL CREATE INDEX: %w", err)
	}
	p.Index = time.Since(t0)
	t0 = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+PGSchema+".events"); err != nil {
		return p, fmt.Errorf("bench: PostgreSQL VACUUM: %w", err)
	}
	p.Vacuum = time.Since(t0)
	return p, nil
}

// dropPGSchema removes what preparePostgres created.
func dropPGSchema(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+PGSchema+" CASCADE")
	return err
}

// postgresConfig returns the connection config for dsn with search_path set
// to PGSchema, so the comparison's queries name "events" on both sides.
func postgresConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["search_path"] = PGSchema
	return cfg, nil
}

// countAndVersion fills side.Version and side.Rows; a failure is recorded in
// side.Errors.
func countAndVersion(ctx context.Context, cfg *pgx.ConnConfig, side *PGWireSide) {
	side.Rows = -1
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		side.Errors = append(side.Errors, fmt.Sprintf("connecting: %v", err))
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	side.Version = conn.PgConn().ParameterStatus("server_version")
	const q = "SELECT count(*) FROM events"
	if err := conn.QueryRow(ctx, q).Scan(&side.Rows); err != nil {
		side.Rows = -1
		side.Errors = append(side.Errors, fmt.Sprintf("%s: %v", q, err))
	}
}

// RunPGWire compares AllSource's pgwire front end with PostgreSQL on the
// same events and writes the report to w. It generates opts.Events events,
// loads them into AllSource over HTTP and into PostgreSQL with COPY (then
// indexes entity_id and runs VACUUM ANALYZE there), waits for AllSource to
// flush its hot tier to Parquet, and then measures on both servers, one
// connection each, alternating sides: PointQuery over a sample of real
// entity ids, and full reads of QueryStream in text, binary and decoded
// form. A measurement that fails on one side is reported with its error and
// the rest still run; failing to load is an error.
func RunPGWire(ctx context.Context, opts PGWireOptions, w io.Writer) error {
	if opts.ServerURL == "" || opts.AllSourceDSN == "" {
		return errors.New("bench: RunPGWire needs the server's URL and pgwire DSN")
	}
	if opts.Events <= 0 {
		opts.Events = DefaultEvents
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.PointQueries <= 0 {
		opts.PointQueries = DefaultPointQueries
	}
	if opts.PointEntities <= 0 {
		opts.PointEntities = DefaultPointEntities
	}
	if opts.StreamRuns <= 0 {
		opts.StreamRuns = DefaultStreamRuns
	}
	if opts.FlushWait == 0 {
		opts.FlushWait = DefaultFlushWait
	}
	progress := opts.Progress
	if progress == nil {
		progress = w
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "bench: "+format+"\n", args...)
	}
	asCfg, err := pgx.ParseConfig(opts.AllSourceDSN)
	if err != nil {
		return fmt.Errorf("bench: AllSource DSN: %w", err)
	}

	loadBefore := loadAverage()
	t0 := time.Now()
	data := GenEvents(opts.Events, opts.Seed)
	stored, err := ToStored(data, opts.Seed)
	if err != nil {
		return fmt.Errorf("bench: decoding generated events: %w", err)
	}
	entities, err := sampleEntities(data, opts.PointEntities)
	if err != nil {
		return fmt.Errorf("bench: sampling entity ids: %w", err)
	}
	logf("generated %s events in %s", fmtCount(len(data)), fmtDur(time.Since(t0)))

	dsn := opts.PostgresDSN
	if dsn == "" {
		if ok, why := pgtest.Available(); !ok {
			return fmt.Errorf("bench: PostgreSQL unavailable (%s); pass a DSN", why)
		}
		base := opts.ScratchDir
		if base == "" {
			base = os.TempDir()
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		srv, err := pgtest.Start(ctx, pgtest.Options{BaseDir: base})
		if err != nil {
			return fmt.Errorf("bench: starting PostgreSQL: %w", err)
		}
		defer srv.Stop()
		dsn = srv.DSN()
		logf("started PostgreSQL in %s", srv.Dir())
	}
	pgCfg, err := postgresConfig(dsn)
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL DSN: %w", err)
	}

	rep := &PGWireReport{
		CPUs: runtime.NumCPU(), Events: len(data), Seed: opts.Seed, StreamRuns: opts.StreamRuns,
		AllSource: PGWireSide{Name: "AllSource"},
		Postgres:  PGWireSide{Name: "PostgreSQL"},
	}

	as, err := IngestHTTP(ctx, Config{URL: opts.ServerURL, Batch: 10_000, Clients: 4, Data: data})
	if err != nil {
		return fmt.Errorf("loading AllSource: %w", err)
	}
	rep.AllSource.Load = as
	logf("AllSource: loaded %s events over HTTP in %s", fmtCount(as.Events), fmtDur(as.Elapsed))

	pg, err := PostgresCopy(ctx, dsn, stored, CopyOptions{Batch: 10_000, Clients: 2, KeepTable: true})
	if err != nil {
		return fmt.Errorf("loading PostgreSQL: %w", err)
	}
	defer dropPGSchema(context.WithoutCancel(ctx), dsn)
	prep, err := preparePostgres(ctx, dsn)
	if err != nil {
		return err
	}
	rep.Postgres.Load = pg
	rep.Postgres.State = fmt.Sprintf("heap table %s.events, jsonb payload, B-tree index on entity_id built after loading (%s), then VACUUM (ANALYZE) (%s)",
		PGSchema, fmtDur(prep.Index), fmtDur(prep.Vacuum))
	logf("PostgreSQL: copied %s events in %s, index %s, vacuum %s", fmtCount(pg.Events), fmtDur(pg.Elapsed), fmtDur(prep.Index), fmtDur(prep.Vacuum))

	rep.AllSource.State = waitFlushed(ctx, opts.ServerURL, opts.FlushWait, logf)

	sides := []struct {
		side *PGWireSide
		cfg  *pgx.ConnConfig
	}{{&rep.AllSource, asCfg}, {&rep.Postgres, pgCfg}}
	for _, s := range sides {
		countAndVersion(ctx, s.cfg, s.side)
		s.side.Streams = make([]*StreamResult, len(StreamFormats))
	}
	for _, s := range sides {
		r, err := pointQuery(ctx, s.cfg, entities, opts.PointQueries)
		if err != nil {
			s.side.Errors = append(s.side.Errors, fmt.Sprintf("point query %s: %v", QueryPoint, err))
			logf("%s point query failed: %v", s.side.Name, err)
			continue
		}
		s.side.Point = &r
		logf("%s point query: p50 %s, p99 %s, %d rows", s.side.Name, fmtDur(r.P50), fmtDur(r.P99), r.Rows)
	}
	for i, format := range StreamFormats {
		for run := 0; run < opts.StreamRuns; run++ {
			for _, s := range sides {
				if run > 0 && s.side.Streams[i] == nil {
					continue // failed on its first run
				}
				var r StreamResult
				switch format {
				case "decoded":
					r, err = streamRowsDecoded(ctx, s.cfg, QueryStream)
				default:
					r, err = streamRows(ctx, s.cfg, QueryStream, format == "binary")
				}
				if err != nil {
					s.side.Errors = append(s.side.Errors, fmt.Sprintf("full read (%s) %s: %v", format, QueryStream, err))
					logf("%s full read (%s) failed: %v", s.side.Name, format, err)
					continue
				}
				logf("%s full read (%s), run %d: %s rows in %s", s.side.Name, format, run+1, fmtCount(int(r.Rows)), fmtDur(r.Elapsed))
				if best := s.side.Streams[i]; best == nil || r.Elapsed < best.Elapsed {
					s.side.Streams[i] = &r
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench: interrupted: %w", err)
	}
	if before, after := loadBefore, loadAverage(); before != "" && after != "" {
		rep.Notes = append(rep.Notes, fmt.Sprintf("1-minute load average %s before the run and %s at its end (the end includes the benchmark's own processes; "+
			"before it, anything well above 0 means other work shared the %d cores).", before, after, rep.CPUs))
	}
	if a, p := rep.AllSource.Rows, rep.Postgres.Rows; a >= 0 && p >= 0 && a != p {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the servers hold different row counts (AllSource %s, PostgreSQL %s): was the AllSource server already holding data?",
			fmtCount(int(a)), fmtCount(int(p))))
	}
	return rep.Print(w)
}

// waitFlushed polls GET /readyz until AllSource reports no hot rows or wait
// passes, and describes the state it ended in.
func waitFlushed(ctx context.Context, url string, wait time.Duration, logf func(string, ...any)) string {
	t0 := time.Now()
	deadline := t0.Add(max(wait, 0))
	for {
		rz, err := getReadyz(ctx, url)
		if err != nil {
			return fmt.Sprintf("unknown (GET /readyz: %v)", err)
		}
		if rz.HotRows == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			s := fmt.Sprintf("hot_rows %s, parquet_files %d, flushed_seq %d", fmtCount(int(rz.HotRows)), rz.ParquetFiles, rz.FlushedSeq)
			if rz.HotRows == 0 {
				s += fmt.Sprintf(" (all flushed to Parquet; waited %s)", fmtDur(time.Since(t0)))
			} else {
				s += fmt.Sprintf(" (NOT all flushed after waiting %s: queries also read the hot tier)", fmtDur(time.Since(t0)))
			}
			logf("AllSource state: %s", s)
			return s
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or ""
// where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
