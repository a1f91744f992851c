package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// SyncMode says when Commit makes written records durable.
type SyncMode int

const (
	// SyncAlways fsyncs on every Commit; concurrent Commits share fsyncs.
	SyncAlways SyncMode = iota
	// SyncInterval writes to the OS on Commit and fsyncs in the background
	// every Options.SyncInterval.
	SyncInterval
	// SyncOff writes to the OS on Commit and leaves flushing to the OS.
	SyncOff
)

// ParseSyncMode parses "always", "interval" or "off".
func ParseSyncMode(s string) (SyncMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "always":
		return SyncAlways, nil
	case "interval":
		return SyncInterval, nil
	case "off":
		return SyncOff, nil
	}
	return 0, fmt.Errorf("wal: unknown sync mode %q (want always, interval or off)", s)
}

// String returns the name ParseSyncMode accepts.
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncOff:
		return "off"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// Defaults filled in by Options.Validate.
const (
	DefaultSegmentSize  = 64 << 20
	DefaultSyncInterval = 100 * time.Millisecond
)

// Options configure a Log. The zero value is valid and means the defaults.
type Options struct {
	// SegmentSize is the size in bytes a segment may reach before Write
	// starts a new one; default 64 MiB. A batch larger than this gets a
	// segment of its own.
	SegmentSize int64
	// Sync is the durability mode; default SyncAlways.
	Sync SyncMode
	// SyncInterval is the period of background fsyncs in SyncInterval mode;
	// default 100ms.
	SyncInterval time.Duration
	// Logger receives repairs and failures; default discards.
	Logger *slog.Logger
	// OnSync, if not nil, is called after every fsync of segment data with
	// its duration. It may be called with the Log's lock held and must not
	// call the Log.
	OnSync func(d time.Duration)

	// wrapFile, if not nil, wraps every segment file opened for writing;
	// tests use it to inject faults.
	wrapFile func(segmentFile) segmentFile
}

// Validate checks o and fills in defaults.
func (o *Options) Validate() error {
	if o.SegmentSize < 0 {
		return fmt.Errorf("wal: negative SegmentSize %d", o.SegmentSize)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	switch o.Sync {
	case SyncAlways, SyncInterval, SyncOff:
	default:
		return fmt.Errorf("wal: invalid Sync %v", o.Sync)
	}
	if o.SyncInterval < 0 {
		return fmt.Errorf("wal: negative SyncInterval %v", o.SyncInterval)
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// segmentFile is what a Log needs of a segment file open for writing.
type segmentFile interface {
	io.Writer
	Sync() error
	Close() error
}

// segmentInfo is a segment's number and its size in bytes, including bytes
// still in the write buffer.
type segmentInfo struct {
	num  uint64
	size int64
}

const writeBufferSize = 128 << 10

// Log is a segmented write-ahead log. Its methods are safe for concurrent use,
// except Replay, which must come before the first Write.
type Log struct {
	dir  string
	opts Options

	mu      sync.Mutex
	cond    *sync.Cond    // broadcast when an fsync ends or the Log fails
	segs    []segmentInfo // closed segments, ascending
	active  segmentInfo
	f       segmentFile // active segment; nil once closed
	bw      *bufio.Writer
	pos     uint64 // bytes written since Open, over all segments
	synced  uint64 // pos covered by the latest completed fsync
	syncing bool   // a group fsync is running without mu held
	err     error  // sticky failure
	closed  bool
	wrote   bool

	stop chan struct{} // SyncInterval: closed by Close
	done chan struct{} // SyncInterval: closed when the syncer exits
}

// Open opens the log in dir, creating dir and the first segment if needed,
// and repairs a torn tail of the last segment. See the package documentation
// for what is repaired and what is refused.
func Open(dir string, opts Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := makeDir(dir); err != nil {
		return nil, fmt.Errorf("wal: create dir: %w", err)
	}
	nums, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list segments: %w", err)
	}
	if len(nums) == 0 {
		if err := createSegment(dir, 1); err != nil {
			return nil, fmt.Errorf("wal: create segment: %w", err)
		}
		nums = []uint64{1}
	}
	for i := 1; i < len(nums); i++ {
		if nums[i] != nums[i-1]+1 {
			return nil, fmt.Errorf("wal: segment %s is missing between %s and %s",
				segmentName(nums[i-1]+1), segmentName(nums[i-1]), segmentName(nums[i]))
		}
	}

	l := &Log{dir: dir, opts: opts}
	l.cond = sync.NewCond(&l.mu)
	for i, n := range nums {
		last := i == len(nums)-1
		path := filepath.Join(dir, segmentName(n))
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		size := fi.Size()
		good, err := scanSegment(dir, n, size, nil)
		switch {
		case err == nil:
		case !isFormatError(err):
			return nil, fmt.Errorf("wal: read %s: %w", segmentName(n), err)
		case !last || errors.Is(err, ErrBadHeader):
			return nil, &CorruptionError{Segment: n, Offset: good, Err: err}
		case good == 0:
			// Shorter than a header: it holds no record, so nothing is lost
			// by writing a fresh header.
			opts.Logger.Warn("wal: rewrote short segment header",
				"segment", segmentName(n), "dropped_bytes", size, "reason", err)
			if err := createSegment(dir, n); err != nil {
				return nil, fmt.Errorf("wal: repair %s: %w", segmentName(n), err)
			}
			size, good = headerSize, headerSize
		default:
			opts.Logger.Warn("wal: truncated torn tail",
				"segment", segmentName(n), "offset", good, "dropped_bytes", size-good, "reason", err)
		}
		if !last {
			l.segs = append(l.segs, segmentInfo{num: n, size: good})
			continue
		}
		if err := l.openActive(n, size, good); err != nil {
			return nil, fmt.Errorf("wal: open %s: %w", segmentName(n), err)
		}
	}
	if opts.Sync == SyncInterval {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.syncLoop()
	}
	return l, nil
}

// isFormatError reports whether err describes bad bytes rather than an I/O
// failure.
func isFormatError(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrBadLength) ||
		errors.Is(err, ErrTruncated) || errors.Is(err, ErrBadHeader)
}

// makeDir creates dir if missing and makes its entry durable.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

// openActive opens segment n, of size bytes on disk, for appending at good,
// truncating (and fsyncing) the bytes past good.
func (l *Log) openActive(n uint64, size, good int64) error {
	f, err := os.OpenFile(filepath.Join(l.dir, segmentName(n)), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if size != good {
		err = f.Truncate(good)
		if err == nil {
			err = f.Sync()
		}
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return err
	}
	var sf segmentFile = f
	if l.opts.wrapFile != nil {
		sf = l.opts.wrapFile(sf)
	}
	l.active = segmentInfo{num: n, size: good}
	l.f = sf
	l.bw = bufio.NewWriterSize(sf, writeBufferSize)
	return nil
}

// Replay calls fn for every record of every segment, oldest first, with the
// number of the segment holding it. rec is only valid until fn returns. An
// error from fn stops Replay and is returned as is. Replay must be called
// before the first Write.
func (l *Log) Replay(fn func(seg uint64, rec []byte) error) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.wrote {
		l.mu.Unlock()
		return errors.New("wal: Replay called after Write")
	}
	segs := append(slices.Clone(l.segs), l.active)
	l.mu.Unlock()

	for _, s := range segs {
		off, err := scanSegment(l.dir, s.num, s.size, func(rec []byte) error { return fn(s.num, rec) })
		var cb *callbackError
		switch {
		case err == nil:
		case errors.As(err, &cb):
			return cb.err
		case isFormatError(err):
			return &CorruptionError{Segment: s.num, Offset: off, Err: err}
		default:
			return fmt.Errorf("wal: replay %s: %w", segmentName(s.num), err)
		}
	}
	return nil
}

// Write frames recs and buffers them in the active segment, starting a new
// segment first if they would not fit. It returns the number of the segment
// that holds all of them. The records are not durable until Commit.
func (l *Log) Write(recs ...[]byte) (seg uint64, err error) {
	var need int64
	for _, r := range recs {
		if len(r) > MaxRecordSize {
			return 0, fmt.Errorf("wal: record of %d bytes is larger than MaxRecordSize", len(r))
		}
		need += frameSize(r)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if err := l.usableLocked(); err != nil {
			return 0, err
		}
		if len(recs) == 0 || l.active.size == headerSize || l.active.size+need <= l.opts.SegmentSize {
			break
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		if err := l.rotateLocked(); err != nil {
			return 0, err
		}
	}
	if len(recs) > 0 {
		l.wrote = true
	}
	var hdr [frameHeaderSize]byte
	for _, r := range recs {
		putFrameHeader(&hdr, r)
		if _, err := l.bw.Write(hdr[:]); err != nil {
			return 0, l.failLocked(err)
		}
		if _, err := l.bw.Write(r); err != nil {
			return 0, l.failLocked(err)
		}
		l.active.size += frameSize(r)
		l.pos += uint64(frameSize(r))
	}
	return l.active.num, nil
}

// Commit makes every record written before the call durable according to
// the sync mode. In SyncAlways mode concurrent Commits share fsyncs: a
// Commit whose records an fsync already covers returns at once, and Commits
// that arrive during an fsync wait for it and then share one more.
func (l *Log) Commit() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if l.opts.Sync != SyncAlways {
		if err := l.bw.Flush(); err != nil {
			return l.failLocked(err)
		}
		return nil
	}
	target := l.pos
	for l.synced < target {
		if err := l.usableLocked(); err != nil {
			return err
		}
		if !l.syncing {
			return l.groupSyncLocked()
		}
		l.cond.Wait()
	}
	return nil
}

// Append writes recs and commits them.
func (l *Log) Append(recs ...[]byte) (seg uint64, err error) {
	seg, err = l.Write(recs...)
	if err != nil {
		return 0, err
	}
	return seg, l.Commit()
}

// Cut commits and fsyncs the active segment, closes it and starts a new one,
// whose number it returns. Every record written before Cut is in a segment
// with a smaller number.
func (l *Log) Cut() (seg uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if err := l.usableLocked(); err != nil {
			return 0, err
		}
		if !l.syncing {
			break
		}
		l.cond.Wait()
	}
	if err := l.rotateLocked(); err != nil {
		return 0, err
	}
	return l.active.num, nil
}

// RemoveBefore deletes the segment files numbered below seg, oldest first,
// never the active segment, and fsyncs the directory.
func (l *Log) RemoveBefore(seg uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	removed := 0
	var err error
	for _, s := range l.segs {
		if s.num >= seg {
			break
		}
		if err = os.Remove(filepath.Join(l.dir, segmentName(s.num))); err != nil && !os.IsNotExist(err) {
			break
		}
		err = nil
		removed++
	}
	l.segs = l.segs[removed:]
	if removed > 0 {
		if serr := syncDir(l.dir); err == nil {
			err = serr
		}
	}
	if err != nil {
		return fmt.Errorf("wal: remove segments: %w", err)
	}
	return nil
}

// Retire starts a new segment and deletes every older one, for a caller
// that has stored everything written so far elsewhere (a clean shutdown
// after the last flush): the next Open then reads nothing. It does nothing
// when no record was written since the active segment began.
func (l *Log) Retire() error {
	l.mu.Lock()
	empty := len(l.segs) == 0 && l.active.size <= headerSize
	l.mu.Unlock()
	if empty {
		return nil
	}
	seg, err := l.Cut()
	if err != nil {
		return err
	}
	return l.RemoveBefore(seg)
}

// Segments returns the numbers of the segments on disk, ascending; the last
// one is the active segment.
func (l *Log) Segments() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	nums := make([]uint64, 0, len(l.segs)+1)
	for _, s := range l.segs {
		nums = append(nums, s.num)
	}
	return append(nums, l.active.num)
}

// Size returns the total size in bytes of all segments, counting records
// written but not yet committed.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.active.size
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Close commits and fsyncs everything written, stops the background syncer
// and closes the active segment. It returns the Log's failure, if any. Later
// calls return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.cond.Wait()
	}
	err := l.err
	if err == nil && l.f != nil {
		err = l.syncFileLocked()
	}
	if l.f != nil {
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: close: %w", cerr)
		}
		l.f = nil
	}
	l.cond.Broadcast()
	return err
}

// usableLocked returns ErrClosed or the Log's failure.
func (l *Log) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// failLocked records the first write or fsync failure, after which the state
// of the file is unknown and the Log refuses all writes.
func (l *Log) failLocked(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("wal: log failed: %w", err)
		l.opts.Logger.Error("wal: log failed", "segment", segmentName(l.active.num), "err", err)
	}
	l.cond.Broadcast()
	return l.err
}

// sync fsyncs f and reports the duration to OnSync.
func (l *Log) sync(f segmentFile) error {
	start := time.Now()
	err := f.Sync()
	if l.opts.OnSync != nil {
		l.opts.OnSync(time.Since(start))
	}
	return err
}

// syncFileLocked flushes and fsyncs the active segment with mu held. The
// caller makes sure no group fsync is running.
func (l *Log) syncFileLocked() error {
	if err := l.bw.Flush(); err != nil {
		return l.failLocked(err)
	}
	if err := l.sync(l.f); err != nil {
		return l.failLocked(err)
	}
	l.synced = l.pos
	return nil
}

// groupSyncLocked flushes the buffer and fsyncs the active segment as the
// leader of a group commit, releasing mu during the fsync so that writers
// can go on and later committers can queue behind it. Nothing may rotate or
// close the file meanwhile: those wait while l.syncing.
func (l *Log) groupSyncLocked() error {
	if err := l.bw.Flush(); err != nil {
		return l.failLocked(err)
	}
	end, f := l.pos, l.f
	l.syncing = true
	l.mu.Unlock()
	err := l.sync(f)
	l.mu.Lock()
	l.syncing = false
	l.cond.Broadcast()
	if err != nil {
		return l.failLocked(err)
	}
	l.synced = max(l.synced, end)
	return nil
}

// rotateLocked fsyncs and closes the active segment and starts the next. The
// old segment is always fsynced, whatever the mode: a torn tail is only
// repairable in the last segment.
func (l *Log) rotateLocked() error {
	if err := l.syncFileLocked(); err != nil {
		return err
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return l.failLocked(err)
	}
	old := l.active
	if err := createSegment(l.dir, old.num+1); err != nil {
		return l.failLocked(err)
	}
	if err := l.openActive(old.num+1, headerSize, headerSize); err != nil {
		return l.failLocked(err)
	}
	l.segs = append(l.segs, old)
	return nil
}

// syncLoop fsyncs unsynced bytes every SyncInterval until Close.
func (l *Log) syncLoop() {
	defer close(l.done)
	t := time.NewTicker(l.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if l.usableLocked() == nil && !l.syncing && l.synced < l.pos {
				l.groupSyncLocked() // a failure is kept in l.err
			}
			l.mu.Unlock()
		}
	}
}
