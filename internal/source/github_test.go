package source

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// githubEvents is the size of the GitHub events data set.
const githubEvents = 198_024

// githubDataDir finds ../shared/data/github-events-2015 beside the
// repository root (the directory holding go.mod). The test skips when it is
// missing, except under CI=true, where it fails.
func githubDataDir(t *testing.T) string {
	t.Helper()
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatal("no go.mod above the test's directory")
		}
		root = parent
	}
	dir := filepath.Join(root, "..", "shared", "data", "github-events-2015")
	if _, err := os.Stat(filepath.Join(dir, "github_data.zip")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GitHub events data set missing under CI: %v", err)
		}
		t.Skipf("GitHub events data set not found at %s (../shared/data/github-events-2015 beside the repository); skipping", dir)
	}
	return dir
}

// unzipGitHub extracts github_data.json into a temporary directory.
func unzipGitHub(t *testing.T) string {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(githubDataDir(t), "github_data.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if filepath.Base(f.Name) != "github_data.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		dst := filepath.Join(t.TempDir(), "github_data.json")
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, rc); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	t.Fatal("github_data.zip holds no github_data.json")
	return ""
}

func TestGitHubDataset(t *testing.T) {
	path := unzipGitHub(t)
	if f := DetectFormat(path); f != FormatJSON {
		t.Errorf("DetectFormat = %q, want json", f)
	}
	r, err := Open(path, "", githubMapping)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	counts := map[string]int{}
	actors := map[string]bool{}
	total := 0
	var prefix = []byte(`{"entity_id":`)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total++
		if rec.Line != total {
			t.Fatalf("record %d has Line %d", total, rec.Line)
		}
		if !bytes.HasPrefix(rec.Event, prefix) {
			t.Fatalf("element %d: unexpected event %s", total, rec.Event)
		}
		if total%1000 == 1 {
			// A full check on a sample; the rest only by shape.
			var ev struct {
				EntityID  string          `json:"entity_id"`
				EventType string          `json:"event_type"`
				Timestamp string          `json:"timestamp"`
				Payload   map[string]any  `json:"payload"`
				Rest      json.RawMessage `json:"metadata"`
			}
			if err := json.Unmarshal(rec.Event, &ev); err != nil || ev.EntityID == "" || ev.EventType == "" ||
				!strings.HasPrefix(ev.Timestamp, "2015-") || ev.Payload["repo_name"] == nil {
				t.Fatalf("element %d: bad event %s (%v)", total, rec.Event, err)
			}
		}
		entity, typ := stringAfter(rec.Event, `{"entity_id":`), stringAfter(rec.Event, `,"event_type":`)
		actors[entity] = true
		counts[typ]++
	}
	sum := 0
	types := make([]string, 0, len(counts))
	for typ, n := range counts {
		sum += n
		types = append(types, typ)
	}
	slices.SortFunc(types, func(a, b string) int { return counts[b] - counts[a] })
	var report strings.Builder
	for _, typ := range types {
		fmt.Fprintf(&report, "\n  %-30s %7d", typ, counts[typ])
	}
	t.Logf("%d events, %d actors, %d types:%s", total, len(actors), len(counts), report.String())
	if total != githubEvents || sum != githubEvents {
		t.Errorf("read %d events (types sum to %d), want %d", total, sum, githubEvents)
	}
	if len(counts) != 12 {
		t.Errorf("%d event types, want 12", len(counts))
	}
	if len(actors) != 36_982 {
		t.Errorf("%d actors, want 36982", len(actors))
	}
}

// stringAfter returns the JSON string that follows prefix in ev (escapes are
// left as they are).
func stringAfter(ev []byte, prefix string) string {
	i := bytes.Index(ev, []byte(prefix))
	if i < 0 {
		return ""
	}
	lit := ev[i+len(prefix):]
	end := stringEnd(lit, 0)
	if end < 0 {
		return ""
	}
	return string(lit[1 : end-1])
}
