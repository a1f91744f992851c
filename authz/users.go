package authz

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/allsource/allsource"
)

// UsersFile is where a data dir keeps its users.
func UsersFile(dataDir string) string { return filepath.Join(dataDir, "auth", "users.json") }

// Verifier is what is kept of a password: a SCRAM-SHA-256 verifier (RFC
// 5802/7677, as PostgreSQL stores it). It checks a password given in
// clear (HTTP Basic) and serves a SCRAM exchange (pgwire), and does not
// reveal the password.
type Verifier struct {
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// scramIterations is PostgreSQL's default.
const scramIterations = 4096

// NewVerifier derives a verifier for password with a random salt.
func NewVerifier(password string) (Verifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Verifier{}, err
	}
	return verifierFor(password, salt, scramIterations)
}

func verifierFor(password string, salt []byte, iters int) (Verifier, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iters, sha256.Size)
	if err != nil {
		return Verifier{}, err
	}
	clientKey := hmacSum(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return Verifier{Salt: salt, Iterations: iters, StoredKey: stored[:], ServerKey: hmacSum(salted, "Server Key")}, nil
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Check reports whether password is the one v was made from.
func (v Verifier) Check(password string) bool {
	w, err := verifierFor(password, v.Salt, v.Iterations)
	return err == nil && subtle.ConstantTimeCompare(w.StoredKey, v.StoredKey) == 1
}

// User is an account that logs in with a password.
type User struct {
	Name      string    `json:"name"`
	Tenant    string    `json:"tenant"`
	Roles     []string  `json:"roles"`
	Verifier  Verifier  `json:"scram_sha_256"`
	CreatedAt time.Time `json:"created_at"`
}

// UserStore keeps users in a JSON file (0600, replaced atomically),
// re-read when it changes, like KeyStore.
type UserStore struct {
	now func() time.Time

	mu    sync.Mutex
	file  watched
	users map[string]User
	roles *Roles // what SetUser accepts; nil: the built-in roles
}

// SetRoles sets the roles SetUser accepts besides the built-in ones (nil:
// the built-in roles only).
func (s *UserStore) SetRoles(r *Roles) {
	s.mu.Lock()
	s.roles = r
	s.mu.Unlock()
}

// OpenUserStore reads the users at path (none if the file does not exist).
func OpenUserStore(path string) (*UserStore, error) {
	s := &UserStore{file: watched{path: path, what: "users"}, now: time.Now}
	if err := s.reload(true); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *UserStore) reload(force bool) error {
	snap, changed, err := s.file.look(force)
	if err != nil || !changed {
		return err
	}
	var list []User
	if !snap.gone {
		if err := json.Unmarshal(snap.data, &list); err != nil {
			return s.file.invalid(err)
		}
	}
	users := make(map[string]User, len(list))
	for _, u := range list {
		users[u.Name] = u
	}
	s.users, s.file.stamp = users, snap.stamp
	return nil
}

func (s *UserStore) refresh() {
	if s.file.due(s.now()) {
		_ = s.reload(false) // a broken file keeps the users in force
	}
}

func (s *UserStore) save(users map[string]User) error {
	list := make([]User, 0, len(users))
	for _, u := range users {
		list = append(list, u)
	}
	slices.SortFunc(list, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.file.path, append(b, '\n')); err != nil {
		return fmt.Errorf("authz: users: %w", err)
	}
	return s.reload(true)
}

// User names are login names (HTTP Basic, the pgwire startup user) and
// unique server-wide. Over pgwire a name that is not a user's logs in
// with an API key or a token as the password, so a user's name takes that
// name away from key logins. Hence two namespaces:
//
//   - bare names ("admin", "ana") are the administrators': only they give
//     them, and the names a tenant's clients use with keys stay free of
//     other tenants' users;
//   - name@tenant is a tenant's: a tenant administrator's users are always
//     named so, in its own tenant (it asks for "ann", the user is
//     ann@acme). It cannot name, see or tell apart other tenants' users.
//
// Some names (reservedNames, pg_…) are never given by a tenant
// administrator, not even within its namespace.

// maxUserNameLocal is the longest name before its @tenant suffix.
const maxUserNameLocal = 63

// reservedNames are what clients and operators take for a server's
// operator accounts.
var reservedNames = map[string]bool{"admin": true, "administrator": true, "root": true, "postgres": true,
	"superuser": true, "system": true, "allsource": true, "public": true}

// ReservedUserName reports whether only an administrator may give name
// (or a tenant's user name with name before its @tenant).
func ReservedUserName(name string) bool {
	l := strings.ToLower(name)
	return reservedNames[l] || strings.HasPrefix(l, "pg_")
}

// splitUserName splits name@tenant; tenant is "" for a bare name.
func splitUserName(n string) (local, tenant string) {
	if i := strings.LastIndexByte(n, '@'); i >= 0 {
		return n[:i], n[i+1:]
	}
	return n, ""
}

// checkUserName allows a name of 1–63 printable characters without ':'
// (HTTP Basic splits there), '@' and the ask_ prefix of API keys,
// optionally followed by @tenant.
func checkUserName(n string) error {
	local, tenant := splitUserName(n)
	if local == "" || len(local) > maxUserNameLocal || !utf8.ValidString(local) || strings.ContainsAny(local, ":@\x00\r\n\t ") || LooksLikeAPIKey(n) {
		return allsource.Errorf(allsource.CodeInvalid, "user name %q: want 1 to 63 characters, no spaces, ':' or '@' (but before a tenant: name@tenant), not starting with ask_", n)
	}
	if strings.Contains(n, "@") && (tenant == allsource.AllTenants || checkTenantName(tenant) != nil) {
		return allsource.Errorf(allsource.CodeInvalid, "user name %q: what follows '@' must be a tenant's name", n)
	}
	return nil
}

// TenantUserName is the user a tenant administrator of tenant means by
// name: "ann" is ann@tenant (or the bare user ann, when an administrator
// made it in tenant), "ann@tenant" itself. A name in another tenant's
// namespace is not found, whether or not it exists, as is a user of
// another tenant. With create, a name that may not be made (invalid, or
// reserved to administrators) is refused; otherwise a user that does not
// exist is not found.
func (s *UserStore) TenantUserName(name, tenant string, create bool) (string, error) {
	notFound := allsource.Errorf(allsource.CodeNotFound, "no user %q", name)
	local, suffix := splitUserName(name)
	full := name
	switch {
	case strings.Contains(name, "@") && suffix != tenant:
		return "", notFound
	case !strings.Contains(name, "@"):
		if u, _, ok := s.Lookup(name); ok && u.Tenant == tenant {
			return name, nil // a bare name an administrator gave a user of tenant
		}
		full = name + "@" + tenant
	}
	u, _, ok := s.Lookup(full)
	if ok && u.Tenant == tenant {
		return full, nil
	}
	if ok || !create {
		return "", notFound // the name is taken outside tenant: as if missing
	}
	if err := checkUserName(full); err != nil {
		return "", err
	}
	if ReservedUserName(local) {
		return "", allsource.Errorf(allsource.CodeInvalid, "user name %q is reserved to administrators", local)
	}
	return full, nil
}

// SetUser creates user name, or replaces its password, tenant and roles.
// A name@tenant belongs to that tenant. Passwords must be at least 12
// characters.
func (s *UserStore) SetUser(name, tenant string, roleNames []string, password string) error {
	if err := checkUserName(name); err != nil {
		return err
	}
	if _, t := splitUserName(name); strings.Contains(name, "@") && t != tenant {
		return allsource.Errorf(allsource.CodeInvalid, "user %q belongs to tenant %s, not %s", name, t, tenant)
	}
	s.mu.Lock()
	roles := s.roles
	s.mu.Unlock()
	if err := roles.Check(tenant, roleNames); err != nil {
		return err
	}
	if utf8.RuneCountInString(password) < 12 {
		return allsource.Errorf(allsource.CodeInvalid, "the password must be at least 12 characters")
	}
	v, err := NewVerifier(password)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return err
	}
	users := make(map[string]User, len(s.users)+1)
	for k, u := range s.users {
		users[k] = u
	}
	created := s.now().UTC().Truncate(time.Second)
	if old, ok := users[name]; ok {
		created = old.CreatedAt
	}
	users[name] = User{Name: name, Tenant: tenant, Roles: slices.Clone(roleNames), Verifier: v, CreatedAt: created}
	return s.save(users)
}

// Delete removes a user.
func (s *UserStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return err
	}
	if _, ok := s.users[name]; !ok {
		return allsource.Errorf(allsource.CodeNotFound, "no user %q", name)
	}
	users := make(map[string]User, len(s.users))
	for k, u := range s.users {
		if k != name {
			users[k] = u
		}
	}
	return s.save(users)
}

// List returns the users by name.
func (s *UserStore) List() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns a user and its principal.
func (s *UserStore) Lookup(name string) (User, allsource.Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	u, ok := s.users[name]
	if !ok {
		// A user set a moment ago is not missed for want of the next
		// look at the file (a look costs a stat; it reads only a change).
		_ = s.reload(false)
		u, ok = s.users[name]
	}
	if !ok {
		return User{}, allsource.Principal{}, false
	}
	return u, allsource.Principal{Subject: "user:" + u.Name, Tenant: u.Tenant, Roles: slices.Clone(u.Roles), Via: "password"}, true
}

// decoy is checked against when a user does not exist, so a wrong name
// takes as long as a wrong password.
var decoy, _ = verifierFor("decoy password", make([]byte, 16), scramIterations)

// errBadPassword answers every failed password login alike.
var errBadPassword = allsource.Errorf(allsource.CodeUnauthorized, "invalid user name or password")

// CheckPassword returns the principal of name when password is right.
func (s *UserStore) CheckPassword(name, password string) (allsource.Principal, error) {
	u, p, ok := s.Lookup(name)
	v := u.Verifier
	if !ok {
		v = decoy
	}
	if !v.Check(password) || !ok {
		return allsource.Principal{}, errBadPassword
	}
	return p, nil
}
