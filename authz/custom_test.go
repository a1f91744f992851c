package authz

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/allsource/allsource"
)

func TestCustomRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "roles.json")
	if err := UseRolesFile(path); err != nil {
		t.Fatal(err)
	}
	defer UseRolesFile("")
	for _, bad := range []struct{ src, want string }{
		{`[{"name": "reader", "actions": ["query"]}]`, "built-in"},
		{`[{"name": "x", "actions": []}]`, "grants no action"},
		{`[{"name": "x", "actions": ["fly"]}]`, "unknown action"},
		{`[{"name": "x", "actions": ["read_audit"]}]`, "administrators only"},
		{`[{"name": "x", "actions": ["query"], "event_types": ["[a"]}]`, "glob"},
		{`[{"name": "x", "actions": ["query"]}, {"name": "x", "actions": ["append"]}]`, "unique"},
	} {
		if err := SetRolesFile(path, []byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v", bad.src, err)
		}
	}
	if err := SetRolesFile(path, []byte(`[
	  {"name": "support", "actions": ["query", "append"], "event_types": ["ticket.*", "user.*"]},
	  {"name": "auditor", "actions": ["query", "analytics"]}]`)); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoles("acme", []string{"support"}); err != nil {
		t.Fatal(err)
	}
	sup := allsource.Principal{Subject: "s", Tenant: "acme", Roles: []string{"support"}}
	if !Allows(sup, ActionQuery, "acme") || Allows(sup, ActionAnalytics, "acme") || Allows(sup, ActionQuery, "beta") {
		t.Fatal("support's actions")
	}
	var ps *Policies
	if err := ps.Authorize(sup, ActionAppend, Resource{Tenant: "acme", EventType: "ticket.opened"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Authorize(sup, ActionAppend, Resource{Tenant: "acme", EventType: "order.placed"}); err == nil {
		t.Fatal("support appends an order")
	}
	if got := strings.Join(ReadableTypes(sup.Roles), ","); got != "ticket.*,user.*" {
		t.Fatalf("readable %q", got)
	}
	if ReadableTypes([]string{"support", RoleReader}) != nil || ReadableTypes([]string{"support", "auditor"}) != nil {
		t.Fatal("an unlimited reading role lifts the limit")
	}
	if !AppendLimited(sup.Roles) || AppendLimited([]string{RoleWriter}) {
		t.Fatal("AppendLimited")
	}
	if r := ps.Restriction(sup, "acme"); len(r.OnlyTypes) != 2 {
		t.Fatalf("restriction %+v", r)
	}
}
