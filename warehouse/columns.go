package warehouse

import (
	"bytes"
	"cmp"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"unsafe"
)

// Event columns are a compact, derived copy of what grouped analytics
// (funnels, retention, counts by type and time) read of each Parquet file:
// per event a 64-bit hash of its entity (g1) and an independent 32-bit one
// (g2), its time in µs, its seq and its event type as an index into the
// file's own type list. 30 bytes an event instead of a Parquet scan: a
// question over every event is then one pass over memory-mapped arrays.
//
// Rows are ordered by (partition, time, seq), the partition being the top
// ColumnPartBits bits of g1, and the file records where each partition
// starts, so ColumnParts workers can each take whole partitions (all of an
// entity's events fall in one) and find them in time order.
//
// Layout (little-endian):
//
//	magic "ASEVCOL1"
//	u32 rows, u32 types
//	u32 partition starts [ColumnParts+1] (row indexes; the last is rows)
//	types: u16 length + bytes each
//	zero padding to a multiple of 8
//	g1 [rows]u64, micros [rows]i64, seq [rows]u64, g2 [rows]u32, type [rows]u16
//	zero padding to a multiple of 4
//	u32 CRC-32C of everything before it
const (
	ColumnPartBits = 6
	ColumnParts    = 1 << ColumnPartBits
	colMagic       = "ASEVCOL1"
	colHeader      = 8 + 4 + 4 + 4*(ColumnParts+1)
	colRowBytes    = 8 + 8 + 8 + 4 + 2
	maxColTypes    = math.MaxUint16
)

var colCRC = crc32.MakeTable(crc32.Castagnoli)

// colRow is one event of a columns file being built.
type colRow struct {
	g1  uint64
	us  int64
	seq uint64
	g2  uint32
	typ uint16
}

// entityHashes are the two hashes of an entity id the event columns keep:
// g1, FNV-1a (64-bit) with its bits mixed so that the top ones (the
// partition) depend on every byte, and g2, a 32-bit FNV-1a of the id
// followed by a separator, so that a collision of g1 is not one of g2.
func entityHashes(entity string) (g1 uint64, g2 uint32) {
	h := uint64(14695981039346656037)
	h2 := uint32(2166136261)
	for i := 0; i < len(entity); i++ {
		h ^= uint64(entity[i])
		h *= 1099511628211
		h2 ^= uint32(entity[i])
		h2 *= 16777619
	}
	h2 ^= '|'
	h2 *= 16777619
	// splitmix64's finaliser.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h, h2
}

// colPart is the partition of a key hash.
func colPart(g1 uint64) int { return int(g1 >> (64 - ColumnPartBits)) }

// colTypes gives event types their index in one file's type list.
type colTypes struct {
	names []string
	ids   map[string]uint16
}

func (t *colTypes) id(name string) (uint16, error) {
	if id, ok := t.ids[name]; ok {
		return id, nil
	}
	if len(t.names) >= maxColTypes {
		return 0, fmt.Errorf("more than %d event types in one file", maxColTypes)
	}
	if t.ids == nil {
		t.ids = map[string]uint16{}
	}
	id := uint16(len(t.names))
	t.ids[name] = id
	t.names = append(t.names, name)
	return id, nil
}

// encodeColumns sorts rows by (partition, time, seq) and encodes them with
// their type list.
func encodeColumns(rows []colRow, types []string) ([]byte, error) {
	if len(rows) > math.MaxUint32 || len(types) > maxColTypes {
		return nil, errors.New("warehouse: event columns: too many rows or types for one file")
	}
	rows = sortColRows(rows)
	n := len(rows)
	size := colHeader
	for _, t := range types {
		if len(t) > math.MaxUint16 {
			return nil, fmt.Errorf("warehouse: event columns: event type of %d bytes", len(t))
		}
		size += 2 + len(t)
	}
	size = align(size, 8) + n*colRowBytes
	size = align(size, 4) + 4
	b := make([]byte, 0, size)
	b = append(b, colMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(types)))
	p := 0
	for part := 0; part <= ColumnParts; part++ {
		for p < n && colPart(rows[p].g1) < part {
			p++
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(p))
	}
	for _, t := range types {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(t)))
		b = append(b, t...)
	}
	b = b[:align(len(b), 8)]
	for i := range rows {
		b = binary.LittleEndian.AppendUint64(b, rows[i].g1)
	}
	for i := range rows {
		b = binary.LittleEndian.AppendUint64(b, uint64(rows[i].us))
	}
	for i := range rows {
		b = binary.LittleEndian.AppendUint64(b, rows[i].seq)
	}
	for i := range rows {
		b = binary.LittleEndian.AppendUint32(b, rows[i].g2)
	}
	for i := range rows {
		b = binary.LittleEndian.AppendUint16(b, rows[i].typ)
	}
	b = b[:align(len(b), 4)]
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, colCRC)), nil
}

func align(n, to int) int { return (n + to - 1) / to * to }

// colFile is a decoded columns file. Its slices view data (a mapping of
// the file, or a copy where the host is not little-endian).
type colFile struct {
	data   []byte
	unmap  func() error
	rel    string        // its Parquet file
	refs   int           // scans using it (colStore.mu)
	elem   *list.Element // in colStore.idle when refs is 0
	types  []string
	starts [ColumnParts + 1]uint32
	g1     []uint64
	us     []int64
	seq    []uint64
	g2     []uint32
	typ    []uint16
}

var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// decodeColumns checks and decodes a columns file: its checksum, its
// header, the partition starts and every type index. The returned file's
// slices alias b (on little-endian hosts).
func decodeColumns(b []byte) (*colFile, error) {
	bad := func(format string, args ...any) (*colFile, error) {
		return nil, fmt.Errorf("event columns: "+format, args...)
	}
	if len(b) < colHeader+4 || string(b[:8]) != colMagic {
		return bad("not an event columns file")
	}
	if len(b)%4 != 0 {
		return bad("length %d is not a multiple of 4", len(b))
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, colCRC), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return bad("checksum mismatch")
	}
	n := int(binary.LittleEndian.Uint32(b[8:]))
	nt := int(binary.LittleEndian.Uint32(b[12:]))
	f := &colFile{data: b}
	off := 16
	prev := uint32(0)
	for i := range f.starts {
		s := binary.LittleEndian.Uint32(b[off:])
		if s < prev || int(s) > n {
			return bad("partition %d starts at row %d", i, s)
		}
		f.starts[i], prev = s, s
		off += 4
	}
	if int(f.starts[ColumnParts]) != n {
		return bad("partitions end at row %d of %d", f.starts[ColumnParts], n)
	}
	if nt > maxColTypes {
		return bad("%d event types", nt)
	}
	f.types = make([]string, nt)
	for i := range nt {
		if off+2 > len(body) {
			return bad("type list truncated")
		}
		l := int(binary.LittleEndian.Uint16(b[off:]))
		off += 2
		if off+l > len(body) {
			return bad("type list truncated")
		}
		f.types[i] = string(b[off : off+l])
		off += l
	}
	off = align(off, 8)
	if off+n*colRowBytes > len(body) || align(off+n*colRowBytes, 4) != len(body) {
		return bad("%d rows do not fit %d bytes", n, len(b))
	}
	if !bytes.Equal(body[off+n*colRowBytes:], make([]byte, len(body)-off-n*colRowBytes)) {
		return bad("trailing bytes")
	}
	cols := b[off : off+n*colRowBytes]
	if littleEndian && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0 {
		f.g1 = viewSlice[uint64](cols[:8*n])
		f.us = viewSlice[int64](cols[8*n : 16*n])
		f.seq = viewSlice[uint64](cols[16*n : 24*n])
		f.g2 = viewSlice[uint32](cols[24*n : 28*n])
		f.typ = viewSlice[uint16](cols[28*n : 30*n])
	} else {
		f.g1, f.us, f.seq = make([]uint64, n), make([]int64, n), make([]uint64, n)
		f.g2, f.typ = make([]uint32, n), make([]uint16, n)
		for i := range n {
			f.g1[i] = binary.LittleEndian.Uint64(cols[8*i:])
			f.us[i] = int64(binary.LittleEndian.Uint64(cols[8*n+8*i:]))
			f.seq[i] = binary.LittleEndian.Uint64(cols[16*n+8*i:])
			f.g2[i] = binary.LittleEndian.Uint32(cols[24*n+4*i:])
			f.typ[i] = binary.LittleEndian.Uint16(cols[28*n+2*i:])
		}
	}
	for p := range ColumnParts {
		for i := f.starts[p]; i < f.starts[p+1]; i++ {
			if colPart(f.g1[i]) != p {
				return bad("row %d is not in partition %d", i, p)
			}
			if int(f.typ[i]) >= nt {
				return bad("row %d names type %d of %d", i, f.typ[i], nt)
			}
		}
	}
	return f, nil
}

// viewSlice views b (aligned for T) as a []T.
func viewSlice[T uint16 | uint32 | uint64 | int64](b []byte) []T {
	var z T
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(z)))
}

// rows returns the file's events as rows to build another file from,
// their types given ids by into.
func (f *colFile) appendRows(dst []colRow, into *colTypes) ([]colRow, error) {
	remap := make([]uint16, len(f.types))
	for i, t := range f.types {
		id, err := into.id(t)
		if err != nil {
			return nil, err
		}
		remap[i] = id
	}
	for i := range f.g1 {
		dst = append(dst, colRow{g1: f.g1[i], us: f.us[i], seq: f.seq[i], g2: f.g2[i], typ: remap[f.typ[i]]})
	}
	return dst, nil
}

// sortColRows orders rows by (partition, time, seq): a stable counting
// pass by partition, then each partition sorted by (time, seq) unless it
// already is (a flush's events mostly come in time order).
func sortColRows(rows []colRow) []colRow {
	var starts [ColumnParts + 1]int
	for i := range rows {
		starts[colPart(rows[i].g1)+1]++
	}
	for p := 1; p <= ColumnParts; p++ {
		starts[p] += starts[p-1]
	}
	out := make([]colRow, len(rows))
	next := starts
	for _, r := range rows {
		p := colPart(r.g1)
		out[next[p]] = r
		next[p]++
	}
	for p := range ColumnParts {
		part := out[starts[p]:starts[p+1]]
		if !slices.IsSortedFunc(part, cmpColRow) {
			slices.SortFunc(part, cmpColRow)
		}
	}
	return out
}

func cmpColRow(a, b colRow) int {
	if c := cmp.Compare(a.us, b.us); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}
