package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers on http.DefaultServeMux, served only with --pprof
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/httpapi"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/internal/qcache"
	"github.com/allsource/allsource/pgwire"
)

func (m *Main) runServe(ctx context.Context, args []string) error {
	var cfg Config
	fs := newFlags("serve", "Usage: allsource serve [flags]\n\nRuns the server: the HTTP API (and /metrics) on --http-addr, the Postgres\nwire protocol on --pg-addr. Every flag can also be set as ALLSOURCE_<FLAG>\n(e.g. ALLSOURCE_DATA_DIR).")
	cfg.registerServeFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.logger(os.Stderr)
	return serve(ctx, &cfg, log)
}

// serve runs the server until ctx is cancelled, then shuts down cleanly:
// stop accepting requests, finish the ones in flight, flush the hot tier
// to Parquet, close.
func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	start := time.Now()
	if err := checkDataDir(cfg.DataDir); err != nil {
		return err
	}
	// The ports first: a server that cannot listen touches nothing (the
	// data directory is not created).
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	listening := false
	defer func() {
		if !listening {
			ln.Close()
		}
	}()
	if cfg.PGAddr != "" {
		pl, err := net.Listen("tcp", cfg.PGAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (--pg-addr): %w", cfg.PGAddr, err)
		}
		pl.Close()
	}
	au, err := setupAuth(cfg, log)
	if err != nil {
		return err
	}
	stopTracing, err := setupTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flush spans", "err", err)
		}
	}()
	m := newMetrics()
	st, err := openStore(ctx, cfg, log, m)
	if err != nil {
		return err
	}
	m.registerStore(st)
	if err := au.startAudit(ctx, st, log); err != nil {
		st.Close(context.Background())
		return err
	}
	au.gate.SetProbe(au.credentialProbe(context.WithoutCancel(ctx), st, log))
	defer au.gate.SetProbe(nil)

	listening = true
	scheme := "http"
	if cfg.HTTPTLS == "on" || cfg.HTTPTLS == "auto" {
		var tc *tls.Config
		if cfg.HTTPTLS == "on" {
			tc, err = pgwire.LoadTLS(cfg.HTTPTLSCert, cfg.HTTPTLSKey)
		} else {
			tc, err = pgwire.AutoTLS(filepath.Join(cfg.DataDir, "tls"))
		}
		if err != nil {
			ln.Close()
			st.Close(context.Background())
			return fmt.Errorf("--http-tls: %w", err)
		}
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	srv := &http.Server{
		Handler:           newRouter(cfg, st, m, log, au),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	pgAddr := "off"
	var pg *pgwire.Server
	pgErrc := make(chan error, 1)
	if cfg.PGAddr != "" {
		var pln net.Listener
		pg, pln, err = startPG(ctx, cfg, st, m, log, au, pgErrc)
		if err != nil {
			srv.Close()
			st.Close(context.Background())
			return err
		}
		pgAddr = pln.Addr().String()
	}
	log.Info("allsource serving", "http", scheme+"://"+ln.Addr().String(), "pg", pgAddr, "data_dir", cfg.DataDir, "fsync", cfg.Fsync, "startup", time.Since(start))

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("HTTP server stopped", "err", err)
	case err = <-pgErrc:
		log.Error("pgwire server stopped", "err", err)
	}
	log.Info("shutting down")
	au.gate.SetProbe(nil) // before the auditor and the store close
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st.hub.Close() // subscription streams end, so Shutdown need not wait for them
	shutErr := srv.Shutdown(sctx)
	if pg != nil {
		shutErr = errors.Join(shutErr, pg.Close(sctx))
	}
	au.gate.Auditor().Close() // after the front ends: they record until they stop
	closeErr := st.Close(sctx)
	if closeErr != nil {
		log.Error("close", "err", closeErr)
	} else {
		log.Info("stopped cleanly")
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(shutErr, closeErr)
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
var publicRoutes = map[string]bool{"/": true, "/healthz": true, "/readyz": true}

func newRouter(cfg *Config, st *store, m *metrics, log *slog.Logger, au *auth) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Entity ids may contain '/': route on the escaped path, then unescape.
	r.UseRawPath = true
	r.UnescapePathValues = true
	// Client addresses (audit records, login throttling) come from the
	// connection: X-Forwarded-For from anyone would let a client pick its own.
	_ = r.SetTrustedProxies(nil)
	r.Use(traceHTTP(), accessLog(log, m), recoverJSON(log), au.middleware())
	r.GET("/healthz", func(c *gin.Context) { c.PureJSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		for _, err := range []error{st.ingest.Healthy(), st.wh.Healthy()} {
			if err != nil {
				httpx.WriteError(c, err)
				return
			}
		}
		s := st.wh.Stats()
		c.PureJSON(http.StatusOK, gin.H{"status": "ready", "hot_rows": s.HotRows, "parquet_files": s.Files, "flushed_seq": s.FlushedSeq})
	})
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})))
	httpapi.RegisterStatus(r, func(ctx context.Context) (any, error) { return buildStatus(ctx, cfg, st, st.opened) })
	if cfg.Pprof {
		r.Any("/debug/pprof/*any", gin.WrapH(http.DefaultServeMux))
	}
	// The API's handlers (package httpapi) over the domain services.
	hlog := log.With("component", "http")
	httpapi.RegisterIngest(r, st.ingest, httpapi.IngestOptions{MaxBodyBytes: cfg.MaxBodyBytes, Admit: au.admit(st.wh)})
	httpapi.RegisterQuery(r, st.wh, httpapi.QueryOptions{QueryTimeout: cfg.QueryTimeout, Logger: hlog})
	var cache *qcache.Cache
	if cfg.QueryCacheBytes > 0 {
		cache = qcache.New(cfg.QueryCacheBytes, max(cfg.QueryCacheBytes/16, 1<<10))
		if m != nil {
			m.registerCache(cache)
		}
	}
	httpapi.RegisterEventQL(r, st.wh, httpapi.EventQLOptions{QueryTimeout: cfg.QueryTimeout, Cache: cache, Logger: hlog})
	httpapi.RegisterAnalytics(r, st.wh, httpapi.AnalyticsOptions{QueryTimeout: cfg.QueryTimeout})
	au.registerAdmin(r)
	httpapi.RegisterSubscribe(r, st.hub, st.wh, httpapi.SubscribeOptions{})
	httpapi.RegisterProjections(r, st.proj)
	httpapi.RegisterExports(r, st.exports)
	r.GET("/", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", rootPage(r.Routes())) })
	r.NoRoute(func(c *gin.Context) {
		c.PureJSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path}})
	})
	// A known endpoint asked with another method says which it takes.
	r.HandleMethodNotAllowed = true
	r.NoMethod(func(c *gin.Context) {
		var allowed []string
		for _, rt := range r.Routes() {
			if routeMatches(rt.Path, c.Request.URL.Path) && !slices.Contains(allowed, rt.Method) {
				allowed = append(allowed, rt.Method)
			}
		}
		slices.Sort(allowed)
		c.Header("Allow", strings.Join(allowed, ", "))
		c.PureJSON(http.StatusMethodNotAllowed, gin.H{"error": gin.H{"code": "method_not_allowed",
			"message": c.Request.Method + " " + c.Request.URL.Path + " is not served: use " + strings.Join(allowed, " or ")}})
	})
	return r
}

// routeMatches reports whether path fits a route pattern (":name" and
// "*name" segments match any).
func routeMatches(pattern, path string) bool {
	ps, xs := strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return true
		}
		if i >= len(xs) || (!strings.HasPrefix(p, ":") && p != xs[i]) {
			return false
		}
	}
	return len(ps) == len(xs)
}

// rootPage is what a person opening the server in a browser sees: where
// things are, and the endpoints.
func rootPage(routes gin.RoutesInfo) []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>AllSource</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.45}code{background:#f3f3f3;padding:0 .2em}td{padding:0 .8em 0 0}</style></head><body>
<h1>AllSource</h1><p>An analytics-first event warehouse, version ` + html.EscapeString(Version()) + `.</p>
<ul><li><a href="/v1/status">/v1/status</a>: the server's state (needs a credential when authentication is on)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>: liveness and readiness</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
<li>SQL over the Postgres protocol: <code>psql "postgres://me@HOST:5433/allsource"</code></li>
<li>The README (in the source tree) documents every endpoint, the SQL, EventQL and the analytics.</li></ul>
<h2>Endpoints</h2><table>`)
	seen := map[string]bool{}
	for _, rt := range routes {
		k := rt.Method + " " + rt.Path
		if seen[k] || strings.HasPrefix(rt.Path, "/debug/") {
			continue
		}
		seen[k] = true
		b.WriteString("<tr><td><code>" + rt.Method + "</code></td><td><code>" + html.EscapeString(rt.Path) + "</code></td></tr>\n")
	}
	b.WriteString("</table></body></html>\n")
	return []byte(b.String())
}

func accessLog(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		d := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
		lvl := slog.LevelDebug
		if status >= 500 {
			lvl = slog.LevelError
		}
		attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "took", d}
		if id := traceID(c.Request.Context()); id != "" {
			attrs = append(attrs, "trace_id", id)
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, "err", c.Errors.String())
		}
		log.Log(c.Request.Context(), lvl, "http", attrs...)
	}
}

func recoverJSON(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in handler", "path", c.Request.URL.Path, "panic", p)
				c.Abort()
				c.PureJSON(http.StatusInternalServerError, gin.H{"error": gin.H{"code": "internal", "message": "internal error"}})
			}
		}()
		c.Next()
	}
}

// freeAddrs returns n distinct free loopback TCP addresses. They are free
// when it returns; another process could take one before the server does.
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// dialable reports whether a TCP connection to addr can be opened.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
