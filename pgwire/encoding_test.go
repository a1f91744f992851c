package pgwire

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestClientEncodingNames: encoding names are read as PostgreSQL reads
// them (asyncpg sends 'utf-8' with its quotes) and shown by the canonical
// name; other encodings are refused.
func TestClientEncodingNames(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	for _, name := range []string{"'utf-8'", "utf8", "UTF-8", "unicode", "Utf_8"} {
		cfg, err := pgx.ParseConfig(ts.dsn("u", ""))
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["client_encoding"] = name
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("client_encoding %s: %v", name, err)
		}
		var shown string
		if err := c.QueryRow(ctx, "SHOW client_encoding").Scan(&shown); err != nil || shown != "UTF8" {
			t.Errorf("client_encoding %s: SHOW says %q %v", name, shown, err)
		}
		if ps := c.PgConn().ParameterStatus("client_encoding"); ps != "UTF8" {
			t.Errorf("client_encoding %s: reported %q", name, ps)
		}
		if _, err := c.Exec(ctx, "SET client_encoding = 'UTF-8'"); err != nil {
			t.Errorf("SET: %v", err)
		}
		c.Close(ctx)
	}
	cfg, _ := pgx.ParseConfig(ts.dsn("u", ""))
	cfg.RuntimeParams["client_encoding"] = "LATIN1"
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c.Close(ctx)
		t.Fatal("LATIN1 accepted")
	}
}
