//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlstore

import (
	"errors"
	"net"
	"syscall"
)

// peekReadable peeks at c's socket without blocking: true when a byte is waiting, the peer has
// closed it, or it is in error; false when there is nothing to read yet (EAGAIN) or c is not a
// socket it can ask.
func peekReadable(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	readable := false
	var b [1]byte
	// Control, not Read: Read would wait for the descriptor's read lock, which pgx's background
	// reader may hold in a blocked read on an idle connection — forever. The peek neither waits
	// nor takes anything from the socket.
	perr := raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case err != nil, n >= 0:
			readable = true // data (n > 0), end of file (n == 0), or a socket error
		}
	})
	return readable || perr != nil
}
