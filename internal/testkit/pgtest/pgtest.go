// Package pgtest starts a real, throwaway PostgreSQL server for tests and
// benchmarks.
//
// It uses the server binaries of the host's PostgreSQL packages (Debian's
// /usr/lib/postgresql/<version>/bin; install.sh beside this file installs
// them). Each Server gets its own temporary data directory, listens on a free
// loopback TCP port with trust authentication, keeps its Unix socket inside
// the temporary directory and runs with PostgreSQL's default durable settings
// (fsync and synchronous_commit on). Stop shuts it down and removes every
// trace of it.
//
// initdb and postgres refuse to run as root. When the calling process is root,
// pgtest runs them as the "postgres" OS user by setting the child processes'
// credentials, in a temporary directory owned by that user.
//
// On Linux the server is also started with a parent-death signal, so a test
// binary killed before it could call Stop (a timeout, a crash) does not leave
// a server running.
package pgtest

import "time"

// Options tunes Start. The zero value is ready to use.
type Options struct {
	// BaseDir is the directory in which the temporary server directory is
	// created. Empty means os.TempDir(). When running as root and BaseDir is
	// not reachable by the postgres user, /tmp is used instead.
	BaseDir string
	// BinDir overrides the directory holding initdb and postgres. Empty means
	// $PGTEST_BIN if set, else the newest version under /usr/lib/postgresql
	// (version 15 if present).
	BinDir string
	// StartTimeout bounds initdb plus server start-up. Zero means 60 s.
	StartTimeout time.Duration
	// Settings are extra server settings passed as "-c name=value". They
	// must not include listen_addresses, port or unix_socket_directories.
	Settings map[string]string
}
