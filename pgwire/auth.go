package pgwire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/boundary"
	"github.com/allsource/allsource/pgwire/pgsql"
)

// scramIterations is the PBKDF2 work factor, PostgreSQL's default.
const scramIterations = 4096

// scramVerifier is what the server keeps of a password (RFC 5802): the
// salt, the iteration count, StoredKey and ServerKey.
type scramVerifier struct {
	salt       []byte
	iters      int
	storedKey  []byte
	serverKey  []byte
	unknownUsr bool // a decoy for a user that does not exist
}

func newScramVerifier(password string) (*scramVerifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return scramFromSalt(password, salt, scramIterations)
}

func scramFromSalt(password string, salt []byte, iters int) (*scramVerifier, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iters, sha256.Size)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &scramVerifier{salt: salt, iters: iters, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// authError is a failed login; the client gets SQLSTATE code and message
// and the connection is closed without ReadyForQuery.
type authError struct {
	code, msg string
}

func (e *authError) Error() string { return e.msg }

func passwordFailed(user string) error {
	return &authError{code: "28P01", msg: fmt.Sprintf("password authentication failed for user %q", user)}
}

// authenticate runs the configured exchange through the Gate's login (its
// throttle per user name and address, and the audit of failures). It
// returns nil once the client proved who it is.
func (c *conn) authenticate(user string) error {
	at := boundary.Attempt{Interface: "pgwire", Remote: remoteHost(c.nc.RemoteAddr()), Name: user}
	_, err := c.srv.opts.Gate.Login(at, func() (allsource.Principal, error) {
		err := c.authenticateOnce(user)
		var ae *authError
		if err != nil && !(errors.As(err, &ae) && (ae.code == "28P01" || ae.code == "28000")) {
			// The client went away or broke the protocol: not a guess.
			return allsource.Principal{}, fmt.Errorf("%w: %w", boundary.ErrNotCredential, err)
		}
		if err != nil {
			return allsource.Principal{}, err
		}
		if p := c.sess.principal; p != nil {
			return *p, nil
		}
		return allsource.Principal{Subject: user}, nil
	})
	if err != nil && !errors.As(err, new(*authError)) && allsource.ErrorCode(err) == allsource.CodeRateLimited {
		return &authError{code: "28000", msg: errorMessage(err)}
	}
	return err
}

// remoteHost is the address a client connects from, without the port.
func remoteHost(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

func (c *conn) authenticateOnce(user string) error {
	s := c.srv
	if _, configured := s.opts.Users[user]; !configured && s.opts.Gate.On() {
		// An account logs in with its password over SCRAM; any other name
		// with an API key or a token as the password.
		if us := s.opts.Gate.Authn().Users; us != nil {
			if u, p, ok := us.Lookup(user); ok {
				v := &scramVerifier{salt: u.Verifier.Salt, iters: u.Verifier.Iterations, storedKey: u.Verifier.StoredKey, serverKey: u.Verifier.ServerKey}
				if err := c.authSCRAM(user, v); err != nil {
					return err
				}
				c.sess.principal = &p
				return nil
			}
		}
		return c.authCredential(user)
	}
	if len(s.opts.Users) > 0 && s.opts.Gate.On() {
		// A configured user: the server's operator, over every tenant.
		defer func() {
			c.sess.principal = &allsource.Principal{Subject: user, Tenant: allsource.AllTenants, Roles: []string{authz.RoleAdmin}, Via: "password"}
		}()
	}
	if len(s.opts.Users) == 0 {
		if !isLoopback(c.nc.RemoteAddr()) {
			return &authError{code: "28000", msg: fmt.Sprintf("no credentials are configured, so only loopback clients may connect; %s is not loopback (start the server with --pg-user and --pg-password)", c.nc.RemoteAddr())}
		}
		return nil
	}
	if s.opts.Auth == "password" {
		return c.authCleartext(user)
	}
	return c.authSCRAM(user, c.srv.scram[user])
}

// cleartextPassword asks the client for its password in clear and reads
// it (the caller has checked the channel is TLS or loopback).
func (c *conn) cleartextPassword() (string, error) {
	c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := c.flush(); err != nil {
		return "", err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return "", err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return "", err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return "", &authError{code: "08P01", msg: fmt.Sprintf("expected a password message, got %T", msg)}
	}
	return pm.Password, nil
}

func (c *conn) authCleartext(user string) error {
	if !c.tls {
		return &authError{code: "28000", msg: "password authentication requires an SSL connection (connect with sslmode=require)"}
	}
	password, err := c.cleartextPassword()
	if err != nil {
		return err
	}
	want, known := c.srv.opts.Users[user]
	if !known || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return passwordFailed(user)
	}
	return nil
}

// authCredential takes an API key or a token as the password. It is
// sent in clear, so only over TLS or from loopback.
func (c *conn) authCredential(user string) error {
	if !c.tls && !isLoopback(c.nc.RemoteAddr()) {
		return &authError{code: "28000", msg: "logging in with an API key or token requires an SSL connection (connect with sslmode=require)"}
	}
	password, err := c.cleartextPassword()
	if err != nil {
		return err
	}
	p, err := c.srv.opts.Gate.Authn().Authenticate(password)
	if err != nil {
		return &authError{code: "28P01", msg: fmt.Sprintf("authentication failed for user %q: %s", user, errorMessage(err))}
	}
	tenant := sessionTenant(p, c.srv.opts.Tenant)
	roles := c.srv.opts.Gate.Policies().Roles()
	if !roles.Allows(p, authz.ActionQuery, tenant) && !roles.Allows(p, authz.ActionAppend, tenant) {
		return &authError{code: "28000", msg: fmt.Sprintf("role %s may neither query nor append", strings.Join(p.Roles, ", "))}
	}
	c.sess.principal = &p
	return nil
}

// errorMessage is the user-facing message of err.
func errorMessage(err error) string {
	var e *allsource.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "not accepted"
}

// sessionTenant is the tenant a principal's session works in: its own,
// or def for an administrator of every tenant.
func sessionTenant(p allsource.Principal, def string) string {
	if p.Tenant == allsource.AllTenants {
		return def
	}
	return p.Tenant
}

// authorize checks that the session may do a, through its admitted
// scope (a refusal is recorded there).
func (c *conn) authorize(a authz.Action) error {
	if err := c.sess.scope.Authorize(a); err != nil {
		return &pgsql.Error{Code: "42501", Message: "permission denied: " + errorMessage(err)}
	}
	return nil
}

// authSCRAM runs a SCRAM-SHA-256 exchange against v (nil: the user does
// not exist).
func (c *conn) authSCRAM(user string, v *scramVerifier) error {
	if v == nil {
		// Run the whole exchange with a decoy so an unknown user looks
		// like a wrong password: a salt of the same length, stable per
		// name (derived from a per-server secret), and no key derivation
		// that would take a different time.
		salt := hmacSHA256(c.srv.decoyKey, "salt:"+user)[:16]
		key := make([]byte, sha256.Size)
		rand.Read(key)
		v = &scramVerifier{salt: salt, iters: scramIterations, storedKey: key, serverKey: key, unknownUsr: true}
	}
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return &authError{code: "08P01", msg: fmt.Sprintf("expected SASLInitialResponse, got %T", msg)}
	}
	if init.AuthMechanism != "SCRAM-SHA-256" {
		return &authError{code: "28000", msg: fmt.Sprintf("SASL mechanism %q is not supported (use SCRAM-SHA-256)", init.AuthMechanism)}
	}
	clientFirst := string(init.Data)
	gs2, bare, ok := splitGS2(clientFirst)
	if !ok {
		return &authError{code: "08P01", msg: "malformed SCRAM client-first-message"}
	}
	if strings.HasPrefix(gs2, "p") {
		return &authError{code: "28000", msg: "SCRAM channel binding is not supported; connect with channel_binding=disable or prefer"}
	}
	clientNonce := scramAttr(bare, 'r')
	if clientNonce == "" {
		return &authError{code: "08P01", msg: "SCRAM client-first-message has no nonce"}
	}
	nonce := clientNonce + randomString(18)
	serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(v.salt) + ",i=" + strconv.Itoa(v.iters)
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = c.be.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return &authError{code: "08P01", msg: fmt.Sprintf("expected SASLResponse, got %T", msg)}
	}
	final := string(resp.Data)
	i := strings.LastIndex(final, ",p=")
	if i < 0 {
		return &authError{code: "08P01", msg: "SCRAM client-final-message has no proof"}
	}
	withoutProof, proofB64 := final[:i], final[i+3:]
	if scramAttr(withoutProof, 'r') != nonce {
		return &authError{code: "08P01", msg: "SCRAM nonce mismatch"}
	}
	if cb := scramAttr(withoutProof, 'c'); cb != base64.StdEncoding.EncodeToString([]byte(gs2)) {
		return &authError{code: "08P01", msg: "SCRAM channel binding data mismatch"}
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return &authError{code: "08P01", msg: "malformed SCRAM proof"}
	}
	authMsg := bare + "," + serverFirst + "," + withoutProof
	sig := hmacSHA256(v.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	for k := range proof {
		clientKey[k] = proof[k] ^ sig[k]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], v.storedKey) != 1 || v.unknownUsr {
		return passwordFailed(user)
	}
	serverSig := hmacSHA256(v.serverKey, authMsg)
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return nil
}

// splitGS2 splits "n,,n=user,r=nonce" into the GS2 header ("n,,") and the
// bare message.
func splitGS2(msg string) (gs2, bare string, ok bool) {
	first := strings.IndexByte(msg, ',')
	if first < 0 {
		return "", "", false
	}
	second := strings.IndexByte(msg[first+1:], ',')
	if second < 0 {
		return "", "", false
	}
	cut := first + 1 + second + 1
	return msg[:cut], msg[cut:], true
}

// scramAttr returns attribute name's value from "a=x,b=y".
func scramAttr(msg string, name byte) string {
	for _, part := range strings.Split(msg, ",") {
		if len(part) >= 2 && part[0] == name && part[1] == '=' {
			return part[2:]
		}
	}
	return ""
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}
