//go:build !bench

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

// runBench is not in the production binary: the benchmarks start peer
// servers (PostgreSQL, ClickHouse) and carry their launchers, which a
// server has no use for. make bench builds a binary with them.
func (m *Main) runBench(ctx context.Context, args []string) error {
	if len(args) > 0 && isHelpArg(args[len(args)-1]) {
		fmt.Fprint(m.Stdout, `Usage: allsource bench <kind> [flags]

Measures AllSource against its peers in the same run (ingest, pgwire,
analytics, auth, projections, fanout, export, entity, peergen) and prints the ratios. The
benchmarks start peer servers (PostgreSQL, ClickHouse), so they are built
only into the binary make bench-build makes (bin/allsource, with them); make
bench runs them all.
`)
		return flag.ErrHelp
	}
	return &exitError{code: 2, err: errors.New("this binary was built without the benchmarks: run make bench, or go build -tags 'duckdb_arrow bench' ./cmd/allsource")}
}
