package pgwire

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgclient"
	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TestRealClients drives psql, psycopg2 with SQLAlchemy, and node-postgres
// against the server holding the shared fixture; the same checks pass
// against PostgreSQL 15 (internal/testkit/pgclient's own test).
func TestRealClients(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendNDJSON(t, pgclient.FixtureNDJSON())
	runClientMatrix(t, ts.dsn("analyst", ""))
}

// runClientMatrix runs every scripted client against dsn.
func runClientMatrix(t *testing.T, dsn string) {
	for _, c := range pgclient.Scripted {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, dsn) })
	}
}

// TestRealClientsSCRAMOverTLS: the same client matrix logging in with
// SCRAM-SHA-256 over TLS (the server's self-signed certificate, so
// sslmode=require: encrypted, not verified).
func TestRealClientsSCRAMOverTLS(t *testing.T) {
	cfg, err := AutoTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerAuth(t, func(o *Options) {
		o.Users = map[string]string{"analyst": "s3cret-pass"}
		o.TLS = cfg
	})
	ts.appendNDJSON(t, pgclient.FixtureNDJSON())
	runClientMatrix(t, strings.Replace(ts.dsn("analyst", "s3cret-pass"), "sslmode=disable", "sslmode=require", 1))
}

// TestPsqlSCRAMOverTLS logs in with libpq (psql) using SCRAM-SHA-256 over
// TLS with the self-signed certificate --pg-tls auto makes, and checks a
// wrong password is refused.
func TestPsqlSCRAMOverTLS(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		pgtest.Unavailable(t, "psql", "not on PATH", "internal/testkit/pgclient/install.sh")
	}
	cfg, err := AutoTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerAuth(t, func(o *Options) {
		o.Users = map[string]string{"ana": "correct-horse"}
		o.TLS = cfg
	})
	run := func(password string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, fmt.Sprintf("postgres://ana@%s/allsource?sslmode=require", ts.addr),
			"-X", "-A", "-t", "-c", "SELECT count(*) FROM events", "-c", `\conninfo`)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("correct-horse")
	if err != nil || !strings.HasPrefix(out, "0\n") || !strings.Contains(out, "SSL connection") {
		t.Fatalf("psql with the right password: %v\n%s", err, out)
	}
	out, err = run("wrong")
	if err == nil || !strings.Contains(out, `password authentication failed for user "ana"`) {
		t.Fatalf("psql with a wrong password: %v\n%s", err, out)
	}
}

// TestPsqlEventQL runs EventQL from psql.
func TestPsqlEventQL(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		pgtest.Unavailable(t, "psql", "not on PATH", "internal/testkit/pgclient/install.sh")
	}
	ts := startServer(t, nil)
	ts.appendN(t, 9, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, psql, ts.dsn("analyst", ""), "-X", "-A", "-F", ",",
		"-c", `FROM e IN events GROUP BY e.subject ORDER BY e.subject PROJECT INTO { subject: e.subject, n: COUNT() }`).CombinedOutput()
	if err != nil || string(out) != "subject,n\ne0,3\ne1,3\ne2,3\n(3 rows)\n" {
		t.Fatalf("psql EventQL: %v\n%s", err, out)
	}
}
