//go:build bench

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/allsource/allsource/internal/testkit/bench"
)

// runBenchPeergen compares the analytics with ClickHouse in its best
// set-up on the shared peergen data set.
func (m *Main) runBenchPeergen(ctx context.Context, args []string) error {
	fs := newFlags("bench peergen", "Usage: allsource bench peergen (--generator DIR | --csv FILE) [flags]\n\nLoads the peergen data set into a server it starts (allsource import) and into\na throwaway ClickHouse in its best set-up for these questions (MergeTree ORDER\nBY (entity_id, ts), OPTIMIZE FINAL), asks both a 5- and a 20-step funnel, 26\nweekly retention cohorts and an hourly count by type, checks the answers agree\ncell by cell and prints the times and ratios.")
	generator := fs.String("generator", "", "the peergen generator's source directory (built with go build, then run)")
	csv := fs.String("csv", "", "a CSV peergen wrote (instead of --generator)")
	events := fs.Int("events", 10_000_000, "with --generator: events to generate")
	users := fs.Int("users", 1_000_000, "with --generator: users the events belong to")
	runs := fs.Int("runs", 3, "timed runs per question and side (after one warm-up); the median is reported")
	noCH := fs.Bool("no-clickhouse", false, "leave ClickHouse out")
	chURL := fs.String("clickhouse-url", "", "an existing ClickHouse HTTP interface (table events is replaced; default: start a throwaway one from the Debian package)")
	scratch := fs.String("scratch-dir", "", "where temporary data goes (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if (*generator == "") == (*csv == "") {
		return errors.New("give one of --generator DIR and --csv FILE")
	}
	base := *scratch
	if base == "" {
		base = os.TempDir()
	}
	work, err := os.MkdirTemp(base, "allsource-bench-peergen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if *generator != "" {
		bin := filepath.Join(work, "peergen")
		build := exec.CommandContext(ctx, "go", "build", "-C", *generator, "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building peergen in %s: %v: %s", *generator, err, out)
		}
		*csv = filepath.Join(work, "events.csv")
		gen := exec.CommandContext(ctx, bin, "-n", strconv.Itoa(*events), "-users", strconv.Itoa(*users), "-seed", "42", "-o", *csv)
		gen.Stderr = m.Stderr
		if err := gen.Run(); err != nil {
			return fmt.Errorf("running peergen: %w", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir := filepath.Join(work, "server")
	srv := &benchServer{dir: dir, stderr: m.Stderr}
	opts := bench.PeergenOptions{CSV: *csv, Runs: *runs, Scratch: work, Progress: m.Stderr,
		Server: importingServer(exe, srv, "ts"),
	}
	var stopCH func()
	opts.ClickHouseURL, opts.SkipReason, stopCH = m.clickHousePeer(ctx, *noCH, *chURL, work)
	defer stopCH()
	return bench.RunPeergen(ctx, opts, m.Stdout)
}
