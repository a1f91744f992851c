package main

// End-to-end tests of the HTTP API: a real store on a temporary data
// directory served by newRouter, driven over HTTP (and raw TCP for the slow
// client). Crash (kill -9) tests live elsewhere.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allsource/allsource/warehouse"
)

// ---------------------------------------------------------------------------
// Server helpers

// apiClient is shared by every test; its idle connections are closed when a
// test's server stops (TestMain checks for leaked goroutines).
var apiClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// apiTestConfig builds a Config the way `allsource serve` does: flags
// registered on a fresh FlagSet (so every default is the real one), then
// the given arguments.
func apiTestConfig(t testing.TB, dir string, extraFlags ...string) *Config {
	t.Helper()
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.registerServeFlags(fs)
	args := append([]string{"--data-dir", dir, "--fsync", "always"}, extraFlags...)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config %q: %v", args, err)
	}
	return &cfg
}

// apiTestLogger sends warnings and errors of the server to the test log.
func apiTestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(apiLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type apiLogWriter struct{ t testing.TB }

func (w apiLogWriter) Write(p []byte) (int, error) {
	w.t.Log("server: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testAPI is one running server over one open store.
type testAPI struct {
	URL string
	Dir string
	st  *store
	m   *metrics
	srv *httptest.Server

	t    testing.TB
	once sync.Once
}

// startAPIAt opens a store on dir and serves it on an in-process HTTP
// server; both are closed (cleanly, with the final flush) at cleanup unless
// closed before.
func startAPIAt(t testing.TB, dir string, extraFlags ...string) *testAPI {
	t.Helper()
	cfg := apiTestConfig(t, dir, extraFlags...)
	log := apiTestLogger(t)
	m := newMetrics()
	st, err := openStore(context.Background(), cfg, log, m)
	if err != nil {
		t.Fatalf("openStore(%s): %v", dir, err)
	}
	m.registerStore(st)
	a := &testAPI{Dir: dir, st: st, m: m, t: t}
	a.srv = httptest.NewServer(newRouter(cfg, st, m, log, testAuth(t, cfg, log)))
	a.URL = a.srv.URL
	t.Cleanup(a.Close)
	return a
}

// testAuth is the server's authentication as serve sets it up: with no
// credentials in the data directory it is off, and requests take the
// same path through the Gate as in production (quotas included).
func testAuth(t testing.TB, cfg *Config, log *slog.Logger) *auth {
	t.Helper()
	au, err := setupAuth(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return au
}

// startAPI starts a server on a fresh data directory.
func startAPI(t testing.TB, extraFlags ...string) (url string, st *store) {
	t.Helper()
	a := startAPIAt(t, t.TempDir(), extraFlags...)
	return a.URL, a.st
}

// Close stops the HTTP server and closes the store cleanly.
func (a *testAPI) Close() {
	a.once.Do(func() {
		a.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := a.st.Close(ctx); err != nil {
			a.t.Errorf("close store %s: %v", a.Dir, err)
		}
		apiClient.CloseIdleConnections()
	})
}

// CrashClose stops the server and closes the store without the final
// flush, leaving the hot tier only in the WAL, as after a crash.
func (a *testAPI) CrashClose() {
	a.once.Do(func() {
		a.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err := errors.Join(a.st.ingest.Close(ctx, false), a.st.wh.Close(), a.st.wal.Close())
		if err != nil {
			a.t.Errorf("crash-close store %s: %v", a.Dir, err)
		}
		// A crashed process's lock on its data directory goes with it.
		if a.st.unlock != nil {
			a.st.unlock()
		}
		apiClient.CloseIdleConnections()
	})
}

// ---------------------------------------------------------------------------
// Client helpers

type apiErrorBody struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Field   string         `json:"field"`
		Index   *int           `json:"index"`
		Line    int            `json:"line"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

type apiDuplicate struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Seq   uint64 `json:"seq"`
}

type apiAppendResult struct {
	Count      int            `json:"count"`
	FirstSeq   uint64         `json:"first_seq"`
	LastSeq    uint64         `json:"last_seq"`
	Duplicates []apiDuplicate `json:"duplicates"`
}

type apiQueryResult struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows     [][]any         `json:"rows"`
	RowCount int             `json:"row_count"`
	Error    json.RawMessage `json:"error"`
}

// apiEntityEvent is the entity endpoint's event, as the server defines it.
type apiEntityEvent = warehouse.EntityEvent

type apiEntityResponse struct {
	EntityID string           `json:"entity_id"`
	Tenant   string           `json:"tenant"`
	Events   []apiEntityEvent `json:"events"`
}

// apiRequest sends one request and returns the status, headers and body.
// It does not touch t, so goroutines may use it.
func apiRequest(method, u string, hdr map[string]string, body io.Reader) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, b, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// apiPostRaw posts a body to /v1/events (query may be "" or "tenant=x").
func apiPostRaw(base, contentType, query string, body []byte) (int, []byte, error) {
	u := base + "/v1/events"
	if query != "" {
		u += "?" + query
	}
	hdr := map[string]string{}
	if contentType != "" {
		hdr["Content-Type"] = contentType
	}
	st, _, b, err := apiRequest(http.MethodPost, u, hdr, bytes.NewReader(body))
	return st, b, err
}

// apiAppend posts a JSON body and requires 200.
func apiAppend(base, body string) (apiAppendResult, error) {
	return apiAppendAs(base, "application/json", "", body)
}

func apiAppendAs(base, contentType, query, body string) (apiAppendResult, error) {
	var res apiAppendResult
	st, b, err := apiPostRaw(base, contentType, query, []byte(body))
	if err != nil {
		return res, err
	}
	if st != http.StatusOK {
		return res, fmt.Errorf("POST /v1/events %.200q: status %d: %s", body, st, b)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode %s: %v", b, err)
	}
	if res.Duplicates == nil {
		return res, fmt.Errorf("response has no duplicates array: %s", b)
	}
	return res, nil
}

func mustAppend(t testing.TB, base, body string) apiAppendResult {
	t.Helper()
	res, err := apiAppend(base, body)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func apiDecodeError(b []byte) (apiErrorBody, error) {
	var e apiErrorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("error body %q: %v", b, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		return e, fmt.Errorf("error body without code or message: %s", b)
	}
	return e, nil
}

// apiQueryRaw posts {"sql","params"} with the given Accept header.
func apiQueryRaw(base, accept, sql string, params ...any) (int, http.Header, []byte, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"sql": sql, "params": params})
	if err != nil {
		return 0, nil, nil, err
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	if accept != "" {
		hdr["Accept"] = accept
	}
	return apiRequest(http.MethodPost, base+"/v1/query", hdr, bytes.NewReader(body))
}

// apiQuery runs a query and requires a complete 200 JSON result.
func apiQuery(base, sql string, params ...any) (apiQueryResult, error) {
	var res apiQueryResult
	st, _, b, err := apiQueryRaw(base, "", sql, params...)
	if err != nil {
		return res, err
	}
	if st != http.StatusOK {
		return res, fmt.Errorf("query %q: status %d: %s", sql, st, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return res, fmt.Errorf("query %q: decode %s: %v", sql, b, err)
	}
	if res.Error != nil {
		return res, fmt.Errorf("query %q: error after streaming: %s", sql, res.Error)
	}
	if res.RowCount != len(res.Rows) {
		return res, fmt.Errorf("query %q: row_count %d but %d rows", sql, res.RowCount, len(res.Rows))
	}
	return res, nil
}

func mustQuery(t testing.TB, base, sql string, params ...any) apiQueryResult {
	t.Helper()
	res, err := apiQuery(base, sql, params...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// apiScalarInt runs a query returning one integer.
func apiScalarInt(base, sql string, params ...any) (int64, error) {
	res, err := apiQuery(base, sql, params...)
	if err != nil {
		return 0, err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, fmt.Errorf("query %q: want one value, got %v", sql, res.Rows)
	}
	n, ok := res.Rows[0][0].(json.Number)
	if !ok {
		return 0, fmt.Errorf("query %q: want a number, got %T %v", sql, res.Rows[0][0], res.Rows[0][0])
	}
	return n.Int64()
}

func mustScalarInt(t testing.TB, base, sql string, params ...any) int64 {
	t.Helper()
	n, err := apiScalarInt(base, sql, params...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustCount(t testing.TB, base string) int64 {
	t.Helper()
	return mustScalarInt(t, base, "SELECT count(*) FROM events")
}

// apiEntity GETs /v1/entities/<id>/events with the given raw query string.
func apiEntity(base, entity, query string) (int, apiEntityResponse, []byte, error) {
	var res apiEntityResponse
	u := base + "/v1/entities/" + url.PathEscape(entity) + "/events"
	if query != "" {
		u += "?" + query
	}
	st, _, b, err := apiRequest(http.MethodGet, u, nil, nil)
	if err != nil {
		return st, res, b, err
	}
	if st == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			return st, res, b, fmt.Errorf("GET %s: decode %s: %v", u, b, err)
		}
	}
	return st, res, b, nil
}

func mustEntity(t testing.TB, base, entity, query string) apiEntityResponse {
	t.Helper()
	st, res, b, err := apiEntity(base, entity, query)
	if err != nil {
		t.Fatal(err)
	}
	if st != http.StatusOK {
		t.Fatalf("GET entity %q ?%s: status %d: %s", entity, query, st, b)
	}
	return res
}

func mustHealthy(t testing.TB, base string) {
	t.Helper()
	st, _, b, err := apiRequest(http.MethodGet, base+"/healthz", nil, nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	if st != http.StatusOK || !strings.Contains(string(b), `"ok"`) {
		t.Fatalf("GET /healthz: status %d: %s", st, b)
	}
}

// ev returns one event object as JSON text.
func ev(entity, typ string, extra ...string) string {
	s := fmt.Sprintf(`{"entity_id":%q,"event_type":%q`, entity, typ)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

func jsonArray(objs ...string) string { return "[" + strings.Join(objs, ",") + "]" }

func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// padObject returns a JSON object of exactly n bytes (n >= 8).
func padObject(n int) string { return `{"p":"` + strings.Repeat("x", n-8) + `"}` }

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// ---------------------------------------------------------------------------
// 1. Bad input

func TestBadInputTable(t *testing.T) {
	const (
		maxPayload = 1024
		maxBody    = 8192
		maxBatch   = 5
	)
	a := startAPIAt(t, t.TempDir(),
		"--max-payload-bytes", strconv.Itoa(maxPayload),
		"--max-body-bytes", strconv.Itoa(maxBody),
		"--max-batch-events", strconv.Itoa(maxBatch))
	base := a.URL

	// Some stored events, so "unchanged" is not just "still zero".
	mustAppend(t, base, jsonArray(ev("seed-1", "created"), ev("seed-2", "created"), ev("seed-1", "renamed")))

	okEv := ev("ok", "t")
	long := func(n int) string { return strings.Repeat("a", n) }
	tooManyJSON := make([]string, maxBatch+1)
	tooManyND := make([]string, maxBatch+1)
	for i := range tooManyJSON {
		tooManyJSON[i] = ev("batchy", "t")
		tooManyND[i] = ev("batchy", "t")
	}
	// A body that would be valid but is over --max-body-bytes.
	bigBody := jsonArray(ev("big-body", "t")) + strings.Repeat(" ", maxBody)

	type tc struct {
		name    string
		ct      string // Content-Type; "" means application/json
		query   string // query string of POST /v1/events
		body    string
		chunked bool // send without Content-Length

		status int
		code   string
		msg    []string // substrings of the message, in order
		field  string   // expected "field", if not ""
		// where: "" unchecked; "index:N" index N and no line; "line:N" line N
		// and no index; "none" neither.
		where string
		// absent: entity ids that must not exist afterwards.
		absent []string
	}
	const jsonCT, ndCT = "application/json", "application/x-ndjson"
	cases := []tc{
		// Malformed JSON.
		{name: "truncated object", body: `{"entity_id":"trunc","event_type":"t"`, status: 400, code: "invalid",
			msg: []string{"event 0", "malformed JSON"}, where: "index:0", absent: []string{"trunc"}},
		{name: "truncated inside a string", body: `{"entity_id":"trunc`, status: 400, code: "invalid",
			msg: []string{"event 0", "malformed JSON", "unterminated string"}, where: "index:0"},
		{name: "trailing comma in object", body: `{"entity_id":"tc","event_type":"t",}`, status: 400, code: "invalid",
			msg: []string{"event 0", "malformed JSON"}, where: "index:0", absent: []string{"tc"}},
		{name: "trailing comma in array", body: `[` + ev("tca", "t") + `,]`, status: 400, code: "invalid",
			msg: []string{"event 1"}, where: "index:1", absent: []string{"tca"}},
		{name: "garbage after the array", body: jsonArray(ev("gaa", "t")) + ` xyz`, status: 400, code: "invalid",
			msg: []string{"malformed JSON", "after the JSON array"}, absent: []string{"gaa"}},
		{name: "second object without array", body: ev("two", "t") + ev("two", "t"), status: 400, code: "invalid",
			msg: []string{"malformed JSON", "after the event object"}, absent: []string{"two"}},
		{name: "not JSON", body: `entity_id=x&event_type=y`, status: 400, code: "invalid",
			msg: []string{"event object, a JSON array of events, or NDJSON"}, where: "none"},
		{name: "NDJSON malformed line 2", ct: ndCT, body: ndjson(ev("ndm", "t"), `{"entity_id":"ndm",`), status: 400, code: "invalid",
			msg: []string{"line 2", "malformed JSON"}, where: "line:2", absent: []string{"ndm"}},
		{name: "NDJSON array instead of lines", ct: ndCT, body: jsonArray(ev("nda", "t")), status: 400, code: "invalid",
			msg: []string{"line 1"}, where: "line:1", absent: []string{"nda"}},

		// Wrong types.
		{name: "entity_id number", body: `{"entity_id":42,"event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`event 0: field "entity_id": must be a string, got a number`}, field: "entity_id", where: "index:0"},
		{name: "event_type null", body: `{"entity_id":"x","event_type":null}`, status: 400, code: "invalid",
			msg: []string{`field "event_type": must be a string`}, field: "event_type", where: "index:0", absent: []string{"x"}},
		{name: "payload array", body: ev("pa", "t", `"payload":[1,2]`), status: 400, code: "invalid",
			msg: []string{`event 0: field "payload": must be a JSON object, got an array`}, field: "payload", where: "index:0", absent: []string{"pa"}},
		{name: "payload string", body: ev("ps", "t", `"payload":"{}"`), status: 400, code: "invalid",
			msg: []string{`field "payload": must be a JSON object, got a string`}, field: "payload", where: "index:0", absent: []string{"ps"}},
		{name: "payload number", body: ev("pn", "t", `"payload":1`), status: 400, code: "invalid",
			msg: []string{`field "payload": must be a JSON object, got a number`}, field: "payload", where: "index:0"},
		{name: "payload malformed inside", body: ev("pm", "t", `"payload":{"a":}`), status: 400, code: "invalid",
			msg: []string{"event 0", "malformed JSON"}, where: "index:0", absent: []string{"pm"}},
		{name: "metadata array", body: ev("ma", "t", `"metadata":[]`), status: 400, code: "invalid",
			msg: []string{`field "metadata": must be a JSON object, got an array`}, field: "metadata", where: "index:0"},
		{name: "timestamp boolean", body: ev("tb", "t", `"timestamp":true`), status: 400, code: "invalid",
			msg: []string{`event 0: field "timestamp": must be a string (RFC 3339) or a number (epoch milliseconds), got a boolean`}, field: "timestamp", where: "index:0", absent: []string{"tb"}},
		{name: "timestamp not RFC 3339", body: ev("ts", "t", `"timestamp":"yesterday"`), status: 400, code: "invalid",
			msg: []string{`field "timestamp": must be RFC 3339`}, field: "timestamp", where: "index:0"},
		{name: "timestamp out of range", body: ev("tr", "t", `"timestamp":253402300800000`), status: 400, code: "invalid",
			msg: []string{`field "timestamp"`, "out of range"}, field: "timestamp", where: "index:0"},
		{name: "expected_version negative", body: ev("evn", "t", `"expected_version":-1`), status: 400, code: "invalid",
			msg: []string{`event 0: field "expected_version": must be a non-negative integer, got -1`}, field: "expected_version", where: "index:0", absent: []string{"evn"}},
		{name: "expected_version string", body: ev("evs", "t", `"expected_version":"0"`), status: 400, code: "invalid",
			msg: []string{`field "expected_version": must be a non-negative integer, got a string`}, field: "expected_version", where: "index:0", absent: []string{"evs"}},
		{name: "expected_version fraction", body: ev("evf", "t", `"expected_version":0.5`), status: 400, code: "invalid",
			msg: []string{`field "expected_version": must be a non-negative integer`}, field: "expected_version", where: "index:0"},
		{name: "id not a UUID", body: ev("idx", "t", `"id":"not-a-uuid"`), status: 400, code: "invalid",
			msg: []string{`event 0: field "id": must be a UUID, got "not-a-uuid"`}, field: "id", where: "index:0", absent: []string{"idx"}},
		{name: "id number", body: ev("idn", "t", `"id":12`), status: 400, code: "invalid",
			msg: []string{`field "id": must be a string, got a number`}, field: "id", where: "index:0"},

		// Missing fields, by index and by line.
		{name: "array element 2 missing entity_id", body: jsonArray(ev("m1", "t"), ev("m2", "t"), `{"event_type":"t"}`), status: 400, code: "invalid",
			msg: []string{`event 2: field "entity_id": is required`}, field: "entity_id", where: "index:2", absent: []string{"m1", "m2"}},
		{name: "array element 2 missing event_type", body: jsonArray(ev("m3", "t"), ev("m4", "t"), `{"entity_id":"m5"}`), status: 400, code: "invalid",
			msg: []string{`event 2: field "event_type": is required`}, field: "event_type", where: "index:2", absent: []string{"m3", "m4", "m5"}},
		{name: "NDJSON line 3 missing entity_id", ct: ndCT, body: ndjson(ev("n1", "t"), ev("n2", "t"), `{"event_type":"t"}`), status: 400, code: "invalid",
			msg: []string{`line 3: field "entity_id": is required`}, field: "entity_id", where: "line:3", absent: []string{"n1", "n2"}},
		{name: "NDJSON line 3 missing event_type", ct: ndCT, body: ndjson(ev("n3", "t"), ev("n4", "t"), `{"entity_id":"n5"}`), status: 400, code: "invalid",
			msg: []string{`line 3: field "event_type": is required`}, field: "event_type", where: "line:3", absent: []string{"n3", "n4", "n5"}},
		{name: "NDJSON blank line counts", ct: ndCT, body: ndjson(ev("n6", "t"), ``, `{"event_type":"t"}`), status: 400, code: "invalid",
			msg: []string{`line 3: field "entity_id": is required`}, field: "entity_id", where: "line:3", absent: []string{"n6"}},
		{name: "NDJSON via charset parameter", ct: ndCT + "; charset=utf-8", body: ndjson(ev("n7", "t"), ev("n7", "t"), `{"event_type":"t"}`), status: 400, code: "invalid",
			msg: []string{`line 3: field "entity_id": is required`}, field: "entity_id", where: "line:3", absent: []string{"n7"}},
		{name: "empty object", body: `{}`, status: 400, code: "invalid",
			msg: []string{`event 0: field "entity_id": is required`}, field: "entity_id", where: "index:0"},

		// Unknown and repeated fields.
		{name: "unknown field", body: ev("uf", "t", `"colour":"red"`), status: 400, code: "invalid",
			msg: []string{`event 0: field "colour": unknown field`}, field: "colour", where: "index:0", absent: []string{"uf"}},
		{name: "unknown field on NDJSON line 2", ct: ndCT, body: ndjson(ev("uf2", "t"), ev("uf2", "t", `"Entity_ID":"x"`)), status: 400, code: "invalid",
			msg: []string{`line 2: field "Entity_ID": unknown field`}, field: "Entity_ID", where: "line:2", absent: []string{"uf2"}},
		{name: "field given twice through alias", body: `{"entity_id":"a1","subject":"a2","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id": given more than once`}, field: "entity_id", where: "index:0", absent: []string{"a1", "a2"}},

		// Empty bodies.
		{name: "empty body", body: ``, status: 400, code: "invalid", msg: []string{"empty"}, where: "none"},
		{name: "whitespace body", body: " \n\t ", status: 400, code: "invalid", msg: []string{"empty"}, where: "none"},
		{name: "empty array", body: `[]`, status: 400, code: "invalid", msg: []string{"the batch is empty"}, where: "none"},
		{name: "empty NDJSON", ct: ndCT, body: "\n\n", status: 400, code: "invalid", msg: []string{"the batch is empty"}, where: "none"},

		// Text fields: encoding, control characters, lengths.
		{name: "invalid UTF-8 in entity_id", body: "{\"entity_id\":\"ab\xffcd\",\"event_type\":\"t\"}", status: 400, code: "invalid",
			msg: []string{"event 0", "UTF-8"}, where: "index:0"},
		{name: "invalid UTF-8 in event_type on NDJSON line 2", ct: ndCT, body: ndjson(ev("u8", "t"), "{\"entity_id\":\"u8\",\"event_type\":\"\xff\"}"), status: 400, code: "invalid",
			msg: []string{"line 2", "UTF-8"}, where: "line:2", absent: []string{"u8"}},
		{name: "NUL in entity_id", body: `{"entity_id":"a\u0000b","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`event 0: field "entity_id": contains control character U+0000`}, field: "entity_id", where: "index:0", absent: []string{"a"}},
		{name: "NUL in event_type", body: `{"entity_id":"nul-type","event_type":"t\u0000"}`, status: 400, code: "invalid",
			msg: []string{`field "event_type": contains control character U+0000`}, field: "event_type", where: "index:0", absent: []string{"nul-type"}},
		{name: "escaped newline in event_type", body: `{"entity_id":"nl-type","event_type":"a\nb"}`, status: 400, code: "invalid",
			msg: []string{`field "event_type": contains control character U+000A`}, field: "event_type", where: "index:0", absent: []string{"nl-type"}},
		{name: "escaped tab in entity_id", body: `{"entity_id":"a\tb","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id": contains control character U+0009`}, field: "entity_id", where: "index:0"},
		{name: "unit separator in entity_id", body: `{"entity_id":"a\u001fb","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id": contains control character U+001F`}, field: "entity_id", where: "index:0"},
		{name: "DEL in event_type", body: `{"entity_id":"del-type","event_type":"a\u007fb"}`, status: 400, code: "invalid",
			msg: []string{`field "event_type": contains control character U+007F`}, field: "event_type", where: "index:0", absent: []string{"del-type"}},
		{name: "C1 control in entity_id", body: `{"entity_id":"a\u0085b","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id": contains control character U+0085`}, field: "entity_id", where: "index:0"},
		{name: "raw control byte in entity_id", body: "{\"entity_id\":\"a\x01b\",\"event_type\":\"t\"}", status: 400, code: "invalid",
			msg: []string{"event 0", "control character"}, where: "index:0"},
		{name: "empty entity_id", body: `{"entity_id":"","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id"`}, field: "entity_id", where: "index:0"},
		{name: "blank entity_id", body: `{"entity_id":"   ","event_type":"t"}`, status: 400, code: "invalid",
			msg: []string{`field "entity_id": must not be blank`}, field: "entity_id", where: "index:0", absent: []string{"   "}},
		{name: "entity_id over 256 bytes", body: ev(long(257), "t"), status: 400, code: "invalid",
			msg: []string{`event 0: field "entity_id": is 257 bytes, over the limit of 256`}, field: "entity_id", where: "index:0"},
		{name: "entity_id over 256 bytes, multi-byte", body: ev(strings.Repeat("é", 129), "t"), status: 400, code: "invalid",
			msg: []string{`field "entity_id": is 258 bytes, over the limit of 256`}, field: "entity_id", where: "index:0"},
		{name: "event_type over 128 bytes", body: jsonArray(ev("et1", "t"), ev("et2", long(129))), status: 400, code: "invalid",
			msg: []string{`event 1: field "event_type": is 129 bytes, over the limit of 128`}, field: "event_type", where: "index:1", absent: []string{"et1", "et2"}},

		// Size limits.
		{name: "payload over the limit", body: ev("pol", "t", `"payload":`+padObject(maxPayload+1)), status: 413, code: "too_large",
			msg: []string{`event 0: field "payload"`, "1025 bytes, over the limit of 1024"}, field: "payload", where: "index:0", absent: []string{"pol"}},
		{name: "payload plus metadata over the limit", body: jsonArray(ev("pml", "t"), ev("pml", "t", `"payload":`+padObject(600), `"metadata":`+padObject(600))), status: 413, code: "too_large",
			msg: []string{`event 1: field "payload"`, "payload and metadata are 1200 bytes, over the limit of 1024"}, field: "payload", where: "index:1", absent: []string{"pml"}},
		{name: "payload over the limit on NDJSON line 2", ct: ndCT, body: ndjson(ev("pnd", "t"), ev("pnd", "t", `"payload":`+padObject(2000))), status: 413, code: "too_large",
			msg: []string{"line 2", `field "payload"`, "over the limit of 1024"}, field: "payload", where: "line:2", absent: []string{"pnd"}},
		{name: "body over --max-body-bytes", body: bigBody, status: 413, code: "too_large",
			msg: []string{"over the limit of 8192"}, where: "none", absent: []string{"big-body"}},
		{name: "chunked body over --max-body-bytes", body: bigBody, chunked: true, status: 413, code: "too_large",
			msg: []string{"over the limit of 8192"}, where: "none", absent: []string{"big-body"}},
		{name: "batch over --max-batch-events", body: jsonArray(tooManyJSON...), status: 413, code: "too_large",
			msg: []string{"more than 5 events"}, absent: []string{"batchy"}},
		{name: "NDJSON batch over --max-batch-events", ct: ndCT, body: ndjson(tooManyND...), status: 413, code: "too_large",
			msg: []string{"more than 5 events"}, absent: []string{"batchy"}},

		// All or nothing.
		{name: "valid event then invalid one", body: jsonArray(ev("first-valid", "t", `"payload":{"a":1}`), `{"entity_id":"second","event_type":5}`), status: 400, code: "invalid",
			msg: []string{`event 1: field "event_type": must be a string, got a number`}, field: "event_type", where: "index:1", absent: []string{"first-valid", "second"}},
		{name: "valid NDJSON lines then invalid one", ct: ndCT, body: ndjson(ev("nd-valid", "t"), ev("nd-valid", "t"), ev("nd-valid", "t", `"payload":7`)), status: 400, code: "invalid",
			msg: []string{`line 3: field "payload"`}, field: "payload", where: "line:3", absent: []string{"nd-valid"}},

		// Content types.
		{name: "unsupported Content-Type", ct: "application/xml", body: okEv, status: 400, code: "invalid",
			msg: []string{`unsupported Content-Type "application/xml"`}, absent: []string{"ok"}},
		{name: "multipart Content-Type", ct: "multipart/form-data; boundary=x", body: okEv, status: 400, code: "invalid",
			msg: []string{"unsupported Content-Type"}, absent: []string{"ok"}},
		{name: "malformed Content-Type", ct: "application/json; =", body: okEv, status: 400, code: "invalid",
			msg: []string{"Content-Type"}, absent: []string{"ok"}},

		// Tenants.
		{name: "bad tenant in query", query: "tenant=" + url.QueryEscape("acme corp"), body: okEv, status: 400, code: "invalid",
			msg: []string{"tenant", "may contain only letters, digits"}, absent: []string{"ok"}},
		{name: "path traversal tenant in query", query: "tenant=" + url.QueryEscape("../etc"), body: okEv, status: 400, code: "invalid",
			msg: []string{"tenant"}},
		{name: "tenant over 64 bytes in query", query: "tenant=" + long(65), body: okEv, status: 400, code: "invalid",
			msg: []string{"tenant", "over the limit of 64"}},
		{name: "bad tenant in body", body: ev("bt", "t", `"tenant":"a/b"`), status: 400, code: "invalid",
			msg: []string{`event 0: field "tenant": may contain only letters, digits`}, field: "tenant", where: "index:0", absent: []string{"bt"}},
		{name: "empty tenant in body", body: jsonArray(ev("bt2", "t"), ev("bt2", "t", `"tenant":""`)), status: 400, code: "invalid",
			msg: []string{`event 1: field "tenant": must not be empty`}, field: "tenant", where: "index:1", absent: []string{"bt2"}},
	}

	before := mustCount(t, base)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.ct
			if ct == "" {
				ct = jsonCT
			}
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			u := base + "/v1/events"
			if c.query != "" {
				u += "?" + c.query
			}
			st, _, raw, err := apiRequest(http.MethodPost, u, map[string]string{"Content-Type": ct}, body)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			if st != c.status {
				t.Errorf("status %d, want %d; body %s", st, c.status, raw)
			}
			e, err := apiDecodeError(raw)
			if err != nil {
				t.Fatal(err)
			}
			if e.Error.Code != c.code {
				t.Errorf("code %q, want %q (message %q)", e.Error.Code, c.code, e.Error.Message)
			}
			rest := e.Error.Message
			for _, m := range c.msg {
				i := strings.Index(rest, m)
				if i < 0 {
					t.Errorf("message %q does not contain %q (after the earlier parts)", e.Error.Message, m)
					break
				}
				rest = rest[i+len(m):]
			}
			if c.field != "" && e.Error.Field != c.field {
				t.Errorf("field %q, want %q (message %q)", e.Error.Field, c.field, e.Error.Message)
			}
			switch {
			case c.where == "none":
				if e.Error.Index != nil || e.Error.Line != 0 {
					t.Errorf("index %v line %d, want neither", derefInt(e.Error.Index), e.Error.Line)
				}
			case strings.HasPrefix(c.where, "index:"):
				want, _ := strconv.Atoi(strings.TrimPrefix(c.where, "index:"))
				if e.Error.Index == nil || *e.Error.Index != want || e.Error.Line != 0 {
					t.Errorf("index %v line %d, want index %d and no line", derefInt(e.Error.Index), e.Error.Line, want)
				}
			case strings.HasPrefix(c.where, "line:"):
				want, _ := strconv.Atoi(strings.TrimPrefix(c.where, "line:"))
				if e.Error.Line != want || e.Error.Index != nil {
					t.Errorf("line %d index %v, want line %d and no index", e.Error.Line, derefInt(e.Error.Index), want)
				}
			}
			if n := mustCount(t, base); n != before {
				t.Errorf("count(*) is %d after the rejected request, was %d", n, before)
				before = n
			}
			for _, id := range c.absent {
				st, _, b, err := apiEntity(base, id, "")
				if err != nil {
					t.Fatal(err)
				}
				if st != http.StatusNotFound {
					t.Errorf("entity %q: status %d after a rejected request, want 404: %s", id, st, b)
				}
			}
			mustHealthy(t, base)
		})
	}

	// The limits are inclusive: values exactly at each one are accepted.
	t.Run("at the limits", func(t *testing.T) {
		before := mustCount(t, base)
		cases := []struct {
			name string
			ct   string
			body string
			n    int
		}{
			{"entity_id of 256 bytes", jsonCT, ev(long(256), "t"), 1},
			{"event_type of 128 bytes", jsonCT, ev("lim-type", long(128)), 1},
			{"payload plus metadata of exactly the limit", jsonCT, ev("lim-pm", "t", `"payload":`+padObject(512), `"metadata":`+padObject(512)), 1},
			{"payload of exactly the limit, no metadata", jsonCT, ev("lim-p", "t", `"payload":`+padObject(maxPayload)), 1},
			{"batch of exactly --max-batch-events", jsonCT, jsonArray(tooManyJSON[:maxBatch]...), maxBatch},
			{"NDJSON batch of exactly --max-batch-events", ndCT, ndjson(tooManyND[:maxBatch]...), maxBatch},
			{"body of exactly --max-body-bytes", jsonCT, func() string {
				b := jsonArray(ev("lim-body", "t"))
				return b + strings.Repeat(" ", maxBody-len(b))
			}(), 1},
		}
		for _, c := range cases {
			res, err := apiAppendAs(base, c.ct, "", c.body)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if res.Count != c.n {
				t.Errorf("%s: count %d, want %d", c.name, res.Count, c.n)
			}
			before += int64(res.Count)
		}
		if n := mustCount(t, base); n != before {
			t.Errorf("count(*) = %d, want %d", n, before)
		}
	})
	mustHealthy(t, base)
}

func derefInt(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

// ---------------------------------------------------------------------------
// 2. Slow client

func TestSlowClient(t *testing.T) {
	const readTimeout = 500 * time.Millisecond
	cfg := apiTestConfig(t, t.TempDir(), "--read-timeout", readTimeout.String())
	log := apiTestLogger(t)
	m := newMetrics()
	st, err := openStore(context.Background(), cfg, log, m)
	if err != nil {
		t.Fatal(err)
	}
	m.registerStore(st)
	srv := &http.Server{
		Handler:           newRouter(cfg, st, m, log, testAuth(t, cfg, log)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
	}
	if srv.ReadTimeout != readTimeout {
		t.Fatalf("--read-timeout parsed as %v", srv.ReadTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		if err := st.Close(ctx); err != nil {
			t.Errorf("close store: %v", err)
		}
		apiClient.CloseIdleConnections()
	})
	base := "http://" + ln.Addr().String()

	// The declared body is a complete, valid event padded with spaces to
	// 1000 bytes; only a prefix (holding the whole event) is ever sent, so a
	// server that acted on a short body would store "slow-*".
	slowBody := func(entity string) []byte {
		b := []byte(ev(entity, "t"))
		return append(b, bytes.Repeat([]byte(" "), 1000-len(b))...)
	}
	type slowResult struct {
		name    string
		elapsed time.Duration
		status  int   // 0: no response
		err     error // how the connection ended when there was no response
		body    string
	}
	runSlow := func(name string, trickle bool, out chan<- slowResult) {
		res := slowResult{name: name}
		defer func() { out <- res }()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			res.err = err
			res.status = -1
			return
		}
		defer conn.Close()
		body := slowBody(name)
		hdr := "POST /v1/events HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
		start := time.Now()
		if _, err := conn.Write(append([]byte(hdr), body[:100]...)); err != nil {
			res.err, res.status = err, -1
			return
		}
		stopTrickle := make(chan struct{})
		var trickleDone sync.WaitGroup
		if trickle {
			// One byte every 50 ms: never idle for long, but the whole
			// body would take 45 s.
			trickleDone.Add(1)
			go func() {
				defer trickleDone.Done()
				for i := 100; i < len(body); i++ {
					select {
					case <-stopTrickle:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write(body[i : i+1]); err != nil {
						return
					}
				}
			}()
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		res.elapsed = time.Since(start)
		close(stopTrickle)
		trickleDone.Wait()
		if err != nil {
			res.err = err
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res.status, res.body = resp.StatusCode, string(b)
	}

	before := mustCount(t, base)
	results := make(chan slowResult, 2)
	go runSlow("slow-stall", false, results)
	go runSlow("slow-trickle", true, results)

	// Meanwhile other clients are served.
	time.Sleep(50 * time.Millisecond)
	meanwhile := time.Now()
	res := mustAppend(t, base, jsonArray(ev("fast", "t"), ev("fast", "t")))
	if res.Count != 2 {
		t.Errorf("fast client stored %d events, want 2", res.Count)
	}
	mustHealthy(t, base)
	if n := mustCount(t, base); n != before+2 {
		t.Errorf("count %d, want %d", n, before+2)
	}
	if d := time.Since(meanwhile); d > 5*time.Second {
		t.Errorf("other clients took %v while slow clients stalled", d)
	}
	if len(results) > 0 {
		t.Logf("note: a slow request ended before the other clients were done; 'meanwhile' was not fully exercised")
	}

	for range 2 {
		r := <-results
		switch {
		case r.status == -1:
			t.Errorf("%s: could not send: %v", r.name, r.err)
		case r.status == 0:
			// Connection closed without a response: acceptable.
			t.Logf("%s: connection ended after %v: %v", r.name, r.elapsed, r.err)
			var ne net.Error
			if errors.As(r.err, &ne) && ne.Timeout() {
				t.Errorf("%s: the server neither answered nor closed the connection within %v (ReadTimeout %v)", r.name, r.elapsed, readTimeout)
			}
		case r.status >= 400 && r.status < 500:
			t.Logf("%s: %d after %v: %s", r.name, r.status, r.elapsed, r.body)
		default:
			t.Errorf("%s: status %d after %v, want a 4xx or a closed connection: %s", r.name, r.status, r.elapsed, r.body)
		}
		if r.elapsed > readTimeout+4*time.Second {
			t.Errorf("%s: the request failed only after %v; ReadTimeout is %v", r.name, r.elapsed, readTimeout)
		}
	}

	// Nothing of the slow requests was stored, and the server still works.
	for _, id := range []string{"slow-stall", "slow-trickle"} {
		if st, _, b, err := apiEntity(base, id, ""); err != nil || st != http.StatusNotFound {
			t.Errorf("entity %q: status %d err %v, want 404: %s", id, st, err, b)
		}
	}
	if n := mustCount(t, base); n != before+2 {
		t.Errorf("count %d after the slow clients, want %d", n, before+2)
	}
	mustAppend(t, base, ev("after", "t"))
	mustHealthy(t, base)
	if n := mustCount(t, base); n != before+3 {
		t.Errorf("count %d at the end, want %d", n, before+3)
	}
}

// ---------------------------------------------------------------------------
// 3. Atomic batch rejection

func TestAtomicBatchRejection(t *testing.T) {
	base, _ := startAPI(t)

	mustAppend(t, base, jsonArray(ev("acct-1", "opened"), ev("acct-1", "deposited"), ev("acct-3", "opened")))
	seed := mustAppend(t, base, ev("acct-2", "opened"))
	lastSeq := seed.LastSeq

	versionOf := func(entity string) uint64 {
		t.Helper()
		r := mustEntity(t, base, entity, "")
		return r.Events[len(r.Events)-1].Version
	}
	if v := versionOf("acct-1"); v != 2 {
		t.Fatalf("acct-1 at version %d, want 2", v)
	}

	// check409 posts a batch that must be refused whole. index is the
	// conflicting event's 0-based position (an NDJSON body may name it by
	// line instead: line index+1 here, as the bodies have no blank lines);
	// current lists the acceptable details.current_version values.
	check409 := func(name, ct, body string, index int, entity string, current ...uint64) {
		t.Helper()
		before := mustCount(t, base)
		v1, v2, v3 := versionOf("acct-1"), versionOf("acct-2"), versionOf("acct-3")
		st, raw, err := apiPostRaw(base, ct, "", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusConflict {
			t.Fatalf("%s: status %d, want 409: %s", name, st, raw)
		}
		e, err := apiDecodeError(raw)
		if err != nil {
			t.Fatal(err)
		}
		if e.Error.Code != "conflict" || e.Error.Field != "expected_version" {
			t.Errorf("%s: code %q field %q, want conflict / expected_version", name, e.Error.Code, e.Error.Field)
		}
		byIndex := e.Error.Index != nil && *e.Error.Index == index && strings.Contains(e.Error.Message, fmt.Sprintf("event %d", index))
		byLine := ct == "application/x-ndjson" && e.Error.Line == index+1 && strings.Contains(e.Error.Message, fmt.Sprintf("line %d", index+1))
		if !byIndex && !byLine {
			t.Errorf("%s: index %v line %d message %q, want event %d named", name, derefInt(e.Error.Index), e.Error.Line, e.Error.Message, index)
		}
		if !strings.Contains(e.Error.Message, entity) {
			t.Errorf("%s: message %q does not name entity %q", name, e.Error.Message, entity)
		}
		cv, ok := e.Error.Details["current_version"].(json.Number)
		if !ok {
			t.Errorf("%s: details.current_version missing: %s", name, raw)
		} else if n, err := cv.Int64(); err != nil || !slices.Contains(current, uint64(n)) {
			t.Errorf("%s: current_version %s, want one of %v", name, cv, current)
		}
		if n := mustCount(t, base); n != before {
			t.Errorf("%s: count %d after the rejected batch, want %d", name, n, before)
		}
		if a, b, c := versionOf("acct-1"), versionOf("acct-2"), versionOf("acct-3"); a != v1 || b != v2 || c != v3 {
			t.Errorf("%s: versions now %d/%d/%d, were %d/%d/%d", name, a, b, c, v1, v2, v3)
		}
	}

	// The batch's first two events are right (the second relies on the
	// first); the third expects acct-3 at 0 but it is at 1.
	bad := jsonArray(
		ev("acct-1", "withdrawn", `"expected_version":2`),
		ev("acct-1", "withdrawn", `"expected_version":3`),
		ev("acct-3", "closed", `"expected_version":0`),
		ev("acct-2", "noted"),
	)
	check409("JSON batch", "application/json", bad, 2, "acct-3", 1)
	// Same with NDJSON and with a conflict on the first event.
	check409("NDJSON batch", "application/x-ndjson", ndjson(
		ev("acct-2", "noted"),
		ev("acct-1", "withdrawn", `"expected_version":2`),
		ev("acct-2", "noted", `"expected_version":7`),
	), 2, "acct-2", 1, 2)
	check409("first event", "application/json", jsonArray(ev("acct-1", "x", `"expected_version":1`), ev("acct-2", "y")), 0, "acct-1", 2)
	// Inside the batch, versions advance: expecting acct-1 at 2 twice fails
	// on the second. Its current_version is 2 as stored or 3 as the batch
	// would have left it; either is accepted.
	check409("stale inside the batch", "application/json", jsonArray(
		ev("acct-1", "withdrawn", `"expected_version":2`),
		ev("acct-1", "withdrawn", `"expected_version":2`),
	), 1, "acct-1", 2, 3)

	// The corrected batch is stored whole, with contiguous seqs right after
	// the last stored one: the rejected batches used none.
	good := jsonArray(
		ev("acct-1", "withdrawn", `"expected_version":2`),
		ev("acct-1", "withdrawn", `"expected_version":3`),
		ev("acct-3", "closed", `"expected_version":1`),
		ev("acct-2", "noted"),
	)
	res := mustAppend(t, base, good)
	if res.Count != 4 || res.FirstSeq != lastSeq+1 || res.LastSeq != lastSeq+4 || len(res.Duplicates) != 0 {
		t.Errorf("corrected batch: %+v, want count 4, seqs %d..%d", res, lastSeq+1, lastSeq+4)
	}
	q := mustQuery(t, base, `SELECT seq, entity_id, version FROM events WHERE seq >= ? ORDER BY seq`, res.FirstSeq)
	want := [][]string{
		{strconv.FormatUint(lastSeq+1, 10), "acct-1", "3"},
		{strconv.FormatUint(lastSeq+2, 10), "acct-1", "4"},
		{strconv.FormatUint(lastSeq+3, 10), "acct-3", "2"},
		{strconv.FormatUint(lastSeq+4, 10), "acct-2", "2"},
	}
	if got := apiRowsAsStrings(q.Rows); !reflect.DeepEqual(got, want) {
		t.Errorf("stored batch:\n got %v\nwant %v", got, want)
	}
	if n := mustCount(t, base); n != 8 {
		t.Errorf("count %d, want 8", n)
	}
}

func apiRowsAsStrings(rows [][]any) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = apiCellString(v)
		}
	}
	return out
}

// apiCellString renders a decoded JSON cell the way the CSV output renders
// the same value.
func apiCellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// ---------------------------------------------------------------------------
// 4. Concurrent expected_version conflicts

func TestConcurrentVersionConflicts(t *testing.T) {
	base, _ := startAPI(t)
	const (
		workers  = 8
		attempts = 50
		entity   = "contended"
	)
	type attempt struct{ w, i int }
	var (
		mu          sync.Mutex
		acked       = map[attempt]uint64{} // -> seq
		oks, fails  atomic.Int64
		noCurrent   atomic.Int64
		seqs        = map[uint64]bool{}
		wg          sync.WaitGroup
		errs        = make(chan error, workers*attempts)
		startSignal = make(chan struct{})
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startSignal
			var seen uint64
			for i := range attempts {
				body := ev(entity, "inc", fmt.Sprintf(`"expected_version":%d`, seen), fmt.Sprintf(`"payload":{"w":%d,"i":%d}`, w, i))
				st, raw, err := apiPostRaw(base, "application/json", "", []byte(body))
				if err != nil {
					errs <- err
					return
				}
				switch st {
				case http.StatusOK:
					var r apiAppendResult
					if err := json.Unmarshal(raw, &r); err != nil || r.Count != 1 || r.FirstSeq != r.LastSeq {
						errs <- fmt.Errorf("worker %d: bad 200 body %s (%v)", w, raw, err)
						return
					}
					oks.Add(1)
					seen++
					mu.Lock()
					acked[attempt{w, i}] = r.FirstSeq
					if seqs[r.FirstSeq] {
						errs <- fmt.Errorf("seq %d acknowledged twice", r.FirstSeq)
					}
					seqs[r.FirstSeq] = true
					mu.Unlock()
				case http.StatusConflict:
					fails.Add(1)
					e, err := apiDecodeError(raw)
					if err != nil {
						errs <- err
						return
					}
					if e.Error.Code != "conflict" {
						errs <- fmt.Errorf("409 with code %q", e.Error.Code)
					}
					cv, ok := e.Error.Details["current_version"].(json.Number)
					if !ok {
						noCurrent.Add(1)
						// Fall back to reading the entity.
						_, r, _, err := apiEntity(base, entity, "limit=100000")
						if err != nil || len(r.Events) == 0 {
							errs <- fmt.Errorf("no current_version and GET failed: %v", err)
							return
						}
						seen = r.Events[len(r.Events)-1].Version
						continue
					}
					n, err := cv.Int64()
					if err != nil || n < 0 {
						errs <- fmt.Errorf("bad current_version %s", cv)
						return
					}
					if uint64(n) <= seen {
						errs <- fmt.Errorf("worker %d: 409 for expected_version %d with current_version %d: versions only rise", w, seen, n)
					}
					seen = uint64(n)
				default:
					errs <- fmt.Errorf("worker %d: status %d: %s", w, st, raw)
					return
				}
			}
		}()
	}
	close(startSignal)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d acknowledged, %d conflicts", oks.Load(), fails.Load())
	if oks.Load()+fails.Load() != workers*attempts {
		t.Fatalf("%d answers, want %d", oks.Load()+fails.Load(), workers*attempts)
	}
	if noCurrent.Load() != 0 {
		t.Errorf("%d conflicts without details.current_version", noCurrent.Load())
	}
	if fails.Load() == 0 {
		t.Errorf("no conflicts at all among %d concurrent writers: the test did not contend", workers)
	}

	r := mustEntity(t, base, entity, "limit=100000")
	n := oks.Load()
	if int64(len(r.Events)) != n {
		t.Errorf("entity has %d events, %d were acknowledged", len(r.Events), n)
	}
	got := map[attempt]uint64{}
	for i, e := range r.Events {
		if e.Version != uint64(i+1) {
			t.Errorf("event %d has version %d, want %d (versions must be 1..N without gaps)", i, e.Version, i+1)
			break
		}
		var p struct{ W, I int }
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", e.Payload, err)
		}
		got[attempt{p.W, p.I}] = e.Seq
	}
	if !reflect.DeepEqual(got, acked) {
		t.Errorf("stored events (attempt -> seq) differ from acknowledged ones:\n got %v\nwant %v", got, acked)
	}
	if c := mustScalarInt(t, base, `SELECT count(DISTINCT version) FROM events WHERE entity_id = ? AND version BETWEEN 1 AND ?`, entity, n); c != n {
		t.Errorf("SQL sees %d distinct versions in 1..%d", c, n)
	}
	if c := mustCount(t, base); c != n {
		t.Errorf("count(*) %d, want %d", c, n)
	}
}

// ---------------------------------------------------------------------------
// 5. Read your writes across flushes

func TestReadYourWrites(t *testing.T) {
	a := startAPIAt(t, t.TempDir(), "--flush-rows", "150")
	base := a.URL
	const (
		writers    = 8
		iterations = 100
	)
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
		errs  = make(chan error, 100)
		done  = make(chan struct{})
	)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entity := fmt.Sprintf("ryw-%d", w)
			for i := range iterations {
				res, err := apiAppend(base, ev(entity, "tick", fmt.Sprintf(`"payload":{"i":%d}`, i)))
				if err != nil {
					report(err)
					return
				}
				if res.Count != 1 {
					report(fmt.Errorf("%s: count %d", entity, res.Count))
					return
				}
				acked.Add(1)
				want := int64(i + 1)
				n, err := apiScalarInt(base, `SELECT count(*) FROM events WHERE entity_id = ?`, entity)
				if err != nil {
					report(err)
					return
				}
				if n != want {
					report(fmt.Errorf("%s: after %d acknowledged events the query counts %d", entity, want, n))
				}
				st, r, b, err := apiEntity(base, entity, "limit=100000")
				if err != nil || st != http.StatusOK {
					report(fmt.Errorf("%s: GET entity: %d %v %s", entity, st, err, b))
					return
				}
				if int64(len(r.Events)) != want || r.Events[len(r.Events)-1].Version != uint64(want) || r.Events[len(r.Events)-1].Seq != res.LastSeq {
					report(fmt.Errorf("%s: after %d acknowledged events (last seq %d) GET returns %d events", entity, want, res.LastSeq, len(r.Events)))
				}
			}
		}()
	}
	// A reader checks exactly-once while flushes swap generations for files.
	var checks atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-done:
				return
			default:
			}
			floor := acked.Load()
			res, err := apiQuery(base, `SELECT count(*), count(DISTINCT seq) FROM events`)
			if err != nil {
				report(err)
				return
			}
			total, _ := res.Rows[0][0].(json.Number).Int64()
			distinct, _ := res.Rows[0][1].(json.Number).Int64()
			if total != distinct {
				report(fmt.Errorf("exactly-once broken mid-flight: count %d, distinct seqs %d", total, distinct))
			}
			if total < floor {
				report(fmt.Errorf("query sees %d events, %d were already acknowledged", total, floor))
			}
			checks.Add(1)
		}
	}()
	wg.Wait()
	close(done)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent exactly-once checks", checks.Load())

	// Flushes to Parquet happened (wait for the last frozen ones).
	deadline := time.Now().Add(20 * time.Second)
	for a.st.wh.Stats().Files == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s := a.st.wh.Stats()
	t.Logf("warehouse: %d files, flushed seq %d, %d hot rows", s.Files, s.FlushedSeq, s.HotRows)
	if s.Files == 0 || s.FlushedSeq == 0 {
		t.Errorf("no flush to Parquet happened with --flush-rows 150 (stats %+v)", s)
	}
	const total = writers * iterations
	res := mustQuery(t, base, `SELECT count(*) = count(DISTINCT seq), count(*), min(seq), max(seq) FROM events`)
	if got := apiRowsAsStrings(res.Rows); !reflect.DeepEqual(got, [][]string{{"true", strconv.Itoa(total), "1", strconv.Itoa(total)}}) {
		t.Errorf("exactly-once: got %v, want [[true %d 1 %d]]", got, total, total)
	}
	for w := range writers {
		entity := fmt.Sprintf("ryw-%d", w)
		res := mustQuery(t, base, `SELECT count(*), min(version), max(version), count(DISTINCT version) FROM events WHERE entity_id = ?`, entity)
		if got := apiRowsAsStrings(res.Rows); !reflect.DeepEqual(got, [][]string{{"100", "1", "100", "100"}}) {
			t.Errorf("%s: got %v, want [[100 1 100 100]]", entity, got)
		}
	}
}

// ---------------------------------------------------------------------------
// 6. Duplicate ids

func TestDuplicateIDs(t *testing.T) {
	dir := t.TempDir()
	api := startAPIAt(t, dir)
	base := api.URL

	const (
		id1 = "0190a1b2-0000-7000-8000-000000000001"
		id2 = "0190a1b2-0000-7000-8000-000000000002"
		id3 = "0190a1b2-0000-7000-8000-000000000003"
		id4 = "0190a1b2-0000-7000-8000-000000000004"
		id5 = "0190a1b2-0000-7000-8000-000000000005"
		id6 = "0190a1b2-0000-7000-8000-000000000006"
		id7 = "0190a1b2-0000-7000-8000-000000000007"
	)
	withID := func(entity, id string, extra ...string) string {
		return ev(entity, "t", append([]string{fmt.Sprintf(`"id":%q`, id)}, extra...)...)
	}
	batchA := jsonArray(withID("dup-a", id1), withID("dup-a", id2), withID("dup-b", id3))

	first := mustAppend(t, base, batchA)
	if first.Count != 3 || first.LastSeq != first.FirstSeq+2 || len(first.Duplicates) != 0 {
		t.Fatalf("first post: %+v", first)
	}
	s1, s2, s3 := first.FirstSeq, first.FirstSeq+1, first.FirstSeq+2
	wantA := []apiDuplicate{{0, id1, s1}, {1, id2, s2}, {2, id3, s3}}

	expectDups := func(name, query, body string, count int, want []apiDuplicate) apiAppendResult {
		t.Helper()
		res, err := apiAppendAs(base, "application/json", query, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Count != count {
			t.Errorf("%s: count %d, want %d", name, res.Count, count)
		}
		if !reflect.DeepEqual(res.Duplicates, want) {
			t.Errorf("%s: duplicates\n got %+v\nwant %+v", name, res.Duplicates, want)
		}
		return res
	}
	entityVersion := func(entity string) uint64 {
		t.Helper()
		r := mustEntity(t, base, entity, "")
		return r.Events[len(r.Events)-1].Version
	}

	// Re-posting the batch stores nothing and names the original seqs.
	expectDups("re-post", "", batchA, 0, wantA)
	if v := entityVersion("dup-a"); v != 2 {
		t.Errorf("dup-a at version %d after the re-post, want 2", v)
	}
	// A mixed batch stores only the new event.
	mixed := expectDups("mixed", "", jsonArray(withID("dup-a", id1), withID("dup-c", id4)), 1, []apiDuplicate{{0, id1, s1}})
	if mixed.FirstSeq != s3+1 || mixed.LastSeq != s3+1 {
		t.Errorf("mixed batch: seqs %d..%d, want %d", mixed.FirstSeq, mixed.LastSeq, s3+1)
	}
	// The same id written differently (upper case) is the same id.
	expectDups("upper-case id", "", withID("dup-a", strings.ToUpper(id1)), 0, []apiDuplicate{{0, id1, s1}})
	// The same id twice in one batch: stored once, the second reported as a
	// duplicate of the first's seq.
	twice := mustAppend(t, base, jsonArray(withID("dup-d", id5, `"payload":{"n":"first"}`), withID("dup-d", id5, `"payload":{"n":"second"}`)))
	if twice.Count != 1 || twice.FirstSeq != twice.LastSeq || !reflect.DeepEqual(twice.Duplicates, []apiDuplicate{{1, id5, twice.FirstSeq}}) {
		t.Errorf("same id twice in a batch: %+v, want count 1 and duplicate {1 %s %d}", twice, id5, twice.FirstSeq)
	}
	s5 := twice.FirstSeq
	if r := mustEntity(t, base, "dup-d", ""); len(r.Events) != 1 || !jsonEqual(r.Events[0].Payload, []byte(`{"n":"first"}`)) || r.Events[0].Seq != s5 {
		t.Errorf("same id twice: stored %+v, want only the first", r.Events)
	}
	if n := mustScalarInt(t, base, `SELECT count(*) FROM events WHERE id = ?`, id5); n != 1 {
		t.Errorf("id %s stored %d times", id5, n)
	}

	// Tenant-scoped: the same id under another tenant is a different event.
	other := expectDups("other tenant", "", withID("dup-a", id1, `"tenant":"other"`), 1, []apiDuplicate{})
	sOther := other.FirstSeq
	expectDups("other tenant again", "", withID("dup-a", id1, `"tenant":"other"`), 0, []apiDuplicate{{0, id1, sOther}})
	expectDups("other tenant via query", "tenant=other", withID("dup-a", id1), 0, []apiDuplicate{{0, id1, sOther}})
	// ... and the default tenant's ids are still remembered.
	expectDups("re-post after the other tenant", "", batchA, 0, wantA)
	if n := mustScalarInt(t, base, `SELECT count(*) FROM events WHERE id = ?`, id1); n != 2 {
		t.Errorf("id %s stored %d times, want 2 (one per tenant)", id1, n)
	}

	// After a clean restart the ids are still known.
	api.Close()
	api = startAPIAt(t, dir)
	base = api.URL
	expectDups("re-post after restart", "", batchA, 0, wantA)
	expectDups("in-batch duplicate after restart", "", withID("dup-d", id5), 0, []apiDuplicate{{0, id5, s5}})
	expectDups("other tenant after restart", "tenant=other", withID("dup-a", id1), 0, []apiDuplicate{{0, id1, sOther}})

	// After a restart without the final flush, ids are rebuilt from the WAL.
	b := mustAppend(t, base, jsonArray(withID("dup-e", id6), withID("dup-e", id7)))
	api.CrashClose()
	api = startAPIAt(t, dir)
	base = api.URL
	expectDups("re-post after WAL replay", "", jsonArray(withID("dup-e", id6), withID("dup-e", id7)), 0,
		[]apiDuplicate{{0, id6, b.FirstSeq}, {1, id7, b.FirstSeq + 1}})
	expectDups("first batch after WAL replay", "", batchA, 0, wantA)

	// Exactly the distinct (tenant, id) pairs are stored.
	res := mustQuery(t, base, `SELECT count(*), count(DISTINCT (tenant_id, id)) FROM events`)
	if got := apiRowsAsStrings(res.Rows); !reflect.DeepEqual(got, [][]string{{"8", "8"}}) {
		t.Errorf("stored events: got %v, want [[8 8]]", got)
	}
}

// ---------------------------------------------------------------------------
// 7. Query formats and the read-only guard

func TestQueryFormatsAndReadOnly(t *testing.T) {
	base, _ := startAPI(t)

	mustAppend(t, base, jsonArray(
		ev("q-1", "created", `"timestamp":"2026-01-02T03:04:05.123456Z"`, `"payload":{"n":1,"s":"plain"}`),
		ev("q-1", "updated", `"timestamp":"2026-01-02T03:04:06Z"`, `"payload":{"n":2,"s":"comma, \"quote\"\nnewline"}`),
		ev(`q,"2"`, "created", `"timestamp":1767323045000`, `"payload":{"n":3,"s":"ünïcødé ✓","nested":{"a":[1,2,{"b":null}]}}`),
		ev("q-1", "deleted", `"timestamp":"2026-01-02T03:04:07Z"`),
	))

	const q = `SELECT seq, entity_id, event_type, version, "timestamp", payload->>'s' AS s,
		CAST(payload->>'n' AS INTEGER) * 1.5 AS half, payload->>'missing' AS missing, version > 1 AS later,
		sum(version) OVER (ORDER BY seq) AS running, payload
		FROM events WHERE version >= ? ORDER BY seq`

	// JSON.
	st, h, raw, err := apiQueryRaw(base, "application/json", q, 1)
	if err != nil || st != http.StatusOK {
		t.Fatalf("JSON query: %d %v %s", st, err, raw)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("JSON Content-Type %q", ct)
	}
	var jr apiQueryResult
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&jr); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if jr.RowCount != 4 || len(jr.Rows) != 4 || jr.Error != nil {
		t.Fatalf("JSON result: row_count %d, %d rows, error %s", jr.RowCount, len(jr.Rows), jr.Error)
	}
	names := make([]string, len(jr.Columns))
	jsonCol := make([]bool, len(jr.Columns))
	for i, c := range jr.Columns {
		names[i] = c.Name
		jsonCol[i] = c.Type == "JSON"
		if c.Type == "" {
			t.Errorf("column %q has no type", c.Name)
		}
	}
	if want := []string{"seq", "entity_id", "event_type", "version", "timestamp", "s", "half", "missing", "later", "running", "payload"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("columns %v, want %v", names, want)
	}
	// Spot checks of typed values.
	if r := jr.Rows[0]; r[1] != "q-1" || r[3] != json.Number("1") || r[4] != "2026-01-02T03:04:05.123456Z" || r[7] != nil || r[8] != false {
		t.Errorf("first row %v", r)
	}
	if r := jr.Rows[1]; r[5] != "comma, \"quote\"\nnewline" || r[6] != json.Number("3") && r[6] != json.Number("3.0") {
		t.Errorf("second row %v", r)
	}
	if r := jr.Rows[2]; r[1] != `q,"2"` || r[4] != "2026-01-02T03:04:05Z" || r[5] != "ünïcødé ✓" {
		t.Errorf("third row %v", r)
	}
	canon := func(col int, s string) string {
		if !jsonCol[col] || s == "" {
			return s
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return "unparsable JSON: " + s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	want := apiRowsAsStrings(jr.Rows)
	for i := range want {
		for j := range want[i] {
			want[i][j] = canon(j, want[i][j])
		}
	}

	// CSV.
	st, h, raw, err = apiQueryRaw(base, "text/csv", q, 1)
	if err != nil || st != http.StatusOK {
		t.Fatalf("CSV query: %d %v %s", st, err, raw)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV Content-Type %q", ct)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %s: %v", raw, err)
	}
	if len(recs) == 0 || !reflect.DeepEqual(recs[0], names) {
		t.Fatalf("CSV header %v, want %v", recs, names)
	}
	got := recs[1:]
	for i := range got {
		for j := range got[i] {
			got[i][j] = canon(j, got[i][j])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CSV rows differ from JSON rows:\n csv %q\njson %q", got, want)
	}

	// NDJSON.
	st, h, raw, err = apiQueryRaw(base, "application/x-ndjson", q, 1)
	if err != nil || st != http.StatusOK {
		t.Fatalf("NDJSON query: %d %v %s", st, err, raw)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Errorf("NDJSON Content-Type %q", ct)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) != len(jr.Rows) {
		t.Fatalf("NDJSON has %d lines, want %d: %s", len(lines), len(jr.Rows), raw)
	}
	for i, l := range lines {
		var obj map[string]any
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&obj); err != nil {
			t.Fatalf("NDJSON line %d %q: %v", i+1, l, err)
		}
		if len(obj) != len(names) {
			t.Errorf("NDJSON line %d has keys %v", i+1, obj)
		}
		row := make([]any, len(names))
		for j, n := range names {
			row[j] = obj[n]
		}
		if !reflect.DeepEqual(row, jr.Rows[i]) {
			t.Errorf("NDJSON row %d differs:\nndjson %v\n  json %v", i, row, jr.Rows[i])
		}
	}

	// Params.
	paramCases := []struct {
		sql    string
		params []any
		want   int64
	}{
		{`SELECT count(*) FROM events WHERE entity_id = ? AND version >= ?`, []any{"q-1", 2}, 2},
		{`SELECT count(*) FROM events WHERE entity_id = ?`, []any{`q,"2"`}, 1},
		{`SELECT count(*) FROM events WHERE entity_id = ?`, []any{"q-1' OR '1'='1"}, 0},
		{`SELECT count(*) FROM events WHERE payload->>'s' = ? AND ?`, []any{"plain", true}, 1},
		{`SELECT count(*) FROM events WHERE CAST(payload->>'n' AS DOUBLE) > ?`, []any{1.5}, 2},
		{`SELECT count(*) FROM events WHERE $2 = 'x' AND entity_id = $1`, []any{"q-1", "x"}, 3},
	}
	for _, c := range paramCases {
		if n := mustScalarInt(t, base, c.sql, c.params...); n != c.want {
			t.Errorf("%s %v: %d, want %d", c.sql, c.params, n, c.want)
		}
	}
	if st, _, raw, _ := apiQueryRaw(base, "", `SELECT count(*) FROM events WHERE entity_id = ?`); st != http.StatusBadRequest {
		t.Errorf("missing parameter: status %d, want 400: %s", st, raw)
	}

	// The read-only guard.
	copyTarget := filepath.Join(t.TempDir(), "out.csv")
	attachTarget := filepath.Join(t.TempDir(), "x.duckdb")
	refused := []struct {
		name string
		sql  string
		msg  string // lower-case substring
	}{
		{"DELETE", `DELETE FROM events`, "only select"},
		{"UPDATE", `UPDATE events SET version = 0`, "only select"},
		{"INSERT", `INSERT INTO events SELECT * FROM events`, "only select"},
		{"CREATE TABLE AS", `CREATE TABLE x AS SELECT * FROM events`, "only select"},
		{"DROP VIEW", `DROP VIEW events`, "only select"},
		{"COPY TO", `COPY (SELECT * FROM events) TO '` + copyTarget + `'`, "only select"},
		{"COPY table TO", `COPY events TO '` + copyTarget + `' (FORMAT CSV)`, "only select"},
		{"ATTACH", `ATTACH '` + attachTarget + `' AS x`, "only select"},
		{"PRAGMA", `PRAGMA database_list`, "only select"},
		{"SET", `SET threads = 1`, "only select"},
		{"INSTALL", `INSTALL httpfs`, "only select"},
		{"LOAD", `LOAD httpfs`, "only select"},
		{"read_csv", `SELECT * FROM read_csv('/etc/passwd')`, "not allowed"},
		{"READ_CSV upper case", `SELECT * FROM READ_CSV('/etc/passwd')`, "not allowed"},
		{"read_text", `SELECT * FROM read_text('/etc/passwd')`, "not allowed"},
		{"read_csv in a subquery", `SELECT count(*) FROM events WHERE entity_id IN (SELECT column0 FROM read_csv('/etc/passwd', header=false))`, "not allowed"},
		{"read_csv in a CTE", `WITH p AS (SELECT * FROM read_csv_auto('/etc/passwd')) SELECT * FROM p`, "not allowed"},
		{"FROM-first read_csv", `FROM read_csv('/etc/passwd')`, "not allowed"},
		{"file as table", `SELECT * FROM '/etc/passwd'`, "not allowed"},
		{"glob", `SELECT * FROM glob('/etc/*')`, "not allowed"},
		{"getenv", `SELECT getenv('HOME')`, "not allowed"},
		{"internal schema", `SELECT * FROM _hot.gen_1`, "internal"},
		{"two statements", `SELECT 1; SELECT 2`, "exactly one statement"},
		{"select then delete", `SELECT 1; DELETE FROM events`, ""},
	}
	before := mustCount(t, base)
	for _, c := range refused {
		st, _, raw, err := apiQueryRaw(base, "", c.sql)
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", c.name, st, raw)
			continue
		}
		e, err := apiDecodeError(raw)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if e.Error.Code != "invalid" || !strings.Contains(strings.ToLower(e.Error.Message), c.msg) {
			t.Errorf("%s: code %q message %q, want invalid and %q", c.name, e.Error.Code, e.Error.Message, c.msg)
		}
		if strings.Contains(e.Error.Message, "root:") {
			t.Errorf("%s: message leaks file content: %q", c.name, e.Error.Message)
		}
	}
	if n := mustCount(t, base); n != before {
		t.Errorf("count %d after refused statements, want %d", n, before)
	}
	for _, p := range []string{copyTarget, attachTarget} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created by a refused statement", p)
		}
	}
	mustQuery(t, base, `SELECT * FROM events LIMIT 1`) // the view is intact

	// A syntax error names where DuckDB found it.
	st, _, raw, err = apiQueryRaw(base, "", "SELECT entity_id FROM events WHERE AND version = 1")
	if err != nil {
		t.Fatal(err)
	}
	e, derr := apiDecodeError(raw)
	if st != http.StatusBadRequest || derr != nil || e.Error.Code != "invalid" {
		t.Fatalf("syntax error: status %d: %s (%v)", st, raw, derr)
	}
	if !strings.Contains(e.Error.Message, `syntax error at or near "AND"`) {
		t.Errorf("syntax error message %q does not name the token", e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, "(line 1, column 36)") {
		t.Errorf("syntax error message %q does not give the position (DuckDB reports it at character 36, `LINE 1: ...`)", e.Error.Message)
	}
	// Bad request bodies.
	for _, body := range []string{`{"sql":1}`, `{"query":"SELECT 1"}`, `not json`, `{"sql":""}`, `{"sql":"SELECT ?","params":[{]}`} {
		st, _, raw, err := apiRequest(http.MethodPost, base+"/v1/query", map[string]string{"Content-Type": "application/json"}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusBadRequest {
			t.Errorf("query body %s: status %d, want 400: %s", body, st, raw)
		}
	}
}

// ---------------------------------------------------------------------------
// 8. Entity endpoint

func TestEntityEndpoint(t *testing.T) {
	base, _ := startAPI(t)

	// ent-1 gets five events over three batches, interleaved with ent-2;
	// its timestamps do not follow its versions.
	stamps := []string{"2026-03-01T00:00:05Z", "2026-03-01T00:00:01Z", "2026-03-01T00:00:04Z", "2026-03-01T00:00:02Z", "2026-03-01T00:00:03Z"}
	e1 := func(v int) string {
		return ev("ent-1", fmt.Sprintf("type-%d", v), fmt.Sprintf(`"timestamp":%q`, stamps[v-1]), fmt.Sprintf(`"payload":{"v":%d}`, v), `"metadata":{"src":"test"}`)
	}
	mustAppend(t, base, jsonArray(ev("ent-2", "x"), e1(1), ev("ent-2", "x")))
	mustAppend(t, base, jsonArray(e1(2), ev("ent-2", "x"), e1(3)))
	mustAppendND(t, base, e1(4), ev("ent-2", "x"), e1(5))
	mustAppend(t, base, ev("ent-1", "elsewhere", `"tenant":"other"`))

	versions := func(r apiEntityResponse) []uint64 {
		out := []uint64{}
		for _, e := range r.Events {
			out = append(out, e.Version)
		}
		return out
	}

	all := mustEntity(t, base, "ent-1", "")
	if all.EntityID != "ent-1" || all.Tenant != "default" {
		t.Errorf("entity %q tenant %q", all.EntityID, all.Tenant)
	}
	if got := versions(all); !reflect.DeepEqual(got, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("versions %v, want 1..5", got)
	}
	var lastSeq uint64
	for i, e := range all.Events {
		v := i + 1
		if e.Seq <= lastSeq {
			t.Errorf("version %d has seq %d, not above the previous %d", v, e.Seq, lastSeq)
		}
		lastSeq = e.Seq
		ts, _ := time.Parse(time.RFC3339, stamps[i])
		if e.EntityID != "ent-1" || e.Tenant != "default" || e.EventType != fmt.Sprintf("type-%d", v) || !e.Timestamp.Equal(ts) ||
			!jsonEqual(e.Payload, []byte(fmt.Sprintf(`{"v":%d}`, v))) || !jsonEqual(e.Metadata, []byte(`{"src":"test"}`)) || e.ID == "" || e.IngestedAt.IsZero() {
			t.Errorf("version %d: %+v", v, e)
		}
	}

	for _, c := range []struct {
		query string
		want  []uint64
	}{
		{"from_version=3", []uint64{3, 4, 5}},
		{"from_version=1", []uint64{1, 2, 3, 4, 5}},
		{"from_version=0", []uint64{1, 2, 3, 4, 5}},
		{"limit=2", []uint64{1, 2}},
		{"from_version=2&limit=2", []uint64{2, 3}},
		{"from_version=5&limit=100000", []uint64{5}},
		{"from_version=6", []uint64{}},
		{"tenant=default&from_version=4", []uint64{4, 5}},
	} {
		if got := versions(mustEntity(t, base, "ent-1", c.query)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("?%s: versions %v, want %v", c.query, got, c.want)
		}
	}
	if r := mustEntity(t, base, "ent-1", "tenant=other"); len(r.Events) != 1 || r.Events[0].EventType != "elsewhere" || r.Tenant != "other" {
		t.Errorf("tenant other: %+v", r)
	}

	notFound := []struct{ entity, query string }{
		{"no-such-entity", ""},
		{"ENT-1", ""},
		{"ent-1", "tenant=nobody"},
		{"ent-2", "tenant=other"},
	}
	for _, c := range notFound {
		st, _, raw, err := apiEntity(base, c.entity, c.query)
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusNotFound {
			t.Errorf("%q ?%s: status %d, want 404: %s", c.entity, c.query, st, raw)
			continue
		}
		if e, err := apiDecodeError(raw); err != nil || e.Error.Code != "not_found" || !strings.Contains(e.Error.Message, c.entity) {
			t.Errorf("%q ?%s: error %+v (%v), want not_found naming the entity", c.entity, c.query, e.Error, err)
		}
	}

	bad := []struct{ query, field string }{
		{"limit=abc", "limit"},
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=100001", "limit"},
		{"limit=1.5", "limit"},
		{"from_version=x", "from_version"},
		{"from_version=-2", "from_version"},
	}
	for _, c := range bad {
		st, _, raw, err := apiEntity(base, "ent-1", c.query)
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusBadRequest {
			t.Errorf("?%s: status %d, want 400: %s", c.query, st, raw)
			continue
		}
		if e, err := apiDecodeError(raw); err != nil || e.Error.Code != "invalid" || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.field) {
			t.Errorf("?%s: error %+v (%v), want invalid naming %s", c.query, e.Error, err, c.field)
		}
	}

	// Entity ids may hold any printable character; the endpoint must reach
	// them when they are path-escaped.
	for _, id := range []string{"order/42", "a b", "x?y#z", "ünï", "100%", "a.b", ".."} {
		mustAppend(t, base, ev(id, "odd"))
		st, r, raw, err := apiEntity(base, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusOK || r.EntityID != id || len(r.Events) != 1 || r.Events[0].EntityID != id {
			t.Errorf("entity %q (GET /v1/entities/%s/events): status %d: %s", id, url.PathEscape(id), st, raw)
		}
	}
}

// mustAppendND posts lines as one NDJSON batch and requires 200.
func mustAppendND(t testing.TB, base string, lines ...string) apiAppendResult {
	t.Helper()
	res, err := apiAppendAs(base, "application/x-ndjson", "", ndjson(lines...))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ---------------------------------------------------------------------------
// 9. Metrics and health

func TestMetricsAndHealth(t *testing.T) {
	base, _ := startAPI(t)

	mustHealthy(t, base)
	metrics := func() string {
		t.Helper()
		st, h, b, err := apiRequest(http.MethodGet, base+"/metrics", nil, nil)
		if err != nil || st != http.StatusOK {
			t.Fatalf("GET /metrics: %d %v", st, err)
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("/metrics Content-Type %q", ct)
		}
		return string(b)
	}
	if v, ok := apiMetric(metrics(), "allsource_events_ingested_total"); !ok || v != 0 {
		t.Errorf("allsource_events_ingested_total before ingest: %v %v, want 0", v, ok)
	}

	mustAppend(t, base, jsonArray(ev("m-1", "a"), ev("m-1", "b"), ev("m-2", "a")))
	mustAppend(t, base, ev("m-3", "a", `"id":"0190a1b2-0000-7000-8000-00000000000a"`))
	mustAppendND(t, base, ev("m-4", "a"), ev("m-4", "b"), ev("m-4", "c"))
	// Not counted: a duplicate, an invalid batch, a conflict.
	if r := mustAppend(t, base, ev("m-3", "a", `"id":"0190a1b2-0000-7000-8000-00000000000a"`)); r.Count != 0 {
		t.Errorf("duplicate stored: %+v", r)
	}
	if st, raw, _ := apiPostRaw(base, "application/json", "", []byte(`{"entity_id":"m-5"}`)); st != 400 {
		t.Errorf("invalid: %d %s", st, raw)
	}
	if st, raw, _ := apiPostRaw(base, "application/json", "", []byte(ev("m-1", "c", `"expected_version":0`))); st != 409 {
		t.Errorf("conflict: %d %s", st, raw)
	}
	// 7 events stored in 4 accepted batches (one all duplicates).
	const stored = 7

	m := metrics()
	for _, c := range []struct {
		name string
		want float64
		cmp  string // "==" or ">"
	}{
		{"allsource_events_ingested_total", stored, "=="},
		{"allsource_hot_rows", stored, "=="},
		{"allsource_wal_fsync_seconds_count", 0, ">"},
		{"allsource_group_commit_seconds_count", 0, ">"},
		{"allsource_batches_ingested_total", 4, "=="},
		{`allsource_batches_rejected_total{code="conflict"}`, 1, "=="},
		{`allsource_batches_rejected_total{code="invalid"}`, 1, "=="},
		{`allsource_http_requests_total{route="/v1/events",status="409"}`, 1, "=="},
		{"allsource_wal_bytes", 0, ">"},
	} {
		v, ok := apiMetric(m, c.name)
		switch {
		case !ok:
			t.Errorf("%s missing from /metrics", c.name)
		case c.cmp == "==" && v != c.want:
			t.Errorf("%s = %v, want %v", c.name, v, c.want)
		case c.cmp == ">" && !(v > c.want):
			t.Errorf("%s = %v, want > %v", c.name, v, c.want)
		}
	}
	if n := mustCount(t, base); n != stored {
		t.Errorf("count(*) %d, want %d", n, stored)
	}
	// A funnel by event types is answered from the event columns.
	if st := postAnalytics(t, base, "/v1/analytics/funnel", `{"steps":["a","b"],"window":"1h"}`, nil); st != http.StatusOK {
		t.Errorf("funnel: HTTP %d", st)
	}
	if v, ok := apiMetric(metrics(), "allsource_column_scans_total"); !ok || v != 1 {
		t.Errorf("allsource_column_scans_total after one funnel: %v %v, want 1", v, ok)
	}

	st, _, b, err := apiRequest(http.MethodGet, base+"/readyz", nil, nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("/readyz: %d %v %s", st, err, b)
	}
	var ready struct {
		Status  string `json:"status"`
		HotRows int64  `json:"hot_rows"`
	}
	if err := json.Unmarshal(b, &ready); err != nil || ready.Status != "ready" || ready.HotRows != stored {
		t.Errorf("/readyz body %s, want status ready and hot_rows %d", b, stored)
	}
	mustHealthy(t, base)
	st, _, b, err = apiRequest(http.MethodGet, base+"/no/such/path", nil, nil)
	if err != nil || st != http.StatusNotFound {
		t.Errorf("unknown path: %d %v %s", st, err, b)
	} else if e, err := apiDecodeError(b); err != nil || e.Error.Code != "not_found" {
		t.Errorf("unknown path: body %s", b)
	}
}

// apiMetric finds one sample in Prometheus text output. name may include
// labels exactly as exposed, e.g. `x_total{code="conflict"}`.
func apiMetric(text, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v, err == nil
	}
	return 0, false
}
