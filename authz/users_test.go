package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func TestUserStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "users.json")
	s, err := OpenUserStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUser("ana", "acme", []string{RoleAnalyst}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if b, _ := os.ReadFile(path); len(b) == 0 || contains(b, "correct horse") {
		t.Fatal("the password is stored")
	}
	p, err := s.CheckPassword("ana", "correct horse battery")
	if err != nil || p.Tenant != "acme" || p.Subject != "user:ana" || p.Via != "password" {
		t.Fatalf("login: %+v %v", p, err)
	}
	for _, c := range [][2]string{{"ana", "correct horse batterY"}, {"bob", "correct horse battery"}, {"", ""}} {
		if _, err := s.CheckPassword(c[0], c[1]); allsource.ErrorCode(err) != allsource.CodeUnauthorized || err.Error() != errBadPassword.Error() {
			t.Errorf("%q: %v", c, err)
		}
	}
	// A new password replaces the old; another store sees it.
	if err := s.SetUser("ana", "acme", []string{RoleReader}, "another long password"); err != nil {
		t.Fatal(err)
	}
	other, _ := OpenUserStore(path)
	if _, err := other.CheckPassword("ana", "correct horse battery"); err == nil {
		t.Fatal("old password still accepted")
	}
	if p, err := other.CheckPassword("ana", "another long password"); err != nil || p.Roles[0] != RoleReader {
		t.Fatalf("new password: %+v %v", p, err)
	}
	for _, bad := range []struct{ name, tenant, pw string }{
		{"ana", "acme", "short"},
		{"a:b", "acme", "long enough password"},
		{"ask_x", "acme", "long enough password"},
		{"ana", "_audit", "long enough password"},
		{"ana", "acme", "long enough password"}, // roles below are empty
	} {
		if err := s.SetUser(bad.name, bad.tenant, nil, bad.pw); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := s.Delete("ana"); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, _, ok := s.Lookup("ana"); ok {
		t.Fatal("deleted user found")
	}
	if err := s.Delete("ana"); allsource.ErrorCode(err) != allsource.CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

// TestVerifierCheck: a verifier accepts its password only, and depends on
// its salt. (That real clients complete SCRAM against it is tested over
// pgwire in cmd/allsource.)
func TestVerifierCheck(t *testing.T) {
	salt := []byte{0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81}
	v, err := verifierFor("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Check("pencil") || v.Check("pencil ") {
		t.Fatal("check")
	}
	w, _ := verifierFor("pencil", append([]byte{1}, salt[1:]...), 4096)
	if string(w.StoredKey) == string(v.StoredKey) {
		t.Fatal("salt ignored")
	}
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestTenantUserNames: a tenant administrator's names live in its
// namespace; other tenants' users, taken or not, are not found; reserved
// names are refused; name@tenant belongs to that tenant.
func TestTenantUserNames(t *testing.T) {
	s, err := OpenUserStore(filepath.Join(t.TempDir(), "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, tenant string }{{"admin", "*"}, {"bob", "beta"}, {"dash@beta", "beta"}, {"ana", "acme"}} {
		roles := []string{RoleReader}
		if u.tenant == "*" {
			roles = []string{RoleAdmin}
		}
		if err := s.SetUser(u.name, u.tenant, roles, "a long enough password"); err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
	}
	for _, c := range []struct {
		name   string
		create bool
		want   string // "" and code: an error
		code   allsource.Code
	}{
		{"ann", true, "ann@acme", ""},
		{"ann@acme", true, "ann@acme", ""},
		{"bob", true, "bob@acme", ""}, // beta's bob is not acme's to see
		{"bob", false, "", allsource.CodeNotFound},
		{"dash@beta", false, "", allsource.CodeNotFound},
		{"dash@beta", true, "", allsource.CodeNotFound},
		{"ghost@beta", true, "", allsource.CodeNotFound}, // the same answer, taken or not
		{"ana", false, "ana", ""},                        // a bare user an administrator made in acme
		{"admin", true, "", allsource.CodeInvalid},
		{"Postgres", true, "", allsource.CodeInvalid},
		{"pg_monitor", true, "", allsource.CodeInvalid},
		{"root@acme", true, "", allsource.CodeInvalid},
		{"a:b", true, "", allsource.CodeInvalid},
	} {
		got, err := s.TenantUserName(c.name, "acme", c.create)
		if c.code != "" {
			if allsource.ErrorCode(err) != c.code {
				t.Errorf("%s (create %v): %q %v, want %s", c.name, c.create, got, err, c.code)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s (create %v): %q %v, want %q", c.name, c.create, got, err, c.want)
		}
	}
	// Another tenant's user and a missing one answer alike.
	_, e1 := s.TenantUserName("dash@beta", "acme", true)
	_, e2 := s.TenantUserName("nobody@beta", "acme", true)
	if strings.Replace(e1.Error(), "dash", "nobody", 1) != e2.Error() {
		t.Errorf("taken %q, missing %q", e1, e2)
	}
	for _, bad := range []struct{ name, tenant string }{
		{"ann@acme", "beta"}, {"ann@", "acme"}, {"ann@_audit", "_audit"}, {"a@b@acme", "acme"}, {"x@*", "*"},
	} {
		if err := s.SetUser(bad.name, bad.tenant, []string{RoleReader}, "a long enough password"); err == nil {
			t.Errorf("%s in %s accepted", bad.name, bad.tenant)
		}
	}
	if err := s.SetUser("ann@acme", "acme", []string{RoleReader}, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.CheckPassword("ann@acme", "a long enough password"); err != nil || p.Tenant != "acme" || p.Subject != "user:ann@acme" {
		t.Fatalf("login as ann@acme: %+v %v", p, err)
	}
}
