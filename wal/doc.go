/*
Package wal is a segmented write-ahead log of opaque records: the durability
layer of the ingest path. Batches of events are written as records,
committed (made durable) before clients are acknowledged, replayed after a
restart, and old segments are removed once their contents are stored
elsewhere.

# Usage

	l, err := wal.Open(dir, wal.Options{})
	err = l.Replay(func(seg uint64, rec []byte) error { ... }) // before any Write
	seg, err := l.Append(rec1, rec2)                           // Write + Commit
	next, err := l.Cut()                                       // records so far are in segments < next
	err = l.RemoveBefore(next)                                 // once they are stored elsewhere
	err = l.Close()

# Files

A log is a directory of segment files named by an 8-digit, zero-padded,
decimal sequence number starting at 1:

	00000001.wal
	00000002.wal
	...

Numbers are contiguous: RemoveBefore deletes from the oldest end only, and
Open refuses a log with a gap. Only the last (highest) segment is written;
the others are closed and complete. A new segment is created atomically:
its header is written to "NNNNNNNN.wal.tmp", fsynced, renamed into place and
the directory fsynced. Open deletes leftover .tmp files.

# Segment layout

All integers are little-endian. A segment is an 8-byte header followed by
zero or more frames, one per record, back to back:

	+---------+---------+---------+-----+---------+
	| header  | frame 1 | frame 2 | ... | frame n |
	+---------+---------+---------+-----+---------+

	header (8 bytes):
	+-------------------+----------------------+
	| magic "AWAL" (4B) | version uint32 (4B)  |   version = 1
	+-------------------+----------------------+

	frame (8 + len bytes):
	+------------------+------------------+-------------------+
	| len uint32 (4B)  | crc uint32 (4B)  | payload (len B)   |
	+------------------+------------------+-------------------+

crc is the CRC-32C (Castagnoli) of the 4 len bytes followed by the payload,
so that a zeroed frame (len 0, crc 0) fails the check. len is at most
MaxRecordSize (256 MiB); a larger value is ErrBadLength, so a garbage length
never causes a large allocation. Empty records are allowed. There is no
padding and no record spans two segments: all records of one Write land in
the same segment, and a segment exceeds Options.SegmentSize only when it
holds a single batch larger than that.

# Durability

Write frames records into a buffer; Commit makes them durable according to
the SyncMode. In SyncAlways mode Commit writes the buffer out and fsyncs,
with group commit: Commits that arrive while an fsync runs wait for it and
then share one more. In SyncInterval mode Commit writes to the OS and a
background goroutine fsyncs every Options.SyncInterval; in SyncOff mode
fsyncs happen only on rotation, Cut and Close. A segment is always fsynced
before the next one is created, in every mode, so that only the last
segment can ever have a torn tail. After a failed write or fsync the Log
refuses all further writes: the state of the file is unknown.

# Recovery

Open reads every segment. In the last segment a frame that is incomplete
(ErrTruncated), has an impossible length (ErrBadLength) or fails its
checksum (ErrChecksum) is taken for a torn write: the segment is truncated at
the start of that frame, everything after it is dropped and a warning is
logged. A last segment shorter than its header holds no record and gets a
fresh header. A bad frame in any other segment, or a bad header in any
segment, would mean losing acknowledged records, so Open returns a
*CorruptionError naming the segment and offset and changes nothing.
*/
package wal
