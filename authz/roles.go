// Package authz decides who a request is and what it may do: API keys,
// JWTs and passwords become an allsource.Principal (Authenticator), roles
// grant actions within the principal's tenant (Roles.Authorize), and
// policies refine that (Policies.Authorize).
//
// Built-in roles:
//
//	admin         every action in every tenant (its principal's tenant is "*")
//	tenant-admin  every action in its own tenant but managing tenants
//	writer        append
//	reader        query
//	analyst       query, analytics and reading projections
//
// A deployment may define custom roles in its roles file. They are a
// value, Roles, that a server opens and hands to whatever consults roles:
// its Policies, KeyStore, UserStore and JWTConfig. A nil *Roles is the
// built-in roles alone, so two servers in one process, or a server and a
// test, never see each other's roles; the package keeps no mutable state
// of its own.
//
// A principal with several roles may do what any of them allows. The
// stores (keys, users, quotas, policies, roles) are files in
// DATA_DIR/auth, written whole and re-read when they change; the rest of
// the package does no I/O.
package authz

import (
	"slices"
	"strings"

	"github.com/allsource/allsource"
)

// Action is something a principal may be allowed to do.
type Action string

const (
	ActionAppend            Action = "append"             // write events
	ActionQuery             Action = "query"              // SQL, EventQL, entity streams
	ActionAnalytics         Action = "analytics"          // funnels, retention, series …
	ActionReadProjections   Action = "read_projections"   // read projections, subscribe
	ActionManageProjections Action = "manage_projections" // create and drop projections
	ActionExport            Action = "export"             // scheduled exports
	ActionManageKeys        Action = "manage_keys"        // API keys and users of a tenant
	ActionManageTenants     Action = "manage_tenants"     // tenants themselves
	ActionReadAudit         Action = "read_audit"         // the audit log
)

// Actions lists every action.
var Actions = []Action{ActionAppend, ActionQuery, ActionAnalytics, ActionReadProjections,
	ActionManageProjections, ActionExport, ActionManageKeys, ActionManageTenants, ActionReadAudit}

// Role names.
const (
	RoleAdmin       = "admin"
	RoleTenantAdmin = "tenant-admin"
	RoleWriter      = "writer"
	RoleReader      = "reader"
	RoleAnalyst     = "analyst"
)

// roles are the built-in roles' grants.
var roles = map[string][]Action{
	RoleAdmin: Actions,
	RoleTenantAdmin: {ActionAppend, ActionQuery, ActionAnalytics, ActionReadProjections,
		ActionManageProjections, ActionExport, ActionManageKeys, ActionReadAudit},
	RoleWriter:  {ActionAppend},
	RoleReader:  {ActionQuery, ActionReadProjections},
	RoleAnalyst: {ActionQuery, ActionAnalytics, ActionReadProjections},
}

// BuiltinRoles lists the built-in role names, sorted.
func BuiltinRoles() []string {
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Check validates role names and the tenant they are granted in: every
// role must be built in or one of r's custom roles, and admin (which
// spans tenants) goes with the tenant "*" and only there.
func (r *Roles) Check(tenant string, names []string) error {
	custom := r.current()
	return checkGrant(tenant, names, func(n string) bool {
		_, _, ok := lookup(custom, n)
		return ok
	})
}

// checkGrant validates tenant and names, with known saying which names
// are roles (nil: any well-formed name).
func checkGrant(tenant string, names []string, known func(string) bool) error {
	if err := checkTenantName(tenant); err != nil {
		return err
	}
	if len(names) == 0 {
		return allsource.Errorf(allsource.CodeInvalid, "give at least one role (%s)", strings.Join(BuiltinRoles(), ", "))
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, ", ") || known != nil && !known(n) {
			return allsource.Errorf(allsource.CodeInvalid, "unknown role %q (built-in roles: %s; custom roles are in the roles file)", n, strings.Join(BuiltinRoles(), ", "))
		}
		if (n == RoleAdmin) != (tenant == allsource.AllTenants) {
			return allsource.Errorf(allsource.CodeInvalid, "role admin goes with tenant %q (every tenant), and only it", allsource.AllTenants)
		}
	}
	return nil
}

// Allows reports whether p may do a in tenant by its roles.
func (r *Roles) Allows(p allsource.Principal, a Action, tenant string) bool {
	if p.Tenant != allsource.AllTenants && p.Tenant != tenant {
		return false
	}
	var custom map[string]CustomRole
	looked := false // built-in roles are decided without r's lock
	for _, n := range p.Roles {
		if n == RoleAdmin && p.Tenant != allsource.AllTenants {
			continue // an admin grant outside "*" is malformed: ignore it
		}
		acts, ok := roles[n]
		if !ok {
			if !looked {
				custom, looked = r.current(), true
			}
			acts, _, _ = lookup(custom, n)
		}
		if slices.Contains(acts, a) {
			return true
		}
	}
	return false
}

// Authorize returns nil when p's roles allow a in tenant, else a
// forbidden error that names the action (and not whether the tenant
// exists).
func (r *Roles) Authorize(p allsource.Principal, a Action, tenant string) error {
	if r.Allows(p, a, tenant) {
		return nil
	}
	if p.Tenant != allsource.AllTenants && p.Tenant != tenant {
		return allsource.Errorf(allsource.CodeForbidden, "%s is not allowed outside your tenant %q", a, p.Tenant)
	}
	return allsource.Errorf(allsource.CodeForbidden, "%s is not allowed for role %s", a, strings.Join(p.Roles, ", "))
}

// checkTenantName allows "*" and the names ingest accepts: 1–64 of
// [A-Za-z0-9_-], not starting with '_' (the server's own tenants).
func checkTenantName(t string) error {
	if t == allsource.AllTenants {
		return nil
	}
	if t == "" || len(t) > allsource.MaxTenantBytes || t[0] == '_' {
		return allsource.Errorf(allsource.CodeInvalid, "tenant %q: want 1 to %d letters, digits, '_' or '-', not starting with '_'", t, allsource.MaxTenantBytes)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return allsource.Errorf(allsource.CodeInvalid, "tenant %q: want letters, digits, '_' or '-'", t)
		}
	}
	return nil
}
