//go:build bench

package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/internal/testkit/bench"
)

// runBenchAuth measures what authentication costs ingest: the same events
// sent to three servers — authentication off, on with an API key, on with
// a token — in alternating rounds, and the ratio of their throughputs.
func (m *Main) runBenchAuth(ctx context.Context, args []string) error {
	fs := newFlags("bench auth", "Usage: allsource bench auth [flags]\n\nMeasures what authentication costs ingest: three servers (off, API key,\ntoken) in alternating rounds, and the ratio of their throughputs.")
	events := fs.Int("events", 200_000, "events per run")
	batches := fs.String("batch-sizes", "100,1000", "comma-separated batch sizes")
	clients := fs.Int("clients", bench.DefaultClients, "concurrent HTTP clients")
	rounds := fs.Int("rounds", 5, "runs per server and batch size (alternating); the median is reported")
	scratch := fs.String("scratch-dir", "", "where the servers' data dirs go (default: the system temp dir)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	sizes, err := parseInts(*batches)
	if err != nil {
		return fmt.Errorf("--batch-sizes: %w", err)
	}
	if *rounds < 1 || *events < 1 {
		return fmt.Errorf("--rounds and --events must be positive")
	}
	base := *scratch
	if base == "" {
		base = os.TempDir()
	}
	type side struct {
		name, token string
		srv         *benchServer
	}
	var sides []*side
	for _, name := range []string{"auth off", "API key", "token"} {
		dir, err := os.MkdirTemp(base, "allsource-bench-auth-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s := &side{name: name}
		switch name {
		case "API key":
			ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
			if err != nil {
				return err
			}
			if s.token, _, err = ks.Create("bench", "bench", []string{authz.RoleWriter}, 0); err != nil {
				return err
			}
		case "token":
			secret, err := authz.LoadOrCreateSecret(authz.SecretFile(dir))
			if err != nil {
				return err
			}
			if s.token, err = authz.IssueHS256(secret, "bench", "bench", []string{authz.RoleWriter}, 24*time.Hour, time.Now()); err != nil {
				return err
			}
		}
		// No flush during the runs: flushes land at different moments on each
		// server and would dominate the differences measured.
		s.srv = &benchServer{dir: dir, args: []string{"--flush-rows", "10000000", "--flush-bytes", "4294967296", "--flush-age", "1h"}, stderr: m.Stderr}
		if err := s.srv.start(ctx); err != nil {
			return err
		}
		defer s.srv.stop()
		sides = append(sides, s)
	}
	fmt.Fprintf(m.Stderr, "bench: three servers started; %d events per run, %d rounds\n", *events, *rounds)
	tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(m.Stdout, "AllSource ingest with and without authentication: %d CPU cores (runtime.NumCPU), %d clients, %d events per run, median of %d alternating rounds\n\n",
		runtime.NumCPU(), *clients, *events, *rounds)
	fmt.Fprintln(tw, "batch\tauth off ev/s\tAPI key ev/s\ttoken ev/s\tkey÷off\ttoken÷off\t")
	for _, batch := range sizes {
		eps := make([][]float64, len(sides))
		for r := 0; r < *rounds; r++ {
			for i := range sides {
				s := sides[(i+r)%len(sides)] // rotate who goes first
				data := bench.GenEvents(*events, int64(7000+r))
				res, err := bench.IngestHTTP(ctx, bench.Config{URL: s.srv.url, Batch: batch, Clients: *clients, Data: data, Token: s.token})
				if err != nil {
					return fmt.Errorf("%s, batch %d: %w", s.name, batch, err)
				}
				idx := slices.Index(sides, s)
				eps[idx] = append(eps[idx], res.EventsPerSec)
				fmt.Fprintf(m.Stderr, "bench: batch %d round %d %s: %.0f events/s\n", batch, r+1, s.name, res.EventsPerSec)
			}
		}
		med := make([]float64, len(sides))
		for i, v := range eps {
			slices.Sort(v)
			med[i] = v[len(v)/2]
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t\n", batch, med[0], med[1], med[2], med[1]/med[0], med[2]/med[0])
	}
	return tw.Flush()
}
