package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func TestPolicyCompileErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`[{"name": "a", "when": "action ==", "effect": "deny"}]`, `policy 1 ("a"): when:`},
		{`[{"name": "a", "when": "action", "effect": "deny"}]`, "must be true or false"},
		{`[{"name": "a", "when": "nope == 1", "effect": "deny"}]`, "undeclared reference"},
		{`[{"name": "a", "when": "true", "effect": "maybe"}]`, `effect "maybe"`},
		{`[{"name": "a", "when": "true", "effect": "hide"}]`, "needs event_types or fields"},
		{`[{"name": "a", "when": "true", "effect": "hide", "event_types": ["[x"]}]`, "not a valid glob"},
		{`[{"name": "a", "when": "true", "effect": "hide", "fields": ["email"]}]`, "under payload"},
		{`[{"name": "a", "when": "true", "effect": "deny", "fields": ["payload.x"]}]`, "go with effect hide"},
		{`[{"name": "a", "when": "true", "effect": "deny"}, {"name": "a", "when": "true", "effect": "deny"}]`, "unique name"},
		{`[{"name": "a", "when": "true", "effect": "deny", "extra": 1}]`, "unknown field"},
		{`{}`, "cannot unmarshal"},
	} {
		if err := CheckPolicies([]byte(c.src)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.src, err, c.want)
		}
	}
}

func TestPolicies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "policies.json")
	ps, err := OpenPolicies(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ana := allsource.Principal{Subject: "ana", Tenant: "acme", Roles: []string{RoleAnalyst}}
	rita := allsource.Principal{Subject: "rita", Tenant: "acme", Roles: []string{RoleReader}}
	wes := allsource.Principal{Subject: "wes", Tenant: "acme", Roles: []string{RoleWriter}}
	if err := ps.Authorize(ana, ActionAnalytics, Resource{Tenant: "acme"}); err != nil || ps.Has() {
		t.Fatalf("no policies: %v", err)
	}
	err = ps.Set([]byte(`[
	  {"name": "no-pii-for-analysts", "when": "'analyst' in principal.roles", "effect": "hide",
	   "event_types": ["pii.*"], "fields": ["payload.email", "payload.card.number"]},
	  {"name": "readers-chart", "when": "'reader' in principal.roles && action == 'analytics'", "effect": "allow"},
	  {"name": "no-internal-writes", "when": "action == 'append' && resource.event_type.startsWith('internal.')", "effect": "deny"},
	  {"name": "freeze-beta", "when": "principal.tenant == 'beta' && action != 'query'", "effect": "deny"},
	  {"name": "broken-at-run-time", "when": "principal.missing == 'x'", "effect": "allow"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    allsource.Principal
		a    Action
		r    Resource
		ok   bool
	}{
		{"allow grants analytics to a reader", rita, ActionAnalytics, Resource{Tenant: "acme"}, true},
		{"but not in another tenant", rita, ActionAnalytics, Resource{Tenant: "beta"}, false},
		{"allow does not grant append", rita, ActionAppend, Resource{Tenant: "acme", EventType: "x"}, false},
		{"a writer appends", wes, ActionAppend, Resource{Tenant: "acme", EventType: "order.placed"}, true},
		{"deny beats the role", wes, ActionAppend, Resource{Tenant: "acme", EventType: "internal.sync"}, false},
		{"request-level append: roles", wes, ActionAppend, Resource{Tenant: "acme"}, true},
		{"deny by tenant", allsource.Principal{Subject: "b", Tenant: "beta", Roles: []string{RoleWriter}}, ActionAppend, Resource{Tenant: "beta", EventType: "x"}, false},
		{"a run-time error never allows", wes, ActionQuery, Resource{Tenant: "acme"}, false},
	} {
		err := ps.Authorize(c.p, c.a, c.r)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && allsource.ErrorCode(err) != allsource.CodeForbidden {
			t.Errorf("%s: code %v", c.name, err)
		}
	}
	if err := ps.Authorize(wes, ActionAppend, Resource{Tenant: "acme", EventType: "internal.sync"}); !strings.Contains(err.Error(), "no-internal-writes") {
		t.Errorf("denial names the policy: %v", err)
	}
	types, fields := ps.Hidden(ana, "acme")
	if strings.Join(types, ",") != "pii.*" || strings.Join(fields, ",") != "payload.card.number,payload.email" {
		t.Errorf("hidden for ana: %v %v", types, fields)
	}
	if types, fields := ps.Hidden(rita, "acme"); len(types)+len(fields) != 0 {
		t.Errorf("hidden for rita: %v %v", types, fields)
	}
	// A broken file keeps the policies in force and says why.
	ps.now = func() time.Time { return time.Now().Add(time.Hour) }
	os.WriteFile(path, []byte(`[{"name": "x", "when": "(", "effect": "deny"}]`), 0o600)
	if ps.Has(); ps.Err() == nil || len(ps.List()) != 5 {
		t.Fatalf("broken file: %v %d", ps.Err(), len(ps.List()))
	}
	var nilPS *Policies
	if err := nilPS.Authorize(ana, ActionAnalytics, Resource{Tenant: "acme"}); err != nil || nilPS.Has() {
		t.Fatal("nil policies")
	}
}

func FuzzCheckPolicies(f *testing.F) {
	f.Add(`[{"name": "a", "when": "'analyst' in principal.roles && action == 'query'", "effect": "hide", "event_types": ["pii.*"]}]`)
	f.Add(`[{"name": "b", "when": "resource.event_type.matches('^x') || size(principal.roles) > 2", "effect": "deny"}]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = CheckPolicies([]byte(s)) // must not panic or hang
	})
}
