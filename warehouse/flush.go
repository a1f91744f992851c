package warehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// flushLoop is the one goroutine that writes sealed generations to Parquet,
// oldest first, so the watermark only ever rises over contiguous seqs.
func (w *Warehouse) flushLoop() {
	defer w.done.Done()
	for {
		select {
		case <-w.stop:
			return
		case g := <-w.frozen:
			for attempt := 0; ; attempt++ {
				err := w.flushGen(context.Background(), g)
				if err == nil {
					break
				}
				w.log.Error("flush failed; will retry", "gen", g.id, "attempt", attempt+1, "err", err)
				select {
				case <-w.stop:
					return
				case <-time.After(backoff(attempt)):
				}
			}
		}
	}
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 7)
	return min(d, 10*time.Second)
}

// parquetColumns is what every Parquet file holds: the events columns, with
// payload and metadata typed JSON, plus day.
const parquetColumns = `seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
	payload::JSON AS payload, metadata::JSON AS metadata, day`

// flushGen writes one sealed generation in one partitioned COPY (one file
// per tenant and day, sorted by entity_id, timestamp, seq), then records the
// files and the new watermark in one catalog transaction.
func (w *Warehouse) flushGen(ctx context.Context, g *gen) error {
	w.maint.Lock()
	defer w.maint.Unlock()
	start := time.Now()
	out := filepath.Join(w.tmpDir, fmt.Sprintf("flush-%d", g.id))
	defer os.RemoveAll(out)
	q := fmt.Sprintf(`COPY (SELECT %s FROM %s ORDER BY tenant_id, day, entity_id, "timestamp", seq)
		TO %s (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (tenant_id, day), WRITE_PARTITION_COLUMNS true, OVERWRITE)`,
		parquetColumns, g.table, sqlString(out))
	if _, err := w.engine.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("write %s: %w", g.table, err)
	}
	tmps, entries, err := w.describeWritten(ctx, out)
	if err != nil {
		return err
	}
	var total, rowsWritten int64
	for i, t := range tmps {
		size, err := syncFile(t)
		if err != nil {
			return err
		}
		entries[i].Bytes = size
		total += size
		rowsWritten += entries[i].Rows
	}
	if rowsWritten != g.rowCount() {
		return fmt.Errorf("flush of %s wrote %d rows, the generation has %d", g.table, rowsWritten, g.rowCount())
	}
	w.fault("flush:after-write")
	if err := w.install(tmps, entries); err != nil {
		return err
	}
	w.fault("flush:after-rename")

	watermark := g.seqHi
	if err := w.recordFlush(ctx, entries, watermark); err != nil {
		return err
	}
	w.fault("flush:after-manifest")

	w.publish(func(v *version) {
		v.files = append(append([]fileEntry(nil), v.files...), entries...)
		gens := make([]*gen, 0, len(v.gens))
		for _, x := range v.gens {
			if x != g {
				gens = append(gens, x)
			}
		}
		v.gens = gens
		v.watermark = watermark
	}, func() {
		if _, err := w.engine.Exec("DROP TABLE IF EXISTS " + g.table); err != nil {
			w.log.Warn("drop flushed generation", "table", g.table, "err", err)
		}
	})
	d := time.Since(start)
	w.log.Info("flushed", "gen", g.id, "rows", g.rowCount(), "files", len(entries), "bytes", total, "watermark", watermark, "took", d)
	if w.opts.Observe != nil {
		w.opts.Observe.Flushed(int(g.rowCount()), total, d)
	}
	if w.opts.OnFlushed != nil {
		w.opts.OnFlushed(watermark)
	}
	w.kickCompaction()
	return nil
}

// describeWritten lists the files a partitioned COPY wrote under dir
// (tenant_id=<t>/day=<d>/*.parquet) with their seq range and row count.
func (w *Warehouse) describeWritten(ctx context.Context, dir string) ([]string, []fileEntry, error) {
	var tmps []string
	var entries []fileEntry
	tenants, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, td := range tenants {
		tenant, ok := strings.CutPrefix(td.Name(), "tenant_id=")
		if !ok {
			return nil, nil, fmt.Errorf("unexpected %s in %s", td.Name(), dir)
		}
		days, err := os.ReadDir(filepath.Join(dir, td.Name()))
		if err != nil {
			return nil, nil, err
		}
		for _, dd := range days {
			day, ok := strings.CutPrefix(dd.Name(), "day=")
			if !ok {
				return nil, nil, fmt.Errorf("unexpected %s in %s", dd.Name(), dir)
			}
			files, err := os.ReadDir(filepath.Join(dir, td.Name(), dd.Name()))
			if err != nil {
				return nil, nil, err
			}
			for i, f := range files {
				path := filepath.Join(dir, td.Name(), dd.Name(), f.Name())
				e := fileEntry{Tenant: tenant, Date: day}
				err := w.engine.QueryRowContext(ctx, `SELECT min(seq), max(seq), count(*) FROM read_parquet(`+sqlString(path)+`)`).
					Scan(&e.SeqLo, &e.SeqHi, &e.Rows)
				if err != nil {
					return nil, nil, fmt.Errorf("read back %s: %w", path, err)
				}
				e.Path = fileName(tenant, day, e.SeqLo, e.SeqHi)
				if len(files) > 1 {
					e.Path = strings.TrimSuffix(e.Path, ".parquet") + fmt.Sprintf("-%d.parquet", i)
				}
				tmps = append(tmps, path)
				entries = append(entries, e)
			}
		}
	}
	return tmps, entries, nil
}

// fileName is a data file's path relative to the warehouse dir. Zero-padded
// seqs sort by name in seq order.
func fileName(tenant, date string, lo, hi uint64) string {
	return fmt.Sprintf("tenant=%s/date=%s/%020d-%020d.parquet", tenant, date, lo, hi)
}

// install renames written files into the warehouse and makes the renames
// durable.
func (w *Warehouse) install(tmps []string, entries []fileEntry) error {
	dirs := map[string]bool{}
	for i, e := range entries {
		dst := filepath.Join(w.whDir, filepath.FromSlash(e.Path))
		dir := filepath.Dir(dst)
		if !dirs[dir] {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			dirs[dir] = true
		}
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("install %s: file exists", e.Path)
		}
		if err := os.Rename(tmps[i], dst); err != nil {
			return fmt.Errorf("install %s: %w", e.Path, err)
		}
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	}
	return syncDir(w.whDir)
}

func (w *Warehouse) recordFlush(ctx context.Context, entries []fileEntry, watermark uint64) error {
	tx, err := w.catalog.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO parquet_files (path, tenant_id, date, seq_lo, seq_hi, rows, bytes)
			VALUES (?, ?, CAST(? AS DATE), ?, ?, ?, ?)`, e.Path, e.Tenant, e.Date, e.SeqLo, e.SeqHi, e.Rows, e.Bytes); err != nil {
			return fmt.Errorf("record %s: %w", e.Path, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE warehouse_state SET value = ? WHERE key = 'flushed_seq'`, watermark); err != nil {
		return fmt.Errorf("record watermark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit flush: %w", err)
	}
	return nil
}

// FlushAll freezes the active generation and waits until every event
// appended so far is in Parquet. Applier goroutine only (or after the
// applier stopped).
func (w *Warehouse) FlushAll(ctx context.Context) error {
	target := w.hot.g.seqHi
	if w.hot.g.rowCount() == 0 {
		// Everything appended is in an older generation, if anywhere.
		w.mu.Lock()
		for _, g := range w.cur.gens {
			if g.rowCount() > 0 && g.seqHi > target {
				target = g.seqHi
			}
		}
		w.mu.Unlock()
	}
	if err := w.Freeze(ctx); err != nil {
		return err
	}
	for w.FlushedSeq() < target {
		if err := w.failed(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.stop:
			return fmt.Errorf("warehouse: closed while flushing")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func syncFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
