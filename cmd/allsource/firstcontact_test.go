package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
)

// cli runs the allsource command (the test binary in binary mode) and
// returns its standard output.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ALLSOURCE_TEST_AS_BINARY=1")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("allsource %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// TestTokenIssuedAfterStart: a server that authenticates with API keys
// accepts a token whose secret `token issue` created after it started,
// without a restart (it used to answer "no signing key is configured").
func TestTokenIssuedAfterStart(t *testing.T) {
	dir := t.TempDir()
	ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create("svc", "acme", []string{authz.RoleWriter}, 0); err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := ks.Create("ops", allsource.AllTenants, []string{authz.RoleAdmin}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, dir, nil)
	token := strings.TrimSpace(cli(t, "token", "issue", "--data-dir", dir, "--tenant", "acme", "--role", "analyst", "--ttl", "1h"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("POST", p.url+"/v1/query", strings.NewReader(`{"sql": "SELECT count(*) AS n FROM events"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token issued after the server started: %d after 5 s", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// acme's query ran in acme's own engine instance, which /metrics counts.
	req, _ := http.NewRequest("GET", p.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nallsource_engine_instances 1\n") {
		t.Fatalf("/metrics: %d, no allsource_engine_instances 1", resp.StatusCode)
	}
}

// TestFileExportUnderRelativeDataDir: with the default export root
// (DATA_DIR/exports) and a relative --data-dir, as `make run` starts the
// server, a file export into that directory is accepted (the relative
// root was compared with the absolute target and refused everything).
func TestFileExportUnderRelativeDataDir(t *testing.T) {
	dir, err := os.MkdirTemp(".", "rel")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := startProc(t, dir, nil)
	abs, err := filepath.Abs(filepath.Join(dir, "exports", "x"))
	if err != nil {
		t.Fatal(err)
	}
	apiJSON(t, "POST", p.url+"/v1/exports", map[string]any{"target": "file://" + abs + "?format=ndjson"}, http.StatusCreated)
	// Outside the root is still refused.
	apiJSON(t, "POST", p.url+"/v1/exports", map[string]any{"target": "file:///tmp/elsewhere?format=ndjson"}, http.StatusBadRequest)
}

// TestThrowingProjectionDeadLettersAtSpeed: a JavaScript projection whose
// handler throws on every event parks them all in seconds and catches up
// (each event used to be tried four times with back-off: 26 events in
// 10 s, catching up for hours).
func TestThrowingProjectionDeadLettersAtSpeed(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	mustAppendND(t, p.url, orderLines(0, 300)...)
	start := time.Now()
	apiJSON(t, "POST", p.url+"/v1/projections", map[string]any{"name": "thrower",
		"js": `fromAll().when({ $any: (s, e) => { throw new Error('no ' + e.type) } })`}, http.StatusCreated)
	for {
		got := apiJSON(t, "GET", p.url+"/v1/projections/thrower/dead-letters?limit=1000", nil, http.StatusOK)
		rows, _ := got["dead_letters"].([]any)
		status := apiJSON(t, "GET", p.url+"/v1/projections/thrower", nil, http.StatusOK)
		if len(rows) == 300 && status["status"] == "running" {
			t.Logf("300 events parked, projection running, after %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("after 20 s: %d dead letters, status %v", len(rows), status["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFirstContactHTTP: the root URL is a page for a person, a known
// endpoint asked with the wrong method says which to use (405), and the
// version is the binary's, as `allsource version` prints it.
func TestFirstContactHTTP(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	resp, err := http.Get(p.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "/v1/status") || !strings.Contains(string(page), "/v1/events") {
		t.Fatalf("GET /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	resp, err = http.Get(p.url + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "POST") || !strings.Contains(string(body), "use POST") {
		t.Fatalf("GET /v1/events: %d %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	status := apiJSON(t, "GET", p.url+"/v1/status", nil, http.StatusOK)
	want := strings.TrimPrefix(strings.TrimSpace(cli(t, "version")), "allsource ")
	if status["version"] != want || want == "(devel)" || want == "" {
		t.Fatalf("version: status %v, CLI %q", status["version"], want)
	}
	if got := strings.TrimSpace(cli(t, "--version")); got != "allsource "+want {
		t.Fatalf("--version: %q", got)
	}
}

// TestUnknownCommandSuggests: a mistyped command names the closest one,
// once, without the whole usage.
func TestUnknownCommandSuggests(t *testing.T) {
	var out, errOut strings.Builder
	m := &Main{Stdout: &out, Stderr: &errOut}
	err := m.Run(context.Background(), []string{"qeury", "SELECT 1"})
	if err == nil || !strings.Contains(err.Error(), `did you mean "query"`) || errOut.Len() != 0 {
		t.Fatalf("qeury: %v (stderr %q)", err, errOut.String())
	}
}

// cliFails runs the allsource command, which must fail, and returns what
// it printed.
func cliFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ALLSOURCE_TEST_AS_BINARY=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("allsource %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// TestDataDirMistakes: a second server on a data directory is refused
// before it touches anything (it used to open the write-ahead log, then
// fail on the engine's lock), naming the process that holds it; a data
// directory that is a file, and a port already taken, are refused without
// creating anything.
func TestDataDirMistakes(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, nil)
	mustAppendND(t, p.url, orderLines(0, 10)...)
	out := cliFails(t, "serve", "--data-dir", dir, "--http-addr", freeAddr(t), "--pg-addr", freeAddr(t))
	if !strings.Contains(out, "in use by another allsource process (PID") || !strings.Contains(out, "one server per data directory") {
		t.Fatalf("second server:\n%s", out)
	}
	if rows := queryCSV(t, p.url, "SELECT count(*) FROM events"); rows[0][0] != "10" {
		t.Fatalf("the first server after the second tried: %v", rows)
	}
	// An offline import into the same directory is refused the same way.
	file := filepath.Join(t.TempDir(), "e.ndjson")
	os.WriteFile(file, []byte(`{"entity_id":"x","event_type":"t"}`+"\n"), 0o644)
	if out := cliFails(t, "import", "--data-dir", dir, file); !strings.Contains(out, "in use by another allsource process") {
		t.Fatalf("offline import into a served data dir:\n%s", out)
	}

	notDir := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	if out := cliFails(t, "serve", "--data-dir", notDir, "--http-addr", freeAddr(t), "--pg-addr", freeAddr(t)); !strings.Contains(out, "is a file, not a directory") {
		t.Fatalf("data dir that is a file:\n%s", out)
	}

	fresh := filepath.Join(t.TempDir(), "never-created")
	taken := strings.TrimPrefix(p.url, "http://")
	if out := cliFails(t, "serve", "--data-dir", fresh, "--http-addr", taken, "--pg-addr", freeAddr(t)); !strings.Contains(out, "address already in use") {
		t.Fatalf("port taken:\n%s", out)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("the data dir was created although the port was taken: %v", err)
	}
}

// TestQuotaListPrintsIntegers: quotas print as the numbers they are
// (10000000, not 1e+07).
func TestQuotaListPrintsIntegers(t *testing.T) {
	dir := t.TempDir()
	cli(t, "admin", "quota", "set", "--data-dir", dir, "--tenant", "acme", "--ingest-events-per-sec", "10000000", "--storage-bytes", "50000000000")
	out := cli(t, "admin", "quota", "list", "--data-dir", dir)
	if !strings.Contains(out, "10000000") || !strings.Contains(out, "50000000000") || strings.Contains(out, "e+") {
		t.Fatalf("quota list:\n%s", out)
	}
}

// TestQueryWithoutTokenSaysHow: querying an authenticating server without
// a credential names --token and ALLSOURCE_TOKEN.
func TestQueryWithoutTokenSaysHow(t *testing.T) {
	dir := t.TempDir()
	ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create("svc", "acme", []string{authz.RoleAnalyst}, 0); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, dir, nil)
	out := cliFails(t, "query", "--server", p.url, "SELECT 1")
	if !strings.Contains(out, "HTTP 401") || !strings.Contains(out, "--token") || !strings.Contains(out, "ALLSOURCE_TOKEN") {
		t.Fatalf("query without a token:\n%s", out)
	}
}

// TestAuthTurnsOnWithFirstCredential: a server started without any
// credential (loopback, every request trusted) asks for one as soon as
// the first API key is created, over HTTP and pgwire, without a restart,
// and the key's tenant is the one its requests act in. It used to go on
// trusting every request, so the README's key acted in no tenant at all.
func TestAuthTurnsOnWithFirstCredential(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, nil)
	mustAppendND(t, p.url, orderLines(0, 3)...)
	key := strings.TrimSpace(cli(t, "admin", "key", "create", "--data-dir", dir, "--tenant", "acme", "--role", "writer,analyst"))
	query := func(cred string) (int, string) {
		req, _ := http.NewRequest("POST", p.url+"/v1/query", strings.NewReader(`{"sql":"SELECT count(*) AS n FROM events"}`))
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := query("")
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d without a credential 10 s after the first key was made", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := query(key); code != 200 || !strings.Contains(body, `"rows":[[0]]`) {
		t.Fatalf("with the key (tenant acme, which has no events): %d %s", code, body)
	}
	if !strings.Contains(p.logs.String(), "authentication on") {
		t.Fatalf("the log does not say authentication turned on:\n%s", tail(p.logs.String(), 20))
	}
	// pgwire asks for a password now too.
	cmd := exec.Command("psql", "-h", "127.0.0.1", "-p", portOf(p.pg), "-d", "allsource", "-U", "me", "-w", "-c", "SELECT 1")
	if _, err := exec.LookPath("psql"); err == nil {
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "password") {
			t.Fatalf("psql without a password after the first key: %v\n%s", err, out)
		}
	}
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// TestAnalyticsWarnsOfUnknownNames: a question about an event type no
// event has, or a payload field none of its events carries, still answers
// (the events may come later) but says so, naming the closest known name;
// a question about known names has no warnings.
func TestAnalyticsWarnsOfUnknownNames(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	mustAppendND(t, p.url, orderLines(0, 30)...)
	cases := []struct {
		path, body string
		want       []string
	}{
		{"/v1/analytics/funnel", `{"steps": ["order.placed", "order.payed"], "breakdown": "payload.amout"}`,
			[]string{`no event has type "order.payed" (did you mean "order.paid"?)`, `no event of the question's types has the field payload.amout (did you mean payload.amount?)`}},
		{"/v1/analytics/timeseries", `{"event_type": "order.placd", "interval": "1d", "from": "2026-05-01T00:00:00Z", "to": "2026-05-03T00:00:00Z"}`,
			[]string{`no event has type "order.placd" (did you mean "order.placed"?)`}},
		{"/v1/analytics/retention", `{"start_event": "order.placed", "return_event": "order.paid"}`, nil},
		{"/v1/analytics/funnel", `{"steps": ["order.placed", "order.paid"], "breakdown": "payload.amount"}`, nil},
	}
	for _, c := range cases {
		res := apiJSON(t, "POST", p.url+c.path, json.RawMessage(c.body), 200)
		var got []string
		if w, ok := res["warnings"].([]any); ok {
			for _, x := range w {
				got = append(got, x.(string))
			}
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s %s: warnings\n%q\nwant\n%q", c.path, c.body, got, c.want)
		}
	}
}

// TestImportWithoutMappingSaysHow: records that are not events yet, given
// without --entity-field/--type-field, are refused before anything is
// sent (no progress bar, nothing stored) with the fields to map.
func TestImportWithoutMappingSaysHow(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(csvFile, []byte("user,action,at\nann,signed_up,2026-03-02 09:15:00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := cliFails(t, "import", "--server", p.url, csvFile)
	if !strings.Contains(out, "are not events yet") || !strings.Contains(out, "--entity-field user --type-field action") ||
		strings.Contains(out, "100%") || strings.Contains(out, "imported") {
		t.Fatalf("import without a mapping:\n%s", out)
	}
	if rows := queryCSV(t, p.url, "SELECT count(*) FROM events"); rows[0][0] != "0" {
		t.Fatalf("stored %s events", rows[0][0])
	}
}

// TestJSONForPeopleIsNotEscaped: <, > and & stay as they are in answers
// (they used to come back as \u003c, \u003e and \u0026).
func TestJSONForPeopleIsNotEscaped(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	mustAppendND(t, p.url, `{"entity_id":"a<b>","event_type":"x&y","payload":{"note":"<b>&</b>"}}`)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/query", `{"sql":"SELECT entity_id, payload FROM events"}`},
		{"GET", "/v1/entities/a%3Cb%3E/events", ""},
		{"POST", "/v1/eventql", `{"query":"FROM e IN events PROJECT INTO e"}`},
		{"POST", "/v1/query", `{"sql":"SELECT <nonsense>"}`},
		{"GET", "/v1/subscribe?from_seq=0&types=x%26y", ""},
	} {
		req, _ := http.NewRequest(c.method, p.url+c.path, strings.NewReader(c.body))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body) // the subscription ends with the timeout
		resp.Body.Close()
		cancel()
		if strings.Contains(string(b), `\u003c`) || strings.Contains(string(b), `\u0026`) || !strings.ContainsAny(string(b), "<&") {
			t.Errorf("%s %s:\n%s", c.method, c.path, b)
		}
	}
}
