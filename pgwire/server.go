// Package pgwire serves the PostgreSQL v3 wire protocol, so psql, drivers
// (pgx, psycopg, JDBC, node-postgres) and BI tools (Grafana, Metabase,
// DBeaver) reach the warehouse as if it were PostgreSQL 15.
//
// Statements are parsed and checked by package pgsql (Postgres's own parser
// through pg_query), rewritten to the engine's dialect and run by the
// warehouse's embedded DuckDB over the same events view as the HTTP API.
// COPY events FROM STDIN appends through the ingest service, with the same
// validation, atomicity and durability as POST /v1/events.
package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/pgwire/pgsql"
	"github.com/allsource/allsource/warehouse"
)

// preLoginMargin is how many connections beyond MaxConns may be in their
// start-up phase at once.
const preLoginMargin = 64

// ServerVersion is what the server reports as server_version.
const ServerVersion = "15.13"

// Database is the one database the server has.
const Database = "allsource"

// Observer receives counts and timings for metrics. All methods must be
// safe for concurrent use.
type Observer interface {
	SessionStarted()
	SessionEnded()
	// Statement reports one executed statement: its kind (select, copy_in,
	// copy_out, set, ...), how long it took and whether it failed.
	Statement(kind string, d time.Duration, failed bool)
	// AuthFailed reports a refused login.
	AuthFailed()
}

// Options configures a Server.
// Commands are statements pgwire passes to the server (see Options).
type Commands interface {
	Handles(text string) bool
	Run(ctx context.Context, tenant, text string) (tag string, err error)
}

type Options struct {
	Warehouse *warehouse.Warehouse
	// Ingest receives COPY events FROM STDIN. Nil makes COPY FROM fail.
	Ingest *ingest.Service
	// Limits apply to events loaded with COPY FROM (as for HTTP).
	Limits ingest.Limits
	// Tenant is the tenant sessions read and write. Default "default".
	Tenant string

	// Users maps user names to passwords. Empty: no credentials, and only
	// loopback clients are let in (trust).
	Users map[string]string
	// Auth is "scram-sha-256" (default) or "password" (cleartext, only
	// over TLS) when Users is set.
	Auth string
	// Authenticator, when set, lets a client log in with an API key or a
	// token as its password (any user name not in Users): sent in clear,
	// so over TLS or from loopback only. The session then acts as that
	// principal: its statements see only its tenant, and each kind of
	// statement needs its role's permission. Users of Users log in as
	// administrators of every tenant.
	Authenticator *authz.Authenticator
	// Audit, when set, records logins, refusals and every statement.
	Audit *authz.Auditor
	// Throttle, when set, refuses logins from a source after repeated
	// failures. Quotas, when set, bound each tenant's COPY FROM rate,
	// storage, concurrent statements and statement time.
	Throttle *authz.Throttle
	Quotas   *authz.Quotas
	// Policies, when set, refine what principals may do and see.
	Policies *authz.Policies
	// Commands, when set, runs the server's own statements (CREATE
	// PROJECTION …): Handles says which texts are its, Run executes one
	// for a tenant and returns the command tag.
	Commands Commands
	// TLS, when set, is offered to clients that ask (SSLRequest).
	TLS *tls.Config

	// MaxConns bounds concurrent sessions (default 500); more are refused
	// with SQLSTATE 53300.
	MaxConns int
	// MaxMessageBytes bounds one protocol message (default 64 MiB).
	MaxMessageBytes int
	// MaxResultBytes bounds what a session buffers for a portal read in
	// parts (Execute with a row limit) and for a COPY FROM (default 1 GiB).
	MaxResultBytes int64
	// WriteTimeout bounds one write to a client; a client that does not
	// read for this long is disconnected (default 60 s).
	WriteTimeout time.Duration
	// StatementTimeout is the default statement_timeout (0: none).
	StatementTimeout time.Duration

	Logger  *slog.Logger
	Observe Observer
}

// Server is a running pgwire listener.
type Server struct {
	opts     Options
	log      *slog.Logger
	scram    map[string]*scramVerifier
	decoyKey []byte // derives the salts shown for unknown users
	shapes   shapeCache

	mu       sync.Mutex
	ln       net.Listener
	sessions map[uint32]*session
	conns    map[net.Conn]struct{}
	closed   bool
	nextPID  atomic.Uint32
	wg       sync.WaitGroup
}

// New checks opts and prepares a server; Serve starts it.
func New(opts Options) (*Server, error) {
	if opts.Warehouse == nil {
		return nil, errors.New("pgwire: Warehouse is required")
	}
	if opts.Tenant == "" {
		opts.Tenant = "default"
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 500
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 20
	}
	if opts.MaxResultBytes <= 0 {
		opts.MaxResultBytes = 1 << 30
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.Auth {
	case "":
		opts.Auth = "scram-sha-256"
	case "scram-sha-256", "password":
	default:
		return nil, fmt.Errorf("pgwire: unknown auth method %q (want scram-sha-256 or password)", opts.Auth)
	}
	if opts.Auth == "password" && opts.TLS == nil && len(opts.Users) > 0 {
		return nil, errors.New("pgwire: password (cleartext) authentication needs TLS; configure a certificate or use scram-sha-256")
	}
	s := &Server{opts: opts, log: opts.Logger, sessions: map[uint32]*session{}, conns: map[net.Conn]struct{}{}}
	s.scram = make(map[string]*scramVerifier, len(opts.Users))
	for u, p := range opts.Users {
		v, err := newScramVerifier(p)
		if err != nil {
			return nil, err
		}
		s.scram[u] = v
	}
	s.decoyKey = make([]byte, 32)
	rand.Read(s.decoyKey)
	var seed [4]byte
	rand.Read(seed[:])
	s.nextPID.Store(binary.BigEndian.Uint32(seed[:]) % 1_000_000)
	return s, nil
}

// Serve accepts connections on ln until Close. It installs the catalog
// first, so clients that connect find it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.installCatalog(ctx); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		// Connections still logging in count too: beyond MaxConns plus a
		// margin for logins in progress, new ones are closed at once.
		if len(s.conns) >= s.opts.MaxConns+preLoginMargin {
			s.mu.Unlock()
			c.Close()
			s.log.Warn("pgwire: connection refused: too many connections", "remote", c.RemoteAddr().String())
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting, cancels running statements, closes every session
// and waits for their goroutines, or until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for _, ss := range s.sessions {
		ss.cancelRunning()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// register adds a session and assigns its process id and secret key, or
// reports that the server is full.
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= s.opts.MaxConns {
		return false
	}
	for {
		pid := s.nextPID.Add(1)
		if pid == 0 {
			continue
		}
		if _, taken := s.sessions[pid]; !taken {
			ss.pid = pid
			break
		}
	}
	ss.secret = make([]byte, 4)
	rand.Read(ss.secret)
	s.sessions[ss.pid] = ss
	return true
}

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.pid] == ss {
		delete(s.sessions, ss.pid)
	}
}

// cancel handles a CancelRequest: it interrupts the named session's running
// statement when the secret matches. Nothing is answered either way.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	ss := s.sessions[pid]
	s.mu.Unlock()
	if ss == nil || subtle.ConstantTimeCompare(ss.secret, secret) != 1 {
		s.log.Debug("pgwire: cancel request for no matching session", "pid", pid)
		return
	}
	ss.cancelRunning()
}

// tables returns the relations the catalog describes, with the columns
// the engine reports for them.
func (s *Server) tables(ctx context.Context) ([]pgsql.Table, error) {
	d, err := s.opts.Warehouse.Describe(ctx, "SELECT * FROM events")
	if err != nil {
		return nil, err
	}
	t := pgsql.Table{Schema: "public", Name: "events", Kind: 'r',
		Comment: "Every event: one row per appended event, in seq order."}
	comments := map[string]string{
		"seq":         "global append order, assigned by the server",
		"id":          "event id (UUID), client-given or generated",
		"tenant_id":   "tenant the event belongs to",
		"entity_id":   "the entity (stream) the event is about",
		"event_type":  "event type, e.g. order.placed",
		"version":     "the event's position within its entity, from 1",
		"timestamp":   "when the event happened",
		"ingested_at": "when the server accepted the event",
		"payload":     "event data (JSON object)",
		"metadata":    "event metadata (JSON object)",
	}
	for _, c := range d.Columns {
		pc := pgColumn(c.Name, c.Type)
		// Columns are reported nullable: events is a view, and Postgres
		// shows NOT NULL only for constraints.
		t.Columns = append(t.Columns, pgsql.Column{Name: c.Name, TypeOID: pc.oid, TypMod: -1, Comment: comments[c.Name]})
	}
	return []pgsql.Table{t}, nil
}

func (s *Server) installCatalog(ctx context.Context) error {
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("pgwire: describe tables: %w", err)
	}
	if err := s.opts.Warehouse.Exec(ctx, pgsql.CatalogDDL(tables)...); err != nil {
		return fmt.Errorf("pgwire: install catalog: %w", err)
	}
	return nil
}
