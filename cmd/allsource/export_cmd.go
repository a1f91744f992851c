package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource/export"
)

const exportHelp = `Usage:
  allsource export run --target URL [--where SQL] [--types a,b] [--columns a=b,…] [--server URL]
  allsource export list [--server URL]

run starts an export job on a running server and follows it to completion
with a progress bar; list shows the server's export jobs. Targets:
postgres://user@host:port/db?table=t (PostgreSQL, TimescaleDB),
clickhouse://host:8123/db?table=t, file:///dir?format=parquet (or csv,
ndjson; the directory inside the server's --export-file-root). Running an export to a
table again continues from the rows the table already holds.
`

// runExport is `allsource export run|list`: jobs on a running server.
func (m *Main) runExport(ctx context.Context, args []string) error {
	sub, err := m.pickCommand("export", exportHelp, args, "run", "list")
	if err != nil {
		return err
	}
	fs := newFlags("export "+sub, helpSection(exportHelp, "export "+sub))
	server := fs.String("server", "http://127.0.0.1:8080", "server URL")
	tenant := fs.String("tenant", "", "the tenant, for an administrator (default: the credential's own)")
	var target, where, types, columns *string
	var batch *int
	var quiet *bool
	if sub == "run" {
		target = fs.String("target", "", "where to: postgres://user@host:port/db?table=t, clickhouse://host:8123/db?table=t, file:///dir?format=parquet")
		where = fs.String("where", "", "a SQL condition over events, e.g. \"event_type LIKE 'order.%'\"")
		types = fs.String("types", "", "comma-separated event type patterns")
		batch = fs.Int("batch-rows", 0, "rows per target transaction (default 50,000)")
		columns = fs.String("columns", "", "target column names: entity_id=user_id,payload=body")
		quiet = fs.Bool("quiet", false, "no progress bar")
	}
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	base := strings.TrimRight(*server, "/")
	q := ""
	if *tenant != "" {
		q = "?tenant=" + url.QueryEscape(*tenant)
	}
	call := func(method, path string, body any, out any) error {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path+q, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		setClientAuth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("is the server running at %s? %w", *server, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return responseError(resp)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	if args[0] == "list" {
		var res struct {
			Exports []export.Job `json:"exports"`
		}
		if err := call("GET", "/v1/exports", nil, &res); err != nil {
			return err
		}
		if len(res.Exports) == 0 {
			fmt.Fprintln(m.Stdout, "no export jobs")
			return nil
		}
		rows := [][]string{{"ID", "STATUS", "TARGET", "WATERMARK", "LAG", "ROWS", "LAST ERROR"}}
		for _, j := range res.Exports {
			rows = append(rows, []string{j.ID, string(j.Status), j.Spec.Target, strconv.FormatUint(j.Watermark, 10),
				strconv.FormatUint(j.Lag, 10), strconv.FormatInt(j.Rows, 10), j.LastError})
		}
		writeColumns(m.Stdout, rows, []bool{false, false, false, true, true, true, false})
		return nil
	}
	if *target == "" {
		return usageError(fs, errors.New("--target is required"))
	}
	spec := export.Spec{Target: *target, Where: *where, BatchRows: *batch}
	for _, kv := range strings.Split(*columns, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		from, to, ok := strings.Cut(kv, "=")
		if !ok {
			return &exitError{code: 2, err: fmt.Errorf("--columns: %q is not column=name", kv)}
		}
		if spec.Columns == nil {
			spec.Columns = map[string]string{}
		}
		spec.Columns[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	for _, t := range strings.Split(*types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			spec.Types = append(spec.Types, t)
		}
	}
	var j export.Job
	if err := call("POST", "/v1/exports", spec, &j); err != nil {
		return err
	}
	start := time.Now()
	lastErr := ""
	for {
		if err := call("GET", "/v1/exports/"+j.ID, nil, &j); err != nil {
			return err
		}
		if j.LastError != "" && j.LastError != lastErr {
			fmt.Fprintf(m.Stderr, "\nretrying: %s\n", j.LastError)
			lastErr = j.LastError
		}
		if !*quiet {
			fmt.Fprintf(m.Stderr, "\r%s", progressBar(j))
		}
		if j.Status == export.StatusDone {
			if !*quiet {
				fmt.Fprintln(m.Stderr)
			}
			fmt.Fprintf(m.Stdout, "exported %d rows (%d bytes) to %s in %.1f s; job %s, watermark %d\n",
				j.Rows, j.Bytes, j.Spec.Target, time.Since(start).Seconds(), j.ID, j.Watermark)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// progressBar draws how far a job's watermark is towards the head it saw.
func progressBar(j export.Job) string {
	const width = 30
	frac := 1.0
	if j.Head > 0 {
		frac = float64(j.Watermark) / float64(j.Head)
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  %d rows", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, j.Rows)
}
