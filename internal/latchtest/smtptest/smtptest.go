// Package smtptest runs in-process SMTP servers (github.com/emersion/go-smtp) for tests: the one
// lifecycle that latchtest's Mailbox and the smtp package's own test servers share. It is test
// support only, and imports nothing of Latch's, so the delivery packages' tests can use it
// without depending on a whole node.
package smtptest

import (
	"io"
	"log"
	"net"
	"strconv"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Serve serves srv on l until the test ends, and returns l's host and port. It sets what every
// test server wants (domain localhost, 10 s timeouts, no error log); the caller sets the rest
// (TLS, auth) before.
func Serve(t testing.TB, srv *gosmtp.Server, l net.Listener) (host string, port int) {
	t.Helper()
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	h, p, _ := net.SplitHostPort(l.Addr().String())
	port, _ = strconv.Atoi(p)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = l.Close() // Serve may not have registered l with srv yet
		<-done
	})
	return h, port
}
