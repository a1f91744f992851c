package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// corruptionSizes are the record sizes in each segment of the corruption
// tests.
var corruptionSizes = []int{10, 50, 100, 30, 60}

// frameOffsets returns the offset of each frame of a segment holding records
// of the given sizes, and the offset of the end.
func frameOffsets(sizes []int) (offs []int64, end int64) {
	end = headerSize
	for _, n := range sizes {
		offs = append(offs, end)
		end += frameHeaderSize + int64(n)
	}
	return offs, end
}

// writeTwoSegments writes corruptionSizes records into segment 1, cuts, and
// writes as many into segment 2. It returns the records of each segment.
func writeTwoSegments(t *testing.T, dir string) (seg1, seg2 [][]byte) {
	t.Helper()
	l := openT(t, dir, Options{})
	for s, out := range []*[][]byte{&seg1, &seg2} {
		for i, n := range corruptionSizes {
			r := bytes.Repeat([]byte{byte('a' + 5*s + i)}, n)
			if _, err := l.Append(r); err != nil {
				t.Fatal(err)
			}
			*out = append(*out, r)
		}
		if s == 0 {
			if _, err := l.Cut(); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeT(t, l)
	return seg1, seg2
}

type corruption struct {
	name    string
	corrupt func(data []byte, offs []int64, end int64) []byte
	keep    int   // intact records left in the segment
	badAt   int   // index of the frame reported bad; len(sizes) means the end
	wantErr error // cause reported for the bad frame
}

var corruptions = []corruption{
	{"torn mid-payload", func(d []byte, o []int64, _ int64) []byte { return d[:o[4]+frameHeaderSize+30] }, 4, 4, ErrTruncated},
	{"torn mid-header", func(d []byte, o []int64, _ int64) []byte { return d[:o[4]+3] }, 4, 4, ErrTruncated},
	{"torn after frame header", func(d []byte, o []int64, _ int64) []byte { return d[:o[4]+frameHeaderSize] }, 4, 4, ErrTruncated},
	{"bad checksum in payload", func(d []byte, o []int64, _ int64) []byte { d[o[4]+frameHeaderSize+7] ^= 0x10; return d }, 4, 4, ErrChecksum},
	{"bad checksum field", func(d []byte, o []int64, _ int64) []byte { d[o[4]+5] ^= 0x01; return d }, 4, 4, ErrChecksum},
	{"huge length", func(d []byte, o []int64, _ int64) []byte {
		binary.LittleEndian.PutUint32(d[o[4]:], 0xFFFFFFF0)
		return d
	}, 4, 4, ErrBadLength},
	{"length past end", func(d []byte, o []int64, _ int64) []byte {
		binary.LittleEndian.PutUint32(d[o[4]:], 1000)
		return d
	}, 4, 4, ErrTruncated},
	{"partial write", func(d []byte, o []int64, end int64) []byte {
		// The frame's last sector never reached the disk: its tail is zeros.
		clear(d[o[4]+frameHeaderSize+20 : end])
		return d
	}, 4, 4, ErrChecksum},
	{"zeroed tail", func(d []byte, _ []int64, _ int64) []byte { return append(d, make([]byte, 4096)...) }, 5, 5, ErrChecksum},
	{"short garbage tail", func(d []byte, _ []int64, _ int64) []byte { return append(d, 1, 2, 3) }, 5, 5, ErrTruncated},
	{"bad middle record", func(d []byte, o []int64, _ int64) []byte { d[o[2]+frameHeaderSize] ^= 0xff; return d }, 2, 2, ErrChecksum},
}

// TestRepairLastSegment corrupts the last segment: Open repairs it, Replay
// returns exactly the intact prefix, and the log goes on.
func TestRepairLastSegment(t *testing.T) {
	offs, end := frameOffsets(corruptionSizes)
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seg1, seg2 := writeTwoSegments(t, dir)
			path := segPath(dir, 2)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != end {
				t.Fatalf("segment is %d bytes, want %d", len(data), end)
			}
			data = c.corrupt(data, offs, end)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			goodEnd := end
			if c.keep < len(offs) {
				goodEnd = offs[c.keep]
			}

			var logBuf bytes.Buffer
			l, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			want := append(append([][]byte{}, seg1...), seg2[:c.keep]...)
			equalRecords(t, payloads(replayT(t, l)), want)
			if dropped := fmt.Sprintf("dropped_bytes=%d", int64(len(data))-goodEnd); !strings.Contains(logBuf.String(), dropped) ||
				!strings.Contains(logBuf.String(), "level=WARN") {
				t.Errorf("log %q does not warn with %s", logBuf.String(), dropped)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != goodEnd {
				t.Errorf("repaired segment size = %v (%v), want %d", fi.Size(), err, goodEnd)
			}

			more := []byte("after repair")
			if seg, err := l.Append(more); err != nil || seg != 2 {
				t.Fatalf("Append after repair = %d, %v", seg, err)
			}
			closeT(t, l)
			equalRecords(t, reopenRecords(t, dir), append(want, more))
		})
	}
}

// TestCorruptNonLastSegment puts the same damage in a segment that is not
// the last: Open must refuse with a CorruptionError and change nothing.
func TestCorruptNonLastSegment(t *testing.T) {
	offs, end := frameOffsets(corruptionSizes)
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTwoSegments(t, dir)
			path := segPath(dir, 1)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = c.corrupt(data, offs, end)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			wantOff := end
			if c.badAt < len(offs) {
				wantOff = offs[c.badAt]
			}

			l, err := Open(dir, Options{})
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded on a corrupt non-last segment")
			}
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("Open error %v is not a *CorruptionError", err)
			}
			if ce.Segment != 1 || ce.Offset != wantOff || !errors.Is(err, c.wantErr) {
				t.Errorf("got segment %d offset %d cause %v; want segment 1 offset %d cause %v",
					ce.Segment, ce.Offset, ce.Err, wantOff, c.wantErr)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, data) {
				t.Error("Open changed the corrupt segment")
			}
		})
	}
}

func TestSegmentHeader(t *testing.T) {
	t.Run("bad magic in last segment", func(t *testing.T) {
		dir := t.TempDir()
		writeTwoSegments(t, dir)
		f, err := os.OpenFile(segPath(dir, 2), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("XWAL"), 0)
		f.Close()
		_, err = Open(dir, Options{})
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Segment != 2 || ce.Offset != 0 || !errors.Is(err, ErrBadHeader) {
			t.Fatalf("Open = %v, want CorruptionError for segment 2 header", err)
		}
	})
	t.Run("bad version in first segment", func(t *testing.T) {
		dir := t.TempDir()
		writeTwoSegments(t, dir)
		f, err := os.OpenFile(segPath(dir, 1), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{2}, 4)
		f.Close()
		_, err = Open(dir, Options{})
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Segment != 1 || !errors.Is(err, ErrBadHeader) {
			t.Fatalf("Open = %v, want CorruptionError for segment 1 header", err)
		}
	})
	t.Run("short header in first segment", func(t *testing.T) {
		dir := t.TempDir()
		writeTwoSegments(t, dir)
		if err := os.Truncate(segPath(dir, 1), 5); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Segment != 1 || ce.Offset != 0 || !errors.Is(err, ErrTruncated) {
			t.Fatalf("Open = %v, want CorruptionError for segment 1", err)
		}
	})
	for _, size := range []int64{0, 3, headerSize - 1} {
		t.Run(fmt.Sprintf("short header in last segment (%d bytes)", size), func(t *testing.T) {
			dir := t.TempDir()
			seg1, _ := writeTwoSegments(t, dir)
			if err := os.Truncate(segPath(dir, 2), size); err != nil {
				t.Fatal(err)
			}
			l := openT(t, dir, Options{})
			equalRecords(t, payloads(replayT(t, l)), seg1)
			if seg, err := l.Append([]byte("z")); err != nil || seg != 2 {
				t.Fatalf("Append = %d, %v", seg, err)
			}
			closeT(t, l)
			equalRecords(t, reopenRecords(t, dir), append(seg1, []byte("z")))
		})
	}
}

// TestTruncateEverywhere cuts a small last segment at every byte offset:
// Open always succeeds and Replay yields exactly the complete frames.
func TestTruncateEverywhere(t *testing.T) {
	src := t.TempDir()
	recs := [][]byte{{}, []byte("x"), []byte("seven!!"), bytes.Repeat([]byte("20"), 10), []byte("end")}
	l := openT(t, src, Options{})
	if _, err := l.Append(recs...); err != nil {
		t.Fatal(err)
	}
	closeT(t, l)
	full, err := os.ReadFile(segPath(src, 1))
	if err != nil {
		t.Fatal(err)
	}
	sizes := make([]int, len(recs))
	for i, r := range recs {
		sizes[i] = len(r)
	}
	offs, end := frameOffsets(sizes)
	if int64(len(full)) != end {
		t.Fatalf("segment is %d bytes, want %d", len(full), end)
	}
	boundaries := append(offs, end)

	for cut := int64(0); cut <= end; cut++ {
		dir := t.TempDir()
		if err := os.WriteFile(segPath(dir, 1), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{Sync: SyncOff})
		if err != nil {
			t.Fatalf("cut %d: Open: %v", cut, err)
		}
		complete := 0 // frames entirely before cut
		for complete < len(recs) && boundaries[complete+1] <= cut {
			complete++
		}
		got := payloads(replayT(t, l))
		equalRecords(t, got, recs[:complete])
		if _, err := l.Append([]byte("next")); err != nil {
			t.Fatalf("cut %d: Append: %v", cut, err)
		}
		closeT(t, l)
		equalRecords(t, reopenRecords(t, dir), append(recs[:complete:complete], []byte("next")))
	}
}
