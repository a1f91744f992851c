//go:build !bench

package main

import (
	"context"
	"errors"
)

// runBench is not in the production binary: the benchmarks start peer
// servers (PostgreSQL, ClickHouse) and carry their launchers, which a
// server has no use for. make bench builds a binary with them.
func (m *Main) runBench(ctx context.Context, args []string) error {
	return &exitError{code: 2, err: errors.New("this binary was built without the benchmarks: run make bench, or go build -tags 'duckdb_arrow bench' ./cmd/allsource")}
}
