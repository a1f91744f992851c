package wal

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errInjected = errors.New("injected fault")

// faultFile wraps a segment file. Writes fail, after writing half of the
// bytes asked, once budget bytes have been written; Syncs fail once
// failSyncAfter Syncs have succeeded (if it is >= 0); onSync runs before every
// Sync.
type faultFile struct {
	segmentFile
	mu            sync.Mutex
	budget        int
	failSyncAfter int
	onSync        func(call int)
	syncs         int
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(p) <= f.budget {
		f.budget -= len(p)
		return f.segmentFile.Write(p)
	}
	n, _ := f.segmentFile.Write(p[:min(f.budget, len(p)/2)])
	f.budget = 0
	return n, errInjected
}

func (f *faultFile) Sync() error {
	f.mu.Lock()
	call := f.syncs
	f.syncs++
	fail := f.failSyncAfter >= 0 && call >= f.failSyncAfter
	f.mu.Unlock()
	if f.onSync != nil {
		f.onSync(call)
	}
	if fail {
		return errInjected
	}
	return f.segmentFile.Sync()
}

// withFault returns Options that wrap every segment file in a faultFile made
// by mk.
func withFault(opts Options, mk func() *faultFile) Options {
	opts.wrapFile = func(f segmentFile) segmentFile {
		ff := mk()
		ff.segmentFile = f
		return ff
	}
	return opts
}

// checkFailed asserts that every write path of l reports the injected fault.
func checkFailed(t *testing.T, l *Log) {
	t.Helper()
	if _, err := l.Write([]byte("more")); !errors.Is(err, errInjected) {
		t.Errorf("Write after failure = %v, want the fault", err)
	}
	if err := l.Commit(); !errors.Is(err, errInjected) {
		t.Errorf("Commit after failure = %v, want the fault", err)
	}
	if _, err := l.Append([]byte("more")); !errors.Is(err, errInjected) {
		t.Errorf("Append after failure = %v, want the fault", err)
	}
	if _, err := l.Cut(); !errors.Is(err, errInjected) {
		t.Errorf("Cut after failure = %v, want the fault", err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Errorf("Close after failure = %v, want the fault", err)
	}
}

// checkRecovered reopens dir and checks that the committed records come back,
// followed by at most a prefix of the batch that failed.
func checkRecovered(t *testing.T, dir string, committed, failed [][]byte) {
	t.Helper()
	got := reopenRecords(t, dir)
	if len(got) < len(committed) {
		t.Fatalf("reopen found %d records, %d were committed", len(got), len(committed))
	}
	equalRecords(t, got[:len(committed)], committed)
	extra := got[len(committed):]
	if len(extra) > len(failed) {
		t.Fatalf("reopen found %d records past the committed ones", len(extra))
	}
	equalRecords(t, extra, failed[:len(extra)])
}

func TestWriteFailure(t *testing.T) {
	for _, budget := range []int{0, 5, 108*5 + 50, 108*7 + 8, 3000} {
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, withFault(Options{}, func() *faultFile { return &faultFile{budget: budget, failSyncAfter: -1} }))
			var committed, failed [][]byte
			for i := 0; ; i++ {
				batch := [][]byte{bytes.Repeat([]byte{byte(i)}, 100)}
				if i%3 == 2 {
					batch = append(batch, bytes.Repeat([]byte{byte(i + 100)}, 100))
				}
				_, err := l.Append(batch...)
				if err != nil {
					if !errors.Is(err, errInjected) {
						t.Fatalf("Append error %v does not wrap the fault", err)
					}
					failed = batch
					break
				}
				committed = append(committed, batch...)
			}
			checkFailed(t, l)
			checkRecovered(t, dir, committed, failed)
		})
	}
}

// TestWriteFailureOnRotation fails the write that a rotation flushes.
func TestWriteFailureOnRotation(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, withFault(Options{SegmentSize: 1000}, func() *faultFile { return &faultFile{budget: 500, failSyncAfter: -1} }))
	var committed [][]byte
	for i := range 3 {
		r := bytes.Repeat([]byte{byte(i)}, 100)
		if _, err := l.Append(r); err != nil {
			t.Fatal(err)
		}
		committed = append(committed, r)
	}
	pending := [][]byte{bytes.Repeat([]byte{9}, 200), bytes.Repeat([]byte{10}, 200)}
	if _, err := l.Write(pending...); err != nil {
		t.Fatal(err)
	}
	// This Write must rotate, which flushes pending and fails.
	if _, err := l.Write(make([]byte, 600)); !errors.Is(err, errInjected) {
		t.Fatalf("rotating Write = %v, want the fault", err)
	}
	checkFailed(t, l)
	checkRecovered(t, dir, committed, pending)
}

func TestSyncFailure(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, withFault(Options{}, func() *faultFile { return &faultFile{budget: 1 << 30, failSyncAfter: 3} }))
	var committed [][]byte
	for i := range 3 {
		r := []byte(fmt.Sprint("record ", i))
		if _, err := l.Append(r); err != nil {
			t.Fatal(err)
		}
		committed = append(committed, r)
	}
	failed := []byte("not durable")
	if _, err := l.Append(failed); !errors.Is(err, errInjected) {
		t.Fatalf("Append with failing fsync = %v, want the fault", err)
	}
	checkFailed(t, l)
	checkRecovered(t, dir, committed, [][]byte{failed})
}

// TestGroupCommit runs many concurrent Appends against slow fsyncs: all
// records must survive, and they must share fsyncs.
func TestGroupCommit(t *testing.T) {
	const writers, perWriter = 16, 25
	dir := t.TempDir()
	var syncs atomic.Int64
	opts := withFault(Options{OnSync: func(time.Duration) { syncs.Add(1) }}, func() *faultFile {
		return &faultFile{budget: 1 << 30, failSyncAfter: -1, onSync: func(int) { time.Sleep(2 * time.Millisecond) }}
	})
	l := openT(t, dir, opts)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := l.Append([]byte(fmt.Sprintf("w%02d-%03d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	closeT(t, l)
	appends := int64(writers * perWriter)
	fsyncs := syncs.Load() - 1 // Close fsyncs once more
	t.Logf("%d appends, %d fsyncs", appends, fsyncs)
	if fsyncs >= appends {
		t.Errorf("%d fsyncs for %d concurrent appends: no group commit", fsyncs, appends)
	}

	seen := map[string]bool{}
	for _, r := range reopenRecords(t, dir) {
		seen[string(r)] = true
	}
	for w := range writers {
		for i := range perWriter {
			if k := fmt.Sprintf("w%02d-%03d", w, i); !seen[k] {
				t.Fatalf("record %s lost", k)
			}
		}
	}
	if len(seen) != int(appends) {
		t.Fatalf("replayed %d distinct records, want %d", len(seen), appends)
	}
}

// TestGroupCommitShared pins the group commit rules exactly: Commits that
// arrive while an fsync runs share exactly one more fsync, and a Commit whose
// bytes are already covered does not fsync.
func TestGroupCommitShared(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var syncs atomic.Int64
	opts := withFault(Options{OnSync: func(time.Duration) { syncs.Add(1) }}, func() *faultFile {
		return &faultFile{budget: 1 << 30, failSyncAfter: -1, onSync: func(call int) {
			if call == 0 {
				close(entered)
				<-release
			}
		}}
	})
	dir := t.TempDir()
	l := openT(t, dir, opts)

	first := make(chan error, 1)
	go func() { _, err := l.Append([]byte("first")); first <- err }()
	<-entered // the first fsync is running

	const waiters = 6
	wrote := make(chan error, 1)
	go func() {
		for i := range waiters {
			if _, err := l.Write([]byte(fmt.Sprint("waiter ", i))); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		<-first
		<-wrote
		l.Close()
		t.Fatal("Write blocked while an fsync was running")
	}
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() { errs <- l.Commit() })
	}
	time.Sleep(10 * time.Millisecond) // let most of them queue behind the fsync
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d fsyncs, want 2: one running and one shared by all waiters", n)
	}
	if err := l.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n != 2 {
		t.Errorf("Commit with nothing new fsynced (%d fsyncs)", n)
	}
	closeT(t, l)
	if got := len(reopenRecords(t, dir)); got != waiters+1 {
		t.Errorf("replayed %d records, want %d", got, waiters+1)
	}
}
