// Package pgwire serves the PostgreSQL v3 wire protocol, so psql, drivers
// (pgx, psycopg, JDBC, node-postgres) and BI tools (Grafana, Metabase,
// DBeaver) reach the warehouse as if it were PostgreSQL 15.
//
// Statements are parsed and checked by package pgsql (Postgres's own parser
// through pg_query), rewritten to the engine's dialect and run by the
// warehouse's embedded DuckDB over the same events view as the HTTP API.
// COPY events FROM STDIN appends through the ingest service, with the same
// validation, atomicity and durability as POST /v1/events.
//
// A connection has StartupTimeout from its accept to a completed login.
// Until then it counts among the connections logging in, which are bounded
// per remote address and in all; a new connection past a bound pushes out
// the oldest of them rather than being refused. A logged-in session counts
// against MaxConns. From its login on, a goroutine owns reading the
// client's socket, ahead of the session (clientReader): the session reads
// messages from it, nothing the client pipelines is lost, and when the
// client goes away the running statement is cancelled. Every statement
// ends at StatementTimeout at the latest, whatever the session sets.
package pgwire

import (
	"container/list"
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

	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/boundary"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/pgwire/pgsql"
	"github.com/allsource/allsource/warehouse"
)

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
	// Run runs the statement; a notice is sent to the client (as a
	// NOTICE) before the command completes.
	Run(ctx context.Context, tenant, text string) (tag, notice string, err error)
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
	// Gate is the enforcement path every login and statement passes
	// through (package boundary): with authentication on, a client logs
	// in with an API key or a token as its password (any user name not in
	// Users; sent in clear, so over TLS or from loopback only), or as a
	// user of the Gate's user store over SCRAM. The session then acts as
	// that principal: its statements see only its tenant, and each kind of
	// statement needs its role's permission. Users of Users log in as
	// administrators of every tenant. The Gate also applies quotas (COPY
	// FROM rates and storage, concurrent statements, statement time,
	// result size), policies, the login throttle and the audit log. Nil:
	// no authentication beyond Users, no quotas.
	Gate *boundary.Gate
	// Commands, when set, runs the server's own statements (CREATE
	// PROJECTION …): Handles says which texts are its, Run executes one
	// for a tenant and returns the command tag.
	Commands Commands
	// TLS, when set, is offered to clients that ask (SSLRequest).
	TLS *tls.Config

	// MaxConns bounds concurrent sessions (default 500); more are refused
	// with SQLSTATE 53300. Connections still logging in are bounded apart.
	MaxConns int
	// StartupTimeout bounds a connection's start-up phase, from its accept
	// to a completed login (SSL negotiation, TLS handshake and
	// authentication included); a slower one is closed (default 10 s).
	StartupTimeout time.Duration
	// MaxStartupConns bounds the connections still logging in (default
	// 512), MaxStartupConnsPerHost those of them from one remote address
	// (default 256, at most MaxStartupConns). A connection past a bound is
	// not refused: the oldest connection still logging in (from the same
	// address, for the per-address bound) is closed to make room. Sockets
	// that say nothing therefore cannot keep out a client that logs in
	// within a moment; they last until newer ones push them out, or until
	// StartupTimeout.
	MaxStartupConns        int
	MaxStartupConnsPerHost int
	// MaxMessageBytes bounds one protocol message (default 64 MiB).
	MaxMessageBytes int
	// MaxResultBytes bounds what a session buffers for a portal read in
	// parts (Execute with a row limit) and for a COPY FROM (default 1 GiB).
	MaxResultBytes int64
	// WriteTimeout bounds one write to a client; a client that does not
	// read for this long is disconnected (default 60 s).
	WriteTimeout time.Duration
	// StatementTimeout is the default statement_timeout and the most any
	// statement may run: a session may SET a lower statement_timeout, but
	// 0 (none) or a higher value leaves it at this one (0: no bound).
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
	guesses  guessCache
	// projTables caches tenants' projections as catalog relations.
	projMu     sync.Mutex
	projTables map[string][]pgsql.Table
	catalog    *pgsql.Catalog // the synthetic catalog sessions rewrite against
	// eventTypes are the events columns' types as the catalog describes
	// them (binary COPY FROM reads each column in its type's format).
	eventTypes map[string]uint32
	advisory   advisoryLocks // pg_advisory_* locks

	mu       sync.Mutex
	ln       net.Listener
	sessions map[uint32]*session
	conns    map[net.Conn]struct{}
	// starting holds the connections still logging in, oldest first
	// (*pending); startingFrom counts them by remote address.
	starting     list.List
	startingFrom map[string]int
	// evicted counts the connections closed to make room since the last
	// warning about it, at evictWarned.
	evicted     int
	evictWarned time.Time
	closed      bool
	nextPID     atomic.Uint32
	wg          sync.WaitGroup
}

// pending is a connection that has not logged in yet.
type pending struct {
	nc      net.Conn
	host    string
	elem    *list.Element // in Server.starting; nil once out
	evicted bool
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
	if opts.StartupTimeout <= 0 {
		opts.StartupTimeout = 10 * time.Second
	}
	if opts.MaxStartupConns <= 0 {
		opts.MaxStartupConns = 512
	}
	if opts.MaxStartupConnsPerHost <= 0 {
		opts.MaxStartupConnsPerHost = 256
	}
	opts.MaxStartupConnsPerHost = min(opts.MaxStartupConnsPerHost, opts.MaxStartupConns)
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
	if opts.Gate == nil {
		g, err := boundary.New(boundary.Options{Quotas: authz.NoQuotas()})
		if err != nil {
			return nil, err
		}
		opts.Gate = g
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
	s := &Server{opts: opts, log: opts.Logger, sessions: map[uint32]*session{}, conns: map[net.Conn]struct{}{},
		startingFrom: map[string]int{}, catalog: pgsql.NewCatalog()}
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
		p, evict := s.admit(c)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		warn := s.noteEvicted(len(evict))
		s.mu.Unlock()
		for _, v := range evict {
			v.Close()
		}
		if warn > 0 {
			s.log.Warn("pgwire: closed connections that had not logged in, to make room for new ones",
				"closed", warn, "max_startup_conns", s.opts.MaxStartupConns, "max_startup_conns_per_host", s.opts.MaxStartupConnsPerHost)
		}
		go func() {
			defer s.wg.Done()
			s.handle(c, p)
			s.mu.Lock()
			delete(s.conns, c)
			s.leaveStartup(p)
			s.mu.Unlock()
		}()
	}
}

// admit records nc as logging in and returns the connections to close to
// stay within the bounds: the oldest still logging in from nc's address
// when that address is at MaxStartupConnsPerHost, then the oldest of all
// when the server is at MaxStartupConns. s.mu is held.
func (s *Server) admit(nc net.Conn) (*pending, []net.Conn) {
	p := &pending{nc: nc, host: remoteHost(nc.RemoteAddr())}
	var evict []net.Conn
	if s.startingFrom[p.host] >= s.opts.MaxStartupConnsPerHost {
		for e := s.starting.Front(); e != nil; e = e.Next() {
			if q := e.Value.(*pending); q.host == p.host {
				evict = append(evict, s.evict(q))
				break
			}
		}
	}
	if s.starting.Len() >= s.opts.MaxStartupConns {
		evict = append(evict, s.evict(s.starting.Front().Value.(*pending)))
	}
	p.elem = s.starting.PushBack(p)
	s.startingFrom[p.host]++
	return p, evict
}

// evict takes p out of the connections logging in, for the caller to
// close it. s.mu is held.
func (s *Server) evict(p *pending) net.Conn {
	p.evicted = true
	s.leaveStartup(p)
	return p.nc
}

// leaveStartup takes p out of the connections logging in, if it is still
// there. s.mu is held.
func (s *Server) leaveStartup(p *pending) {
	if p == nil || p.elem == nil {
		return
	}
	s.starting.Remove(p.elem)
	p.elem = nil
	if s.startingFrom[p.host]--; s.startingFrom[p.host] <= 0 {
		delete(s.startingFrom, p.host)
	}
}

// noteEvicted counts n evicted connections and returns how many to warn
// about now: at most one warning a minute. s.mu is held.
func (s *Server) noteEvicted(n int) int {
	s.evicted += n
	if s.evicted == 0 || time.Since(s.evictWarned) < time.Minute {
		return 0
	}
	n, s.evicted, s.evictWarned = s.evicted, 0, time.Now()
	return n
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
// reports that the server is full (or that p, the session's connection,
// was closed to make room for newer ones). The connection no longer counts
// as logging in.
func (s *Server) register(ss *session, p *pending) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (p != nil && p.evicted) || len(s.sessions) >= s.opts.MaxConns {
		return false
	}
	s.leaveStartup(p)
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
	s.advisory.releaseAll(ss, true, true)
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
		col := pgsql.Column{Name: c.Name, TypeOID: pc.oid, TypMod: -1, Comment: comments[c.Name]}
		if c.Name == "id" && pc.oid == oidText {
			// Ids are UUIDs (ingest accepts nothing else): typed so for
			// clients, so binary COPY into a uuid column works.
			col.TypeOID, col.Cast = oidUUID, "UUID"
		}
		t.Columns = append(t.Columns, col)
	}
	out := []pgsql.Table{t}
	// The analytics table functions, listed in pg_proc (\df, BI tools'
	// function browsers).
	for _, name := range analytics.TableFunctions() {
		f := pgsql.Table{Schema: "public", Name: name, Kind: 'f', Args: []string{"question"},
			Comment: name + "(question text): the analytics question as the JSON its HTTP endpoint takes; see the README"}
		et := analytics.EmptyTable(name)
		for i, c := range et.Columns {
			f.Columns = append(f.Columns, pgsql.Column{Name: c, TypeOID: engineTypeOID(et.Types[i]), TypMod: -1})
		}
		out = append(out, f)
	}
	return out, nil
}

// engineTypeOID is the PostgreSQL type of an analytics table's column type.
func engineTypeOID(t string) uint32 {
	switch t {
	case "INTEGER":
		return oidInt4
	case "BIGINT":
		return oidInt8
	case "DOUBLE":
		return oidFloat8
	case "DATE":
		return oidDate
	case "TIMESTAMPTZ":
		return oidTimestampTZ
	}
	return oidText
}

func (s *Server) installCatalog(ctx context.Context) error {
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("pgwire: describe tables: %w", err)
	}
	if err := s.opts.Warehouse.Exec(ctx, s.catalog.DDL(tables)...); err != nil {
		return fmt.Errorf("pgwire: install catalog: %w", err)
	}
	s.eventTypes = map[string]uint32{}
	for _, c := range tables[0].Columns {
		s.eventTypes[c.Name] = c.TypeOID
	}
	return nil
}
