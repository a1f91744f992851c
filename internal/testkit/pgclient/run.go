package pgclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

// scriptTimeout bounds one client script run.
const scriptTimeout = 90 * time.Second

// exitMissing is the exit status with which the Python and Node scripts
// report that a module they need is not installed.
const exitMissing = 3

// missing skips the test loudly because a client is not installed, or fails
// it under CI (CI=true), where every client must be present.
func missing(t testing.TB, what string) {
	t.Helper()
	pgtest.Unavailable(t, what, "not installed", "internal/testkit/pgclient/install.sh")
}

var (
	pkgDirOnce sync.Once
	pkgDir     string
	pkgDirErr  error
)

// packageDir returns the directory of this package's source, which holds
// testdata/. Callers run with the working directory of their own package,
// so relative paths would not do.
func packageDir() (string, error) {
	pkgDirOnce.Do(func() {
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			dir := filepath.Dir(file)
			if _, err := os.Stat(filepath.Join(dir, "testdata")); err == nil {
				pkgDir = dir
				return
			}
		}
		// Built with -trimpath: ask the go command.
		out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/allsource/allsource/internal/testkit/pgclient").Output()
		if err != nil {
			pkgDirErr = fmt.Errorf("pgclient: locating package directory: %w", err)
			return
		}
		pkgDir = strings.TrimSpace(string(out))
	})
	return pkgDir, pkgDirErr
}

// testdataPath returns the absolute path of a file under testdata/.
func testdataPath(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := packageDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{dir, "testdata"}, elem...)...)
}

// clientEnv is the environment of a client process: the caller's without
// libpq variables (the DSN says everything), with the session time zone set
// to UTC through the startup packet (libpq sends PGTZ as "timezone") and a
// UTF-8 locale.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "PSQL") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PGTZ=UTC", "PGCLIENTENCODING=UTF8", "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
}

// result is what a finished client process left behind.
type result struct {
	cmd            string
	stdout, stderr string
	exit           int // -1 if the process could not run or was killed
	err            error
}

// report formats the result for a failure message.
func (r result) report() string {
	return fmt.Sprintf("command: %s\nexit: %d (%v)\n--- stdout ---\n%s\n--- stderr ---\n%s", r.cmd, r.exit, r.err, r.stdout, r.stderr)
}

// run runs a client to completion within timeout.
func run(ctx context.Context, timeout time.Duration, dir, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = clientEnv()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{cmd: strings.Join(append([]string{name}, args...), " "), stdout: stdout.String(), stderr: stderr.String(), exit: -1, err: err}
	var ee *exec.ExitError
	if err == nil {
		r.exit = 0
	} else if errors.As(err, &ee) && ee.Exited() {
		r.exit = ee.ExitCode()
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("%w (timeout %s)", ctx.Err(), timeout)
	}
	return r
}

// writeFixture writes the fixture for the scripts into a temporary file
// and returns its path.
func writeFixture(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.json")
	if err := os.WriteFile(path, fixtureJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runScript runs a check script that takes the DSN and the fixture path,
// prints one "FAIL:" line per failed check and exits non-zero if any
// failed, or with exitMissing if a module it needs is missing.
func runScript(t testing.TB, what, dir, interpreter, script, dsn string) {
	t.Helper()
	r := run(context.Background(), scriptTimeout, dir, interpreter, script, dsn, writeFixture(t))
	switch {
	case r.exit == exitMissing:
		missing(t, what+" ("+strings.TrimSpace(r.stdout+r.stderr)+")")
	case r.exit != 0:
		var fails []string
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "FAIL") {
				fails = append(fails, line)
			}
		}
		t.Fatalf("%s check failed:\n%s\n\n%s", what, strings.Join(fails, "\n"), r.report())
	default:
		t.Logf("%s: %s", what, lastLine(r.stdout))
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// Scripted are the clients driven by a script, each run against a server
// holding the fixture: the client matrix.
var Scripted = []struct {
	Name string
	Run  func(t testing.TB, dsn string)
}{
	{"psql", RunPsql}, {"psycopg", RunPsycopg}, {"psycopg3", RunPsycopg3}, {"asyncpg", RunAsyncpg},
	{"sqlalchemy-pandas", RunSQLAlchemyPandas}, {"pgcli", RunPgcli}, {"node", RunNode},
	{"node-drivers", RunNodeDrivers}, {"jdbc", RunJDBC},
}

// pythonPath is Debian's Python, which has the apt-installed psycopg2 and
// SQLAlchemy (a pyenv python3 on PATH would not).
const pythonPath = "/usr/bin/python3"

// RunPsycopg runs testdata/psycopg_check.py with Debian's Python against dsn:
// psycopg2 (parameters, types, errors and recovery, COPY TO) and SQLAlchemy
// 1.4 (inspection of events, Core statements). The server must hold the
// fixture.
func RunPsycopg(t testing.TB, dsn string) {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		missing(t, pythonPath)
	}
	script := testdataPath(t, "psycopg_check.py")
	runScript(t, "psycopg2/SQLAlchemy", filepath.Dir(script), pythonPath, script, dsn)
}

// RunPsycopg3 runs testdata/psycopg3_check.py with Debian's Python against
// dsn: psycopg 3 (parameters of every type, array parameters, binary
// results of every events column, TypeInfo, errors and recovery, COPY in
// and out in text and binary, a named cursor, funnel() with a bound
// parameter). The server must hold the fixture.
func RunPsycopg3(t testing.TB, dsn string) {
	t.Helper()
	runPython(t, "psycopg 3", "psycopg3_check.py", dsn)
}

// RunAsyncpg runs testdata/asyncpg_check.py with Debian's Python against
// dsn: asyncpg (its type introspection, codecs, array parameters, binary
// COPY in and out, a cursor, a pool whose release resets the connection).
// The server must hold the fixture.
func RunAsyncpg(t testing.TB, dsn string) {
	t.Helper()
	runPython(t, "asyncpg", "asyncpg_check.py", dsn)
}

// RunPgcli runs testdata/pgcli_check.py: pgcli's own metadata queries (the
// ones its completion refresh and \d commands run) and a statement piped
// through the pgcli program. The server must hold the fixture.
func RunPgcli(t testing.TB, dsn string) {
	t.Helper()
	runPython(t, "pgcli", "pgcli_check.py", dsn)
}

// RunSQLAlchemyPandas runs testdata/sqla_pandas_check.py: SQLAlchemy 1.4's
// asyncpg dialect (inspection, Core, a streamed result) and pandas
// read_sql (parameters, chunks over a server-side cursor, read_sql_table).
// The server must hold the fixture.
func RunSQLAlchemyPandas(t testing.TB, dsn string) {
	t.Helper()
	runPython(t, "SQLAlchemy asyncpg/pandas", "sqla_pandas_check.py", dsn)
}

func runPython(t testing.TB, what, name, dsn string) {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		missing(t, pythonPath)
	}
	script := testdataPath(t, name)
	runScript(t, what, filepath.Dir(script), pythonPath, script, dsn)
}

// RunNode runs testdata/node/check.js with node-postgres against dsn,
// installing the locked node modules first if they are missing. The server
// must hold the fixture.
func RunNode(t testing.TB, dsn string) {
	t.Helper()
	runNode(t, "node-postgres", "check.js", dsn)
}

// RunNodeDrivers runs testdata/node/drivers_check.js against dsn:
// postgres.js (parameters, arrays, a cursor, COPY in and out, funnel()
// with a bound parameter) and knex over node-postgres (schema inspection,
// its query builder). The server must hold the fixture.
func RunNodeDrivers(t testing.TB, dsn string) {
	t.Helper()
	runNode(t, "postgres.js/knex", "drivers_check.js", dsn)
}

// runNode runs a check script of testdata/node, installing the locked
// node modules first if they are missing.
func runNode(t testing.TB, what, script, dsn string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	dir := testdataPath(t, "node")
	if err := ensureNodeModules(dir); err != nil {
		if errors.Is(err, errNoNpm) {
			missing(t, "npm (to install the node modules)")
		}
		t.Fatal(err)
	}
	runScript(t, what, dir, node, filepath.Join(dir, script), dsn)
}

var errNoNpm = errors.New("pgclient: npm not found")

// ensureNodeModules runs npm ci in dir unless every locked module is there.
// Test binaries of several packages may call it at once: a lock on
// package.json serialises them.
func ensureNodeModules(dir string) error {
	unlock, err := lockFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("pgclient: locking %s: %w", dir, err)
	}
	defer unlock()
	installed := true
	for _, m := range []string{"pg", "postgres", "knex"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			installed = false
		}
	}
	if installed {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errNoNpm
	}
	r := run(context.Background(), 5*time.Minute, dir, npm, "ci", "--no-audit", "--no-fund")
	if r.exit != 0 {
		return fmt.Errorf("pgclient: npm ci failed:\n%s", r.report())
	}
	return nil
}
