package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/allsource/allsource/internal/source"
)

func (m *Main) runImport(ctx context.Context, args []string) error {
	var cfg Config
	fs := newFlags("import", importHelp)
	cfg.registerLoadFlags(fs)
	server := fs.String("server", "", "load through a running server at this URL (default http://127.0.0.1:8080 unless --data-dir is given)")
	format := fs.String("format", "", "ndjson, json or csv (default: from the file name and content)")
	var mp source.Mapping
	fs.StringVar(&mp.EntityField, "entity-field", "", "source field or column holding entity_id")
	fs.StringVar(&mp.TypeField, "type-field", "", "source field or column holding event_type")
	fs.StringVar(&mp.TimeField, "time-field", "", "source field or column holding the timestamp")
	fs.StringVar(&mp.IDField, "id-field", "", "source field or column holding the event id (UUID)")
	fs.StringVar(&mp.TenantField, "tenant-field", "", "source field or column holding the tenant")
	fs.StringVar(&mp.Tenant, "tenant", "", "tenant for every event without a tenant field")
	fs.StringVar(&mp.TimeFormat, "time-format", "", "Go time layout of the time field (default: RFC 3339, 'YYYY-MM-DD hh:mm:ss', or epoch seconds/millis)")
	payload := fs.String("payload-fields", "", "comma-separated fields that form the payload (default: all unmapped fields)")
	fs.StringVar(&mp.TypePrefix, "type-prefix", "", "prefix added to every event type")
	batch := fs.Int("batch", 10_000, "events per batch")
	skipBad := fs.Bool("skip-bad", false, "skip records that cannot be mapped (reported) instead of stopping")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(fs, errors.New("no files given"))
	}
	if *payload != "" {
		mp.PayloadFields = strings.Split(*payload, ",")
	}
	if err := mp.Validate(); err != nil {
		return err
	}
	fmtOverride, err := source.ParseFormat(*format)
	if err != nil {
		return err
	}
	if *batch <= 0 {
		return errors.New("--batch must be positive")
	}
	snk, err := openSink(ctx, fs, &cfg, *server)
	if err != nil {
		return err
	}
	var total int64
	for _, path := range fs.Args() {
		st, err := os.Stat(path)
		if err != nil {
			snk.close(ctx)
			return err
		}
		total += st.Size()
	}
	if err := checkMapped(fs.Args(), fmtOverride, mp); err != nil {
		snk.close(ctx)
		return err
	}
	prog := newProgress(os.Stderr, total)
	l := &loader{sink: snk, batch: *batch, skipBad: *skipBad, progress: prog}
	for _, path := range fs.Args() {
		if err = m.importFile(ctx, l, path, fmtOverride, mp); err != nil {
			break
		}
	}
	prog.finish()
	if cerr := snk.close(context.Background()); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err // it says how many events were stored before it
	}
	fmt.Fprintf(m.Stdout, "imported %d events (%d duplicates skipped, %d bad records skipped)\n", l.stored.Load(), l.dups.Load(), l.skipped.Load())
	return nil
}

// checkMapped reads the first record of each file when no field mapping
// is given: a file whose records are not events yet (no entity_id or
// event_type) gets one error saying how to map it, before anything is
// sent and before a progress bar.
func checkMapped(paths []string, format source.Format, mp source.Mapping) error {
	if mp.EntityField != "" || mp.TypeField != "" {
		return nil
	}
	for _, path := range paths {
		f := format
		if f == "" {
			f = source.DetectFormat(path)
		}
		r, err := source.Open(path, f, mp)
		if err == nil {
			_, err = r.Next()
			r.Close()
		}
		if err == nil || err == io.EOF {
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"entity_id"`) && !strings.Contains(msg, `"event_type"`) {
			continue // another fault, reported where it is when loading
		}
		fields := firstFields(path, f)
		hint := "--entity-field FIELD --type-field FIELD"
		if len(fields) >= 2 {
			hint = fmt.Sprintf("--entity-field %s --type-field %s", fields[0], fields[1])
		}
		what := ""
		if len(fields) > 0 {
			what = fmt.Sprintf(" (its fields are %s)", strings.Join(fields, ", "))
		}
		return &exitError{code: 2, err: fmt.Errorf("%s: its records are not events yet: they have no entity_id and event_type%s; name the fields that hold them, e.g. %s (and --time-field for the time; 'allsource import --help' says more)", path, what, hint)}
	}
	return nil
}

// firstFields are the field names of a file's first record (CSV columns,
// or the keys of the first NDJSON object), for hints; nil when unknown.
func firstFields(path string, format source.Format) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 1<<20)).ReadString('\n')
	switch format {
	case source.FormatCSV:
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil
		}
		return rec
	case source.FormatNDJSON:
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &obj) != nil {
			return nil
		}
		keys := slices.Sorted(maps.Keys(obj))
		return keys
	}
	return nil
}

func (m *Main) importFile(ctx context.Context, l *loader, path string, format source.Format, mp source.Mapping) error {
	if format == "" {
		format = source.DetectFormat(path)
		if format == "" {
			return fmt.Errorf("%s: cannot tell the format; give --format ndjson, json or csv", path)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := source.NewReader(countingReader{r: f, n: &l.progress.read}, path, format, mp)
	if err != nil {
		return err
	}
	defer r.Close()
	return l.loadReader(ctx, r, path)
}

const importHelp = `Usage: allsource import [flags] FILE...

Bulk-loads NDJSON, JSON (an array of objects) or CSV files, optionally gzipped.
Records already in the event input format load as they are; others are mapped
with the --*-field flags, e.g. for GitHub events:

  allsource import --entity-field actor_login --type-field type --time-field time github.json

By default it loads through the server at http://127.0.0.1:8080; with --data-dir
(and no --server) it writes into that data directory directly (the server must
not be running on it). Batches are atomic: a bad record stops the import with
its file and line, and nothing of its batch is stored.`
