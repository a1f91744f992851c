package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/wal"
	"github.com/allsource/allsource/warehouse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testStore struct {
	wal *wal.Log
	wh  *warehouse.Warehouse
	svc *Service
}

func openTestStore(t *testing.T, dir string) *testStore {
	t.Helper()
	wl, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: dir, FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(context.Background(), wl, wh, Options{})
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
