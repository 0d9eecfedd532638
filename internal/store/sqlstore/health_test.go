package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latch-auth/latch/internal/store"
)

// TestServerHungUp: the pool's health check tells a silent connection from one whose server
// has spoken unprompted (PostgreSQL's FATAL on shutdown) or closed it.
func TestServerHungUp(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the socket peek is built for unix systems only")
	}
	pair := func(t *testing.T) (client, server net.Conn) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() { c, _ := l.Accept(); accepted <- c }()
		client, err = net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server = <-accepted
		t.Cleanup(func() { client.Close(); server.Close() })
		return client, server
	}
	// eventually polls, since the bytes or the FIN take a moment to arrive.
	eventually := func(c net.Conn) bool {
		for range 200 {
			if serverHungUp(c) {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	t.Run("silent_connection_is_healthy", func(t *testing.T) {
		c, _ := pair(t)
		if serverHungUp(c) {
			t.Fatal("a connection the server has not written to was reported broken")
		}
	})
	t.Run("server_spoke_first", func(t *testing.T) {
		c, s := pair(t)
		s.Write([]byte("E"))
		if !eventually(c) {
			t.Fatal("a connection with unread bytes from the server was reported healthy")
		}
		// The peek leaves the byte where it was.
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'E' {
			t.Fatalf("read after peek: %q, %v", b, err)
		}
	})
	t.Run("server_closed", func(t *testing.T) {
		c, s := pair(t)
		s.Close()
		if !eventually(c) {
			t.Fatal("a connection the server closed was reported healthy")
		}
	})
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42601"}, false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{errors.New("no such table: users"), false},
		{store.ErrConflict, false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if got := errors.Is(postgresDialect.mapErr(tc.err), store.ErrUnavailable); got != tc.want {
			t.Errorf("mapErr(%v) is ErrUnavailable: %v, want %v", tc.err, got, tc.want)
		}
	}
}
