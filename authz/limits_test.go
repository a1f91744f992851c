package authz

import (
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
		if err := th.Check("10.0.0.1"); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		th.Failed("10.0.0.1")
	}
	if s := retryAfter(t, th.Check("10.0.0.1")); s != 60 {
		t.Fatalf("retry after %d s", s)
	}
	if err := th.Check("10.0.0.2"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	now = now.Add(45 * time.Second)
	if s := retryAfter(t, th.Check("10.0.0.1")); s != 15 {
		t.Fatalf("retry after %d s", s)
	}
	now = now.Add(15 * time.Second)
	if err := th.Check("10.0.0.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// A success forgets earlier failures.
	for i := 0; i < maxFailures-1; i++ {
		th.Failed("10.0.0.3")
	}
	th.Succeeded("10.0.0.3")
	th.Failed("10.0.0.3")
	if err := th.Check("10.0.0.3"); err != nil {
		t.Fatalf("after a success: %v", err)
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
