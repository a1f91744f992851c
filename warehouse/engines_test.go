package warehouse

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// TestTenantEngineSealed: behind the statement guard, a tenant's
// statements run in an instance that cannot reach another tenant's data
// even when the guard is not asked (QueryInternal skips it): other
// tenants' Parquet files, the audit tenant's and other projection folders
// are outside its sandbox, and its hot mirrors and tables hold only its
// own rows.
func TestTenantEngineSealed(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, nil)
	defer w.Close()
	bg := context.Background()
	if err := w.Append(mkTenantEvents(1, "acme", "beta", "_audit", "acme", "beta")); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(bg); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkTenantEvents(6, "beta", "acme", "beta")); err != nil {
		t.Fatal(err)
	}
	engineExec(t, w, "beta", "CREATE TABLE _proj.p_beta AS SELECT 'secret' AS s")
	if err := os.MkdirAll(filepath.Join(w.projDir, "beta", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.projDir, "beta", "p", "checkpoint.json"), []byte(`{"secret":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	acme := allsource.WithTenantScope(bg, "acme")
	run := func(q string) ([]string, error) {
		rows, err := w.QueryInternal(acme, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
	abs := filepath.ToSlash(w.whDir)
	for _, q := range []string{
		"SELECT CAST(count(*) AS VARCHAR) FROM read_parquet('" + abs + "/tenant=beta/*/*.parquet')",
		"SELECT CAST(count(*) AS VARCHAR) FROM read_parquet('" + abs + "/tenant=_audit/*/*.parquet')",
		"SELECT CAST(count(*) AS VARCHAR) FROM read_parquet('" + abs + "/*/*/*.parquet')",
		"SELECT CAST(count(*) AS VARCHAR) FROM read_parquet('" + abs + "/tenant=acme/../tenant=beta/*/*.parquet')",
		"SELECT CAST(count(*) AS VARCHAR) FROM '" + abs + "/tenant=beta/*/*.parquet'",
		"SELECT content FROM read_text('" + filepath.ToSlash(w.projDir) + "/beta/p/checkpoint.json')",
		"SELECT content FROM read_text('" + filepath.ToSlash(filepath.Join(dir, "catalog.duckdb")) + "')",
		"SELECT s FROM _proj.p_beta",
	} {
		if got, err := run(q); err == nil {
			t.Errorf("%s: read %v from outside acme's instance", q, got)
		}
	}
	// What acme's instance does hold is acme's.
	got, err := run("SELECT CAST(count(*) AS VARCHAR) FROM read_parquet('" + abs + "/tenant=acme/*/*.parquet')")
	if err != nil || len(got) != 1 || got[0] != "2" {
		t.Fatalf("acme's own files: %v %v", got, err)
	}
	tables, err := run("SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name IN ('_hot', '_proj')")
	if err != nil || len(tables) == 0 {
		t.Fatalf("acme's tables: %v %v", tables, err)
	}
	for _, tb := range tables {
		if strings.HasPrefix(tb, "_proj.") {
			t.Errorf("acme's instance holds projection table %s", tb)
			continue
		}
		n, err := run("SELECT CAST(count(*) AS VARCHAR) FROM " + tb + " WHERE tenant_id <> 'acme'")
		if err != nil || len(n) != 1 || n[0] != "0" {
			t.Errorf("%s holds another tenant's rows: %v %v", tb, n, err)
		}
	}
	// The server's own instance still sees everything.
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 8 {
		t.Fatalf("unscoped count %d, want 8", n)
	}
	if n := w.EngineInstances(); n != 2 {
		t.Fatalf("%d tenant instances open, want 2 (acme, beta)", n)
	}
}

// TestTenantEngineEviction: an instance nothing uses is closed after
// EngineIdle; a lease (a running projection's) keeps it open; the next
// query opens it again, hot rows included.
func TestTenantEngineEviction(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.EngineIdle = 50 * time.Millisecond })
	defer w.Close()
	bg := context.Background()
	if err := w.Append(mkTenantEvents(1, "acme", "beta", "acme")); err != nil {
		t.Fatal(err)
	}
	count := func(tenant string) int64 {
		rows, err := w.Query(allsource.WithTenantScope(bg, tenant), "SELECT count(*) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n int64
		rows.Next()
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("acme") != 2 || count("beta") != 1 {
		t.Fatal("counts before eviction")
	}
	lease, err := w.Engine(bg, "beta")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return w.EngineInstances() == 1 })
	time.Sleep(150 * time.Millisecond)
	if n := w.EngineInstances(); n != 1 {
		t.Fatalf("%d instances with beta leased, want 1", n)
	}
	lease.Release()
	waitFor(t, func() bool { return w.EngineInstances() == 0 })
	if err := w.Append(mkTenantEvents(4, "acme")); err != nil {
		t.Fatal(err)
	}
	if n := count("acme"); n != 3 {
		t.Fatalf("acme after its instance reopened: %d, want 3", n)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
