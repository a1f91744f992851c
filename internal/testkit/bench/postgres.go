package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource"
	"github.com/jackc/pgx/v5"
)

// PostgresTable is the table PostgresCopy (re)creates.
const PostgresTable = "bench_events"

var eventColumns = []string{
	"seq", "id", "tenant_id", "entity_id", "event_type", "version",
	"timestamp", "ingested_at", "payload", "metadata",
}

// CopyOptions tunes PostgresCopy.
type CopyOptions struct {
	// Batch is the number of events per COPY; default DefaultBatch. Each
	// COPY is its own transaction, so its return is a durable
	// acknowledgement, like one AllSource request.
	Batch int
	// Clients is the number of concurrent connections; default 1.
	Clients int
	// KeepTable leaves the table in place afterwards instead of dropping it.
	KeepTable bool
}

// PostgresCopy loads events into a new plain table (the warehouse's ten
// columns, payload and metadata jsonb, no indexes) in the PostgreSQL server
// at dsn with pgx's CopyFrom (binary COPY), in chunks of opts.Batch events
// over opts.Clients connections, with the server's settings untouched (the
// defaults are durable: fsync and synchronous_commit on). Elapsed runs from
// the first COPY to the last commit; P50/P99/Max are per COPY. It then checks
// the row count.
func PostgresCopy(ctx context.Context, dsn string, events []allsource.Event, opts CopyOptions) (Result, error) {
	if len(events) == 0 {
		return Result{}, errors.New("bench: no events to copy")
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Clients <= 0 {
		opts.Clients = 1
	}
	chunks := (len(events) + opts.Batch - 1) / opts.Batch
	clients := min(opts.Clients, chunks)

	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return Result{}, fmt.Errorf("bench: connecting to PostgreSQL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS "+PostgresTable); err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	if _, err := admin.Exec(ctx, createEventsDDL(PostgresTable, "jsonb")); err != nil {
		return Result{}, fmt.Errorf("bench: creating PostgreSQL table: %w", err)
	}
	if !opts.KeepTable {
		defer admin.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+PostgresTable)
	}

	conns := make([]*pgx.Conn, clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i := range conns {
		if conns[i], err = pgx.Connect(ctx, dsn); err != nil {
			return Result{}, fmt.Errorf("bench: connecting to PostgreSQL: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	lats := make([][]time.Duration, clients)
	table := pgx.Identifier{PostgresTable}
	start := time.Now()
	for c, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				chunk := events[k*opts.Batch : min((k+1)*opts.Batch, len(events))]
				t0 := time.Now()
				n, err := conn.CopyFrom(ctx, table, eventColumns, pgx.CopyFromSlice(len(chunk), func(i int) ([]any, error) {
					e := &chunk[i]
					return []any{int64(e.Seq), e.ID, e.Tenant, e.EntityID, e.EventType, int64(e.Version),
						e.Timestamp, e.IngestedAt, json.RawMessage(e.Payload), json.RawMessage(e.Metadata)}, nil
				}))
				if err == nil && n != int64(len(chunk)) {
					err = fmt.Errorf("copied %d rows, want %d", n, len(chunk))
				}
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("bench: PostgreSQL COPY of chunk %d: %w", k, err)
						cancel()
					})
					return
				}
				lats[c] = append(lats[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("bench: PostgreSQL COPY interrupted: %w", err)
	}

	var n int64
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+PostgresTable).Scan(&n); err != nil {
		return Result{}, fmt.Errorf("bench: counting PostgreSQL rows: %w", err)
	}
	if n != int64(len(events)) {
		return Result{}, fmt.Errorf("bench: PostgreSQL table has %d rows after copying %d", n, len(events))
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	r := Result{
		Name:     "postgres-copy",
		Events:   len(events),
		Batch:    opts.Batch,
		Clients:  clients,
		Requests: chunks,
		Elapsed:  elapsed,
		Note:     "jsonb columns, no indexes, default durable settings",
	}
	r.finish(all)
	return r, nil
}
