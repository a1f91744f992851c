//go:build !unix

package chtest

import (
	"context"
	"errors"
)

var errUnsupported = errors.New("chtest: starting ClickHouse is only supported on Unix-like systems")

// Server is a running ClickHouse server started by Start. On this OS Start
// always fails.
type Server struct{}

// Available reports whether a ClickHouse server can be started here; never
// on this OS.
func Available() (bool, string) { return false, errUnsupported.Error() }

// Start fails on this OS.
func Start(ctx context.Context, opts Options) (*Server, error) { return nil, errUnsupported }

// HTTPURL returns the base URL of the HTTP interface.
func (s *Server) HTTPURL() string { return "" }

// NativeAddr returns the host:port of the native protocol.
func (s *Server) NativeAddr() string { return "" }

// Pid returns the server's process id.
func (s *Server) Pid() int { return 0 }

// Dir returns the server's temporary directory.
func (s *Server) Dir() string { return "" }

// LogTail returns the last n lines of the server logs.
func (s *Server) LogTail(n int) string { return "" }

// Stop stops the server.
func (s *Server) Stop() error { return nil }
