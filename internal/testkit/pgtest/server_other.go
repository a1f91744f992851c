//go:build !unix

package pgtest

import (
	"context"
	"errors"
)

var errUnsupported = errors.New("pgtest: starting PostgreSQL is only supported on Unix-like systems")

// Server is a running PostgreSQL server started by Start. On this OS Start
// always fails.
type Server struct{}

// Available reports whether a PostgreSQL server can be started here; never
// on this OS.
func Available() (bool, string) { return false, errUnsupported.Error() }

// Start fails on this OS.
func Start(ctx context.Context, opts Options) (*Server, error) { return nil, errUnsupported }

// DSN returns the connection string of the server.
func (s *Server) DSN() string { return "" }

// Port returns the TCP port of the server.

// Pid returns the process id of the postmaster.
func (s *Server) Pid() int { return 0 }

// Dir returns the server's temporary directory.
func (s *Server) Dir() string { return "" }

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string { return "" }

// Stop stops the server.
func (s *Server) Stop() error { return nil }

// Binary fails on this OS.
func Binary(name string) (string, error) { return "", errUnsupported }
