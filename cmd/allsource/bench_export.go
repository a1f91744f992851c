//go:build bench

package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/export"
	"github.com/allsource/allsource/internal/testkit/chtest"
	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// runBenchExport measures export throughput against each target's own
// bulk loader, in the same run: the same rows loaded with psql's \copy
// from a CSV file (PostgreSQL) and with clickhouse-client from a
// TabSeparated file (ClickHouse), into the same table shapes.
func (m *Main) runBenchExport(ctx context.Context, args []string) error {
	fs := newFlags("bench export", "Usage: allsource bench export [flags]\n\nMeasures export throughput against each target's own bulk loader in the\nsame run: psql \\copy (PostgreSQL) and clickhouse-client (ClickHouse).")
	events := fs.Int("events", 1_000_000, "events to export")
	batch := fs.Int("batch-rows", 0, "rows per export batch (default: the target's)")
	targets := fs.String("targets", "postgres,clickhouse", "which targets to measure")
	bf := addBenchFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	st, _, dir, done, err := bf.open(ctx, "export")
	if err != nil {
		return err
	}
	defer done()
	for i := 0; i*10_000 < *events; i++ {
		if _, err := st.ingest.Append(ctx, allsource.DefaultTenant, benchInputs(i, min(10_000, *events-i*10_000))); err != nil {
			return err
		}
	}
	if err := st.wh.FlushAll(ctx); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "export: %d events in Parquet, %d cores (server, target and loader share them); batches: %s\n", *events, runtime.NumCPU(), batchText(*batch))
	rate := func(d time.Duration) float64 { return float64(*events) / d.Seconds() }
	report := func(name, native string, exp, nat time.Duration) {
		fmt.Fprintf(m.Stdout, "%-10s AllSource export %6.2f s %9.0f rows/s | %-22s %6.2f s %9.0f rows/s | ratio %.2f\n",
			name, exp.Seconds(), rate(exp), native, nat.Seconds(), rate(nat), rate(exp)/rate(nat))
	}
	for _, target := range strings.Split(*targets, ",") {
		switch strings.TrimSpace(target) {
		case "postgres":
			exp, nat, err := benchExportPostgres(ctx, st, dir, *batch)
			if err != nil {
				return err
			}
			report("PostgreSQL", "psql \\copy (CSV)", exp, nat)
		case "clickhouse":
			exp, nat, err := benchExportClickHouse(ctx, st, dir, *batch)
			if err != nil {
				return err
			}
			report("ClickHouse", "clickhouse-client (TSV)", exp, nat)
		default:
			return fmt.Errorf("--targets: %q (postgres, clickhouse)", target)
		}
	}
	return nil
}

// runExportJob runs a one-off export to target and times it.
func runExportJob(ctx context.Context, st *store, target string, batch int) (time.Duration, error) {
	start := time.Now()
	j, err := st.exports.Create(ctx, allsource.DefaultTenant, export.Spec{Target: target, BatchRows: batch})
	if err != nil {
		return 0, err
	}
	for {
		if j, err = st.exports.Get(allsource.DefaultTenant, j.ID); err != nil {
			return 0, err
		}
		if j.Status == export.StatusDone {
			return time.Since(start), nil
		}
		if j.LastError != "" {
			return 0, fmt.Errorf("export: %s", j.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func benchExportPostgres(ctx context.Context, st *store, dir string, batch int) (time.Duration, time.Duration, error) {
	psql, err := findPsql()
	if err != nil {
		return 0, 0, err
	}
	pg, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return 0, 0, fmt.Errorf("PostgreSQL for the benchmark: %w", err)
	}
	defer pg.Stop()
	exp, err := runExportJob(ctx, st, pg.DSN()+"&table=exported", batch)
	if err != nil {
		return 0, 0, err
	}
	file := filepath.Join(dir, "events.csv")
	if err := writeEvents(ctx, st, file, "csv"); err != nil {
		return 0, 0, err
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		return 0, 0, err
	}
	_, err = conn.Exec(ctx, `CREATE TABLE native (LIKE exported INCLUDING ALL)`)
	conn.Close(ctx)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, psql, pg.DSN(), "-v", "ON_ERROR_STOP=1", "-c",
		`\copy native (seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata) FROM '`+file+`' WITH (FORMAT csv)`).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("psql \\copy: %v: %s", err, out)
	}
	return exp, time.Since(start), nil
}

func benchExportClickHouse(ctx context.Context, st *store, dir string, batch int) (time.Duration, time.Duration, error) {
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client not found (internal/testkit/chtest/install.sh installs it)")
	}
	ch, err := chtest.Start(ctx, chtest.Options{})
	if err != nil {
		return 0, 0, fmt.Errorf("ClickHouse for the benchmark: %w", err)
	}
	defer ch.Stop()
	exp, err := runExportJob(ctx, st, strings.Replace(ch.HTTPURL(), "http://", "clickhouse://", 1)+"/default?table=exported", batch)
	if err != nil {
		return 0, 0, err
	}
	file := filepath.Join(dir, "events.tsv")
	if err := writeEvents(ctx, st, file, "tsv"); err != nil {
		return 0, 0, err
	}
	host, port, _ := strings.Cut(ch.NativeAddr(), ":")
	if out, err := exec.CommandContext(ctx, client, "--host", host, "--port", port, "--query",
		"CREATE TABLE native AS exported").CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client: %v: %s", err, out)
	}
	in, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	start := time.Now()
	cmd := exec.CommandContext(ctx, client, "--host", host, "--port", port, "--query", "INSERT INTO native FORMAT TabSeparated")
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client INSERT: %v: %s", err, out)
	}
	return exp, time.Since(start), nil
}

func findPsql() (string, error) {
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	if ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql"); len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return "", fmt.Errorf("psql not found (internal/testkit/pgclient/install.sh installs it)")
}

// writeEvents writes every event in the export's columns, as CSV for
// PostgreSQL or as TabSeparated for ClickHouse (its column shapes).
func writeEvents(ctx context.Context, st *store, file, format string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	rows, err := st.wh.QueryInternal(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
		CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR) FROM events ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r export.Row
		if err := rows.Scan(&r.Seq, &r.ID, &r.Tenant, &r.EntityID, &r.EventType, &r.Version, &r.Timestamp, &r.IngestedAt, &r.Payload, &r.Metadata); err != nil {
			return err
		}
		ts, ing := r.Timestamp.UTC(), r.IngestedAt.UTC()
		if format == "tsv" {
			fmt.Fprintf(bw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", r.Seq, tsv(r.ID), tsv(r.Tenant), tsv(r.EntityID), tsv(r.EventType),
				r.Version, ts.Format("2006-01-02 15:04:05"), ts.UnixMicro(), ing.Format("2006-01-02 15:04:05"), tsv(r.Payload), tsv(r.Metadata))
			continue
		}
		if err := w.Write([]string{strconv.FormatUint(r.Seq, 10), r.ID, r.Tenant, r.EntityID, r.EventType, strconv.FormatUint(r.Version, 10),
			ts.Format("2006-01-02 15:04:05.999999Z07:00"), ing.Format("2006-01-02 15:04:05.999999Z07:00"), r.Payload, r.Metadata}); err != nil {
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

var tsvReplacer = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r")

func tsv(s string) string { return tsvReplacer.Replace(s) }

func batchText(n int) string {
	if n == 0 {
		return "the targets' defaults (PostgreSQL 50,000, ClickHouse 100,000 rows)"
	}
	return strconv.Itoa(n) + " rows"
}
