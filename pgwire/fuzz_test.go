package pgwire

// Fuzzers for the session loop. Each input is served by the real server
// (store, warehouse, ingest) through Server.handle on an in-memory
// connection, so nothing waits on a network. The connection reads the
// input, then zero bytes that complete a message cut short and fail as a
// malformed one, and then waits until the server closes it: like a client
// that waits for its answers (one that closes its side gets its messages
// dropped), so every message of the input is processed. After each input:
// handle returned in time, the server logged no error (a recovered panic is
// logged as one), no session stays registered, and everything the server
// wrote is well-formed backend messages. Every 256 inputs a real pgx client
// connects and runs a query, to show the server still serves.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

func FuzzStartup(f *testing.F) {
	fz := startFuzzServer(f)
	startup := encodeFrontend(f, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "tester", "database": "allsource"}})
	for _, seed := range [][]byte{
		startup,
		encodeFrontend(f, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
			Parameters: map[string]string{"user": "tester", "database": "allsource", "options": "-c statement_timeout=1s --application_name=x"}}),
		encodeFrontend(f, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"user": "tester", "database": "nope"}}),
		encodeFrontend(f, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"database": "allsource", "TimeZone": "Mars/Olympus"}}),
		cat(encodeFrontend(f, &pgproto3.SSLRequest{}), startup),
		cat(encodeFrontend(f, &pgproto3.GSSEncRequest{}), encodeFrontend(f, &pgproto3.SSLRequest{}), startup),
		encodeFrontend(f, &pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}}),
		startup[:7],                       // truncated
		{0, 0, 0, 4},                      // shorter than its fixed part
		{0x7f, 0xff, 0xff, 0xff},          // longer than any startup packet
		{0, 0, 0, 8, 0, 2, 0, 0},          // protocol 2.0
		{0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, // SSLRequest code
		encodeFrontend(f, &pgproto3.Query{String: "SELECT 1"}),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fz.serve(t, in, false)
	})
}

func FuzzMessages(f *testing.F) {
	fz := startFuzzServer(f)
	msgs := func(ms ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, encodeFrontend(f, m)...)
		}
		return b
	}
	query := msgs(&pgproto3.Query{String: "SELECT 1 AS one; SELECT entity_id, version FROM events LIMIT 2"})
	parseBind := msgs(
		&pgproto3.Parse{Name: "s", Query: "SELECT seq FROM events WHERE entity_id = $1 LIMIT $2"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s"},
		&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s", ParameterFormatCodes: []int16{0, 1},
			Parameters: [][]byte{[]byte("e1"), {0, 0, 0, 0, 0, 0, 0, 2}}, ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 1},
		&pgproto3.Execute{Portal: "p"},
		&pgproto3.Close{ObjectType: 'P', Name: "p"},
		&pgproto3.Close{ObjectType: 'S', Name: "s"},
		&pgproto3.Sync{})
	for _, seed := range [][]byte{
		query,
		parseBind,
		parseBind[:len(parseBind)-9], // cut inside a message
		msgs(&pgproto3.Query{String: "BEGIN; SELECT * FROM nope"}, &pgproto3.Query{String: "ROLLBACK"}),
		msgs(&pgproto3.Query{String: "COPY events (entity_id, event_type) FROM STDIN"},
			&pgproto3.CopyData{Data: []byte("f1\tt\n")}, &pgproto3.CopyDone{}),
		msgs(&pgproto3.Query{String: "COPY events (entity_id, event_type) FROM STDIN WITH (FORMAT csv)"},
			&pgproto3.CopyData{Data: []byte("f2,t\n")}, &pgproto3.CopyFail{Message: "no"}),
		msgs(&pgproto3.Query{String: "COPY events (entity_id, event_type) FROM STDIN WITH (FORMAT csv)"},
			&pgproto3.CopyData{Data: []byte("f3,t\n")}, &pgproto3.CopyDone{}),
		msgs(&pgproto3.Query{String: "COPY (SELECT 1) TO STDOUT"}),
		msgs(&pgproto3.Parse{Query: "SET application_name = 'f'"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		msgs(&pgproto3.Bind{PreparedStatement: "missing"}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		msgs(&pgproto3.FunctionCall{Function: 1}, &pgproto3.Sync{}),
		msgs(&pgproto3.Flush{}, &pgproto3.Terminate{}),
		{'Q', 0, 0, 0, 2},                   // length below 4
		{'Q', 0x7f, 0, 0, 0},                // over the limit
		{'z', 0, 0, 0, 4},                   // unknown type
		{'B', 0, 0, 0, 8, 0, 0, 0xff, 0xff}, // Bind cut short
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fz.serve(t, in, true)
	})
}

// fuzzServer is a server shared by the inputs of one fuzz run.
type fuzzServer struct {
	ts      *testServer
	errs    *errorLog
	startup []byte
	inputs  atomic.Int64
}

// fuzzPadding is more than the longest message the fuzz server accepts
// (MaxMessageBytes) plus one message header.
const fuzzPadding = 1<<16 + 16

func startFuzzServer(f *testing.F) *fuzzServer {
	errs := &errorLog{}
	ts := startServer(f, func(o *Options) {
		o.Logger = slog.New(errs)
		// Inputs stay cheap: small messages, short statements.
		o.MaxMessageBytes = 1 << 16
		o.MaxResultBytes = 1 << 20
		o.StatementTimeout = time.Second
	})
	ts.appendN(f, 20, 4)
	fz := &fuzzServer{ts: ts, errs: errs}
	fz.startup = encodeFrontend(f, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "tester", "database": "allsource"}})
	f.Cleanup(func() { fz.checkClient(f) })
	return fz
}

// serve runs one input through handle and checks what it left behind.
// afterStartup puts a valid startup packet before the input.
func (fz *fuzzServer) serve(t *testing.T, in []byte, afterStartup bool) {
	if afterStartup {
		in = cat(fz.startup, in)
	}
	nc := &fuzzConn{in: bytes.NewReader(cat(in, make([]byte, fuzzPadding))), closed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fz.ts.srv.handle(nc, nil)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("handle did not return within 5s of reading all %d bytes of input", len(in))
	}
	if msgs := fz.errs.take(); len(msgs) > 0 {
		t.Fatalf("server logged errors: %q", msgs)
	}
	// handle unregisters before it returns; a pgx client of checkClient
	// may take a moment longer.
	for wait := time.Now().Add(time.Second); fz.ts.srv.Sessions() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("%d sessions still registered after their connection ended", fz.ts.srv.Sessions())
		}
	}
	if err := checkBackendStream(nc.out.Bytes()); err != nil {
		t.Fatalf("server wrote a malformed stream: %v\n%x", err, nc.out.Bytes())
	}
	if fz.inputs.Add(1)%256 == 0 {
		fz.checkClient(t)
	}
}

// checkClient connects with pgx and runs a query.
func (fz *fuzzServer) checkClient(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fz.ts.dsn("tester", ""))
	if err != nil {
		t.Fatalf("the server no longer accepts clients: %v", err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events WHERE entity_id = $1", "e1").Scan(&n); err != nil || n < 5 {
		t.Fatalf("query after fuzz inputs: n=%d, %v", n, err)
	}
}

// checkBackendStream checks that out is the single-byte answers to
// SSLRequest and GSSENCRequest followed by whole backend messages that
// pgproto3 decodes.
func checkBackendStream(out []byte) error {
	// 'N' is also NoticeResponse, whose length starts with a zero byte.
	for len(out) > 0 && out[0] == 'N' && (len(out) == 1 || out[1] != 0) {
		out = out[1:]
	}
	for len(out) > 0 {
		if len(out) < 5 {
			return fmt.Errorf("%d bytes after the last message", len(out))
		}
		n := int(int32(binary.BigEndian.Uint32(out[1:])))
		if n < 4 || 1+n > len(out) {
			return fmt.Errorf("message %q has length %d with %d bytes left", out[0], n, len(out)-1)
		}
		fe := pgproto3.NewFrontend(bytes.NewReader(out[:1+n]), io.Discard)
		if _, err := fe.Receive(); err != nil {
			return fmt.Errorf("message %q: %w", out[0], err)
		}
		out = out[1+n:]
	}
	return nil
}

func encodeFrontend(t testing.TB, m pgproto3.FrontendMessage) []byte {
	b, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// fuzzConn is a connection from a loopback client that sends in and then
// waits until the server closes the connection. What the server writes is
// kept.
type fuzzConn struct {
	in     *bytes.Reader
	out    bytes.Buffer
	closed chan struct{}
	once   sync.Once
}

func (c *fuzzConn) Read(b []byte) (int, error) {
	if c.in.Len() > 0 {
		return c.in.Read(b)
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *fuzzConn) Write(b []byte) (int, error) {
	if c.out.Len() > 16<<20 {
		return 0, errors.New("fuzzConn: the server wrote more than 16 MiB")
	}
	return c.out.Write(b)
}

func (c *fuzzConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fuzzConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432} }
func (c *fuzzConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }
