package authz

import (
	"os"
	"path/filepath"
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
