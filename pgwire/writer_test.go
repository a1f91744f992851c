package pgwire

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback sockets.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestQueuedWriterKeepsOrder: writes that go straight to the socket and
// writes that wait in the queue (a reader slower than the writer fills the
// socket's buffer) reach the client complete and in order.
func TestQueuedWriterKeepsOrder(t *testing.T) {
	for _, name := range []string{"socket", "queue only"} {
		t.Run(name, func(t *testing.T) {
			server, client := tcpPair(t)
			w := newQueuedWriter(server, 10*time.Second)
			if name == "queue only" {
				w.raw = nil
			} else if w.raw == nil {
				t.Fatal("a TCP connection is written without the queue")
			}
			r := rand.New(rand.NewPCG(1, 2))
			var want bytes.Buffer
			var sawQueued, sawDirect bool
			got := make(chan []byte)
			go func() {
				var b bytes.Buffer
				buf := make([]byte, 3000)
				for reads := 1; ; reads++ {
					n, err := client.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						got <- b.Bytes()
						return
					}
					if reads%20 == 0 {
						time.Sleep(time.Millisecond) // a slow reader
					}
				}
			}()
			for i := 0; i < 400; i++ {
				p := make([]byte, 1+r.IntN(40000))
				for j := range p {
					p[j] = byte(i + j)
				}
				want.Write(p)
				if n, err := w.Write(p); n != len(p) || err != nil {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
				if w.queued.Load() > 0 {
					sawQueued = true
				} else {
					sawDirect = true
				}
			}
			if name == "socket" && !(sawQueued && sawDirect) {
				t.Fatalf("written directly: %v, queued: %v; the test needs both", sawDirect, sawQueued)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			server.Close()
			if b := <-got; !bytes.Equal(b, want.Bytes()) {
				t.Fatalf("the client read %d bytes, %d written, or other bytes", len(b), want.Len())
			}
		})
	}
}

// TestQueuedWriterAfterDeadline: once the queue wrote with a write
// deadline, a later direct write is not refused when that deadline has
// passed.
func TestQueuedWriterAfterDeadline(t *testing.T) {
	server, client := tcpPair(t)
	w := newQueuedWriter(server, 50*time.Millisecond)
	defer w.Close()
	// Fill the socket so a write is queued and written by the goroutine.
	big := make([]byte, 8<<20)
	go io.Copy(io.Discard, io.LimitReader(client, int64(len(big))))
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	for w.queued.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // past the deadline the queue set
	if _, err := w.Write([]byte("after")); err != nil {
		t.Fatalf("write after the deadline: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "after" {
		t.Fatalf("read %q, %v", buf, err)
	}
}
