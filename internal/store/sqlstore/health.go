package sqlstore

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"net"

	"github.com/jackc/pgx/v5"
)

// The pool's health check (PostgreSQL). When the server restarts or fails over, every
// connection in the pool is dead, but the client only learns it when it sends a statement on one
// and reads the server's farewell (FATAL 57P01) instead of an answer — and a write that fails
// there cannot be told apart from one that ran. So before database/sql hands out a pooled
// connection, checkConn asks the socket, without waiting, whether the server has said something
// unprompted or hung up: an idle PostgreSQL connection is silent until asked, so either means the
// server closed it. Such a connection is dropped (driver.ErrBadConn) and database/sql takes
// another, or dials a fresh one. pgx's driver also pings a connection that has been idle for
// more than a second. The check costs one non-blocking recv(MSG_PEEK) per use of a connection.

// checkConn is the reset-session hook of the PostgreSQL pool.
func checkConn(_ context.Context, c *pgx.Conn) error {
	if c.IsClosed() || serverHungUp(c.PgConn().Conn()) {
		return driver.ErrBadConn
	}
	return nil
}

// serverHungUp reports whether an idle connection has bytes to read or has reached end of file.
func serverHungUp(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // an encrypted farewell is still bytes waiting
	}
	return peekReadable(c)
}
