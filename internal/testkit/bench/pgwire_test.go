package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TestPGWireAgainstPostgres runs the pgwire comparison's measurements
// (PointQuery, StreamRows in both formats, StreamRowsDecoded) and its
// PostgreSQL preparation against a real PostgreSQL with 10,000 events, and
// prints a report with PostgreSQL standing in for both sides.
func TestPGWireAgainstPostgres(t *testing.T) {
	srv := pgtest.Require(t)
	ctx := context.Background()
	const n = 10_000
	data := GenEvents(n, DefaultSeed)
	stored, err := ToStored(data, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PostgresCopy(ctx, srv.DSN(), stored, CopyOptions{Batch: 5000, KeepTable: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := preparePostgres(ctx, srv.DSN()); err != nil {
		t.Fatal(err)
	}
	// The exported functions take a DSN; search_path reaches the schema.
	dsn := srv.DSN() + "&search_path=" + PGSchema

	entities, err := sampleEntities(data, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(entities) < 10 {
		t.Fatalf("sampled only %d distinct entities: %v", len(entities), entities)
	}
	perEntity := map[string]int{}
	for _, e := range stored {
		perEntity[e.EntityID]++
	}
	const queries = 150
	want := 0
	for i := range queries {
		want += perEntity[entities[(min(PointWarmup, queries)+i)%len(entities)]]
	}
	pr, err := PointQuery(ctx, dsn, entities, queries)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Queries != queries || pr.Rows != want {
		t.Fatalf("point queries: %d queries, %d rows; want %d, %d", pr.Queries, pr.Rows, queries, want)
	}
	if !(pr.P50 > 0 && pr.P50 <= pr.P99 && pr.P99 <= pr.Max && pr.Mean > 0) {
		t.Fatalf("implausible latencies: %+v", pr)
	}

	side := PGWireSide{Name: "PostgreSQL", Rows: n, Point: &pr, Streams: make([]*StreamResult, len(StreamFormats))}
	for i, format := range StreamFormats {
		var r StreamResult
		if format == "decoded" {
			r, err = StreamRowsDecoded(ctx, dsn, QueryStream)
		} else {
			r, err = StreamRows(ctx, dsn, QueryStream, format == "binary")
		}
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if r.Rows != n || r.Format != format || r.Bytes < n*100 || r.RowsPerSec <= 0 || r.FirstRow <= 0 || r.FirstRow > r.Elapsed {
			t.Fatalf("%s: implausible result %+v", format, r)
		}
		t.Logf("%s: %d rows, %d bytes, %s rows/s", format, r.Rows, r.Bytes, fmtRate(r.RowsPerSec))
		side.Streams[i] = &r
	}
	if _, err := StreamRows(ctx, dsn, "SELECT * FROM no_such_table", false); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("reading a missing table: err = %v", err)
	}

	as := side
	as.Name, as.Point, as.Streams = "AllSource", nil, append([]*StreamResult{nil}, side.Streams[1:]...)
	as.Errors = []string{"point query: boom"}
	rep := &PGWireReport{CPUs: 2, Events: n, Seed: DefaultSeed, StreamRuns: 1, AllSource: as, Postgres: side}
	var b strings.Builder
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, s := range []string{"2 CPU cores", "Point query", "p99", "Full read", "binary", "decoded", "1.00x", "FAILED on AllSource: point query: boom"} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if err := dropPGSchema(ctx, srv.DSN()); err != nil {
		t.Fatal(err)
	}
}

// TestRunPGWireOrchestration runs RunPGWire end to end with PostgreSQL
// standing in for AllSource's pgwire side (the same table, reached through
// search_path) and a fake HTTP API taking the load and answering /readyz.
func TestRunPGWireOrchestration(t *testing.T) {
	srv := pgtest.Require(t)
	fake := &fakeServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ready","hot_rows":0,"parquet_files":7,"flushed_seq":5000}`))
	})
	mux.Handle("/", fake)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	var out, progress strings.Builder
	err := RunPGWire(context.Background(), PGWireOptions{
		ServerURL: hs.URL, AllSourceDSN: srv.DSN() + "&search_path=" + PGSchema, PostgresDSN: srv.DSN(),
		Events: 5000, PointQueries: 200, PointEntities: 50, StreamRuns: 1, Progress: &progress,
	}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Log("\n" + out.String())
	if got := fake.lines.Load(); got != 5000 {
		t.Errorf("fake server received %d events, want 5000", got)
	}
	for _, s := range []string{"5,000 rows", "parquet_files 7", "all flushed", "index on entity_id", "p99", "decoded"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if strings.Contains(out.String(), "FAILED") {
		t.Errorf("a measurement failed")
	}
}
