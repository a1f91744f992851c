package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain doubles as the server binary for the process-level tests: with
// ALLSOURCE_TEST_AS_BINARY=1 the test executable runs main's code instead of
// the tests, so crash tests can kill -9 a real server process.
func TestMain(m *testing.M) {
	if os.Getenv("ALLSOURCE_TEST_AS_BINARY") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m,
		// The DuckDB driver and net/http keep a few long-lived goroutines.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

var _ = context.Background
