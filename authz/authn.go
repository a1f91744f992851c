package authz

import (
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/allsource/allsource"
)

// KeysFile and SecretFile are where a data dir keeps its API keys and the
// secret that signs and verifies its HS256 tokens.
func KeysFile(dataDir string) string   { return filepath.Join(dataDir, "auth", "keys.json") }
func SecretFile(dataDir string) string { return filepath.Join(dataDir, "auth", "token-hs256.key") }

// Authenticator turns a credential (an API key or a JWT, as a bearer
// token or a Postgres password) into a principal.
type Authenticator struct {
	Keys  *KeyStore    // nil: no API keys
	JWT   *JWTVerifier // nil: no tokens
	Users *UserStore   // nil: no password accounts

	// Verified tokens are remembered until they expire (at most
	// tokenCacheTTL), so a client sending the same token with every
	// request pays for its signature once.
	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	p     allsource.Principal
	until time.Time
}

const (
	tokenCacheTTL  = time.Minute
	tokenCacheSize = 10_000
)

// Authenticate checks credential.
func (a *Authenticator) Authenticate(credential string) (allsource.Principal, error) {
	credential = strings.TrimSpace(credential)
	switch {
	case credential == "":
		return allsource.Principal{}, allsource.Errorf(allsource.CodeUnauthorized, "credentials required: send Authorization: Bearer <API key or token>")
	case LooksLikeAPIKey(credential):
		if a.Keys == nil {
			return allsource.Principal{}, errBadKey
		}
		return a.Keys.Verify(credential)
	case strings.Count(credential, ".") == 2:
		if a.JWT == nil {
			return allsource.Principal{}, allsource.Errorf(allsource.CodeUnauthorized, "tokens are not accepted: no signing key is configured")
		}
		return a.verifyToken(credential)
	}
	return allsource.Principal{}, allsource.Errorf(allsource.CodeUnauthorized, "the credential is neither an API key (ask_…) nor a JWT")
}

func (a *Authenticator) verifyToken(tok string) (allsource.Principal, error) {
	now := time.Now()
	a.mu.Lock()
	c, ok := a.tokens[tok]
	a.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, nil
	}
	p, exp, err := a.JWT.verify(tok)
	if err != nil {
		return p, err
	}
	until := now.Add(tokenCacheTTL)
	if exp.Before(until) {
		until = exp
	}
	a.mu.Lock()
	if a.tokens == nil || len(a.tokens) >= tokenCacheSize {
		a.tokens = make(map[string]cachedToken)
	}
	a.tokens[tok] = cachedToken{p, until}
	a.mu.Unlock()
	return p, nil
}

// Password checks a user's password (HTTP Basic; pgwire uses SCRAM with
// the user's verifier instead).
func (a *Authenticator) Password(user, password string) (allsource.Principal, error) {
	if a.Users == nil {
		return allsource.Principal{}, errBadPassword
	}
	return a.Users.CheckPassword(user, password)
}
