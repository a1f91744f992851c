package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource/authz"
)

// cli runs the allsource command (the test binary in binary mode) and
// returns its standard output.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ALLSOURCE_TEST_AS_BINARY=1")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("allsource %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// TestTokenIssuedAfterStart: a server that authenticates with API keys
// accepts a token whose secret `token issue` created after it started,
// without a restart (it used to answer "no signing key is configured").
func TestTokenIssuedAfterStart(t *testing.T) {
	dir := t.TempDir()
	ks, err := authz.OpenKeyStore(authz.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create("svc", "acme", []string{authz.RoleWriter}, 0); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, dir, nil)
	token := strings.TrimSpace(cli(t, "token", "issue", "--data-dir", dir, "--tenant", "acme", "--role", "analyst", "--ttl", "1h"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("POST", p.url+"/v1/query", strings.NewReader(`{"sql": "SELECT count(*) AS n FROM events"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token issued after the server started: %d after 5 s", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFileExportUnderRelativeDataDir: with the default export root
// (DATA_DIR/exports) and a relative --data-dir, as `make run` starts the
// server, a file export into that directory is accepted (the relative
// root was compared with the absolute target and refused everything).
func TestFileExportUnderRelativeDataDir(t *testing.T) {
	dir, err := os.MkdirTemp(".", "rel")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := startProc(t, dir, nil)
	abs, err := filepath.Abs(filepath.Join(dir, "exports", "x"))
	if err != nil {
		t.Fatal(err)
	}
	apiJSON(t, "POST", p.url+"/v1/exports", map[string]any{"target": "file://" + abs + "?format=ndjson"}, http.StatusCreated)
	// Outside the root is still refused.
	apiJSON(t, "POST", p.url+"/v1/exports", map[string]any{"target": "file:///tmp/elsewhere?format=ndjson"}, http.StatusBadRequest)
}
