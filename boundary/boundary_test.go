package boundary

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
)

func testGate(t *testing.T, on bool) (*Gate, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, k := range []struct{ name, tenant, role string }{{"acme", "acme", authz.RoleAnalyst}, {"writer", "acme", authz.RoleWriter}, {"admin", "*", authz.RoleAdmin}} {
		key, _, err := ks.Create(k.name, k.tenant, []string{k.role}, 0)
		if err != nil {
			t.Fatal(err)
		}
		keys[k.name] = key
	}
	q, err := authz.OpenQuotas(filepath.Join(dir, "quotas.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Set("acme", authz.Quota{MaxConcurrentQueries: 1, QueryTimeout: "50ms"}); err != nil {
		t.Fatal(err)
	}
	o := Options{Quotas: q, Throttle: authz.NewThrottle(), Policies: authz.NewPolicies(filepath.Join(dir, "policies.json"), nil)}
	if on {
		o.Authn = &authz.Authenticator{Keys: ks}
	}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g, keys
}

func TestLoginThrottlesPerName(t *testing.T) {
	g, keys := testGate(t, true)
	bad := func() (allsource.Principal, error) { return g.Authn().Authenticate("ask_0000000000000000_nope") }
	for i := 0; i < 10; i++ {
		if _, err := g.Login(Attempt{Interface: "http", Remote: "10.0.0.1", Name: "x"}, bad); err == nil {
			t.Fatal("a bad key logged in")
		}
	}
	ok := func() (allsource.Principal, error) { return g.Authn().Authenticate(keys["acme"]) }
	_, err := g.Login(Attempt{Interface: "http", Remote: "10.0.0.1", Name: "x"}, ok)
	if allsource.ErrorCode(err) != allsource.CodeRateLimited {
		t.Fatalf("locked name: %v", err)
	}
	// Another name from the same address, and the same name elsewhere,
	// still log in.
	if _, err := g.Login(Attempt{Interface: "http", Remote: "10.0.0.1", Name: "y"}, ok); err != nil {
		t.Fatalf("another name: %v", err)
	}
	if _, err := g.Login(Attempt{Interface: "http", Remote: "10.0.0.2", Name: "x"}, ok); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Failures that are not about the credential are not counted.
	for i := 0; i < 20; i++ {
		g.Login(Attempt{Remote: "10.0.0.3", Name: "z"}, func() (allsource.Principal, error) {
			return allsource.Principal{}, ErrNotCredential
		})
	}
	if _, err := g.Login(Attempt{Remote: "10.0.0.3", Name: "z"}, ok); err != nil {
		t.Fatalf("after client errors: %v", err)
	}
}

func TestAdmit(t *testing.T) {
	g, keys := testGate(t, true)
	login := func(k string) *allsource.Principal {
		p, err := g.Authn().Authenticate(keys[k])
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	ctx := context.Background()
	for _, tc := range []struct {
		key, tenant string
		action      authz.Action
		wantTenant  string
		ok          bool
	}{
		{"acme", "", authz.ActionQuery, "acme", true},
		{"acme", "acme", authz.ActionQuery, "acme", true},
		{"acme", "beta", authz.ActionQuery, "", false},
		{"acme", "", authz.ActionAppend, "", false},
		{"writer", "", authz.ActionQuery, "", false},
		{"admin", "", authz.ActionQuery, allsource.DefaultTenant, true},
		{"admin", "beta", authz.ActionQuery, "beta", true},
	} {
		s, err := g.Admit(ctx, login(tc.key), Request{Interface: "test", Action: tc.action, Tenant: tc.tenant})
		if (err == nil) != tc.ok {
			t.Errorf("%s %s in %q: %v", tc.key, tc.action, tc.tenant, err)
			continue
		}
		if err != nil {
			continue
		}
		if s.Tenant != tc.wantTenant {
			t.Errorf("%s in %q: tenant %q, want %q", tc.key, tc.tenant, s.Tenant, tc.wantTenant)
		}
		if tc.key == "admin" && tc.tenant != "" {
			if sc, ok := allsource.TenantScope(s.Ctx); !ok || sc != tc.tenant {
				t.Errorf("admin scope: %q %v", sc, ok)
			}
		}
	}
	// Authentication off: no principal, the asked tenant, quotas still on.
	off, _ := testGate(t, false)
	s, err := off.Admit(ctx, nil, Request{Action: authz.ActionQuery, Tenant: "acme"})
	if err != nil || s.Tenant != "acme" {
		t.Fatalf("off: %v %v", s, err)
	}
	q, err := s.StartQuery(s.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartQuery(s.Ctx); allsource.ErrorCode(err) != allsource.CodeRateLimited {
		t.Fatalf("second concurrent query with a limit of 1: %v", err)
	}
	select {
	case <-q.Ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the tenant's timeout was not applied")
	}
	q.Done()
	if q2, err := s.StartQuery(s.Ctx); err != nil {
		t.Fatalf("after done: %v", err)
	} else {
		q2.Done()
	}
}

func TestAdmitAppend(t *testing.T) {
	g, keys := testGate(t, true)
	if err := g.Policies().Set([]byte(`[{"name": "no-internal", "when": "action == 'append' && resource.event_type.startsWith('internal.')", "effect": "deny"}]`)); err != nil {
		t.Fatal(err)
	}
	p, _ := g.Authn().Authenticate(keys["writer"])
	ctx := allsource.WithPrincipal(context.Background(), p)
	types := []string{"a", "internal.x"}
	err := g.AdmitAppend(ctx, "acme", func(i int) string { return types[i] }, 2, 10, nil)
	var e *allsource.Error
	if !errors.As(err, &e) || e.Index != 1 || e.Field != "event_type" || !strings.Contains(e.Message, "no-internal") {
		t.Fatalf("denied type: %v", err)
	}
	if err := g.AdmitAppend(ctx, "acme", func(i int) string { return "a" }, 2, 10, func() int64 { return 0 }); err != nil {
		t.Fatal(err)
	}
}
