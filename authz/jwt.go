package authz

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/allsource/allsource"
)

// Claims are the JWT claims AllSource reads: the registered ones (sub,
// exp, nbf, iss, aud …) and the tenant and roles the token grants.
type Claims struct {
	jwt.RegisteredClaims
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
}

// PublicKey verifies tokens signed by its private half. Its algorithm is
// pinned by its type: RSA keys verify RS256 only, Ed25519 keys EdDSA only.
type PublicKey struct {
	ID  string // matched against a token's kid when the token has one
	Key crypto.PublicKey
}

func (k PublicKey) alg() string {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// LoadPublicKey reads a PEM public key (PKIX "PUBLIC KEY" or PKCS#1 "RSA
// PUBLIC KEY"), RSA of at least 2048 bits or Ed25519. Its id is the file
// name without extension.
func LoadPublicKey(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return PublicKey{}, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch blk.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return PublicKey{}, fmt.Errorf("%s: PEM block %q is not a public key", path, blk.Type)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	id := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return PublicKey{}, fmt.Errorf("%s: an RSA key of %d bits is too weak (want 2048 or more)", path, k.N.BitLen())
		}
		return PublicKey{ID: id, Key: k}, nil
	case ed25519.PublicKey:
		return PublicKey{ID: id, Key: k}, nil
	}
	return PublicKey{}, fmt.Errorf("%s: %T keys are not supported (use RSA or Ed25519)", path, key)
}

// JWTConfig says which tokens are accepted.
type JWTConfig struct {
	// HS256Secret verifies HS256 tokens (the ones `allsource token issue`
	// signs); nil accepts none.
	HS256Secret []byte
	// HS256SecretFile, when set, is where the secret is kept: it is read
	// again when it changes (looked at every half second), so a secret
	// made by `allsource token issue` after the server started is used
	// at once.
	HS256SecretFile string
	PublicKeys      []PublicKey
	// Issuer and Audience, when set, must be the token's iss and among its
	// aud.
	Issuer   string
	Audience string
	// Leeway is the clock skew allowed on exp and nbf: default 30 s, at
	// most 5 minutes.
	Leeway time.Duration
	// Roles are the custom roles a token may name besides the built-in
	// ones (nil: the built-in roles only).
	Roles *Roles
}

// JWTVerifier checks tokens against a JWTConfig.
type JWTVerifier struct {
	cfg     JWTConfig
	methods []string
	opts    []jwt.ParserOption

	secretMu sync.Mutex
	secret   []byte   // the HS256 secret in force; guarded by secretMu
	file     *watched // HS256SecretFile; guarded by secretMu
}

// NewJWTVerifier validates cfg.
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	if cfg.HS256Secret != nil && len(cfg.HS256Secret) < 32 {
		return nil, fmt.Errorf("authz: the HS256 secret must be at least 32 bytes")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Leeway < 0 || cfg.Leeway > 5*time.Minute {
		return nil, fmt.Errorf("authz: clock skew leeway %v is out of range (0 to 5m)", cfg.Leeway)
	}
	v := &JWTVerifier{cfg: cfg, secret: cfg.HS256Secret}
	if cfg.HS256SecretFile != "" {
		v.file = &watched{path: cfg.HS256SecretFile, what: "token secret"}
		if st, err := os.Stat(cfg.HS256SecretFile); err == nil {
			v.file.stamp = fileStamp{st.ModTime(), st.Size()}
		}
		v.file.checked = time.Now()
	}
	if cfg.HS256Secret != nil || v.file != nil {
		v.methods = append(v.methods, "HS256")
	}
	for _, k := range cfg.PublicKeys {
		a := k.alg()
		if a == "" {
			return nil, fmt.Errorf("authz: key %q: unsupported key type %T", k.ID, k.Key)
		}
		if !slices.Contains(v.methods, a) {
			v.methods = append(v.methods, a)
		}
	}
	v.opts = []jwt.ParserOption{jwt.WithValidMethods(v.methods), jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt()}
	if cfg.Issuer != "" {
		v.opts = append(v.opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		v.opts = append(v.opts, jwt.WithAudience(cfg.Audience))
	}
	return v, nil
}

// keyFor picks the keys of the token's algorithm (and kid, when given):
// a token can only be checked with a key pinned to the algorithm it
// names, so an HS256 token is never checked against a public key.
func (v *JWTVerifier) keyFor(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kid, hasKid := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	if secret := v.hs256Secret(); alg == "HS256" && secret != nil && (!hasKid || kid == "local") {
		set.Keys = append(set.Keys, secret)
	}
	for _, k := range v.cfg.PublicKeys {
		if k.alg() == alg && (!hasKid || kid == k.ID) {
			set.Keys = append(set.Keys, k.Key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no key for algorithm %q", alg)
	}
	return set, nil
}

// hs256Secret is the HS256 secret in force, read again from its file when
// that changed (a secret that does not parse keeps the one before, and
// is logged by nobody: the CLI writes it whole, atomically).
func (v *JWTVerifier) hs256Secret() []byte {
	v.secretMu.Lock()
	defer v.secretMu.Unlock()
	if v.file == nil || !v.file.due(time.Now()) {
		return v.secret
	}
	snap, changed, err := v.file.look(false)
	if err != nil || !changed {
		return v.secret
	}
	if snap.gone {
		v.secret, v.file.stamp = nil, fileStamp{}
		return nil
	}
	if s, err := hex.DecodeString(strings.TrimSpace(string(snap.data))); err == nil && len(s) >= 32 {
		v.secret, v.file.stamp = s, snap.stamp
	}
	return v.secret
}

// Verify checks a token and returns its principal.
func (v *JWTVerifier) Verify(token string) (allsource.Principal, error) {
	p, _, err := v.verify(token)
	return p, err
}

// verify also returns when the token expires (plus the leeway).
func (v *JWTVerifier) verify(token string) (allsource.Principal, time.Time, error) {
	fail := func(format string, args ...any) (allsource.Principal, time.Time, error) {
		return allsource.Principal{}, time.Time{}, allsource.Errorf(allsource.CodeUnauthorized, format, args...)
	}
	if len(v.methods) == 0 {
		return fail("tokens are not accepted: no signing key is configured")
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, v.keyFor, v.opts...)
	if err != nil {
		return fail("invalid token: %s", tokenProblem(err))
	}
	if c.Subject == "" {
		return fail("invalid token: no sub claim")
	}
	if c.Tenant == "" {
		return fail("invalid token: no tenant claim")
	}
	if err := v.cfg.Roles.Check(c.Tenant, c.Roles); err != nil {
		return fail("invalid token: roles: %s", err.(*allsource.Error).Message)
	}
	return allsource.Principal{Subject: c.Subject, Tenant: c.Tenant, Roles: c.Roles, Via: "jwt"}, c.ExpiresAt.Add(v.cfg.Leeway), nil
}

// tokenProblem says what was wrong, in words that reveal no key material.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim (exp) is missing"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signature not valid or algorithm not accepted"
	}
	return "not accepted"
}

// IssueHS256 signs claims for tenant and roles, valid for ttl from now.
// The tenant and the form of the role names are checked here (admin goes
// with "*" and only there); whether a custom role exists is the
// verifier's to decide (JWTConfig.Roles), so check the names with
// Roles.Check first.
func IssueHS256(secret []byte, subject, tenant string, roleNames []string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < 32 {
		return "", fmt.Errorf("authz: the HS256 secret must be at least 32 bytes")
	}
	if err := checkGrant(tenant, roleNames, nil); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return "", allsource.Errorf(allsource.CodeInvalid, "the lifetime must be positive and at most a year, got %v", ttl)
	}
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: subject, IssuedAt: jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}, Tenant: tenant, Roles: roleNames}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = "local"
	return t.SignedString(secret)
}

// LoadOrCreateSecret reads the HS256 secret at path (hex), creating a
// random 32-byte one (mode 0600) when the file does not exist.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var s [32]byte
		if _, err := rand.Read(s[:]); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(s[:])+"\n")); err != nil {
			return nil, fmt.Errorf("authz: token secret: %w", err)
		}
		return s[:], nil
	}
	if err != nil {
		return nil, fmt.Errorf("authz: token secret: %w", err)
	}
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(s) < 32 {
		return nil, fmt.Errorf("authz: token secret %s: want at least 64 hex digits", path)
	}
	return s, nil
}

// ReadSecret reads the HS256 secret at path; ok is false when there is
// none.
func ReadSecret(path string) (secret []byte, ok bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	s, err := LoadOrCreateSecret(path)
	return s, err == nil, err
}
