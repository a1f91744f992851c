// Package chtest starts a real, throwaway ClickHouse server for tests and
// benchmarks.
//
// It uses the server binary of the host's ClickHouse packages (Debian's
// clickhouse-server 18.16, /usr/sbin/clickhouse-server; install.sh beside
// this file installs it). Each Server gets its own temporary directory
// holding a generated config.xml and users.xml, the data path and the logs;
// it listens on loopback only, on three free TCP ports (HTTP, native and
// interserver), with the time zone fixed to UTC and one passwordless
// "default" user restricted to loopback. Stop shuts it down and removes every
// trace of it.
//
// When the calling process is root, the server runs as the "clickhouse" OS
// user (the account the package creates and its service uses) by setting the
// child process's credentials, in a temporary directory owned by that user,
// as pgtest does for PostgreSQL. Otherwise it runs as the caller.
//
// On Linux the server is also started with a parent-death signal, so a test
// binary killed before it could call Stop does not leave a server running.
//
// Clients talk to it over the HTTP interface (Server.HTTPURL), which needs
// no driver: POST a statement as the body, or an INSERT … FORMAT
// TabSeparated with its rows.
package chtest

import "time"

// Options tunes Start. The zero value is ready to use.
type Options struct {
	// BaseDir is the directory in which the temporary server directory is
	// created. Empty means os.TempDir(). When running as root and BaseDir is
	// not reachable by the clickhouse user, /tmp is used instead.
	BaseDir string
	// Binary overrides the server binary. Empty means $CHTEST_BIN if set,
	// else /usr/sbin/clickhouse-server.
	Binary string
	// StartTimeout bounds start-up. Zero means 60 s.
	StartTimeout time.Duration
	// MaxMemoryUsage is the per-query memory limit in bytes. Zero means
	// 10 GB.
	MaxMemoryUsage int64
}
