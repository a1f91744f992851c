package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/internal/httpx"
)

// auth is the server's authentication: off (loopback only, every request
// trusted), or on with an Authenticator.
type auth struct {
	on    bool
	authn *authz.Authenticator
}

// setupAuth decides whether the server authenticates. --auth auto turns
// it on when a credential source exists: an API key in the data dir, a
// token secret (made by `allsource token issue`), or --jwt-public-key.
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
	sources := len(list) > 0 || haveSecret || len(jc.PublicKeys) > 0
	a := &auth{}
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
	a.authn = &authz.Authenticator{Keys: keys, JWT: jv}
	log.Info("authentication on", "api_keys", len(list), "token_secret", haveSecret, "jwt_public_keys", len(jc.PublicKeys))
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
}

// publicRoutes answer without credentials.
var publicRoutes = map[string]bool{"/healthz": true, "/readyz": true}

// middleware authenticates every request but the public ones, checks the
// route's action in the request's tenant, and scopes the request to the
// principal's tenant. With auth off it does nothing.
func (a *auth) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if a == nil || !a.on {
			c.Next()
			return
		}
		route := c.FullPath()
		if publicRoutes[route] || route == "" {
			c.Next() // unmatched paths get their 404
			return
		}
		cred, ok := bearer(c.Request)
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="allsource"`)
			httpx.WriteError(c, allsource.Errorf(allsource.CodeUnauthorized, "credentials required: send Authorization: Bearer <API key or token>"))
			c.Abort()
			return
		}
		p, err := a.authn.Authenticate(cred)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="allsource", error="invalid_token"`)
			httpx.WriteError(c, err)
			c.Abort()
			return
		}
		tenant := c.Query("tenant")
		if tenant == "" {
			tenant = p.Tenant
			if tenant == allsource.AllTenants {
				tenant = allsource.DefaultTenant
			}
		}
		action, known := routeActions[route]
		if route == "/metrics" || strings.HasPrefix(route, "/debug/pprof/") {
			// Server-wide figures: administrators only.
			action, known, tenant = authz.ActionManageTenants, true, allsource.AllTenants
		}
		if !known {
			httpx.WriteError(c, allsource.Errorf(allsource.CodeForbidden, "%s is not open to API credentials", route))
			c.Abort()
			return
		}
		if err := authz.Authorize(p, action, tenant); err != nil {
			httpx.WriteError(c, err)
			c.Abort()
			return
		}
		ctx := allsource.WithPrincipal(c.Request.Context(), p)
		if p.Tenant == allsource.AllTenants && c.Query("tenant") != "" {
			ctx = allsource.WithTenantScope(ctx, tenant) // an admin looking at one tenant
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
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
