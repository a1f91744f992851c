package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/analytics/export"
	"github.com/allsource/allsource/internal/pgtest"
)

// runBenchExport measures export throughput to PostgreSQL against the
// native bulk path: the same rows loaded with psql's \copy from a CSV
// file, into the same table shape on the same server, in the same run.
func (m *Main) runBenchExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench export", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	events := fs.Int("events", 1_000_000, "events to export")
	batch := fs.Int("batch-rows", 50_000, "rows per export transaction")
	scratch := fs.String("scratch-dir", "", "where the data dir goes (default: the system temp dir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	psql, err := findPsql()
	if err != nil {
		return err
	}
	pg, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return fmt.Errorf("PostgreSQL for the benchmark: %w", err)
	}
	defer pg.Stop()
	dir, err := os.MkdirTemp(*scratch, "allsource-bench-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var cfg Config
	sfs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.registerServeFlags(sfs)
	if err := sfs.Parse([]string{"--data-dir", filepath.Join(dir, "data")}); err != nil {
		return err
	}
	st, err := openStore(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), newMetrics())
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	for i := 0; i*10_000 < *events; i++ {
		if _, err := st.ingest.Append(ctx, allsource.DefaultTenant, benchInputs(i, min(10_000, *events-i*10_000))); err != nil {
			return err
		}
	}
	if err := st.wh.FlushAll(ctx); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "export to PostgreSQL 15: %d events, batches of %d, %d cores (server, PostgreSQL and psql share them)\n", *events, *batch, runtime.NumCPU())

	// AllSource's export job.
	start := time.Now()
	j, err := st.exports.Create(ctx, allsource.DefaultTenant, export.Spec{Target: pg.DSN() + "&table=exported", BatchRows: *batch})
	if err != nil {
		return err
	}
	for {
		if j, err = st.exports.Get(allsource.DefaultTenant, j.ID); err != nil {
			return err
		}
		if j.Status == export.StatusDone {
			break
		}
		if j.LastError != "" {
			return fmt.Errorf("export: %s", j.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
	exportTook := time.Since(start)

	// The same rows as CSV, loaded with psql \copy into the same shape.
	file := filepath.Join(dir, "events.csv")
	if err := writeEventsCSV(ctx, st, file); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `CREATE TABLE native (LIKE exported INCLUDING ALL)`)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	start = time.Now()
	out, err := exec.CommandContext(ctx, psql, pg.DSN(), "-v", "ON_ERROR_STOP=1", "-c",
		`\copy native (seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata) FROM '`+file+`' WITH (FORMAT csv)`).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql \\copy: %v: %s", err, out)
	}
	nativeTook := time.Since(start)
	rate := func(d time.Duration) float64 { return float64(*events) / d.Seconds() }
	fmt.Fprintf(m.Stdout, "AllSource export job   %8.2f s  %10.0f rows/s\n", exportTook.Seconds(), rate(exportTook))
	fmt.Fprintf(m.Stdout, "psql \\copy from CSV     %8.2f s  %10.0f rows/s\n", nativeTook.Seconds(), rate(nativeTook))
	fmt.Fprintf(m.Stdout, "ratio (export ÷ native)  %.2f\n", rate(exportTook)/rate(nativeTook))
	return nil
}

func findPsql() (string, error) {
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	if ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql"); len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return "", fmt.Errorf("psql not found (internal/pgclient/install.sh installs it)")
}

// writeEventsCSV writes every event in the export's columns.
func writeEventsCSV(ctx context.Context, st *store, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	rows, err := st.wh.QueryInternal(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, strftime("timestamp", '%Y-%m-%d %H:%M:%S.%f+00'),
		strftime(ingested_at, '%Y-%m-%d %H:%M:%S.%f+00'), CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR) FROM events ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	rec := make([]string, 10)
	for rows.Next() {
		var seq, version int64
		if err := rows.Scan(&seq, &rec[1], &rec[2], &rec[3], &rec[4], &version, &rec[6], &rec[7], &rec[8], &rec[9]); err != nil {
			return err
		}
		rec[0], rec[5] = strconv.FormatInt(seq, 10), strconv.FormatInt(version, 10)
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
