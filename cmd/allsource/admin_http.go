package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/internal/httpx"
)

// The management API: API keys (tenant administrators for their tenant,
// administrators for any) and quotas (administrators).
//
//	GET    /v1/admin/keys            the keys of the caller's tenant (?tenant= for an admin; none: all)
//	POST   /v1/admin/keys            {"name", "tenant", "roles", "ttl"} → the key, shown once
//	DELETE /v1/admin/keys/:id        revoke
//	GET    /v1/admin/quotas          every quota
//	PUT    /v1/admin/quotas/:tenant  a Quota object; {} removes the entry
//	GET    /v1/admin/policies        the policies in force
//	PUT    /v1/admin/policies        a new policies file (checked first)
//	GET    /v1/admin/users           users (of the caller's tenant, or all for an admin)
//	GET    /v1/admin/users/:name     one user
//	PUT    /v1/admin/users/:name     {"tenant", "roles", "password"}: create or replace
//	DELETE /v1/admin/users/:name     delete
//	GET    /v1/admin/roles           the custom roles
//	PUT    /v1/admin/roles           a new custom roles file (checked first)
//
// A tenant administrator's user names are name@tenant in its own tenant
// (see authz.UserStore.TenantUserName): "ann" stands for ann@acme, and
// other tenants' users are 404 like missing ones.
func (a *auth) registerAdmin(r gin.IRouter) {
	r.GET("/v1/admin/keys", a.listKeys)
	r.POST("/v1/admin/keys", a.createKey)
	r.DELETE("/v1/admin/keys/:id", a.revokeKey)
	r.GET("/v1/admin/quotas", a.listQuotas)
	r.PUT("/v1/admin/quotas/:tenant", a.setQuota)
	r.GET("/v1/admin/policies", a.listPolicies)
	r.PUT("/v1/admin/policies", a.setPolicies)
	r.GET("/v1/admin/roles", a.listRoles)
	r.PUT("/v1/admin/roles", a.setRoles)
	r.GET("/v1/admin/users", a.listUsers)
	r.GET("/v1/admin/users/:name", a.getUser)
	r.PUT("/v1/admin/users/:name", a.setUser)
	r.DELETE("/v1/admin/users/:name", a.deleteUser)
}

func (a *auth) listUsers(c *gin.Context) {
	p := caller(c)
	out := []gin.H{}
	for _, u := range a.users.List() {
		if p.Tenant == allsource.AllTenants || u.Tenant == p.Tenant {
			out = append(out, gin.H{"name": u.Name, "tenant": u.Tenant, "roles": u.Roles, "created_at": u.CreatedAt})
		}
	}
	c.PureJSON(http.StatusOK, gin.H{"users": out})
}

// userName is the user a request's :name stands for: the name itself for
// an administrator, the name in the caller's namespace for a tenant
// administrator (create: a name it may make). Another tenant's user is
// not found.
func (a *auth) userName(c *gin.Context, p allsource.Principal, create bool) (string, bool) {
	name := c.Param("name")
	if p.Tenant == allsource.AllTenants {
		return name, true
	}
	full, err := a.users.TenantUserName(name, p.Tenant, create)
	if err != nil {
		httpx.WriteError(c, err)
		return "", false
	}
	return full, true
}

func (a *auth) getUser(c *gin.Context) {
	p := caller(c)
	name, ok := a.userName(c, p, false)
	if !ok {
		return
	}
	u, _, found := a.users.Lookup(name)
	if !found || !a.roles.Allows(p, authz.ActionManageKeys, u.Tenant) {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeNotFound, "no user %q", c.Param("name")))
		return
	}
	c.PureJSON(http.StatusOK, gin.H{"name": u.Name, "tenant": u.Tenant, "roles": u.Roles, "created_at": u.CreatedAt})
}

func (a *auth) setUser(c *gin.Context) {
	p := caller(c)
	var req struct {
		Tenant   string   `json:"tenant"`
		Roles    []string `json:"roles"`
		Password string   `json:"password"`
	}
	if !decodeStrict(c, &req) {
		return
	}
	if req.Tenant == "" {
		req.Tenant = p.Tenant
		if _, t, ok := strings.Cut(c.Param("name"), "@"); ok && p.Tenant == allsource.AllTenants {
			req.Tenant = t // an administrator naming a tenant's user
		}
	}
	// The same rules as for keys: one's own tenant, admin from an admin.
	if err := a.policies.Authorize(p, authz.ActionManageKeys, authz.Resource{Tenant: req.Tenant}); err != nil || (req.Tenant == allsource.AllTenants && p.Tenant != allsource.AllTenants) {
		a.denied(c, p, "set_user", "users of tenant "+req.Tenant+" are not yours to make")
		return
	}
	if slices.Contains(req.Roles, authz.RoleAdmin) && !slices.Contains(p.Roles, authz.RoleAdmin) {
		a.denied(c, p, "set_user", "only an administrator may grant admin")
		return
	}
	// A tenant administrator's users live in its namespace, so no name it
	// gives is another tenant's (nor shadows another tenant's key logins).
	name, ok := a.userName(c, p, true)
	if !ok {
		return
	}
	if err := a.users.SetUser(name, req.Tenant, req.Roles, req.Password); err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "users_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "set_user", Tenant: req.Tenant, Target: "user:" + name, Reason: "roles " + joinRoles(req.Roles)})
	c.PureJSON(http.StatusOK, gin.H{"name": name, "tenant": req.Tenant, "roles": req.Roles})
}

func (a *auth) deleteUser(c *gin.Context) {
	p := caller(c)
	name, ok := a.userName(c, p, false)
	if !ok {
		return
	}
	u, _, found := a.users.Lookup(name)
	if !found || !a.roles.Allows(p, authz.ActionManageKeys, u.Tenant) || (u.Tenant == allsource.AllTenants && p.Tenant != allsource.AllTenants) {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeNotFound, "no user %q", c.Param("name")))
		return
	}
	if err := a.users.Delete(name); err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "users_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "delete_user", Tenant: u.Tenant, Target: "user:" + name})
	c.PureJSON(http.StatusOK, gin.H{"deleted": name})
}

func (a *auth) listRoles(c *gin.Context) {
	out := gin.H{"roles": a.roles.List()}
	if err := a.roles.Err(); err != nil {
		out["file_error"] = err.Error() // the file on disk does not parse; the previous roles are in force
	}
	c.PureJSON(http.StatusOK, out)
}

func (a *auth) setRoles(c *gin.Context) {
	p := caller(c)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "the request body could not be read: %v", err))
		return
	}
	if err := a.roles.Set(buf.Bytes()); err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "roles_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "set_roles", Reason: buf.String()})
	c.PureJSON(http.StatusOK, gin.H{"roles": a.roles.List()})
}

func (a *auth) listPolicies(c *gin.Context) {
	out := gin.H{"policies": a.policies.List()}
	if err := a.policies.Err(); err != nil {
		out["file_error"] = err.Error() // the file on disk does not compile; the previous policies are in force
	}
	c.PureJSON(http.StatusOK, out)
}

func (a *auth) setPolicies(c *gin.Context) {
	p := caller(c)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "the request body could not be read: %v", err))
		return
	}
	if err := a.policies.Set(buf.Bytes()); err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "policies_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "set_policies", Reason: buf.String()})
	c.PureJSON(http.StatusOK, gin.H{"policies": a.policies.List()})
}

// caller is the request's principal; with authentication off (loopback
// only) it is an administrator.
func caller(c *gin.Context) allsource.Principal {
	if p, ok := allsource.PrincipalFrom(c.Request.Context()); ok {
		return p
	}
	return allsource.Principal{Subject: "local", Tenant: allsource.AllTenants, Roles: []string{authz.RoleAdmin}, Via: "trust"}
}

// keyStore is the server's key store (also with authentication off, so
// keys can be made before it is turned on).
func (a *auth) keyStore() (*authz.KeyStore, error) {
	if a.authn != nil && a.authn.Keys != nil {
		return a.authn.Keys, nil
	}
	return a.keys, nil
}

type keyOut struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant"`
	Roles     []string   `json:"roles"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Key       string     `json:"key,omitempty"`
}

func keyView(k authz.APIKey) keyOut {
	return keyOut{ID: k.ID, Name: k.Name, Tenant: k.Tenant, Roles: k.Roles, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

func (a *auth) listKeys(c *gin.Context) {
	p := caller(c)
	tenant := c.Query("tenant")
	if p.Tenant != allsource.AllTenants {
		tenant = p.Tenant
	}
	ks, _ := a.keyStore()
	list, err := ks.List()
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := []keyOut{}
	for _, k := range list {
		if tenant == "" || k.Tenant == tenant {
			out = append(out, keyView(k))
		}
	}
	c.PureJSON(http.StatusOK, gin.H{"keys": out})
}

func (a *auth) createKey(c *gin.Context) {
	p := caller(c)
	var req struct {
		Name   string   `json:"name"`
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
		TTL    string   `json:"ttl"`
	}
	if !decodeStrict(c, &req) {
		return
	}
	if req.Tenant == "" {
		req.Tenant = p.Tenant
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "ttl", Index: -1, Message: "ttl: want a positive duration such as 720h"})
			return
		}
		ttl = d
	}
	// A key may grant nothing its creator could not do: the tenant must be
	// the creator's (or any, for an administrator), and admin keys are for
	// administrators only.
	if err := a.policies.Authorize(p, authz.ActionManageKeys, authz.Resource{Tenant: req.Tenant}); err != nil || (req.Tenant == allsource.AllTenants && p.Tenant != allsource.AllTenants) {
		a.denied(c, p, "create_key", "keys for tenant "+req.Tenant+" are not yours to make")
		return
	}
	if slices.Contains(req.Roles, authz.RoleAdmin) && !slices.Contains(p.Roles, authz.RoleAdmin) {
		a.denied(c, p, "create_key", "only an administrator may grant admin")
		return
	}
	ks, _ := a.keyStore()
	key, k, err := ks.Create(req.Name, req.Tenant, req.Roles, ttl)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "keys_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "create_key", Tenant: k.Tenant, Target: "key:" + k.ID, Reason: "roles " + joinRoles(k.Roles)})
	out := keyView(k)
	out.Key = key
	c.PureJSON(http.StatusCreated, out)
}

func (a *auth) revokeKey(c *gin.Context) {
	p := caller(c)
	ks, _ := a.keyStore()
	list, err := ks.List()
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	id := c.Param("id")
	i := slices.IndexFunc(list, func(k authz.APIKey) bool { return k.ID == id })
	// Another tenant's key looks like no key at all.
	if i < 0 || !a.roles.Allows(p, authz.ActionManageKeys, list[i].Tenant) || (list[i].Tenant == allsource.AllTenants && p.Tenant != allsource.AllTenants) {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeNotFound, "no API key %q", id))
		return
	}
	if err := ks.Revoke(id); err != nil {
		httpx.WriteError(c, err)
		return
	}
	a.gate.Record(authz.AuditRecord{Kind: "keys_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "revoke_key", Tenant: list[i].Tenant, Target: "key:" + id})
	c.PureJSON(http.StatusOK, gin.H{"revoked": id})
}

func (a *auth) listQuotas(c *gin.Context) {
	names, all := a.quotas.All()
	out := make([]gin.H, 0, len(names))
	for _, n := range names {
		out = append(out, gin.H{"tenant": n, "quota": all[n]})
	}
	c.PureJSON(http.StatusOK, gin.H{"quotas": out})
}

func (a *auth) setQuota(c *gin.Context) {
	p := caller(c)
	var q authz.Quota
	if !decodeStrict(c, &q) {
		return
	}
	tenant := c.Param("tenant")
	if err := a.quotas.Set(tenant, q); err != nil {
		httpx.WriteError(c, err)
		return
	}
	b, _ := json.Marshal(q)
	a.gate.Record(authz.AuditRecord{Kind: "quotas_changed", Interface: "http", Subject: p.Subject, Via: p.Via, Remote: c.ClientIP(),
		Action: "set_quota", Tenant: tenant, Reason: string(b)})
	c.PureJSON(http.StatusOK, gin.H{"tenant": tenant, "quota": q})
}

// denied answers 403 and records the refusal.
func (a *auth) denied(c *gin.Context, p allsource.Principal, action, why string) {
	a.gate.Record(authz.AuditRecord{Kind: "denied", Interface: "http", Subject: p.Subject, Tenant: p.Tenant, Via: p.Via,
		Remote: c.ClientIP(), Action: action, Target: c.FullPath(), Reason: why})
	httpx.WriteError(c, allsource.Errorf(allsource.CodeForbidden, "%s", why))
}

// decodeStrict reads a JSON body with no unknown fields, answering 400
// itself when it cannot.
func decodeStrict(c *gin.Context, v any) bool {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "the request body could not be read: %v", err))
		return false
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "invalid JSON body: %v", err))
		return false
	}
	return true
}

func joinRoles(r []string) string {
	b, _ := json.Marshal(r)
	return string(b)
}
