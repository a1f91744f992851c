package export

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
)

// fakeDNS answers from m; a name it does not hold is not found.
func fakeDNS(m map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range m[host] {
			out = append(out, netip.MustParseAddr(s))
		}
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	}
}

// checkTarget is what defining a job checks of a network target.
func checkTarget(m *Manager, target string) error {
	t, err := openTarget(&Spec{Target: target}, "acme", "", m.net, nil)
	if err != nil {
		return err
	}
	n := t.(networked)
	return n.guarded().check(context.Background(), n.endpoints())
}

func TestInternalAddresses(t *testing.T) {
	for _, c := range []struct{ addr, kind string }{
		{"127.0.0.1", "loopback"}, {"127.8.9.10", "loopback"}, {"::1", "loopback"}, {"::ffff:127.0.0.1", "loopback"},
		{"10.0.0.1", "private"}, {"172.16.5.4", "private"}, {"172.31.255.255", "private"}, {"192.168.1.1", "private"},
		{"fd12:3456::1", "private"}, {"100.64.0.1", "shared (CGNAT)"}, {"100.127.255.254", "shared (CGNAT)"},
		{"169.254.169.254", "link-local"}, {"fe80::1", "link-local"}, {"0.0.0.0", "unspecified"}, {"::", "unspecified"},
		{"0.1.2.3", "unspecified"}, {"224.0.0.1", "link-local"}, {"239.1.2.3", "multicast"}, {"ff02::1", "link-local"}, {"ff05::2", "multicast"},
		{"255.255.255.255", "reserved"}, {"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::a00:1", "private"}, {"2002:a00:1::1", "private"},
		{"8.8.8.8", ""}, {"93.184.216.34", ""}, {"172.32.0.1", ""}, {"100.128.0.1", ""}, {"2606:4700::1111", ""}, {"64:ff9b::808:808", ""},
	} {
		if got := internalKind(netip.MustParseAddr(c.addr)); got != c.kind {
			t.Errorf("%s: %q, want %q", c.addr, got, c.kind)
		}
	}
}

// TestDefaultAllowance: without --export-allow-hosts any host may be
// named, but only public addresses reached; "*" with networks adds those.
func TestDefaultAllowance(t *testing.T) {
	for _, allow := range [][]string{nil, {"*", "10.0.0.0/8"}} {
		wh := openWarehouse(t)
		m, err := Open(context.Background(), wh, Options{AllowHosts: allow})
		if err != nil {
			t.Fatal(err)
		}
		m.net.lookup = fakeDNS(map[string][]string{
			"db.example": {"93.184.216.34", "2606:2800:220:1::1"}, "internal.example": {"10.0.0.7"},
			"rebinding.example": {"93.184.216.34", "127.0.0.1"}, "localhost": {"127.0.0.1", "::1"},
		})
		withNets := allow != nil
		for _, c := range []struct {
			target string
			ok     bool
		}{
			{"postgres://u@db.example/x", true},
			{"clickhouse://8.8.8.8/db", true},
			{"postgres://u@127.0.0.1:5432/x", false},
			{"postgres://u@localhost/x", false},
			{"http://[::1]:8123/db", false},
			{"http://169.254.169.254/db", false},
			{"http://100.100.100.200/db", false},
			{"postgres://u@0.0.0.0/x", false},
			{"postgres://u@[fd00::1]/x", false},
			{"postgres://u@rebinding.example/x", false}, // one internal answer refuses the name
			{"postgres://u@db.example/x?host=127.0.0.1", false},
			{"postgres://u@db.example/x?host=/var/run/postgresql", false},
			{"postgres://u@nosuch.example/x", false},
			{"postgres://u@internal.example/x", withNets},
			{"postgres://u@10.1.2.3/x", withNets},
		} {
			err := checkTarget(m, c.target)
			if (err == nil) != c.ok {
				t.Errorf("allow %v: %s: %v, want allowed %v", allow, c.target, err, c.ok)
			}
		}
		// Defining a job says why, and it is 403.
		_, err = m.Create(context.Background(), "acme", Spec{Target: "http://127.0.0.1:8123/db"})
		if allsource.ErrorCode(err) != allsource.CodeForbidden || !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "--export-allow-hosts") {
			t.Errorf("create to loopback: %v", err)
		}
		m.Close()
	}
}

// TestServerItselfRefused: no allowance reaches the server's own
// listeners.
func TestServerItselfRefused(t *testing.T) {
	wh := openWarehouse(t)
	m, err := Open(context.Background(), wh, Options{AllowHosts: []string{"127.0.0.1", "localhost", "0.0.0.0", "10.0.0.0/8"}, Self: []string{"127.0.0.1:5433", ":8080", "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.net.lookup = fakeDNS(map[string][]string{"localhost": {"127.0.0.1"}})
	for _, c := range []struct {
		target string
		ok     bool
	}{
		{"postgres://u@127.0.0.1:5433/x", false},
		{"postgres://u@localhost:5433/x", false},
		{"http://127.0.0.1:8080/db", false},
		{"http://0.0.0.0:8080/db", false},
		{"postgres://u@127.0.0.1:5434/x", true},
		{"postgres://u@10.0.0.1:5433/x", true}, // not an address of this host
	} {
		err := checkTarget(m, c.target)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want allowed %v", c.target, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "own listener") && !strings.Contains(err.Error(), "not one") {
			t.Errorf("%s: %v", c.target, err)
		}
	}
}

// TestDialChecksTheAddressDialled: a name that resolved to a public
// address when the job was defined and to loopback when it connects is
// refused, and the dialer refuses any address its lookups did not
// approve, before connecting.
func TestDialChecksTheAddressDialled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	pol, err := newPolicy(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	pol.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	ctx := context.Background()
	for _, target := range []string{fmt.Sprintf("http://svc.example:%d/db", port), fmt.Sprintf("postgres://u@svc.example:%d/db?sslmode=disable", port)} {
		calls.Store(0)
		tg, err := openTarget(&Spec{Target: target}, "acme", "", pol, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := tg.(networked)
		if err := n.guarded().check(ctx, n.endpoints()); err != nil {
			t.Fatalf("%s: the first answer is public: %v", target, err)
		}
		err = tg.open(ctx)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: the second answer: %v", target, err)
		}
		tg.close()
	}
	// The Control hook: an address no lookup approved is not dialled.
	g, _ := newGuard(pol, []endpoint{{"svc.example", uint16(port)}})
	calls.Store(0)
	if _, err := g.resolve(ctx, "svc.example"); err != nil {
		t.Fatal(err)
	}
	_, err = g.dialer().DialContext(ctx, "tcp", ln.Addr().String())
	var r *refusedError
	if !errors.As(err, &r) || !strings.Contains(err.Error(), "not among the checked addresses") {
		t.Fatalf("dial of an unchecked address: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the listener", n)
	}
}

// TestLastErrorShowsNoTargetWords: what a failing target answers (an
// HTTP body, a PostgreSQL message, another protocol's banner) is not in
// the job's status; the status code or SQLSTATE is.
func TestLastErrorShowsNoTargetWords(t *testing.T) {
	const secret = "SECRET-internal-token-42"
	status500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-ClickHouse-Exception-Code", "516")
		http.Error(w, secret, http.StatusInternalServerError)
	}))
	defer status500.Close()
	status200 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, secret)
	}))
	defer status200.Close()
	banner := serveTCP(t, func(c net.Conn) { fmt.Fprintf(c, "SSH-2.0-%s\r\n", secret) })
	pgErr := serveTCP(t, func(c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: secret})
		be.Flush()
	})
	wh := openWarehouse(t)
	appendEvents(t, wh, "acme", 3)
	m, err := Open(context.Background(), wh, Options{AllowHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, c := range []struct{ target, want string }{
		{status500.URL + "/db", "HTTP 500 Internal Server Error (exception code 516)"},
		{status200.URL + "/db", "not a number"},
		{"http://" + banner + "/db", "not understood"},
		{"postgres://u@" + pgErr + "/db?sslmode=disable", "PostgreSQL error 28P01 (password authentication failed)"},
	} {
		j, err := m.Create(context.Background(), "acme", Spec{Target: c.target})
		if err != nil {
			t.Fatalf("%s: %v", c.target, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for j.Status != StatusRetrying {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", c.target, j)
			}
			time.Sleep(10 * time.Millisecond)
			j, _ = m.Get("acme", j.ID)
		}
		if strings.Contains(j.LastError, secret) || strings.Contains(j.LastError, "SECRET") || !strings.Contains(j.LastError, c.want) {
			t.Errorf("%s: last_error %q, want %q and no body", c.target, j.LastError, c.want)
		}
		if err := m.Delete(context.Background(), "acme", j.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// serveTCP answers every connection with fn until the test ends.
func serveTCP(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fn(c)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestPostgresTargetIgnoresServerCredentials: a tenant's PostgreSQL URL
// cannot make the server use its own password file, environment password
// or client key for the tenant's host.
func TestPostgresTargetIgnoresServerCredentials(t *testing.T) {
	t.Setenv("PGPASSWORD", "operator-secret")
	pol := &policy{public: true, lookup: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}}
	for _, param := range serverFileParams {
		u, _ := url.Parse("postgres://u@db.example.com/db?" + param + "=/etc/x")
		if _, err := newPostgresTarget(u, "acme", nil, pol, nil); err == nil || !strings.Contains(err.Error(), param) {
			t.Errorf("%s: %v", param, err)
		}
	}
	u, _ := url.Parse("postgres://u@db.example.com/db")
	tg, err := newPostgresTarget(u, "acme", nil, pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tg.cfg.Password != "" {
		t.Fatalf("the server's PGPASSWORD reached the target: %q", tg.cfg.Password)
	}
	u, _ = url.Parse("postgres://u:given@db.example.com/db")
	if tg, err = newPostgresTarget(u, "acme", nil, pol, nil); err != nil || tg.cfg.Password != "given" {
		t.Fatalf("the URL's password: %v %q", err, tg.cfg.Password)
	}
}
