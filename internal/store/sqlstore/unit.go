package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

// A write that must hold across nodes is written once, as a list of statements (op) with what
// each result must be, and carried out by one unit of work (db.write) on either engine:
//
//   - SQLite runs the statements one by one inside the group-commit writer's transaction and
//     checks each result in Go as it comes;
//   - PostgreSQL sends BEGIN, the statements and the COMMIT in one pipelined round trip; the
//     dialect renders each check into its statement, so the server itself refuses what must be
//     refused (latch_check raises SQLSTATE LX001), skips everything after it, COMMIT included,
//     and the ROLLBACK that follows undoes the rest.
//
// Either way the outcome is the one-by-one outcome: the first check that fails refuses the whole
// transaction with its op's error, and nothing of it is written.

// check is what an op's result must be.
type check int

const (
	// checkNone: any result will do (an error still fails the transaction).
	checkNone check = iota
	// checkOne: the statement (an INSERT, UPDATE or DELETE) must change exactly one row.
	checkOne
	// checkNotTrue: the statement returns one boolean column (a SELECT, or a write with
	// RETURNING); a row whose value is true refuses the transaction.
	checkNotTrue
)

// op is one statement of a write transaction and what its result must be.
type op struct {
	what  string // for errors: "insert session"
	q     string
	args  []any
	check check
	// err is the error when the check fails; miss, when not nil, is asked instead to tell
	// which error (in the open transaction on SQLite, after the rollback on PostgreSQL; it
	// must only read).
	err  error
	miss func(ctx context.Context, queryRow func(q string, args ...any) scanner) error
	// fetch, when not nil, is given the scan of the one row the statement returns (sql.ErrNoRows
	// when there is none) to record it; it never refuses the transaction.
	fetch func(scan func(dest ...any) error) error
}

// must is a statement that must change exactly one row, else refuses the transaction with err.
func must(what string, err error, q string, args ...any) op {
	return op{what: what, check: checkOne, err: err, q: q, args: args}
}

// refuseIf is a statement returning one boolean per row; a true one refuses the transaction
// with err.
func refuseIf(what string, err error, q string, args ...any) op {
	return op{what: what, check: checkNotTrue, err: err, q: q, args: args}
}

// exec is a statement whose result does not matter.
func exec(what, q string, args ...any) op { return op{what: what, q: q, args: args} }

// refusal is the error of a failed check of o.
func (o op) refusal(ctx context.Context, queryRow func(q string, args ...any) scanner) error {
	if o.miss != nil {
		return o.miss(ctx, queryRow)
	}
	return o.err
}

// write runs ops as one write transaction: pipelined on PostgreSQL (runPipelined), one statement
// at a time in the group-commit writer on SQLite (runOps).
func (db *DB) write(ctx context.Context, ops ...op) error {
	if db.wr == nil {
		return db.runPipelined(ctx, ops)
	}
	return db.tx(ctx, func(tx *txn) error { return runOps(ctx, tx, ops) })
}

// runOps runs ops one by one in tx, checking each result, and stops at the first that fails.
func runOps(ctx context.Context, tx *txn, ops []op) error {
	queryRow := func(q string, args ...any) scanner { return tx.queryRow(ctx, q, args...) }
	for _, o := range ops {
		switch {
		case o.fetch != nil:
			if err := o.fetch(tx.queryRow(ctx, o.q, o.args...).Scan); err != nil {
				return opErr(o, err)
			}
		case o.check == checkNotTrue:
			refused, err := anyTrue(tx.query(ctx, o.q, o.args...))
			if err != nil {
				return opErr(o, err)
			}
			if refused {
				return o.refusal(ctx, queryRow)
			}
		default:
			res, err := tx.exec(ctx, o.q, o.args...)
			if err != nil {
				return opErr(o, err)
			}
			if o.check == checkOne {
				n, err := res.RowsAffected()
				if err != nil {
					return opErr(o, err)
				}
				if n != 1 {
					return o.refusal(ctx, queryRow)
				}
			}
		}
	}
	return nil
}

// anyTrue reads and closes rows of one boolean column and reports whether one is true.
func anyTrue(rows *sql.Rows, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var v bool
		if err := rows.Scan(&v); err != nil {
			return false, err
		}
		found = found || v
	}
	return found, rows.Err()
}

// opErr wraps a failure of o, leaving the store's sentinel errors as they are.
func opErr(o op, err error) error {
	for _, sentinel := range []error{store.ErrLocked, store.ErrUsed, store.ErrChallengeGone, store.ErrNotFound, store.ErrStale, store.ErrConflict} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", o.what, err)
}
