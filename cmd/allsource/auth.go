package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/boundary"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// auth is the HTTP front end's side of the boundary: the server's
// credential stores (for the management API) and the Gate every request
// passes through. Authentication is off (loopback only, no principal) or
// on with an Authenticator; both take the same path through the Gate.
type auth struct {
	on       bool
	keys     *authz.KeyStore
	authn    *authz.Authenticator
	quotas   *authz.Quotas   // always loaded: quotas apply with or without auth
	policies *authz.Policies // in force with auth on
	roles    *authz.Roles    // the custom roles, which policies, keys, users and tokens use
	users    *authz.UserStore
	gate     *boundary.Gate
	jwt      authz.JWTConfig
	auto     bool // --auth auto: turns on when the first credential appears
	dataDir  string
}

// setupAuth decides whether the server authenticates. --auth auto turns
// it on when a credential source exists: an API key in the data dir, a
// token secret (made by `allsource token issue`), a user, or
// --jwt-public-key / --jwt-jwks.
// Without auth the server only listens on loopback addresses.
func setupAuth(cfg *Config, log *slog.Logger) (*auth, error) {
	roles, err := authz.OpenRoles(authz.RolesFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	keys, err := authz.OpenKeyStore(authz.KeysFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	keys.SetRoles(roles)
	list, err := keys.List()
	if err != nil {
		return nil, err
	}
	secret, haveSecret, err := authz.ReadSecret(authz.SecretFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	jc := authz.JWTConfig{HS256Secret: secret, HS256SecretFile: authz.SecretFile(cfg.DataDir), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Roles: roles}
	for _, p := range splitList(cfg.JWTPublicKeys) {
		k, err := authz.LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("--jwt-public-key: %w", err)
		}
		jc.PublicKeys = append(jc.PublicKeys, k)
	}
	if cfg.JWTJWKS != "" {
		keys, err := authz.LoadJWKS(cfg.JWTJWKS)
		if err != nil {
			return nil, fmt.Errorf("--jwt-jwks: %w", err)
		}
		jc.PublicKeys = append(jc.PublicKeys, keys...)
	}
	users, err := authz.OpenUserStore(authz.UsersFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	users.SetRoles(roles)
	// First start: an administrator from ALLSOURCE_ADMIN_PASSWORD.
	if pw := os.Getenv("ALLSOURCE_ADMIN_PASSWORD"); pw != "" && len(users.List()) == 0 {
		if err := users.SetUser("admin", allsource.AllTenants, []string{authz.RoleAdmin}, pw); err != nil {
			return nil, fmt.Errorf("ALLSOURCE_ADMIN_PASSWORD: %w", err)
		}
		log.Info("created user admin (every tenant) from ALLSOURCE_ADMIN_PASSWORD")
	}
	sources := len(list) > 0 || haveSecret || len(jc.PublicKeys) > 0 || len(users.List()) > 0
	quotas, err := authz.OpenQuotas(authz.QuotasFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	policies, err := authz.OpenPolicies(authz.PoliciesFile(cfg.DataDir), roles)
	if err != nil {
		return nil, err
	}
	a := &auth{keys: keys, quotas: quotas, policies: policies, roles: roles, users: users, jwt: jc, dataDir: cfg.DataDir}
	switch cfg.Auth {
	case "on":
		a.on = true
	case "auto":
		a.on, a.auto = sources, true
	case "off":
	default:
		return nil, fmt.Errorf("--auth must be auto, on or off, got %q", cfg.Auth)
	}
	if !a.on {
		for _, addr := range []string{cfg.HTTPAddr, cfg.PGAddr} {
			if addr != "" && !loopbackAddr(addr) {
				return nil, fmt.Errorf("listening on %s needs authentication: create an API key (allsource admin key create --data-dir %s --tenant T --role R) or a token secret (allsource token issue), or pass --auth on", addr, cfg.DataDir)
			}
		}
		log.Warn("authentication is off (no API keys, users, token secret or --jwt-public-key): serving loopback only, every request trusted until a credential is created")
		return a, a.newGate(authz.NewThrottle())
	}
	jv, err := authz.NewJWTVerifier(jc)
	if err != nil {
		return nil, err
	}
	a.authn = &authz.Authenticator{Keys: keys, JWT: jv, Users: users}
	log.Info("authentication on", "api_keys", len(list), "users", len(users.List()), "token_secret", haveSecret, "jwt_public_keys", len(jc.PublicKeys))
	return a, a.newGate(authz.NewThrottle())
}

// credentialProbe, with --auth auto on a server that started without
// credentials, is the Gate's probe (boundary.Gate.SetProbe): it looks for
// the data dir's keys, users and token secret, and once one exists turns
// authentication on in both front ends (and starts the audit log) without
// a restart, as it would have been at start-up. nil when there is nothing
// to watch.
func (a *auth) credentialProbe(ctx context.Context, st *store, log *slog.Logger) func() bool {
	if a.on || !a.auto {
		return nil
	}
	var mu sync.Mutex
	files := []string{authz.KeysFile(a.dataDir), authz.UsersFile(a.dataDir), a.jwt.HS256SecretFile}
	return func() bool {
		// The common case, every request of a server without credentials,
		// is three failed stats and no lock.
		some := false
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				some = true
				break
			}
		}
		if !some {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if a.gate.Authn() != nil {
			return true
		}
		keys, _ := a.keys.List()
		secret, haveSecret, _ := authz.ReadSecret(a.jwt.HS256SecretFile)
		if len(keys) == 0 && !haveSecret && len(a.users.List()) == 0 {
			return false
		}
		jc := a.jwt
		jc.HS256Secret = secret
		jv, err := authz.NewJWTVerifier(jc)
		if err != nil {
			log.Error("a credential appeared but authentication cannot turn on", "err", err)
			return false
		}
		a.authn = &authz.Authenticator{Keys: a.keys, JWT: jv, Users: a.users}
		a.on = true
		a.gate.TurnOn(a.authn, a.policies)
		log.Info("authentication on: a credential was created in the data dir", "api_keys", len(keys), "users", len(a.users.List()), "token_secret", haveSecret)
		if err := a.startAudit(ctx, st, log); err != nil {
			log.Error("audit log", "err", err)
		}
		return true
	}
}

// newGate (re)makes the Gate over a's stores with throttle (nil: none).
func (a *auth) newGate(throttle *authz.Throttle) error {
	o := boundary.Options{Quotas: a.quotas, Throttle: throttle}
	if a.on {
		o.Authn, o.Policies = a.authn, a.policies
	}
	g, err := boundary.New(o)
	if err != nil {
		return err
	}
	if a.gate != nil {
		g.SetAuditor(a.gate.Auditor())
	}
	a.gate = g
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loopbackAddr reports whether a listen address is on a loopback
// interface only (an empty host or 0.0.0.0 listens everywhere).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// middleware passes every request but the public ones through the Gate:
// login (with authentication on), admission of the route's action in the
// request's tenant (?tenant=, or the principal's), and for queries the
// tenant's query quota, timeout and result limit; queries are recorded
// with their text, status and duration.
func (a *auth) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		route := c.FullPath()
		if publicRoutes[route] || route == "" {
			c.Next() // unmatched paths get their 404
			return
		}
		src := c.ClientIP()
		var p *allsource.Principal
		if a.gate.On() {
			pp, ok := a.login(c, route, src)
			if !ok {
				return
			}
			p = &pp
		}
		action, known := routeAction(c.Request.Method, route)
		serverWide := route == "/metrics" || route == "/v1/status" || strings.HasPrefix(route, "/debug/pprof/")
		if p != nil && !known && !serverWide {
			a.gate.Record(authz.AuditRecord{Kind: "denied", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: src, Target: route, Reason: "route not open to API credentials"})
			httpx.WriteError(c, allsource.Errorf(allsource.CodeForbidden, "%s is not open to API credentials", route))
			c.Abort()
			return
		}
		scope, err := a.gate.Admit(c.Request.Context(), p, boundary.Request{Interface: "http", Remote: src, Action: action,
			Tenant: c.Query("tenant"), Target: route, ServerWide: serverWide})
		if err != nil {
			httpx.WriteError(c, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(scope.Ctx)
		if route == "/v1/subscribe" || (action != authz.ActionQuery && action != authz.ActionAnalytics) {
			c.Next() // subscriptions are long-lived: no query slot or timeout
			return
		}
		rec := scope.Record
		rec.Kind, rec.Query = "query", requestText(c.Request)
		start := time.Now()
		a.limited(c, scope)
		rec.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		rec.Status = strconv.Itoa(c.Writer.Status())
		if p != nil {
			a.gate.Record(rec)
		}
	}
}

// login takes the request's credential (a bearer API key or token, or
// Basic user and password over HTTPS or loopback) through the Gate. On
// failure it has answered and aborted.
func (a *auth) login(c *gin.Context, route, src string) (allsource.Principal, bool) {
	cred, ok := bearer(c.Request)
	at := boundary.Attempt{Interface: "http", Remote: src, Target: route, Name: authz.CredentialName(cred), Credential: cred}
	authn := a.gate.Authn()
	verify := func() (allsource.Principal, error) { return authn.Authenticate(cred) }
	if user, pass, basic := c.Request.BasicAuth(); basic {
		if c.Request.TLS == nil && !loopbackAddr(c.Request.RemoteAddr) {
			httpx.WriteError(c, allsource.Errorf(allsource.CodeUnauthorized, "a password is sent in clear: use HTTPS (--http-tls) or a token"))
			c.Abort()
			return allsource.Principal{}, false
		}
		at.Name, at.Credential = user, "basic:"+user // one login record per user
		verify, ok = func() (allsource.Principal, error) { return authn.Password(user, pass) }, true
	}
	if !ok {
		a.gate.Record(authz.AuditRecord{Kind: "login_failed", Interface: "http", Remote: src, Target: route, Reason: "no credentials"})
		c.Header("WWW-Authenticate", `Bearer realm="allsource"`)
		httpx.WriteError(c, allsource.Errorf(allsource.CodeUnauthorized, "credentials required: send Authorization: Bearer <API key or token>"))
		c.Abort()
		return allsource.Principal{}, false
	}
	p, err := a.gate.Login(at, verify)
	if err != nil {
		if allsource.ErrorCode(err) != allsource.CodeRateLimited {
			c.Header("WWW-Authenticate", `Bearer realm="allsource", error="invalid_token"`)
		}
		httpx.WriteError(c, err)
		c.Abort()
		return allsource.Principal{}, false
	}
	return p, true
}

// limited runs the rest of the chain as one of the scope's queries: a
// concurrent query slot of its tenant, its timeout, and its result-size
// limit (past it the query is cancelled with the quota as the cause; the
// handler ends the stream with that error).
func (a *auth) limited(c *gin.Context, scope *boundary.Scope) {
	q, err := scope.StartQuery(c.Request.Context())
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	defer q.Done()
	c.Request = c.Request.WithContext(q.Ctx)
	if limit := q.MaxResultBytes; limit > 0 {
		ctx, cancel := context.WithCancelCause(c.Request.Context())
		defer cancel(nil)
		c.Request = c.Request.WithContext(ctx)
		c.Writer = &quotaWriter{ResponseWriter: c.Writer, limit: limit, stop: func() { cancel(authz.ResultTooLarge(scope.Tenant, limit)) }}
	}
	c.Next()
}

// quotaWriter counts a response's bytes and calls stop once they pass
// limit (the bytes already written still go out).
type quotaWriter struct {
	gin.ResponseWriter
	limit, n int64
	stop     func()
	stopped  bool
}

func (w *quotaWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n > w.limit && !w.stopped {
		w.stopped = true
		w.stop()
	}
	return w.ResponseWriter.Write(p)
}

func (w *quotaWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// admit is the ingest handler's check of a parsed batch, through the
// Gate: append policies per event type, the storage quota, the rates.
func (a *auth) admit(wh *warehouse.Warehouse) func(ctx context.Context, tenant string, inputs []ingest.Input, size int64) error {
	return func(ctx context.Context, tenant string, inputs []ingest.Input, size int64) error {
		return a.gate.AdmitAppend(ctx, tenant, func(i int) string { return inputs[i].EventType }, len(inputs), size,
			func() int64 { return wh.TenantBytes(tenant) })
	}
}

// requestText is what a query request asks: the sql, query or eventql
// member of its JSON body, else the body (an analytics question), else
// the URL. The body is put back for the handler.
func requestText(r *http.Request) string {
	const limit = 64 << 10
	if r.Body == nil || r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil {
		return ""
	}
	var q struct {
		SQL     string `json:"sql"`
		Query   string `json:"query"`
		EventQL string `json:"eventql"`
	}
	if json.Unmarshal(b, &q) == nil {
		for _, t := range []string{q.SQL, q.Query, q.EventQL} {
			if t != "" {
				return t
			}
		}
	}
	return string(b)
}

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return "", false
	}
	return strings.TrimSpace(cred), true
}

// setClientAuth adds the credential of ALLSOURCE_TOKEN (an API key or a
// token) to a request the CLI sends to a server.
func setClientAuth(r *http.Request) {
	if t := strings.TrimSpace(os.Getenv("ALLSOURCE_TOKEN")); t != "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
}
