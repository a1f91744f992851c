package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func TestCustomRoles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth", "roles.json")
	r, err := OpenRoles(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ src, want string }{
		{`[{"name": "reader", "actions": ["query"]}]`, "built-in"},
		{`[{"name": "x", "actions": []}]`, "grants no action"},
		{`[{"name": "x", "actions": ["fly"]}]`, "unknown action"},
		{`[{"name": "x", "actions": ["read_audit"]}]`, "administrators only"},
		{`[{"name": "x", "actions": ["query"], "event_types": ["[a"]}]`, "glob"},
		{`[{"name": "x", "actions": ["query"]}, {"name": "x", "actions": ["append"]}]`, "unique"},
	} {
		if err := r.Set([]byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v", bad.src, err)
		}
	}
	if err := r.Set([]byte(`[
	  {"name": "support", "actions": ["query", "append"], "event_types": ["ticket.*", "user.*"]},
	  {"name": "auditor", "actions": ["query", "analytics"]}]`)); err != nil {
		t.Fatal(err)
	}
	if got := r.List(); len(got) != 2 || got[0].Name != "auditor" || got[1].Name != "support" {
		t.Fatalf("list %+v", got)
	}
	if err := r.Check("acme", []string{"support"}); err != nil {
		t.Fatal(err)
	}
	sup := allsource.Principal{Subject: "s", Tenant: "acme", Roles: []string{"support"}}
	if !r.Allows(sup, ActionQuery, "acme") || r.Allows(sup, ActionAnalytics, "acme") || r.Allows(sup, ActionQuery, "beta") {
		t.Fatal("support's actions")
	}
	ps := NewPolicies(filepath.Join(dir, "auth", "policies.json"), r) // no policies: the roles alone
	if err := ps.Authorize(sup, ActionAppend, Resource{Tenant: "acme", EventType: "ticket.opened"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Authorize(sup, ActionAppend, Resource{Tenant: "acme", EventType: "order.placed"}); err == nil {
		t.Fatal("support appends an order")
	}
	if got := strings.Join(r.ReadableTypes(sup.Roles), ","); got != "ticket.*,user.*" {
		t.Fatalf("readable %q", got)
	}
	if r.ReadableTypes([]string{"support", RoleReader}) != nil || r.ReadableTypes([]string{"support", "auditor"}) != nil {
		t.Fatal("an unlimited reading role lifts the limit")
	}
	if !r.AppendLimited(sup.Roles) || r.AppendLimited([]string{RoleWriter}) {
		t.Fatal("AppendLimited")
	}
	if res := ps.Restriction(sup, "acme"); len(res.OnlyTypes) != 2 {
		t.Fatalf("restriction %+v", res)
	}
}

// TestRolesReload: a Roles value follows its file: a change is read on
// the next look, a broken file keeps the roles in force (and Err says
// why), a removed file leaves the built-in roles.
func TestRolesReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roles.json")
	if err := os.WriteFile(path, []byte(`[{"name": "support", "actions": ["query"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRoles(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r.now = func() time.Time { return clock }
	sup := allsource.Principal{Subject: "s", Tenant: "acme", Roles: []string{"support"}}
	if !r.Allows(sup, ActionQuery, "acme") || r.Allows(sup, ActionAppend, "acme") {
		t.Fatal("as opened")
	}
	// Changed by someone else (the CLI): seen once reloadEvery has passed.
	if err := os.WriteFile(path, []byte(`[{"name": "support", "actions": ["append", "query"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * reloadEvery)
	if !r.Allows(sup, ActionAppend, "acme") {
		t.Fatal("the change is not seen")
	}
	if err := os.WriteFile(path, []byte(`[{"name": "support", "actions": ["fly"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * reloadEvery)
	if !r.Allows(sup, ActionAppend, "acme") || r.Err() == nil || !strings.Contains(r.Err().Error(), "unknown action") {
		t.Fatalf("a broken file: %v", r.Err())
	}
	if _, err := OpenRoles(path); err == nil {
		t.Fatal("a broken file opens")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * reloadEvery)
	if r.Allows(sup, ActionQuery, "acme") || r.Err() != nil || len(r.List()) != 0 {
		t.Fatalf("a removed file: %v %v", r.Err(), r.List())
	}
	// NewRoles replaces a broken file.
	os.WriteFile(path, []byte(`not json`), 0o600)
	nr := NewRoles(path)
	if err := nr.Set([]byte(`[{"name": "support", "actions": ["query"]}]`)); err != nil || !nr.Allows(sup, ActionQuery, "acme") {
		t.Fatalf("replace a broken file: %v", err)
	}
}

// TestRolesAreValues: two Roles from two files answer each by its own
// file in the same process, and so do the policies, stores and token
// verifiers given one or the other; a nil *Roles knows the built-in roles
// alone.
func TestRolesAreValues(t *testing.T) {
	dir := t.TempDir()
	open := func(name, src string) *Roles {
		t.Helper()
		path := filepath.Join(dir, name, "roles.json")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := OpenRoles(path)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	one := open("one", `[{"name": "support", "actions": ["query"], "event_types": ["ticket.*"]}]`)
	two := open("two", `[{"name": "support", "actions": ["append"]}, {"name": "auditor", "actions": ["analytics"]}]`)
	var none *Roles

	sup := allsource.Principal{Subject: "s", Tenant: "acme", Roles: []string{"support"}}
	aud := allsource.Principal{Subject: "a", Tenant: "acme", Roles: []string{"auditor"}}
	wri := allsource.Principal{Subject: "w", Tenant: "acme", Roles: []string{RoleWriter}}
	for _, c := range []struct {
		name string
		r    *Roles
		p    allsource.Principal
		a    Action
		want bool
	}{
		{"one: support queries", one, sup, ActionQuery, true},
		{"one: support appends", one, sup, ActionAppend, false},
		{"one: auditor", one, aud, ActionAnalytics, false},
		{"two: support queries", two, sup, ActionQuery, false},
		{"two: support appends", two, sup, ActionAppend, true},
		{"two: auditor", two, aud, ActionAnalytics, true},
		{"nil: support", none, sup, ActionQuery, false},
		{"nil: auditor", none, aud, ActionAnalytics, false},
		{"nil: writer", none, wri, ActionAppend, true},
		{"one: writer", one, wri, ActionAppend, true},
	} {
		if got := c.r.Allows(c.p, c.a, "acme"); got != c.want {
			t.Errorf("%s: Allows %v, want %v", c.name, got, c.want)
		}
		ps := NewPolicies(filepath.Join(dir, "policies.json"), c.r)
		if err := ps.Authorize(c.p, c.a, Resource{Tenant: "acme"}); (err == nil) != c.want {
			t.Errorf("%s: Policies.Authorize %v", c.name, err)
		}
	}
	if got := one.ReadableTypes(sup.Roles); len(got) != 1 || got[0] != "ticket.*" {
		t.Errorf("one: readable %v", got)
	}
	if two.ReadableTypes(sup.Roles) != nil || none.ReadableTypes(sup.Roles) != nil {
		t.Error("two, nil: reads are not limited")
	}
	if one.AppendLimited(sup.Roles) || two.AppendLimited(sup.Roles) || none.AppendLimited(sup.Roles) {
		t.Error("no support role is limited in its appends")
	}
	if len(one.List()) != 1 || len(two.List()) != 2 || len(none.List()) != 0 || none.Err() != nil {
		t.Error("List")
	}
	if err := none.Set([]byte(`[]`)); err == nil {
		t.Error("a nil Roles has no file to set")
	}
	var nilPS *Policies
	if nilPS.Roles() != nil || nilPS.Authorize(sup, ActionQuery, Resource{Tenant: "acme"}) == nil {
		t.Error("a nil Policies has the built-in roles alone")
	}
	if r := nilPS.Restriction(sup, "acme"); r.OnlyTypes != nil {
		t.Errorf("nil policies restrict %+v", r)
	}

	// Role names are checked against the set in use.
	if err := one.Check("acme", []string{"auditor"}); err == nil {
		t.Error("one knows auditor")
	}
	if err := two.Check("acme", []string{"auditor", RoleReader}); err != nil {
		t.Error(err)
	}
	if err := none.Check("acme", []string{"support"}); err == nil {
		t.Error("nil knows support")
	}
	ks, err := OpenKeyStore(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create("k", "acme", []string{"auditor"}, 0); allsource.ErrorCode(err) != allsource.CodeInvalid {
		t.Errorf("a key store without roles makes an auditor key: %v", err)
	}
	ks.SetRoles(two)
	if _, _, err := ks.Create("k", "acme", []string{"auditor"}, 0); err != nil {
		t.Error(err)
	}
	us, err := OpenUserStore(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	us.SetRoles(one)
	if err := us.SetUser("ann@acme", "acme", []string{"auditor"}, "a long enough password"); err == nil {
		t.Error("a user store with one makes an auditor")
	}
	if err := us.SetUser("ann@acme", "acme", []string{"support"}, "a long enough password"); err != nil {
		t.Error(err)
	}

	// Tokens: the verifier decides with its roles.
	secret := []byte(strings.Repeat("k", 32))
	tok, err := IssueHS256(secret, "u", "acme", []string{"auditor"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := IssueHS256(secret, "u", "acme", []string{"a,b"}, time.Hour, time.Now()); err == nil {
		t.Error("a malformed role name is signed")
	}
	for _, c := range []struct {
		r    *Roles
		want bool
	}{{one, false}, {two, true}, {none, false}} {
		v, err := NewJWTVerifier(JWTConfig{HS256Secret: secret, Roles: c.r})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); (err == nil) != c.want {
			t.Errorf("an auditor token with %v: %v", c.r.List(), err)
		}
	}
}
