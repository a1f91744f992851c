package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's examples are transcripts: ```console blocks in which a
// line starting with "$ " is a command (continued on the next lines while
// a quote is open or a line ends in \ or |) and the lines after it, up to
// a "# " comment or the next command, are what it prints (blank lines at
// its end aside).
// "…" in an expected line stands for any text; a line that is only "…"
// for any number of lines. A command must succeed, unless its last
// expected line is "[exit N]".
//
// Shell blocks that cannot run here (```sh) are listed in readmeNotRun by
// their first line, with the reason; any other shell block fails the test.
var readmeNotRun = map[string]string{
	"make run    # builds bin/allsource and starts the server on ./data (HTTP on 127.0.0.1:8080, Postgres protocol on 127.0.0.1:5433)": "the test suite is itself make test; make run is what starts the server the test starts",
	"cp dashboards/provisioning/datasources/allsource.yaml /etc/grafana/provisioning/datasources/":                                     "writes into a Grafana installation; the dashboards' queries are tested by the dashboards tests",
	`curl -s localhost:8080/v1/exports -d '{"target": "postgres://me@db:5432/analytics?table=events", "every": "1m"}'`:                 "needs a PostgreSQL host named db; exports to PostgreSQL are tested by the export tests against a real PostgreSQL",
}

type readmeStep struct {
	line     int    // of the command in README.md
	cmd      string // shell text
	expected []string
}

type readmeBlock struct {
	line  int
	steps []readmeStep
}

// parseReadme returns the console blocks of a Markdown text and the shell
// blocks that are not console transcripts (by their first line).
func parseReadme(text string) (blocks []readmeBlock, shell map[string]int) {
	shell = map[string]int{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		// Fences may be indented (a block in a list item); the block's
		// lines lose that indentation.
		trimmed := strings.TrimLeft(lines[i], " ")
		indent := len(lines[i]) - len(trimmed)
		lang, ok := strings.CutPrefix(trimmed, "```")
		if !ok || lang == "" {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimLeft(lines[i], " ") != "```"; i++ {
			l := lines[i]
			if len(l) >= indent && strings.TrimLeft(l[:indent], " ") == "" {
				l = l[indent:]
			}
			body = append(body, l)
		}
		switch lang {
		case "sh", "bash", "shell":
			if len(body) > 0 {
				shell[body[0]] = start + 1
			}
		case "console":
			blocks = append(blocks, readmeBlock{line: start + 1, steps: parseTranscript(body, start+2)})
		}
	}
	return blocks, shell
}

func parseTranscript(body []string, firstLine int) []readmeStep {
	var steps []readmeStep
	for i := 0; i < len(body); i++ {
		cmd, ok := strings.CutPrefix(body[i], "$ ")
		if !ok {
			continue
		}
		st := readmeStep{line: firstLine + i}
		for !shellComplete(cmd) && i+1 < len(body) {
			i++
			cmd += "\n" + body[i]
		}
		st.cmd = cmd
		for i+1 < len(body) && !strings.HasPrefix(body[i+1], "$ ") && !strings.HasPrefix(body[i+1], "# ") {
			i++
			st.expected = append(st.expected, body[i])
		}
		for len(st.expected) > 0 && strings.TrimSpace(st.expected[len(st.expected)-1]) == "" {
			st.expected = st.expected[:len(st.expected)-1]
		}
		steps = append(steps, st)
	}
	return steps
}

// shellComplete tells whether a command text is whole: no quote left
// open, no trailing \, | or &&.
func shellComplete(s string) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			quote = c
		}
	}
	t := strings.TrimRight(s, " ")
	return quote == 0 && !strings.HasSuffix(t, "\\") && !strings.HasSuffix(t, "|") && !strings.HasSuffix(t, "&&")
}

// matchOutput reports whether got matches the expected lines.
func matchOutput(expected, got []string) bool {
	if len(expected) == 0 {
		return len(got) == 0
	}
	if expected[0] == "…" {
		for k := 0; k <= len(got); k++ {
			if matchOutput(expected[1:], got[k:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && linePattern(expected[0]).MatchString(got[0]) && matchOutput(expected[1:], got[1:])
}

func linePattern(s string) *regexp.Regexp {
	parts := strings.Split(s, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*?") + "$")
}

func TestReadmeTranscriptParsing(t *testing.T) {
	blocks, _ := parseReadme("text\n```console\n$ echo 'a\nb' |\n  cat\na\nb\n\n# note\n$ true\n$ printf x\nx\n```\n")
	if b, _ := parseReadme("  ```console\n  $ printf 'a\\n\\nb'\n  a\n\n  b\n\n  ```\n"); len(b) != 1 || strings.Join(b[0].steps[0].expected, "|") != "a||b" {
		t.Fatalf("indented block with a blank line in its output: %+v", b)
	}
	if len(blocks) != 1 || len(blocks[0].steps) != 3 {
		t.Fatalf("%+v", blocks)
	}
	s := blocks[0].steps
	if s[0].cmd != "echo 'a\nb' |\n  cat" || strings.Join(s[0].expected, "|") != "a|b" || len(s[1].expected) != 0 || s[2].line != 11 {
		t.Fatalf("%+v", s)
	}
	for _, c := range []struct {
		exp, got string
		ok       bool
	}{
		{"a…c", "abc", true},
		{"a…c", "abd", false},
		{"x\n…\ny", "x\n1\n2\ny", true},
		{"x\n…\ny", "x\ny", true},
		{"x\n…", "x\n1", true},
		{"x", "x\ny", false},
		{"{\"n\":…}", "{\"n\":12}", true},
	} {
		if got := matchOutput(strings.Split(c.exp, "\n"), strings.Split(c.got, "\n")); got != c.ok {
			t.Errorf("%q vs %q: %v", c.exp, c.got, got)
		}
	}
}

// TestReadme runs every example of README.md, in order, against one fresh
// server (the tour loads the demo history, pinned to a day so its numbers
// hold), and checks what each prints against what the README shows.
// README_SHOW=1 logs every command's output, to write the README from.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, shell := parseReadme(string(text))
	for first, line := range shell {
		if _, ok := readmeNotRun[first]; !ok {
			t.Errorf("README.md:%d: a shell block that is not a ```console transcript the test runs, nor listed in readmeNotRun with a reason", line)
		}
	}
	for first := range readmeNotRun {
		if _, ok := shell[first]; !ok {
			t.Errorf("readmeNotRun lists %q, which is no longer in README.md", first)
		}
	}
	if len(blocks) < 5 {
		t.Errorf("only %d console blocks in README.md", len(blocks))
	}
	// Statements that were once true and are not any more.
	for _, stale := range []string{"come next", "Not built yet", "not built yet", "(devel)", "cart.added", "payload.amount\"", "user.created", "github_data.json"} {
		if strings.Contains(string(text), stale) {
			t.Errorf("README.md says %q, which is no longer true", stale)
		}
	}
	needPsql := strings.Contains(string(text), "\n$ psql")
	if needPsql {
		if _, err := exec.LookPath("psql"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("psql is not installed; the README's psql examples cannot run (internal/testkit/pgclient/install.sh installs it)")
			}
			t.Skip("SKIPPED LOUDLY: psql is not installed, so the README's examples are not checked")
		}
	}

	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nALLSOURCE_TEST_AS_BINARY=1 exec %q \"$@\"\n", exe)
	if err := os.WriteFile(filepath.Join(bin, "allsource"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"examples", "dashboards"} {
		abs, err := filepath.Abs(filepath.Join("..", "..", d))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(work, d)); err != nil {
			t.Fatal(err)
		}
	}
	p := startProc(t, filepath.Join(work, "data"), nil)
	_, httpPort, _ := net.SplitHostPort(strings.TrimPrefix(p.url, "http://"))
	_, pgPort, _ := net.SplitHostPort(p.pg)
	ports := strings.NewReplacer(":8080", ":"+httpPort, "5433", pgPort)
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"ALLSOURCE_SERVER="+p.url,
		"PGCONNECT_TIMEOUT=10",
	)
	show := os.Getenv("README_SHOW") != ""
	for _, b := range blocks {
		var script strings.Builder
		script.WriteString("set -o pipefail\n")
		for i, st := range b.steps {
			fmt.Fprintf(&script, "printf '\\n@@@ %d\\n'\n%s\nprintf '\\n@@@ rc %%d\\n' $?\n", i, ports.Replace(st.cmd))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
		cmd.Dir, cmd.Env = work, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Errorf("README.md:%d: the block did not run: %v\n%s", b.line, err, stderr.String())
			continue
		}
		results := splitResults(string(out))
		for i, st := range b.steps {
			r, ok := results[i]
			if !ok {
				t.Errorf("README.md:%d: %s\nno result (stderr:\n%s)", st.line, st.cmd, stderr.String())
				continue
			}
			if show {
				t.Logf("README.md:%d: $ %s\n%s[exit %d]", st.line, st.cmd, strings.Join(r.lines, "\n")+"\n", r.rc)
			}
			wantRC, expected := 0, st.expected
			if n := len(expected); n > 0 {
				if m := exitLine.FindStringSubmatch(expected[n-1]); m != nil {
					wantRC, _ = strconv.Atoi(m[1])
					expected = expected[:n-1]
				}
			}
			if r.rc != wantRC {
				t.Errorf("README.md:%d: $ %s\nexit status %d, want %d; it printed:\n%s\nstderr of the block:\n%s", st.line, st.cmd, r.rc, wantRC, strings.Join(r.lines, "\n"), stderr.String())
				continue
			}
			if len(expected) > 0 && !matchOutput(expected, r.lines) {
				t.Errorf("README.md:%d: $ %s\nprinted:\n%s\nbut the README shows:\n%s", st.line, st.cmd, strings.Join(r.lines, "\n"), strings.Join(expected, "\n"))
			}
		}
	}
	checkDataDirListing(t, string(text), filepath.Join(work, "data"))
}

// exitLine, as the last expected line, is the exit status a command
// must end with: "[exit 28]".
var exitLine = regexp.MustCompile(`^\[exit (\d+)\]$`)

// checkDataDirListing fails when the data dir holds an entry the README's
// description of it does not name.
func checkDataDirListing(t *testing.T, readme, dataDir string) {
	i := strings.Index(readme, "**Data directory**")
	if i < 0 {
		t.Error("README.md has no **Data directory** description")
		return
	}
	desc := readme[i:min(len(readme), i+1500)]
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		if !strings.Contains(desc, "`"+name) {
			t.Errorf("the data dir holds %s, which README.md's **Data directory** does not name", name)
		}
	}
}

type stepResult struct {
	lines []string
	rc    int
}

// splitResults cuts a block's output at the markers the script prints.
func splitResults(out string) map[int]stepResult {
	res := map[int]stepResult{}
	cur, lines := -1, []string(nil)
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "@@@ rc "); ok && cur >= 0 {
			rc, _ := strconv.Atoi(rest)
			for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
				lines = lines[:len(lines)-1]
			}
			for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
				lines = lines[1:]
			}
			res[cur] = stepResult{lines: lines, rc: rc}
			cur, lines = -1, nil
			continue
		}
		if rest, ok := strings.CutPrefix(line, "@@@ "); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				cur, lines = n, nil
				continue
			}
		}
		if cur >= 0 {
			lines = append(lines, strings.TrimRight(line, " \t"))
		}
	}
	return res
}
