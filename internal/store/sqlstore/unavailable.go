package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// What "the database is unavailable" means here (store.ErrUnavailable, a 503 with Retry-After at
// the HTTP edge, never a 500): the engine could not be reached or could not take the work for a
// reason outside the request — a PostgreSQL restart or failover, a refused or broken connection,
// a server that is starting up or shutting down, a full disk, an I/O error. A constraint
// violation, a failed check or a bug in a query is not: those keep their own errors.

// unavailable reports whether err means the database is unavailable.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgUnavailable(pgErr.Code)
	}
	var sqErr *msqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff { // the primary code of an extended one (SQLITE_IOERR_WRITE …)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_NOMEM:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		pgconn.SafeToRetry(err):
		return true
	}
	// pgx reports a connection it closed after a failure as "conn closed" without wrapping
	// ErrConnClosed in some paths.
	return strings.Contains(err.Error(), "conn closed")
}

// pgUnavailable reports whether a PostgreSQL SQLSTATE means the server cannot serve now:
// class 08 (connection exception), 57P01–57P03 (admin or crash shutdown, cannot connect now:
// starting up or shutting down), 53300 (too many connections), 25006 (a read-only transaction:
// a standby that has not been promoted yet, during a failover).
func pgUnavailable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"):
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "53300", code == "25006":
		return true
	}
	return false
}

// retryableRead reports whether a failed read is worth running again once on another
// connection: the database was unavailable and the caller has not gone. A read changes nothing,
// so running it twice is always safe.
func retryableRead(ctx context.Context, err error) bool {
	return ctx.Err() == nil && unavailable(err)
}
