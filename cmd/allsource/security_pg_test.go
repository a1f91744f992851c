package main

// Regression tests, through the real binary, that no client can exhaust or
// stall the Postgres front end: idle sockets cannot lock out logins,
// clients that vanish do not keep their statements running, and a session
// cannot lift the server's statement timeout.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// pgSlowQuery runs until it is cancelled.
const pgSlowQuery = "SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3"

func pgDSN(p *proc, user string) string {
	return fmt.Sprintf("postgres://%s@%s/allsource?sslmode=disable", user, p.pg)
}

// TestPGIdleConnectionsDoNotLockOutLogins: 600 connections that never send
// a start-up packet, more than --pg-max-conns plus every margin, do not keep
// a real client out.
func TestPGIdleConnectionsDoNotLockOutLogins(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	for i := 0; i < 600; i++ {
		nc, err := net.Dial("tcp", p.pg)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		defer nc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := pgx.Connect(ctx, pgDSN(p, "real"))
	if err != nil {
		t.Fatalf("login behind 600 idle connections: %v", err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("logged in and queried in %v", time.Since(start))
}

// TestPGVanishedClientsReleaseTheEngine: statements whose clients are gone
// are cancelled, so they do not hold the engine's connections. The server
// runs with GOMAXPROCS=2, so its engine has 2×2 query connections, all
// taken by the four long queries (the test checks that they are). The
// clients speak the protocol by hand: a driver such as pgx sends a
// CancelRequest when its connection fails, and a vanished client does not.
func TestPGVanishedClientsReleaseTheEngine(t *testing.T) {
	const engineConns = 4
	p := startProc(t, t.TempDir(), []string{"GOMAXPROCS=2"})
	var long []net.Conn
	for i := 0; i < engineConns; i++ {
		long = append(long, sendQuery(t, p.pg, fmt.Sprintf("long%d", i), pgSlowQuery))
	}
	// Wait until the long queries hold every engine connection: a short
	// query gets none.
	for deadline := time.Now().Add(10 * time.Second); !engineBusy(t, p); {
		if time.Now().After(deadline) {
			t.Fatalf("the %d long queries did not take every engine connection", engineConns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The clients vanish without a word.
	for _, nc := range long {
		nc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgDSN(p, "after"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatalf("query 2 s after the long queries' clients vanished: %v", err)
	}
}

// sendQuery logs in as user over a raw connection to addr, sends sql and
// returns without reading its answer.
func sendQuery(t *testing.T, addr, user, sql string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": user, "database": "allsource"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("login: %s", e.Message)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	fe.Send(&pgproto3.Query{String: sql})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc
}

// engineBusy reports whether a short query waits more than a second.
func engineBusy(t *testing.T, p *proc) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgDSN(p, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int64
	err = c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n)
	if err != nil && ctx.Err() == nil {
		t.Fatalf("probe: %v", err)
	}
	return ctx.Err() != nil
}

// TestPGStatementTimeoutCannotBeLifted: SET statement_timeout = 0 does
// not lift the server's --pg-statement-timeout.
func TestPGStatementTimeoutCannotBeLifted(t *testing.T) {
	p := startProc(t, t.TempDir(), nil, "--pg-statement-timeout", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgDSN(p, "lift"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Exec(ctx, pgSlowQuery)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "statement timeout") {
		t.Fatalf("after SET statement_timeout = 0: %v, want 57014 canceling statement due to statement timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled after %v, want about 1 s", d)
	}
}

// TestPGStatementTimeoutDefault: pgwire's statement timeout is
// --pg-statement-timeout, else --query-timeout, else 5 minutes.
func TestPGStatementTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 5 * time.Minute},
		{[]string{"--query-timeout", "30s"}, 30 * time.Second},
		{[]string{"--query-timeout", "30s", "--pg-statement-timeout", "2m"}, 2 * time.Minute},
		{[]string{"--query-timeout", "0"}, 5 * time.Minute},
	} {
		var cfg Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.registerServeFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := cfg.pgStatementTimeout(); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.args, got, tc.want)
		}
	}
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.registerServeFlags(fs)
	fs.Parse([]string{"--pg-statement-timeout", "-1s"})
	if err := cfg.Validate(); err == nil {
		t.Error("negative --pg-statement-timeout accepted")
	}
}
