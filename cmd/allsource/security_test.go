package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Markers that must never reach acme: beta's payload and entity, the
// audit log's chain fields, and acme's own field hidden from its reader.
const (
	betaSecret   = "BETA-SECRET-7781"
	betaEntity   = "beta-entity-4242"
	hiddenMarker = "ACME-SSN-HIDDEN"
)

// hostileServer is a real server process with two tenants' data in hot
// tier and Parquet, a projection of beta's with a checkpoint, the audit
// log in use, and a policy hiding payload.ssn from acme's reader.
type hostileServer struct {
	p    *proc
	dir  string
	keys map[string]string
}

func startHostileServer(t *testing.T, dir string, extra ...string) *hostileServer {
	t.Helper()
	as := makeKeys(t, dir)
	policies := `[{"name": "no-ssn-for-readers", "when": "'reader' in principal.roles", "effect": "hide", "fields": ["payload.ssn"]}]`
	if err := os.WriteFile(filepath.Join(dir, "auth", "policies.json"), []byte(policies), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"--flush-age", "1s", "--projection-checkpoint", "1s"}, extra...)
	// GOMAXPROCS=2: the engine has 2×2 query connections, wherever it runs.
	p := startProc(t, dir, []string{"GOMAXPROCS=2"}, flags...)
	hs := &hostileServer{p: p, dir: dir, keys: as.keys}
	hs.must(t, "beta", "POST", "/v1/events", fmt.Sprintf(`{"entity_id":%q,"event_type":"beta.private","payload":{"secret":%q,"ssn":"999"}}`, betaEntity, betaSecret), 200)
	hs.must(t, "acme", "POST", "/v1/events", fmt.Sprintf(`{"entity_id":"acme-1","event_type":"order.placed","payload":{"ssn":%q,"amount":5}}`, hiddenMarker), 200)
	hs.must(t, "admin", "POST", "/v1/projections?tenant=beta", `{"name": "counts", "sql": "SELECT entity_id, count(*) AS n, max(payload->>'secret') AS s FROM events GROUP BY entity_id"}`, 201)
	// Wait until beta's events are in Parquet and its projection has a
	// checkpoint, so file-reading tricks would find something.
	deadline := time.Now().Add(30 * time.Second)
	for {
		parquet, _ := filepath.Glob(filepath.Join(dir, "warehouse", "tenant=beta", "*", "*.parquet"))
		ckpt, _ := filepath.Glob(filepath.Join(dir, "projections", "beta", "*", "*", "checkpoint.json"))
		if len(parquet) > 0 && len(ckpt) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Parquet (%v) or checkpoint (%v) after 30s", parquet, ckpt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A hot-tier event of beta's too.
	hs.must(t, "beta", "POST", "/v1/events", fmt.Sprintf(`{"entity_id":%q,"event_type":"beta.private","payload":{"secret":%q}}`, betaEntity, betaSecret), 200)
	return hs
}

func (hs *hostileServer) do(t *testing.T, key, method, path, body string) (int, string) {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + hs.keys[key]}
	st, _, b, err := apiRequest(method, hs.p.url+path, hdr, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return st, string(b)
}

func (hs *hostileServer) must(t *testing.T, key, method, path, body string, want int) string {
	t.Helper()
	st, b := hs.do(t, key, method, path, body)
	if st != want {
		t.Fatalf("%s %s as %s: %d %s", method, path, key, st, b)
	}
	return b
}

func (hs *hostileServer) pg(t *testing.T, key string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/allsource?sslmode=disable", key, hs.p.pg))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = hs.keys[key]
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgwire login as %s: %v", key, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// leaks lists what of the forbidden an answer to statement holds. A
// marker the statement itself names (a path the caller typed, quoted back
// in an error) is not a leak; beta's data and hidden fields always are.
func (hs *hostileServer) leaks(answer, statement string, restricted bool) []string {
	var out []string
	bad := []string{betaSecret, betaEntity, hs.dir, `"prev":`, "_hot.gen", "_proj.p_", "tenant=beta"}
	if restricted {
		bad = append(bad, hiddenMarker)
	}
	for _, b := range bad {
		if strings.Contains(answer, b) && !strings.Contains(statement, b) {
			out = append(out, b)
		}
	}
	return out
}

// escapeCorpus reads testdata/escapes.sql with its placeholders filled:
// the statements the guard refuses, those of them the Postgres front end
// answers from its own catalog, and those that may run.
func escapeCorpus(t *testing.T, dir string) (refuse, pgCatalog, mayRun []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "escapes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := strings.NewReplacer("{dir}", dir, "{other}", "beta", "{me}", "acme")
	after, catalog := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- @may-run") {
			after = true
		}
		if strings.HasPrefix(line, "-- @pg-catalog") {
			catalog = true
		}
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		switch {
		case after:
			mayRun = append(mayRun, r.Replace(line))
		case catalog:
			pgCatalog = append(pgCatalog, r.Replace(line))
			refuse = append(refuse, r.Replace(line))
		default:
			refuse = append(refuse, r.Replace(line))
		}
	}
	return refuse, pgCatalog, mayRun
}

// pgAnswer runs q and renders rows or the error as text.
func pgAnswer(c *pgx.Conn, q string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rows, err := c.Query(ctx, q)
	if err != nil {
		return err.Error(), err
	}
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			break
		}
		fmt.Fprintln(&b, vals...)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		var pe *pgconn.PgError
		if ok := asPgError(err, &pe); ok {
			return b.String() + pe.Message + " " + pe.Detail + " " + pe.Hint, err
		}
		return b.String() + err.Error(), err
	}
	return b.String(), nil
}

func asPgError(err error, pe **pgconn.PgError) bool {
	e, ok := err.(*pgconn.PgError)
	if ok {
		*pe = e
	}
	return ok
}

// TestEscapeCorpusEveryFrontEnd runs the shared escape corpus through
// every front end (HTTP SQL, pgwire simple and extended, projection
// definitions, export conditions) with every role of tenant acme. Nothing
// of beta, of the audit log, of a hidden field or of the server's paths
// may come back, and the statements the guard refuses are refused
// everywhere.
func TestEscapeCorpusEveryFrontEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and sends about 2,000 statements")
	}
	hs := startHostileServer(t, t.TempDir())
	refuse, pgCatalog, mayRun := escapeCorpus(t, hs.dir)
	all := append(append([]string{}, refuse...), mayRun...)
	refused, catalog := map[string]bool{}, map[string]bool{}
	for _, q := range refuse {
		refused[q] = true
	}
	for _, q := range pgCatalog {
		catalog[q] = true
	}
	check := func(front, role, q, answer string, ok bool) {
		t.Helper()
		if l := hs.leaks(answer, q, role == "acme-reader"); len(l) > 0 {
			t.Errorf("%s as %s leaks %v\n  statement: %s\n  answer: %.400s", front, role, l, q, answer)
		}
		if ok && refused[q] && !(strings.HasPrefix(front, "pgwire") && catalog[q]) {
			t.Errorf("%s as %s ran a statement the guard refuses: %s\n  answer: %.200s", front, role, q, answer)
		}
	}
	for _, role := range []string{"acme", "acme-reader", "acme-admin"} {
		for _, q := range all {
			st, body := hs.do(t, role, "POST", "/v1/query", sqlBody(q))
			check("HTTP SQL", role, q, body, st == 200)
		}
	}
	for _, role := range []string{"acme", "acme-reader"} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
			c := hs.pg(t, role, mode)
			for _, q := range all {
				answer, err := pgAnswer(c, q)
				check(fmt.Sprintf("pgwire %v", mode), role, q, answer, err == nil)
				if c.IsClosed() {
					c = hs.pg(t, role, mode)
				}
			}
		}
	}
	// EventQL and the JSON DSL: each statement as the query text, inside
	// a string literal, and as a projection's name (compiled SQL goes
	// through the same guard).
	for _, role := range []string{"acme", "acme-reader"} {
		for _, q := range all {
			lit, _ := json.Marshal(q)
			for _, e := range []string{q, "FROM e IN events WHERE e.type == " + string(lit) + " PROJECT INTO e",
				"FROM e IN projections." + q + " PROJECT INTO e"} {
				_, body := hs.do(t, role, "POST", "/v1/eventql", eqlBody(e))
				check("EventQL", role, q, body, false)
			}
			for _, d := range []map[string]any{
				{"where": []any{"=", "event_type", q}},
				{"select": []any{map[string]any{"as": "x", "expr": q}}},
				{"where": []any{"=", q, 1}},
			} {
				dsl, _ := json.Marshal(map[string]any{"dsl": d})
				_, body := hs.do(t, role, "POST", "/v1/query", string(dsl))
				check("DSL", role, q, body, false)
			}
		}
	}
	for i, q := range all {
		def, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("esc%d", i), "sql": q})
		st, body := hs.do(t, "acme-admin", "POST", "/v1/projections", string(def))
		check("projection definition", "acme-admin", q, body, false)
		if st == http.StatusCreated {
			// Whatever was accepted must compute over acme's events only.
			time.Sleep(50 * time.Millisecond)
			_, rows := hs.do(t, "acme-admin", "GET", fmt.Sprintf("/v1/projections/esc%d/rows", i), "")
			check("projection rows", "acme-admin", q, rows, false)
			hs.do(t, "acme-admin", "DELETE", fmt.Sprintf("/v1/projections/esc%d", i), "")
		}
		spec, _ := json.Marshal(map[string]string{"target": "file:///x?format=ndjson", "where": "EXISTS (" + q + ")"})
		_, body = hs.do(t, "acme-admin", "POST", "/v1/exports", string(spec))
		check("export condition", "acme-admin", q, body, false)
	}
	if _, err := http.Get(hs.p.url + "/readyz"); err != nil {
		t.Fatalf("server down after the corpus: %v", err)
	}
}

// TestCrossTenantHoles are the reproduced holes of the tenant boundary,
// each through the real server: a CTE-scoped file read over pgwire, a
// COPY row for another tenant, the engine's catalog and settings, and the
// internal names in errors.
func TestCrossTenantHoles(t *testing.T) {
	// A data directory under the working directory (the server's too), so
	// a relative path to beta's files is short enough to survive the
	// 63-byte identifier limit of the Postgres parser.
	dir, err := os.MkdirTemp(".", "sec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hs := startHostileServer(t, dir)
	ctx := context.Background()
	c := hs.pg(t, "acme", pgx.QueryExecModeSimpleProtocol)

	t.Run("cte-file-read", func(t *testing.T) {
		rel := filepath.Join(hs.dir, "warehouse", "tenant=beta", "*", "*.parquet")
		abs, err := filepath.Abs(rel)
		if err != nil {
			t.Fatal(err)
		}
		for _, glob := range []string{rel, abs} {
			q := fmt.Sprintf(`WITH a AS (SELECT * FROM %q), %q AS (SELECT 1) SELECT tenant_id, payload FROM a`, glob, glob)
			answer, err := pgAnswer(c, q)
			if err == nil || strings.Contains(answer, betaSecret) {
				t.Fatalf("read beta's Parquet through %s: %v %s", glob, err, answer)
			}
			var pe *pgconn.PgError
			if !asPgError(err, &pe) || (pe.Code != "42P01" && pe.Code != "42501") {
				t.Fatalf("want 42P01 or 42501, got %v", err)
			}
		}
	})

	t.Run("copy-other-tenant", func(t *testing.T) {
		data := "acme\tacme-ok\tok.row\t{}\nbeta\t" + betaEntity + "\tinjected\t{}\n"
		_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(data), "COPY events (tenant_id, entity_id, event_type, payload) FROM STDIN")
		var pe *pgconn.PgError
		if !asPgError(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Detail, "row 2") {
			t.Fatalf("COPY with a beta row: %v", err)
		}
		// Nothing of the COPY was stored, in either tenant.
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM events WHERE event_type = 'ok.row'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("acme's row of the refused COPY: %d %v", n, err)
		}
		body := hs.must(t, "beta", "POST", "/v1/query", sqlBody("SELECT count(*) AS n FROM events WHERE event_type = 'injected'"), 200)
		if !strings.Contains(body, `[[0]]`) && !strings.Contains(body, `[0]`) {
			t.Fatalf("beta's events after acme's COPY: %s", body)
		}
		// The same rule over HTTP.
		st, b := hs.do(t, "acme", "POST", "/v1/events", `{"tenant":"beta","entity_id":"x","event_type":"injected"}`)
		if st != 403 {
			t.Fatalf("HTTP append to beta as acme: %d %s", st, b)
		}
	})

	t.Run("engine-catalog-and-settings", func(t *testing.T) {
		for _, q := range []string{
			"SELECT * FROM duckdb_tables()",
			"SELECT table_schema, table_name FROM information_schema.tables",
			"SELECT current_setting('allowed_directories')",
			"SELECT * FROM pg_catalog.pg_tables",
		} {
			st, body := hs.do(t, "acme", "POST", "/v1/query", sqlBody(q))
			if st != 400 || strings.Contains(body, "_proj") || strings.Contains(body, hs.dir) {
				t.Errorf("HTTP %s: %d %s", q, st, body)
			}
		}
		// Over pgwire the catalog is the server's own: acme's relations,
		// never another tenant's projection tables.
		answer, err := pgAnswer(c, "SELECT relname FROM pg_catalog.pg_class")
		if err != nil || strings.Contains(answer, "counts") {
			t.Errorf("pg_class: %v %s", err, answer)
		}
		// Each tenant's catalog lists its own projections, in schema
		// projections: beta sees counts, acme does not.
		const listing = "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema = 'projections' " +
			"UNION ALL SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'projections'"
		if answer, err := pgAnswer(c, listing); err != nil || strings.Contains(answer, "counts") {
			t.Errorf("acme's catalog lists beta's projection: %v %s", err, answer)
		}
		b := hs.pg(t, "beta", pgx.QueryExecModeSimpleProtocol)
		if answer, err := pgAnswer(b, listing); err != nil || strings.Count(answer, "projections.counts") != 2 {
			t.Errorf("beta's catalog: %v %s", err, answer)
		}
		if answer, err := pgAnswer(b, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'projections' AND table_name = 'counts' ORDER BY ordinal_position"); err != nil ||
			!strings.Contains(answer, "entity_id") || !strings.Contains(answer, "n") {
			t.Errorf("beta's projection columns: %v %s", err, answer)
		}
	})

	t.Run("no-internal-names-in-errors", func(t *testing.T) {
		for _, q := range []string{"SELECT * FROM gen_3", "SELECT * FROM _hot.gen_3", "SELECT nosuch FROM events"} {
			_, body := hs.do(t, "acme", "POST", "/v1/query", sqlBody(q))
			answer, _ := pgAnswer(c, q)
			for _, a := range []string{body, answer} {
				if strings.Contains(a, "gen_") && strings.Contains(a, "_hot.") || strings.Contains(a, hs.dir) {
					t.Errorf("%s: %s", q, a)
				}
			}
		}
	})

	t.Run("value-builders-bounded", func(t *testing.T) {
		start := time.Now()
		st, body := hs.do(t, "acme", "POST", "/v1/query", sqlBody("SELECT length(repeat('x', 3000000000)) AS n"))
		if st != 400 || !strings.Contains(body, "256 MiB") || time.Since(start) > 5*time.Second {
			t.Fatalf("repeat 3e9: %d %s after %v", st, body, time.Since(start))
		}
	})
}

// TestOneTenantCannotStarveAnother: four engine-bound queries of acme's
// over HTTP (their clients stay connected) hold at most acme's share of
// the engine's connections, so beta's query answers at once; and
// abandoning them frees the engine.
func TestOneTenantCannotStarveAnother(t *testing.T) {
	dir := t.TempDir()
	hs := startHostileServer(t, dir)
	// Four engine connections (GOMAXPROCS=2), two per tenant.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", hs.p.url+"/v1/query",
				strings.NewReader(sqlBody("SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3")))
			req.Header.Set("Authorization", "Bearer "+hs.keys["acme"])
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	st, body := hs.do(t, "beta", "POST", "/v1/query", sqlBody("SELECT count(*) AS n FROM events"))
	if st != 200 || time.Since(start) > 3*time.Second {
		t.Fatalf("beta while acme scans: %d %s after %v", st, body, time.Since(start))
	}
	cancel() // acme's clients go away: their queries stop
	wg.Wait()
	start = time.Now()
	for i := 0; i < 4; i++ {
		if st, body := hs.do(t, "acme", "POST", "/v1/query", sqlBody("SELECT 1 AS x")); st != 200 {
			t.Fatalf("acme after abandoning its scans: %d %s", st, body)
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the abandoned scans still held the engine: %v", time.Since(start))
	}
}

// TestAnalyticsWarningsStayInTheTenant: the names a warning suggests come
// from the asking tenant's events only, so a warning cannot tell one
// tenant another's event types or payload fields.
func TestAnalyticsWarningsStayInTheTenant(t *testing.T) {
	as := startAuthServer(t, false)
	if st, body := as.do(t, as.keys["acme"], "POST", "/v1/events", `{"entity_id":"r1","event_type":"secret.launch","payload":{"codename":"x"}}`); st != 200 {
		t.Fatalf("acme append: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["beta"], "POST", "/v1/events", `{"entity_id":"u1","event_type":"signup","payload":{"plan":"free"}}`); st != 200 {
		t.Fatalf("beta append: %d %s", st, body)
	}
	// acme asks first, so its names are cached, then beta.
	st, body := as.do(t, as.keys["acme"], "POST", "/v1/analytics/funnel", `{"steps": ["secret.lunch"]}`)
	if st != 200 || !strings.Contains(body, `did you mean \"secret.launch\"`) {
		t.Fatalf("acme: %d %s", st, body)
	}
	st, body = as.do(t, as.keys["beta"], "POST", "/v1/analytics/funnel", `{"steps": ["secret.lunch", "signup"], "breakdown": "payload.codenam"}`)
	if st != 200 || strings.Contains(body, "secret.launch") || strings.Contains(body, "codename") || !strings.Contains(body, `no event has type \"secret.lunch\"`) {
		t.Fatalf("beta learned of acme's names: %d %s", st, body)
	}
}
