package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allsource/allsource/authz"
)

// Regression tests for three holes in the tenant boundary, each through
// a real server process: the login throttle, user names across tenants,
// and exports as a probe of the server's network.

// authCall sends one request with a credential: "basic:user:password", or
// an API key or token as a bearer credential.
func authCall(t *testing.T, p *proc, cred, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if rest, ok := strings.CutPrefix(cred, "basic:"); ok {
		user, pw, _ := strings.Cut(rest, ":")
		req.SetBasicAuth(user, pw)
	} else if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// pgLogin logs in over pgwire as user with password, and closes the
// session at once.
func pgLogin(p *proc, user, password string) error {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://someone@%s/allsource?sslmode=disable", p.pg))
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = user, password
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

func setUsers(t *testing.T, dir string, users ...[3]string) {
	t.Helper()
	us, err := authz.OpenUserStore(authz.UsersFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := us.SetUser(u[0], u[1], []string{authz.RoleReader}, u[2]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThrottleGuessesInterleavedWithValidLogins: 45 wrong passwords for
// one user, each followed by a valid login of another user from the same
// address, lock the first user out (429 over HTTP, FATAL over pgwire)
// while the second goes on working; spraying many names from the address
// still locks the address.
func TestThrottleGuessesInterleavedWithValidLogins(t *testing.T) {
	dir := t.TempDir()
	as := makeKeys(t, dir)
	setUsers(t, dir,
		[3]string{"victim", "acme", "the victim's password"}, [3]string{"me", "acme", "my own long password"},
		[3]string{"pg-victim", "acme", "the victim's password"}, [3]string{"pg-me", "acme", "my own long password"})
	p := startProc(t, dir, nil)
	q := sqlBody("SELECT 1")

	// HTTP Basic, the valid logins over Basic and with an API key.
	var statuses []int
	for i := 0; i < 45; i++ {
		st, body := authCall(t, p, "basic:victim:guess number "+fmt.Sprint(i), "POST", "/v1/query", q)
		statuses = append(statuses, st)
		if st != 401 && st != 429 {
			t.Fatalf("guess %d: %d %s", i, st, body)
		}
		if st, body := authCall(t, p, "basic:me:my own long password", "POST", "/v1/query", q); st != 200 {
			t.Fatalf("round %d: the valid user got %d %s", i, st, body)
		}
		if st, body := authCall(t, p, as.keys["acme-reader"], "POST", "/v1/query", q); st != 200 {
			t.Fatalf("round %d: a valid key got %d %s", i, st, body)
		}
	}
	if statuses[9] != 401 || statuses[10] != 429 || statuses[44] != 429 {
		t.Fatalf("the guesses were answered %v; want 401 ten times, then 429", statuses)
	}
	// Even the right password waits now, from this address.
	if st, body := authCall(t, p, "basic:victim:the victim's password", "POST", "/v1/query", q); st != 429 || !strings.Contains(body, "victim") {
		t.Fatalf("the victim's own password: %d %s", st, body)
	}

	// pgwire: SCRAM logins, the same rule.
	var codes []string
	for i := 0; i < 45; i++ {
		err := pgLogin(p, "pg-victim", "guess number "+fmt.Sprint(i))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("guess %d: %v", i, err)
		}
		code := pe.Code
		if strings.Contains(pe.Message, "too many failed logins") {
			code = "throttled"
		}
		codes = append(codes, code)
		if err := pgLogin(p, "pg-me", "my own long password"); err != nil {
			t.Fatalf("round %d: the valid user: %v", i, err)
		}
	}
	if codes[9] != "28P01" || codes[10] != "throttled" || codes[44] != "throttled" {
		t.Fatalf("the guesses were answered %v; want 28P01 ten times, then the throttle", codes)
	}
	if err := pgLogin(p, "pg-me", "my own long password"); err != nil {
		t.Fatalf("the valid user after the guesses: %v", err)
	}

	// Spraying: a wrong password for each of many names locks the address
	// whatever name comes next, a valid one included.
	var last int
	for i := 0; i < 60 && last != 429; i++ {
		last, _ = authCall(t, p, fmt.Sprintf("basic:sprayed-%d:wrong password", i), "POST", "/v1/query", q)
	}
	if last != 429 {
		t.Fatalf("spraying names was not throttled: %d", last)
	}
	if st, _ := authCall(t, p, "basic:me:my own long password", "POST", "/v1/query", q); st != 429 {
		t.Fatalf("after spraying, the address is not locked: %d", st)
	}
}

// TestUserNamesAcrossTenants: a tenant administrator's users are
// name@tenant, so it cannot take a name another tenant's key logins use
// (beta's `psql -U grafana` with its key goes on working); it cannot make
// reserved names; other tenants' users are 404 to it, exactly as missing
// ones.
func TestUserNamesAcrossTenants(t *testing.T) {
	dir := t.TempDir()
	as := makeKeys(t, dir)
	p := startProc(t, dir, []string{"ALLSOURCE_ADMIN_PASSWORD=the operator's password"})
	acmeAdmin, admin := as.keys["acme-admin"], as.keys["admin"]
	if err := pgLogin(p, "grafana", as.keys["beta"]); err != nil {
		t.Fatalf("beta's key login as grafana: %v", err)
	}
	// Beta's users, made by the administrator.
	for _, u := range []string{"dash", "carol@beta"} {
		if st, body := authCall(t, p, admin, "PUT", "/v1/admin/users/"+u, `{"tenant": "beta", "roles": ["reader"], "password": "beta user's password"}`); st != 200 {
			t.Fatalf("admin makes %s: %d %s", u, st, body)
		}
	}

	// acme's administrator asks for grafana: it gets grafana@acme.
	st, body := authCall(t, p, acmeAdmin, "PUT", "/v1/admin/users/grafana", `{"roles": ["reader"], "password": "acme's grafana password"}`)
	var made struct{ Name, Tenant string }
	json.Unmarshal([]byte(body), &made)
	if st != 200 || made.Name != "grafana@acme" || made.Tenant != "acme" {
		t.Fatalf("acme's grafana: %d %s", st, body)
	}
	if err := pgLogin(p, "grafana", as.keys["beta"]); err != nil {
		t.Fatalf("beta's key login as grafana after acme made its user: %v", err)
	}
	if err := pgLogin(p, "grafana@acme", "acme's grafana password"); err != nil {
		t.Fatalf("acme's grafana@acme: %v", err)
	}
	if st, _ := authCall(t, p, "basic:grafana:acme's grafana password", "POST", "/v1/query", sqlBody("SELECT 1")); st != 401 {
		t.Fatalf("acme's password as the bare grafana: %d", st)
	}

	// Reserved names stay the administrators'.
	for _, name := range []string{"admin", "root", "postgres", "pg_monitor", "admin@acme"} {
		st, body := authCall(t, p, acmeAdmin, "PUT", "/v1/admin/users/"+name, `{"roles": ["reader"], "password": "a long enough password"}`)
		if st != 400 || !strings.Contains(body, "reserved") {
			t.Errorf("acme's admin makes %s: %d %s", name, st, body)
		}
	}
	if st, _ := authCall(t, p, "basic:admin:the operator's password", "POST", "/v1/query", sqlBody("SELECT 1")); st != 200 {
		t.Fatalf("the operator's admin login: %d", st)
	}

	// Beta's users are 404 to acme's administrator, like a missing user:
	// the same answer, but for the name.
	answers := map[string]string{}
	for _, name := range []string{"dash", "carol@beta", "ghost@beta"} {
		for _, method := range []string{"GET", "DELETE", "PUT"} {
			body := ""
			if method == "PUT" {
				body = `{"roles": ["reader"], "password": "a long enough password"}`
			}
			if name == "dash" && method == "PUT" {
				continue // dash in acme's namespace is dash@acme: acme's own
			}
			st, answer := authCall(t, p, acmeAdmin, method, "/v1/admin/users/"+name, body)
			if st != 404 {
				t.Errorf("%s %s as acme's admin: %d %s", method, name, st, answer)
			}
			answers[method+" "+name] = strings.ReplaceAll(answer, name, "NAME")
		}
	}
	if answers["PUT carol@beta"] != answers["PUT ghost@beta"] || answers["GET carol@beta"] != answers["GET ghost@beta"] || answers["DELETE carol@beta"] != answers["DELETE ghost@beta"] {
		t.Errorf("another tenant's user and a missing one answer differently: %v", answers)
	}
	if _, list := authCall(t, p, acmeAdmin, "GET", "/v1/admin/users", ""); strings.Contains(list, "dash") || strings.Contains(list, "carol") || !strings.Contains(list, "grafana@acme") {
		t.Errorf("acme's admin lists %s", list)
	}
	// Beta's users are untouched.
	for _, u := range []string{"dash", "carol@beta"} {
		if err := pgLogin(p, u, "beta user's password"); err != nil {
			t.Errorf("beta's %s: %v", u, err)
		}
	}
}

// TestExportCannotProbeTheServersNetwork: an export to an HTTP service on
// loopback is refused when defined, and so is one to the server's own
// pgwire port; with the operator's allowance the export runs, fails, and
// neither its status nor the log holds what the service answered.
func TestExportCannotProbeTheServersNetwork(t *testing.T) {
	const secret = "INTERNAL-SERVICE-SECRET-5150"
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the admin token is "+secret, http.StatusForbidden)
	}))
	defer svc.Close()
	port := svc.Listener.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	as := makeKeys(t, dir)
	key := as.keys["acme-admin"]
	p := startProc(t, dir, nil)
	for _, target := range []string{
		svc.URL + "/db?table=t",
		fmt.Sprintf("clickhouse://localhost:%d/db", port),
		fmt.Sprintf("postgres://x@127.0.0.1:%d/db", port),
		"http://169.254.169.254/latest",
	} {
		st, body := authCall(t, p, key, "POST", "/v1/exports", fmt.Sprintf(`{"target": %q}`, target))
		if st != 403 || !strings.Contains(body, "--export-allow-hosts") {
			t.Errorf("%s: %d %s", target, st, body)
		}
	}
	p.stop(t)

	p = startProc(t, dir, nil, "--export-allow-hosts", "127.0.0.1")
	if st, body := authCall(t, p, key, "POST", "/v1/exports", fmt.Sprintf(`{"target": "postgres://x@%s/db"}`, p.pg)); st != 403 || !strings.Contains(body, "own listener") {
		t.Errorf("an export to the server's own pgwire: %d %s", st, body)
	}
	st, body := authCall(t, p, key, "POST", "/v1/exports", fmt.Sprintf(`{"target": %q, "every": "1s"}`, svc.URL+"/db?table=t"))
	var job struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		LastError string `json:"last_error"`
	}
	if json.Unmarshal([]byte(body), &job); st != 201 {
		t.Fatalf("with the allowance: %d %s", st, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for job.Status != "retrying" {
		if time.Now().After(deadline) {
			t.Fatalf("the job never failed: %+v", job)
		}
		time.Sleep(50 * time.Millisecond)
		_, body = authCall(t, p, key, "GET", "/v1/exports/"+job.ID, "")
		json.Unmarshal([]byte(body), &job)
	}
	if strings.Contains(job.LastError, secret) || !strings.Contains(job.LastError, "HTTP 403") {
		t.Fatalf("last_error %q", job.LastError)
	}
	time.Sleep(1500 * time.Millisecond) // a retry, logged
	if _, list := authCall(t, p, key, "GET", "/v1/exports", ""); strings.Contains(list, secret) {
		t.Fatalf("the job list holds the service's answer: %s", list)
	}
	if strings.Contains(p.logs.String(), secret) {
		t.Fatal("the server log holds the service's answer")
	}
	if st, _ := authCall(t, p, key, "GET", "/v1/exports", ""); st != 200 {
		t.Fatalf("the server's own logins after the failing export: %d", st)
	}
}
