package pgwire

// Tests of what bounds a client's hold on the server: connections that do
// not log in, clients that leave while their statement runs, and the
// server's statement timeout.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// slowQuery runs until cancelled.
const slowQuery = "SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3"

// dialFrom connects to addr from the loopback address local.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// closedByServer reports whether the server closed nc within wait.
func closedByServer(nc net.Conn, wait time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, nc)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// waitAccepted waits until the server has accepted the client connection
// nc.
func waitAccepted(t *testing.T, s *Server, nc net.Conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		s.mu.Lock()
		found := false
		for c := range s.conns {
			found = found || c.RemoteAddr().String() == nc.LocalAddr().String()
		}
		s.mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not accept %s", nc.LocalAddr())
		}
	}
}

// TestStartupEviction: connections that never log in are bounded per
// address and in all, and a new one pushes out the oldest instead of being
// refused, so a real client still logs in. Sessions are not touched.
func TestStartupEviction(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.MaxStartupConns = 5; o.MaxStartupConnsPerHost = 3 })
	sess := ts.connect(t)
	ctx := context.Background()

	var a, b []net.Conn
	for i := 0; i < 5; i++ {
		a = append(a, dialFrom(t, "127.0.0.2", ts.addr))
		waitAccepted(t, ts.srv, a[i])
	}
	for i := 0; i < 3; i++ {
		b = append(b, dialFrom(t, "127.0.0.3", ts.addr))
		waitAccepted(t, ts.srv, b[i])
	}
	// 127.0.0.2 kept its newest 3 (a[2:]); then 127.0.0.3's third would
	// have made 6 in all, so the oldest of all (a[2]) went too.
	for i, nc := range a {
		want := i < 3
		if got := closedByServer(nc, 300*time.Millisecond); got != want {
			t.Errorf("127.0.0.2 connection %d: closed %v, want %v", i, got, want)
		}
	}
	for i, nc := range b {
		if closedByServer(nc, 100*time.Millisecond) {
			t.Errorf("127.0.0.3 connection %d closed", i)
		}
	}
	// More idle connections than every bound, then a real login.
	for i := 0; i < 50; i++ {
		dialFrom(t, "127.0.0.1", ts.addr)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(cctx, ts.dsn("late", ""))
	if err != nil {
		t.Fatalf("login past idle connections: %v", err)
	}
	defer c.Close(ctx)
	for _, conn := range []*pgx.Conn{c, sess} {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("query: %v", err)
		}
	}
}

// TestStartupTimeout: a connection that does not finish logging in within
// StartupTimeout is closed, whether it says nothing or stops half-way
// through authentication.
func TestStartupTimeout(t *testing.T) {
	ts := startServerAuth(t, func(o *Options) {
		o.Users = map[string]string{"ana": "pw"}
		o.StartupTimeout = 300 * time.Millisecond
	})
	silent := dialFrom(t, "127.0.0.1", ts.addr)
	halfway := dialFrom(t, "127.0.0.1", ts.addr)
	fe := pgproto3.NewFrontend(halfway, halfway)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "ana", "database": Database}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	halfway.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("got %T, want AuthenticationSASL", m)
	}
	start := time.Now()
	for name, nc := range map[string]net.Conn{"silent": silent, "halfway": halfway} {
		if !closedByServer(nc, 5*time.Second) {
			t.Errorf("%s connection still open after 5 s", name)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, want about 300ms", d)
	}
}

// login opens a session on a raw connection, over TLS when secure, and
// reads up to its first ReadyForQuery. It returns the TCP connection and
// the protocol codec (over TLS when secure). A raw client is what a client
// that vanishes looks like: drivers such as pgx send a CancelRequest when
// their connection fails.
func login(t *testing.T, addr string, secure bool) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	nc := dialFrom(t, "127.0.0.1", addr)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	var rw io.ReadWriter = nc
	if secure {
		req, _ := (&pgproto3.SSLRequest{}).Encode(nil)
		answer := make([]byte, 1)
		if _, err := nc.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(nc, answer); err != nil || answer[0] != 'S' {
			t.Fatalf("SSLRequest: %q, %v", answer, err)
		}
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		rw = tc
	}
	fe := pgproto3.NewFrontend(rw, rw)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "raw", "database": Database}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return nc, fe
		}
	}
}

// running reports how many sessions have a statement running.
func running(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		ss.mu.Lock()
		if ss.running != nil {
			n++
		}
		ss.mu.Unlock()
	}
	return n
}

// waitSessions waits until the server has n sessions.
func waitSessions(t *testing.T, s *Server, n int, wait time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(wait); s.Sessions() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions after %v, want %d", s.Sessions(), wait, n)
		}
	}
}

// TestClientGoneCancels: when a client goes away while its statement runs,
// the statement is cancelled and the session ends, over plain TCP and TLS,
// and also when the client closes right after sending the statement.
func TestClientGoneCancels(t *testing.T) {
	cfg, err := AutoTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(o *Options) { o.TLS = cfg })
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("running/tls=%v", secure), func(t *testing.T) {
			nc, fe := login(t, ts.addr, secure)
			fe.Send(&pgproto3.Query{String: slowQuery})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); running(ts.srv) == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("statement not running after 5 s")
				}
			}
			nc.Close()
			waitSessions(t, ts.srv, 0, 3*time.Second)
		})
	}
	t.Run("closed-after-sending", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			nc, fe := login(t, ts.addr, false)
			fe.Send(&pgproto3.Query{String: slowQuery})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(i) * time.Millisecond)
			nc.Close()
			waitSessions(t, ts.srv, 0, 3*time.Second)
		}
	})
	// Every engine connection is free again.
	c := ts.connect(t)
	var n int64
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
}

// TestPipelinedDuringStatement: what a client sends while a statement runs,
// more than the read-ahead buffer holds included, is served in order.
func TestPipelinedDuringStatement(t *testing.T) {
	ts := startServer(t, nil)
	nc, fe := login(t, ts.addr, false)
	big := "SELECT 42 AS answer /* " + strings.Repeat("x", 2*maxReadAhead) + " */"
	queries := []string{"SELECT count(*) FROM range(30000000) t(x) WHERE x % 7 = 3", big, "SELECT 'last'"}
	// The first goes alone; the rest follow in small pieces while it runs.
	fe.Send(&pgproto3.Query{String: queries[0]})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var rest []byte
	for _, q := range queries[1:] {
		rest, _ = (&pgproto3.Query{String: q}).Encode(rest)
	}
	sent := make(chan error, 1)
	go func() {
		for len(rest) > 0 {
			n := min(len(rest), 1+rand.IntN(64<<10))
			if _, err := nc.Write(rest[:n]); err != nil {
				sent <- err
				return
			}
			rest = rest[n:]
		}
		sent <- nil
	}()
	var got []string
	for ready := 0; ready < len(queries); {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pgproto3.DataRow:
			got = append(got, string(m.Values[0]))
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			ready++
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1] != "42" || got[2] != "last" {
		t.Fatalf("answers %q, want [<count> 42 last]", got)
	}
}

// TestClientReader: what arrives in pieces is read whole and in order,
// the buffer never holds more than maxReadAhead, and the end of the
// connection calls gone and drops what was not read yet.
func TestClientReader(t *testing.T) {
	client, server := net.Pipe()
	r := newClientReader(server)
	gone := make(chan struct{}, 1)
	r.start(func() {
		select {
		case gone <- struct{}{}:
		default:
		}
	})
	want := make([]byte, 3*maxReadAhead)
	for i := range want {
		want[i] = byte(rand.IntN(256))
	}
	readAll := make(chan struct{})
	go func() {
		rest := want
		for len(rest) > 0 {
			n := min(len(rest), 1+rand.IntN(40<<10))
			client.Write(rest[:n])
			rest = rest[n:]
		}
		<-readAll
		client.Write([]byte("never read"))
		client.Close()
	}()
	var got bytes.Buffer
	p := make([]byte, 7000)
	for got.Len() < len(want) {
		time.Sleep(time.Duration(rand.IntN(2)) * time.Millisecond)
		r.mu.Lock()
		if n := len(r.buf) - r.head; n > maxReadAhead+16<<10 {
			t.Errorf("%d bytes buffered", n)
		}
		r.mu.Unlock()
		n, err := r.Read(p)
		if err != nil {
			t.Fatalf("after %d bytes: %v", got.Len(), err)
		}
		got.Write(p[:n])
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("bytes differ")
	}
	close(readAll)
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("gone not called after the client closed")
	}
	if _, err := r.Read(p); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the end: %v, want EOF", err)
	}
	server.Close()
	r.stop()
}

// TestStatementTimeoutCeiling: the server's StatementTimeout is each
// session's default and ceiling: SET statement_timeout = 0 or a larger
// value does not lift it, a smaller value applies.
func TestStatementTimeoutCeiling(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.StatementTimeout = time.Second })
	c := ts.connect(t)
	ctx := context.Background()
	var show string
	if err := c.QueryRow(ctx, "SHOW statement_timeout").Scan(&show); err != nil || show != "1000ms" {
		t.Fatalf("SHOW statement_timeout: %q, %v", show, err)
	}
	for _, tc := range []struct {
		set      string
		min, max time.Duration
	}{
		{"0", 900 * time.Millisecond, 10 * time.Second},
		{"'1h'", 900 * time.Millisecond, 10 * time.Second},
		{"'50ms'", 0, 800 * time.Millisecond},
	} {
		if _, err := c.Exec(ctx, "SET statement_timeout = "+tc.set); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.Exec(ctx, slowQuery)
		d := time.Since(start)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "statement timeout") {
			t.Fatalf("SET statement_timeout = %s: %v, want 57014", tc.set, err)
		}
		if d < tc.min || d > tc.max {
			t.Errorf("SET statement_timeout = %s: cancelled after %v, want %v to %v", tc.set, d, tc.min, tc.max)
		}
	}
}
