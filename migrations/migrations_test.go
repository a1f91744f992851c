package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

func TestApplyIsIdempotentAndVersioned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	all, err := All()
	if err != nil || len(all) == 0 {
		t.Fatalf("All: %v, %d", err, len(all))
	}
	want := all[len(all)-1].Version
	for i := 0; i < 2; i++ {
		v, err := Apply(ctx, db)
		if err != nil {
			t.Fatalf("Apply #%d: %v", i, err)
		}
		if v != want {
			t.Fatalf("Apply #%d: version %d, want %d", i, v, want)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(all) {
		t.Fatalf("schema_migrations rows = %d (%v), want %d", n, err, len(all))
	}
	var wm uint64
	if err := db.QueryRow(`SELECT value FROM warehouse_state WHERE key = 'flushed_seq'`).Scan(&wm); err != nil || wm != 0 {
		t.Fatalf("flushed_seq = %d, %v", wm, err)
	}
	// A catalog from a newer binary is refused.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, db); err == nil {
		t.Fatal("Apply accepted a catalog newer than the binary")
	}
}
