package ingest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/wal"
	"github.com/allsource/allsource/warehouse"
)

func TestMain(m *testing.M) {
	// The fuzzing engine's own workers may still be winding down when a
	// -fuzz run ends; check for leaks in ordinary runs only.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

type testStore struct {
	wal *wal.Log
	wh  *warehouse.Warehouse
	svc *Service
}

func openTestStore(t *testing.T, dir string) *testStore {
	t.Helper()
	return openTestStoreWith(t, dir, Options{})
}

func openTestStoreWith(t *testing.T, dir string, opts Options) *testStore {
	t.Helper()
	wl, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: dir, FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(context.Background(), wl, wh, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{wal: wl, wh: wh, svc: svc}
}

func (s *testStore) close(t *testing.T, flush bool) {
	t.Helper()
	if err := s.svc.Close(context.Background(), flush); err != nil {
		t.Fatal(err)
	}
	s.wh.Close()
	s.wal.Close()
}

func inputs(n int, entity string) []Input {
	out := make([]Input, n)
	for i := range out {
		out[i] = Input{EntityID: entity, EventType: "t", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), Metadata: []byte(`{}`), ExpectedVersion: -1}
	}
	return out
}

func count(t *testing.T, wh *warehouse.Warehouse) int64 {
	t.Helper()
	rows, err := wh.Query(context.Background(), "SELECT count(*) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	rows.Next()
	rows.Scan(&n)
	return n
}

// A WAL that stops taking writes fails ingest closed: every later batch is
// refused with unavailable, nothing unacknowledged becomes visible, and
// what was acknowledged stays queryable.
func TestWALFailureRefusesWrites(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.svc.Append(ctx, "", inputs(10, "a")); err != nil {
		t.Fatal(err)
	}
	s.wal.Close() // the log now fails every write
	_, err := s.svc.Append(ctx, "", inputs(5, "b"))
	if allsource.ErrorCode(err) != allsource.CodeUnavailable {
		t.Fatalf("append after WAL failure: %v, want unavailable", err)
	}
	if _, err := s.svc.Append(ctx, "", inputs(1, "c")); allsource.ErrorCode(err) != allsource.CodeUnavailable {
		t.Fatalf("second append after WAL failure: %v", err)
	}
	if s.svc.Healthy() == nil {
		t.Fatal("service reports healthy after a WAL failure")
	}
	if n := count(t, s.wh); n != 10 {
		t.Fatalf("count = %d, want the 10 acknowledged events", n)
	}
	s.svc.Close(ctx, false)
	s.wh.Close()
}

// Events replayed from the WAL after a crash get the same seqs and versions,
// and new events continue after them.
func TestReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	res, err := s.svc.Append(ctx, "", inputs(100, "a"))
	if err != nil {
		t.Fatal(err)
	}
	s.close(t, false) // no flush: everything is only in the WAL
	s = openTestStore(t, dir)
	defer s.close(t, true)
	if n := count(t, s.wh); n != 100 {
		t.Fatalf("after replay count = %d", n)
	}
	res2, err := s.svc.Append(ctx, "", []Input{{EntityID: "a", EventType: "t", Payload: []byte(`{}`), Metadata: []byte(`{}`), ExpectedVersion: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if res2.FirstSeq != res.LastSeq+1 {
		t.Fatalf("seq after replay = %d, want %d", res2.FirstSeq, res.LastSeq+1)
	}
}

func withID(in Input, id, tenant string) Input {
	in.ID, in.Tenant = id, tenant
	return in
}

// The duplicate window is the last N events, before and after a restart.
func TestDedupWindowIsTheSameAfterRestart(t *testing.T) {
	ctx := context.Background()
	const x = "0190a6d2-0000-7000-8000-00000000000a"
	for _, tc := range []struct {
		name      string
		window    int
		wantCount int // stored by the retry of x, before and after restart
	}{
		{"inside the window", 10, 0},
		{"outside the window", 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStoreWith(t, dir, Options{DedupWindow: tc.window})
			if _, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.svc.Append(ctx, "", inputs(5, "b")); err != nil {
				t.Fatal(err)
			}
			s.close(t, true)
			for _, phase := range []string{"after restart", "after a second restart"} {
				s = openTestStoreWith(t, dir, Options{DedupWindow: tc.window})
				res, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")})
				if err != nil {
					t.Fatal(err)
				}
				if phase == "after restart" && res.Count != tc.wantCount {
					t.Fatalf("%s: retry stored %d, want %d", phase, res.Count, tc.wantCount)
				}
				s.close(t, true)
			}
		})
	}
	// And without a restart, the same answer.
	s := openTestStoreWith(t, t.TempDir(), Options{DedupWindow: 3})
	defer s.close(t, false)
	s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")})
	s.svc.Append(ctx, "", inputs(5, "b"))
	if res, _ := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")}); res.Count != 1 {
		t.Fatalf("retry outside the window stored %d, want 1", res.Count)
	}
}

// One batch may carry the same id for two tenants: two events.
func TestInBatchDuplicateIsPerTenant(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.close(t, false)
	const x = "0190a6d2-0000-7000-8000-00000000000b"
	in := inputs(3, "e")
	res, err := s.svc.Append(context.Background(), "", []Input{withID(in[0], x, "ta"), withID(in[1], x, "tb"), withID(in[2], x, "ta")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2 || len(res.Duplicates) != 1 || res.Duplicates[0].Index != 2 || res.Duplicates[0].Seq != res.FirstSeq {
		t.Fatalf("result %+v", res)
	}
}

// Appends racing Close all return.
func TestAppendCloseRace(t *testing.T) {
	for i := 0; i < 20; i++ {
		s := openTestStore(t, t.TempDir())
		done := make(chan struct{})
		for w := 0; w < 8; w++ {
			go func() {
				defer func() { done <- struct{}{} }()
				for j := 0; j < 50; j++ {
					if _, err := s.svc.Append(context.Background(), "", inputs(2, fmt.Sprintf("w%d", w))); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.svc.Close(ctx, false); err != nil {
			t.Fatal(err)
		}
		cancel()
		for w := 0; w < 8; w++ {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("an Append racing Close never returned")
			}
		}
		s.wh.Close()
		s.wal.Close()
	}
}

// TestGoCallersMayOmitPayloadAndMetadata: events appended without them
// are stored with empty objects, readable from the hot tier and Parquet.
func TestGoCallersMayOmitPayloadAndMetadata(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.svc.Append(ctx, "", []Input{{EntityID: "a", EventType: "t", ExpectedVersion: -1}}); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		rows, err := s.wh.QueryInternal(ctx, `SELECT CAST(payload AS VARCHAR) || CAST(metadata AS VARCHAR) FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out string
		for rows.Next() {
			rows.Scan(&out)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := read(); got != "{}{}" {
		t.Fatalf("hot tier: %q", got)
	}
	if err := s.wh.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "{}{}" {
		t.Fatalf("Parquet: %q", got)
	}
	s.close(t, false)
}

// TestCleanCloseRetiresTheLog: after a clean close every event is in the
// warehouse and the log is one empty segment, so the next start reads no
// log; sequence numbers, versions and duplicate ids carry on from the
// warehouse.
func TestCleanCloseRetiresTheLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const x = "0190a6d2-0000-7000-8000-00000000000c"
	s := openTestStore(t, dir)
	if _, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")}); err != nil {
		t.Fatal(err)
	}
	res, err := s.svc.Append(ctx, "", inputs(4, "a"))
	if err != nil {
		t.Fatal(err)
	}
	s.close(t, true)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("log segments after a clean close: %v", segs)
	}
	if fi, err := os.Stat(segs[0]); err != nil || fi.Size() != 8 {
		t.Fatalf("the log after a clean close is not one empty segment: %v %v", fi.Size(), err)
	}

	s = openTestStore(t, dir)
	defer s.close(t, false)
	if n := count(t, s.wh); n != 5 {
		t.Fatalf("%d events after restart, want 5", n)
	}
	dup, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], x, "")})
	if err != nil || dup.Count != 0 {
		t.Fatalf("the retry of a stored id: %+v, %v", dup, err)
	}
	in := inputs(1, "a")
	in[0].ExpectedVersion = 5
	next, err := s.svc.Append(ctx, "", in)
	if err != nil {
		t.Fatalf("appending at version 5 after restart: %v", err)
	}
	if next.FirstSeq != res.LastSeq+1 {
		t.Fatalf("first seq after restart %d, want %d", next.FirstSeq, res.LastSeq+1)
	}
}
