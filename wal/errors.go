package wal

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by every method of a Log after Close.
var ErrClosed = errors.New("wal: closed")

// Frame and header errors, found when reading a segment. They are the Err of a
// CorruptionError, or the reason logged when a torn tail is repaired.
var (
	ErrChecksum  = errors.New("wal: checksum mismatch")
	ErrBadLength = errors.New("wal: bad record length")
	ErrTruncated = errors.New("wal: truncated record")
	ErrBadHeader = errors.New("wal: bad segment header")
)

// CorruptionError reports damage in a segment that Open cannot repair without
// losing acknowledged records: any bad frame in a segment that is not the
// last one, or a bad header. Offset is the byte offset of the bad frame (or 0
// for a bad header) within the segment file.
type CorruptionError struct {
	Segment uint64
	Offset  int64
	Err     error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corrupt segment %s at offset %d: %v", segmentName(e.Segment), e.Offset, e.Err)
}

// Unwrap returns the underlying cause, one of ErrChecksum, ErrBadLength,
// ErrTruncated, ErrBadHeader or an I/O error.
func (e *CorruptionError) Unwrap() error { return e.Err }
