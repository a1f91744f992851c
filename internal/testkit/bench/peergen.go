package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The peergen comparison: the shared benchmark data set (a header-less CSV
// of ts,entity_id,event_type,payload written by the peergen generator) is
// loaded into AllSource with `allsource import` and into ClickHouse in its
// best set-up for these questions (MergeTree ORDER BY (entity_id, ts),
// OPTIMIZE TABLE … FINAL: one part), and the same four questions are
// asked of both: a 5- and a 20-step funnel (24 h window), 26 weekly
// retention cohorts, an hourly count by type over all the data. Answers
// are compared cell by cell; times are medians after a warm-up.

// PeergenOptions configure RunPeergen.
type PeergenOptions struct {
	CSV string // peergen's output
	// Server is the AllSource server: Import loads a CSV file (with a
	// header line) into its data dir while it is stopped.
	Server        EntityServer
	ClickHouseURL string // empty: AllSource alone
	SkipReason    string // why ClickHouse is not there
	Runs          int    // timed runs per question and side; default 3
	Scratch       string
	Progress      io.Writer
}

// PeergenResult is one question's timings and answers.
type PeergenResult struct {
	Name                    string
	AllSource, CH           time.Duration    // medians
	AllSourceRange, CHRange [2]time.Duration // fastest and slowest timed runs
	AllSourceN, CHN         int              // answer lines
	Agree                   bool
	Diff                    string
}

// peergenQuestion is one question in both dialects and how each answer
// becomes comparable lines.
type peergenQuestion struct {
	name    string
	path    string
	body    any
	asLines func([]byte) ([]string, error)
	chSQL   string
	chLines func([]byte) ([]string, error)
}

var peergenFunnel20 = []string{"page.viewed", "product.viewed", "cart.added", "checkout.started", "order.placed",
	"search.performed", "product.reviewed", "wishlist.added", "cart.removed", "coupon.applied", "payment.failed",
	"account.created", "login", "logout", "newsletter.subscribed", "support.contacted", "return.requested",
	"refund.issued", "shipment.delivered", "rating.submitted"}

// peergenEpoch is Monday 2026-01-05 UTC, where peergen's data starts.
const peergenEpoch = 1767571200

func peergenQuestions() []peergenQuestion {
	funnel := func(n int) peergenQuestion {
		steps := peergenFunnel20[:n]
		conds := make([]string, n)
		for i, s := range steps {
			conds[i] = "event_type = '" + s + "'"
		}
		return peergenQuestion{
			name: fmt.Sprintf("%d-step funnel, 24 h", n), path: "/v1/analytics/funnel",
			body:    map[string]any{"steps": steps, "window": "24h"},
			asLines: asFunnelLines,
			chSQL: fmt.Sprintf(`SELECT level, count() FROM (SELECT entity_id, windowFunnel(86400)(ts, %s) AS level
FROM events GROUP BY entity_id) GROUP BY level ORDER BY level FORMAT TabSeparated`, strings.Join(conds, ", ")),
			chLines: func(b []byte) ([]string, error) { return chFunnelLines(b, n) },
		}
	}
	return []peergenQuestion{
		funnel(5),
		funnel(20),
		{
			name: "26 weekly retention cohorts", path: "/v1/analytics/retention",
			body: map[string]any{"start_event": "page.viewed", "return_event": "order.placed", "period": "week",
				"periods": 26, "mode": "classic", "start": "first"},
			asLines: asRetentionLines,
			chSQL: fmt.Sprintf(`SELECT cohort, sumForEach(r) FROM (SELECT cohort, ow, arrayConcat([toUInt64(length(ow) >= 0)],
arrayMap(k -> toUInt64(has(ow, cohort + k)), range(26))) AS r FROM (SELECT entity_id,
minIf(intDiv(toUInt32(ts) - %[1]d, 604800), event_type = 'page.viewed') AS cohort,
groupUniqArrayIf(intDiv(toUInt32(ts) - %[1]d, 604800), event_type = 'order.placed') AS ow
FROM events GROUP BY entity_id HAVING countIf(event_type = 'page.viewed') > 0))
GROUP BY cohort ORDER BY cohort FORMAT TabSeparated`, peergenEpoch),
			chLines: chRetentionLines,
		},
		{
			name: "hourly count by type, all data", path: "/v1/analytics/timeseries",
			body: map[string]any{"metric": "count", "interval": "1h", "group_by": "event_type",
				"from": "2026-01-05T00:00:00Z", "to": "2026-07-06T00:00:00Z", "fill": "zero"},
			asLines: asSeriesLines,
			chSQL:   `SELECT toStartOfHour(ts) AS h, event_type, count() FROM events GROUP BY h, event_type FORMAT TabSeparated`,
			chLines: chSeriesLines,
		},
	}
}

// RunPeergen loads the CSV into both and compares them; it writes a
// markdown table to w.
func RunPeergen(ctx context.Context, opts PeergenOptions, w io.Writer) error {
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	logf := progressLog(opts.Progress)
	st, err := os.Stat(opts.CSV)
	if err != nil {
		return fmt.Errorf("bench: the peergen CSV: %w", err)
	}

	// AllSource: the CSV with its header line, imported while stopped.
	withHeader := filepath.Join(opts.Scratch, "peergen-events.csv")
	if err := prependHeader(opts.CSV, withHeader, "ts,entity_id,event_type,payload\n"); err != nil {
		return err
	}
	t0 := time.Now()
	if err := opts.Server.Import(ctx, withHeader); err != nil {
		return fmt.Errorf("bench: allsource import: %w", err)
	}
	asLoad := time.Since(t0)
	os.Remove(withHeader)
	logf("AllSource: imported %s MB in %s", fmtCount(int(st.Size()>>20)), fmtDur(asLoad))
	ep, err := opts.Server.Start(ctx)
	if err != nil {
		return err
	}
	defer opts.Server.Stop()

	var ch *chClient
	var chLoad time.Duration
	if opts.ClickHouseURL != "" {
		ch = newCHClient(opts.ClickHouseURL)
		t0 = time.Now()
		if err := loadPeergenCH(ctx, ch, opts.CSV); err != nil {
			return fmt.Errorf("bench: loading ClickHouse: %w", err)
		}
		chLoad = time.Since(t0)
		logf("ClickHouse: loaded and merged to one part in %s", fmtDur(chLoad))
	}

	client := newHTTPClient(1, 30*time.Minute)
	defer client.CloseIdleConnections()
	var results []PeergenResult
	for _, q := range peergenQuestions() {
		r := PeergenResult{Name: q.name}
		body, _ := json.Marshal(q.body)
		var asAns []string
		r.AllSource, r.AllSourceRange, err = timeRuns(opts.Runs, func() error {
			var raw json.RawMessage
			if err := postJSON(ctx, client, ep.URL+q.path, "application/json", body, &raw); err != nil {
				return err
			}
			var err error
			asAns, err = q.asLines(raw)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: AllSource: %w", q.name, err)
		}
		r.AllSourceN = len(asAns)
		logf("%s: AllSource %s", q.name, fmtDur(r.AllSource))
		if ch != nil {
			var chAns []string
			r.CH, r.CHRange, err = timeRuns(opts.Runs, func() error {
				b, err := ch.exec(ctx, q.chSQL, nil)
				if err != nil {
					return err
				}
				chAns, err = q.chLines(b)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: ClickHouse: %w", q.name, err)
			}
			r.CHN = len(chAns)
			r.Agree, r.Diff = slices.Equal(asAns, chAns), firstDiff(asAns, chAns)
			logf("%s: ClickHouse %s, answers agree: %v %s", q.name, fmtDur(r.CH), r.Agree, r.Diff)
		}
		results = append(results, r)
	}

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\n### peergen data set, %s MB CSV, %d cores\n\n", fmtCount(int(st.Size()>>20)), runtime.NumCPU())
	fmt.Fprintf(bw, "Load: AllSource `allsource import` %s (WAL, Parquet, entity index, event columns, fsynced)", fmtDur(asLoad))
	if ch != nil {
		fmt.Fprintf(bw, "; ClickHouse INSERT FORMAT CSV + OPTIMIZE FINAL %s (not fsynced)", fmtDur(chLoad))
	}
	fmt.Fprintf(bw, ".\n\n| question | AllSource (HTTP) | ClickHouse | ratio | answers |\n|---|---:|---:|---:|---|\n")
	for _, r := range results {
		if ch == nil {
			fmt.Fprintf(bw, "| %s | %s | — | — | %d lines |\n", r.Name, fmtDur(r.AllSource), r.AllSourceN)
			continue
		}
		agree := fmt.Sprintf("identical (%d lines)", r.AllSourceN)
		if !r.Agree {
			agree = "DIFFER: " + r.Diff
		}
		fmt.Fprintf(bw, "| %s | %s (%s–%s) | %s (%s–%s) | %.2fx | %s |\n", r.Name, fmtDur(r.AllSource), fmtDur(r.AllSourceRange[0]),
			fmtDur(r.AllSourceRange[1]), fmtDur(r.CH), fmtDur(r.CHRange[0]), fmtDur(r.CHRange[1]), r.AllSource.Seconds()/r.CH.Seconds(), agree)
	}
	if ch == nil {
		fmt.Fprintf(bw, "\nClickHouse: %s\n", cmpOr(opts.SkipReason, "not configured"))
	}
	fmt.Fprintf(bw, "\nMedian of %d runs after a warm-up; ratio = AllSource / ClickHouse (below 1: AllSource faster).\n", opts.Runs)
	if err := bw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if ch != nil && !r.Agree {
			return fmt.Errorf("bench: %s: the answers differ: %s", r.Name, r.Diff)
		}
	}
	return nil
}

func prependHeader(src, dst, header string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(out, header); err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// loadPeergenCH creates the table in the best set-up, streams the CSV in
// and merges it to one part.
func loadPeergenCH(ctx context.Context, ch *chClient, csv string) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS events",
		"CREATE TABLE events (ts DateTime, entity_id UInt32, event_type String, payload String) ENGINE = MergeTree ORDER BY (entity_id, ts)",
	} {
		if _, err := ch.exec(ctx, q, nil); err != nil {
			return err
		}
	}
	f, err := os.Open(csv)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := ch.exec(ctx, "INSERT INTO events FORMAT CSV", bufio.NewReaderSize(f, 1<<20)); err != nil {
		return err
	}
	_, err = ch.exec(ctx, "OPTIMIZE TABLE events FINAL", nil)
	return err
}

// timeRuns runs f once untimed, then runs times: the median, fastest and
// slowest.
func timeRuns(runs int, f func() error) (time.Duration, [2]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i <= runs; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, [2]time.Duration{}, err
		}
		if i > 0 {
			ds = append(ds, time.Since(t0))
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], [2]time.Duration{ds[0], ds[len(ds)-1]}, nil
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: AllSource %q, ClickHouse %q", i+1, x, y)
		}
	}
	return ""
}

func tsvRows(b []byte) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" {
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	return rows
}

// asFunnelLines: "step k: n" (entities reaching at least step k).
func asFunnelLines(b []byte) ([]string, error) {
	var res struct {
		Steps []struct {
			Step     int   `json:"step"`
			Entities int64 `json:"entities"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range res.Steps {
		out = append(out, fmt.Sprintf("step %d: %d", s.Step, s.Entities))
	}
	return out, nil
}

// chFunnelLines turns windowFunnel's level histogram into entities
// reaching at least each step.
func chFunnelLines(b []byte, steps int) ([]string, error) {
	at := make([]int64, steps+1)
	for _, r := range tsvRows(b) {
		if len(r) != 2 {
			return nil, fmt.Errorf("funnel row %q", r)
		}
		lvl, err1 := strconv.Atoi(r[0])
		n, err2 := strconv.ParseInt(r[1], 10, 64)
		if err := errors.Join(err1, err2); err != nil || lvl < 0 || lvl > steps {
			return nil, fmt.Errorf("funnel row %q", r)
		}
		at[lvl] = n
	}
	var out []string
	var sum int64
	reach := make([]int64, steps+1)
	for k := steps; k >= 1; k-- {
		sum += at[k]
		reach[k] = sum
	}
	for k := 1; k <= steps; k++ {
		out = append(out, fmt.Sprintf("step %d: %d", k, reach[k]))
	}
	return out, nil
}

// asRetentionLines: "cohort c: size r0 r1 …", c the week index from
// peergen's first Monday.
func asRetentionLines(b []byte) ([]string, error) {
	var res retentionAnswer
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range res.Cohorts {
		day, err := time.Parse("2006-01-02", c.Cohort)
		if err != nil {
			return nil, err
		}
		week := (day.Unix() - peergenEpoch) / 604800
		parts := []string{strconv.FormatInt(c.Size, 10)}
		for _, r := range c.Retained {
			parts = append(parts, strconv.FormatInt(r, 10))
		}
		out = append(out, fmt.Sprintf("cohort %d: %s", week, strings.Join(parts, " ")))
	}
	return out, nil
}

func chRetentionLines(b []byte) ([]string, error) {
	var out []string
	for _, r := range tsvRows(b) {
		if len(r) != 2 {
			return nil, fmt.Errorf("retention row %q", r)
		}
		var cells []int64
		if err := json.Unmarshal([]byte(r[1]), &cells); err != nil {
			return nil, fmt.Errorf("retention row %q: %w", r, err)
		}
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = strconv.FormatInt(c, 10)
		}
		out = append(out, fmt.Sprintf("cohort %s: %s", r[0], strings.Join(parts, " ")))
	}
	return out, nil
}

// asSeriesLines: "hour type count" for every non-empty bucket, sorted.
func asSeriesLines(b []byte) ([]string, error) {
	var res seriesAnswer
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range res.Series {
		g := ""
		if s.Group != nil {
			g = *s.Group
		}
		for _, p := range s.Points {
			if p.Value != nil && *p.Value != 0 {
				out = append(out, fmt.Sprintf("%s %s %d", p.Time.UTC().Format("2006-01-02 15:04:05"), g, int64(*p.Value)))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func chSeriesLines(b []byte) ([]string, error) {
	var out []string
	for _, r := range tsvRows(b) {
		if len(r) != 3 {
			return nil, fmt.Errorf("series row %q", r)
		}
		out = append(out, r[0]+" "+r[1]+" "+r[2])
	}
	slices.Sort(out)
	return out, nil
}
