//go:build unix

package pgwire

import (
	"errors"
	"net"
	"syscall"
)

// rawConn is the socket under nc when output can be written to it without
// blocking, or nil.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writeNow makes one non-blocking write of p to rc: it returns how much
// the socket took (0 when its buffer is full), never waiting for room.
func writeNow(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), p)
			if werr != syscall.EINTR {
				break
			}
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN || errors.Is(werr, syscall.EWOULDBLOCK) {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return max(n, 0), nil
}
