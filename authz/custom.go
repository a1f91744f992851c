package authz

import (
	"encoding/json"
	"errors"
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

// Roles is a deployment's custom roles, read from a roles file and
// re-read when the file's size or mtime changes (looked at at most every
// reloadEvery); a file that does not parse keeps the roles in force and
// is reported by Err. Every check that consults roles is a method of
// Roles; a nil *Roles knows the built-in roles only. Safe for concurrent
// use.
type Roles struct {
	now func() time.Time

	mu     sync.Mutex
	file   watched
	custom map[string]CustomRole // replaced whole on reload, never changed in place
	err    error
}

// OpenRoles reads the custom roles at path (none while there is no file).
func OpenRoles(path string) (*Roles, error) {
	r := NewRoles(path)
	if err := r.reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

// NewRoles returns a set with no custom roles for path, without reading
// it (to replace a file that does not parse); it reads the file when it
// changes.
func NewRoles(path string) *Roles {
	return &Roles{file: watched{path: path, what: "roles"}, now: time.Now}
}

func (r *Roles) reload(force bool) error {
	snap, changed, err := r.file.look(force)
	if err != nil || !changed {
		return err
	}
	r.file.stamp = snap.stamp // a broken file is reported once, not parsed again
	if snap.gone {
		r.custom, r.err = nil, nil
		return nil
	}
	m, err := parseRoles(snap.data)
	if err != nil {
		r.err = r.file.invalid(err)
		return r.err
	}
	r.custom, r.err = m, nil
	return nil
}

// current returns the custom roles in force, looking at the file first
// when it is time to.
func (r *Roles) current() map[string]CustomRole {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file.due(r.now()) {
		_ = r.reload(false) // a broken file keeps the roles in force
	}
	return r.custom
}

// Err is why the file's latest contents are not in force, or nil.
func (r *Roles) Err() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
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

// lookup returns what role name grants, looked up among the built-in
// roles, then in custom: its actions, the event types it is limited to
// (nil: all), and whether it exists.
func lookup(custom map[string]CustomRole, name string) ([]Action, []string, bool) {
	if a, ok := roles[name]; ok {
		return a, nil, true
	}
	if c, ok := custom[name]; ok {
		return c.Actions, c.EventTypes, true
	}
	return nil, nil, false
}

// ReadableTypes returns the event types a principal with roleNames may
// read: nil when some role granting query is unlimited, else the union of
// the patterns of its roles that grant query.
func (r *Roles) ReadableTypes(roleNames []string) []string {
	custom := r.current()
	var out []string
	limited := false
	for _, n := range roleNames {
		acts, types, ok := lookup(custom, n)
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

// appendable reports whether some role of roleNames granting append
// covers eventType.
func (r *Roles) appendable(roleNames []string, eventType string) bool {
	custom := r.current()
	for _, n := range roleNames {
		acts, types, ok := lookup(custom, n)
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

// AppendLimited reports whether some role of roleNames granting append is
// limited to event types, so appends must be checked event by event.
func (r *Roles) AppendLimited(roleNames []string) bool {
	custom := r.current()
	for _, n := range roleNames {
		if acts, types, ok := lookup(custom, n); ok && types != nil && slices.Contains(acts, ActionAppend) {
			return true
		}
	}
	return false
}

// Set checks a roles file's contents, installs them at r's path and puts
// them in force.
func (r *Roles) Set(b []byte) error {
	if r == nil {
		return errors.New("authz: roles: no roles file to set")
	}
	if err := CheckRolesFile(b); err != nil {
		return allsource.Errorf(allsource.CodeInvalid, "roles: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := writeFileAtomic(r.file.path, b); err != nil {
		return fmt.Errorf("authz: roles: %w", err)
	}
	return r.reload(true)
}

// List returns the custom roles in force, by name.
func (r *Roles) List() []CustomRole {
	custom := r.current()
	out := make([]CustomRole, 0, len(custom))
	for _, c := range custom {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CustomRole) int { return strings.Compare(a.Name, b.Name) })
	return out
}
