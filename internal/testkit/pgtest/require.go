package pgtest

import (
	"context"
	"os"
	"strings"
)

// TB is the subset of testing.TB that Require uses; *testing.T and
// *testing.B satisfy it. (Taking an interface keeps package testing out of
// binaries that use pgtest for benchmarks.)
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

// InCI reports whether the environment variable CI is "true" (or "1"), as CI
// sets it.
func InCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	return strings.EqualFold(v, "true") || v == "1"
}

// Unavailable ends a test that needs something this machine lacks: a loud
// skip, or a failure in CI (CI=true), where a skip would hide a missing
// install. install names the script that provides it.
func Unavailable(t TB, what, why, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required in CI but unavailable: %s; run %s as root", what, why, install)
		return
	}
	t.Skipf("SKIPPING: %s unavailable (%s); install it with %s as root. This skip is a failure when CI=true.", what, why, install)
}

// RequireAvailable skips the test, loudly, when PostgreSQL cannot be started
// here, except in CI (CI=true), where a missing PostgreSQL fails the test.
func RequireAvailable(t TB) {
	t.Helper()
	if ok, why := Available(); !ok {
		Unavailable(t, "PostgreSQL", why, "internal/testkit/pgtest/install.sh")
	}
}

// Require starts a PostgreSQL server for the test and stops it when the test
// ends. It skips or fails like RequireAvailable when PostgreSQL is missing,
// and fails the test if PostgreSQL is installed but does not start.
func Require(t TB) *Server {
	t.Helper()
	RequireAvailable(t)
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stopping PostgreSQL: %v", err)
		}
	})
	return s
}
