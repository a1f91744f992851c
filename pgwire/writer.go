package pgwire

import (
	"errors"
	"net"
	"sync"
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
type queuedWriter struct {
	nc      net.Conn
	timeout time.Duration
	ch      chan []byte
	done    chan struct{}

	mu  sync.Mutex
	err error
}

func newQueuedWriter(nc net.Conn, timeout time.Duration) *queuedWriter {
	w := &queuedWriter{nc: nc, timeout: timeout, ch: make(chan []byte, maxQueuedChunks), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *queuedWriter) run() {
	defer close(w.done)
	for b := range w.ch {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		if _, err := w.nc.Write(b); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			w.nc.Close() // the session notices on its next read
			for range w.ch {
			}
			return
		}
	}
}

func (w *queuedWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write queues a copy of p.
func (w *queuedWriter) Write(p []byte) (int, error) {
	if err := w.failed(); err != nil {
		return 0, err
	}
	b := make([]byte, len(p))
	copy(b, p)
	select {
	case w.ch <- b:
		return len(p), nil
	default:
	}
	// The queue is full: the client reads slower than results come. Wait
	// at most the write timeout for room, so a client that barely reads
	// cannot hold the statement (and its engine connection) for long.
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	select {
	case w.ch <- b:
		return len(p), nil
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
