package main

import (
	"context"
	"fmt"
	"github.com/allsource/allsource/projections"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/pgwire"
)

// newPGServer builds the Postgres front end for a store from the serve
// flags.
func newPGServer(cfg *Config, st *store, m *metrics, log *slog.Logger, au *auth) (*pgwire.Server, error) {
	opts := pgwire.Options{
		Warehouse:        st.wh,
		Ingest:           st.ingest,
		Limits:           ingest.Limits{MaxPayloadBytes: cfg.MaxPayloadBytes, MaxBatchEvents: cfg.MaxBatchEvents},
		Auth:             cfg.PGAuth,
		MaxConns:         cfg.PGMaxConns,
		StatementTimeout: cfg.pgStatementTimeout(),
		Logger:           log,
		Commands:         projectionCommands{st.proj},

		StartupTimeout:         cfg.PGStartupTimeout,
		MaxStartupConns:        cfg.PGMaxStartupConns,
		MaxStartupConnsPerHost: cfg.PGMaxStartupConnsPerHost,
	}
	if m != nil {
		opts.Observe = m
	}
	if cfg.PGUser != "" {
		opts.Users = map[string]string{cfg.PGUser: cfg.PGPassword}
	}
	opts.Gate = au.gate
	switch cfg.PGTLS {
	case "on":
		t, err := pgwire.LoadTLS(cfg.PGTLSCert, cfg.PGTLSKey)
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	case "auto":
		t, err := pgwire.AutoTLS(filepath.Join(cfg.DataDir, "tls"))
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	}
	return pgwire.New(opts)
}

// startPG listens on --pg-addr and serves pgwire in the background; errc
// receives Serve's result.
func startPG(ctx context.Context, cfg *Config, st *store, m *metrics, log *slog.Logger, au *auth, errc chan<- error) (*pgwire.Server, net.Listener, error) {
	srv, err := newPGServer(cfg, st, m, log, au)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", cfg.PGAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", cfg.PGAddr, err)
	}
	go func() { errc <- srv.Serve(ctx, ln) }()
	return srv, ln, nil
}

// projectionCommands hands CREATE/DROP/ALTER PROJECTION to the engine.
type projectionCommands struct{ e *projections.Engine }

func (p projectionCommands) Handles(text string) bool { return projections.IsStatement(text) }

func (p projectionCommands) Run(ctx context.Context, tenant, text string) (string, string, error) {
	return p.e.Exec(ctx, tenant, text)
}
