//go:build unix

package pgtest

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAvailableReason(t *testing.T) {
	ok, why := Available()
	if !ok && why == "" {
		t.Fatal("Available returned false without a reason")
	}
	t.Logf("available=%v reason=%q", ok, why)
}

func TestBinDirOverrideMissing(t *testing.T) {
	if _, err := binDir(t.TempDir()); err == nil {
		t.Fatal("binDir accepted a directory without initdb")
	}
}

func TestStartCopyCountStop(t *testing.T) {
	RequireAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s, err := Start(ctx, Options{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()

	conn, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" {
		t.Errorf("fsync = %q, want on", fsync)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id bigint, name text, doc jsonb)`); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{int64(1), "a", []byte(`{"x":1}`)},
		{int64(2), "b", []byte(`{"x":2}`)},
		{int64(3), "c", []byte(`{"x":3}`)},
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "name", "doc"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("CopyFrom copied %d rows, want 3", n)
	}
	var count, sum int64
	if err := conn.QueryRow(ctx, `SELECT count(*), sum((doc->>'x')::int) FROM t`).Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	if count != 3 || sum != 6 {
		t.Fatalf("count=%d sum=%d, want 3 and 6", count, sum)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}

	pid, dir := s.Pid(), s.Dir()
	stopped = true
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postmaster %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still has members after Stop (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("server directory %s still exists after Stop", dir)
	}
}

func TestTwoServersAtOnce(t *testing.T) {
	a := Require(t)
	b := Require(t)
	if a.DSN() == b.DSN() {
		t.Fatalf("two servers share a DSN: %s", a.DSN())
	}
	ctx := context.Background()
	for _, s := range []*Server{a, b} {
		conn, err := pgx.Connect(ctx, s.DSN())
		if err != nil {
			t.Fatal(err)
		}
		var one int
		err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
		conn.Close(ctx)
		if err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	}
}
