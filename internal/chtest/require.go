package chtest

import (
	"context"
	"os"
	"strings"
)

// TB is the subset of testing.TB that Require uses; *testing.T and
// *testing.B satisfy it. (Taking an interface keeps package testing out of
// binaries that use chtest for benchmarks.)
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

// RequireAvailable skips the test, loudly, when ClickHouse cannot be started
// here, except in CI (CI=true), where a missing ClickHouse fails the test.
func RequireAvailable(t TB) {
	t.Helper()
	ok, why := Available()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("ClickHouse is required in CI but unavailable: %s", why)
	}
	t.Skipf("SKIPPING: ClickHouse unavailable (%s); install it with internal/chtest/install.sh as root. This skip is a failure when CI=true.", why)
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
