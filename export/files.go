package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/allsource/allsource/internal/durable"
)

// fileTarget writes files into a directory, partitioned like the
// warehouse: tenant=<t>/date=<yyyy-mm-dd>/<lo>-<hi>.<format>, where
// (lo, hi] is the batch's seq range. A batch's files are written under
// temporary names, synced and renamed; then the job's watermark file
// (_allsource_export/<job>.json) is replaced. On start, files of a batch
// beyond the watermark (cut short by a crash) are removed and written
// again.
type fileTarget struct {
	dir    string
	cols   names
	format string // parquet, csv, ndjson
	fault  func(string)
}

// newFileTarget reads file:///dir?format=parquet|csv|ndjson.
func newFileTarget(u *url.URL, cols names, root string, fault func(string)) (*fileTarget, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("target: file URLs name a local directory (file:///path), not host %q", u.Host)
	}
	if u.Path == "" || !filepath.IsAbs(u.Path) {
		return nil, fmt.Errorf("target: file URL needs an absolute directory, e.g. file:///var/exports?format=parquet")
	}
	if root != "" {
		rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(u.Path))
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			// The root is the operator's to tell: server paths stay out of answers.
			return nil, fmt.Errorf("target: %s is outside the server's export directory (--export-file-root; ask the operator where file exports go)", u.Path)
		}
	}
	format := u.Query().Get("format")
	if format == "" {
		format = "parquet"
	}
	switch format {
	case "parquet", "csv", "ndjson":
	default:
		return nil, fmt.Errorf("target: format %q (want parquet, csv or ndjson)", format)
	}
	for c, n := range cols {
		if c != n && format == "parquet" {
			return nil, fmt.Errorf("columns: Parquet files keep the warehouse's column names; rename columns in csv or ndjson files")
		}
	}
	return &fileTarget{dir: filepath.Clean(u.Path), cols: cols, format: format, fault: fault}, nil
}

func (t *fileTarget) String() string { return t.format + " files in " + t.dir }

func (t *fileTarget) open(ctx context.Context) error {
	return os.MkdirAll(filepath.Join(t.dir, "_allsource_export"), 0o755)
}

func (t *fileTarget) prepare(ctx context.Context) error { return nil }

func (t *fileTarget) stateFile(job string) string {
	return filepath.Join(t.dir, "_allsource_export", job+".json")
}

// watermark reads the job's watermark and removes what a batch past it
// left behind.
func (t *fileTarget) watermark(ctx context.Context, job string) (uint64, error) {
	var st struct {
		Seq uint64 `json:"seq"`
	}
	b, err := os.ReadFile(t.stateFile(job))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, err
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return 0, fmt.Errorf("%s: %w", t.stateFile(job), err)
		}
	}
	prefix := job + "-"
	err = filepath.WalkDir(t.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".tmp-"+prefix) {
			return os.Remove(p)
		}
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		lo, _, ok := strings.Cut(strings.TrimPrefix(name, prefix), "-")
		if n, err := strconv.ParseUint(lo, 10, 64); ok && err == nil && n >= st.Seq {
			return os.Remove(p) // a batch the watermark does not cover
		}
		return nil
	})
	return st.Seq, err
}

// write puts the batch's rows in one file per partition, then moves the
// watermark. An empty batch only moves the watermark.
func (t *fileTarget) write(ctx context.Context, job string, rows []Row, upTo uint64) (int64, error) {
	type part struct{ tenant, day string }
	parts := map[part][]*Row{}
	var order []part
	for i := range rows {
		r := &rows[i]
		k := part{r.Tenant, r.Timestamp.UTC().Format("2006-01-02")}
		if parts[k] == nil {
			order = append(order, k)
		}
		parts[k] = append(parts[k], r)
	}
	lo := upTo
	if len(rows) > 0 {
		lo = rows[0].Seq - 1
	}
	var bytes int64
	var tmps, finals []string
	for _, k := range order {
		d := filepath.Join(t.dir, "tenant="+k.tenant, "date="+k.day)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		name := fmt.Sprintf("%s-%d-%d.%s", job, lo, upTo, t.format)
		tmp := filepath.Join(d, ".tmp-"+name)
		n, err := t.writeFile(tmp, parts[k])
		if err != nil {
			return 0, err
		}
		bytes += n
		tmps, finals = append(tmps, tmp), append(finals, filepath.Join(d, name))
	}
	for i := range tmps {
		if err := os.Rename(tmps[i], finals[i]); err != nil {
			return 0, err
		}
		if i == 0 {
			t.fault("export.files")
		}
	}
	// The renames are durable before the watermark says they happened.
	for i := range finals {
		if err := durable.SyncDir(filepath.Dir(finals[i])); err != nil {
			return 0, err
		}
	}
	b, _ := json.Marshal(map[string]any{"seq": upTo, "at": time.Now().UTC()})
	if err := durable.Replace(t.stateFile(job), b); err != nil {
		return 0, err
	}
	return bytes, nil
}

// fileRow is a row of an exported Parquet file: the warehouse's columns.
type fileRow struct {
	Seq        int64     `parquet:"seq"`
	ID         string    `parquet:"id"`
	TenantID   string    `parquet:"tenant_id,dict"`
	EntityID   string    `parquet:"entity_id"`
	EventType  string    `parquet:"event_type,dict"`
	Version    int64     `parquet:"version"`
	Timestamp  time.Time `parquet:"timestamp,timestamp(microsecond)"`
	IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
	Payload    string    `parquet:"payload,json"`
	Metadata   string    `parquet:"metadata,json"`
}

func (t *fileTarget) writeFile(path string, rows []*Row) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	switch t.format {
	case "parquet":
		pw := parquet.NewGenericWriter[fileRow](bw, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}))
		buf := make([]fileRow, 0, 4096)
		for i, r := range rows {
			buf = append(buf, fileRow{Seq: int64(r.Seq), ID: r.ID, TenantID: r.Tenant, EntityID: r.EntityID, EventType: r.EventType,
				Version: int64(r.Version), Timestamp: r.Timestamp, IngestedAt: r.IngestedAt, Payload: r.Payload, Metadata: r.Metadata})
			if len(buf) == cap(buf) || i == len(rows)-1 {
				if _, err := pw.Write(buf); err != nil {
					return 0, err
				}
				buf = buf[:0]
			}
		}
		if err := pw.Close(); err != nil {
			return 0, err
		}
	case "csv":
		w := csv.NewWriter(bw)
		header := make([]string, len(eventColumns))
		for i, c := range eventColumns {
			header[i] = t.cols.of(c)
		}
		w.Write(header)
		for _, r := range rows {
			w.Write([]string{strconv.FormatUint(r.Seq, 10), r.ID, r.Tenant, r.EntityID, r.EventType, strconv.FormatUint(r.Version, 10),
				r.Timestamp.UTC().Format(time.RFC3339Nano), r.IngestedAt.UTC().Format(time.RFC3339Nano), r.Payload, r.Metadata})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return 0, err
		}
	case "ndjson":
		for _, r := range rows {
			c := t.cols.of
			line, err := json.Marshal(map[string]any{c("seq"): r.Seq, c("id"): r.ID, c("tenant_id"): r.Tenant, c("entity_id"): r.EntityID,
				c("event_type"): r.EventType, c("version"): r.Version, c("timestamp"): r.Timestamp.UTC().Format(time.RFC3339Nano),
				c("ingested_at"): r.IngestedAt.UTC().Format(time.RFC3339Nano), c("payload"): json.RawMessage(r.Payload), c("metadata"): json.RawMessage(r.Metadata)})
			if err != nil {
				return 0, err
			}
			bw.Write(line)
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (t *fileTarget) close() {}
