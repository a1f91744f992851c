package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the FuzzReplay seed corpus")

const goldenPath = "testdata/golden/00000001.wal"

// goldenRecords are the records of the golden segment, appended as two
// batches split at goldenSplit.
var goldenRecords = func() [][]byte {
	big := make([]byte, 300)
	for i := range big {
		big[i] = byte(i % 251)
	}
	return [][]byte{{}, []byte("a"), []byte("hello, wal"), big, {0x00, 0xff, 0x7f, 0x80}}
}()

const goldenSplit = 2

// encodeSegment encodes a segment from the format description alone, without
// the package's encoder.
func encodeSegment(recs [][]byte) []byte {
	out := []byte("AWAL\x01\x00\x00\x00")
	table := crc32.MakeTable(crc32.Castagnoli)
	for _, r := range recs {
		lenBytes := binary.LittleEndian.AppendUint32(nil, uint32(len(r)))
		crc := crc32.Checksum(append(bytes.Clone(lenBytes), r...), table)
		out = append(out, lenBytes...)
		out = binary.LittleEndian.AppendUint32(out, crc)
		out = append(out, r...)
	}
	return out
}

// writeGolden produces the golden segment with the Log and writes it, with a
// seed corpus for FuzzReplay derived from it.
func writeGolden(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	if _, err := l.Append(goldenRecords[:goldenSplit]...); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(goldenRecords[goldenSplit:]...); err != nil {
		t.Fatal(err)
	}
	closeT(t, l)
	data, err := os.ReadFile(segPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join("testdata", "fuzz", "FuzzReplay")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, seed := range fuzzSeeds(data) {
		entry := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(corpus, name), []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzSeeds returns segments derived from a valid one, by name.
func fuzzSeeds(valid []byte) map[string][]byte {
	badCRC := bytes.Clone(valid)
	badCRC[len(badCRC)-1] ^= 1
	hugeLen := bytes.Clone(valid[:headerSize+frameHeaderSize])
	binary.LittleEndian.PutUint32(hugeLen[headerSize:], 0xFFFFFFFF)
	return map[string][]byte{
		"valid":       valid,
		"empty":       {},
		"header-only": valid[:headerSize],
		"torn":        valid[:len(valid)-3],
		"bad-crc":     badCRC,
		"huge-length": hugeLen,
		"zero-tail":   append(bytes.Clone(valid), make([]byte, 64)...),
	}
}

// TestGolden pins the on-disk format: the committed segment must equal an
// independent encoding of the records and replay to them.
func TestGolden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if want := encodeSegment(goldenRecords); !bytes.Equal(golden, want) {
		t.Fatalf("golden segment differs from the documented format:\n got %x\nwant %x", golden, want)
	}

	dir := t.TempDir()
	if err := os.WriteFile(segPath(dir, 1), golden, 0o644); err != nil {
		t.Fatal(err)
	}
	l := openT(t, dir, Options{})
	got := replayT(t, l)
	closeT(t, l)
	equalRecords(t, payloads(got), goldenRecords)
	for _, r := range got {
		if r.seg != 1 {
			t.Fatalf("record from segment %d", r.seg)
		}
	}
}

// FuzzReplay opens arbitrary bytes as the only segment. Open and Replay must
// not panic; when they succeed, the file must have been cut to exactly the
// header and frames of the records replayed.
func FuzzReplay(f *testing.F) {
	for _, seed := range fuzzSeeds(encodeSegment(goldenRecords)) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := segPath(dir, 1)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{Sync: SyncOff})
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Segment != 1 || ce.Offset != 0 || !errors.Is(err, ErrBadHeader) {
				t.Fatalf("Open of a last segment failed with %v; only a bad header may fail", err)
			}
			return
		}
		defer l.Close()
		var recs [][]byte
		err = l.Replay(func(seg uint64, rec []byte) error {
			if seg != 1 {
				t.Fatalf("record from segment %d", seg)
			}
			recs = append(recs, bytes.Clone(rec))
			return nil
		})
		if err != nil {
			t.Fatalf("Replay after a successful Open: %v", err)
		}
		want := encodeSegment(recs)
		if len(data) >= headerSize && !bytes.Equal(want, data[:len(want)]) {
			t.Fatalf("replayed records are not a prefix of the input")
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, want) {
			t.Fatalf("repaired segment holds %d bytes, want the %d of the replayed records", len(onDisk), len(want))
		}
	})
}
