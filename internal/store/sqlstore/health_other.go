//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlstore

import "net"

// peekReadable cannot ask the socket on this platform; pgx's ping of connections idle for more
// than a second is the only check.
func peekReadable(net.Conn) bool { return false }
