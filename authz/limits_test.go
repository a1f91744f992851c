package authz

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func retryAfter(t *testing.T, err error) int {
	t.Helper()
	e, ok := err.(*allsource.Error)
	if !ok || e.Code != allsource.CodeRateLimited {
		t.Fatalf("want a rate-limited error, got %v", err)
	}
	return e.Details["retry_after_seconds"].(int)
}

func TestThrottle(t *testing.T) {
	th := NewThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th.now = func() time.Time { return now }
	for i := 0; i < maxFailures; i++ {
		if err := th.Check("ana", "10.0.0.1"); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		th.Failed("ana", "10.0.0.1")
	}
	if s := retryAfter(t, th.Check("ana", "10.0.0.1")); s != 60 {
		t.Fatalf("retry after %d s", s)
	}
	if err := th.Check("ana", "10.0.0.2"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	if err := th.Check("bob", "10.0.0.1"); err != nil {
		t.Fatalf("another name from the same source: %v", err)
	}
	now = now.Add(45 * time.Second)
	if s := retryAfter(t, th.Check("ana", "10.0.0.1")); s != 15 {
		t.Fatalf("retry after %d s", s)
	}
	now = now.Add(15 * time.Second)
	if err := th.Check("ana", "10.0.0.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// A success forgets earlier failures of its own name.
	for i := 0; i < maxFailures-1; i++ {
		th.Failed("cy", "10.0.0.3")
	}
	th.Succeeded("cy", "10.0.0.3")
	th.Failed("cy", "10.0.0.3")
	if err := th.Check("cy", "10.0.0.3"); err != nil {
		t.Fatalf("after a success: %v", err)
	}
}

// TestThrottleSuccessOfAnotherName: guesses at one name interleaved with
// valid logins of another from the same address still lock the first
// name out, and only it.
func TestThrottleSuccessOfAnotherName(t *testing.T) {
	th := NewThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th.now = func() time.Time { return now }
	refused := 0
	for i := 0; i < 45; i++ {
		if th.Check("victim", "10.0.0.1") != nil {
			refused++
		} else {
			th.Failed("victim", "10.0.0.1")
		}
		if err := th.Check("me", "10.0.0.1"); err != nil {
			t.Fatalf("round %d: the valid login refused: %v", i, err)
		}
		th.Succeeded("me", "10.0.0.1")
		now = now.Add(100 * time.Millisecond)
	}
	if refused != 45-maxFailures {
		t.Fatalf("%d guesses refused, want %d", refused, 45-maxFailures)
	}
}

// TestThrottleSpraying: failures under many names from one source lock
// the source as a whole; successes do not clear that, and other sources
// are not affected.
func TestThrottleSpraying(t *testing.T) {
	th := NewThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th.now = func() time.Time { return now }
	for i := 0; i < maxSourceFailures; i++ {
		name := fmt.Sprintf("user%d", i)
		if err := th.Check(name, "10.0.0.9"); err != nil {
			t.Fatalf("name %d refused: %v", i, err)
		}
		th.Failed(name, "10.0.0.9")
		th.Succeeded("me", "10.0.0.9")
	}
	if err := th.Check("fresh", "10.0.0.9"); err == nil || !strings.Contains(err.Error(), "from 10.0.0.9") {
		t.Fatalf("a new name from a spraying source: %v", err)
	}
	if err := th.Check("me", "10.0.0.9"); err == nil {
		t.Fatal("the source lock lets a name with successes through")
	}
	if err := th.Check("fresh", "10.0.0.10"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	now = now.Add(throttleWindow)
	if err := th.Check("fresh", "10.0.0.9"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestCredentialName(t *testing.T) {
	tok := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for _, c := range []struct{ cred, want string }{
		{"ask_0123456789abcdef_" + strings.Repeat("A", 43), "key:0123456789abcdef"},
		{tok(`{"sub":"svc-1","tenant":"acme"}`), "token:svc-1"},
	} {
		if got := CredentialName(c.cred); got != c.want {
			t.Errorf("%.30s…: %q, want %q", c.cred, got, c.want)
		}
	}
	// No id or subject to read: a hash, the same for the same credential.
	for _, cred := range []string{"ask_short", tok(`{"tenant":"acme"}`), "not a credential"} {
		got := CredentialName(cred)
		if !strings.HasPrefix(got, "credential:") || got != CredentialName(cred) || strings.Contains(got, cred) {
			t.Errorf("%q: %q", cred, got)
		}
	}
	if CredentialName("a.b.c") == CredentialName("a.b.d") {
		t.Error("two credentials share a hash")
	}
}

func TestQuotas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "quotas.json")
	q, err := OpenQuotas(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q.now = func() time.Time { return now }
	// No file: no limits.
	if err := q.AdmitIngest("acme", 1e6, 1e9); err != nil {
		t.Fatal(err)
	}
	if err := q.Set("*", Quota{IngestEventsPerSec: 100, MaxConcurrentQueries: 2}); err != nil {
		t.Fatal(err)
	}
	if err := q.Set("acme", Quota{IngestEventsPerSec: 10, IngestBytesPerSec: 1000, QueryTimeout: "2s", StorageBytes: 500}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// A batch larger than a second's allowance passes, then the tenant
	// waits off its debt.
	if err := q.AdmitIngest("acme", 25, 10); err != nil {
		t.Fatal(err)
	}
	if s := retryAfter(t, q.AdmitIngest("acme", 1, 10)); s != 2 { // 15 events of debt at 10/s: 1.5 s
		t.Fatalf("retry after %d", s)
	}
	now = now.Add(1600 * time.Millisecond)
	if err := q.AdmitIngest("acme", 1, 10); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
	if err := q.AdmitIngest("acme", 1, 5000); err != nil { // bytes go into debt…
		t.Fatal(err)
	}
	// 200 ms later the events are back in credit, the bytes not.
	now = now.Add(200 * time.Millisecond)
	if err := q.AdmitIngest("acme", 1, 1); err == nil || !strings.Contains(err.Error(), "bytes/s") {
		t.Fatalf("bytes: %v", err)
	}
	// Other tenants get the default; the refused requests cost nothing.
	for i := 0; i < 101; i++ { // 100 in credit, the last into debt
		if err := q.AdmitIngest("beta", 1, 1); err != nil {
			t.Fatalf("beta %d: %v", i, err)
		}
	}
	if err := q.AdmitIngest("beta", 1, 1); err == nil {
		t.Fatal("beta over the default")
	}
	// Concurrent queries.
	d1, err := q.StartQuery("beta")
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := q.StartQuery("beta")
	if _, err := q.StartQuery("beta"); err == nil {
		t.Fatal("third concurrent query admitted")
	}
	d1()
	d1() // twice is harmless
	d3, err := q.StartQuery("beta")
	if err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	d2()
	d3()
	if q.For("acme").Timeout() != 2*time.Second || q.For("beta").Timeout() != 0 {
		t.Fatal("timeouts")
	}
	if err := q.CheckStorage("acme", func() int64 { return 499 }); err != nil {
		t.Fatal(err)
	}
	if err := q.CheckStorage("acme", func() int64 { return 500 }); allsource.ErrorCode(err) != allsource.CodeNoStorage {
		t.Fatalf("storage: %v", err)
	}
	// Another process edits the file; the change is seen.
	other, _ := OpenQuotas(path)
	if err := other.Set("acme", Quota{}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if err := q.CheckStorage("acme", func() int64 { return 1e9 }); err != nil {
		t.Fatalf("removed quota still in force: %v", err)
	}
	names, _ := q.All()
	if len(names) != 1 || names[0] != "*" {
		t.Fatalf("names %v", names)
	}
	for _, bad := range []Quota{{IngestEventsPerSec: -1}, {QueryTimeout: "soon"}, {QueryTimeout: "-1s"}} {
		if err := q.Set("acme", bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := q.Set("_audit", Quota{StorageBytes: 1}); err == nil {
		t.Error("quota for a reserved tenant")
	}
	os.WriteFile(path, []byte(`{"acme": {"storage": 1}}`), 0o600)
	if _, err := OpenQuotas(path); err == nil {
		t.Error("unknown field accepted")
	}
}

// TestCheckStorageAsksOnlyWithAQuota: the stored size (a walk over the
// tenant's files) is not computed for tenants without a storage quota.
func TestCheckStorageAsksOnlyWithAQuota(t *testing.T) {
	q, _ := OpenQuotas(filepath.Join(t.TempDir(), "quotas.json"))
	if err := q.CheckStorage("acme", func() int64 { t.Fatal("asked"); return 0 }); err != nil {
		t.Fatal(err)
	}
}
