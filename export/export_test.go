package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openWarehouse(t *testing.T) *warehouse.Warehouse {
	t.Helper()
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return wh
}

var seq uint64

func appendEvents(t *testing.T, wh *warehouse.Warehouse, tenant string, n int) {
	t.Helper()
	evs := make([]allsource.Event, n)
	for i := range evs {
		seq++
		evs[i] = allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: tenant, EntityID: "e",
			EventType: "x", Version: seq, Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), IngestedAt: time.Now().UTC(),
			Payload: []byte(`{"n": 1}`), Metadata: []byte(`{}`)}
	}
	if err := wh.Append(evs); err != nil {
		t.Fatal(err)
	}
}

func TestSpecErrors(t *testing.T) {
	wh := openWarehouse(t)
	m, err := Open(context.Background(), wh, Options{FileRoot: os.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		spec  Spec
		field string
	}{
		{Spec{}, "target"},
		{Spec{Target: "mysql://x/y"}, "not supported"},
		{Spec{Target: "file://host/x"}, "local directory"},
		{Spec{Target: "file:///" + dir + "?format=xml"}, "format"},
		{Spec{Target: "postgres://u@h/db?table=a-b"}, "plain lower-case identifier"},
		{Spec{Target: "clickhouse://h/db?table=1x"}, "plain identifiers"},
		{Spec{Target: "file://" + dir, Every: "1ms"}, "every"},
		{Spec{Target: "file://" + dir, Every: "1m", Schedule: "@hourly"}, "not both"},
		{Spec{Target: "file://" + dir, Schedule: "61 * * * *"}, "schedule"},
		{Spec{Target: "file://" + dir, Types: []string{"["}}, "types"},
		{Spec{Target: "file://" + dir, Where: "nope > 1"}, "nope"},
		{Spec{Target: "file://" + dir, Where: "1=1) UNION SELECT * FROM read_parquet('x'"}, "where"},
		{Spec{Target: "file://" + dir, BatchRows: 2_000_000}, "batch_rows"},
		{Spec{Target: "file://" + dir, Where: "true GROUP BY 1"}, "one expression"},
		{Spec{Target: "file://" + dir, Where: "true LIMIT 1"}, "one expression"},
		{Spec{Target: "file://" + dir, Where: "true UNION SELECT 2"}, "where"},
		{Spec{Target: "file://" + dir + "?format=csv", Columns: map[string]string{"nope": "x"}}, "not an exported column"},
		{Spec{Target: "file://" + dir + "?format=csv", Columns: map[string]string{"payload": "a b"}}, "plain identifier"},
		{Spec{Target: "file://" + dir + "?format=csv", Columns: map[string]string{"payload": "seq"}}, "both be named"},
		{Spec{Target: "file://" + dir, Columns: map[string]string{"payload": "body"}}, "Parquet"},
	} {
		_, err := m.Create(context.Background(), "acme", c.spec)
		if err == nil || !strings.Contains(err.Error(), c.field) || allsource.ErrorCode(err) != allsource.CodeInvalid {
			t.Errorf("%+v: %v (want an error naming %q)", c.spec, err, c.field)
		}
	}
}

// TestWhereCannotEscapeItsParentheses: a condition that closes its
// parentheses is kept as one expression, so the seq bounds still hold.
func TestWhereCannotEscapeItsParentheses(t *testing.T) {
	wh := openWarehouse(t)
	m, err := Open(context.Background(), wh, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	appendEvents(t, wh, "acme", 20)
	if _, err := m.Create(context.Background(), "acme", Spec{Target: "file://" + t.TempDir(), Where: "true) OR (true"}); allsource.ErrorCode(err) != allsource.CodeInvalid {
		t.Fatalf("unbalanced condition: %v", err)
	}
	j, err := m.Create(context.Background(), "acme", Spec{Target: "file://" + t.TempDir() + "?format=ndjson", Where: "true OR true", BatchRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(j.Spec.Where, "(") {
		t.Fatalf("stored condition %q", j.Spec.Where)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := m.Get("acme", j.ID)
		if st.Status == StatusDone {
			if st.Rows != 20 {
				t.Fatalf("exported %d rows, want 20 (each once)", st.Rows)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	restricted := allsource.WithReadRestriction(context.Background(), allsource.ReadRestriction{HiddenTypes: []string{"x"}})
	if _, err := m.Create(restricted, "acme", Spec{Target: "file://" + t.TempDir()}); allsource.ErrorCode(err) != allsource.CodeForbidden {
		t.Fatalf("restricted principal: %v", err)
	}
}

// TestAllowedHosts: an explicit list admits the hosts it names (wherever
// they resolve), the addresses and networks it lists, and nothing else.
func TestAllowedHosts(t *testing.T) {
	wh := openWarehouse(t)
	m, err := Open(context.Background(), wh, Options{AllowHosts: []string{"db.internal:5432", "*.analytics.example", "10.1.0.0/16", "192.168.7.7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.net.lookup = fakeDNS(map[string][]string{
		"db.internal": {"10.9.9.9"}, "ch1.analytics.example": {"172.16.0.3"}, "etl.corp": {"10.1.2.3"},
		"rebound.corp": {"10.1.2.3", "127.0.0.1"}, "metadata.google.internal": {"169.254.169.254"},
	})
	for _, c := range []struct {
		target string
		ok     bool
	}{
		{"postgres://u@db.internal:5432/x", true},
		{"postgres://u@db.internal/x", true}, // the default port
		{"postgres://u@db.internal:6543/x", false},
		{"clickhouse://ch1.analytics.example:8123/db", true},
		{"clickhouse://169.254.169.254/db", false},
		{"http://metadata.google.internal/db", false},
		{"postgres://u@10.1.200.1/x", true},
		{"postgres://u@etl.corp/x", true}, // resolves into an allowed network
		{"postgres://u@rebound.corp/x", false},
		{"postgres://u@192.168.7.7/x", true},
		{"postgres://u@192.168.7.8/x", false},
		{"postgres://u@8.8.8.8/x", false}, // a list admits only what it names
		{"postgres://u@db.internal:5432/x?host=127.0.0.1", false},
	} {
		err := checkTarget(m, c.target)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want allowed %v", c.target, err, c.ok)
		}
	}
	if _, err := m.Create(context.Background(), "acme", Spec{Target: "clickhouse://169.254.169.254/db"}); allsource.ErrorCode(err) != allsource.CodeForbidden {
		t.Fatalf("create to a host not allowed: %v", err)
	}
	if _, err := Open(context.Background(), wh, Options{AllowHosts: []string{"10.0.0.0/33"}}); err == nil {
		t.Fatal("a bad network accepted")
	}
}

// TestScheduledJobFollows: a job on a cron schedule exports what arrived
// since its last run at each tick, only its tenant's events.
func TestScheduledJobFollows(t *testing.T) {
	wh := openWarehouse(t)
	m, err := Open(context.Background(), wh, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := t.TempDir()
	appendEvents(t, wh, "acme", 10)
	appendEvents(t, wh, "other", 5)
	j, err := m.Create(context.Background(), "acme", Spec{Target: "file://" + out + "?format=ndjson", Schedule: "@every 1s"})
	if err != nil {
		t.Fatal(err)
	}
	lines := func() int {
		n := 0
		filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ndjson") {
				b, _ := os.ReadFile(p)
				n += strings.Count(string(b), "\n")
			}
			return nil
		})
		return n
	}
	waitLines := func(want int) {
		deadline := time.Now().Add(10 * time.Second)
		for lines() != want {
			if time.Now().After(deadline) {
				st, _ := m.Get("acme", j.ID)
				t.Fatalf("%d lines, want %d; job %+v", lines(), want, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLines(10)
	appendEvents(t, wh, "acme", 7)
	waitLines(17) // the next tick
	deadline := time.Now().Add(5 * time.Second)
	for { // the counters follow the files
		st, _ := m.Get("acme", j.ID)
		if st.Rows == 17 && (st.Status == StatusIdle || st.Status == StatusRunning) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l := m.List("other"); len(l) != 0 {
		t.Fatalf("another tenant lists %v", l)
	}
}

// TestJobsPerTenantBounded: a tenant may run at most MaxPerTenant jobs.
func TestJobsPerTenantBounded(t *testing.T) {
	m, err := Open(context.Background(), openWarehouse(t), Options{FileRoot: os.TempDir(), MaxPerTenant: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := m.Create(ctx, "acme", Spec{Target: "file://" + t.TempDir() + "?format=ndjson", Every: "1h"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, "acme", Spec{Target: "file://" + t.TempDir() + "?format=ndjson", Every: "1h"}); allsource.ErrorCode(err) != allsource.CodeTooLarge {
		t.Fatalf("third job: %v", err)
	}
	if _, err := m.Create(ctx, "beta", Spec{Target: "file://" + t.TempDir() + "?format=ndjson", Every: "1h"}); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}
