package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

const (
	// MaxRecordSize is the largest record payload Write accepts. A frame
	// whose length field is larger is reported as ErrBadLength.
	MaxRecordSize = 256 << 20

	headerSize      = 8 // magic + version
	frameHeaderSize = 8 // length + crc
	formatVersion   = 1
	segmentSuffix   = ".wal"
	tempSuffix      = ".tmp"
)

// segmentMagic opens every segment file.
var segmentMagic = [4]byte{'A', 'W', 'A', 'L'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentName returns the file name of segment n, e.g. "00000001.wal".
func segmentName(n uint64) string { return fmt.Sprintf("%08d%s", n, segmentSuffix) }

// parseSegmentName returns the number of a segment file name; ok is false for
// any other name.
func parseSegmentName(name string) (n uint64, ok bool) {
	digits, found := strings.CutSuffix(name, segmentSuffix)
	if !found || digits == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || segmentName(n) != name {
		return 0, false
	}
	return n, true
}

// listSegments returns the segment numbers in dir, ascending, and removes
// temporary files left behind by a crash during segment creation.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, segmentSuffix+tempSuffix) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		if n, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			nums = append(nums, n)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums, nil
}

// segmentHeader returns the bytes that open every segment.
func segmentHeader() []byte {
	h := make([]byte, headerSize)
	copy(h, segmentMagic[:])
	binary.LittleEndian.PutUint32(h[4:], formatVersion)
	return h
}

// checkHeader validates a segment header.
func checkHeader(h []byte) error {
	if len(h) < headerSize {
		return ErrTruncated
	}
	if [4]byte(h[:4]) != segmentMagic {
		return fmt.Errorf("%w: bad magic %q", ErrBadHeader, h[:4])
	}
	if v := binary.LittleEndian.Uint32(h[4:]); v != formatVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrBadHeader, v)
	}
	return nil
}

// frameSize returns the size on disk of a record's frame.
func frameSize(rec []byte) int64 { return frameHeaderSize + int64(len(rec)) }

// putFrameHeader fills hdr with the length and checksum of payload.
func putFrameHeader(hdr *[frameHeaderSize]byte, payload []byte) {
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, hdr[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
}

// createSegment atomically creates (or replaces) segment n in dir holding
// only a header: it writes a temporary file, fsyncs it, renames it into place
// and fsyncs dir.
func createSegment(dir string, n uint64) error {
	path := filepath.Join(dir, segmentName(n))
	tmp := path + tempSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(segmentHeader())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that file creations, renames and removals in
// it are durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there; renames are durable once done
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// frameReader reads the frames of one segment. It never reads past limit,
// the number of bytes of the segment it may trust to exist.
type frameReader struct {
	r     *bufio.Reader
	off   int64 // offset of the next frame
	limit int64
	hdr   [frameHeaderSize]byte
	buf   []byte
}

// newFrameReader reads and checks the header of a segment of size bytes.
func newFrameReader(r io.Reader, size int64) (*frameReader, error) {
	fr := &frameReader{r: bufio.NewReaderSize(r, 64<<10), limit: size}
	h := make([]byte, headerSize)
	n, err := io.ReadFull(fr.r, h[:min(int64(headerSize), size)])
	if err != nil {
		return nil, err
	}
	if err := checkHeader(h[:n]); err != nil {
		return nil, err
	}
	fr.off = headerSize
	return fr, nil
}

// next returns the payload of the next frame, valid until the following call.
// It returns io.EOF at the clean end of the segment, and ErrTruncated,
// ErrBadLength or ErrChecksum for a bad frame starting at fr.off.
func (fr *frameReader) next() ([]byte, error) {
	rest := fr.limit - fr.off
	if rest == 0 {
		return nil, io.EOF
	}
	if rest < frameHeaderSize {
		return nil, ErrTruncated
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	n := int64(binary.LittleEndian.Uint32(fr.hdr[0:4]))
	if n > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadLength, n)
	}
	if n > rest-frameHeaderSize {
		return nil, ErrTruncated
	}
	if int64(cap(fr.buf)) < n {
		fr.buf = make([]byte, n)
	}
	payload := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return nil, unexpectedEOF(err)
	}
	crc := crc32.Update(0, castagnoli, fr.hdr[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(fr.hdr[4:8]) {
		return nil, ErrChecksum
	}
	fr.off += frameHeaderSize + n
	return payload, nil
}

// unexpectedEOF turns an early end of file (the file shrank under us) into
// ErrTruncated and passes other read errors through.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// scanSegment reads segment n in dir up to size bytes, calling fn (if not
// nil) for every record. It returns the offset just past the last good frame
// and, if reading stopped early, the error at that offset. A header shorter
// than headerSize is reported as ErrTruncated at offset 0.
func scanSegment(dir string, n uint64, size int64, fn func(rec []byte) error) (good int64, err error) {
	f, err := os.Open(filepath.Join(dir, segmentName(n)))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fr, err := newFrameReader(f, size)
	if err != nil {
		return 0, unexpectedEOF(err)
	}
	for {
		rec, err := fr.next()
		if err == io.EOF {
			return fr.off, nil
		}
		if err != nil {
			return fr.off, err
		}
		if fn != nil {
			if err := fn(rec); err != nil {
				return fr.off, &callbackError{err}
			}
		}
	}
}

// callbackError marks an error returned by a Replay callback, so it is passed
// to the caller unchanged rather than reported as corruption.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }
