package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGCopySurvivesKill9 loads events with COPY FROM STDIN through the
// binary's Postgres front end, kills the server with SIGKILL right after
// the acknowledgement, and finds every row after a restart: COPY has the
// durability of HTTP ingest.
func TestPGCopySurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn := fmt.Sprintf("postgres://loader@%s/allsource?sslmode=disable", p.pg)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	const rows = 5000
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "user-%d,signed_up,2026-01-02T03:04:05Z,\"{\"\"n\"\": %d}\"\n", i%50, i)
	}
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(b.String()),
		`COPY events (entity_id, event_type, "timestamp", payload) FROM STDIN WITH (FORMAT csv)`)
	if err != nil || tag.RowsAffected() != rows {
		t.Fatalf("COPY: %v (%s)", err, tag)
	}
	p.kill()

	p2 := startProc(t, dir, nil)
	c2, err := pgx.Connect(ctx, fmt.Sprintf("postgres://reader@%s/allsource?sslmode=disable", p2.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	var n, distinct, maxVersion int64
	err = c2.QueryRow(ctx, `SELECT count(*), count(DISTINCT payload->>'n'), max(version) FROM events`).Scan(&n, &distinct, &maxVersion)
	if err != nil {
		t.Fatal(err)
	}
	if n != rows || distinct != rows || maxVersion != rows/50 {
		t.Fatalf("after kill -9: %d rows, %d distinct, max version %d; want %d, %d, %d", n, distinct, maxVersion, rows, rows, rows/50)
	}
	p2.stop(t)
}

// TestServePGAuthFlags checks the flag combinations serve refuses.
func TestServePGAuthFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--pg-user", "a"},
		{"--pg-tls", "on"},
		{"--pg-tls", "sometimes"},
		{"--pg-auth", "md5"},
		{"--pg-user", "a", "--pg-password", "b", "--pg-auth", "password"},
	} {
		var cfg Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.registerServeFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
