package allsource

import "context"

// AllTenants is the tenant of a principal that acts in every tenant (the
// admin role).
const AllTenants = "*"

// Principal is who a request acts as: an authenticated subject, the tenant
// it acts in (AllTenants for an administrator) and its roles.
type Principal struct {
	Subject string   // a user name, an API key's id or a token's sub
	Tenant  string   // the tenant it acts in, or AllTenants
	Roles   []string // role names (see package authz)
	Via     string   // how it authenticated: api_key, jwt, password, trust
}

type principalKey struct{}
type tenantScopeKey struct{}

// WithPrincipal returns ctx carrying p; it also scopes ctx to p's tenant
// (see WithTenantScope): for an administrator, AllTenants.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	if p.Tenant != "" {
		ctx = WithTenantScope(ctx, p.Tenant)
	}
	return ctx
}

// PrincipalFrom returns the principal ctx carries.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithTenantScope returns ctx whose queries see only tenant's events: the
// warehouse binds the events view of every statement run under it to that
// tenant. AllTenants means every tenant but the server's own (names
// starting with '_', such as the audit log), which a context without a
// scope — the server's internal work — sees too.
func WithTenantScope(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantScopeKey{}, tenant)
}

// TenantScope returns the tenant ctx is scoped to; ok is false for an
// unscoped context, which sees every tenant.
func TenantScope(ctx context.Context) (tenant string, ok bool) {
	tenant, ok = ctx.Value(tenantScopeKey{}).(string)
	return tenant, ok
}

// ReadRestriction is what a reader may not see: events whose type matches
// one of HiddenTypes (glob patterns such as "pii.*"), and the payload
// fields HiddenFields ("payload.email"). The warehouse applies it in the
// events view of every statement run under the context.
type ReadRestriction struct {
	OnlyTypes    []string // when set, only event types matching one of these are seen
	HiddenTypes  []string
	HiddenFields []string
}

type restrictionKey struct{}

// WithReadRestriction returns ctx whose reads are restricted by r.
func WithReadRestriction(ctx context.Context, r ReadRestriction) context.Context {
	if len(r.OnlyTypes) == 0 && len(r.HiddenTypes) == 0 && len(r.HiddenFields) == 0 {
		return ctx
	}
	return context.WithValue(ctx, restrictionKey{}, r)
}

// ReadRestrictionFrom returns ctx's restriction (none: the zero value).
func ReadRestrictionFrom(ctx context.Context) ReadRestriction {
	r, _ := ctx.Value(restrictionKey{}).(ReadRestriction)
	return r
}

// Reserved reports whether a tenant name is the server's own ('_…').
func Reserved(tenant string) bool { return len(tenant) > 0 && tenant[0] == '_' }
