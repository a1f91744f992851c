package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// record is a replayed record with its segment.
type record struct {
	seg uint64
	rec []byte
}

func openT(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func closeT(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// replayT replays l, copying the records.
func replayT(t testing.TB, l *Log) []record {
	t.Helper()
	var out []record
	err := l.Replay(func(seg uint64, rec []byte) error {
		out = append(out, record{seg, bytes.Clone(rec)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

// reopenRecords opens dir, replays it and closes it again.
func reopenRecords(t testing.TB, dir string) [][]byte {
	t.Helper()
	l := openT(t, dir, Options{})
	defer closeT(t, l)
	return payloads(replayT(t, l))
}

func payloads(rs []record) [][]byte {
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r.rec
	}
	return out
}

func equalRecords(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}

// randomRecord returns a record of n pseudo-random bytes.
func randomRecord(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func segPath(dir string, n uint64) string { return filepath.Join(dir, segmentName(n)) }

func TestParseSyncMode(t *testing.T) {
	for _, m := range []SyncMode{SyncAlways, SyncInterval, SyncOff} {
		got, err := ParseSyncMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseSyncMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	_, err := ParseSyncMode("sometimes")
	if err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("ParseSyncMode(sometimes) error = %v, want one naming the value", err)
	}
	if s := SyncMode(7).String(); s != "SyncMode(7)" {
		t.Errorf("String of unknown mode = %q", s)
	}
}

func TestOptionsValidate(t *testing.T) {
	var o Options
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.SegmentSize != 64<<20 || o.Sync != SyncAlways || o.SyncInterval != 100*time.Millisecond || o.Logger == nil {
		t.Errorf("defaults not filled: %+v", o)
	}
	for _, bad := range []Options{{SegmentSize: -1}, {Sync: SyncMode(3)}, {SyncInterval: -time.Second}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", bad)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	l := openT(t, dir, Options{SegmentSize: 16 << 10})
	var want []record
	for len(want) < 600 {
		batch := make([][]byte, 1+rng.IntN(5))
		for i := range batch {
			size := rng.IntN(300)
			if rng.IntN(20) == 0 {
				size = rng.IntN(20 << 10) // sometimes larger than a segment
			}
			batch[i] = randomRecord(rng, size)
		}
		seg, err := l.Append(batch...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range batch {
			want = append(want, record{seg, r})
		}
	}
	if n := len(l.Segments()); n < 5 {
		t.Fatalf("only %d segments; want several rotations", n)
	}
	size := l.Size()
	closeT(t, l)

	var onDisk int64
	for _, n := range segmentsOnDisk(t, dir) {
		fi, err := os.Stat(segPath(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk != size {
		t.Errorf("Size() = %d, files hold %d bytes", size, onDisk)
	}

	l = openT(t, dir, Options{SegmentSize: 16 << 10})
	defer closeT(t, l)
	got := replayT(t, l)
	equalRecords(t, payloads(got), payloads(want))
	for i := range want {
		if got[i].seg != want[i].seg {
			t.Fatalf("record %d replayed from segment %d, Write said %d", i, got[i].seg, want[i].seg)
		}
	}
}

func segmentsOnDisk(t testing.TB, dir string) []uint64 {
	t.Helper()
	nums, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return nums
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 100})
	defer closeT(t, l)
	steps := []struct {
		sizes []int
		seg   uint64
	}{
		{[]int{50}, 1},         // 8+58 = 66
		{[]int{20}, 1},         // 66+28 = 94 fits
		{[]int{0}, 2},          // 94+8 = 102 does not
		{[]int{500}, 3},        // larger than a segment: its own
		{[]int{1}, 4},          // segment 3 is already over
		{[]int{30, 30, 30}, 5}, // one batch, one segment, even over the limit
		{nil, 5},               // nothing written, nothing rotated
	}
	for i, s := range steps {
		var recs [][]byte
		for _, n := range s.sizes {
			recs = append(recs, make([]byte, n))
		}
		seg, err := l.Write(recs...)
		if err != nil {
			t.Fatal(err)
		}
		if seg != s.seg {
			t.Errorf("step %d: Write went to segment %d, want %d", i, seg, s.seg)
		}
	}
	if got := l.Segments(); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("Segments() = %v", got)
	}
}

func TestRecordTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 256 MiB")
	}
	l := openT(t, t.TempDir(), Options{})
	defer closeT(t, l)
	if _, err := l.Write(make([]byte, MaxRecordSize+1)); err == nil {
		t.Fatal("Write of an oversized record succeeded")
	}
	if _, err := l.Append([]byte("still usable")); err != nil {
		t.Fatalf("Log unusable after rejected record: %v", err)
	}
}

func TestCutRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	before := [][]byte{[]byte("a"), []byte("b")}
	var segs []uint64
	for _, r := range before {
		seg, err := l.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
	}
	cut1, err := l.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("c")); err != nil {
		t.Fatal(err)
	}
	cut2, err := l.Cut()
	if err != nil {
		t.Fatal(err)
	}
	after := [][]byte{[]byte("d"), []byte("e")}
	for _, r := range after {
		seg, err := l.Write(r)
		if err != nil {
			t.Fatal(err)
		}
		if seg < cut2 {
			t.Errorf("record written after Cut went to segment %d < %d", seg, cut2)
		}
	}
	for _, s := range segs {
		if s >= cut1 {
			t.Errorf("record written before Cut is in segment %d >= %d", s, cut1)
		}
	}
	if got := l.Segments(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Segments() = %v", got)
	}
	if err := l.RemoveBefore(cut2); err != nil {
		t.Fatal(err)
	}
	if got := l.Segments(); !slices.Equal(got, []uint64{cut2}) {
		t.Fatalf("Segments() after RemoveBefore = %v", got)
	}
	if got := segmentsOnDisk(t, dir); !slices.Equal(got, []uint64{cut2}) {
		t.Fatalf("files after RemoveBefore = %v", got)
	}
	// The active segment is never removed.
	if err := l.RemoveBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	if got := segmentsOnDisk(t, dir); !slices.Equal(got, []uint64{cut2}) {
		t.Fatalf("files after RemoveBefore(huge) = %v", got)
	}
	closeT(t, l)

	l = openT(t, dir, Options{})
	defer closeT(t, l)
	got := replayT(t, l)
	equalRecords(t, payloads(got), after)
	for _, r := range got {
		if r.seg != cut2 {
			t.Errorf("replayed record from segment %d, want %d", r.seg, cut2)
		}
	}
}

// TestRetire: Retire leaves one empty segment, and does nothing more
// when nothing was written since.
func TestRetire(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 64})
	for _, r := range []string{"a", "bb", "ccc", "dddd", "eeeee"} {
		if _, err := l.Append(bytes.Repeat([]byte(r), 10)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Segments()); n < 2 {
		t.Fatalf("%d segments; the test needs several", n)
	}
	if err := l.Retire(); err != nil {
		t.Fatal(err)
	}
	segs := segmentsOnDisk(t, dir)
	if len(segs) != 1 || l.Size() != headerSize {
		t.Fatalf("after Retire: segments %v, %d bytes", segs, l.Size())
	}
	if err := l.Retire(); err != nil {
		t.Fatal(err)
	}
	if again := segmentsOnDisk(t, dir); !slices.Equal(again, segs) {
		t.Fatalf("a second Retire changed the segments from %v to %v", segs, again)
	}
	if _, err := l.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	closeT(t, l)
	equalRecords(t, reopenRecords(t, dir), [][]byte{[]byte("after")})
}

func TestSyncModes(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncOff} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			var syncs atomic.Int64
			opts := Options{Sync: mode, SyncInterval: 5 * time.Millisecond, SegmentSize: 4 << 10,
				OnSync: func(time.Duration) { syncs.Add(1) }}
			l := openT(t, dir, opts)
			rng := rand.New(rand.NewPCG(3, uint64(mode)))
			var want [][]byte
			for range 50 {
				r := randomRecord(rng, rng.IntN(200))
				if _, err := l.Write(r); err != nil {
					t.Fatal(err)
				}
				want = append(want, r)
				if rng.IntN(3) == 0 {
					if err := l.Commit(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := l.Commit(); err != nil {
				t.Fatal(err)
			}
			if mode == SyncInterval {
				// The background syncer must fsync without being asked.
				deadline := time.Now().Add(5 * time.Second)
				for {
					l.mu.Lock()
					done := l.synced == l.pos
					l.mu.Unlock()
					if done && syncs.Load() > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("background syncer did not fsync")
					}
					time.Sleep(time.Millisecond)
				}
			}
			closeT(t, l)
			equalRecords(t, reopenRecords(t, dir), want)
		})
	}
}

// TestSyncOffNoFsync checks that SyncOff Commits do not fsync, and that Close
// does.
func TestSyncOffNoFsync(t *testing.T) {
	var syncs int
	l := openT(t, t.TempDir(), Options{Sync: SyncOff, OnSync: func(time.Duration) { syncs++ }})
	for range 10 {
		if _, err := l.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if syncs != 0 {
		t.Errorf("SyncOff Commits fsynced %d times", syncs)
	}
	closeT(t, l)
	if syncs != 1 {
		t.Errorf("Close fsynced %d times, want 1", syncs)
	}
}

func TestClosed(t *testing.T) {
	l := openT(t, t.TempDir(), Options{Sync: SyncInterval})
	closeT(t, l)
	checks := map[string]error{
		"Close":        l.Close(),
		"Commit":       l.Commit(),
		"RemoveBefore": l.RemoveBefore(1),
		"Replay":       l.Replay(func(uint64, []byte) error { return nil }),
	}
	_, checks["Write"] = l.Write([]byte("x"))
	_, checks["Append"] = l.Append([]byte("x"))
	_, checks["Cut"] = l.Cut()
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestReplayRules(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	if _, err := l.Append([]byte("1"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := l.Replay(func(uint64, []byte) error { return nil }); err == nil {
		t.Error("Replay after Write succeeded")
	}
	closeT(t, l)

	l = openT(t, dir, Options{})
	defer closeT(t, l)
	stop := errors.New("stop")
	calls := 0
	err := l.Replay(func(uint64, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("Replay = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestOpenDirectory(t *testing.T) {
	t.Run("creates nested dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		l := openT(t, dir, Options{})
		closeT(t, l)
		if got := segmentsOnDisk(t, dir); !slices.Equal(got, []uint64{1}) {
			t.Errorf("segments = %v", got)
		}
	})
	t.Run("ignores and cleans other files", func(t *testing.T) {
		dir := t.TempDir()
		l := openT(t, dir, Options{})
		if _, err := l.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
		closeT(t, l)
		for name, data := range map[string]string{"00000002.wal.tmp": "AW", "notes.txt": "hi", "1.wal": "x"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		equalRecords(t, reopenRecords(t, dir), [][]byte{[]byte("x")})
		if _, err := os.Stat(filepath.Join(dir, "00000002.wal.tmp")); !os.IsNotExist(err) {
			t.Errorf("leftover temp file not removed: %v", err)
		}
	})
	t.Run("missing segment", func(t *testing.T) {
		dir := t.TempDir()
		l := openT(t, dir, Options{})
		for range 3 {
			if _, err := l.Cut(); err != nil {
				t.Fatal(err)
			}
		}
		closeT(t, l)
		if err := os.Remove(segPath(dir, 2)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "00000002.wal") {
			t.Fatalf("Open with a gap = %v, want an error naming the missing segment", err)
		}
	})
}

func TestCorruptionErrorMessage(t *testing.T) {
	err := error(&CorruptionError{Segment: 3, Offset: 42, Err: ErrChecksum})
	if got := err.Error(); !strings.Contains(got, "00000003.wal") || !strings.Contains(got, "42") {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, ErrChecksum) {
		t.Error("CorruptionError does not unwrap to its cause")
	}
	_ = fmt.Sprint(err)
}
