package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// runPipelined runs a write transaction on PostgreSQL in round trips of many statements instead
// of one per statement: BEGIN and first go in one pipelined batch; then, when not nil, decides
// from first's results what else to run, which goes in a second batch. The COMMIT rides in the
// last batch when the server can check every statement of it itself (op.settled): a login is
// then one round trip where it was seven. Otherwise, or when something failed, one more round
// trip commits or rolls back.
//
// Within a batch the server skips everything after a statement that fails, COMMIT included, and
// the ROLLBACK that follows undoes the rest; a client-side check that refuses means the batch
// carried no COMMIT. So the outcome is the one-by-one outcome (runSteps does it one by one on
// SQLite).
func (db *DB) runPipelined(ctx context.Context, first []op, then func() ([]op, error)) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn()
		failed, miss, committed := db.sendOps(ctx, pc, "BEGIN", first, then == nil)
		if failed == nil && miss == nil && then != nil {
			var more []op
			if more, failed = then(); failed == nil {
				failed, miss, committed = db.sendOps(ctx, pc, "", more, true)
			}
		}
		if committed {
			return nil
		}
		end := "COMMIT"
		if failed != nil || miss != nil {
			end = "ROLLBACK"
		}
		if _, err := pc.Exec(context.WithoutCancel(ctx), end); err != nil || pc.PgConn().TxStatus() != 'I' {
			// The connection is in an unknown state: database/sql must not reuse it.
			return errors.Join(failed, db.dialect.mapErr(fmt.Errorf("%s: %w", end, err)), driver.ErrBadConn)
		}
		if miss != nil {
			// A statement changed no row. The statements after it ran anyway and may have failed
			// because of it (a refresh token for a session that is not there), so the
			// transaction is rolled back first and the question of which error it is asked after.
			return miss.miss(ctx, func(q string, args ...any) scanner {
				return pgxRow{pc.QueryRow(ctx, db.dialect.rebind(q), args...)}
			})
		}
		return failed
	})
}

// sendOps sends lead (when not "") and ops in one batch, with the COMMIT when last is set and
// every op is settled, and reads the results. committed reports that the COMMIT ran and
// succeeded; when it failed, the server has rolled back and failed says why.
func (db *DB) sendOps(ctx context.Context, pc *pgx.Conn, lead string, ops []op, last bool) (failed error, miss *op, committed bool) {
	commit := last
	for _, o := range ops {
		commit = commit && o.settled()
	}
	b := &pgx.Batch{}
	if lead != "" {
		b.Queue(lead)
	}
	for _, o := range ops {
		b.Queue(db.dialect.rebind(o.q), o.args...)
	}
	if commit {
		b.Queue("COMMIT")
	}
	br := pc.SendBatch(ctx, b)
	if lead != "" {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", lead, err), nil, false
		}
	}
	failed, miss = readResults(br, ops)
	if commit && failed == nil && miss == nil {
		tag, err := br.Exec()
		switch {
		case err != nil:
			failed = fmt.Errorf("COMMIT: %w", db.dialect.mapErr(err))
		case tag.String() != "COMMIT": // PostgreSQL answers ROLLBACK to the COMMIT of a failed transaction
			failed = fmt.Errorf("COMMIT: the transaction was rolled back (%s)", tag)
		default:
			committed = true
		}
	}
	if err := br.Close(); failed == nil && miss == nil && err != nil {
		failed, committed = db.dialect.mapErr(err), false
	}
	// The transaction state is known once the batch is closed (the server's ReadyForQuery).
	committed = committed && pc.PgConn().TxStatus() == 'I'
	return failed, miss, committed
}

// readResults reads the batch's results in order, up to the first failure: an error, or a
// statement that did not change exactly one row (returned as miss when it has a miss function).
func readResults(br pgx.BatchResults, ops []op) (failed error, miss *op) {
	for i := range ops {
		o := &ops[i]
		if o.row != nil {
			if err := o.row(pgxRow{br.QueryRow()}.Scan); err != nil {
				return opErr(*o, postgresDialect.mapErr(err)), nil
			}
			continue
		}
		tag, err := br.Exec()
		var pgErr *pgconn.PgError
		if o.asserted && errors.As(err, &pgErr) && pgErr.Code == "22012" { // division_by_zero: the check failed
			if o.miss != nil {
				return nil, o
			}
			return o.one, nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.what, postgresDialect.mapErr(err)), nil
		}
		if o.one != nil && !o.asserted && tag.RowsAffected() != 1 {
			if o.miss != nil {
				return nil, o
			}
			return o.one, nil
		}
	}
	return nil, nil
}

// pgxRow gives a pgx row database/sql's "no rows" error, which the op functions test for.
type pgxRow struct{ r pgx.Row }

func (p pgxRow) Scan(dest ...any) error {
	err := p.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}
