package export

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allsource/allsource"
)

// Network targets are a tenant's choice of where the server connects, so
// they are held to the operator's allowance (Options.AllowHosts) twice:
//
//   - when a job is defined, the URL's hosts must be allowed, and every
//     address each name resolves to must be;
//   - on every connection, the job's dialer resolves the name again,
//     checks those addresses, and the dialer's Control hook checks the
//     address actually dialled against them, so a DNS answer that changes
//     between the check and the dial does not reach an address the check
//     would have refused.
//
// Without an allowance any host may be named, but only public addresses
// are dialled: loopback, private (RFC 1918, IPv6 ULA), shared (CGNAT),
// link-local, unspecified, multicast and other reserved ranges are
// refused. An allowance lists hosts (host, host:port, *.domain: these may
// resolve anywhere, as before), IP addresses and CIDR networks (addresses
// in them are allowed, internal or not), and "*" (any host, public
// addresses). The server's own listeners (Options.Self) are refused
// whatever the allowance: an export that logs into this server would be
// counted by its login throttle as failed logins from the server's own
// address.
//
// What a job shows of a failure (its last_error and the log) never
// repeats what the target said: a response body or a server's message
// could carry another service's data back to the tenant. It shows our own
// refusals, network errors, HTTP statuses and SQLSTATEs (targetError).

// refusedError is a target address the allowance does not admit.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refused(format string, args ...any) error {
	return &refusedError{msg: fmt.Sprintf(format, args...)}
}

// policy is the operator's allowance for network targets.
type policy struct {
	names  []string       // host, host:port, *.domain (lower case), socket paths
	nets   []netip.Prefix // IP and CIDR entries
	public bool           // any host, public addresses: no list, or "*"
	self   []listener
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// listener is one of the server's own listen addresses.
type listener struct {
	addr netip.Addr // invalid: every local address
	port uint16
}

func newPolicy(o Options) (*policy, error) {
	p := &policy{public: len(o.AllowHosts) == 0, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for _, e := range o.AllowHosts {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case e == "*":
			p.public = true
		case strings.HasPrefix(e, "/"): // a Unix socket directory (PostgreSQL)
			p.names = append(p.names, e)
		case strings.Contains(e, "/"):
			pr, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("export: allowed hosts: %q is not a CIDR network (10.0.0.0/8, fd00::/8)", e)
			}
			p.nets = append(p.nets, netip.PrefixFrom(pr.Addr().Unmap(), min(pr.Bits(), pr.Addr().Unmap().BitLen())).Masked())
		default:
			e = strings.ToLower(e)
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				p.nets = append(p.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
			p.names = append(p.names, e)
		}
	}
	for _, s := range o.Self {
		host, port, err := net.SplitHostPort(s)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil || n == 0 {
			continue // not known before listening: not checked
		}
		l := listener{port: uint16(n)}
		if host == "localhost" {
			l.addr = netip.IPv6Loopback()
		} else if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			l.addr = a.Unmap()
		}
		p.self = append(p.self, l)
	}
	return p, nil
}

// rule is what one target host may resolve to.
type rule struct {
	any    bool // named in the allowance: any address
	public bool
	nets   []netip.Prefix
}

// ruleFor is host's rule (port is the one the target uses), or a
// refusal when the allowance does not admit the host at all.
func (p *policy) ruleFor(host string, port uint16) (*rule, error) {
	h := strings.ToLower(strings.Trim(host, "[]"))
	if strings.HasPrefix(host, "/") {
		h = host
	}
	hp := net.JoinHostPort(h, strconv.Itoa(int(port)))
	for _, a := range p.names {
		if a == h || a == hp || (strings.HasPrefix(a, "*.") && strings.HasSuffix(h, a[1:])) {
			return &rule{any: true}, nil
		}
	}
	if strings.HasPrefix(host, "/") {
		return nil, refused("target: the Unix socket %s needs --export-allow-hosts naming it", host)
	}
	if p.public || len(p.nets) > 0 {
		return &rule{public: p.public, nets: p.nets}, nil
	}
	return nil, refused("target: host %s is not one this server exports to (--export-allow-hosts)", host)
}

// allows checks one address of host.
func (r *rule) allows(host string, a netip.Addr) error {
	a = a.Unmap()
	if r.any {
		return nil
	}
	for _, n := range r.nets {
		if n.Contains(a) {
			return nil
		}
	}
	kind := internalKind(a)
	if r.public && kind == "" {
		return nil
	}
	if kind == "" {
		return refused("target: host %s resolves to %s, outside the networks this server exports to (--export-allow-hosts)", host, a)
	}
	return refused("target: host %s resolves to %s (%s); exports to loopback, private, link-local, shared, unspecified, multicast and reserved addresses need --export-allow-hosts naming the host or its network", host, a, kind)
}

// Ranges beyond netip's predicates that no export reaches unless allowed.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	internalV4 = []struct {
		p    netip.Prefix
		kind string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
		{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
		{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	}
	internalV6 = []struct {
		p    netip.Prefix
		kind string
	}{
		{netip.MustParsePrefix("fec0::/10"), "private"}, // site-local
		{netip.MustParsePrefix("100::/64"), "reserved"},
	}
)

// internalKind names the range an address is in when it is not a public
// unicast address, else "".
func internalKind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.IsPrivate():
		return "private"
	}
	if a.Is4() {
		for _, r := range internalV4 {
			if r.p.Contains(a) {
				return r.kind
			}
		}
		return ""
	}
	for _, r := range internalV6 {
		if r.p.Contains(a) {
			return r.kind
		}
	}
	// IPv6 forms that carry an IPv4 address are judged by it.
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return internalKind(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return internalKind(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return ""
}

// isSelf reports whether a:port is one of the server's own listeners.
func (p *policy) isSelf(a netip.Addr, port uint16) bool {
	a = a.Unmap()
	for _, l := range p.self {
		if l.port != port {
			continue
		}
		switch {
		case a.IsUnspecified(): // dialling 0.0.0.0 reaches this host
			return true
		case l.addr.IsValid() && l.addr.IsLoopback():
			if a.IsLoopback() {
				return true
			}
		case l.addr.IsValid():
			if a == l.addr {
				return true
			}
		default: // every local address
			if a.IsLoopback() || localAddr(a) {
				return true
			}
		}
	}
	return false
}

func localAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// endpoint is a host a target connects to, and its port.
type endpoint struct {
	host string
	port uint16
}

// guard checks and dials the connections of one target: the hosts it may
// name, the addresses they resolved to (approved), and nothing else.
type guard struct {
	p     *policy
	rules map[string]*rule
	port  map[string]uint16 // a host's port, for refusing the server's own listeners at lookup

	mu       sync.Mutex
	approved map[netip.Addr]bool
}

// newGuard admits a target's endpoints by name; a refusal is the first
// host the allowance does not admit.
func newGuard(p *policy, eps []endpoint) (*guard, error) {
	g := &guard{p: p, rules: map[string]*rule{}, port: map[string]uint16{}, approved: map[netip.Addr]bool{}}
	for _, e := range eps {
		r, err := p.ruleFor(e.host, e.port)
		if err != nil {
			return nil, err
		}
		if old, ok := g.rules[e.host]; ok && !old.any {
			r = old // named with two ports: the narrower rule
		}
		g.rules[e.host] = r
		g.port[e.host] = e.port
	}
	return g, nil
}

// check resolves every endpoint and checks its addresses (and that none
// is this server): what defining a job does.
func (g *guard) check(ctx context.Context, eps []endpoint) error {
	for _, e := range eps {
		if strings.HasPrefix(e.host, "/") {
			continue // admitted by name in newGuard
		}
		addrs, err := g.resolve(ctx, e.host)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if g.p.isSelf(a, e.port) {
				return refused("target: %s is this server's own listener", net.JoinHostPort(a.String(), strconv.Itoa(int(e.port))))
			}
		}
	}
	return nil
}

// resolve returns host's addresses once every one of them is allowed,
// and approves them for dialling.
func (g *guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	r := g.rules[host]
	if r == nil {
		return nil, refused("target: host %s is not one of the target's", host)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got, err := g.p.lookup(lctx, host)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		for _, a := range got {
			addrs = append(addrs, a.Unmap())
		}
	}
	for _, a := range addrs {
		if err := r.allows(host, a); err != nil {
			return nil, err // one internal answer refuses the name
		}
	}
	g.mu.Lock()
	for _, a := range addrs {
		g.approved[a.WithZone("")] = true
	}
	g.mu.Unlock()
	return addrs, nil
}

// lookupHost is resolve for pgconn's LookupFunc.
func (g *guard) lookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}

// control runs before each connect with the address dialled: it must be
// one resolve approved, and not this server.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	if network == "unix" {
		if r := g.rules[filepath.Dir(address)]; r != nil && r.any { // dir/.s.PGSQL.port
			return nil
		}
		return refused("target: the Unix socket %s is not allowed (--export-allow-hosts)", address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("target: cannot check the address %s", address)
	}
	a := ap.Addr().Unmap().WithZone("")
	g.mu.Lock()
	ok := g.approved[a]
	g.mu.Unlock()
	if !ok {
		return refused("target: %s was not among the checked addresses of the target", a)
	}
	if g.p.isSelf(a, ap.Port()) {
		return refused("target: %s is this server's own listener", address)
	}
	return nil
}

func (g *guard) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
}

// dialContext resolves and checks host, then dials its approved
// addresses in turn (an http.Transport's DialContext).
func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := g.dialer()
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// targetError is a failure to show in a job's status and the log: our
// refusal, a network error or a PostgreSQL SQLSTATE, never the words of
// the target.
func targetError(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(describe(err))
}

func describe(err error) string {
	var r *refusedError
	var pe *pgconn.PgError
	var dns *net.DNSError
	var op *net.OpError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &r):
		return r.msg
	case errors.As(err, &pe):
		return "PostgreSQL error " + sqlState(pe.Code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "host " + dns.Name + " not found"
		}
		return "cannot resolve host " + dns.Name
	case errors.As(err, &cv), errors.As(err, &rh), errors.As(err, &ua), errors.As(err, &hn):
		return "TLS handshake failed"
	case errors.As(err, &op):
		what := "connection failed"
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			what = "connection refused"
		case errors.Is(err, syscall.ECONNRESET):
			what = "connection reset"
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
			what = "host unreachable"
		case op.Timeout():
			what = "timed out"
		}
		if op.Addr != nil {
			return op.Op + " " + op.Addr.String() + ": " + what
		}
		return op.Op + ": " + what
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the target closed the connection"
	case strings.Contains(err.Error(), "server refused TLS connection"): // pgconn's own words
		return "the server refused TLS"
	}
	return "the target's answer was not understood"
}

// sqlState is a SQLSTATE with its condition's or its class's name.
func sqlState(code string) string {
	if n, ok := sqlStates[code]; ok {
		return code + " (" + n + ")"
	}
	if len(code) == 5 {
		if n, ok := sqlClasses[code[:2]]; ok {
			return code + " (" + n + ")"
		}
	}
	if len(code) > 5 {
		code = code[:5]
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '?'
	}, code)
}

var sqlStates = map[string]string{
	"28P01": "password authentication failed",
	"28000": "login refused",
	"3D000": "database does not exist",
	"42501": "permission denied",
	"42P01": "table does not exist",
	"42703": "column does not exist",
	"23505": "duplicate key",
	"53300": "too many connections",
	"57P01": "server shutting down",
}

var sqlClasses = map[string]string{
	"08": "connection exception", "0A": "feature not supported", "22": "data exception",
	"23": "integrity constraint violation", "25": "invalid transaction state", "28": "invalid authorization",
	"3D": "invalid catalog name", "3F": "invalid schema name", "40": "transaction rollback",
	"42": "syntax error or access rule violation", "53": "insufficient resources", "54": "program limit exceeded",
	"55": "object not in prerequisite state", "57": "operator intervention", "58": "system error", "XX": "internal error",
}

// forbidden is a refusal as a spec error.
func forbidden(err error) error {
	var r *refusedError
	if errors.As(err, &r) {
		return &allsource.Error{Code: allsource.CodeForbidden, Field: "target", Index: -1, Message: r.msg}
	}
	return &allsource.Error{Code: allsource.CodeInvalid, Field: "target", Index: -1, Message: "target: " + describe(err)}
}
