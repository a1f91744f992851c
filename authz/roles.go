// Package authz decides who a request is and what it may do: API keys
// and JWTs become an allsource.Principal (Authenticator), and roles grant
// actions within the principal's tenant (Authorize).
//
// Roles:
//
//	admin         every action in every tenant (its principal's tenant is "*")
//	tenant-admin  every action in its own tenant but managing tenants
//	writer        append
//	reader        query
//	analyst       query, analytics and reading projections
//
// A principal with several roles may do what any of them allows. Nothing
// in this package does I/O but KeyStore, which keeps API keys in a file.
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

// Roles lists the built-in role names, sorted.
func Roles() []string {
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// CheckRoles validates role names and the tenant they are granted in:
// every role must exist, and admin (which spans tenants) goes with the
// tenant "*" and only there.
func CheckRoles(tenant string, names []string) error {
	if err := checkTenantName(tenant); err != nil {
		return err
	}
	if len(names) == 0 {
		return allsource.Errorf(allsource.CodeInvalid, "give at least one role (%s)", strings.Join(Roles(), ", "))
	}
	for _, n := range names {
		if _, _, ok := grants(n); !ok {
			return allsource.Errorf(allsource.CodeInvalid, "unknown role %q (built-in roles: %s; custom roles are in the roles file)", n, strings.Join(Roles(), ", "))
		}
		if (n == RoleAdmin) != (tenant == allsource.AllTenants) {
			return allsource.Errorf(allsource.CodeInvalid, "role admin goes with tenant %q (every tenant), and only it", allsource.AllTenants)
		}
	}
	return nil
}

// Allows reports whether p may do a in tenant.
func Allows(p allsource.Principal, a Action, tenant string) bool {
	if p.Tenant != allsource.AllTenants && p.Tenant != tenant {
		return false
	}
	for _, r := range p.Roles {
		if r == RoleAdmin && p.Tenant != allsource.AllTenants {
			continue // an admin grant outside "*" is malformed: ignore it
		}
		if acts, _, _ := grants(r); slices.Contains(acts, a) {
			return true
		}
	}
	return false
}

// Authorize returns nil when p may do a in tenant, else a forbidden error
// that names the action (and not whether the tenant exists).
func Authorize(p allsource.Principal, a Action, tenant string) error {
	if Allows(p, a, tenant) {
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
