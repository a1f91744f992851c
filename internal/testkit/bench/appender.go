package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/allsource/allsource"
	"github.com/duckdb/duckdb-go/v2"
)

// AppenderDBName is the file AppenderBaseline creates in its directory.
const AppenderDBName = "appender-baseline.duckdb"

// AppenderOptions tunes AppenderBaselineWith.
type AppenderOptions struct {
	// VarcharJSON makes payload and metadata VARCHAR columns, appended as Go
	// strings with no JSON handling. The default is JSON columns appended as
	// json.RawMessage, which duckdb-go re-validates through encoding/json
	// (a plain Go string in a JSON column would be stored as a JSON string,
	// not an object). JSON columns match the server's schema and do the
	// validation the server does, so they are the fair default.
	VarcharJSON bool
}

// AppenderBaseline loads events into a table of a new file-backed DuckDB
// database, dir/AppenderDBName (replaced if present), with duckdb-go's
// Appender in one bulk load, then runs CHECKPOINT so the data is durable in
// the database file. The table has the warehouse's ten columns, payload and
// metadata typed JSON (see AppenderOptions). Elapsed runs from creating the
// Appender to the end of CHECKPOINT; creating the table is not timed. The
// database file is left in dir.
func AppenderBaseline(ctx context.Context, events []allsource.Event, dir string) (Result, error) {
	return AppenderBaselineWith(ctx, events, dir, AppenderOptions{})
}

// AppenderBaselineWith is AppenderBaseline with options.
func AppenderBaselineWith(ctx context.Context, events []allsource.Event, dir string, opts AppenderOptions) (res Result, err error) {
	if len(events) == 0 {
		return Result{}, errors.New("bench: no events to append")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	path := filepath.Join(dir, AppenderDBName)
	for _, p := range []string{path, path + ".wal"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return Result{}, fmt.Errorf("bench: %w", err)
		}
	}

	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return Result{}, fmt.Errorf("bench: opening DuckDB %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench: closing DuckDB: %w", cerr)
		}
	}()
	jsonType := "JSON"
	if opts.VarcharJSON {
		jsonType = "VARCHAR"
	}
	if _, err := db.ExecContext(ctx, createEventsDDL("events", jsonType)); err != nil {
		return Result{}, fmt.Errorf("bench: creating DuckDB table: %w", err)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	defer conn.Close()

	cpu0 := processCPU()
	start := time.Now()
	err = conn.Raw(func(dc any) error {
		drv, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewAppender(drv, "", "", "events")
		if err != nil {
			return err
		}
		for i := range events {
			if i%4096 == 0 && ctx.Err() != nil {
				app.Close()
				return ctx.Err()
			}
			e := &events[i]
			var payload, meta any = json.RawMessage(e.Payload), json.RawMessage(e.Metadata)
			if opts.VarcharJSON {
				payload, meta = string(e.Payload), string(e.Metadata)
			}
			if err := app.AppendRow(int64(e.Seq), e.ID, e.Tenant, e.EntityID, e.EventType,
				int64(e.Version), e.Timestamp, e.IngestedAt, payload, meta); err != nil {
				app.Close()
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
		return app.Close()
	})
	if err != nil {
		return Result{}, fmt.Errorf("bench: appending to DuckDB: %w", err)
	}
	tc := time.Now()
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return Result{}, fmt.Errorf("bench: DuckDB CHECKPOINT: %w", err)
	}
	elapsed := time.Since(start)
	checkpoint := time.Since(tc)
	cpu := processCPU() - cpu0

	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return Result{}, fmt.Errorf("bench: counting DuckDB rows: %w", err)
	}
	if n != len(events) {
		return Result{}, fmt.Errorf("bench: DuckDB table has %d rows after appending %d", n, len(events))
	}
	res = Result{
		Name:      "duckdb-appender",
		Events:    n,
		Clients:   1,
		Requests:  1,
		Elapsed:   elapsed,
		ClientCPU: cpu,
		Note:      fmt.Sprintf("payload/metadata as %s columns; final CHECKPOINT %s", jsonType, fmtDur(checkpoint)),
	}
	res.finish(nil)
	return res, nil
}

// createEventsDDL returns CREATE TABLE for the warehouse's ten columns,
// with jsonType for payload and metadata ("JSON", "VARCHAR" or "jsonb").
func createEventsDDL(table, jsonType string) string {
	return fmt.Sprintf(`CREATE TABLE %s (
	seq BIGINT NOT NULL,
	id VARCHAR NOT NULL,
	tenant_id VARCHAR NOT NULL,
	entity_id VARCHAR NOT NULL,
	event_type VARCHAR NOT NULL,
	version BIGINT NOT NULL,
	timestamp TIMESTAMPTZ NOT NULL,
	ingested_at TIMESTAMPTZ NOT NULL,
	payload %s,
	metadata %s
)`, table, jsonType, jsonType)
}
