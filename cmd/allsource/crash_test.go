package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// proc is a real server process (the test binary in binary mode).
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	pg   string // pgwire address
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startProc starts a server on dir and waits until it is ready.
func startProc(t *testing.T, dir string, env []string, flags ...string) *proc {
	t.Helper()
	// The free ports are picked, then let go: another process may take one
	// in between (parallel test packages), which is no fault of the server.
	for attempt := 1; ; attempt++ {
		p, taken := tryStartProc(t, dir, env, flags...)
		if !taken {
			return p
		}
		if attempt == 3 {
			t.Fatalf("server could not listen, three times:\n%s", p.logs.String())
		}
	}
}

// tryStartProc starts a server and waits until it is ready; taken reports
// that it exited because a port it was given was in use.
func tryStartProc(t *testing.T, dir string, env []string, flags ...string) (p *proc, taken bool) {
	t.Helper()
	addr, pgAddr := freeAddr(t), freeAddr(t)
	args := append([]string{"serve", "--data-dir", dir, "--http-addr", addr, "--pg-addr", pgAddr, "--log-level", "debug"}, flags...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "ALLSOURCE_TEST_AS_BINARY=1"), env...)
	p = &proc{t: t, cmd: cmd, url: "http://" + addr, pg: pgAddr, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server log (%s):\n%s", dir, tail(p.logs.String(), 60))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			if strings.Contains(p.logs.String(), "address already in use") {
				return p, true
			}
			t.Fatalf("server exited during start-up: %v\n%s", p.err, p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			// Ready once both front ends accept: the Postgres listener
			// may open just after HTTP answers.
			if resp.StatusCode == 200 && dialable(p.pg) {
				return p, false
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not ready after 60s:\n%s", p.logs.String())
	return nil, false
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

func (p *proc) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop within 60s of SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("server exit: %v\n%s", p.err, tail(p.logs.String(), 40))
	}
}

// sentBatch is one POSTed batch and whether the server acknowledged it.
type sentBatch struct {
	ids   []string
	acked bool
}

// writeLoad posts batches of size events from each of writers goroutines
// until stop is closed or the server stops answering; it returns every
// batch sent.
func writeLoad(url string, writers, size int, day string, stop <-chan struct{}) []*sentBatch {
	var mu sync.Mutex
	var all []*sentBatch
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := &sentBatch{}
				var body bytes.Buffer
				for j := 0; j < size; j++ {
					id := uuid.NewString()
					b.ids = append(b.ids, id)
					fmt.Fprintf(&body, `{"id":%q,"entity_id":"w%d-e%d","event_type":"load.tick","timestamp":"%sT%02d:%02d:00Z","payload":{"w":%d,"i":%d,"j":%d}}`+"\n",
						id, w, j%17, day, (i/60)%24, i%60, w, i, j)
				}
				mu.Lock()
				all = append(all, b)
				mu.Unlock()
				resp, err := client.Post(url+"/v1/events", "application/x-ndjson", &body)
				if err != nil {
					return // server gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					b.acked = true
					mu.Unlock()
				} else if resp.StatusCode >= 500 {
					return
				}
			}
		}()
	}
	wg.Wait()
	return all
}

// queryCSV runs SQL on a server and returns the CSV rows without the header.
func queryCSV(t *testing.T, url, sql string) [][]string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"sql": sql})
	req, _ := http.NewRequest("POST", url+"/v1/query", bytes.NewReader(body))
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: HTTP %d: %s", sql, resp.StatusCode, b)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

// checkExactlyOnce verifies that every acknowledged event is stored exactly
// once, that every batch is stored whole or not at all, and that seqs are
// unique. It returns how many events are stored.
// checkEntityStreams reads every entity's stream (the entity index and the
// hot tier) and wants exactly the events a query over events gives, in
// version order.
func checkEntityStreams(t *testing.T, url string) {
	t.Helper()
	rows := queryCSV(t, url, "SELECT entity_id, string_agg(id, ' ' ORDER BY version) FROM events GROUP BY 1")
	for _, r := range rows {
		resp, err := http.Get(url + "/v1/entities/" + r[0] + "/events?limit=100000")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range res.Events {
			ids = append(ids, e.ID)
		}
		if got := strings.Join(ids, " "); got != r[1] {
			t.Fatalf("stream of %s:\n%s\nwant (query):\n%s", r[0], got, r[1])
		}
	}
	if len(rows) == 0 {
		t.Fatal("no entity to read")
	}
}

func checkExactlyOnce(t *testing.T, url string, batches []*sentBatch) int {
	t.Helper()
	rows := queryCSV(t, url, "SELECT id, count(*) FROM events GROUP BY id")
	stored := make(map[string]int, len(rows))
	for _, r := range rows {
		n, _ := strconv.Atoi(r[1])
		stored[r[0]] = n
		if n != 1 {
			t.Errorf("id %s stored %d times", r[0], n)
		}
	}
	acked, partial := 0, 0
	for _, b := range batches {
		present := 0
		for _, id := range b.ids {
			if stored[id] > 0 {
				present++
			}
		}
		if b.acked {
			acked++
			if present != len(b.ids) {
				t.Errorf("acknowledged batch lost %d of %d events", len(b.ids)-present, len(b.ids))
			}
		} else if present != 0 && present != len(b.ids) {
			partial++
		}
	}
	if partial > 0 {
		t.Errorf("%d unacknowledged batches were stored in part", partial)
	}
	seqs := queryCSV(t, url, "SELECT count(*), count(DISTINCT seq) FROM events")
	if seqs[0][0] != seqs[0][1] {
		t.Errorf("seq not unique: %v", seqs[0])
	}
	if acked == 0 {
		t.Fatal("no batch was acknowledged: the test exercised nothing")
	}
	t.Logf("%d batches sent, %d acknowledged, %d events stored", len(batches), acked, len(stored))
	return len(stored)
}

// checkNoOrphans verifies that the files on disk are exactly the manifest's.
// A flush or compaction in progress has a file on disk before the manifest
// names it (or after it stopped naming it), so a difference must persist
// before it counts.
func checkNoOrphans(t *testing.T, url, dir string) {
	t.Helper()
	var onDisk, named int
	for attempt := 0; attempt < 50; attempt++ {
		onDisk = 0
		filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				onDisk++
			}
			return nil
		})
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Files int `json:"parquet_files"`
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		named = st.Files
		if named == onDisk {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("manifest names %d files, %d on disk", named, onDisk)
}

// checkColumns waits until every Parquet file has its event columns and
// no columns file is left without its Parquet file, then checks that an
// hourly count (answered from the columns when they are complete) adds up
// to the events stored.
func checkColumns(t *testing.T, url, dir string) {
	t.Helper()
	list := func() (parquet, cols []string) {
		filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(filepath.Join(dir, "warehouse"), p)
				parquet = append(parquet, strings.TrimSuffix(rel, ".parquet"))
			}
			return nil
		})
		filepath.WalkDir(filepath.Join(dir, "index", "columns"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(filepath.Join(dir, "index", "columns"), p)
				cols = append(cols, strings.TrimSuffix(rel, ".cols"))
			}
			return nil
		})
		slices.Sort(parquet)
		slices.Sort(cols)
		return parquet, cols
	}
	var parquet, cols []string
	for attempt := 0; attempt < 100; attempt++ {
		if parquet, cols = list(); slices.Equal(parquet, cols) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Equal(parquet, cols) {
		t.Fatalf("Parquet files %v, event columns %v", parquet, cols)
	}
	var series struct {
		Series []struct {
			Points []struct {
				Value float64 `json:"value"`
			} `json:"points"`
		} `json:"series"`
	}
	if st := postAnalytics(t, url, "/v1/analytics/timeseries",
		`{"metric":"count","interval":"1h","from":"2026-04-01T00:00:00Z","to":"2026-06-01T00:00:00Z","fill":"none"}`, &series); st != http.StatusOK {
		t.Fatalf("time series: HTTP %d", st)
	}
	var total int64
	for _, s := range series.Series {
		for _, p := range s.Points {
			total += int64(p.Value)
		}
	}
	count := queryCSV(t, url, "SELECT count(*) FROM events")
	if want := count[0][0]; strconv.FormatInt(total, 10) != want {
		t.Fatalf("the hourly counts add up to %d events, the events table has %s", total, want)
	}
}

func TestKill9DuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test")
	}
	dir := t.TempDir()
	flags := []string{"--flush-rows", "3000", "--flush-age", "300ms", "--compact-min-files", "3", "--compact-interval", "200ms"}
	p := startProc(t, dir, nil, flags...)
	stop := make(chan struct{})
	var batches []*sentBatch
	done := make(chan struct{})
	go func() { batches = writeLoad(p.url, 4, 50, "2026-05-01", stop); close(done) }()
	time.Sleep(2 * time.Second)
	p.kill() // kill -9 under load
	close(stop)
	<-done

	p2 := startProc(t, dir, nil, flags...)
	n := checkExactlyOnce(t, p2.url, batches)
	// The restarted server keeps ingesting with fresh seqs.
	more := writeLoad(p2.url, 1, 10, "2026-05-02", closedAfter(300*time.Millisecond))
	checkExactlyOnce(t, p2.url, append(batches, more...))
	if got := queryCSV(t, p2.url, "SELECT count(*) FROM events"); got[0][0] == strconv.Itoa(n) {
		t.Error("no events stored after restart")
	}
	p2.stop(t)
	// A clean stop flushes everything: the WAL holds nothing to replay.
	p3 := startProc(t, dir, nil, flags...)
	if !strings.Contains(p3.logs.String(), "replayed=0") {
		t.Errorf("events replayed after a clean shutdown:\n%s", tail(p3.logs.String(), 20))
	}
	checkNoOrphans(t, p3.url, dir)
}

// TestCrashDuringIndexCatchUp: a server killed after a flush but before
// its index step, then killed again while the next start-up catches the
// index up, comes back with every acknowledged event readable by entity
// exactly once.
func TestCrashDuringIndexCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test")
	}
	dir := t.TempDir()
	flags := []string{"--flush-rows", "400", "--flush-age", "200ms"}
	batches := loadUntilFault(t, dir, "index:before-write", flags...)

	// The next start-up finds the index behind and dies catching it up.
	addr, pgAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--data-dir", dir, "--http-addr", addr, "--pg-addr", pgAddr}, flags...)...)
	cmd.Env = append(os.Environ(), "ALLSOURCE_TEST_AS_BINARY=1", faultEnv+"=index:catch-up")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "fault injection: SIGKILL") {
		t.Fatalf("the start-up did not die catching the index up:\n%s", tail(string(out), 30))
	}

	p3 := startProc(t, dir, nil, flags...)
	if !strings.Contains(p3.logs.String(), "entity index caught up") {
		t.Errorf("the index was not caught up:\n%s", tail(p3.logs.String(), 20))
	}
	checkExactlyOnce(t, p3.url, batches)
	checkNoOrphans(t, p3.url, dir)
	checkEntityStreams(t, p3.url)
}

// loadUntilFault runs a server armed to kill itself at point under a write
// load until it does, and returns the batches sent.
func loadUntilFault(t *testing.T, dir, point string, flags ...string) []*sentBatch {
	t.Helper()
	p := startProc(t, dir, []string{faultEnv + "=" + point}, flags...)
	stop := make(chan struct{})
	done := make(chan []*sentBatch)
	go func() { done <- writeLoad(p.url, 2, 50, "2026-05-01", stop) }()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not reach %s", point)
	}
	close(stop)
	batches := <-done
	if !strings.Contains(p.logs.String(), "fault injection: SIGKILL") {
		t.Fatalf("server died without reaching %s: %v", point, p.err)
	}
	return batches
}

func closedAfter(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

func TestCrashAtEachFlushAndCompactionStep(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test")
	}
	for _, point := range []string{"flush:after-write", "flush:after-rename", "flush:after-manifest", "compact:after-rename", "compact:after-manifest",
		"index:before-write", "index:after-write", "columns:after-write"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			flags := []string{"--flush-rows", "400", "--flush-age", "200ms", "--compact-min-files", "2", "--compact-interval", "100ms"}
			batches := loadUntilFault(t, dir, point, flags...)
			p2 := startProc(t, dir, nil, flags...)
			checkExactlyOnce(t, p2.url, batches)
			checkNoOrphans(t, p2.url, dir)
			checkEntityStreams(t, p2.url)
			checkColumns(t, p2.url, dir)
			// And after the recovered server flushes and compacts again.
			time.Sleep(600 * time.Millisecond)
			checkExactlyOnce(t, p2.url, batches)
			checkNoOrphans(t, p2.url, dir)
			checkEntityStreams(t, p2.url)
			checkColumns(t, p2.url, dir)
		})
	}
}

var _ = context.Background
