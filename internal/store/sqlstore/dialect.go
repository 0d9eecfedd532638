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

// dialect holds what differs between the engines: placeholders, a few functions, how a write's
// checks are made (see unit.go), and how a read joins the newest row of a table.
type dialect struct {
	name     string
	goose    goose.Dialect
	dollar   bool   // PostgreSQL placeholders $1, $2, ...
	greatest string // the two-argument max function
	// rowLocks: SELECT … FOR UPDATE serializes transactions on a row across nodes (SQLite has
	// no such clause and needs none: its one writer already serializes them).
	rowLocks bool
	// serverChecks: the statements check themselves (render), so a unit of work's COMMIT can
	// ride in the batch with them. Else the caller checks each result as it comes.
	serverChecks bool
	// joinOne left-joins at most one row of table as alias: the first in order (none: the only
	// one) of those matching where, which may name the outer row's columns; joinAll joins every
	// row matching where. PostgreSQL gets LATERAL subqueries, which its generic plans (planned
	// once, maybe on empty tables) can only run per outer row, as index seeks — LIMIT 1 and
	// OFFSET 0 keep them from being flattened back into joins. SQLite plans a join per row as it
	// is, and finds the first row by rowid from a scalar subquery.
	joinOne func(table, alias, cols, where, order string) string
	joinAll func(table, alias, cols, where string) string
}

var (
	sqliteDialect = dialect{name: "sqlite", goose: goose.DialectSQLite3, greatest: "max",
		joinOne: func(table, alias, _, where, order string) string {
			if order == "" {
				return "LEFT JOIN " + table + " " + alias + " ON " + where
			}
			return "LEFT JOIN " + table + " " + alias + " ON " + alias + ".rowid = (SELECT " + alias + ".rowid FROM " + table + " " + alias +
				" WHERE " + where + " ORDER BY " + order + " LIMIT 1)"
		},
		joinAll: func(table, alias, _, where string) string { return "LEFT JOIN " + table + " " + alias + " ON " + where }}
	postgresDialect = dialect{name: "postgres", goose: goose.DialectPostgres, dollar: true, greatest: "GREATEST",
		rowLocks: true, serverChecks: true,
		joinOne: func(table, alias, cols, where, order string) string {
			if order != "" {
				where += " ORDER BY " + order
			}
			return "LEFT JOIN LATERAL (SELECT " + cols + " FROM " + table + " " + alias + " WHERE " + where + " LIMIT 1) " + alias + " ON TRUE"
		},
		joinAll: func(table, alias, cols, where string) string {
			return "LEFT JOIN LATERAL (SELECT " + cols + " FROM " + table + " " + alias + " WHERE " + where + " OFFSET 0) " + alias + " ON TRUE"
		}}
)

// checkFailedState is the SQLSTATE latch_check raises (migration 7, PostgreSQL only).
const checkFailedState = "LX001"

// checkFunction is latch_check(ok, what): true when ok, else an error with SQLSTATE LX001 — how
// a PostgreSQL statement refuses its transaction when its check fails.
const checkFunction = `CREATE OR REPLACE FUNCTION latch_check(ok BOOLEAN, what TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION 'check failed: %', what USING ERRCODE = 'LX001';
	END IF;
	RETURN TRUE;
END $$`

// render is o's statement as the engine runs it: with serverChecks, a checked statement becomes
// one that raises LX001 when its check fails.
func (d dialect) render(o op) (string, []any) {
	q := d.rebind(o.q)
	if !d.serverChecks {
		return q, o.args
	}
	n := len(o.args) + 1
	what := "$" + strconv.Itoa(n)
	switch o.check {
	case checkOne:
		return "WITH r AS (" + q + " RETURNING 1) SELECT latch_check(count(*) = 1, " + what + ") FROM r", append(o.args[:len(o.args):len(o.args)], o.what)
	case checkNotTrue:
		return "WITH r(refused) AS (" + q + ") SELECT latch_check(NOT COALESCE(bool_or(r.refused), FALSE), " + what + ") FROM r",
			append(o.args[:len(o.args):len(o.args)], o.what)
	}
	return q, o.args
}

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

// mapErr turns unique-constraint violations into store.ErrConflict, text PostgreSQL cannot
// store (character_not_in_repertoire, untranslatable_character, invalid byte sequence) into
// store.ErrUnstorableText, and an unreachable or full database into store.ErrUnavailable (see
// unavailable.go).
func (d dialect) mapErr(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if unavailable(err) {
		return errors.Join(store.ErrUnavailable, err)
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
