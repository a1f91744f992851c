package pgwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // SET TimeZone works without the system's zone files

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/boundary"
	"github.com/allsource/allsource/pgwire/pgsql"
)

// conn is one client connection: its socket, protocol codec and session.
type conn struct {
	srv  *Server
	nc   net.Conn
	in   *clientReader
	w    *queuedWriter
	out  *bufio.Writer
	be   *pgproto3.Backend
	tls  bool
	sess *session
	// pend is the connection's entry among those still logging in (nil
	// when the server does not track it).
	pend *pending

	// skipToSync is set after an error in the extended protocol: messages
	// are discarded until the next Sync.
	skipToSync bool
	// fatal is set when the connection cannot go on (a broken frame in the
	// middle of COPY): the error is sent and the connection closed.
	fatal  bool
	rowBuf []byte
}

// session is the state a client sees: settings, transaction status,
// prepared statements and portals.
type session struct {
	pid    uint32
	secret []byte
	user   string
	// principal is who the session acts as when the server authenticates
	// principals (nil: unauthenticated, every tenant).
	principal *allsource.Principal
	// scope is the session as the Gate admitted it: its tenant and the
	// context (principal, tenant scope, read restriction) statements run in.
	scope *boundary.Scope
	// catalog is the server's synthetic catalog.
	catalog *pgsql.Catalog
	rows    int64 // rows the running statement returned (for the audit log)

	settings map[string]string
	defaults map[string]string // what RESET and DISCARD ALL return to: built-in, server, startup
	local    map[string]string // SET LOCAL values, dropped at transaction end
	// savepoints are the open savepoints of the block, oldest first.
	savepoints []string
	txStatus   byte // 'I' idle, 'T' in a transaction block, 'E' failed block
	env        textEnv

	stmts   map[string]*prepared
	portals map[string]*portal
	cursors map[string]*cursor // DECLAREd cursors

	// maxTimeout is the server's statement timeout, the most a statement
	// may run whatever the session sets (0: no bound).
	maxTimeout time.Duration

	mu      sync.Mutex
	running context.CancelFunc

	// tables computes table functions (analytics) for the statement being
	// prepared; set around Rewrite.
	tables func(name string, args []string) (*pgsql.TableResult, bool, error)
	// own lists the tenant's projections while a statement is rewritten
	// (see TenantTables).
	own func() []pgsql.Table
	// bound are the arguments of the statement being prepared for
	// execution (see ParamText).
	bound []driver.NamedValue
}

func (ss *session) cancelRunning() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.running != nil {
		ss.running()
	}
}

// Setting implements pgsql.Session.
func (ss *session) Setting(name string) (string, bool) {
	name = strings.ToLower(name)
	if v, ok := ss.local[name]; ok {
		return v, true
	}
	v, ok := ss.settings[name]
	return v, ok
}

// SetSetting implements pgsql.Session.
func (ss *session) SetSetting(name, value string, local bool) error {
	name = strings.ToLower(name)
	if err := ss.validateSetting(name, value); err != nil {
		return err
	}
	if name == "client_encoding" {
		value = "UTF8" // reported and shown by its canonical name, as PostgreSQL does
	}
	if local {
		if ss.txStatus == 'I' {
			return nil // Postgres warns and ignores SET LOCAL outside a block
		}
		if ss.local == nil {
			ss.local = map[string]string{}
		}
		ss.local[name] = value
	} else {
		ss.settings[name] = value
	}
	ss.applySettings()
	return nil
}

// User implements pgsql.Session.
func (ss *session) User() string { return ss.user }

// Catalog is the server's catalog, which the session's statements are
// rewritten against.
func (ss *session) Catalog() *pgsql.Catalog { return ss.catalog }

// validateSetting refuses values the session could not honour.
func (ss *session) validateSetting(name, value string) error {
	switch name {
	case "timezone":
		if _, err := loadZone(value); err != nil {
			return &pgsql.Error{Code: "22023", Message: fmt.Sprintf("invalid value for parameter \"TimeZone\": %q", value)}
		}
	case "statement_timeout":
		if _, err := parseDuration(value); err != nil {
			return &pgsql.Error{Code: "22023", Message: fmt.Sprintf("invalid value for parameter \"statement_timeout\": %q", value),
				Hint: "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"."}
		}
	case "client_encoding":
		// As PostgreSQL reads encoding names: letters and digits only,
		// any case ('utf-8' with its quotes, as asyncpg sends it, is UTF8).
		if v := encodingName(value); v != "utf8" && v != "unicode" {
			return &pgsql.Error{Code: "22023", Message: fmt.Sprintf("client_encoding %q is not supported; the server speaks UTF8 only", value)}
		}
	}
	return nil
}

// encodingName is an encoding's name as PostgreSQL compares them: its
// letters and digits, lower-case.
func encodingName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// applySettings refreshes what depends on settings.
func (ss *session) applySettings() {
	tz, _ := ss.Setting("timezone")
	if loc, err := loadZone(tz); err == nil {
		ss.env.loc = loc
	}
}

// statementTimeout is how long the next statement may run: the session's
// statement_timeout, capped at the server's (0, "none", means the
// server's).
func (ss *session) statementTimeout() time.Duration {
	v, _ := ss.Setting("statement_timeout")
	d, _ := parseDuration(v)
	if m := ss.maxTimeout; m > 0 && (d <= 0 || d > m) {
		d = m
	}
	return d
}

func loadZone(name string) (*time.Location, error) {
	n := strings.Trim(name, "'\" ")
	switch strings.ToUpper(n) {
	case "UTC", "GMT", "Z", "ZULU", "UCT", "ETC/UTC":
		return time.UTC, nil
	}
	return time.LoadLocation(n)
}

// parseDuration reads a statement_timeout value: an integer number of
// milliseconds or a number with a unit.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.Trim(v, "'"))
	if v == "" {
		return 0, nil
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	num, unit := v[:i], strings.TrimSpace(v[i:])
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	var f float64
	if _, err := fmt.Sscanf(num, "%g", &f); err != nil {
		return 0, err
	}
	mult := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	return time.Duration(f * float64(mult)), nil
}

func (c *conn) setIO(nc net.Conn) {
	if c.w != nil {
		c.w.Close()
	}
	c.nc = nc
	c.in = newClientReader(nc)
	c.w = newQueuedWriter(nc, c.srv.opts.WriteTimeout)
	c.out = bufio.NewWriterSize(c.w, 64<<10)
	c.be = pgproto3.NewBackend(c.in, c.out)
	c.be.SetMaxBodyLen(c.srv.opts.MaxMessageBytes)
}

// flush writes everything queued to the client.
func (c *conn) flush() error {
	if err := c.be.Flush(); err != nil {
		return err
	}
	return c.out.Flush()
}

// handle serves one connection until it ends. p is its entry among the
// connections still logging in, or nil.
//
// Start-up and authentication, TLS handshake included, must end within
// StartupTimeout of the accept. From the login on, a goroutine owns
// reading the socket (clientReader): when the client goes away while a
// statement runs, the statement is cancelled.
func (s *Server) handle(nc net.Conn, p *pending) {
	c := &conn{srv: s, pend: p}
	c.setIO(nc)
	defer func() {
		if p := recover(); p != nil {
			// A bug in this session: its client is told and disconnected;
			// the engine connection it held was discarded on the way (see
			// warehouse.withConn), so other sessions are not affected.
			s.log.Error("pgwire: panic in session", "panic", p, "remote", nc.RemoteAddr().String(), "stack", string(debug.Stack()))
			c.fatal = true // the session ends: clients expect FATAL before the close
			c.sendError(&pgsql.Error{Code: "XX000", Message: fmt.Sprintf("internal error: %v", p),
				Detail: "The session was closed; the server logged the details. Other sessions are not affected."})
			c.flush()
		}
		c.w.Close()
		c.nc.Close()
		c.in.stop()
	}()
	nc.SetDeadline(time.Now().Add(s.opts.StartupTimeout))
	sm, err := c.startup()
	if err != nil || sm == nil {
		if err != nil && !clientLeft(err) {
			s.log.Debug("pgwire: startup failed", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	if !c.begin(sm) {
		return
	}
	defer s.unregister(c.sess)
	if o := s.opts.Observe; o != nil {
		o.SessionStarted()
		defer o.SessionEnded()
	}
	// Write deadlines are the queued writer's from here on.
	c.nc.SetReadDeadline(time.Time{})
	c.in.start(c.sess.cancelRunning)
	c.loop()
}

// clientLeft reports whether err only says that the client went away,
// closed its side, or took longer than allowed (nothing worth telling it).
func clientLeft(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}

// startup reads the startup packet, answering SSL and GSSAPI encryption
// requests and serving cancel requests. It returns nil, nil when the
// connection is done (a cancel request).
func (c *conn) startup() (*pgproto3.StartupMessage, error) {
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			if !clientLeft(err) {
				c.sendError(&pgsql.Error{Code: "08P01", Message: "invalid startup packet: " + err.Error()})
				c.flush()
			}
			return nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.tls {
				return nil, errors.New("SSLRequest on an encrypted connection")
			}
			if c.srv.opts.TLS == nil {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return nil, err
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			tc := tls.Server(c.nc, c.srv.opts.TLS)
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			c.tls = true
			c.setIO(tc)
		case *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case *pgproto3.CancelRequest:
			c.srv.cancel(m.ProcessID, m.SecretKey)
			return nil, nil
		case *pgproto3.StartupMessage:
			return m, nil
		default:
			return nil, fmt.Errorf("unexpected startup message %T", msg)
		}
	}
}

// begin checks the startup parameters, authenticates, and sends the
// session's parameters. It reports whether the session may go on.
func (c *conn) begin(sm *pgproto3.StartupMessage) bool {
	s := c.srv
	fail := func(code, msg, hint string) bool {
		c.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg, Hint: hint})
		c.flush()
		if o := s.opts.Observe; o != nil && (code == "28P01" || code == "28000") {
			o.AuthFailed()
		}
		return false
	}
	user := sm.Parameters["user"]
	if user == "" {
		return fail("28000", "no PostgreSQL user name specified in startup packet", "")
	}
	db := sm.Parameters["database"]
	if db == "" {
		db = user
	}
	if db != Database {
		return fail("3D000", fmt.Sprintf("database %q does not exist", db), fmt.Sprintf("The database is named %q.", Database))
	}
	if sm.Parameters["replication"] != "" && sm.Parameters["replication"] != "false" {
		return fail("0A000", "replication connections are not supported", "")
	}
	ss := &session{user: user, settings: pgsql.DefaultSettings(), txStatus: 'I', catalog: s.catalog,
		stmts: map[string]*prepared{}, portals: map[string]*portal{}, cursors: map[string]*cursor{}}
	ss.settings["session_authorization"] = user
	if s.opts.StatementTimeout > 0 {
		ss.settings["statement_timeout"] = fmt.Sprintf("%dms", s.opts.StatementTimeout.Milliseconds())
		ss.maxTimeout = s.opts.StatementTimeout
	}
	c.sess = ss
	if err := c.authenticate(user); err != nil {
		var ae *authError
		if errors.As(err, &ae) {
			s.log.Info("pgwire: login refused", "user", user, "remote", c.nc.RemoteAddr().String(), "reason", ae.msg)
			return fail(ae.code, ae.msg, "") // the Gate recorded the failure
		}
		return false
	}
	// The session is admitted once; each statement is authorized for its
	// kind in this scope.
	scope, err := s.opts.Gate.Admit(context.Background(), ss.principal, boundary.Request{Interface: "pgwire",
		Remote: remoteHost(c.nc.RemoteAddr()), DefaultTenant: s.opts.Tenant, Target: "session"})
	if err != nil {
		return fail("28000", errorMessage(err), "")
	}
	ss.scope = scope
	c.audit(authz.AuditRecord{Kind: "login"})
	for k, v := range sm.Parameters {
		switch k {
		case "user", "database", "replication":
		case "options":
			for name, val := range parseOptions(v) {
				if err := ss.SetSetting(name, val, false); err != nil {
					return fail("22023", err.Error(), "")
				}
			}
		default:
			if err := ss.SetSetting(k, v, false); err != nil {
				return fail("22023", err.Error(), "")
			}
		}
	}
	ss.defaults = maps.Clone(ss.settings)
	if !s.register(ss, c.pend) {
		return fail("53300", "sorry, too many clients already", "")
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, name := range reportedSettings {
		v, _ := ss.Setting(name)
		c.be.Send(&pgproto3.ParameterStatus{Name: reportedNames[name], Value: v})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: ss.pid, SecretKey: ss.secret})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := c.flush(); err != nil {
		s.unregister(ss)
		return false
	}
	return true
}

// reportedSettings are sent as ParameterStatus at start and when they
// change (Postgres's GUC_REPORT set), with their canonical spelling.
var reportedSettings = []string{"application_name", "client_encoding", "datestyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "intervalstyle", "is_superuser", "server_encoding", "server_version",
	"session_authorization", "standard_conforming_strings", "timezone"}

var reportedNames = map[string]string{"application_name": "application_name", "client_encoding": "client_encoding",
	"datestyle": "DateStyle", "default_transaction_read_only": "default_transaction_read_only",
	"in_hot_standby": "in_hot_standby", "integer_datetimes": "integer_datetimes", "intervalstyle": "IntervalStyle",
	"is_superuser": "is_superuser", "server_encoding": "server_encoding", "server_version": "server_version",
	"session_authorization": "session_authorization", "standard_conforming_strings": "standard_conforming_strings",
	"timezone": "TimeZone"}

// parseOptions reads libpq's options parameter: "-c a=b --c=d".
func parseOptions(s string) map[string]string {
	out := map[string]string{}
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		arg := f[i]
		switch {
		case arg == "-c" && i+1 < len(f):
			i++
			arg = f[i]
		case strings.HasPrefix(arg, "-c"):
			arg = arg[2:]
		case strings.HasPrefix(arg, "--"):
			arg = arg[2:]
		default:
			continue
		}
		if k, v, ok := strings.Cut(arg, "="); ok {
			out[strings.ToLower(strings.ReplaceAll(k, "-", "_"))] = v
		}
	}
	return out
}

// loop serves messages until the client leaves. Once the client has gone,
// messages it sent before are dropped, not served.
func (c *conn) loop() {
	for {
		msg, err := c.be.Receive()
		if c.in.failed() != nil {
			return // the client has gone: nobody reads answers
		}
		if err != nil {
			if pe := receiveError(err); pe != nil {
				c.sendFatal(pe)
			}
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if c.skipToSync {
				continue // after an extended-protocol error only Sync counts
			}
			c.simpleQuery(m.String)
			if c.fatal {
				return
			}
			c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.txStatus})
			if c.flush() != nil {
				return
			}
		case *pgproto3.Sync:
			c.skipToSync = false
			if c.sess.txStatus == 'I' {
				c.closeUnnamed()
			}
			c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.txStatus})
			if c.flush() != nil {
				return
			}
		case *pgproto3.Flush:
			if c.flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
			if c.skipToSync {
				continue
			}
			if err := c.extended(msg); err != nil {
				c.sendError(err)
				c.skipToSync = true
			}
			if c.fatal {
				c.flush()
				return
			}
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			// Outside COPY these are ignored, as Postgres does.
		case *pgproto3.FunctionCall:
			// Not part of the extended protocol: answered like a Query.
			c.sendError(&pgsql.Error{Code: "0A000", Message: "the fast-path function call interface is not supported"})
			c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.txStatus})
			if c.flush() != nil {
				return
			}
		default:
			c.sendFatal(&pgsql.Error{Code: "08P01", Message: fmt.Sprintf("unexpected message %T", msg)})
			return
		}
	}
}

// receiveError is what to tell a client whose message could not be read,
// or nil when it just went away.
func receiveError(err error) *pgsql.Error {
	var tooLong *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooLong) {
		return &pgsql.Error{Code: "54000", Message: fmt.Sprintf("message of %d bytes is larger than the server's limit of %d bytes", tooLong.ActualBodyLen, tooLong.MaxExpectedBodyLen)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return &pgsql.Error{Code: "08P01", Message: "invalid message: " + err.Error()}
}

// closeUnnamed ends an implicit transaction: its portals, named or not,
// are closed, as in Postgres.
func (c *conn) closeUnnamed() {
	for name := range c.sess.portals {
		delete(c.sess.portals, name)
	}
}

// endTransaction drops transaction-scoped state and tells the client about
// reported settings that SET LOCAL had changed.
func (c *conn) endTransaction() {
	local := c.sess.local
	c.sess.local = nil
	c.sess.savepoints = nil
	c.sess.applySettings()
	for name := range local {
		c.reportSetting(name)
	}
	clear(c.sess.portals)
	c.srv.advisory.releaseAll(c.sess, false, true)
	for name, cur := range c.sess.cursors {
		if !cur.hold {
			delete(c.sess.cursors, name)
		}
	}
}

// sendFatal sends err as a FATAL error; the caller then closes the
// connection.
func (c *conn) sendFatal(err error) {
	e := toPGError(err)
	e.Severity, e.SeverityUnlocalized = "FATAL", "FATAL"
	c.be.Send(e)
	c.flush()
}

// sendError queues an ErrorResponse for err and marks a transaction block
// failed.
func (c *conn) sendError(err error) {
	e := toPGError(err)
	if c.fatal {
		e.Severity, e.SeverityUnlocalized = "FATAL", "FATAL"
	}
	if c.sess != nil && c.sess.txStatus == 'T' {
		c.sess.txStatus = 'E'
	}
	c.be.Send(e)
}
