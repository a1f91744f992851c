package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func (w *Warehouse) kickCompaction() {
	select {
	case w.compactKick <- struct{}{}:
	default:
	}
}

// compactLoop merges the files of partitions that have too many.
func (w *Warehouse) compactLoop() {
	defer w.done.Done()
	t := time.NewTicker(w.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.compactKick:
		}
		if _, err := w.Compact(context.Background()); err != nil {
			w.log.Error("compaction failed", "err", err)
		}
	}
}

// Compact merges, in every partition with at least CompactMinFiles files, all
// its files into one sorted file. It returns how many partitions it merged.
func (w *Warehouse) Compact(ctx context.Context) (int, error) {
	return w.compact(ctx, w.opts.CompactMinFiles)
}

func (w *Warehouse) compact(ctx context.Context, minFiles int) (int, error) {
	n := 0
	skip := map[[2]string]bool{} // partitions that failed in this pass
	var errs []error
	for {
		select {
		case <-w.stop:
			return n, errors.Join(errs...)
		default:
		}
		group := w.nextCompaction(minFiles, skip)
		if group == nil {
			return n, errors.Join(errs...)
		}
		if err := w.compactPartition(ctx, group); err != nil {
			// One bad partition must not hold back the others.
			skip[[2]string{group[0].Tenant, group[0].Date}] = true
			errs = append(errs, err)
			continue
		}
		n++
	}
}

// nextCompaction picks the first partition with enough files.
func (w *Warehouse) nextCompaction(minFiles int, skip map[[2]string]bool) []fileEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	files := w.cur.files // sorted by tenant, date, seq_lo
	for i := 0; i < len(files); {
		j := i
		for j < len(files) && files[j].Tenant == files[i].Tenant && files[j].Date == files[i].Date {
			j++
		}
		if j-i >= minFiles && !skip[[2]string{files[i].Tenant, files[i].Date}] {
			return append([]fileEntry(nil), files[i:j]...)
		}
		i = j
	}
	return nil
}

func (w *Warehouse) compactPartition(ctx context.Context, in []fileEntry) error {
	w.maint.Lock()
	defer w.maint.Unlock()
	if !w.allCurrent(in) {
		return nil // another compaction took them meanwhile
	}
	start := time.Now()
	out := fileEntry{Tenant: in[0].Tenant, Date: in[0].Date, SeqLo: in[0].SeqLo, SeqHi: in[0].SeqHi}
	paths := make([]string, len(in))
	for i, f := range in {
		paths[i] = sqlString(filepath.Join(w.whDir, filepath.FromSlash(f.Path)))
		out.SeqLo = min(out.SeqLo, f.SeqLo)
		out.SeqHi = max(out.SeqHi, f.SeqHi)
		out.Rows += f.Rows
	}
	out.Path = fileName(out.Tenant, out.Date, out.SeqLo, out.SeqHi)
	tmp := filepath.Join(w.tmpDir, fmt.Sprintf("compact-%s-%s-%d.parquet", out.Tenant, out.Date, out.SeqHi))
	defer os.Remove(tmp)
	q := fmt.Sprintf(`COPY (SELECT %s, day FROM read_parquet([%s]) ORDER BY entity_id, "timestamp", seq)
		TO %s (FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE %d)`, columns, strings.Join(paths, ", "), sqlString(tmp), rowGroupRows)
	if _, err := w.main.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("compact %s/%s: %w", out.Tenant, out.Date, err)
	}
	size, err := syncFile(tmp)
	if err != nil {
		return err
	}
	out.Bytes = size
	if err := w.install([]string{tmp}, []fileEntry{out}); err != nil {
		return err
	}
	w.fault("compact:after-rename")

	if err := w.recordCompaction(ctx, in, out); err != nil {
		w.uninstallUnrecorded(ctx, []fileEntry{out})
		return err
	}
	w.fault("compact:after-manifest")
	colErr := w.compactedColumns(ctx, in, out)
	if colErr != nil {
		w.log.Warn("event columns not written", "path", out.Path, "err", colErr)
	}

	removed := make(map[string]bool, len(in))
	for _, f := range in {
		removed[f.Path] = true
	}
	w.publish(func(v *version) {
		files := make([]fileEntry, 0, len(v.files)-len(in)+1)
		for _, f := range v.files {
			if !removed[f.Path] {
				files = append(files, f)
			}
		}
		v.files = append(files, out)
	}, func() {
		for _, f := range in {
			if err := os.Remove(filepath.Join(w.whDir, filepath.FromSlash(f.Path))); err != nil {
				w.log.Warn("remove compacted file", "path", f.Path, "err", err)
			}
			w.dropColumns(f.Path)
		}
	})
	if colErr != nil {
		w.kickColumns() // now that the file is in the version
	}
	d := time.Since(start)
	w.log.Info("compacted", "tenant", out.Tenant, "date", out.Date, "files", len(in), "rows", out.Rows, "took", d)
	if w.opts.Observe != nil {
		w.opts.Observe.Compacted(len(in), out.Rows, d)
	}
	return nil
}

func (w *Warehouse) recordCompaction(ctx context.Context, in []fileEntry, out fileEntry) error {
	tx, err := w.catalog.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, f := range in {
		if _, err := tx.ExecContext(ctx, `DELETE FROM parquet_files WHERE path = ?`, f.Path); err != nil {
			return err
		}
	}
	if err := insertFile(ctx, tx, out); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit compaction: %w", err)
	}
	return nil
}

// allCurrent reports whether every file is still in the current version.
func (w *Warehouse) allCurrent(files []fileEntry) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := make(map[string]bool, len(w.cur.files))
	for _, f := range w.cur.files {
		cur[f.Path] = true
	}
	for _, f := range files {
		if !cur[f.Path] {
			return false
		}
	}
	return true
}
