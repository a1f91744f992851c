//go:build bench

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/allsource/allsource/internal/testkit/bench"
)

// runBenchEntity compares entity reads (pgbench's prepared point query,
// GET /v1/entities/{id}/events, the Go API) with PostgreSQL over the same
// events, and times start-up as history grows.
func (m *Main) runBenchEntity(ctx context.Context, args []string) error {
	fs := newFlags("bench entity", "Usage: allsource bench entity [flags]\n\nLoads the session data set (numeric entity ids) into a server it starts and\ninto a throwaway PostgreSQL 15 with a B-tree on entity_id, runs pgbench -M\nprepared (SELECT * FROM events WHERE entity_id = :e) against both with 1 and\n8 clients, times entity streams over HTTP and the Go API, and the server's\nstart-up and memory; with --more, again after adding that many events.")
	events := fs.Int("events", bench.DefaultAnalyticsEvents, "events loaded first")
	entities := fs.Int("entities", bench.DefaultAnalyticsEntities, "entities the events belong to")
	more := fs.Int("more", 40_000_000, "events added before start-up is measured again (0: not)")
	seconds := fs.Int("seconds", 10, "length of each pgbench run")
	scratch := fs.String("scratch-dir", "", "where temporary data goes (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*scratch, "allsource-bench-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv := &benchServer{dir: dir, stderr: m.Stderr}
	opts := bench.EntityOptions{
		Events: *events, Entities: *entities, More: *more, Seconds: *seconds, Scratch: *scratch, Progress: m.Stderr,
		Server: importingServer(exe, srv, "timestamp"),
	}
	fmt.Fprintf(m.Stderr, "bench: data dir %s\n", dir)
	return bench.RunEntity(ctx, opts, m.Stdout)
}

// importingServer is a server the benchmarks start and stop, whose data
// dir `allsource import` loads while it is stopped (entity_id and
// event_type fields, times in timeField).
func importingServer(exe string, srv *benchServer, timeField string) bench.EntityServer {
	return bench.EntityServer{
		DataDir: srv.dir,
		Import: func(ctx context.Context, file string) error {
			cmd := exec.CommandContext(ctx, exe, "import", "--data-dir", srv.dir, "--entity-field", "entity_id",
				"--type-field", "event_type", "--time-field", timeField, file)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		},
		Start: func(ctx context.Context) (bench.EntityEndpoints, error) {
			if err := srv.start(ctx); err != nil {
				return bench.EntityEndpoints{}, err
			}
			return bench.EntityEndpoints{URL: srv.url, PGAddr: srv.pgAddr, Pid: srv.cmd.Process.Pid}, nil
		},
		Stop: srv.stop,
	}
}
