package pgwire

import (
	"net"
	"sync"
	"time"
)

// maxReadAhead bounds what a session reads from its client ahead of the
// protocol decoder: a client that pipelines more waits (TCP backpressure)
// until the session catches up.
const maxReadAhead = 256 << 10

// goneRecheck is how often a session whose client has gone cancels its
// running statement again, until the session ends: a statement whose
// message was decoded just before the disconnection was seen may start
// after the first cancel.
const goneRecheck = 10 * time.Millisecond

// clientReader is what a session's protocol decoder reads. Until start it
// reads the socket directly, on the session's goroutine: start-up and
// authentication read under the start-up deadline, and a TLS handshake
// takes the socket over. From start on, one goroutine owns the socket. It
// reads ahead into a buffer of at most maxReadAhead bytes, so the decoder
// loses nothing a client pipelines while a statement runs, and it notices
// the client going away (EOF, reset) while the session is busy: it then
// calls gone, and again every goneRecheck until stop. Once the socket has
// failed, Read returns the error at once and drops what is buffered: nobody
// is left to read the answers.
type clientReader struct {
	nc      net.Conn
	started bool // set by start, on the session's goroutine

	mu      sync.Mutex
	cond    sync.Cond // data, room or stop
	buf     []byte    // buf[head:] is read but not yet decoded
	head    int
	err     error // why the socket stopped (io.EOF: the client closed it)
	stopped bool
	stopc   chan struct{} // closed by stop
	done    chan struct{}
}

func newClientReader(nc net.Conn) *clientReader {
	r := &clientReader{nc: nc}
	r.cond.L = &r.mu
	return r
}

// start hands the socket to a reading goroutine; gone is called when the
// client has gone. Call stop to end it.
func (r *clientReader) start(gone func()) {
	r.started = true
	r.stopc, r.done = make(chan struct{}), make(chan struct{})
	go r.run(gone)
}

func (r *clientReader) run(gone func()) {
	defer close(r.done)
	tmp := make([]byte, 16<<10)
	for {
		r.mu.Lock()
		for len(r.buf)-r.head >= maxReadAhead && !r.stopped {
			r.cond.Wait()
		}
		stopped := r.stopped
		r.mu.Unlock()
		if stopped {
			return
		}
		n, err := r.nc.Read(tmp)
		r.mu.Lock()
		if n > 0 {
			if r.head > 0 && cap(r.buf)-len(r.buf) < n {
				r.buf = r.buf[:copy(r.buf, r.buf[r.head:])]
				r.head = 0
			}
			r.buf = append(r.buf, tmp[:n]...)
		}
		if err != nil {
			r.err = err
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		if err != nil {
			break
		}
	}
	t := time.NewTicker(goneRecheck)
	defer t.Stop()
	for {
		gone()
		select {
		case <-r.stopc:
			return
		case <-t.C:
		}
	}
}

// Read implements io.Reader for the decoder.
func (r *clientReader) Read(p []byte) (int, error) {
	if !r.started {
		return r.nc.Read(p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.head == len(r.buf) && r.err == nil && !r.stopped {
		r.cond.Wait()
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.stopped {
		return 0, net.ErrClosed
	}
	n := copy(p, r.buf[r.head:])
	r.head += n
	if r.head == len(r.buf) {
		r.buf, r.head = r.buf[:0], 0
		if cap(r.buf) > 64<<10 {
			r.buf = nil // a burst is over: keep no big buffer
		}
	}
	r.cond.Broadcast()
	return n, nil
}

// failed reports the socket's error once the reading goroutine has seen
// one.
func (r *clientReader) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// stop ends the reading goroutine and waits for it. Close the socket first:
// that is what ends a read in progress.
func (r *clientReader) stop() {
	if !r.started {
		return
	}
	r.mu.Lock()
	r.stopped = true
	r.cond.Broadcast()
	r.mu.Unlock()
	close(r.stopc)
	<-r.done
}
