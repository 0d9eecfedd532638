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

// runPipelined is the unit of work on PostgreSQL (see unit.go): BEGIN, ops as the dialect renders
// them (each check made by the statement itself) and COMMIT go in one pgx batch through the
// database/sql connection. The server skips everything after a statement that fails, COMMIT
// included; the ROLLBACK that follows then undoes the rest, and only then is a failed check's
// miss asked which error it is.
//
// A batch that could not be sent at all (pgx says the failure came before any byte went out:
// pgconn.SafeToRetry) runs once more on another connection. Nothing else is retried: once the
// batch has gone, its COMMIT may have been carried out even though its answer was lost.
func (db *DB) runPipelined(ctx context.Context, ops []op) error {
	unsent, err := db.runPipelinedOnce(ctx, ops)
	if unsent && ctx.Err() == nil {
		_, err = db.runPipelinedOnce(ctx, ops)
	}
	return err
}

// runPipelinedOnce runs ops once; unsent reports that nothing of the batch reached the server.
func (db *DB) runPipelinedOnce(ctx context.Context, ops []op) (unsent bool, err error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return false, db.dialect.mapErr(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn()
		var refused *op
		var failed error
		refused, unsent, failed = db.sendOps(ctx, pc, ops)
		if failed == nil && refused == nil {
			return nil
		}
		if _, err := pc.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil || pc.PgConn().TxStatus() != 'I' {
			// The connection is in an unknown state: database/sql must not reuse it.
			return errors.Join(failed, db.dialect.mapErr(fmt.Errorf("ROLLBACK: %w", err)), driver.ErrBadConn)
		}
		if refused != nil {
			// The statements after a refused one did not run, and the transaction is rolled back:
			// the question of which error it is is asked now.
			return refused.refusal(ctx, func(q string, args ...any) scanner {
				return pgxRow{pc.QueryRow(ctx, db.dialect.rebind(q), args...)}
			})
		}
		return failed
	})
	return unsent, err
}

// sendOps sends BEGIN, ops and COMMIT in one batch and reads the results: refused is the op
// whose check failed, failed an error; both nil when the COMMIT succeeded. unsent reports a
// failure before anything was sent.
func (db *DB) sendOps(ctx context.Context, pc *pgx.Conn, ops []op) (refused *op, unsent bool, failed error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	for _, o := range ops {
		q, args := db.dialect.render(o)
		b.Queue(q, args...)
	}
	b.Queue("COMMIT")
	br := pc.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, pgconn.SafeToRetry(err), fmt.Errorf("BEGIN: %w", db.dialect.mapErr(err))
	}
	refused, failed = readResults(br, ops)
	if failed == nil && refused == nil {
		tag, err := br.Exec()
		switch {
		case err != nil:
			failed = fmt.Errorf("COMMIT: %w", db.dialect.mapErr(err))
		case tag.String() != "COMMIT": // PostgreSQL answers ROLLBACK to the COMMIT of a failed transaction
			failed = fmt.Errorf("COMMIT: the transaction was rolled back (%s)", tag)
		}
	}
	if err := br.Close(); failed == nil && refused == nil && err != nil {
		failed = db.dialect.mapErr(err)
	}
	// The transaction state is known once the batch is closed (the server's ReadyForQuery).
	if failed == nil && refused == nil && pc.PgConn().TxStatus() != 'I' {
		failed = errors.New("COMMIT: the transaction is still open")
	}
	return refused, false, failed
}

// readResults reads the batch's results in order, up to the first failure: a statement whose
// check failed (refused), or an error.
func readResults(br pgx.BatchResults, ops []op) (refused *op, failed error) {
	for i := range ops {
		o := &ops[i]
		if o.fetch != nil {
			if err := o.fetch(pgxRow{br.QueryRow()}.Scan); err != nil {
				return nil, opErr(*o, postgresDialect.mapErr(err))
			}
			continue
		}
		_, err := br.Exec()
		var pgErr *pgconn.PgError
		if o.check != checkNone && errors.As(err, &pgErr) && pgErr.Code == checkFailedState {
			return o, nil
		}
		if err != nil {
			return nil, opErr(*o, postgresDialect.mapErr(err))
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
