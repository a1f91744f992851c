package authz

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/allsource/allsource"
)

// PoliciesFile is where a data dir keeps its policies.
func PoliciesFile(dataDir string) string { return filepath.Join(dataDir, "auth", "policies.json") }

// Policy is a rule on top of the roles. When is a CEL expression over
//
//	principal  {subject, tenant, roles, via}
//	action     "append", "query", "analytics", … (see Actions)
//	resource   {tenant, event_type ("" when the action is not about one event)}
//
// and Effect says what happens when it is true:
//
//	allow  the action is allowed even if no role grants it
//	deny   the action is refused whatever the roles say (deny wins)
//	hide   (for reads) events whose type matches one of EventTypes (glob
//	       patterns: "pii.*") are not seen, and the payload fields in Fields
//	       ("payload.email") are removed from what is read
type Policy struct {
	Name       string   `json:"name"`
	When       string   `json:"when"`
	Effect     string   `json:"effect"`
	EventTypes []string `json:"event_types,omitempty"`
	Fields     []string `json:"fields,omitempty"`
}

// Resource is what an action is about.
type Resource struct {
	Tenant    string
	EventType string
}

type compiled struct {
	Policy
	prg cel.Program
}

var policyEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("principal", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("action", cel.StringType),
		cel.Variable("resource", cel.MapType(cel.StringType, cel.StringType)),
	)
	if err != nil {
		panic(err)
	}
	return env
}()

// compilePolicies checks policies: names unique, effects known, When a
// boolean CEL expression over the documented variables, hide policies
// with something to hide. Errors name the policy and, for CEL, the
// position in its expression.
func compilePolicies(ps []Policy) ([]compiled, error) {
	out := make([]compiled, 0, len(ps))
	seen := map[string]bool{}
	for i, p := range ps {
		what := fmt.Sprintf("policy %d (%q)", i+1, p.Name)
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("%s: every policy needs a unique name", what)
		}
		seen[p.Name] = true
		switch p.Effect {
		case "allow", "deny":
			if len(p.EventTypes) > 0 || len(p.Fields) > 0 {
				return nil, fmt.Errorf("%s: event_types and fields go with effect hide", what)
			}
		case "hide":
			if len(p.EventTypes) == 0 && len(p.Fields) == 0 {
				return nil, fmt.Errorf("%s: effect hide needs event_types or fields", what)
			}
			for _, g := range p.EventTypes {
				if _, err := path.Match(g, ""); err != nil || g == "" {
					return nil, fmt.Errorf("%s: event type pattern %q is not a valid glob", what, g)
				}
			}
			for _, f := range p.Fields {
				if _, err := payloadPath(f); err != nil {
					return nil, fmt.Errorf("%s: %v", what, err)
				}
			}
		default:
			return nil, fmt.Errorf("%s: effect %q (want allow, deny or hide)", what, p.Effect)
		}
		ast, iss := policyEnv.Compile(p.When)
		if iss.Err() != nil {
			return nil, fmt.Errorf("%s: when: %v", what, iss.Err())
		}
		if ast.OutputType() != cel.BoolType {
			return nil, fmt.Errorf("%s: when must be true or false, is %s", what, ast.OutputType())
		}
		prg, err := policyEnv.Program(ast)
		if err != nil {
			return nil, fmt.Errorf("%s: when: %v", what, err)
		}
		out = append(out, compiled{Policy: p, prg: prg})
	}
	return out, nil
}

// payloadPath splits "payload.a.b" into its keys.
func payloadPath(f string) ([]string, error) {
	rest, ok := strings.CutPrefix(f, "payload.")
	if !ok || rest == "" {
		return nil, fmt.Errorf("field %q: want a path under payload, such as payload.email", f)
	}
	keys := strings.Split(rest, ".")
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("field %q has an empty key", f)
		}
	}
	return keys, nil
}

// Policies holds the compiled policies of a file, re-read when it changes
// (a file that does not compile keeps the previous policies and is
// reported by Err), and the roles they are evaluated with.
type Policies struct {
	now   func() time.Time
	roles *Roles // nil: the built-in roles only

	mu   sync.Mutex
	file watched
	list []compiled
	err  error
}

// OpenPolicies reads the policies at path (none if there is no file),
// to be evaluated with roles (nil: the built-in roles only).
func OpenPolicies(path string, roles *Roles) (*Policies, error) {
	ps := NewPolicies(path, roles)
	if err := ps.reload(true); err != nil {
		return nil, err
	}
	return ps, nil
}

func (ps *Policies) reload(force bool) error {
	snap, changed, err := ps.file.look(force)
	if err != nil || !changed {
		return err
	}
	ps.file.stamp = snap.stamp // a broken file is reported once, not parsed again
	if snap.gone {
		ps.list, ps.err = nil, nil
		return nil
	}
	list, err := parsePolicies(snap.data)
	if err != nil {
		ps.err = ps.file.invalid(err)
		return ps.err
	}
	ps.list, ps.err = list, nil
	return nil
}

// parsePolicies reads a policies file's JSON (an array of Policy).
func parsePolicies(b []byte) ([]compiled, error) {
	var raw []Policy
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	return compilePolicies(raw)
}

// Err is why the file's latest contents are not in force, or nil.
func (ps *Policies) Err() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.err
}

func (ps *Policies) current() []compiled {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.file.due(ps.now()) {
		_ = ps.reload(false)
	}
	return ps.list
}

func policyVars(p allsource.Principal, a Action, r Resource) map[string]any {
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	return map[string]any{
		"principal": map[string]any{"subject": p.Subject, "tenant": p.Tenant, "roles": roles, "via": p.Via},
		"action":    string(a),
		"resource":  map[string]string{"tenant": r.Tenant, "event_type": r.EventType},
	}
}

// matches evaluates c; an expression that fails at run time (a missing
// key) counts as true for deny and hide and false for allow, so errors
// never widen access.
func (c compiled) matches(vars map[string]any) bool {
	out, _, err := c.prg.Eval(vars)
	if err != nil {
		return c.Effect != "allow"
	}
	b, ok := out.Value().(bool)
	return ok && b
}

// Authorize decides with ps's roles and policies: allowed when a role or
// an allow policy grants it and no deny policy matches. A nil Policies is
// the built-in roles alone.
//
// Appending is decided per event (r.EventType set); asked without an event
// type (a whole request), append is decided by the roles alone.
func (ps *Policies) Authorize(p allsource.Principal, a Action, r Resource) error {
	roles := ps.Roles()
	if a == ActionAppend && r.EventType != "" && roles.Allows(p, a, r.Tenant) && !roles.appendable(p.Roles, r.EventType) {
		return allsource.Errorf(allsource.CodeForbidden, "append of %s is outside the event types of role %s", r.EventType, strings.Join(p.Roles, ", "))
	}
	if ps == nil || (a == ActionAppend && r.EventType == "") {
		return roles.Authorize(p, a, r.Tenant)
	}
	list := ps.current()
	if len(list) == 0 {
		return roles.Authorize(p, a, r.Tenant)
	}
	vars := policyVars(p, a, r)
	for _, c := range list {
		if c.Effect == "deny" && c.matches(vars) {
			what := string(a)
			if r.EventType != "" {
				what += " of " + r.EventType
			}
			return allsource.Errorf(allsource.CodeForbidden, "%s is denied by policy %q", what, c.Name)
		}
	}
	err := roles.Authorize(p, a, r.Tenant)
	if err == nil {
		return nil
	}
	if p.Tenant != allsource.AllTenants && p.Tenant != r.Tenant {
		return err // a policy never opens another tenant
	}
	for _, c := range list {
		if c.Effect == "allow" && c.matches(vars) {
			return nil
		}
	}
	return err
}

// Hidden returns what the hide policies matching p's reads in tenant
// take away: event type patterns and payload fields, sorted, without
// repeats.
func (ps *Policies) Hidden(p allsource.Principal, tenant string) (types, fields []string) {
	if ps == nil {
		return nil, nil
	}
	list := ps.current()
	if len(list) == 0 {
		return nil, nil
	}
	vars := policyVars(p, ActionQuery, Resource{Tenant: tenant})
	for _, c := range list {
		if c.Effect == "hide" && c.matches(vars) {
			types = append(types, c.EventTypes...)
			fields = append(fields, c.Fields...)
		}
	}
	slices.Sort(types)
	slices.Sort(fields)
	return slices.Compact(types), slices.Compact(fields)
}

// Has reports whether any policy is in force.
func (ps *Policies) Has() bool { return ps != nil && len(ps.current()) > 0 }

// CheckPolicies validates a policies file's contents.
func CheckPolicies(b []byte) error {
	_, err := parsePolicies(b)
	return err
}

// Set checks policies (the JSON of a policies file) and installs them.
func (ps *Policies) Set(b []byte) error {
	if err := CheckPolicies(b); err != nil {
		return allsource.Errorf(allsource.CodeInvalid, "policies: %v", err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := writeFileAtomic(ps.file.path, b); err != nil {
		return fmt.Errorf("authz: policies: %w", err)
	}
	return ps.reload(true)
}

// List returns the policies in force.
func (ps *Policies) List() []Policy {
	list := ps.current()
	out := make([]Policy, len(list))
	for i, c := range list {
		out[i] = c.Policy
	}
	return out
}

// NewPolicies returns an empty set for path, evaluated with roles,
// without reading it (to replace a file that does not compile); it reads
// the file when it changes.
func NewPolicies(path string, roles *Roles) *Policies {
	return &Policies{file: watched{path: path, what: "policies"}, now: time.Now, roles: roles}
}

// Roles returns the roles ps evaluates with (nil for a nil ps: the
// built-in roles only).
func (ps *Policies) Roles() *Roles {
	if ps == nil {
		return nil
	}
	return ps.roles
}

// Restriction is what p may not read in tenant: the event types its roles
// are limited to, and what hide policies take away (ps may be nil).
func (ps *Policies) Restriction(p allsource.Principal, tenant string) allsource.ReadRestriction {
	types, fields := ps.Hidden(p, tenant)
	return allsource.ReadRestriction{OnlyTypes: ps.Roles().ReadableTypes(p.Roles), HiddenTypes: types, HiddenFields: fields}
}
