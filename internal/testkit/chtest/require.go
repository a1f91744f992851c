package chtest

import (
	"context"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// TB is the subset of testing.TB that Require uses (pgtest's, so both
// packages end tests the same way).
type TB = pgtest.TB

// RequireAvailable skips the test, loudly, when ClickHouse cannot be started
// here, except in CI (CI=true), where a missing ClickHouse fails the test.
func RequireAvailable(t TB) {
	t.Helper()
	if ok, why := Available(); !ok {
		pgtest.Unavailable(t, "ClickHouse", why, "internal/testkit/chtest/install.sh")
	}
}

// Require starts a ClickHouse server for the test and stops it when the test
// ends. It skips or fails like RequireAvailable when ClickHouse is missing,
// and fails the test if ClickHouse is installed but does not start.
func Require(t TB) *Server {
	t.Helper()
	RequireAvailable(t)
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatalf("starting ClickHouse: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stopping ClickHouse: %v", err)
		}
	})
	return s
}
