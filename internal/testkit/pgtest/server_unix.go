//go:build unix

package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// debianRoot is where Debian and Ubuntu install PostgreSQL server binaries,
// one directory per major version.
const debianRoot = "/usr/lib/postgresql"

// preferredVersion is the major version used when several are installed and
// it is one of them.
const preferredVersion = "15"

// osUser is the account the server runs as when the caller is root.
const osUser = "postgres"

// Server is a running PostgreSQL server started by Start.
type Server struct {
	dir     string // temporary directory; removed by Stop
	dataDir string
	logPath string
	port    int
	cmd     *exec.Cmd
	done    chan struct{} // closed when the postmaster has exited
	waitErr error         // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Available reports whether a PostgreSQL server can be started here: the
// binaries exist and, when running as root, the postgres OS user exists. When
// it cannot, the string says why.
func Available() (bool, string) {
	if _, err := binDir(""); err != nil {
		return false, err.Error()
	}
	if os.Geteuid() == 0 {
		if _, _, err := lookupOSUser(); err != nil {
			return false, err.Error()
		}
	}
	return true, ""
}

// Binary is the path of one of the PostgreSQL programs installed next to
// the server (pgbench, psql).
func Binary(name string) (string, error) {
	dir, err := binDir("")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("PostgreSQL program %s not found: %w", name, err)
	}
	return p, nil
}

// binDir finds the directory holding initdb and postgres.
func binDir(override string) (string, error) {
	if override == "" {
		override = os.Getenv("PGTEST_BIN")
	}
	if override != "" {
		if err := checkBinDir(override); err != nil {
			return "", err
		}
		return override, nil
	}
	preferred := filepath.Join(debianRoot, preferredVersion, "bin")
	if checkBinDir(preferred) == nil {
		return preferred, nil
	}
	entries, err := os.ReadDir(debianRoot)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL server binaries not found: %s is missing (run internal/testkit/pgtest/install.sh as root)", debianRoot)
	}
	var versions []float64
	names := map[float64]string{}
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil || !e.IsDir() {
			continue
		}
		if checkBinDir(filepath.Join(debianRoot, e.Name(), "bin")) == nil {
			versions = append(versions, v)
			names[v] = e.Name()
		}
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("PostgreSQL server binaries not found under %s (run internal/testkit/pgtest/install.sh as root)", debianRoot)
	}
	sort.Float64s(versions)
	return filepath.Join(debianRoot, names[versions[len(versions)-1]], "bin"), nil
}

func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("PostgreSQL binary %s not found: %w", p, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("PostgreSQL binary %s is not executable", p)
		}
	}
	return nil
}

func lookupOSUser() (uid, gid uint32, err error) {
	u, err := user.Lookup(osUser)
	if err != nil {
		return 0, 0, fmt.Errorf("running as root needs the %q OS user to run PostgreSQL: %w", osUser, err)
	}
	uid64, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid64, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("OS user %q has a non-numeric uid/gid", osUser)
	}
	if uid64 == 0 {
		return 0, 0, fmt.Errorf("OS user %q is uid 0; PostgreSQL refuses to run as root", osUser)
	}
	return uint32(uid64), uint32(gid64), nil
}

// Start initialises a new database cluster in a temporary directory and
// starts a server on a free loopback port. The server outlives ctx; call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := binDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var cred *syscall.Credential
	asRoot := os.Geteuid() == 0
	if asRoot {
		uid, gid, err := lookupOSUser()
		if err != nil {
			return nil, err
		}
		cred = &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
	}

	base := opts.BaseDir
	if base == "" {
		base = os.TempDir()
	}
	if asRoot && !reachableByOthers(base) {
		base = "/tmp"
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	// Unix socket paths are limited to ~107 bytes; keep ours well inside.
	if len(dir)+len("/.s.PGSQL.65535") > 100 {
		os.RemoveAll(dir)
		if dir, err = os.MkdirTemp("/tmp", "pgtest-"); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	s := &Server{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "postgres.log"),
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: chown %s: %w", dir, err))
		}
	}

	// initdb --no-sync only skips initdb's own flush of the files it writes
	// (the cluster is throwaway); the running server keeps fsync on.
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", s.dataDir, "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, lastLines(out, 20)))
	}

	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := s.startPostmaster(ctx, bin, cred, opts.Settings)
		if err == nil {
			return s, nil
		}
		// Another process may have taken the port between our probe and the
		// server's bind: try a new one.
		if errors.Is(err, errPortInUse) && attempt < attempts && ctx.Err() == nil {
			continue
		}
		return fail(err)
	}
}

var errPortInUse = errors.New("port already in use")

// startPostmaster starts postgres on a fresh port and waits until it accepts
// connections. On failure the process is gone.
func (s *Server) startPostmaster(ctx context.Context, bin string, cred *syscall.Credential, settings map[string]string) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor

	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(port),
		"-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group, so a forced stop can take every backend with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	// Where supported, the server is killed if this process dies without
	// calling Stop (e.g. a test binary's timeout panic). The kernel ties
	// that to the thread that started the child, so start and wait for it
	// on a goroutine locked to its OS thread for the server's lifetime.
	setParentDeathSignal(cmd.SysProcAttr)
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// server has exited.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	s.cmd = cmd
	s.port = port

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			log := s.LogTail(30)
			if strings.Contains(log, "Address already in use") || strings.Contains(log, "could not bind") {
				return errPortInUse
			}
			return fmt.Errorf("pgtest: postgres exited during start-up (%v):\n%s", s.waitErr, log)
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("pgtest: postgres did not become ready: %w\n%s", ctx.Err(), s.LogTail(30))
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(pctx, s.DSN())
		if err == nil {
			err = conn.Ping(pctx)
			conn.Close(pctx)
		}
		cancel()
		if err == nil {
			return nil
		}
	}
}

// childEnv is the environment of initdb and postgres: the caller's, minus
// libpq variables that could redirect them, with a neutral locale.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// reachableByOthers reports whether every directory from path up to / can be
// traversed by an unrelated user, i.e. the postgres user when we are root.
func reachableByOthers(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err == nil && st.Mode().Perm()&0o001 == 0 {
			return false
		}
		// A missing directory will be created 0755 by MkdirAll.
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns a connection string for the server's "postgres" database as
// the "postgres" superuser over loopback TCP, usable by pgx and libpq.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Port returns the loopback TCP port the server listens on.
// Pid returns the process id of the postmaster.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Dir returns the temporary directory holding the data directory, the Unix
// socket and the server log. Stop removes it.
func (s *Server) Dir() string { return s.dir }

// LogTail returns the last n lines of the server log, for diagnostics.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	return lastLines(b, n)
}

// Stop shuts the server down (fast shutdown: sessions are ended and a
// checkpoint is written), escalating to an immediate shutdown and then to
// SIGKILL of its process group if it does not exit in time, and removes its
// temporary directory. No server process remains after Stop returns. Stop may
// be called more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.cmd != nil {
			if !s.signalAndWait(syscall.SIGINT, 2*time.Minute) &&
				!s.signalAndWait(syscall.SIGQUIT, 10*time.Second) {
				s.kill()
				errs = append(errs, errors.New("pgtest: postgres ignored shutdown requests and was killed"))
			}
			// A clean postmaster exit means its children are gone; sweep the
			// group anyway in case a backend was orphaned.
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: removing %s: %w", s.dir, err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// signalAndWait sends sig to the postmaster and reports whether it exited
// within d.
func (s *Server) signalAndWait(sig syscall.Signal, d time.Duration) bool {
	select {
	case <-s.done:
		return true
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
		return true
	case <-t.C:
		return false
	}
}

// kill SIGKILLs the server's whole process group and waits for the
// postmaster to be reaped.
func (s *Server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
