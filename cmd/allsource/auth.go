package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
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
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// auth is the server's authentication: off (loopback only, every request
// trusted), or on with an Authenticator.
type auth struct {
	on        bool
	keys      *authz.KeyStore
	authn     *authz.Authenticator
	audit     *authz.Auditor // set by serve once the store is open
	throttle  *authz.Throttle
	quotas    *authz.Quotas   // always loaded: quotas apply with or without auth
	policies  *authz.Policies // in force with auth on
	rolesFile string
	users     *authz.UserStore

	mu   sync.Mutex
	seen map[[32]byte]time.Time // credentials whose use was recorded, and when
}

// loginEvery is how often a credential's use is recorded again.
const loginEvery = time.Hour

// setupAuth decides whether the server authenticates. --auth auto turns
// it on when a credential source exists: an API key in the data dir, a
// token secret (made by `allsource token issue`), a user, or
// --jwt-public-key / --jwt-jwks.
// Without auth the server only listens on loopback addresses.
func setupAuth(cfg *Config, log *slog.Logger) (*auth, error) {
	keys, err := authz.OpenKeyStore(authz.KeysFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	list, err := keys.List()
	if err != nil {
		return nil, err
	}
	secret, haveSecret, err := authz.ReadSecret(authz.SecretFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	jc := authz.JWTConfig{HS256Secret: secret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}
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
	if err := authz.UseRolesFile(authz.RolesFile(cfg.DataDir)); err != nil {
		return nil, err
	}
	policies, err := authz.OpenPolicies(authz.PoliciesFile(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	a := &auth{keys: keys, quotas: quotas, policies: policies, throttle: authz.NewThrottle(), rolesFile: authz.RolesFile(cfg.DataDir), users: users}
	switch cfg.Auth {
	case "on":
		a.on = true
	case "auto":
		a.on = sources
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
		log.Warn("authentication is off (no API keys, token secret or --jwt-public-key): serving loopback only, every request trusted")
		return a, nil
	}
	jv, err := authz.NewJWTVerifier(jc)
	if err != nil {
		return nil, err
	}
	a.authn = &authz.Authenticator{Keys: keys, JWT: jv, Users: users}
	log.Info("authentication on", "api_keys", len(list), "users", len(users.List()), "token_secret", haveSecret, "jwt_public_keys", len(jc.PublicKeys))
	return a, nil
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

// routeActions is what each authenticated route needs. A route missing
// here is refused, so a new endpoint cannot be reachable by mistake.
var routeActions = map[string]authz.Action{
	"/v1/events":                         authz.ActionAppend,
	"/v1/query":                          authz.ActionQuery,
	"/v1/entities/:entity_id/events":     authz.ActionQuery,
	"/v1/eventql":                        authz.ActionQuery,
	"/api/v1/run-eventql-query":          authz.ActionQuery,
	"/v1/analytics/funnel":               authz.ActionAnalytics,
	"/v1/analytics/retention":            authz.ActionAnalytics,
	"/v1/analytics/timeseries":           authz.ActionAnalytics,
	"/v1/analytics/anomalies":            authz.ActionAnalytics,
	"/v1/analytics/stats":                authz.ActionAnalytics,
	"/v1/analytics/correlation":          authz.ActionAnalytics,
	"/v1/analytics/forecast":             authz.ActionAnalytics,
	"/v1/analytics/retention_conditions": authz.ActionAnalytics,
	"/v1/analytics/pivot":                authz.ActionAnalytics,
	"/v1/subscribe":                      authz.ActionQuery,
	"/v1/projections":                    authz.ActionReadProjections,
	"POST /v1/projections":               authz.ActionManageProjections,
	"/v1/projections/:name":              authz.ActionReadProjections,
	"PUT /v1/projections/:name":          authz.ActionManageProjections,
	"DELETE /v1/projections/:name":       authz.ActionManageProjections,
	"POST /v1/projections/:name/:action": authz.ActionManageProjections,
	"/v1/projections/:name/rows":         authz.ActionReadProjections,
	"/v1/projections/:name/dead-letters": authz.ActionReadProjections,
	"/v1/entities/:entity_id/state":      authz.ActionReadProjections,
	"/v1/exports":                        authz.ActionExport,
	"/v1/exports/:id":                    authz.ActionExport,
	"/v1/exports/:id/:action":            authz.ActionExport,
	"/v1/admin/keys":                     authz.ActionManageKeys,
	"/v1/admin/keys/:id":                 authz.ActionManageKeys,
	"/v1/admin/quotas":                   authz.ActionManageTenants,
	"/v1/admin/quotas/:tenant":           authz.ActionManageTenants,
	"/v1/admin/policies":                 authz.ActionManageTenants,
	"/v1/admin/roles":                    authz.ActionManageTenants,
	"/v1/admin/users":                    authz.ActionManageKeys,
	"/v1/admin/users/:name":              authz.ActionManageKeys,
}

// routeAction is what a request needs: its method and route's entry, or
// the route's.
func routeAction(method, route string) (authz.Action, bool) {
	if a, ok := routeActions[method+" "+route]; ok {
		return a, true
	}
	a, ok := routeActions[route]
	return a, ok
}

// publicRoutes answer without credentials.
var publicRoutes = map[string]bool{"/healthz": true, "/readyz": true}

// middleware authenticates every request but the public ones, checks the
// route's action in the request's tenant, and scopes the request to the
// principal's tenant. With auth off it does nothing.
func (a *auth) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if a == nil {
			c.Next()
			return
		}
		route := c.FullPath()
		if publicRoutes[route] || route == "" {
			c.Next() // unmatched paths get their 404
			return
		}
		if !a.on {
			if route == "/v1/subscribe" {
				c.Next()
				return
			}
			action, _ := routeAction(c.Request.Method, route)
			a.limited(c, route, action, c.DefaultQuery("tenant", allsource.DefaultTenant))
			return
		}
		src := c.ClientIP()
		var p allsource.Principal
		var err error
		cred, ok := bearer(c.Request)
		login := authz.CredentialName(cred) // who the throttle counts
		if user, pass, basic := c.Request.BasicAuth(); basic {
			cred, ok, login = "basic:"+user, true, user // for firstUse: one entry per user
			if c.Request.TLS == nil && !loopbackAddr(c.Request.RemoteAddr) {
				httpx.WriteError(c, allsource.Errorf(allsource.CodeUnauthorized, "a password is sent in clear: use HTTPS (--http-tls) or a token"))
				return
			}
			if err := a.throttle.Check(login, src); err != nil {
				httpx.WriteError(c, err)
				return
			}
			p, err = a.authn.Password(user, pass)
		} else if ok {
			if err := a.throttle.Check(login, src); err != nil {
				httpx.WriteError(c, err)
				return
			}
			p, err = a.authn.Authenticate(cred)
		}
		if !ok {
			a.audit.Record(authz.AuditRecord{Kind: "login_failed", Interface: "http", Remote: c.ClientIP(), Target: route, Reason: "no credentials"})
			c.Header("WWW-Authenticate", `Bearer realm="allsource"`)
			httpx.WriteError(c, allsource.Errorf(allsource.CodeUnauthorized, "credentials required: send Authorization: Bearer <API key or token>"))
			c.Abort()
			return
		}
		if err != nil {
			a.throttle.Failed(login, src)
			a.audit.Record(authz.AuditRecord{Kind: "login_failed", Interface: "http", Remote: c.ClientIP(), Target: route, Reason: errorText(err)})
			c.Header("WWW-Authenticate", `Bearer realm="allsource", error="invalid_token"`)
			httpx.WriteError(c, err)
			c.Abort()
			return
		}
		a.throttle.Succeeded(login, src)
		rec := authz.AuditRecord{Interface: "http", Subject: p.Subject, Via: p.Via, Remote: src, Target: route}
		if a.firstUse(cred) {
			r := rec
			r.Kind, r.Tenant = "login", p.Tenant
			a.audit.Record(r)
		}
		tenant := c.Query("tenant")
		if tenant == "" {
			tenant = p.Tenant
			if tenant == allsource.AllTenants {
				tenant = allsource.DefaultTenant
			}
		}
		rec.Tenant = tenant
		action, known := routeAction(c.Request.Method, route)
		if route == "/metrics" || route == "/v1/status" || strings.HasPrefix(route, "/debug/pprof/") {
			// Server-wide figures: administrators only.
			action, known, tenant = authz.ActionManageTenants, true, allsource.AllTenants
		}
		if !known {
			rec.Kind, rec.Reason = "denied", "route not open to API credentials"
			a.audit.Record(rec)
			httpx.WriteError(c, allsource.Errorf(allsource.CodeForbidden, "%s is not open to API credentials", route))
			c.Abort()
			return
		}
		rec.Action = string(action)
		if err := a.policies.Authorize(p, action, authz.Resource{Tenant: tenant}); err != nil {
			rec.Kind, rec.Reason = "denied", errorText(err)
			a.audit.Record(rec)
			httpx.WriteError(c, err)
			c.Abort()
			return
		}
		ctx := allsource.WithPrincipal(c.Request.Context(), p)
		if p.Tenant == allsource.AllTenants && c.Query("tenant") != "" {
			ctx = allsource.WithTenantScope(ctx, tenant) // an admin looking at one tenant
		}
		ctx = allsource.WithReadRestriction(ctx, a.policies.Restriction(p, tenant))
		c.Request = c.Request.WithContext(ctx)
		if route == "/v1/subscribe" { // long-lived: no query slot or timeout
			c.Next()
			return
		}
		if action != authz.ActionQuery && action != authz.ActionAnalytics {
			a.limited(c, route, action, tenant)
			return
		}
		// Queries are recorded with their text, status and duration.
		rec.Kind, rec.Query = "query", requestText(c.Request)
		start := time.Now()
		a.limited(c, route, action, tenant)
		rec.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		rec.Status = strconv.Itoa(c.Writer.Status())
		a.audit.Record(rec)
	}
}

// limited runs the rest of the chain within tenant's quotas: a query or
// analytics request takes one of the tenant's concurrent query slots and
// runs under its query timeout. (Ingest quotas are checked by the ingest
// handler once it knows the batch: see admit.)
func (a *auth) limited(c *gin.Context, route string, action authz.Action, tenant string) {
	if action != authz.ActionQuery && action != authz.ActionAnalytics {
		c.Next()
		return
	}
	done, err := a.quotas.StartQuery(tenant)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	defer done()
	q := a.quotas.For(tenant)
	if d := q.Timeout(); d > 0 {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
	}
	if q.MaxResultBytes > 0 {
		// Past the limit the query is cancelled with the quota as the
		// cause; the handler ends the stream with that error.
		ctx, cancel := context.WithCancelCause(c.Request.Context())
		defer cancel(nil)
		c.Request = c.Request.WithContext(ctx)
		c.Writer = &quotaWriter{ResponseWriter: c.Writer, limit: q.MaxResultBytes, stop: func() { cancel(authz.ResultTooLarge(tenant, q.MaxResultBytes)) }}
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

// admit is the ingest handler's check of a parsed batch: policies that
// deny appending an event type, then the tenant's storage quota, then its
// event and byte rates.
func (a *auth) admit(wh *warehouse.Warehouse) func(ctx context.Context, tenant string, inputs []ingest.Input, size int64) error {
	if a == nil {
		return nil
	}
	return func(ctx context.Context, tenant string, inputs []ingest.Input, size int64) error {
		if p, ok := allsource.PrincipalFrom(ctx); ok && (a.policies.Has() || authz.AppendLimited(p.Roles)) {
			for i, in := range inputs {
				if err := a.policies.Authorize(p, authz.ActionAppend, authz.Resource{Tenant: tenant, EventType: in.EventType}); err != nil {
					e := *err.(*allsource.Error)
					e.Index, e.Field = i, "event_type"
					return &e
				}
			}
		}
		if err := a.quotas.CheckStorage(tenant, func() int64 { return wh.TenantBytes(tenant) }); err != nil {
			return err
		}
		return a.quotas.AdmitIngest(tenant, len(inputs), size)
	}
}

// firstUse reports whether cred's use should be recorded: the first time
// this process sees it, then once per loginEvery.
func (a *auth) firstUse(cred string) bool {
	if a.audit == nil {
		return false
	}
	k := sha256.Sum256([]byte(cred))
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.seen[k]; ok && now.Sub(t) < loginEvery {
		return false
	}
	if a.seen == nil || len(a.seen) >= 100_000 {
		a.seen = map[[32]byte]time.Time{}
	}
	a.seen[k] = now
	return true
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

func errorText(err error) string {
	var e *allsource.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
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
