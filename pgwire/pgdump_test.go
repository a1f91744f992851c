package pgwire

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allsource/allsource/internal/testkit/pgclient"
	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TestPgDumpRestores: pg_dump --schema-only and pg_dump --data-only -t
// events run against the server, and their output restores into a real
// PostgreSQL 15 with psql -v ON_ERROR_STOP=1: the events table with its
// columns and comments, every row, and the table functions (which say
// there that AllSource computes them).
func TestPgDumpRestores(t *testing.T) {
	for _, tool := range []string{"pg_dump", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			pgtest.Unavailable(t, tool, "not on PATH", "internal/testkit/pgclient/install.sh")
		}
	}
	pg := pgtest.Require(t)
	ts := startServer(t, nil)
	ts.appendNDJSON(t, pgclient.FixtureNDJSON())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The dump names the owner: the same role exists on the target, as
	// when moving a database between servers.
	src := ts.dsn("postgres", "")
	admin, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS restored"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE restored"); err != nil {
		t.Fatal(err)
	}
	target := strings.Replace(pg.DSN(), "/postgres?", "/restored?", 1)
	for _, args := range [][]string{{"--schema-only"}, {"--data-only", "-t", "events"}} {
		dump, err := exec.CommandContext(ctx, "pg_dump", append(args, "-d", src)...).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("pg_dump %v: %v\n%s", args, err, stderr)
		}
		cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target)
		cmd.Stdin = strings.NewReader(string(dump))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restoring pg_dump %v: %v\n%s\n--- dump ---\n%s", args, err, out, dump)
		}
	}
	dst, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(context.Background())
	var n int64
	var entities, comment string
	err = dst.QueryRow(ctx, `SELECT count(*), string_agg(DISTINCT entity_id, ',' ORDER BY entity_id),
		obj_description('public.events'::regclass, 'pg_class') FROM events`).Scan(&n, &entities, &comment)
	if err != nil || n != int64(len(pgclient.Fixture)) || entities != strings.Join(pgclient.FixtureEntities(), ",") || comment == "" {
		t.Fatalf("restored events: %d rows, entities %q, comment %q, %v", n, entities, comment, err)
	}
	var payloadsMatch bool
	if err := dst.QueryRow(ctx, `SELECT bool_and(payload::text <> '') FROM events`).Scan(&payloadsMatch); err != nil || !payloadsMatch {
		t.Fatalf("restored payloads: %v %v", payloadsMatch, err)
	}
	_, err = dst.Exec(ctx, `SELECT * FROM funnel('{}')`)
	if err == nil || !strings.Contains(err.Error(), "computed by AllSource") {
		t.Fatalf("restored funnel(): %v", err)
	}
}
