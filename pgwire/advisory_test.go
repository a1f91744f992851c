package pgwire

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestAdvisoryLocks: pg_advisory_* as PostgreSQL keeps them, between two
// sessions: try fails while another holds the lock, lock waits for its
// release (or the statement timeout), holds are re-entrant, shared locks
// share, xact locks end with the transaction, unlock_all and the session's
// end release everything, and keys of one form do not meet the other's.
func TestAdvisoryLocks(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	a, b := ts.connect(t), ts.connect(t)
	defer b.Close(ctx)
	val := func(c *pgx.Conn, q string, args ...any) bool {
		t.Helper()
		var ok bool
		if err := c.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return ok
	}
	exec := func(c *pgx.Conn, q string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(a, "SELECT pg_advisory_lock(42)")
	exec(a, "SELECT pg_advisory_lock($1)", int64(42)) // re-entrant
	if val(b, "SELECT pg_try_advisory_lock(42)") {
		t.Fatal("b took a lock a holds")
	}
	if !val(b, "SELECT pg_try_advisory_lock(0, 42)") {
		t.Fatal("the two-key form is another key space")
	}
	if !val(a, "SELECT pg_advisory_unlock(42)") {
		t.Fatal("a's first unlock")
	}
	if val(b, "SELECT pg_try_advisory_lock(42)") {
		t.Fatal("a still holds one of its two holds")
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.Exec(ctx, "SELECT pg_advisory_lock(42)")
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("b's lock returned while a held it: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	exec(a, "SELECT pg_advisory_unlock_all()")
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's lock did not follow a's release")
	}
	// A wait ends at the statement timeout.
	exec(a, "SET statement_timeout = 200")
	_, err := a.Exec(ctx, "SELECT pg_advisory_lock(42)")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("waiting past the statement timeout: %v", err)
	}
	exec(a, "SET statement_timeout = 0")
	// Shared locks share; an exclusive waits for them.
	if !val(a, "SELECT pg_try_advisory_lock_shared(7)") || !val(b, "SELECT pg_try_advisory_lock_shared(7)") {
		t.Fatal("shared locks should share")
	}
	if val(a, "SELECT pg_try_advisory_lock(7)") {
		t.Fatal("exclusive over another session's shared lock")
	}
	if val(a, "SELECT pg_advisory_unlock(7)") {
		t.Fatal("unlocking an exclusive lock a does not hold")
	}
	// xact locks end with the transaction.
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !val(a, "SELECT pg_try_advisory_xact_lock(9)") || val(b, "SELECT pg_try_advisory_xact_lock(9)") {
		t.Fatal("xact lock inside a transaction")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !val(b, "SELECT pg_try_advisory_lock(9)") {
		t.Fatal("the xact lock outlived its transaction")
	}
	// A session's end releases its locks.
	exec(a, "SELECT pg_advisory_lock(100)")
	a.Close(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for !val(b, "SELECT pg_try_advisory_lock(100)") {
		if time.Now().After(deadline) {
			t.Fatal("a closed session's lock is still held")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Inside a larger query they are refused with a reason.
	if _, err := b.Exec(ctx, "SELECT pg_advisory_lock(1) FROM events"); !errors.As(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("advisory lock in a query: %v", err)
	}
}

// TestAdvisoryKeysPerTenant: two tenants' equal keys are different locks.
func TestAdvisoryKeysPerTenant(t *testing.T) {
	var l advisoryLocks
	x, y := &session{}, &session{}
	ctx := context.Background()
	if ok, _ := l.lock(ctx, advKey{tenant: "acme", a: 1}, advHolder{ss: x}, false); !ok {
		t.Fatal("acme")
	}
	if ok, _ := l.lock(ctx, advKey{tenant: "beta", a: 1}, advHolder{ss: y}, false); !ok {
		t.Fatal("beta's key 1 is not acme's")
	}
	if ok, _ := l.lock(ctx, advKey{tenant: "acme", a: 1}, advHolder{ss: y}, false); ok {
		t.Fatal("acme's key 1 taken twice")
	}
}

// TestAdvisoryHoldsBounded: one session's distinct holds are bounded
// (53200, as PostgreSQL's full lock table); releasing makes room.
func TestAdvisoryHoldsBounded(t *testing.T) {
	var l advisoryLocks
	x := &session{}
	ctx := context.Background()
	for i := 0; i < maxAdvisoryHolds; i++ {
		if ok, err := l.lock(ctx, advKey{tenant: "acme", a: int64(i)}, advHolder{ss: x}, false); !ok || err != nil {
			t.Fatalf("lock %d: %v %v", i, ok, err)
		}
	}
	// Taking one held again is not a new hold.
	if ok, err := l.lock(ctx, advKey{tenant: "acme", a: 0}, advHolder{ss: x}, false); !ok || err != nil {
		t.Fatalf("re-entrant lock at the bound: %v %v", ok, err)
	}
	if _, err := l.lock(ctx, advKey{tenant: "acme", a: -1}, advHolder{ss: x}, false); err != errTooManyLocks {
		t.Fatalf("past the bound: %v", err)
	}
	if len(l.locks) != maxAdvisoryHolds {
		t.Fatalf("a refused lock left an entry: %d", len(l.locks))
	}
	l.releaseAll(x, true, true)
	if len(l.locks) != 0 || len(l.holds) != 0 {
		t.Fatalf("after releaseAll: %d locks, %d sessions", len(l.locks), len(l.holds))
	}
	if ok, err := l.lock(ctx, advKey{tenant: "acme", a: -1}, advHolder{ss: x}, false); !ok || err != nil {
		t.Fatalf("after releasing: %v %v", ok, err)
	}
}
