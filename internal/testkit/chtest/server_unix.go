//go:build unix

package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// defaultBinary is where Debian installs the server.
const defaultBinary = "/usr/sbin/clickhouse-server"

// osUser is the account the server runs as when the caller is root.
const osUser = "clickhouse"

// Server is a running ClickHouse server started by Start.
type Server struct {
	dir      string // temporary directory; removed by Stop
	httpPort int
	tcpPort  int
	cmd      *exec.Cmd
	done     chan struct{} // closed when the server has exited
	waitErr  error         // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Available reports whether a ClickHouse server can be started here: the
// binary exists and, when running as root, the clickhouse OS user exists.
// When it cannot, the string says why.
func Available() (bool, string) {
	if _, err := binary(""); err != nil {
		return false, err.Error()
	}
	if os.Geteuid() == 0 {
		if _, _, err := lookupOSUser(); err != nil {
			return false, err.Error()
		}
	}
	return true, ""
}

func binary(override string) (string, error) {
	if override == "" {
		override = os.Getenv("CHTEST_BIN")
	}
	if override == "" {
		override = defaultBinary
	}
	st, err := os.Stat(override)
	if err != nil {
		return "", fmt.Errorf("ClickHouse server binary not found: %v (run internal/testkit/chtest/install.sh as root)", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("ClickHouse server binary %s is not executable", override)
	}
	return override, nil
}

func lookupOSUser() (uid, gid uint32, err error) {
	u, err := user.Lookup(osUser)
	if err != nil {
		return 0, 0, fmt.Errorf("running as root needs the %q OS user to run ClickHouse: %w", osUser, err)
	}
	uid64, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid64, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("OS user %q has a non-numeric uid/gid", osUser)
	}
	return uint32(uid64), uint32(gid64), nil
}

// Start writes a configuration into a new temporary directory and starts a
// server on free loopback ports, waiting until its HTTP interface answers
// /ping. The server outlives ctx; call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := binary(opts.Binary)
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
		return nil, fmt.Errorf("chtest: %w", err)
	}
	dir, err := os.MkdirTemp(base, "chtest-")
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	s := &Server{dir: dir}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := s.start(ctx, bin, cred, opts)
		if err == nil {
			return s, nil
		}
		// Another process may have taken a port between our probe and the
		// server's bind: try new ones.
		if errors.Is(err, errPortInUse) && attempt < attempts && ctx.Err() == nil {
			continue
		}
		os.RemoveAll(dir)
		return nil, err
	}
}

var errPortInUse = errors.New("port already in use")

// start writes the configuration for fresh ports, starts the server and
// waits for it. On failure the process is gone.
func (s *Server) start(ctx context.Context, bin string, cred *syscall.Credential, opts Options) error {
	ports, err := freePorts(3)
	if err != nil {
		return fmt.Errorf("chtest: finding free ports: %w", err)
	}
	s.httpPort, s.tcpPort = ports[0], ports[1]
	mem := opts.MaxMemoryUsage
	if mem <= 0 {
		mem = 10_000_000_000
	}
	data := filepath.Join(s.dir, "data") + "/"
	for _, d := range []string{data, filepath.Join(data, "tmp"), filepath.Join(data, "user_files"), filepath.Join(s.dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("chtest: %w", err)
		}
	}
	config := fmt.Sprintf(configXML, filepath.Join(s.dir, "log", "server.log"), filepath.Join(s.dir, "log", "server.err.log"),
		ports[0], ports[1], ports[2], data, filepath.Join(data, "tmp")+"/", filepath.Join(data, "user_files")+"/",
		filepath.Join(s.dir, "users.xml"))
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(fmt.Sprintf(usersXML, mem)), 0o644); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	if cred != nil {
		if err := chownTree(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chtest: chown %s: %w", s.dir, err)
		}
	}
	stdout, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	defer stdout.Close() // the child keeps its own descriptor

	cmd := exec.Command(bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdout, cmd.Stderr = stdout, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	// The kernel ties the parent-death signal to the thread that started
	// the child, so start and wait for it on a goroutine locked to its OS
	// thread for the server's lifetime.
	setParentDeathSignal(cmd.SysProcAttr)
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("chtest: starting clickhouse-server: %w", err)
	}
	s.cmd = cmd

	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			log := s.LogTail(30)
			if strings.Contains(log, "Address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("chtest: clickhouse-server exited during start-up (%v):\n%s", s.waitErr, log)
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("chtest: clickhouse-server did not become ready: %w\n%s", ctx.Err(), s.LogTail(30))
		case <-tick.C:
		}
		resp, err := client.Get(s.HTTPURL() + "/ping")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "Ok.") {
			return nil
		}
	}
}

// configXML is the server configuration; the placeholders are the log
// files, the HTTP, native and interserver ports, the data, tmp and user
// files paths, and the users file.
const configXML = `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%s</log>
    <errorlog>%s</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>%d</http_port>
  <tcp_port>%d</tcp_port>
  <interserver_http_port>%d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>%s</path>
  <tmp_path>%s</tmp_path>
  <user_files_path>%s</user_files_path>
  <users_config>%s</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>1073741824</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`

// usersXML allows one passwordless user from loopback; the placeholder is
// max_memory_usage.
const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>%d</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// reachableByOthers reports whether every directory from path up to / can be
// traversed by an unrelated user, i.e. the clickhouse user when we are root.
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
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// freePorts returns n distinct free loopback ports. They are free when it
// returns; another process could take one before the server does.
func freePorts(n int) ([]int, error) {
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// HTTPURL returns the base URL of the HTTP interface, e.g.
// "http://127.0.0.1:38123".
func (s *Server) HTTPURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.httpPort) }

// NativeAddr returns the host:port of the native protocol (for
// clickhouse-client or clickhouse-go).
func (s *Server) NativeAddr() string { return "127.0.0.1:" + strconv.Itoa(s.tcpPort) }

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Dir returns the temporary directory holding the configuration, the data
// and the logs. Stop removes it.
func (s *Server) Dir() string { return s.dir }

// LogTail returns the last n lines of the server's error log and its
// standard output, for diagnostics.
func (s *Server) LogTail(n int) string {
	var b []byte
	for _, name := range []string{"stdout.log", "server.err.log"} {
		if c, err := os.ReadFile(filepath.Join(s.dir, "log", name)); err == nil {
			b = append(b, c...)
		}
	}
	return lastLines(b, n)
}

// Stop shuts the server down (SIGTERM, then SIGKILL of its process group if
// it has not exited within 30 s) and removes its temporary directory. No
// server process remains after Stop returns. Stop may be called more than
// once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.cmd != nil {
			if !s.signalAndWait(syscall.SIGTERM, 30*time.Second) {
				s.kill()
				errs = append(errs, errors.New("chtest: clickhouse-server ignored SIGTERM and was killed"))
			}
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("chtest: removing %s: %w", s.dir, err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

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

// kill SIGKILLs the server's process group and waits for it to be reaped.
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
