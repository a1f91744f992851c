// Package boundary is the one enforcement path between the server's front
// ends and what they reach. Every operation of every front end (HTTP
// requests, Postgres sessions and their statements, and the front ends
// still to come) passes through a Gate, in this order:
//
//	Login      throttle (per login name and address) → verify → throttle
//	           update → audit (failures always, a credential's use hourly)
//	Admit      tenant (the requested one, or the principal's) → authorize
//	           the action there (roles and policies; denials audited) →
//	           scope: a context carrying the principal, its tenant scope
//	           and its read restriction
//	Query      the tenant's concurrent-query quota, its timeout and its
//	           result-size limit, for each statement or request
//	Append     per-event append policies, the storage quota, the ingest
//	           rates (the tenant of every event is ingest's own check)
//	Record     the audit log
//
// Front ends only translate: they take credentials and requests off their
// protocol, call the Gate, and turn its errors into their protocol's.
// Below the Gate, the warehouse applies the statement guard (sqlguard) and
// the tenant's view to whatever SQL a front end runs, and ingest checks
// the tenant of every appended event.
//
// Authentication off is the same path with no principal: nothing is
// verified or authorized (the server then listens on loopback only), and
// quotas and the audit log still apply.
package boundary

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
)

// Options configures a Gate.
type Options struct {
	// Authn verifies credentials. Nil turns authentication off.
	Authn *authz.Authenticator
	// Throttle refuses logins after repeated failures; nil: none.
	Throttle *authz.Throttle
	// Quotas bound each tenant's queries and ingest (required; the quotas
	// of a data directory without a quotas file are no limits).
	Quotas *authz.Quotas
	// Policies refine what principals may do and see; nil: roles only.
	Policies *authz.Policies
}

// Gate is the enforcement path. Its methods are safe for concurrent use.
type Gate struct {
	o        Options
	audit    atomic.Pointer[authz.Auditor]
	authn    atomic.Pointer[authz.Authenticator] // nil: authentication off
	policies atomic.Pointer[authz.Policies]
	probe    atomic.Pointer[func() bool]

	mu   sync.Mutex
	seen map[[32]byte]time.Time // credentials whose use was recorded, and when
}

// New returns a Gate.
func New(o Options) (*Gate, error) {
	if o.Quotas == nil {
		return nil, errors.New("boundary: Quotas is required")
	}
	g := &Gate{o: o}
	g.policies.Store(o.Policies)
	g.authn.Store(o.Authn)
	return g, nil
}

// TurnOn turns authentication on in a running Gate (the first credential
// of a server that started without one): from the next login on, both
// front ends ask for a credential.
func (g *Gate) TurnOn(authn *authz.Authenticator, policies *authz.Policies) {
	g.policies.Store(policies)
	g.authn.Store(authn)
}

// SetProbe gives a Gate without authentication a check that turns it on
// (by calling TurnOn) when a credential has appeared; On asks it, so the
// first login after a credential is created, on either front end, already
// needs one. nil stops asking.
func (g *Gate) SetProbe(probe func() bool) {
	if probe == nil {
		g.probe.Store(nil)
		return
	}
	g.probe.Store(&probe)
}

// On reports whether authentication is on.
func (g *Gate) On() bool {
	if g.authn.Load() != nil {
		return true
	}
	if p := g.probe.Load(); p != nil && (*p)() {
		return g.authn.Load() != nil
	}
	return false
}

// Authn is the authenticator (nil when authentication is off).
func (g *Gate) Authn() *authz.Authenticator { return g.authn.Load() }

// Policies are the Gate's (nil: roles only).
func (g *Gate) Policies() *authz.Policies { return g.policies.Load() }

// SetAuditor starts recording to a (set once the store is open).
func (g *Gate) SetAuditor(a *authz.Auditor) { g.audit.Store(a) }

// Auditor is the audit log, or nil.
func (g *Gate) Auditor() *authz.Auditor { return g.audit.Load() }

// Record appends r to the audit log, if there is one.
func (g *Gate) Record(r authz.AuditRecord) {
	if a := g.audit.Load(); a != nil {
		a.Record(r)
	}
}

// Attempt is one login: who claims to log in, from where, over what.
type Attempt struct {
	Interface string // "http", "pgwire"
	Remote    string // the client's address, without port
	// Name is the login name the throttle counts: the user name of a
	// password login, authz.CredentialName of a bearer credential.
	Name string
	// Credential identifies the credential for the hourly login record
	// (a key, a token, "basic:<user>"); it is hashed, never kept.
	Credential string
	Target     string // what was asked (a route), for the records
}

// Login verifies an attempt: the throttle first (a locked name or
// address is refused without looking at the credential), then verify,
// which the front end supplies (a bearer check, a SCRAM exchange), then
// the throttle's count and the audit log. Errors from verify are returned
// as they are.
func (g *Gate) Login(at Attempt, verify func() (allsource.Principal, error)) (allsource.Principal, error) {
	if err := g.o.Throttle.Check(at.Name, at.Remote); err != nil {
		g.Record(authz.AuditRecord{Kind: "login_failed", Interface: at.Interface, Subject: at.Name, Remote: at.Remote, Target: at.Target, Reason: errorText(err)})
		return allsource.Principal{}, err
	}
	p, err := verify()
	if err != nil {
		if countsAsFailure(err) {
			g.o.Throttle.Failed(at.Name, at.Remote)
		}
		if countsAsFailure(err) {
			g.Record(authz.AuditRecord{Kind: "login_failed", Interface: at.Interface, Subject: at.Name, Remote: at.Remote, Target: at.Target, Reason: errorText(err)})
		}
		return allsource.Principal{}, err
	}
	g.o.Throttle.Succeeded(at.Name, at.Remote)
	if g.firstUse(at.Credential) {
		g.Record(authz.AuditRecord{Kind: "login", Interface: at.Interface, Subject: p.Subject, Via: p.Via, Remote: at.Remote, Tenant: p.Tenant, Target: at.Target})
	}
	return p, nil
}

// ErrNotCredential marks a verify failure that is not a wrong credential
// (the client went away, a protocol error): it is not counted by the
// throttle.
var ErrNotCredential = errors.New("boundary: not a credential failure")

func countsAsFailure(err error) bool { return !errors.Is(err, ErrNotCredential) }

// loginEvery is how often a credential's use is recorded again.
const loginEvery = time.Hour

// firstUse reports whether cred's use should be recorded: the first time
// this process sees it, then once per loginEvery.
func (g *Gate) firstUse(cred string) bool {
	if g.audit.Load() == nil || cred == "" {
		return false
	}
	k := sha256.Sum256([]byte(cred))
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.seen[k]; ok && now.Sub(t) < loginEvery {
		return false
	}
	if g.seen == nil || len(g.seen) >= 100_000 {
		g.seen = map[[32]byte]time.Time{}
	}
	g.seen[k] = now
	return true
}

// Request is one operation a front end admits.
type Request struct {
	Interface string
	Remote    string
	Action    authz.Action
	// Tenant is the tenant asked for; "" means the principal's own (the
	// default tenant for an administrator of every tenant, or with
	// authentication off).
	Tenant string
	Target string // a route or statement kind, for the records
	// DefaultTenant is the tenant when Tenant is "" and the principal
	// has none of its own (an administrator of every tenant, or no
	// principal); "" means allsource.DefaultTenant.
	DefaultTenant string
	// ServerWide marks an operation about the whole server (metrics,
	// status): it needs ActionManageTenants over every tenant, whatever
	// Action and Tenant say, and gets no tenant scope.
	ServerWide bool
}

// Scope is an admitted operation: the context to run it in and the
// tenant it is about.
type Scope struct {
	Ctx       context.Context
	Tenant    string
	Principal *allsource.Principal // nil with authentication off
	// Record is the audit record of this operation so far (subject,
	// tenant, action, target); front ends complete and record it.
	Record authz.AuditRecord
	gate   *Gate
}

// Admit decides whether p (nil with authentication off) may do r, and
// returns the scope to do it in. A refusal is recorded.
//
// An empty Action admits a session rather than an operation: nothing is
// authorized yet, and each of its operations is checked with
// Scope.Authorize.
func (g *Gate) Admit(ctx context.Context, p *allsource.Principal, r Request) (*Scope, error) {
	if r.ServerWide {
		r.Action, r.Tenant = authz.ActionManageTenants, allsource.AllTenants
	}
	tenant := r.Tenant
	if tenant == "" {
		tenant = r.DefaultTenant
		if tenant == "" {
			tenant = allsource.DefaultTenant
		}
		if p != nil && p.Tenant != allsource.AllTenants {
			tenant = p.Tenant
		}
	}
	s := &Scope{Tenant: tenant, Principal: p, gate: g,
		Record: authz.AuditRecord{Interface: r.Interface, Remote: r.Remote, Tenant: tenant, Action: string(r.Action), Target: r.Target}}
	if p == nil {
		s.Ctx = ctx
		return s, nil
	}
	s.Record.Subject, s.Record.Via = p.Subject, p.Via
	if r.Action != "" {
		if err := g.Policies().Authorize(*p, r.Action, authz.Resource{Tenant: tenant}); err != nil {
			rec := s.Record
			rec.Kind, rec.Reason = "denied", errorText(err)
			g.Record(rec)
			return nil, err
		}
	}
	ctx = allsource.WithPrincipal(ctx, *p)
	if p.Tenant == allsource.AllTenants && r.Tenant != "" && !r.ServerWide {
		ctx = allsource.WithTenantScope(ctx, tenant) // an administrator looking at one tenant
	}
	s.Ctx = allsource.WithReadRestriction(ctx, g.Policies().Restriction(*p, tenant))
	return s, nil
}

// Authorize checks one more action in the scope's tenant (a statement of
// another kind in an admitted session). A refusal is recorded.
func (s *Scope) Authorize(a authz.Action) error {
	if s.Principal == nil {
		return nil
	}
	if err := s.gate.Policies().Authorize(*s.Principal, a, authz.Resource{Tenant: s.Tenant}); err != nil {
		rec := s.Record
		rec.Kind, rec.Action, rec.Reason = "denied", string(a), errorText(err)
		s.gate.Record(rec)
		return err
	}
	return nil
}

// Authorize checks that ctx's principal (none: authentication off) may do
// a in tenant; a refusal is recorded. For checks deep in an operation
// (an analytics table inside a statement) that hold only its context.
func (g *Gate) Authorize(ctx context.Context, a authz.Action, tenant string) error {
	p, ok := allsource.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	if err := g.Policies().Authorize(p, a, authz.Resource{Tenant: tenant}); err != nil {
		g.Record(authz.AuditRecord{Kind: "denied", Subject: p.Subject, Via: p.Via, Tenant: tenant, Action: string(a), Reason: errorText(err)})
		return err
	}
	return nil
}

// TakeSlot takes one of the tenant's concurrent query slots, for front
// ends that apply the timeout themselves (Timeout); done releases it.
func (s *Scope) TakeSlot() (done func(), err error) { return s.gate.o.Quotas.StartQuery(s.Tenant) }

// Query is one admitted query's limits: its context (with the tenant's
// timeout), the most result bytes it may send (0: no limit), and done,
// which the caller must call when the query ends.
type Query struct {
	Ctx            context.Context
	MaxResultBytes int64
	Done           func()
}

// StartQuery takes one of the tenant's concurrent query slots and applies
// its timeout to ctx (which must be the scope's or derived from it).
func (s *Scope) StartQuery(ctx context.Context) (*Query, error) {
	q := s.gate.o.Quotas
	done, err := q.StartQuery(s.Tenant)
	if err != nil {
		return nil, err
	}
	quota := q.For(s.Tenant)
	cancel := func() {}
	if d := quota.Timeout(); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	return &Query{Ctx: ctx, MaxResultBytes: quota.MaxResultBytes, Done: func() { cancel(); done() }}, nil
}

// Timeout is the tenant's query timeout (0: none).
func (s *Scope) Timeout() time.Duration { return s.gate.o.Quotas.For(s.Tenant).Timeout() }

// MaxResultBytes is the tenant's limit on one result (0: none).
func (s *Scope) MaxResultBytes() int64 { return s.gate.o.Quotas.For(s.Tenant).MaxResultBytes }

// AdmitAppend checks a parsed batch of n events and size bytes for
// tenant before it is stored: the policies on appending each event's type
// (eventType(i)), then the tenant's storage quota (stored returns what
// it holds), then its event and byte rates. The principal is ctx's.
func (g *Gate) AdmitAppend(ctx context.Context, tenant string, eventType func(i int) string, n int, size int64, stored func() int64) error {
	if p, ok := allsource.PrincipalFrom(ctx); ok && (g.Policies().Has() || g.Policies().Roles().AppendLimited(p.Roles)) {
		for i := 0; i < n; i++ {
			if err := g.Policies().Authorize(p, authz.ActionAppend, authz.Resource{Tenant: tenant, EventType: eventType(i)}); err != nil {
				var e allsource.Error
				if ae, ok := err.(*allsource.Error); ok {
					e = *ae
				} else {
					e = allsource.Error{Code: allsource.CodeForbidden, Message: err.Error()}
				}
				e.Index, e.Field = i, "event_type"
				return &e
			}
		}
	}
	q := g.o.Quotas
	if stored != nil {
		if err := q.CheckStorage(tenant, stored); err != nil {
			return err
		}
	}
	return q.AdmitIngest(tenant, n, size)
}

// errorText is the user-facing message of err.
func errorText(err error) string {
	var e *allsource.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
