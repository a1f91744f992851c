package authz

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/allsource/allsource"
)

// API keys look like ask_<id>_<secret>: "ask_", 16 hex digits of id, "_"
// and 43 characters of base64url secret (32 random bytes). The id finds
// the key; only the SHA-256 of the secret is stored (a 256-bit random
// secret needs no slow hash), compared in constant time.
const (
	keyPrefix    = "ask_"
	keyIDLen     = 16
	keySecretLen = 43
)

// APIKey is a stored key: what it grants, and the hash of its secret.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant"`
	Roles     []string   `json:"roles"`
	Hash      string     `json:"hash"` // hex SHA-256 of the secret
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ParseAPIKey splits a key into its id and secret; ok is false when s is
// not shaped like a key.
func ParseAPIKey(s string) (id, secret string, ok bool) {
	if len(s) != len(keyPrefix)+keyIDLen+1+keySecretLen || !strings.HasPrefix(s, keyPrefix) || s[len(keyPrefix)+keyIDLen] != '_' {
		return "", "", false
	}
	id = s[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	secret = s[len(keyPrefix)+keyIDLen+1:]
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// LooksLikeAPIKey reports whether a credential is meant as an API key
// (rather than a JWT or a password).
func LooksLikeAPIKey(s string) bool { return strings.HasPrefix(s, keyPrefix) }

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// KeyStore keeps API keys in a JSON file (mode 0600), written whole to a
// temporary file and renamed. A server reads it; the CLI changes it; the
// server notices a change within reloadEvery, so keys created or revoked
// take effect without a restart.
type KeyStore struct {
	now func() time.Time

	mu       sync.Mutex
	file     watched
	keys     map[string]APIKey
	roles    *Roles // what Create accepts; nil: the built-in roles
	onChange func(before, after map[string]APIKey)
}

// SetRoles sets the roles Create accepts besides the built-in ones (nil:
// the built-in roles only).
func (s *KeyStore) SetRoles(r *Roles) {
	s.mu.Lock()
	s.roles = r
	s.mu.Unlock()
}

// OnChange sets a function called (under the store's lock; it must not
// call the store) when a reload finds the file changed by someone else,
// with the keys before and after.
func (s *KeyStore) OnChange(fn func(before, after map[string]APIKey)) {
	s.mu.Lock()
	s.onChange = fn
	s.mu.Unlock()
}

// OpenKeyStore reads the keys at path (none if the file does not exist).
func OpenKeyStore(path string) (*KeyStore, error) {
	s := &KeyStore{file: watched{path: path, what: "keys"}, now: time.Now}
	if err := s.reload(true); err != nil {
		return nil, err
	}
	return s, nil
}

// reload reads the file if it changed (or always with force).
func (s *KeyStore) reload(force bool) error {
	snap, changed, err := s.file.look(force)
	if err != nil || !changed {
		return err
	}
	var list []APIKey
	if !snap.gone {
		if err := json.Unmarshal(snap.data, &list); err != nil {
			return s.file.invalid(err)
		}
	}
	keys := make(map[string]APIKey, len(list))
	for _, k := range list {
		keys[k.ID] = k
	}
	before := s.keys
	s.keys, s.file.stamp = keys, snap.stamp
	if !force && !snap.gone && s.onChange != nil {
		s.onChange(before, keys)
	}
	return nil
}

// save writes every key.
func (s *KeyStore) save() error {
	list := make([]APIKey, 0, len(s.keys))
	for _, k := range s.keys {
		list = append(list, k)
	}
	slices.SortFunc(list, byCreation)
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.file.path, append(b, '\n')); err != nil {
		return fmt.Errorf("authz: keys: %w", err)
	}
	return s.reload(true)
}

// Create makes a key for tenant with roles, valid for ttl (0: until
// revoked), and returns it: the only time its secret is known.
func (s *KeyStore) Create(name, tenant string, roleNames []string, ttl time.Duration) (string, APIKey, error) {
	s.mu.Lock()
	roles := s.roles
	s.mu.Unlock()
	if err := roles.Check(tenant, roleNames); err != nil {
		return "", APIKey{}, err
	}
	if ttl < 0 {
		return "", APIKey{}, allsource.Errorf(allsource.CodeInvalid, "the lifetime must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return "", APIKey{}, err
	}
	var idb [keyIDLen / 2]byte
	var sb [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", APIKey{}, err
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return "", APIKey{}, err
	}
	id, secret := hex.EncodeToString(idb[:]), base64.RawURLEncoding.EncodeToString(sb[:])
	now := s.now().UTC().Truncate(time.Second)
	k := APIKey{ID: id, Name: name, Tenant: tenant, Roles: slices.Clone(roleNames), Hash: hashSecret(secret), CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		k.ExpiresAt = &exp
	}
	s.keys[id] = k
	if err := s.save(); err != nil {
		return "", APIKey{}, err
	}
	return keyPrefix + id + "_" + secret, k, nil
}

// Revoke ends a key at once.
func (s *KeyStore) Revoke(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return err
	}
	k, ok := s.keys[id]
	if !ok {
		return allsource.Errorf(allsource.CodeNotFound, "no API key %q", id)
	}
	if k.RevokedAt == nil {
		now := s.now().UTC()
		k.RevokedAt = &now
		s.keys[id] = k
	}
	return s.save()
}

// List returns the keys (hashes included), oldest first.
func (s *KeyStore) List() ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(false); err != nil {
		return nil, err
	}
	out := make([]APIKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, byCreation)
	return out, nil
}

func byCreation(a, b APIKey) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// errBadKey is the answer for every key that does not authenticate, so a
// caller learns nothing about which ids exist.
var errBadKey = allsource.Errorf(allsource.CodeUnauthorized, "invalid, expired or revoked API key")

// Verify returns the principal of a key.
func (s *KeyStore) Verify(token string) (allsource.Principal, error) {
	id, secret, ok := ParseAPIKey(token)
	if !ok {
		return allsource.Principal{}, allsource.Errorf(allsource.CodeUnauthorized, "malformed API key (want ask_<16 hex>_<43 base64url>)")
	}
	s.mu.Lock()
	now := s.now()
	if s.file.due(now) {
		if err := s.reload(false); err != nil {
			s.mu.Unlock()
			return allsource.Principal{}, err
		}
	}
	k, found := s.keys[id]
	if !found {
		// A key created a moment ago is not refused for want of the next
		// look at the file (a look costs a stat; it reads only a change).
		if err := s.reload(false); err == nil {
			k, found = s.keys[id]
		}
	}
	s.mu.Unlock()
	want := k.Hash
	if !found {
		want = strings.Repeat("0", sha256.Size*2) // compare anyway: same time
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(want)) != 1 || !found {
		return allsource.Principal{}, errBadKey
	}
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return allsource.Principal{}, errBadKey
	}
	return allsource.Principal{Subject: "key:" + k.ID, Tenant: k.Tenant, Roles: slices.Clone(k.Roles), Via: "api_key"}, nil
}

// writeFileAtomic replaces path with b (mode 0600): a temporary file in
// the same directory, synced, renamed over it, and the directory synced.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this finds nothing
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
