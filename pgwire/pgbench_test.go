package pgwire

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TestPgbench: pgbench runs a read-only script from 8 clients in each
// query mode (simple, extended, prepared) with no failed transaction.
// `make bench` has the longer run whose figures the README gives.
func TestPgbench(t *testing.T) {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		pgtest.Unavailable(t, "pgbench", "not on PATH", "internal/testkit/pgtest/install.sh")
	}
	ts := startServer(t, nil)
	ts.appendN(t, 50, 3)
	script, err := filepath.Abs("testdata/pgbench_readonly.sql")
	if err != nil {
		t.Fatal(err)
	}
	failed := regexp.MustCompile(`number of failed transactions: (\d+)`)
	done := regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	for _, mode := range []string{"simple", "extended", "prepared"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "-n", "-f", script, "-c", "8", "-j", "2", "-T", "3", "-M", mode, "-d", ts.dsn("bench", "")).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("pgbench -M %s: %v\n%s", mode, err, out)
		}
		f, d := failed.FindSubmatch(out), done.FindSubmatch(out)
		if f == nil || d == nil || string(f[1]) != "0" {
			t.Fatalf("pgbench -M %s:\n%s", mode, out)
		}
		if n, _ := strconv.Atoi(string(d[1])); n == 0 {
			t.Fatalf("pgbench -M %s ran no transaction:\n%s", mode, out)
		}
		t.Logf("pgbench -M %s: %s transactions, 0 failed", mode, d[1])
	}
}
