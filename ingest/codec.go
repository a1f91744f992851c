package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/allsource/allsource"
)

// WAL record format of one committed batch (all integers varint-encoded):
//
//	byte    format version (1)
//	uvarint event count
//	per event:
//	  uvarint seq, uvarint version
//	  varint  timestamp, varint ingested_at  (microseconds since the Unix epoch)
//	  bytes   id, tenant, entity_id, event_type, payload, metadata
//	          (each: uvarint length, then the bytes)
//
// One batch is one record, so the WAL's frame checksum makes a batch atomic:
// after a crash it replays whole or not at all.
const recordVersion = 1

var errBadRecord = errors.New("ingest: malformed WAL record")

func appendBatchRecord(dst []byte, evs []allsource.Event) []byte {
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(len(evs)))
	for i := range evs {
		e := &evs[i]
		dst = binary.AppendUvarint(dst, e.Seq)
		dst = binary.AppendUvarint(dst, e.Version)
		dst = binary.AppendVarint(dst, e.Timestamp.UnixMicro())
		dst = binary.AppendVarint(dst, e.IngestedAt.UnixMicro())
		dst = appendBytes(dst, e.ID)
		dst = appendBytes(dst, e.Tenant)
		dst = appendBytes(dst, e.EntityID)
		dst = appendBytes(dst, e.EventType)
		dst = appendBytes(dst, e.Payload)
		dst = appendBytes(dst, e.Metadata)
	}
	return dst
}

func appendBytes[T ~string | ~[]byte](dst []byte, b T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// recordSeqs reads a record's first seq and event count without decoding
// its events. A batch's events have consecutive seqs (the writer gives
// them out one after the other), so the last is first+count-1.
func recordSeqs(rec []byte) (first, count uint64, err error) {
	d := recDecoder{b: rec}
	if len(rec) == 0 || rec[0] != recordVersion {
		return 0, 0, fmt.Errorf("%w: unknown format version", errBadRecord)
	}
	d.pos = 1
	count = d.uvarint()
	if count > 0 {
		first = d.uvarint()
	}
	if d.err != nil {
		return 0, 0, fmt.Errorf("%w: bad header", errBadRecord)
	}
	return first, count, nil
}

// decodeBatchRecord parses a record written by appendBatchRecord. Strings
// and byte slices are copied out of rec.
func decodeBatchRecord(rec []byte) ([]allsource.Event, error) {
	d := recDecoder{b: rec}
	if len(rec) == 0 || rec[0] != recordVersion {
		return nil, fmt.Errorf("%w: unknown format version", errBadRecord)
	}
	d.pos = 1
	n := d.uvarint()
	if d.err != nil || n > uint64(len(rec)) {
		return nil, fmt.Errorf("%w: bad event count", errBadRecord)
	}
	evs := make([]allsource.Event, n)
	for i := range evs {
		e := &evs[i]
		e.Seq = d.uvarint()
		e.Version = d.uvarint()
		e.Timestamp = time.UnixMicro(d.varint()).UTC()
		e.IngestedAt = time.UnixMicro(d.varint()).UTC()
		e.ID = string(d.bytes())
		e.Tenant = string(d.bytes())
		e.EntityID = string(d.bytes())
		e.EventType = string(d.bytes())
		e.Payload = append([]byte(nil), d.bytes()...)
		e.Metadata = append([]byte(nil), d.bytes()...)
		if d.err != nil {
			return nil, fmt.Errorf("%w: event %d: %v", errBadRecord, i, d.err)
		}
	}
	if d.pos != len(rec) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadRecord, len(rec)-d.pos)
	}
	return evs, nil
}

type recDecoder struct {
	b   []byte
	pos int
	err error
}

func (d *recDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.err = errors.New("bad uvarint")
		return 0
	}
	d.pos += n
	return v
}

func (d *recDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.pos:])
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *recDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.pos) {
		d.err = errors.New("length past the end")
		return nil
	}
	b := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b
}
