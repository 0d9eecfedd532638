package node

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latch-auth/latch/internal/config"
)

// openDatabaseError says in one line which database could not be opened and why, without the
// layers in between (the migration library, the driver's echo of the connection string, SQLite's
// result codes). The cause stays reachable with errors.Is and errors.As.
type openDatabaseError struct {
	what, why string
	err       error
}

func (e *openDatabaseError) Error() string { return "cannot open " + e.what + ": " + e.why }
func (e *openDatabaseError) Unwrap() error { return e.err }

func databaseError(cfg *config.Config, err error) error {
	return &openDatabaseError{what: describeDatabase(cfg), why: databaseReason(err), err: err}
}

// describeDatabase names the database without its credentials.
func describeDatabase(cfg *config.Config) string {
	if !cfg.IsPostgres() {
		return "the SQLite database " + cfg.DSN()
	}
	u, err := url.Parse(cfg.Database)
	if err != nil || u.Host == "" {
		return "the PostgreSQL database"
	}
	return fmt.Sprintf("the PostgreSQL database %q on %s", strings.TrimPrefix(u.Path, "/"), u.Host)
}

var sqliteCode = regexp.MustCompile(`\s*\(\d+\)$`)

// databaseReason is what the server, the network or the file system said, in its own words.
func databaseReason(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Message
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	var parse *pgconn.ParseConfigError
	if errors.As(err, &parse) {
		return "the URL cannot be parsed (a postgres://user:password@host:5432/name URL, special characters percent-encoded)"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return sqliteCode.ReplaceAllString(msg, "")
}
