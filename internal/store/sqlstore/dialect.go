package sqlstore

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch-auth/latch/internal/store"
)

// dialect holds what differs between the engines.
type dialect struct {
	name     string
	goose    goose.Dialect
	dollar   bool   // PostgreSQL placeholders $1, $2, ...
	greatest string // the two-argument max function
	// lockKey serializes transactions on one key across nodes ("" where the engine already
	// serializes writers, as SQLite does).
	lockKey string
}

var (
	sqliteDialect   = dialect{name: "sqlite", goose: goose.DialectSQLite3, greatest: "max"}
	postgresDialect = dialect{name: "postgres", goose: goose.DialectPostgres, dollar: true, greatest: "GREATEST", lockKey: "SELECT pg_advisory_xact_lock(hashtext(?))"}
)

// rebind rewrites ? placeholders for PostgreSQL. Queries never contain a literal '?'.
func (d dialect) rebind(q string) string {
	if !d.dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// mapErr turns unique-constraint violations into store.ErrConflict, and text PostgreSQL cannot
// store (character_not_in_repertoire, untranslatable_character, invalid byte sequence) into
// store.ErrUnstorableText.
func (d dialect) mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return errors.Join(store.ErrConflict, err)
		case "22021", "22P05":
			return errors.Join(store.ErrUnstorableText, err)
		}
	}
	var sqErr *msqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return errors.Join(store.ErrConflict, err)
		}
	}
	return err
}

func fsSub() (fs.FS, error) { return fs.Sub(migrations, "migrations") }
