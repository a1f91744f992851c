package pgwire

// Scripted protocol tests. Each file in testdata/scripts is one
// conversation with a fresh server, written message by message, so a test
// states exactly which frames a client sends and which it must get back.
//
// A script is read line by line. Blank lines and lines starting with # are
// ignored. Header lines come first and shape the server:
//
//	seed N K              append N events over K entities (testServer.appendN)
//	option Name=value     set an Options field: MaxMessageBytes, MaxResultBytes,
//	                      StatementTimeout (a Go duration)
//	timeout 10s           how long each expectation waits (default 10s)
//
// The conversation follows, on one TCP connection opened at its first line:
//
//	startup k=v ...       send a StartupMessage with these parameters and
//	                      consume AuthenticationOk, ParameterStatus,
//	                      BackendKeyData and ReadyForQuery
//	> Type {json}         send a frontend message, decoded from pgproto3's
//	                      JSON form (the JSON may be omitted: zero value)
//	< Type {json}         expect a backend message: every field given must
//	                      match and every field left out must be its zero
//	                      value ("", 0, null, [] or {})
//	<~ Type {json}        expect a backend message: only the fields given
//	                      are compared, in nested objects too
//	<* Type {json}        consume zero or more messages like <~ would match
//	< EOF                 expect the server to have closed the connection
//	< byte N              expect one raw byte, e.g. the answer to SSLRequest
//	raw 51 00 00 00 02    send bytes as they are (hex, spaces allowed)
//	sleep 100ms           pause
//	cancel                send a CancelRequest for this connection's
//	                      BackendKeyData from a second connection
//	connect               close the connection and open a new one
//
// CopyData is written {"Text":"..."} when its bytes are printable text and
// {"Data":"<hex>"} otherwise, both ways; CopyInResponse and CopyOutResponse
// carry their OverallFormat (0 text, 1 binary), which pgproto3 leaves out.
//
// In an expected value, the string "*" matches anything. Frontend messages
// are queued and written together when the script next waits for an
// answer, sleeps or cancels, so several > lines before a < line form one
// pipeline. A mismatch reports the message received in script syntax.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
)

func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scripts", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/scripts")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := readScript(file)
			if err != nil {
				t.Fatal(err)
			}
			sc.run(t)
		})
	}
}

// scriptLine is one command of a script.
type scriptLine struct {
	pos  string // file:line
	cmd  string // startup, >, <, <~, <*, raw, sleep, cancel
	typ  string // message type for >, <, <~, <*
	arg  string // the rest of the line
	want any    // decoded JSON for <, <~, <*
}

// script is a parsed script file.
type script struct {
	seedN, seedK int
	edits        []func(*Options)
	timeout      time.Duration
	lines        []scriptLine
}

func readScript(file string) (*script, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	sc := &script{timeout: 10 * time.Second}
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		pos := fmt.Sprintf("%s:%d", file, i+1)
		cmd, rest, _ := strings.Cut(text, " ")
		rest = strings.TrimSpace(rest)
		header := len(sc.lines) == 0
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: %s", pos, fmt.Sprintf(format, args...))
		}
		switch cmd {
		case "seed", "option", "timeout":
			if !header {
				return nil, fail("%s must come before the conversation", cmd)
			}
			if err := sc.header(cmd, rest); err != nil {
				return nil, fail("%v", err)
			}
			continue
		}
		ln := scriptLine{pos: pos, cmd: cmd, arg: rest}
		switch cmd {
		case ">", "<", "<~", "<*":
			ln.typ, ln.arg, _ = strings.Cut(rest, " ")
			ln.arg = strings.TrimSpace(ln.arg)
			if ln.typ == "" {
				return nil, fail("%s needs a message type", cmd)
			}
			if cmd == ">" {
				if _, err := frontendMessage(ln.typ, ln.arg); err != nil {
					return nil, fail("%v", err)
				}
				break
			}
			if cmd == "<" && (ln.typ == "EOF" || ln.typ == "byte") {
				if ln.typ == "byte" && len(ln.arg) != 1 {
					return nil, fail("< byte needs one character")
				}
				break
			}
			if ln.arg == "" {
				ln.arg = "{}"
			}
			if err := json.Unmarshal([]byte(ln.arg), &ln.want); err != nil {
				return nil, fail("bad JSON: %v", err)
			}
			if _, ok := ln.want.(map[string]any); !ok {
				return nil, fail("expected a JSON object")
			}
		case "raw":
			if _, err := hex.DecodeString(strings.ReplaceAll(rest, " ", "")); err != nil {
				return nil, fail("bad hex: %v", err)
			}
		case "sleep":
			if _, err := time.ParseDuration(rest); err != nil {
				return nil, fail("%v", err)
			}
		case "startup", "cancel", "connect":
		default:
			return nil, fail("unknown command %q", cmd)
		}
		sc.lines = append(sc.lines, ln)
	}
	return sc, nil
}

func (sc *script) header(cmd, rest string) error {
	switch cmd {
	case "seed":
		if _, err := fmt.Sscanf(rest, "%d %d", &sc.seedN, &sc.seedK); err != nil {
			return fmt.Errorf("seed N K: %v", err)
		}
	case "timeout":
		d, err := time.ParseDuration(rest)
		if err != nil {
			return err
		}
		sc.timeout = d
	case "option":
		name, value, _ := strings.Cut(rest, "=")
		switch name {
		case "MaxMessageBytes":
			n, err := strconv.Atoi(value)
			if err != nil {
				return err
			}
			sc.edits = append(sc.edits, func(o *Options) { o.MaxMessageBytes = n })
		case "MaxResultBytes":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return err
			}
			sc.edits = append(sc.edits, func(o *Options) { o.MaxResultBytes = n })
		case "StatementTimeout":
			d, err := time.ParseDuration(value)
			if err != nil {
				return err
			}
			sc.edits = append(sc.edits, func(o *Options) { o.StatementTimeout = d })
		default:
			return fmt.Errorf("unknown option %q", name)
		}
	}
	return nil
}

// frontendMessage decodes a > line.
func frontendMessage(typ, arg string) (pgproto3.FrontendMessage, error) {
	var m pgproto3.FrontendMessage
	switch typ {
	case "Query":
		m = &pgproto3.Query{}
	case "Parse":
		m = &pgproto3.Parse{}
	case "Bind":
		m = &pgproto3.Bind{}
	case "Describe":
		m = &pgproto3.Describe{}
	case "Execute":
		m = &pgproto3.Execute{}
	case "Sync":
		m = &pgproto3.Sync{}
	case "Flush":
		m = &pgproto3.Flush{}
	case "Close":
		m = &pgproto3.Close{}
	case "CopyData":
		m = &pgproto3.CopyData{}
	case "CopyDone":
		m = &pgproto3.CopyDone{}
	case "CopyFail":
		m = &pgproto3.CopyFail{}
	case "FunctionCall":
		m = &pgproto3.FunctionCall{}
	case "Terminate":
		m = &pgproto3.Terminate{}
	case "PasswordMessage":
		m = &pgproto3.PasswordMessage{}
	case "StartupMessage":
		m = &pgproto3.StartupMessage{}
	case "SSLRequest":
		m = &pgproto3.SSLRequest{}
	case "GSSEncRequest":
		m = &pgproto3.GSSEncRequest{}
	case "CancelRequest":
		m = &pgproto3.CancelRequest{}
	default:
		return nil, fmt.Errorf("unknown frontend message %q", typ)
	}
	if cd, ok := m.(*pgproto3.CopyData); ok && arg != "" {
		var v struct{ Text *string }
		if err := json.Unmarshal([]byte(arg), &v); err != nil {
			return nil, fmt.Errorf("CopyData: bad JSON: %v", err)
		}
		if v.Text != nil {
			cd.Data = []byte(*v.Text)
			return cd, nil
		}
	}
	if arg != "" {
		if err := json.Unmarshal([]byte(arg), m); err != nil {
			return nil, fmt.Errorf("%s: bad JSON: %v", typ, err)
		}
	}
	if sm, ok := m.(*pgproto3.StartupMessage); ok && sm.ProtocolVersion == 0 {
		sm.ProtocolVersion = pgproto3.ProtocolVersionNumber
	}
	return m, nil
}

// received is one backend message in comparable form, or the end of the
// stream.
type received struct {
	typ  string
	body map[string]any // the message's JSON form without its Type
	eof  bool
}

func (r received) String() string {
	if r.eof {
		return "< EOF"
	}
	// Zero fields are left out, as a < line may leave them out.
	body := map[string]any{}
	for k, v := range r.body {
		if !isZeroJSON(v) {
			body[k] = v
		}
	}
	b, _ := json.Marshal(body)
	return "< " + r.typ + " " + string(b)
}

// scriptConn is the client side of a running script.
type scriptConn struct {
	t       *testing.T
	ts      *testServer
	nc      net.Conn
	fe      *pgproto3.Frontend
	timeout time.Duration
	key     *pgproto3.BackendKeyData
	peeked  *received
}

func (sc *script) run(t *testing.T) {
	errs := &errorLog{}
	ts := startServer(t, func(o *Options) {
		if o.Logger != nil {
			errs.next = o.Logger.Handler()
		}
		o.Logger = slog.New(errs)
		for _, e := range sc.edits {
			e(o)
		}
	})
	defer func() {
		for _, msg := range errs.take() {
			t.Errorf("server logged: %s", msg)
		}
	}()
	if sc.seedN > 0 {
		ts.appendN(t, sc.seedN, sc.seedK)
	}
	c := &scriptConn{t: t, ts: ts, timeout: sc.timeout}
	c.connect()
	defer func() { c.nc.Close() }()
	for _, ln := range sc.lines {
		if ln.cmd != ">" && ln.cmd != "startup" {
			c.flush(ln.pos)
		}
		c.step(ln)
		if t.Failed() {
			return
		}
	}
	c.flush("end of script")
	// Anything the server sent that the script did not expect is a failure.
	if r := c.peeked; r != nil && !r.eof {
		t.Errorf("end of script: unexpected %s", r)
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if r, err := c.receive(); err == nil && !r.eof {
		t.Errorf("end of script: unexpected %s", r)
	}
}

// errorLog is a slog.Handler that keeps the server's error records, such
// as a recovered panic, so a test can fail on them. Every record also goes
// to next, if set.
type errorLog struct {
	next slog.Handler

	mu   sync.Mutex
	msgs []string
}

func (h *errorLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next != nil && h.next.Enabled(ctx, l)
}

func (h *errorLog) Handle(ctx context.Context, r slog.Record) error {
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		h.next.Handle(ctx, r)
	}
	if r.Level < slog.LevelError {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, b.String())
	h.mu.Unlock()
	return nil
}

func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }

// take returns the records kept so far and forgets them.
func (h *errorLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs := h.msgs
	h.msgs = nil
	return msgs
}

// connect opens a new connection, closing the one before.
func (c *scriptConn) connect() {
	if c.nc != nil {
		c.nc.Close()
	}
	nc, err := net.Dial("tcp", c.ts.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nc, c.key, c.peeked = nc, nil, nil
	c.fe = pgproto3.NewFrontend(nc, nc)
}

func (c *scriptConn) flush(pos string) {
	if err := c.fe.Flush(); err != nil {
		c.t.Fatalf("%s: send: %v", pos, err)
	}
}

func (c *scriptConn) step(ln scriptLine) {
	t := c.t
	switch ln.cmd {
	case "startup":
		c.startup(ln)
	case ">":
		m, err := frontendMessage(ln.typ, ln.arg)
		if err != nil {
			t.Fatalf("%s: %v", ln.pos, err)
		}
		c.fe.Send(m)
	case "raw":
		b, _ := hex.DecodeString(strings.ReplaceAll(ln.arg, " ", ""))
		c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := c.nc.Write(b); err != nil {
			t.Fatalf("%s: write: %v", ln.pos, err)
		}
	case "sleep":
		d, _ := time.ParseDuration(ln.arg)
		time.Sleep(d)
	case "cancel":
		c.cancel(ln)
	case "connect":
		c.connect()
	case "<":
		switch ln.typ {
		case "EOF":
			c.expectEOF(ln)
		case "byte":
			c.expectByte(ln)
		default:
			c.expect(ln, false)
		}
	case "<~":
		c.expect(ln, true)
	case "<*":
		for {
			r := c.next(ln.pos)
			if r.eof || r.typ != ln.typ || !jsonMatch(ln.want, r.body, true) {
				c.peeked = &r
				return
			}
		}
	}
}

func (c *scriptConn) startup(ln scriptLine) {
	sm := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{}}
	for _, kv := range strings.Fields(ln.arg) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			c.t.Fatalf("%s: startup parameters are key=value, got %q", ln.pos, kv)
		}
		sm.Parameters[k] = v
	}
	c.fe.Send(sm)
	c.flush(ln.pos)
	for {
		r := c.next(ln.pos)
		switch r.typ {
		case "AuthenticationOk", "ParameterStatus", "BackendKeyData":
			continue
		case "ReadyForQuery":
			if c.key == nil {
				c.t.Fatalf("%s: startup: ReadyForQuery without BackendKeyData", ln.pos)
			}
			return
		}
		c.t.Fatalf("%s: startup: unexpected %s", ln.pos, r)
	}
}

// next returns the next backend message (or the one a <* line looked at).
func (c *scriptConn) next(pos string) received {
	if r := c.peeked; r != nil {
		c.peeked = nil
		return *r
	}
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	r, err := c.receive()
	if err != nil {
		c.t.Fatalf("%s: receive: %v", pos, err)
	}
	return r
}

func (c *scriptConn) receive() (received, error) {
	m, err := c.fe.Receive()
	if err != nil {
		if isConnEnd(err) {
			return received{eof: true}, nil
		}
		return received{}, err
	}
	if k, ok := m.(*pgproto3.BackendKeyData); ok {
		c.key = &pgproto3.BackendKeyData{ProcessID: k.ProcessID, SecretKey: slices.Clone(k.SecretKey)}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return received{}, fmt.Errorf("marshal %T: %v", m, err)
	}
	r := received{typ: reflect.TypeOf(m).Elem().Name()}
	if err := json.Unmarshal(b, &r.body); err != nil {
		return received{}, fmt.Errorf("unmarshal %T: %v", m, err)
	}
	delete(r.body, "Type")
	switch m := m.(type) {
	case *pgproto3.CopyData:
		if printable(m.Data) {
			r.body = map[string]any{"Text": string(m.Data)}
		}
	case *pgproto3.CopyInResponse:
		r.body["OverallFormat"] = float64(m.OverallFormat)
	case *pgproto3.CopyOutResponse:
		r.body["OverallFormat"] = float64(m.OverallFormat)
	}
	return r, nil
}

// printable reports whether b reads as text: UTF-8 without control
// characters other than tab, newline and carriage return.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, ch := range b {
		if ch < ' ' && ch != '\t' && ch != '\n' && ch != '\r' || ch == 0x7f {
			return false
		}
	}
	return true
}

// isConnEnd reports whether err means the server closed the connection.
func isConnEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

func (c *scriptConn) expect(ln scriptLine, partial bool) {
	r := c.next(ln.pos)
	if r.eof || r.typ != ln.typ || !jsonMatch(ln.want, r.body, partial) {
		c.t.Fatalf("%s: got\n\t%s\nwant\n\t%s %s %s", ln.pos, r, ln.cmd, ln.typ, ln.arg)
	}
}

func (c *scriptConn) expectEOF(ln scriptLine) {
	r := c.next(ln.pos)
	if !r.eof {
		c.t.Fatalf("%s: got\n\t%s\nwant\n\t< EOF", ln.pos, r)
	}
}

func (c *scriptConn) expectByte(ln scriptLine) {
	if c.peeked != nil || c.fe.ReadBufferLen() > 0 {
		c.t.Fatalf("%s: < byte after buffered messages", ln.pos)
	}
	var b [1]byte
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	if _, err := io.ReadFull(c.nc, b[:]); err != nil {
		c.t.Fatalf("%s: read byte: %v", ln.pos, err)
	}
	if b[0] != ln.arg[0] {
		c.t.Fatalf("%s: got byte %q, want %q", ln.pos, b[0], ln.arg[0])
	}
}

// cancel asks the server, from a second connection, to cancel what this
// connection runs, as libpq's PQcancel does.
func (c *scriptConn) cancel(ln scriptLine) {
	if c.key == nil {
		c.t.Fatalf("%s: cancel before BackendKeyData", ln.pos)
	}
	nc, err := net.Dial("tcp", c.ts.addr)
	if err != nil {
		c.t.Fatalf("%s: %v", ln.pos, err)
	}
	defer nc.Close()
	b, err := (&pgproto3.CancelRequest{ProcessID: c.key.ProcessID, SecretKey: c.key.SecretKey}).Encode(nil)
	if err != nil {
		c.t.Fatalf("%s: %v", ln.pos, err)
	}
	if _, err := nc.Write(b); err != nil {
		c.t.Fatalf("%s: %v", ln.pos, err)
	}
	// The server answers nothing and closes: wait for that so the cancel
	// has been handled before the script goes on.
	nc.SetReadDeadline(time.Now().Add(c.timeout))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || !isConnEnd(err) {
		c.t.Fatalf("%s: cancel connection: read %d bytes, %v; want EOF", ln.pos, n, err)
	}
}

// jsonMatch compares a received message's JSON form with an expected one.
// "*" matches anything. Unless partial, fields missing from want must be
// zero in got.
func jsonMatch(want, got any, partial bool) bool {
	if want == "*" {
		return true
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !jsonMatch(wv, g[k], partial) {
				return false
			}
		}
		if !partial {
			for k, gv := range g {
				if _, ok := w[k]; !ok && !isZeroJSON(gv) {
					return false
				}
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return false
		}
		if len(w) != len(g) {
			return false
		}
		for i := range w {
			if !jsonMatch(w[i], g[i], partial) {
				return false
			}
		}
		return true
	case nil:
		return got == nil
	}
	return reflect.DeepEqual(want, got)
}

// isZeroJSON reports whether a decoded JSON value is a zero value.
func isZeroJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// TestJSONMatch pins the comparison rules scripts rely on.
func TestJSONMatch(t *testing.T) {
	dec := func(s string) any {
		var v any
		if err := json.NewDecoder(bytes.NewReader([]byte(s))).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	got := dec(`{"Code":"42601","Message":"syntax error","Position":12,"Detail":"","Values":[{"text":"1"},null]}`)
	for _, tc := range []struct {
		want    string
		partial bool
		ok      bool
	}{
		{`{"Code":"42601","Message":"syntax error","Position":12,"Values":[{"text":"1"},null]}`, false, true},
		{`{"Code":"42601","Message":"*","Position":"*","Values":"*"}`, false, true},
		{`{"Code":"42601","Message":"syntax error","Values":[{"text":"1"},null]}`, false, false}, // Position left out
		{`{"Code":"42601"}`, true, true},
		{`{"Code":"42P01"}`, true, false},
		{`{"Values":[{"text":"1"}]}`, true, false}, // arrays keep their length
		{`{"Values":[{"text":"1"},{"text":"2"}]}`, true, false},
		{`{"Values":[{"text":"1"},null],"Detail":""}`, true, true},
		{`{"Values":[{"text":"1"},{}]}`, true, false},
	} {
		if m := jsonMatch(dec(tc.want), got, tc.partial); m != tc.ok {
			t.Errorf("jsonMatch(%s, partial=%v) = %v, want %v", tc.want, tc.partial, m, tc.ok)
		}
	}
}
