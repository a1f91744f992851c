package chtest

import (
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestStartQueryStop(t *testing.T) {
	s := Require(t)
	resp, err := http.Post(s.HTTPURL()+"/", "text/plain", strings.NewReader("SELECT version(), timezone()"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "18.") || !strings.Contains(string(body), "UTC") {
		t.Fatalf("SELECT version(): HTTP %d %q", resp.StatusCode, body)
	}
	dir, pid := s.Dir(), s.Pid()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop (%v)", dir, err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("server pid %d still alive after Stop", pid)
	}
}
