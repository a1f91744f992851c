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

	"github.com/allsource/allsource"
)

// RolesFile is where a data dir keeps its custom roles.
func RolesFile(dataDir string) string { return filepath.Join(dataDir, "auth", "roles.json") }

// CustomRole is a role a deployment defines: the actions it grants and,
// optionally, the event types (glob patterns) it is limited to. A
// principal whose every role granting reads is limited reads only those
// event types; appends are allowed for an event type when a role granting
// append is unlimited or matches it. Admin-level actions (managing
// tenants, reading the audit log) cannot be granted.
type CustomRole struct {
	Name       string   `json:"name"`
	Actions    []Action `json:"actions"`
	EventTypes []string `json:"event_types,omitempty"`
}

// customRoles is the registry of the roles file in use (UseRolesFile).
var customRoles struct {
	sync.Mutex
	file  watched
	roles map[string]CustomRole
	err   error
}

// UseRolesFile makes the custom roles of path (none if it does not exist)
// known to every check in this process, re-read when the file changes.
func UseRolesFile(path string) error {
	customRoles.Lock()
	defer customRoles.Unlock()
	customRoles.file = watched{path: path, what: "roles"}
	return reloadRoles(true)
}

func reloadRoles(force bool) error {
	c := &customRoles
	if c.file.path == "" {
		c.roles, c.err = nil, nil
		return nil
	}
	snap, changed, err := c.file.look(force)
	if err != nil || !changed {
		return err
	}
	c.file.stamp = snap.stamp // a broken file is reported once, not parsed again
	if snap.gone {
		c.roles, c.err = nil, nil
		return nil
	}
	m, err := parseRoles(snap.data)
	if err != nil {
		c.err = c.file.invalid(err)
		return c.err
	}
	c.roles, c.err = m, nil
	return nil
}

// parseRoles checks a roles file: an array of CustomRole.
func parseRoles(b []byte) (map[string]CustomRole, error) {
	var list []CustomRole
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, err
	}
	m := map[string]CustomRole{}
	for i, r := range list {
		what := fmt.Sprintf("role %d (%q)", i+1, r.Name)
		if _, builtin := roles[r.Name]; builtin || r.Name == "" || m[r.Name].Name != "" || strings.ContainsAny(r.Name, ", ") {
			return nil, fmt.Errorf("%s: a custom role needs a unique name, not a built-in one, without commas or spaces", what)
		}
		if len(r.Actions) == 0 {
			return nil, fmt.Errorf("%s: grants no action", what)
		}
		for _, a := range r.Actions {
			if !slices.Contains(Actions, a) {
				return nil, fmt.Errorf("%s: unknown action %q", what, a)
			}
			if a == ActionManageTenants || a == ActionReadAudit {
				return nil, fmt.Errorf("%s: %s is for administrators only", what, a)
			}
		}
		for _, g := range r.EventTypes {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				return nil, fmt.Errorf("%s: event type pattern %q is not a valid glob", what, g)
			}
		}
		m[r.Name] = r
	}
	return m, nil
}

// CheckRolesFile validates a roles file's contents.
func CheckRolesFile(b []byte) error {
	_, err := parseRoles(b)
	return err
}

// customRole looks a role up in the registry.
func customRole(name string) (CustomRole, bool) {
	c := &customRoles
	c.Lock()
	defer c.Unlock()
	if c.file.due(time.Now()) {
		_ = reloadRoles(false) // a broken file keeps the roles in force
	}
	r, ok := c.roles[name]
	return r, ok
}

// grants returns what role name grants: its actions, the event types it
// is limited to (nil: all), and whether it exists.
func grants(name string) ([]Action, []string, bool) {
	if a, ok := roles[name]; ok {
		return a, nil, true
	}
	if r, ok := customRole(name); ok {
		return r.Actions, r.EventTypes, true
	}
	return nil, nil, false
}

// ReadableTypes returns the event types p's reads are limited to: nil
// when some role granting query is unlimited, else the union of the
// patterns of its roles that grant query.
func ReadableTypes(roleNames []string) []string {
	var out []string
	limited := false
	for _, r := range roleNames {
		acts, types, ok := grants(r)
		if !ok || !slices.Contains(acts, ActionQuery) {
			continue
		}
		if types == nil {
			return nil
		}
		limited = true
		out = append(out, types...)
	}
	if !limited {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// appendableType reports whether some role of roleNames granting append
// covers eventType.
func appendableType(roleNames []string, eventType string) bool {
	for _, r := range roleNames {
		acts, types, ok := grants(r)
		if !ok || !slices.Contains(acts, ActionAppend) {
			continue
		}
		if types == nil {
			return true
		}
		for _, g := range types {
			if m, _ := path.Match(g, eventType); m {
				return true
			}
		}
	}
	return false
}

// Restriction is what p may not read in tenant: the event types its roles
// are limited to, and what hide policies take away (ps may be nil).
func (ps *Policies) Restriction(p allsource.Principal, tenant string) allsource.ReadRestriction {
	types, fields := ps.Hidden(p, tenant)
	return allsource.ReadRestriction{OnlyTypes: ReadableTypes(p.Roles), HiddenTypes: types, HiddenFields: fields}
}

// AppendLimited reports whether some role of roleNames granting append is
// limited to event types, so appends must be checked event by event.
func AppendLimited(roleNames []string) bool {
	for _, r := range roleNames {
		if acts, types, ok := grants(r); ok && types != nil && slices.Contains(acts, ActionAppend) {
			return true
		}
	}
	return false
}

// SetRolesFile checks a roles file's contents and installs them at path.
func SetRolesFile(path string, b []byte) error {
	if err := CheckRolesFile(b); err != nil {
		return allsource.Errorf(allsource.CodeInvalid, "roles: %v", err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return fmt.Errorf("authz: roles: %w", err)
	}
	customRoles.Lock()
	defer customRoles.Unlock()
	if customRoles.file.path == path {
		return reloadRoles(true)
	}
	return nil
}

// CustomRoles returns the custom roles in force, by name.
func CustomRoles() []CustomRole {
	customRoles.Lock()
	defer customRoles.Unlock()
	out := make([]CustomRole, 0, len(customRoles.roles))
	for _, r := range customRoles.roles {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b CustomRole) int { return strings.Compare(a.Name, b.Name) })
	return out
}
