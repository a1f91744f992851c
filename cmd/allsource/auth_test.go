package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allsource/allsource/authz"
)

// authServer is a server with authentication on: HTTP and pgwire, and the
// credentials of two tenants.
type authServer struct {
	url, pg string
	dir     string
	st      *store
	au      *auth
	stop    func()
	keys    map[string]string // name → API key
	secret  []byte
	keyIDs  map[string]string
}

// startAuthServer starts it; without throttle, failed logins do not lock
// the test's own address out.
func startAuthServer(t *testing.T, throttle bool) *authServer {
	t.Helper()
	as := makeKeys(t, t.TempDir())
	as.serve(t, throttle)
	return as
}

// makeKeys makes the test credentials in dir.
func makeKeys(t *testing.T, dir string) *authServer {
	t.Helper()
	ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	as := &authServer{dir: dir, keys: map[string]string{}, keyIDs: map[string]string{}}
	for _, k := range []struct {
		name, tenant string
		roles        []string
	}{
		{"acme", "acme", []string{authz.RoleWriter, authz.RoleAnalyst}},
		{"acme-reader", "acme", []string{authz.RoleReader}},
		{"beta", "beta", []string{authz.RoleWriter, authz.RoleAnalyst}},
		{"beta-writer", "beta", []string{authz.RoleWriter}},
		{"acme-admin", "acme", []string{authz.RoleTenantAdmin}},
		{"admin", "*", []string{authz.RoleAdmin}},
	} {
		key, rec, err := ks.Create(k.name, k.tenant, k.roles, 0)
		if err != nil {
			t.Fatal(err)
		}
		as.keys[k.name], as.keyIDs[k.name] = key, rec.ID
	}
	if as.secret, err = authz.LoadOrCreateSecret(authz.SecretFile(dir)); err != nil {
		t.Fatal(err)
	}
	return as
}

// serve starts the server on as.dir; as.stop (also run at cleanup) stops
// it cleanly.
func (as *authServer) serve(t *testing.T, throttle bool) {
	t.Helper()
	dir := as.dir
	cfg := apiTestConfig(t, dir, "--pg-addr", "127.0.0.1:0")
	log := apiTestLogger(t)
	au, err := setupAuth(cfg, log)
	if err != nil || !au.on {
		t.Fatalf("auth: %v (on %v)", err, au != nil && au.on)
	}
	if !throttle {
		if err := au.newGate(nil); err != nil {
			t.Fatal(err)
		}
	}
	m := newMetrics()
	st, err := openStore(context.Background(), cfg, log, m)
	if err != nil {
		t.Fatal(err)
	}
	m.registerStore(st)
	as.st = st
	if err := au.startAudit(context.Background(), st, log); err != nil {
		t.Fatal(err)
	}
	as.au = au
	srv := httptest.NewServer(newRouter(cfg, st, m, log, au))
	as.url = srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	pg, ln, err := startPG(ctx, cfg, st, m, log, au, errc)
	if err != nil {
		t.Fatal(err)
	}
	as.pg = ln.Addr().String()
	var once sync.Once
	as.stop = func() {
		once.Do(func() {
			cancel()
			sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
			defer c()
			pg.Close(sctx)
			srv.Close()
			au.gate.Auditor().Close()
			if err := st.Close(sctx); err != nil {
				t.Errorf("close: %v", err)
			}
			apiClient.CloseIdleConnections()
		})
	}
	t.Cleanup(as.stop)
}

func (as *authServer) token(t *testing.T, tenant string, roles []string, ttl time.Duration) string {
	t.Helper()
	tok, err := authz.IssueHS256(as.secret, "t", tenant, roles, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends a request with a credential and returns status and body.
func (as *authServer) do(t *testing.T, cred, method, path, body string) (int, string) {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if cred != "" {
		hdr["Authorization"] = "Bearer " + cred
	}
	if strings.HasPrefix(body, "{\"entity_id\"") && strings.Contains(body, "\n") {
		hdr["Content-Type"] = "application/x-ndjson"
	}
	st, _, b, err := apiRequest(method, as.url+path, hdr, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return st, string(b)
}

func sqlBody(q string) string {
	b, _ := json.Marshal(map[string]string{"sql": q})
	return string(b)
}

func eqlBody(q string) string {
	b, _ := json.Marshal(map[string]string{"query": q})
	return string(b)
}

// TestTenantIsolation is the adversarial suite: tenant acme tries to read,
// count, infer or write tenant beta's events through every HTTP endpoint
// and pgwire, with credentials of the wrong kind, role, age or signature.
func TestTenantIsolation(t *testing.T) {
	as := startAuthServer(t, false)
	acme, beta := as.keys["acme"], as.token(t, "beta", []string{authz.RoleWriter, authz.RoleAnalyst}, time.Hour)
	events := func(tenant string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `{"entity_id":"%s-u%d","event_type":"page.viewed","timestamp":"2026-03-0%dT10:00:00Z","payload":{"secret":"%s"}}`+"\n", tenant, i, 1+i%3, tenant)
			fmt.Fprintf(&b, `{"entity_id":"%s-u%d","event_type":"order.placed","timestamp":"2026-03-0%dT10:30:00Z"}`+"\n", tenant, i, 1+i%3)
		}
		return b.String()
	}
	// Writes: each to its own tenant; flushed and hot events both.
	for _, w := range []struct {
		cred, body string
	}{{acme, events("acme", 3)}, {beta, events("beta", 5)}} {
		if st, body := as.do(t, w.cred, "POST", "/v1/events", w.body); st != 200 {
			t.Fatalf("append: %d %s", st, body)
		}
	}
	if err := as.st.wh.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, body := as.do(t, acme, "POST", "/v1/events", events("acme", 1)); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	// acme: 8 events, beta: 10.

	t.Run("credentials", func(t *testing.T) {
		other := make([]byte, 32)
		forged, _ := authz.IssueHS256(other, "t", "beta", []string{authz.RoleAnalyst}, time.Hour, time.Now())
		expired, _ := authz.IssueHS256(as.secret, "t", "beta", []string{authz.RoleAnalyst}, time.Minute, time.Now().Add(-time.Hour))
		none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, authz.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "t",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}, Tenant: "beta", Roles: []string{authz.RoleAnalyst}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		for name, cred := range map[string]string{"none": "", "forged": forged, "expired": expired, "alg none": none,
			"junk key": "ask_0000000000000000_" + strings.Repeat("A", 43), "password": "hunter2"} {
			for _, path := range []string{"/v1/query", "/v1/events", "/v1/eventql", "/v1/analytics/funnel", "/metrics"} {
				method := "POST"
				if path == "/metrics" {
					method = "GET"
				}
				if st, body := as.do(t, cred, method, path, "{}"); st != http.StatusUnauthorized {
					t.Errorf("%s on %s: %d %s", name, path, st, body)
				}
			}
		}
		if st, _ := as.do(t, "", "GET", "/healthz", ""); st != 200 {
			t.Errorf("healthz: %d", st)
		}
	})

	t.Run("http reads", func(t *testing.T) {
		for _, c := range []struct {
			name, path, body, want string
		}{
			{"count", "/v1/query", sqlBody("SELECT count(*) AS n FROM events"), `[[8]]`},
			{"beta by filter", "/v1/query", sqlBody("SELECT count(*) AS n FROM events WHERE tenant_id = 'beta'"), `[[0]]`},
			{"tenants seen", "/v1/query", sqlBody("SELECT DISTINCT tenant_id FROM events"), `[["acme"]]`},
			{"payloads", "/v1/query", sqlBody("SELECT count(*) FROM events WHERE payload::VARCHAR LIKE '%beta%'"), `[[0]]`},
		} {
			st, body := as.do(t, acme, "POST", c.path, c.body)
			if st != 200 || !strings.Contains(body, `"rows":`+c.want) {
				t.Errorf("%s: %d %s", c.name, st, body)
			}
		}
		// EventQL, twice each (the answer cache is per tenant).
		for i := 0; i < 2; i++ {
			for _, c := range []struct{ cred, want string }{{acme, "8"}, {beta, "10"}} {
				st, body := as.do(t, c.cred, "POST", "/v1/eventql", eqlBody("FROM e IN events PROJECT INTO COUNT()"))
				if st != 200 || strings.TrimSpace(body) != c.want {
					t.Errorf("eventql round %d: %d %q, want %s", i, st, body, c.want)
				}
			}
		}
		// Analytics.
		var f struct {
			Steps []struct {
				Entities int `json:"entities"`
			} `json:"steps"`
		}
		st, body := as.do(t, acme, "POST", "/v1/analytics/funnel", `{"steps": ["page.viewed", "order.placed"], "window": "1h"}`)
		if json.Unmarshal([]byte(body), &f); st != 200 || len(f.Steps) != 2 || f.Steps[0].Entities != 3 {
			t.Errorf("funnel: %d %s", st, body)
		}
		// Another tenant's entity stream: not found in one's own, refused by name.
		if st, body := as.do(t, acme, "GET", "/v1/entities/beta-u1/events", ""); st != 404 {
			t.Errorf("beta's entity: %d %s", st, body)
		}
		for _, path := range []string{"GET /v1/entities/beta-u1/events?tenant=beta", "POST /v1/query?tenant=beta"} {
			method, path, _ := strings.Cut(path, " ")
			if st, body := as.do(t, acme, method, path, sqlBody("SELECT 1")); st != 403 {
				t.Errorf("%s: %d %s", path, st, body)
			}
		}
		// Escapes to other tenants' files and the hot tier.
		for _, q := range []string{
			"SELECT count(*) FROM read_parquet('warehouse/tenant=beta/*/*.parquet')",
			"SELECT * FROM glob('**')",
			"SELECT count(*) FROM _hot.gen_1",
			"SELECT * FROM duckdb_views()",
			"ATTACH 'catalog.duckdb' AS c",
			"COPY (SELECT 1) TO '/tmp/x.csv'",
			"SET enable_external_access = true",
			"SELECT getenv('HOME')",
			"SELECT * FROM query_table('events')",
		} {
			if st, body := as.do(t, acme, "POST", "/v1/query", sqlBody(q)); st != 400 && st != 403 {
				t.Errorf("%s: %d %s", q, st, body)
			}
		}
	})

	t.Run("http writes and roles", func(t *testing.T) {
		one := `{"entity_id":"x","event_type":"t"}`
		for _, c := range []struct {
			name, cred, path, body string
			want                   int
		}{
			{"append to beta by parameter", acme, "/v1/events?tenant=beta", one, 403},
			{"append to beta by field", acme, "/v1/events", `{"entity_id":"x","event_type":"t","tenant":"beta"}`, 403},
			{"reader appends", as.keys["acme-reader"], "/v1/events", one, 403},
			{"reader runs analytics", as.keys["acme-reader"], "/v1/analytics/funnel", `{"steps": ["page.viewed"]}`, 403},
			{"reader queries", as.keys["acme-reader"], "/v1/query", sqlBody("SELECT count(*) FROM events"), 200},
			{"writer queries", as.keys["beta-writer"], "/v1/query", sqlBody("SELECT 1"), 403},
			{"tenant reads metrics", acme, "/metrics", "", 403},
			{"admin reads metrics", as.keys["admin"], "/metrics", "", 200},
		} {
			method := "POST"
			if c.path == "/metrics" {
				method = "GET"
			}
			if st, body := as.do(t, c.cred, method, c.path, c.body); st != c.want {
				t.Errorf("%s: %d, want %d (%s)", c.name, st, c.want, body)
			}
		}
		// The admin sees every tenant (but the audit log, which it reads
		// by name), or one by parameter.
		for _, c := range []struct{ path, want string }{{"/v1/query", "[[18]]"}, {"/v1/query?tenant=beta", "[[10]]"}} {
			if st, body := as.do(t, as.keys["admin"], "POST", c.path, sqlBody("SELECT count(*) FROM events")); st != 200 || !strings.Contains(body, c.want) {
				t.Errorf("admin %s: %d %s", c.path, st, body)
			}
		}
	})

	t.Run("pgwire", func(t *testing.T) {
		ctx := context.Background()
		connect := func(cred string) (*pgx.Conn, error) {
			return pgx.Connect(ctx, fmt.Sprintf("postgres://anyone:%s@%s/allsource?sslmode=disable", url.QueryEscape(cred), as.pg))
		}
		for name, cred := range map[string]string{"wrong": "hunter2", "revoked-looking": "ask_0000000000000000_" + strings.Repeat("A", 43)} {
			_, err := connect(cred)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "28P01" {
				t.Errorf("%s: %v, want 28P01", name, err)
			}
		}
		c, err := connect(acme)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		one := func(q string, args ...any) int64 {
			var n int64
			if err := c.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}
		if n := one("SELECT count(*) FROM events"); n != 8 {
			t.Errorf("count: %d", n)
		}
		if n := one("SELECT count(*) FROM events WHERE tenant_id = $1", "beta"); n != 0 {
			t.Errorf("prepared, beta: %d", n)
		}
		if n := one("FROM e IN events PROJECT INTO COUNT()"); n != 8 {
			t.Errorf("EventQL: %d", n)
		}
		if n := one(`SELECT entities FROM funnel('{"steps": ["page.viewed"]}')`); n != 3 {
			t.Errorf("funnel(): %d", n)
		}
		var out bytes.Buffer
		if _, err := c.PgConn().CopyTo(ctx, &out, "COPY (SELECT DISTINCT tenant_id FROM events) TO STDOUT"); err != nil || out.String() != "acme\n" {
			t.Errorf("COPY TO: %q %v", out.String(), err)
		}
		// COPY FROM lands in the session's tenant.
		if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("acme-c1\tcopied\n"), "COPY events (entity_id, event_type) FROM STDIN"); err != nil {
			t.Fatal(err)
		}
		if n := one("SELECT count(*) FROM events WHERE event_type = 'copied'"); n != 1 {
			t.Errorf("copied: %d", n)
		}
		var pe *pgconn.PgError
		for _, q := range []string{
			"SELECT * FROM read_parquet('warehouse/tenant=beta/*/*.parquet')",
			"SELECT count(*) FROM _hot.gen_1",
			"SELECT count(*) FROM _hot.main.gen_1",
			"SELECT * FROM duckdb_tables()",
			"SELECT * FROM duckdb_views()",
			"SELECT sql FROM duckdb_views()",
			"SELECT * FROM query_table('_hot.gen_1')",
			"ATTACH ':memory:' AS x",
			"SET enable_external_access = true",
			"SELECT * FROM glob('*')",
		} {
			_, err := c.Exec(ctx, q)
			if !errors.As(err, &pe) || (pe.Code != "42501" && pe.Code != "0A000" && pe.Code != "42P01" && pe.Code != "42883" && pe.Code != "42704") {
				t.Errorf("%s: %v", q, err)
			}
		}
		// Roles: a reader may not COPY in; a writer may not query.
		r, err := connect(as.keys["acme-reader"])
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		if _, err := r.PgConn().CopyFrom(ctx, strings.NewReader("x\ty\n"), "COPY events (entity_id, event_type) FROM STDIN"); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("reader COPY FROM: %v", err)
		}
		if _, err := r.Exec(ctx, `SELECT * FROM funnel('{"steps": ["page.viewed"]}')`); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("reader funnel(): %v", err)
		}
		w, err := connect(as.keys["beta-writer"])
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		if _, err := w.Exec(ctx, "SELECT count(*) FROM events"); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("writer SELECT: %v", err)
		}
		// A token as the password, for beta.
		b, err := connect(beta)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		var n int64
		if err := b.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != 10 {
			t.Errorf("beta count: %d %v", n, err)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan sseEvent, 100)
		resp, err := readSSE(t, ctx, as.url+"/v1/subscribe?from=now", map[string]string{"Authorization": "Bearer " + acme}, events)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("subscribe: %v %v", resp, err)
		}
		if st, _ := as.do(t, beta, "POST", "/v1/events", `{"entity_id":"beta-live","event_type":"secret"}`); st != 200 {
			t.Fatal("beta append")
		}
		if st, _ := as.do(t, acme, "POST", "/v1/events", `{"entity_id":"acme-live","event_type":"mine"}`); st != 200 {
			t.Fatal("acme append")
		}
		select {
		case e := <-events:
			if e.Event != "mine" || strings.Contains(e.Data, "beta") {
				t.Fatalf("acme received %+v", e)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no live event")
		}
		// Over WebSocket, the same scope.
		ws := "ws" + strings.TrimPrefix(as.url, "http") + "/v1/subscribe?from_seq=0&types=secret,mine"
		if _, _, err := websocket.Dial(ctx, ws, nil); err == nil {
			t.Error("WebSocket without credentials accepted")
		}
		conn, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + acme}}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		if _, b, err := conn.Read(rctx); err != nil || !strings.Contains(string(b), `"event_type":"mine"`) {
			t.Fatalf("WebSocket first event: %s %v", b, err)
		}
		for _, c := range []struct{ name, cred, path string }{
			{"no credential", "", "/v1/subscribe"},
			{"a writer", as.keys["beta-writer"], "/v1/subscribe"},
			{"another tenant", acme, "/v1/subscribe?tenant=beta"},
		} {
			hdr := map[string]string{}
			if c.cred != "" {
				hdr["Authorization"] = "Bearer " + c.cred
			}
			st, _, _, err := apiRequest("GET", as.url+c.path, hdr, nil)
			if err != nil || (st != 401 && st != 403) {
				t.Errorf("%s: %d %v", c.name, st, err)
			}
		}
	})

	t.Run("revocation", func(t *testing.T) {
		ks, _ := authz.OpenKeyStore(authz.KeysFile(as.dir))
		if err := ks.Revoke(as.keyIDs["acme-reader"]); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, _ := as.do(t, as.keys["acme-reader"], "POST", "/v1/query", sqlBody("SELECT 1"))
			if st == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("revoked key still accepted: %d", st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("audit", func(t *testing.T) {
		admin := as.keys["admin"]
		// Every kind of record this run caused reaches the log.
		want := []string{"audit.login", "audit.login_failed", "audit.denied", "audit.query", "audit.keys_changed"}
		q := sqlBody("SELECT DISTINCT event_type FROM events ORDER BY 1")
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, body := as.do(t, admin, "POST", "/v1/query?tenant=_audit", q)
			missing := ""
			for _, k := range want {
				if !strings.Contains(body, `"`+k+`"`) {
					missing = k
				}
			}
			if st == 200 && missing == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit log lacks %s: %d %s", missing, st, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The queries are there with their text, a pgwire statement with
		// its rows; tenants cannot read the log.
		st, body := as.do(t, admin, "POST", "/v1/query?tenant=_audit", sqlBody(`SELECT count(*) FROM events
			WHERE json_extract_string(payload, '$.kind') = 'query' AND json_extract_string(payload, '$.interface') = 'pgwire'
			  AND json_extract_string(payload, '$.query') LIKE 'SELECT count(*) FROM events%' AND json_extract_string(payload, '$.rows') = '1'`))
		if st != 200 || strings.Contains(body, `"rows":[[0]]`) {
			t.Errorf("pgwire statements in the log: %d %s", st, body)
		}
		if st, body := as.do(t, acme, "POST", "/v1/query?tenant=_audit", sqlBody("SELECT 1")); st != 403 {
			t.Errorf("a tenant reads the audit log: %d %s", st, body)
		}
		if st, body := as.do(t, acme, "POST", "/v1/events?tenant=_audit", `{"entity_id":"x","event_type":"audit.login"}`); st != 403 && st != 400 {
			t.Errorf("a tenant writes the audit log: %d %s", st, body)
		}
		// The chain verifies.
		var out, errb bytes.Buffer
		t.Setenv("ALLSOURCE_TOKEN", admin)
		if err := NewMain(&out, &errb).Run(context.Background(), []string{"audit", "verify", "--server", as.url}); err != nil || !strings.Contains(out.String(), "intact") {
			t.Fatalf("audit verify: %v %s %s", err, out.String(), errb.String())
		}
	})
}

// TestAuthSecureDefaults: without credentials the server refuses to listen
// beyond loopback; with --auth on it needs no credential source to start
// but refuses every request.
func TestAuthSecureDefaults(t *testing.T) {
	log := apiTestLogger(t)
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--http-addr", "0.0.0.0:8080"}, false},
		{[]string{"--pg-addr", ":5433"}, false},
		{[]string{"--http-addr", "127.0.0.1:0", "--pg-addr", "[::1]:0"}, true},
		{[]string{"--http-addr", "0.0.0.0:8080", "--auth", "on"}, true},
		{[]string{"--auth", "maybe"}, false},
	} {
		cfg := apiTestConfig(t, t.TempDir(), c.args...)
		_, err := setupAuth(cfg, log)
		if (err == nil) != c.ok {
			t.Errorf("%v: %v", c.args, err)
		}
	}
}

// TestQuotasAndThrottling over HTTP and pgwire: an ingest rate over quota
// is 429 with Retry-After, a full storage quota 507, repeated failed logins
// lock a source out (even with a good key) until the window passes.
func TestQuotasAndThrottling(t *testing.T) {
	as := startAuthServer(t, true)
	acme := as.keys["acme"]
	var out, errb bytes.Buffer
	run := func(args ...string) {
		t.Helper()
		out.Reset()
		errb.Reset()
		if err := NewMain(&out, &errb).Run(context.Background(), args); err != nil {
			t.Fatalf("%v: %v %s", args, err, errb.String())
		}
	}
	run("admin", "quota", "set", "--data-dir", as.dir, "--tenant", "acme", "--ingest-events-per-sec", "5")
	run("admin", "quota", "list", "--data-dir", as.dir)
	if !strings.Contains(out.String(), "acme") || !strings.Contains(out.String(), "5") {
		t.Fatalf("quota list: %s", out.String())
	}
	time.Sleep(600 * time.Millisecond) // the server re-reads the file
	batch := strings.Repeat(`{"entity_id":"q","event_type":"t"}`+"\n", 20)
	if st, body := as.do(t, acme, "POST", "/v1/events", batch); st != 200 {
		t.Fatalf("first batch (borrows ahead): %d %s", st, body)
	}
	hdr := map[string]string{"Authorization": "Bearer " + acme, "Content-Type": "application/x-ndjson"}
	st, h, body, err := apiRequest("POST", as.url+"/v1/events", hdr, strings.NewReader(batch))
	if err != nil || st != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(string(body), "rate_limited") {
		t.Fatalf("over the rate: %d %v %s %v", st, h, body, err)
	}
	// pgwire COPY FROM is held to the same quota.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://x:%s@%s/allsource?sslmode=disable", url.QueryEscape(acme), as.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var pe *pgconn.PgError
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("a\tb\n"), "COPY events (entity_id, event_type) FROM STDIN"); !errors.As(err, &pe) || pe.Code != "53400" {
		t.Fatalf("COPY over the rate: %v", err)
	}
	// Other tenants are not affected.
	if st, body := as.do(t, as.keys["beta"], "POST", "/v1/events", batch); st != 200 {
		t.Fatalf("beta: %d %s", st, body)
	}
	// Storage: beta at its quota once its events are in Parquet.
	run("admin", "quota", "set", "--data-dir", as.dir, "--tenant", "beta", "--storage-bytes", "1")
	if err := as.st.wh.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if st, body := as.do(t, as.keys["beta"], "POST", "/v1/events", batch); st != 507 {
		t.Fatalf("beta over storage: %d %s", st, body)
	}
	// Brute force: ten bad secrets for a key's id, then even the good key waits.
	for i := 0; i < 10; i++ {
		if st, _ := as.do(t, "ask_"+as.keyIDs["acme-reader"]+"_"+strings.Repeat("B", 43), "POST", "/v1/query", sqlBody("SELECT 1")); st != 401 {
			t.Fatalf("bad key %d: %d", i, st)
		}
	}
	st, h, _, _ = apiRequest("POST", as.url+"/v1/query", map[string]string{"Authorization": "Bearer " + as.keys["acme-reader"]}, strings.NewReader(sqlBody("SELECT 1")))
	if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("after ten failures: %d %v", st, h)
	}
}

// TestServeHTTPS runs the server with --http-tls auto and authentication:
// a client that trusts the certificate kept in the data dir connects over
// HTTPS with an API key; plain HTTP gets no answer.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	ks, _ := authz.OpenKeyStore(authz.KeysFile(dir))
	key, _, err := ks.Create("k", "acme", []string{authz.RoleReader}, 0)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := freeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := apiTestConfig(t, dir, "--http-addr", addrs[0], "--pg-addr", "", "--http-tls", "auto")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, apiTestLogger(t)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var pool *x509.CertPool
	deadline := time.Now().Add(30 * time.Second)
	for pool == nil {
		if pem, err := os.ReadFile(filepath.Join(dir, "tls", "server.crt")); err == nil {
			pool = x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
		} else if time.Now().After(deadline) {
			t.Fatal("no certificate was made")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	defer client.CloseIdleConnections()
	var resp *http.Response
	for {
		req, _ := http.NewRequest("POST", "https://"+addrs[0]+"/v1/query", strings.NewReader(sqlBody("SELECT 42 AS answer")))
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err = client.Do(req); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("https: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "[[42]]") {
		t.Fatalf("https query: %d %s", resp.StatusCode, body)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if r, err := plain.Get("http://" + addrs[0] + "/healthz"); err == nil && r.StatusCode == 200 {
		r.Body.Close()
		t.Fatal("plain HTTP answered on the HTTPS port")
	}
}

// TestManagementAPI: tenant administrators manage their own tenant's keys
// and nothing more; privilege cannot be escalated through the API.
func TestManagementAPI(t *testing.T) {
	as := startAuthServer(t, false)
	ta := as.keys["acme-admin"]
	var made struct {
		ID, Key, Tenant string
		Roles           []string
	}
	st, body := as.do(t, ta, "POST", "/v1/admin/keys", `{"name": "reporting", "tenant": "acme", "roles": ["reader"], "ttl": "24h"}`)
	if json.Unmarshal([]byte(body), &made); st != 201 || made.Key == "" || made.Tenant != "acme" {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := as.do(t, made.Key, "POST", "/v1/query", sqlBody("SELECT count(*) FROM events")); st != 200 {
		t.Fatalf("the new key: %d %s", st, body)
	}
	for _, c := range []struct {
		name, cred, method, path, body string
		want                           int
	}{
		{"key for another tenant", ta, "POST", "/v1/admin/keys", `{"tenant": "beta", "roles": ["reader"]}`, 403},
		{"admin key", ta, "POST", "/v1/admin/keys", `{"tenant": "*", "roles": ["admin"]}`, 403},
		{"admin role in own tenant", ta, "POST", "/v1/admin/keys", `{"tenant": "acme", "roles": ["admin"]}`, 403},
		{"unknown role", ta, "POST", "/v1/admin/keys", `{"tenant": "acme", "roles": ["root"]}`, 400},
		{"unknown field", ta, "POST", "/v1/admin/keys", `{"tenant": "acme", "roles": ["reader"], "admin": true}`, 400},
		{"reserved tenant", as.keys["admin"], "POST", "/v1/admin/keys", `{"tenant": "_audit", "roles": ["reader"]}`, 400},
		{"list another tenant", ta, "GET", "/v1/admin/keys?tenant=beta", "", 403},
		{"revoke another tenant's key", ta, "DELETE", "/v1/admin/keys/" + as.keyIDs["beta"], "", 404},
		{"revoke the admin key", ta, "DELETE", "/v1/admin/keys/" + as.keyIDs["admin"], "", 404},
		{"set a quota", ta, "PUT", "/v1/admin/quotas/acme", `{"storage_bytes": 0}`, 403},
		{"writer manages keys", as.keys["acme"], "GET", "/v1/admin/keys", "", 403},
		{"no credential", "", "GET", "/v1/admin/keys", "", 401},
	} {
		if st, body := as.do(t, c.cred, c.method, c.path, c.body); st != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, st, c.want, body)
		}
	}
	// The tenant administrator sees only its tenant's keys.
	var list struct{ Keys []keyOut }
	st, body = as.do(t, ta, "GET", "/v1/admin/keys", "")
	if json.Unmarshal([]byte(body), &list); st != 200 || len(list.Keys) != 4 {
		t.Fatalf("list: %d %s", st, body)
	}
	for _, k := range list.Keys {
		if k.Tenant != "acme" || k.Key != "" {
			t.Errorf("listed %+v", k)
		}
	}
	// It revokes its own tenant's key; the administrator sets quotas.
	if st, body := as.do(t, ta, "DELETE", "/v1/admin/keys/"+made.ID, ""); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if st, _ := as.do(t, made.Key, "POST", "/v1/query", sqlBody("SELECT 1")); st != 401 {
		t.Fatalf("revoked key: %d", st)
	}
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/quotas/beta", `{"max_concurrent_queries": 3, "query_timeout": "30s"}`); st != 200 {
		t.Fatalf("set quota: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "GET", "/v1/admin/quotas", ""); st != 200 || !strings.Contains(body, `"max_concurrent_queries":3`) {
		t.Fatalf("quotas: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/quotas/beta", `{"query_timeout": "soon"}`); st != 400 {
		t.Fatalf("bad quota: %d %s", st, body)
	}
	// Users: the same rules.
	for _, c := range []struct {
		name, cred, method, path, body string
		want                           int
	}{
		{"admin makes a beta user", as.keys["admin"], "PUT", "/v1/admin/users/bob", `{"tenant": "beta", "roles": ["reader"], "password": "bob's long password"}`, 200},
		{"tenant admin makes an acme user", ta, "PUT", "/v1/admin/users/ann", `{"roles": ["analyst"], "password": "ann's long password"}`, 200},
		{"tenant admin takes over bob", ta, "PUT", "/v1/admin/users/bob@beta", `{"roles": ["reader"], "password": "mine now, mine now"}`, 404},
		{"tenant admin makes a beta user", ta, "PUT", "/v1/admin/users/eve", `{"tenant": "beta", "roles": ["reader"], "password": "eve's long password"}`, 403},
		{"tenant admin makes an admin", ta, "PUT", "/v1/admin/users/eve", `{"tenant": "*", "roles": ["admin"], "password": "eve's long password"}`, 403},
		{"short password", ta, "PUT", "/v1/admin/users/ann", `{"roles": ["analyst"], "password": "short"}`, 400},
		{"tenant admin deletes bob", ta, "DELETE", "/v1/admin/users/bob", "", 404},
	} {
		if st, body := as.do(t, c.cred, c.method, c.path, c.body); st != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, st, c.want, body)
		}
	}
	if st, body := as.do(t, ta, "GET", "/v1/admin/users", ""); st != 200 || !strings.Contains(body, `"ann@acme"`) || strings.Contains(body, `"bob"`) {
		t.Errorf("users of acme: %d %s", st, body)
	}
}

// TestPasswordUsers: the first administrator comes from
// ALLSOURCE_ADMIN_PASSWORD; users log in over pgwire by SCRAM and over
// HTTP with Basic authentication, seeing their tenant only.
func TestPasswordUsers(t *testing.T) {
	t.Setenv("ALLSOURCE_ADMIN_PASSWORD", "first admin password")
	as := startAuthServer(t, false)
	var out, errb bytes.Buffer
	t.Setenv("ALLSOURCE_PASSWORD", "ana's long password")
	if err := NewMain(&out, &errb).Run(context.Background(), []string{"admin", "user", "set", "--data-dir", as.dir, "--name", "ana", "--tenant", "acme", "--role", "analyst"}); err != nil {
		t.Fatalf("user set: %v %s", err, errb.String())
	}
	if err := NewMain(&out, &errb).Run(context.Background(), []string{"admin", "user", "list", "--data-dir", as.dir}); err != nil || !strings.Contains(out.String(), "ana") || !strings.Contains(out.String(), "admin") {
		t.Fatalf("user list: %v %s", err, out.String())
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/events", `{"entity_id":"u","event_type":"t"}`); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	time.Sleep(600 * time.Millisecond) // the server re-reads users.json
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s/allsource?sslmode=disable", url.UserPassword("ana", "ana's long password"), as.pg))
	if err != nil {
		t.Fatalf("SCRAM login: %v", err)
	}
	defer c.Close(ctx)
	var tenants string
	if err := c.QueryRow(ctx, "SELECT string_agg(DISTINCT tenant_id, ',') FROM events").Scan(&tenants); err != nil || tenants != "acme" {
		t.Fatalf("ana sees %q (%v)", tenants, err)
	}
	var pe *pgconn.PgError
	if _, err := pgx.Connect(ctx, fmt.Sprintf("postgres://ana:wrong-password-x@%s/allsource?sslmode=disable", as.pg)); !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
	basic := func(user, pw string) int {
		req, _ := http.NewRequest("POST", as.url+"/v1/query", strings.NewReader(sqlBody("SELECT count(*) FROM events WHERE tenant_id <> '_audit'")))
		req.SetBasicAuth(user, pw)
		resp, err := apiClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := basic("admin", "first admin password"); st != 200 {
		t.Fatalf("admin over Basic: %d", st)
	}
	if st := basic("ana", "ana's long password"); st != 200 {
		t.Fatalf("ana over Basic: %d", st)
	}
	if st := basic("ana", "nope nope nope"); st != 401 {
		t.Fatalf("wrong password over Basic: %d", st)
	}
}

// TestPolicies over HTTP and pgwire: hidden event types and payload
// fields, a per-event append denial, an allow beyond the roles, a
// tenant-wide deny, installed through the management API.
func TestPolicies(t *testing.T) {
	as := startAuthServer(t, false)
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/events",
		`{"entity_id":"u1","event_type":"pii.profile","payload":{"email":"a@x"}}`+"\n"+
			`{"entity_id":"u1","event_type":"order.placed","payload":{"email":"a@x","amount":5}}`+"\n"); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	policies := `[
	  {"name": "no-pii-for-analysts", "when": "'analyst' in principal.roles", "effect": "hide", "event_types": ["pii.*"], "fields": ["payload.email"]},
	  {"name": "no-internal-writes", "when": "action == 'append' && resource.event_type.startsWith('internal.')", "effect": "deny"},
	  {"name": "readers-chart", "when": "'reader' in principal.roles && action == 'analytics'", "effect": "allow"},
	  {"name": "beta-read-only", "when": "principal.tenant == 'beta' && action == 'analytics'", "effect": "deny"}
	]`
	if st, body := as.do(t, as.keys["acme"], "PUT", "/v1/admin/policies", policies); st != 403 {
		t.Fatalf("a tenant installs policies: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/policies", `[{"name": "x", "when": "action ==", "effect": "deny"}]`); st != 400 || !strings.Contains(body, "when") {
		t.Fatalf("a broken policy: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/policies", policies); st != 200 {
		t.Fatalf("install: %d %s", st, body)
	}
	// acme's key is writer+analyst: it no longer sees pii events or emails.
	st, body := as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody("SELECT event_type, payload::VARCHAR AS p FROM events ORDER BY seq"))
	if st != 200 || strings.Contains(body, "pii.profile") || strings.Contains(body, "a@x") || !strings.Contains(body, `amount`) {
		t.Fatalf("hidden: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/eventql", eqlBody("FROM e IN events PROJECT INTO COUNT()")); st != 200 || strings.TrimSpace(body) != "1" {
		t.Fatalf("EventQL count: %d %q", st, body)
	}
	// The answer cache keeps readers with different restrictions apart.
	if st, body := as.do(t, as.keys["acme-reader"], "POST", "/v1/eventql", eqlBody("FROM e IN events PROJECT INTO COUNT()")); st != 200 || strings.TrimSpace(body) != "2" {
		t.Fatalf("reader's EventQL count: %d %q", st, body)
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/eventql", eqlBody("FROM e IN events PROJECT INTO COUNT()")); st != 200 || strings.TrimSpace(body) != "1" {
		t.Fatalf("analyst's EventQL count after the reader's: %d %q", st, body)
	}
	// The reader (not an analyst) still sees everything, and may chart.
	st, body = as.do(t, as.keys["acme-reader"], "POST", "/v1/query", sqlBody("SELECT count(*) FROM events WHERE payload::VARCHAR LIKE '%a@x%'"))
	if st != 200 || !strings.Contains(body, "[[2]]") {
		t.Fatalf("reader: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["acme-reader"], "POST", "/v1/analytics/funnel", `{"steps": ["order.placed"]}`); st != 200 {
		t.Fatalf("reader charts: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["beta"], "POST", "/v1/analytics/funnel", `{"steps": ["order.placed"]}`); st != 403 || !strings.Contains(body, "beta-read-only") {
		t.Fatalf("beta analytics: %d %s", st, body)
	}
	// Appending an internal event is refused, naming the event.
	st, body = as.do(t, as.keys["acme"], "POST", "/v1/events", `{"entity_id":"s","event_type":"ok.one"}`+"\n"+`{"entity_id":"s","event_type":"internal.sync"}`+"\n")
	if st != 403 || !strings.Contains(body, `"index":1`) || !strings.Contains(body, "no-internal-writes") {
		t.Fatalf("internal append: %d %s", st, body)
	}
	// pgwire: the same view, and COPY checked per row.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://x:%s@%s/allsource?sslmode=disable", url.QueryEscape(as.keys["acme"]), as.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events WHERE event_type LIKE 'pii.%' OR payload::VARCHAR LIKE '%a@x%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("pgwire sees %d hidden (%v)", n, err)
	}
	var pe *pgconn.PgError
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("s\tok.two\ns\tinternal.x\n"), "COPY events (entity_id, event_type) FROM STDIN"); !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "row 2") {
		t.Fatalf("COPY internal: %v", err)
	}
	if st, body := as.do(t, as.keys["admin"], "GET", "/v1/admin/policies", ""); st != 200 || !strings.Contains(body, "no-pii-for-analysts") {
		t.Fatalf("list: %d %s", st, body)
	}
}

// TestRunawayQueries: a tenant's query timeout stops a recursive CTE bomb
// and a huge generate_series, over HTTP and pgwire, and the server goes on.
func TestRunawayQueries(t *testing.T) {
	as := startAuthServer(t, false)
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/quotas/acme", `{"query_timeout": "1s"}`); st != 200 {
		t.Fatalf("quota: %d %s", st, body)
	}
	bombs := []string{
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
		"SELECT count(*) FROM generate_series(1, 100000000000)",
		"SELECT count(*) FROM range(100000) a(x), range(100000) b(y) WHERE a.x + b.y = 7",
	}
	for _, q := range bombs {
		start := time.Now()
		st, body := as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody(q))
		if st != 504 || time.Since(start) > 20*time.Second {
			t.Errorf("%s: %d after %v: %s", q, st, time.Since(start), body)
		}
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://x:%s@%s/allsource?sslmode=disable", url.QueryEscape(as.keys["acme"]), as.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, q := range bombs {
		var pe *pgconn.PgError
		var n int64
		if err := c.QueryRow(ctx, q).Scan(&n); !errors.As(err, &pe) || pe.Code != "57014" {
			t.Errorf("pgwire %s: %v", q, err)
		}
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody("SELECT 1 AS one")); st != 200 {
		t.Fatalf("after the bombs: %d %s", st, body)
	}
	// A result over the tenant's quota ends with the quota's error.
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/quotas/acme", `{"max_result_bytes": 20000}`); st != 200 {
		t.Fatalf("quota: %d %s", st, body)
	}
	big := "SELECT i, repeat('x', 100) AS pad FROM range(100000) t(i)"
	st, body := as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody(big))
	if !strings.Contains(body, "quota of 20000 bytes") || len(body) > 200_000 {
		t.Fatalf("big result over HTTP: %d, %d bytes, ends %q", st, len(body), body[max(0, len(body)-300):])
	}
	var pe *pgconn.PgError
	if _, err := c.Exec(ctx, big); !errors.As(err, &pe) || pe.Code != "54000" || !strings.Contains(pe.Message, "quota") {
		t.Fatalf("big result over pgwire: %v", err)
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody("SELECT 1 AS one")); st != 200 {
		t.Fatalf("a small result: %d %s", st, body)
	}
}

// TestCustomRolesOverHTTP: a custom role limited to event types reads and
// appends only those, over HTTP and pgwire.
func TestCustomRolesOverHTTP(t *testing.T) {
	as := startAuthServer(t, false)
	if st, body := as.do(t, as.keys["acme"], "PUT", "/v1/admin/roles", `[]`); st != 403 {
		t.Fatalf("a tenant sets roles: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "PUT", "/v1/admin/roles", `[{"name": "support", "actions": ["query", "append"], "event_types": ["ticket.*"]}]`); st != 200 {
		t.Fatalf("set roles: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/events", `{"entity_id":"u","event_type":"order.placed"}`+"\n"+`{"entity_id":"u","event_type":"ticket.opened"}`+"\n"); st != 200 {
		t.Fatalf("append: %d %s", st, body)
	}
	var made struct{ Key string }
	st, body := as.do(t, as.keys["acme-admin"], "POST", "/v1/admin/keys", `{"tenant": "acme", "roles": ["support"]}`)
	if json.Unmarshal([]byte(body), &made); st != 201 {
		t.Fatalf("key with a custom role: %d %s", st, body)
	}
	if st, body := as.do(t, made.Key, "POST", "/v1/query", sqlBody("SELECT string_agg(DISTINCT event_type, ',') FROM events")); st != 200 || !strings.Contains(body, `"ticket.opened"`) || strings.Contains(body, "order") {
		t.Fatalf("support reads: %d %s", st, body)
	}
	if st, body := as.do(t, made.Key, "POST", "/v1/events", `{"entity_id":"u","event_type":"order.refunded"}`); st != 403 {
		t.Fatalf("support appends an order: %d %s", st, body)
	}
	if st, body := as.do(t, made.Key, "POST", "/v1/events", `{"entity_id":"u","event_type":"ticket.closed"}`); st != 200 {
		t.Fatalf("support appends a ticket: %d %s", st, body)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://x:%s@%s/allsource?sslmode=disable", url.QueryEscape(made.Key), as.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events WHERE event_type NOT LIKE 'ticket.%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("pgwire sees %d others (%v)", n, err)
	}
	var pe *pgconn.PgError
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("u\torder.x\n"), "COPY events (entity_id, event_type) FROM STDIN"); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("COPY an order: %v", err)
	}
}

// TestAuditChainAcrossRestart: a restarted server continues the stored
// chain (it reads the newest record's hash at start), and the whole log,
// both runs, verifies; records of both runs are there.
func TestAuditChainAcrossRestart(t *testing.T) {
	as := makeKeys(t, t.TempDir())
	as.serve(t, false)
	as.do(t, "", "POST", "/v1/query", sqlBody("SELECT 1")) // a failed login
	as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody("SELECT 1 AS first_run"))
	as.stop()
	as.serve(t, false)
	as.do(t, as.keys["acme"], "POST", "/v1/query", sqlBody("SELECT 2 AS second_run"))
	admin := as.keys["admin"]
	// The patterns are built so this query's own audit record (its text)
	// does not match them.
	q := sqlBody("SELECT count(*) FROM events WHERE payload::VARCHAR LIKE '%' || 'first_' || 'run%' OR payload::VARCHAR LIKE '%' || 'second_' || 'run%'")
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body := as.do(t, admin, "POST", "/v1/query?tenant=_audit", q)
		if st == 200 && strings.Contains(body, "[[2]]") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records of both runs: %d %s", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out, errb bytes.Buffer
	t.Setenv("ALLSOURCE_TOKEN", admin)
	if err := NewMain(&out, &errb).Run(context.Background(), []string{"audit", "verify", "--server", as.url}); err != nil || !strings.Contains(out.String(), "intact") {
		t.Fatalf("audit verify across a restart: %v %s %s", err, out.String(), errb.String())
	}
}
