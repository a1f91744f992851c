package pgwire

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/wal"
	"github.com/allsource/allsource/warehouse"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGWIRE_NO_LEAKCHECK") != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m,
		// The engine's connection pool and database/sql's opener outlive
		// single tests only until the warehouse closes; pgx may leave a
		// context watcher briefly.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

// probeDSN, when set, is how startServer checks that the server is up.
var probeDSN func(*testServer) string

// testServer is a real store (WAL, warehouse, ingest) served by pgwire on a
// loopback port.
type testServer struct {
	t    testing.TB
	dir  string
	wal  *wal.Log
	wh   *warehouse.Warehouse
	svc  *ingest.Service
	srv  *Server
	addr string
	done chan error
}

// startServer opens a store in a temporary directory and serves it. edit
// may change the options before the server is built.
func startServer(t testing.TB, edit func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir}
	var err error
	ts.wal, err = wal.Open(filepath.Join(dir, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts.wh, err = warehouse.Open(context.Background(), warehouse.Options{DataDir: dir, FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts.svc, err = ingest.Open(context.Background(), ts.wal, ts.wh, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Warehouse: ts.wh, Ingest: ts.svc,
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if edit != nil {
		edit(&opts)
	}
	ts.srv, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.done = make(chan error, 1)
	go func() { ts.done <- ts.srv.Serve(context.Background(), ln) }()
	t.Cleanup(ts.close)
	// Serve installs the catalog before accepting; wait until it answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := ts.dsn("probe", "")
		if probeDSN != nil {
			d = probeDSN(ts)
		}
		c, err := pgx.Connect(context.Background(), d)
		if err == nil {
			c.Close(context.Background())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The probe's session ends asynchronously on the server; tests that
	// count sessions must not see it.
	for ts.srv.Sessions() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return ts
}

func (ts *testServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.srv.Close(ctx); err != nil {
		ts.t.Errorf("close pgwire: %v", err)
	}
	if err := <-ts.done; err != nil {
		ts.t.Errorf("serve: %v", err)
	}
	if err := ts.svc.Close(ctx, false); err != nil {
		ts.t.Errorf("close ingest: %v", err)
	}
	ts.wh.Close()
	ts.wal.Close()
}

// testLogWriter sends server logs to the test's log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dsn is a connection URL for user (with password, if not empty).
func (ts *testServer) dsn(user, password string) string {
	cred := user
	if password != "" {
		cred += ":" + password
	}
	return fmt.Sprintf("postgres://%s@%s/allsource?sslmode=disable", cred, ts.addr)
}

// allExecModes are pgx's five query execution modes.
var allExecModes = []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol}

// connectMode opens a pgx connection whose queries use mode; it is closed
// when the test ends.
func (ts *testServer) connectMode(t testing.TB, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(ts.dsn("u", ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// connect opens a pgx connection as user "tester".
func (ts *testServer) connect(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), ts.dsn("tester", ""))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// appendNDJSON stores events given as NDJSON through the ingest service.
func (ts *testServer) appendNDJSON(t testing.TB, body []byte) {
	t.Helper()
	in, err := ingest.ParseBatch(body, ingest.FormatNDJSON, ingest.Limits{})
	if err != nil {
		t.Fatalf("parse events: %v", err)
	}
	if _, err := ts.svc.Append(context.Background(), "", in); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// appendN stores n events over entities e0..e(k-1) with payload {"i": n}.
func (ts *testServer) appendN(t testing.TB, n, entities int) {
	t.Helper()
	var b []byte
	for i := 0; i < n; i++ {
		b = fmt.Appendf(b, `{"entity_id":"e%d","event_type":"t%d","timestamp":"2024-01-01T00:00:%02d.5Z","payload":{"i":%d,"name":"n%d"}}`+"\n",
			i%entities, i%3, i%60, i, i)
	}
	ts.appendNDJSON(t, b)
}
