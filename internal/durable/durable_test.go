package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, want := range []string{`{"seq": 1}`, `{"seq": 2}`} {
		if err := Replace(p, []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("%q %v, want %q", got, err, want)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
	if err := SyncFile(p); err != nil {
		t.Fatal(err)
	}
	if err := Replace(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("wrote into a missing directory")
	}
	for in, want := range map[string]string{"/a/b": "/a", "/a": "/", "a": ".", "a/b/c": "a/b"} {
		if got := dirOf(in); got != want {
			t.Errorf("dirOf(%q) = %q, want %q", in, got, want)
		}
	}
}
