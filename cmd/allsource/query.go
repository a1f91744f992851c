package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/allsource/allsource"
)

func (m *Main) runQuery(ctx context.Context, args []string) error {
	fs := newFlags("query", "Usage: allsource query [flags] \"SQL\"\n\nRuns one read-only SQL query on a running server and prints the result;\nthe table is events.")
	server := fs.String("server", "http://127.0.0.1:8080", "server URL")
	format := fs.String("format", "table", "output: table, csv, ndjson or json")
	maxRows := fs.Int("max-rows", 1000, "most rows printed in table format (the rest are counted)")
	token := fs.String("token", "", "an API key or token, when the server authenticates (env ALLSOURCE_TOKEN)")
	tenant := fs.String("tenant", "", "the tenant to query, for an administrator (default: the credential's own)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, errors.New("query takes exactly one SQL argument (quote it)"))
	}
	accept := map[string]string{"table": "application/json", "json": "application/json", "csv": "text/csv", "ndjson": "application/x-ndjson"}[*format]
	if accept == "" {
		return &exitError{code: 2, err: fmt.Errorf("--format must be table, csv, ndjson or json, got %q", *format)}
	}
	body, _ := json.Marshal(map[string]string{"sql": fs.Arg(0)})
	u := strings.TrimRight(*server, "/") + "/v1/query"
	if *tenant != "" {
		u += "?tenant=" + url.QueryEscape(*tenant)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is the server running at %s? %w", *server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	if *format != "table" {
		_, err := io.Copy(m.Stdout, resp.Body)
		return err
	}
	var res struct {
		Columns []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"columns"`
		Rows     [][]json.RawMessage    `json:"rows"`
		RowCount int                    `json:"row_count"`
		Error    *allsource.ErrorDetail `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("reading the result: %w", err)
	}
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	cells := make([][]string, 0, min(len(res.Rows), *maxRows))
	numeric := make([]bool, len(names))
	for i := range numeric {
		numeric[i] = true
	}
	for i, r := range res.Rows {
		if i >= *maxRows {
			break
		}
		row := make([]string, len(r))
		for j, v := range r {
			row[j] = cellText(v)
			if j < len(numeric) && len(v) > 0 && v[0] != '-' && (v[0] < '0' || v[0] > '9') && string(v) != "null" {
				numeric[j] = false
			}
		}
		cells = append(cells, row)
	}
	printTable(m.Stdout, names, cells, numeric)
	if len(res.Rows) > len(cells) {
		fmt.Fprintf(m.Stdout, "(%d rows, %d shown; use --format csv for all)\n", len(res.Rows), len(cells))
	} else {
		fmt.Fprintf(m.Stdout, "(%d row%s)\n", len(res.Rows), plural(len(res.Rows)))
	}
	if res.Error != nil {
		return fmt.Errorf("the query failed after %d rows: %s", res.RowCount, res.Error.Message)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// responseError turns a non-200 response into an error with the server's
// message.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	hint := ""
	if resp.StatusCode == http.StatusUnauthorized && resp.Request != nil && resp.Request.Header.Get("Authorization") == "" {
		// The server authenticates and the command sent nothing.
		hint = "; it asks for a credential: pass --token or set ALLSOURCE_TOKEN to an API key or token"
	}
	var eb allsource.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
		return fmt.Errorf("server: %s (HTTP %d %s)%s", eb.Error.Message, resp.StatusCode, eb.Error.Code, hint)
	}
	return fmt.Errorf("server: HTTP %d: %s%s", resp.StatusCode, strings.TrimSpace(string(b)), hint)
}

func cellText(v json.RawMessage) string {
	s := string(v)
	switch {
	case s == "null":
		return "NULL"
	case strings.HasPrefix(s, `"`):
		var str string
		if json.Unmarshal(v, &str) == nil {
			return str
		}
	}
	return s
}

// printTable writes rows as an aligned text table in psql's style:
// numeric columns right-aligned.
func printTable(w io.Writer, names []string, rows [][]string, numeric []bool) {
	const maxWidth = 60
	width := make([]int, len(names))
	for i, n := range names {
		width[i] = utf8.RuneCountInString(n)
	}
	clip := func(s string) string {
		s = strings.ReplaceAll(s, "\n", "↵")
		if utf8.RuneCountInString(s) > maxWidth {
			r := []rune(s)
			return string(r[:maxWidth-1]) + "…"
		}
		return s
	}
	for _, r := range rows {
		for i := range r {
			r[i] = clip(r[i])
			width[i] = max(width[i], utf8.RuneCountInString(r[i]))
		}
	}
	fmt.Fprintln(w, alignedLine(names, width, numeric, " | "))
	sep := make([]string, len(names))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	fmt.Fprintln(w, strings.Join(sep, "-+-"))
	for _, r := range rows {
		fmt.Fprintln(w, alignedLine(r, width, numeric, " | "))
	}
}

// alignedLine pads cells to their column widths, the columns marked right
// right-aligned, joined by sep, without trailing spaces.
func alignedLine(cells []string, width []int, right []bool, sep string) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString(sep)
		}
		pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
		if i < len(right) && right[i] {
			b.WriteString(pad + c)
		} else {
			b.WriteString(c + pad)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// writeColumns writes rows (the first is the header) as columns two
// spaces apart, the columns marked right right-aligned (numbers).
func writeColumns(w io.Writer, rows [][]string, right []bool) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		fmt.Fprintln(w, alignedLine(r, width, right, "  "))
	}
}
