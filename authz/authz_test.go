package authz

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/allsource/allsource"
)

func TestAllows(t *testing.T) {
	p := func(tenant string, roles ...string) allsource.Principal {
		return allsource.Principal{Subject: "s", Tenant: tenant, Roles: roles}
	}
	cases := []struct {
		p      allsource.Principal
		a      Action
		tenant string
		want   bool
	}{
		{p("*", RoleAdmin), ActionManageTenants, "acme", true},
		{p("*", RoleAdmin), ActionQuery, "other", true},
		{p("acme", RoleAdmin), ActionQuery, "acme", false}, // admin outside "*" is ignored
		{p("acme", RoleTenantAdmin), ActionManageKeys, "acme", true},
		{p("acme", RoleTenantAdmin), ActionManageTenants, "acme", false},
		{p("acme", RoleTenantAdmin), ActionQuery, "other", false},
		{p("acme", RoleWriter), ActionAppend, "acme", true},
		{p("acme", RoleWriter), ActionQuery, "acme", false},
		{p("acme", RoleReader), ActionQuery, "acme", true},
		{p("acme", RoleReader), ActionAnalytics, "acme", false},
		{p("acme", RoleAnalyst), ActionAnalytics, "acme", true},
		{p("acme", RoleAnalyst), ActionAppend, "acme", false},
		{p("acme", RoleWriter, RoleReader), ActionQuery, "acme", true},
		{p("acme", "superuser"), ActionQuery, "acme", false},
		{p("acme"), ActionQuery, "acme", false},
	}
	var r *Roles // the built-in roles
	for _, c := range cases {
		if got := r.Allows(c.p, c.a, c.tenant); got != c.want {
			t.Errorf("%+v %s in %s: %v, want %v", c.p, c.a, c.tenant, got, c.want)
		}
		err := r.Authorize(c.p, c.a, c.tenant)
		if (err == nil) != c.want || (err != nil && allsource.ErrorCode(err) != allsource.CodeForbidden) {
			t.Errorf("Authorize %+v %s in %s: %v", c.p, c.a, c.tenant, err)
		}
	}
}

func TestCheckRoles(t *testing.T) {
	for _, c := range []struct {
		tenant string
		roles  []string
		ok     bool
	}{
		{"acme", []string{RoleReader, RoleWriter}, true},
		{"*", []string{RoleAdmin}, true},
		{"acme", []string{RoleAdmin}, false},
		{"*", []string{RoleReader}, false},
		{"acme", nil, false},
		{"acme", []string{"root"}, false},
		{"_audit", []string{RoleReader}, false},
		{"a/b", []string{RoleReader}, false},
		{"", []string{RoleReader}, false},
	} {
		if err := (*Roles)(nil).Check(c.tenant, c.roles); (err == nil) != c.ok {
			t.Errorf("%s %v: %v", c.tenant, c.roles, err)
		}
	}
}

func TestKeyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "keys.json")
	s, err := OpenKeyStore(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	key, k, err := s.Create("ci", "acme", []string{RoleWriter}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), key[len(key)-keySecretLen:]) {
		t.Fatal("the secret is stored in clear")
	}
	p, err := s.Verify(key)
	if err != nil || p.Tenant != "acme" || p.Roles[0] != RoleWriter || p.Via != "api_key" || p.Subject != "key:"+k.ID {
		t.Fatalf("verify: %+v %v", p, err)
	}
	// Another store (the server) sees keys the first (the CLI) creates.
	server, err := OpenKeyStore(path)
	if err != nil {
		t.Fatal(err)
	}
	server.now = s.now
	now = now.Add(time.Second)
	key2, k2, err := s.Create("later", "beta", []string{RoleReader}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second) // past the reload interval
	if p, err := server.Verify(key2); err != nil || p.Tenant != "beta" {
		t.Fatalf("new key on the server: %+v %v", p, err)
	}
	// A wrong secret for a real id, a made-up id, junk.
	wrong := key[:len(key)-1] + map[bool]string{true: "A", false: "B"}[key[len(key)-1] != 'A']
	for _, bad := range []string{wrong, "ask_0123456789abcdef_" + strings.Repeat("A", keySecretLen), "ask_zz", "hello"} {
		if _, err := server.Verify(bad); allsource.ErrorCode(err) != allsource.CodeUnauthorized {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// Revocation reaches the server; expiry ends a key.
	if err := s.Revoke(k2.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if _, err := server.Verify(key2); allsource.ErrorCode(err) != allsource.CodeUnauthorized {
		t.Fatalf("revoked key: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := server.Verify(key); allsource.ErrorCode(err) != allsource.CodeUnauthorized {
		t.Fatalf("expired key: %v", err)
	}
	if err := s.Revoke("0000000000000000"); allsource.ErrorCode(err) != allsource.CodeNotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Name != "ci" || list[1].RevokedAt == nil {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, _, err := s.Create("x", "acme", []string{RoleAdmin}, 0); err == nil {
		t.Fatal("admin key for one tenant")
	}
	// A corrupt file is an error, not an empty store.
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := OpenKeyStore(path); err == nil {
		t.Fatal("corrupt keys file accepted")
	}
}

func mustRSA(t testing.TB) (*rsa.PrivateKey, []byte) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return k, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestJWT(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	rsaKey, rsaPEM := mustRSA(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rsa1.pem"), rsaPEM, 0o600)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	os.WriteFile(filepath.Join(dir, "ed1.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}), 0o600)
	rk, err := LoadPublicKey(filepath.Join(dir, "rsa1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ek, err := LoadPublicKey(filepath.Join(dir, "ed1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewJWTVerifier(JWTConfig{HS256Secret: secret, PublicKeys: []PublicKey{rk, ek}, Audience: "allsource", Issuer: "https://idp.example"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(mod func(*Claims)) Claims {
		c := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "ana", Issuer: "https://idp.example", Audience: jwt.ClaimStrings{"allsource"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}, Tenant: "acme", Roles: []string{RoleAnalyst}}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c Claims, kid string) string {
		tk := jwt.NewWithClaims(m, c)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := map[string]string{
		"HS256":       sign(jwt.SigningMethodHS256, secret, claims(nil), ""),
		"RS256":       sign(jwt.SigningMethodRS256, rsaKey, claims(nil), "rsa1"),
		"EdDSA":       sign(jwt.SigningMethodEdDSA, edPriv, claims(nil), ""),
		"small skew":  sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Second)) }), ""),
		"admin in *":  sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Tenant, c.Roles = "*", []string{RoleAdmin} }), ""),
		"several aud": sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"x", "allsource"} }), ""),
	}
	for name, tok := range good {
		p, err := v.Verify(tok)
		if err != nil || p.Subject != "ana" || p.Via != "jwt" {
			t.Errorf("%s: %+v %v", name, p, err)
		}
	}
	otherRSA, _ := mustRSA(t)
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	bad := map[string]string{
		"expired":         sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }), ""),
		"no exp":          sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.ExpiresAt = nil }), ""),
		"not yet":         sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }), ""),
		"wrong audience":  sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} }), ""),
		"wrong issuer":    sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Issuer = "evil" }), ""),
		"wrong secret":    sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), claims(nil), ""),
		"alg none":        noneTok,
		"HS with RSA pem": sign(jwt.SigningMethodHS256, rsaPEM, claims(nil), ""), // key confusion
		"HS with kid":     sign(jwt.SigningMethodHS256, secret, claims(nil), "rsa1"),
		"unknown RSA":     sign(jwt.SigningMethodRS256, otherRSA, claims(nil), ""),
		"RS as EdDSA kid": sign(jwt.SigningMethodRS256, rsaKey, claims(nil), "ed1"),
		"HS384":           sign(jwt.SigningMethodHS384, secret, claims(nil), ""),
		"no tenant":       sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Tenant = "" }), ""),
		"no subject":      sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Subject = "" }), ""),
		"admin in tenant": sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Roles = []string{RoleAdmin} }), ""),
		"unknown role":    sign(jwt.SigningMethodHS256, secret, claims(func(c *Claims) { c.Roles = []string{"root"} }), ""),
		"junk":            "a.b.c",
	}
	for name, tok := range bad {
		if p, err := v.Verify(tok); allsource.ErrorCode(err) != allsource.CodeUnauthorized {
			t.Errorf("%s: accepted as %+v (%v)", name, p, err)
		}
	}
	// Tokens from IssueHS256 verify, and say why when they do not.
	tok, err := IssueHS256(secret, "cli", "acme", []string{RoleWriter}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := NewJWTVerifier(JWTConfig{HS256Secret: secret})
	if p, err := local.Verify(tok); err != nil || p.Tenant != "acme" {
		t.Fatalf("issued token: %+v %v", p, err)
	}
	old, _ := IssueHS256(secret, "cli", "acme", []string{RoleWriter}, time.Minute, now.Add(-time.Hour))
	if _, err := local.Verify(old); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired issued token: %v", err)
	}
	if _, err := NewJWTVerifier(JWTConfig{HS256Secret: []byte("short")}); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "token-hs256.key")
	if _, ok, err := ReadSecret(path); ok || err != nil {
		t.Fatalf("no file: %v %v", ok, err)
	}
	a, err := LoadOrCreateSecret(path)
	if err != nil || len(a) != 32 {
		t.Fatal(err)
	}
	b, ok, err := ReadSecret(path)
	if !ok || err != nil || string(a) != string(b) {
		t.Fatalf("reread: %v %v", ok, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestAuthenticator(t *testing.T) {
	dir := t.TempDir()
	ks, _ := OpenKeyStore(KeysFile(dir))
	key, _, _ := ks.Create("k", "acme", []string{RoleReader}, 0)
	secret, _ := LoadOrCreateSecret(SecretFile(dir))
	jv, _ := NewJWTVerifier(JWTConfig{HS256Secret: secret})
	tok, _ := IssueHS256(secret, "u", "beta", []string{RoleWriter}, time.Hour, time.Now())
	a := &Authenticator{Keys: ks, JWT: jv}
	if p, err := a.Authenticate(key); err != nil || p.Tenant != "acme" {
		t.Fatalf("key: %+v %v", p, err)
	}
	if p, err := a.Authenticate(" " + tok + " "); err != nil || p.Tenant != "beta" {
		t.Fatalf("token: %+v %v", p, err)
	}
	for _, bad := range []string{"", "password123", "ask_nope", "x.y.z"} {
		if _, err := a.Authenticate(bad); allsource.ErrorCode(err) != allsource.CodeUnauthorized {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := (&Authenticator{}).Authenticate(tok); err == nil {
		t.Fatal("token accepted without a verifier")
	}
}

func FuzzParseAPIKey(f *testing.F) {
	f.Add("ask_0123456789abcdef_" + strings.Repeat("A", keySecretLen))
	f.Add("ask_")
	f.Add("ask_0123456789abcdeg_" + strings.Repeat("A", keySecretLen))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := ParseAPIKey(s)
		if ok && keyPrefix+id+"_"+secret != s {
			t.Fatalf("%q parsed as %q %q", s, id, secret)
		}
	})
}

// FuzzVerifyJWT: no input crashes the verifier, and nothing but a token
// signed with the secret is accepted.
func FuzzVerifyJWT(f *testing.F) {
	secret := []byte(strings.Repeat("k", 32))
	v, _ := NewJWTVerifier(JWTConfig{HS256Secret: secret})
	tok, _ := IssueHS256(secret, "u", "acme", []string{RoleReader}, time.Hour, time.Now())
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := v.Verify(s)
		if err == nil && s != tok {
			// Only a differently encoded copy of a signed token may pass:
			// it must still carry the signed claims.
			if p.Subject != "u" || p.Tenant != "acme" {
				t.Fatalf("%q accepted as %+v", s, p)
			}
		}
	})
}

func BenchmarkAuthorize(b *testing.B) {
	p := allsource.Principal{Subject: "s", Tenant: "acme", Roles: []string{RoleWriter, RoleAnalyst}}
	var r *Roles
	for b.Loop() {
		if r.Authorize(p, ActionAnalytics, "acme") != nil {
			b.Fatal("denied")
		}
	}
}

func BenchmarkVerifyAPIKey(b *testing.B) {
	s, _ := OpenKeyStore(filepath.Join(b.TempDir(), "keys.json"))
	key, _, _ := s.Create("b", "acme", []string{RoleWriter}, 0)
	for b.Loop() {
		if _, err := s.Verify(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyJWT(b *testing.B) {
	secret := []byte(strings.Repeat("k", 32))
	v, _ := NewJWTVerifier(JWTConfig{HS256Secret: secret})
	tok, _ := IssueHS256(secret, "u", "acme", []string{RoleReader}, time.Hour, time.Now())
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateToken: a token sent again is not verified again.
func BenchmarkAuthenticateToken(b *testing.B) {
	secret := []byte(strings.Repeat("k", 32))
	v, _ := NewJWTVerifier(JWTConfig{HS256Secret: secret})
	tok, _ := IssueHS256(secret, "u", "acme", []string{RoleReader}, time.Hour, time.Now())
	a := &Authenticator{JWT: v}
	var r *Roles
	for b.Loop() {
		p, err := a.Authenticate(tok)
		if err != nil {
			b.Fatal(err)
		}
		if r.Authorize(p, ActionQuery, "acme") != nil {
			b.Fatal("denied")
		}
	}
}

func TestJWKS(t *testing.T) {
	rsaKey, _ := mustRSA(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set := fmt.Sprintf(`{"keys": [
	  {"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": %q, "e": "AQAB"},
	  {"kty": "OKP", "crv": "Ed25519", "kid": "e1", "x": %q}]}`, b64(rsaKey.N.Bytes()), b64(edPub))
	keys, err := ParseJWKS([]byte(set))
	if err != nil || len(keys) != 2 {
		t.Fatalf("parse: %v %d", err, len(keys))
	}
	v, err := NewJWTVerifier(JWTConfig{PublicKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "s", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}, Tenant: "acme", Roles: []string{RoleReader}}
	for _, m := range []struct {
		method jwt.SigningMethod
		key    any
		kid    string
		ok     bool
	}{
		{jwt.SigningMethodRS256, rsaKey, "r1", true},
		{jwt.SigningMethodEdDSA, edPriv, "e1", true},
		{jwt.SigningMethodEdDSA, edPriv, "r1", false}, // kid of the other key
	} {
		tk := jwt.NewWithClaims(m.method, c)
		tk.Header["kid"] = m.kid
		s, _ := tk.SignedString(m.key)
		if _, err := v.Verify(s); (err == nil) != m.ok {
			t.Errorf("%s kid %s: %v", m.method.Alg(), m.kid, err)
		}
	}
	for _, bad := range []string{
		`{"keys": []}`,
		`{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}`,
		`{"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}]}`,
		fmt.Sprintf(`{"keys": [{"kty": "RSA", "kid": "x", "alg": "HS256", "n": %q, "e": "AQAB"}]}`, b64(rsaKey.N.Bytes())),
		fmt.Sprintf(`{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "x", "x": %q, "d": "AA"}]}`, b64(edPub)),
		`{"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]}`,
		`{"keys": [{"kty": "EC", "kid": "x", "crv": "P-256"}]}`,
	} {
		if _, err := ParseJWKS([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
