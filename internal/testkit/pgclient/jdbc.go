package pgclient

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// jdbcJar is the PostgreSQL JDBC driver (pgjdbc) of Debian's
// libpostgresql-jdbc-java package.
const jdbcJar = "/usr/share/java/postgresql.jar"

// RunJDBC runs testdata/jdbc/Check.java with pgjdbc against dsn: the
// DatabaseMetaData calls of database browsers (DBeaver, Metabase), Statement
// and PreparedStatement queries with their ResultSet and ResultSetMetaData,
// server-side prepared statements (the default prepareThreshold, and
// prepareThreshold=1 with preferQueryMode=extendedCacheEverything), fetch
// sizes (portals with row limits), errors and recovery, the transaction
// calls made on connect, and CopyManager.copyOut. The server must hold the
// fixture.
//
// The program runs as a single-file source launch (java Check.java), so it
// needs a JDK (java and javac, Java 11 or later) and the driver jar.
func RunJDBC(t testing.TB, dsn string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		missing(t, "java (Debian package default-jdk-headless)")
	}
	// Launching a source file needs the compiler module, which a JRE lacks.
	if _, err := exec.LookPath("javac"); err != nil {
		missing(t, "javac (Debian package default-jdk-headless)")
	}
	if _, err := os.Stat(jdbcJar); err != nil {
		missing(t, "pgjdbc ("+jdbcJar+", Debian package libpostgresql-jdbc-java)")
	}
	jdbcURL, err := JDBCURL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Check.java sets the JVM's time zone to UTC itself, which pgjdbc sends
	// as TimeZone in the startup packet.
	dir := testdataPath(t, "jdbc")
	r := run(context.Background(), scriptTimeout, dir, java,
		"-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8",
		"-cp", jdbcJar, "Check.java", jdbcURL, writeFixture(t))
	switch {
	case r.exit == exitMissing:
		missing(t, "pgjdbc ("+strings.TrimSpace(r.stdout+r.stderr)+")")
	case r.exit != 0:
		var fails []string
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "FAIL") {
				fails = append(fails, line)
			}
		}
		t.Fatalf("pgjdbc check failed:\n%s\n\n%s", strings.Join(fails, "\n"), r.report())
	default:
		t.Logf("pgjdbc: %s", lastLine(r.stdout))
	}
}

// JDBCURL converts a libpq connection string (postgres:// URL or key=value)
// into the pgjdbc URL of the same server, database and credentials:
// jdbc:postgresql://HOST:PORT/DB?user=...&password=...&sslmode=...
//
// The sslmode follows what libpq would do: disable without TLS, prefer when
// a plain-text fallback exists, require otherwise (pgjdbc's require, like
// libpq's, does not verify the certificate). Unix sockets and several hosts
// have no pgjdbc equivalent here and are errors.
func JDBCURL(dsn string) (string, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("pgclient: parsing DSN: %w", err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return "", fmt.Errorf("pgclient: JDBC cannot connect to the Unix socket %s", cfg.Host)
	}
	for _, fb := range cfg.Fallbacks {
		if fb.Host != cfg.Host || fb.Port != cfg.Port {
			return "", fmt.Errorf("pgclient: JDBC URL from a DSN with several hosts is not supported")
		}
	}
	sslmode := "require"
	switch {
	case cfg.TLSConfig == nil:
		sslmode = "disable"
	case len(cfg.Fallbacks) > 0 && cfg.Fallbacks[0].TLSConfig == nil:
		sslmode = "prefer"
	}
	q := url.Values{}
	q.Set("user", cfg.User)
	if cfg.Password != "" {
		q.Set("password", cfg.Password)
	}
	q.Set("sslmode", sslmode)
	u := url.URL{
		Scheme:   "postgresql",
		Host:     net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		Path:     "/" + cfg.Database,
		RawQuery: q.Encode(),
	}
	return "jdbc:" + u.String(), nil
}
