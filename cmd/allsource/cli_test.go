package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the command in this process and returns its exit status,
// standard output and standard error.
func runMain(args ...string) (int, string, string) {
	var out, errOut strings.Builder
	m := &Main{Stdout: &out, Stderr: &errOut}
	err := m.Run(context.Background(), args)
	code := 0
	if err != nil {
		code = exitCode(err)
		if code != 0 {
			errOut.WriteString("allsource: " + err.Error() + "\n")
		}
	}
	return code, out.String(), errOut.String()
}

// TestEveryHelp: each command's --help exits 0, prints on standard output
// and lists the flags that command has, not another's.
func TestEveryHelp(t *testing.T) {
	cases := []struct {
		cmd       string
		has, lack []string
	}{
		{"help", []string{"serve", "import", "query", "demo", "export", "token", "admin", "audit", "bench", "version", "ClickHouse", "quotas"}, nil},
		{"serve", []string{"--http-addr", "--pg-addr", "--data-dir", "--otlp-endpoint"}, nil},
		{"import", []string{"--entity-field", "--data-dir", "--server"}, []string{"--http-addr", "--pg-addr", "--otlp-endpoint", "--export-file-root", "--projection-checkpoint"}},
		{"demo", []string{"--users", "--end", "--data-dir"}, []string{"--http-addr", "--otlp-endpoint", "--export-allow-hosts", "--compact-interval"}},
		{"query", []string{"--format", "--token"}, []string{"--data-dir"}},
		{"token", []string{"--tenant", "--role", "--ttl"}, nil},
		{"token issue", []string{"--tenant", "--role", "--ttl"}, nil},
		{"admin", []string{"admin key create", "admin quota set", "admin user set", "admin policy set", "admin role list"}, nil},
		{"admin key", []string{"admin key create", "admin key revoke"}, []string{"admin quota"}},
		{"admin key create", []string{"--tenant", "--role", "--ttl"}, []string{"--json"}},
		{"admin key list", []string{"--json"}, []string{"--role"}},
		{"admin quota set", []string{"--ingest-events-per-sec", "--storage-bytes"}, nil},
		{"admin quota list", []string{"--data-dir"}, []string{"--storage-bytes"}},
		{"admin user set", []string{"--name", "ALLSOURCE_PASSWORD"}, nil},
		{"admin policy check", []string{"admin policy check"}, nil},
		{"admin role set", []string{"--data-dir"}, nil},
		{"audit", []string{"--server"}, nil},
		{"audit verify", []string{"--server"}, nil},
		{"export", []string{"export run", "export list", "clickhouse://", "file://"}, nil},
		{"export run", []string{"--target", "--where", "--columns"}, nil},
		{"export list", []string{"--server"}, []string{"--target", "--where"}},
		{"bench", []string{"make bench-build"}, nil}, // this test binary has no benchmarks
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			args := strings.Fields(c.cmd)
			if c.cmd != "help" {
				args = append(args, "--help")
			}
			code, out, errOut := runMain(args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage") && !strings.HasPrefix(out, "AllSource") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, s := range c.has {
				if !strings.Contains(out, s) {
					t.Errorf("help lacks %q:\n%s", s, out)
				}
			}
			for _, s := range c.lack {
				if strings.Contains(out, s) {
					t.Errorf("help lists %q, which this command does not use:\n%s", s, out)
				}
			}
		})
	}
}

// TestMistypedFlagsAndCommands: a wrong flag or subcommand is one line
// naming the closest right one, with exit status 2 and no usage dump.
func TestMistypedFlagsAndCommands(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--http-port", "9000"}, "unknown flag --http-port; did you mean --http-addr?"},
		{[]string{"serve", "--pg-port", "9000"}, "did you mean --pg-addr?"},
		{[]string{"query", "SELECT 1", "--fromat", "csv"}, "did you mean --format?"},
		{[]string{"import", "x.json", "--entity-feild", "a"}, "did you mean --entity-field?"},
		{[]string{"demo", "--user", "10"}, "did you mean --users?"},
		{[]string{"qeury"}, `did you mean "query"?`},
		{[]string{"admin", "kye", "list"}, `did you mean "key"?`},
		{[]string{"admin", "key", "lsit"}, `did you mean "list"?`},
		{[]string{"export", "rnu"}, `did you mean "run"?`},
		{[]string{"admin", "quota", "lst"}, `did you mean "list"?`},
		{[]string{"query", "--max-rows", "many", "SELECT 1"}, `invalid value "many" for flag --max-rows`},
		{[]string{"query", "SELECT 1", "--format"}, "flag --format needs a value"},
		{[]string{"query"}, "exactly one SQL argument"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runMain(c.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant %q", code, out, errOut, c.want)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
				t.Fatalf("%d lines on stderr, want one:\n%s", n+1, errOut)
			}
		})
	}
}

// TestFlagsAnywhere: flags after the positional arguments, as people
// type them, through the binary.
func TestFlagsAnywhere(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	mustAppendND(t, p.url, orderLines(0, 3)...)
	out := cli(t, "query", "SELECT count(*) AS n FROM events", "--format", "csv", "--server", p.url)
	if strings.TrimSpace(out) != "n\n3" {
		t.Fatalf("query with trailing flags:\n%s", out)
	}
	// A SQL text that starts with a comment is the query, not a flag.
	out = cli(t, "query", "--server", p.url, "--format=csv", "-- how many\nSELECT 1 AS one")
	if strings.TrimSpace(out) != "one\n1" {
		t.Fatalf("query starting with a comment:\n%s", out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "people.ndjson")
	if err := os.WriteFile(file, []byte(`{"who":"ann","what":"signed_up","when":"2026-01-02T03:04:05Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cli(t, "import", file, "--entity-field", "who", "--type-field", "what", "--time-field", "when", "--server", p.url)
	out = cli(t, "query", "--server", p.url, "--format", "csv", "SELECT entity_id, event_type FROM events WHERE event_type = 'signed_up'")
	if strings.TrimSpace(out) != "entity_id,event_type\nann,signed_up" {
		t.Fatalf("import with trailing flags:\n%s", out)
	}
}

// TestTablesForPeople: CLI tables right-align numbers and name count(*)
// count, as psql does; an empty export list says so.
func TestTablesForPeople(t *testing.T) {
	p := startProc(t, t.TempDir(), nil)
	mustAppendND(t, p.url, orderLines(0, 12)...)
	out := cli(t, "query", "--server", p.url, "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1")
	want := "event_type    | count\n" +
		"--------------+------\n" +
		"order.paid    |     4\n" +
		"order.placed  |     4\n" +
		"order.shipped |     4\n" +
		"(3 rows)\n"
	if out != want {
		t.Fatalf("query table:\n%s\nwant:\n%s", out, want)
	}
	if out := cli(t, "export", "list", "--server", p.url); out != "no export jobs\n" {
		t.Fatalf("export list with none: %q", out)
	}
}
