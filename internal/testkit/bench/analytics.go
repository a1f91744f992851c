package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// AnalyticsOptions configures RunAnalytics.
type AnalyticsOptions struct {
	// ServerURL is the AllSource server's base URL. Required.
	ServerURL string
	// WarehouseDir is the server's <data-dir>/warehouse, read by the DuckDB
	// side. Required.
	WarehouseDir string
	// ClickHouseURL is a ClickHouse HTTP interface ("http://127.0.0.1:8123")
	// whose table ClickHouseTable is dropped and reloaded; empty leaves
	// ClickHouse out (the caller starts one with chtest).
	ClickHouseURL string
	// SkipClickHouseReason is printed when ClickHouseURL is empty.
	SkipClickHouseReason string
	// Events and Entities shape GenSessions; defaults
	// DefaultAnalyticsEvents and DefaultAnalyticsEntities.
	Events, Entities int
	// Seed seeds the generator; default DefaultSeed.
	Seed int64
	// SkipLoad skips loading AllSource (the server already holds these
	// events); ClickHouse is still loaded.
	SkipLoad bool
	// Flush, when set, is called after loading AllSource so that every
	// event is in Parquet (e.g. by restarting the server); it returns the
	// server's URL afterwards.
	Flush func(ctx context.Context) (string, error)
	// Runs is the number of timed runs per side and question, after one
	// warm-up; default 3.
	Runs int
	// Questions default to AnalyticsQuestions().
	Questions []AnalyticsQuestion
	// Progress receives progress lines; nil means io.Discard.
	Progress io.Writer
}

// ClickHouseTable is the table RunAnalytics loads into ClickHouse.
const ClickHouseTable = "allsource_bench_events"

// AnalyticsResult is one question measured on every side.
type AnalyticsResult struct {
	Name string
	// AllSource, DuckDB and ClickHouse are median wall times (0: not run).
	AllSource, DuckDB, ClickHouse time.Duration
	// DuckDBVariant names the fastest DuckDB formulation when there were
	// several; DuckDBVariants has every formulation's median.
	DuckDBVariant  string
	DuckDBVariants map[string]time.Duration
	// Answers per side: a flat map of cells (step, cohort/period, group/hour).
	AllSourceAnswer, DuckDBAnswer, ClickHouseAnswer Answer
	// DuckDBDiff and ClickHouseDiff describe disagreements with AllSource;
	// empty when the answers agree.
	DuckDBDiff, ClickHouseDiff string
	// Cells is the number of cells in AllSource's answer.
	Cells int
}

// Answer is a question's result as cells: "step 3" → entities,
// "2026-01-05 p2" → retained, "web 2026-03-02T05" → count. Zero cells are
// left out so that sides that omit empty rows compare equal.
type Answer map[string]float64

func (a Answer) set(k string, v float64) {
	if v != 0 {
		a[k] = v
	}
}

// Diff describes where b differs from a, or "" when they agree.
func (a Answer) Diff(b Answer) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		if math.Abs(a[k]-b[k]) > 1e-9*math.Max(1, math.Abs(a[k])) {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return ""
	}
	slices.Sort(ks)
	var parts []string
	for i, k := range ks {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("… %d more", len(ks)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %g vs %g", k, a[k], b[k]))
	}
	return fmt.Sprintf("%d of %d cells differ (AllSource vs other): %s", len(ks), len(keys), strings.Join(parts, "; "))
}

// RunAnalytics loads the same generated events into AllSource and ClickHouse
// and times each question through AllSource's analytics endpoint, as
// hand-written DuckDB SQL over the server's Parquet files, and in
// ClickHouse, then writes a comparison table to w.
func RunAnalytics(ctx context.Context, opts AnalyticsOptions, w io.Writer) error {
	if opts.ServerURL == "" || opts.WarehouseDir == "" {
		return errors.New("bench: RunAnalytics needs the server URL and its warehouse directory")
	}
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.Questions == nil {
		opts.Questions = AnalyticsQuestions()
	}
	logf := progressLog(opts.Progress)

	t0 := time.Now()
	evs := GenSessions(SessionOptions{Events: opts.Events, Entities: opts.Entities, Seed: opts.Seed})
	if len(evs) == 0 {
		return errors.New("bench: the generator produced no events")
	}
	entities := map[int32]struct{}{}
	for _, e := range evs {
		entities[e.Entity] = struct{}{}
	}
	logf("generated %s events of %s entities in %s", fmtCount(len(evs)), fmtCount(len(entities)), fmtDur(time.Since(t0)))

	serverURL := opts.ServerURL
	var asLoad time.Duration
	if !opts.SkipLoad {
		t0 = time.Now()
		const chunk = 1_000_000
		for start := 0; start < len(evs); start += chunk {
			part := evs[start:min(start+chunk, len(evs))]
			if _, err := IngestHTTP(ctx, Config{URL: serverURL, Batch: 10_000, Clients: 4, Data: SessionJSON(part)}); err != nil {
				return fmt.Errorf("loading AllSource: %w", err)
			}
			logf("AllSource: loaded %s/%s", fmtCount(start+len(part)), fmtCount(len(evs)))
		}
		asLoad = time.Since(t0)
		if opts.Flush != nil {
			t1 := time.Now()
			u, err := opts.Flush(ctx)
			if err != nil {
				return fmt.Errorf("flushing AllSource: %w", err)
			}
			serverURL = u
			logf("AllSource: flushed to Parquet in %s", fmtDur(time.Since(t1)))
		}
	}

	var ch *chClient
	var chLoad time.Duration
	if opts.ClickHouseURL != "" {
		ch = newCHClient(opts.ClickHouseURL)
		t0 = time.Now()
		if err := ch.load(ctx, evs, logf); err != nil {
			return fmt.Errorf("loading ClickHouse: %w", err)
		}
		chLoad = time.Since(t0)
	}
	evs = nil

	db, err := OpenParquetView(opts.WarehouseDir)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return fmt.Errorf("bench: counting Parquet events: %w", err)
	}
	logf("DuckDB sees %s events in the Parquet files", fmtCount(int(n)))

	as := &asClient{client: newHTTPClient(1, 30*time.Minute), base: serverURL}
	defer as.client.CloseIdleConnections()
	var results []AnalyticsResult
	for _, q := range opts.Questions {
		r, err := runQuestion(ctx, q, as, db, ch, opts.Runs, logf)
		if err != nil {
			return fmt.Errorf("%s: %w", q.Name, err)
		}
		results = append(results, r)
	}

	rep := AnalyticsReport{CPUs: runtime.NumCPU(), Events: int(n), Entities: len(entities), Runs: opts.Runs,
		Results: results, AllSourceLoad: asLoad, ClickHouseLoad: chLoad}
	if ch == nil {
		rep.Skipped = append(rep.Skipped, "ClickHouse: "+cmpOr(opts.SkipClickHouseReason, "not configured"))
	}
	return rep.Print(w)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// timed runs f once untimed and then runs times, returning the median and
// the last answer.
func timed(runs int, f func() (Answer, error)) (time.Duration, Answer, error) {
	var ds []time.Duration
	var a Answer
	for i := 0; i <= runs; i++ {
		t0 := time.Now()
		res, err := f()
		d := time.Since(t0)
		if err != nil {
			return 0, nil, err
		}
		a = res
		if i > 0 {
			ds = append(ds, d)
		}
	}
	return median(ds), a, nil
}

func runQuestion(ctx context.Context, q AnalyticsQuestion, as *asClient, db *sql.DB, ch *chClient, runs int, logf func(string, ...any)) (AnalyticsResult, error) {
	r := AnalyticsResult{Name: q.Name, DuckDBVariants: map[string]time.Duration{}}
	var err error
	r.AllSource, r.AllSourceAnswer, err = timed(runs, func() (Answer, error) { return as.ask(ctx, q) })
	if err != nil {
		return r, fmt.Errorf("AllSource: %w", err)
	}
	r.Cells = len(r.AllSourceAnswer)
	logf("%s: AllSource %s", q.Name, fmtDur(r.AllSource))
	for _, v := range duckVariants(q) {
		d, a, err := timed(runs, func() (Answer, error) { return duckAnswer(ctx, db, q, v.sql) })
		if err != nil {
			return r, fmt.Errorf("DuckDB %s: %w", v.name, err)
		}
		logf("%s: DuckDB %s %s", q.Name, v.name, fmtDur(d))
		r.DuckDBVariants[v.name] = d
		if r.DuckDB == 0 || d < r.DuckDB {
			r.DuckDB, r.DuckDBAnswer, r.DuckDBVariant = d, a, v.name
		}
	}
	r.DuckDBDiff = r.AllSourceAnswer.Diff(r.DuckDBAnswer)
	if ch != nil {
		r.ClickHouse, r.ClickHouseAnswer, err = timed(runs, func() (Answer, error) { return ch.ask(ctx, q) })
		if err != nil {
			return r, fmt.Errorf("ClickHouse: %w", err)
		}
		logf("%s: ClickHouse %s", q.Name, fmtDur(r.ClickHouse))
		r.ClickHouseDiff = r.AllSourceAnswer.Diff(r.ClickHouseAnswer)
	}
	return r, nil
}

type duckVariant struct{ name, sql string }

// duckVariants are the hand-written DuckDB formulations of q.
func duckVariants(q AnalyticsQuestion) []duckVariant {
	switch {
	case q.Funnel != nil:
		return []duckVariant{{"ASOF-join chain", duckFunnelASOF(q.Funnel)}, {"window running-max", duckFunnelWindow(q.Funnel)}}
	case q.Retention != nil:
		return []duckVariant{{"join + distinct", duckRetention(q.Retention)}}
	default:
		return []duckVariant{{"group by", duckSeries(q.Series)}}
	}
}

// duckAnswer runs a DuckDB formulation and reads its cells.
func duckAnswer(ctx context.Context, db *sql.DB, q AnalyticsQuestion, query string) (Answer, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	a := Answer{}
	for rows.Next() {
		switch {
		case q.Funnel != nil:
			var step, n int64
			if err := rows.Scan(&step, &n); err != nil {
				return nil, err
			}
			a.set(fmt.Sprintf("step %02d", step), float64(n))
		case q.Retention != nil:
			var cohort string
			var p, n int64
			if err := rows.Scan(&cohort, &p, &n); err != nil {
				return nil, err
			}
			a.set(retentionCell(cohort, int(p)), float64(n))
		default:
			var h, n int64
			var g sql.NullString
			if err := rows.Scan(&h, &g, &n); err != nil {
				return nil, err
			}
			a.set(seriesCell(g, h), float64(n))
		}
	}
	return a, rows.Err()
}

// retentionCell names a cell; period -1 is the cohort's size.
func retentionCell(cohort string, p int) string {
	if p < 0 {
		return cohort + " size"
	}
	return fmt.Sprintf("%s p%02d", cohort, p)
}

func seriesCell(g sql.NullString, unix int64) string {
	name := "NULL"
	if g.Valid {
		name = g.String
	}
	return name + " " + time.Unix(unix, 0).UTC().Format("2006-01-02T15")
}

// asClient asks AllSource's analytics endpoints.
type asClient struct {
	client *http.Client
	base   string
}

func (c *asClient) ask(ctx context.Context, q AnalyticsQuestion) (Answer, error) {
	path, spec := q.spec()
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	a := Answer{}
	switch {
	case q.Funnel != nil:
		var res struct {
			Steps []struct {
				Step     int   `json:"step"`
				Entities int64 `json:"entities"`
			} `json:"steps"`
		}
		if err := postJSON(ctx, c.client, endpointURL(c.base, path), "application/json", body, &res); err != nil {
			return nil, err
		}
		for _, s := range res.Steps {
			a.set(fmt.Sprintf("step %02d", s.Step), float64(s.Entities))
		}
	case q.Retention != nil:
		var res retentionAnswer
		if err := postJSON(ctx, c.client, endpointURL(c.base, path), "application/json", body, &res); err != nil {
			return nil, err
		}
		for _, co := range res.Cohorts {
			a.set(retentionCell(co.Cohort, -1), float64(co.Size))
			for p, n := range co.Retained {
				a.set(retentionCell(co.Cohort, p), float64(n))
			}
		}
	default:
		var res seriesAnswer
		if err := postJSON(ctx, c.client, endpointURL(c.base, path), "application/json", body, &res); err != nil {
			return nil, err
		}
		for _, s := range res.Series {
			g := sql.NullString{}
			if s.Group != nil {
				g = sql.NullString{String: *s.Group, Valid: true}
			}
			for _, p := range s.Points {
				if p.Value != nil {
					a.set(seriesCell(g, p.Time.Unix()), *p.Value)
				}
			}
		}
	}
	return a, nil
}

// chClient talks to ClickHouse's HTTP interface: the statement goes in the
// query string (or the body), rows come back as TabSeparated.
type chClient struct {
	client *http.Client
	base   string
}

func newCHClient(base string) *chClient {
	return &chClient{client: newHTTPClient(2, 30*time.Minute), base: strings.TrimRight(base, "/")}
}

// exec runs query; body, if not nil, is the data of an INSERT.
func (c *chClient) exec(ctx context.Context, query string, body io.Reader) ([]byte, error) {
	u := c.base + "/"
	if body == nil {
		body = strings.NewReader(query)
	} else {
		u += "?query=" + url.QueryEscape(query)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ClickHouse HTTP %d: %s", resp.StatusCode, truncate(bytes.TrimSpace(b), 500))
	}
	return b, nil
}

// chSchema is the ClickHouse table: the event columns the questions use,
// the payload as JSON text, sorted by entity and time as windowFunnel and
// retention want.
const chSchema = `CREATE TABLE ` + ClickHouseTable + ` (
  entity_id String,
  event_type String,
  timestamp DateTime,
  seq UInt64,
  payload String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(timestamp) ORDER BY (entity_id, timestamp)`

// load (re)creates the table, inserts evs as TabSeparated in chunks and
// merges the parts.
func (c *chClient) load(ctx context.Context, evs []SessionEvent, logf func(string, ...any)) error {
	if _, err := c.exec(ctx, "DROP TABLE IF EXISTS "+ClickHouseTable, nil); err != nil {
		return err
	}
	if _, err := c.exec(ctx, chSchema, nil); err != nil {
		return err
	}
	const chunk = 1_000_000
	buf := make([]byte, 0, 64<<20)
	for start := 0; start < len(evs); start += chunk {
		buf = buf[:0]
		end := min(start+chunk, len(evs))
		for i := start; i < end; i++ {
			buf = appendCHRow(buf, evs[i], uint64(i+1))
		}
		if _, err := c.exec(ctx, "INSERT INTO "+ClickHouseTable+" (entity_id, event_type, timestamp, seq, payload) FORMAT TabSeparated", bytes.NewReader(buf)); err != nil {
			return err
		}
		if logf != nil {
			logf("ClickHouse: loaded %s/%s", fmtCount(end), fmtCount(len(evs)))
		}
	}
	if _, err := c.exec(ctx, "OPTIMIZE TABLE "+ClickHouseTable+" FINAL", nil); err != nil {
		return err
	}
	return nil
}

// appendCHRow appends one TabSeparated row. Only the payload needs
// escaping, and the generator's JSON holds no tabs, newlines or
// backslashes; escape them anyway.
func appendCHRow(dst []byte, ev SessionEvent, seq uint64) []byte {
	dst = append(dst, "user-"...)
	dst = strconv.AppendInt(dst, int64(ev.Entity), 10)
	dst = append(dst, '\t')
	dst = append(dst, EventTypes[ev.Type]...)
	dst = append(dst, '\t')
	dst = ev.Time().AppendFormat(dst, "2006-01-02 15:04:05")
	dst = append(dst, '\t')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '\t')
	start := len(dst)
	dst = ev.AppendPayload(dst)
	if bytes.ContainsAny(dst[start:], "\t\n\\") {
		p := append([]byte(nil), dst[start:]...)
		dst = dst[:start]
		for _, b := range p {
			switch b {
			case '\t':
				dst = append(dst, `\t`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\\':
				dst = append(dst, `\\`...)
			default:
				dst = append(dst, b)
			}
		}
	}
	return append(dst, '\n')
}

// ask runs q's ClickHouse formulation and reads its cells.
func (c *chClient) ask(ctx context.Context, q AnalyticsQuestion) (Answer, error) {
	var query string
	switch {
	case q.Funnel != nil:
		query = chFunnel(q.Funnel)
	case q.Retention != nil:
		query = chRetention(q.Retention)
	default:
		query = chSeries(q.Series)
	}
	query = strings.ReplaceAll(query, "FROM events", "FROM "+ClickHouseTable)
	b, err := c.exec(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	a := Answer{}
	levels := map[int]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case q.Funnel != nil && len(f) == 2:
			l, _ := strconv.Atoi(f[0])
			n, _ := strconv.ParseFloat(f[1], 64)
			levels[l] += n
		case q.Retention != nil && len(f) == 3:
			size, _ := strconv.ParseFloat(f[1], 64)
			a.set(retentionCell(f[0], -1), size)
			cells := strings.Split(strings.Trim(f[2], "[]"), ",")
			for i, s := range cells {
				if i == 0 {
					continue // the start condition itself
				}
				v, _ := strconv.ParseFloat(s, 64)
				a.set(retentionCell(f[0], i-1), v)
			}
		case q.Series != nil && len(f) == 3:
			h, _ := strconv.ParseInt(f[0], 10, 64)
			n, _ := strconv.ParseFloat(f[2], 64)
			a.set(seriesCell(sql.NullString{String: f[1], Valid: true}, h), n)
		default:
			return nil, fmt.Errorf("unexpected ClickHouse row %q", sc.Text())
		}
	}
	if q.Funnel != nil {
		for step := 1; step <= len(q.Funnel.Steps); step++ {
			var n float64
			for l, c := range levels {
				if l >= step {
					n += c
				}
			}
			a.set(fmt.Sprintf("step %02d", step), n)
		}
	}
	return a, sc.Err()
}

// AnalyticsReport is RunAnalytics' table.
type AnalyticsReport struct {
	CPUs, Events, Entities, Runs  int
	AllSourceLoad, ClickHouseLoad time.Duration
	Results                       []AnalyticsResult
	Skipped                       []string
}

// Print writes the comparison table, the DuckDB formulations' times and
// every disagreement.
func (r *AnalyticsReport) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "AllSource analytics benchmark: %d CPU cores (runtime.NumCPU), shared by all sides; %s events, %s entities; median of %d runs after a warm-up\n",
		r.CPUs, fmtCount(r.Events), fmtCount(r.Entities), r.Runs)
	if r.AllSourceLoad > 0 || r.ClickHouseLoad > 0 {
		fmt.Fprintf(&b, "Load: AllSource HTTP %s, ClickHouse HTTP TabSeparated + OPTIMIZE FINAL %s\n", fmtDur(r.AllSourceLoad), fmtDur(r.ClickHouseLoad))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "question\tcells\tAllSource\tDuckDB SQL\tClickHouse\tAS÷DuckDB\tAS÷ClickHouse\tagree (DuckDB / ClickHouse)")
	for _, res := range r.Results {
		ch, asCH, agreeCH := "skipped", "-", "-"
		if res.ClickHouse > 0 {
			ch, asCH = fmtDur(res.ClickHouse), fmtRatio(res.AllSource.Seconds(), res.ClickHouse.Seconds())
			agreeCH = yesNo(res.ClickHouseDiff == "")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s / %s\n", res.Name, res.Cells, fmtDur(res.AllSource), fmtDur(res.DuckDB), ch,
			fmtRatio(res.AllSource.Seconds(), res.DuckDB.Seconds()), asCH, yesNo(res.DuckDBDiff == ""), agreeCH)
	}
	tw.Flush()
	b.WriteString("\nDuckDB formulations (median; the fastest is in the table):\n")
	for _, res := range r.Results {
		names := make([]string, 0, len(res.DuckDBVariants))
		for n := range res.DuckDBVariants {
			names = append(names, n)
		}
		slices.Sort(names)
		var parts []string
		for _, n := range names {
			mark := ""
			if n == res.DuckDBVariant {
				mark = " (fastest)"
			}
			parts = append(parts, fmt.Sprintf("%s %s%s", n, fmtDur(res.DuckDBVariants[n]), mark))
		}
		fmt.Fprintf(&b, "  %s: %s\n", res.Name, strings.Join(parts, ", "))
	}
	var diffs []string
	for _, res := range r.Results {
		if res.DuckDBDiff != "" {
			diffs = append(diffs, fmt.Sprintf("  %s, DuckDB: %s", res.Name, res.DuckDBDiff))
		}
		if res.ClickHouseDiff != "" {
			diffs = append(diffs, fmt.Sprintf("  %s, ClickHouse: %s", res.Name, res.ClickHouseDiff))
		}
	}
	if len(diffs) > 0 {
		b.WriteString("\nDisagreements:\n" + strings.Join(diffs, "\n") + "\n")
	}
	for _, res := range r.Results {
		if strings.HasPrefix(res.Name, "funnel") {
			var steps []string
			for i := 1; ; i++ {
				v, ok := res.AllSourceAnswer[fmt.Sprintf("step %02d", i)]
				if !ok {
					break
				}
				steps = append(steps, fmtCount(int(v)))
			}
			fmt.Fprintf(&b, "%s: entities per step %s\n", res.Name, strings.Join(steps, " → "))
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "Skipped: %s\n", s)
	}
	b.WriteString("Notes: DuckDB runs in this process over the same Parquet files as the server; ClickHouse 18.16 reads its own MergeTree copy " +
		"(payload kept as JSON text, read with visitParamExtract*). Every entity's events have distinct whole-second timestamps, so " +
		"the documented tie-order difference of windowFunnel (ties by condition index) cannot arise.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// retentionAnswer is the retention endpoint's answer, as the benchmarks
// read it.
type retentionAnswer struct {
	Cohorts []struct {
		Cohort   string  `json:"cohort"`
		Size     int64   `json:"size"`
		Retained []int64 `json:"retained"`
	} `json:"cohorts"`
}

// progressLog is a benchmark's progress line writer (w nil: none).
func progressLog(w io.Writer) func(format string, args ...any) {
	if w == nil {
		w = io.Discard
	}
	return func(format string, args ...any) { fmt.Fprintf(w, "bench: "+format+"\n", args...) }
}

// seriesAnswer is the time series endpoint's answer, as the benchmarks
// read it.
type seriesAnswer struct {
	Series []struct {
		Group  *string `json:"group"`
		Points []struct {
			Time  time.Time `json:"time"`
			Value *float64  `json:"value"`
		} `json:"points"`
	} `json:"series"`
}
