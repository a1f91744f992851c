package pgwire

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxQueuedChunks bounds what a session queues for a slow client: 256
// chunks of up to 64 KiB (the output buffer's size), 16 MiB.
const maxQueuedChunks = 256

// queuedWriter hands a session's output to a goroutine that writes it to
// the client. A statement's rows are produced, and its engine connection
// released, while a slow client is still reading, as long as what waits
// fits the queue; past that the statement waits for the client, at most
// the write timeout per write.
//
// When nothing is queued, output goes straight to the socket in one
// non-blocking write (a short answer then costs no hand-over to the
// writing goroutine); what the socket does not take is queued.
type queuedWriter struct {
	nc      net.Conn
	raw     syscall.RawConn // nil when writes must go through the queue
	timeout time.Duration
	ch      chan []byte
	done    chan struct{}
	queued  atomic.Int64 // chunks queued and not yet written

	mu  sync.Mutex
	err error
}

func newQueuedWriter(nc net.Conn, timeout time.Duration) *queuedWriter {
	w := &queuedWriter{nc: nc, raw: rawConn(nc), timeout: timeout, ch: make(chan []byte, maxQueuedChunks), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *queuedWriter) run() {
	defer close(w.done)
	for b := range w.ch {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		if _, err := w.nc.Write(b); err != nil {
			w.fail(err)
			for range w.ch {
			}
			return
		}
		if len(w.ch) == 0 {
			// A direct write is refused once a deadline passed.
			w.nc.SetWriteDeadline(time.Time{})
		}
		w.queued.Add(-1)
	}
}

// fail records the first write error and closes the connection: the
// session notices on its next read.
func (w *queuedWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.nc.Close()
}

func (w *queuedWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write writes p now if the socket takes it and nothing is queued before
// it, and queues a copy of what remains.
func (w *queuedWriter) Write(p []byte) (int, error) {
	if err := w.failed(); err != nil {
		return 0, err
	}
	total := len(p)
	// Only this session's goroutine writes: with nothing queued the
	// writing goroutine is idle, so a direct write keeps the order.
	if w.raw != nil && w.queued.Load() == 0 {
		n, err := writeNow(w.raw, p)
		if err != nil {
			w.fail(err)
			return 0, err
		}
		if n == len(p) {
			return total, nil
		}
		p = p[n:]
	}
	b := make([]byte, len(p))
	copy(b, p)
	w.queued.Add(1)
	select {
	case w.ch <- b:
		return total, nil
	default:
	}
	// The queue is full: the client reads slower than results come. Wait
	// at most the write timeout for room, so a client that barely reads
	// cannot hold the statement (and its engine connection) for long.
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	select {
	case w.ch <- b:
		return total, nil
	case <-w.done:
		if err := w.failed(); err != nil {
			return 0, err
		}
		return 0, net.ErrClosed
	case <-t.C:
		w.mu.Lock()
		if w.err == nil {
			w.err = errStalled
		}
		w.mu.Unlock()
		w.nc.Close()
		return 0, errStalled
	}
}

// errStalled ends a session whose client stopped reading its results.
var errStalled = errors.New("pgwire: the client read no results for the write timeout; connection closed")

// Close waits until everything queued is written (or writing failed).
func (w *queuedWriter) Close() error {
	close(w.ch)
	<-w.done
	return w.failed()
}
