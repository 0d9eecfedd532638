package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/latch-auth/latch/internal/store"
)

// maxBatch bounds how many transactions share one SQLite commit, and so how long the first of
// them waits for it.
const maxBatch = 32

// writer runs SQLite write transactions on the one writer connection, from one goroutine, with
// group commit.
//
// SQLite has one writer, so transactions run one after another anyway. Two things made that
// queue slow under load, and the writer removes both:
//   - Handing the connection from one request's goroutine to the next cost a trip through the Go
//     scheduler for every transaction, while both cores were busy with other requests: the
//     connection sat idle for about a quarter of the time. Here one goroutine owns the connection
//     and runs the transactions it is sent back to back.
//   - Each transaction paid for its own commit (the WAL frames of every page it changed, the WAL
//     index update). Here the transactions that queued up while one ran share one commit: each
//     runs inside a SAVEPOINT of an open batch transaction (its changes are undone alone when it
//     fails), and the batch commits when the queue stays empty after the writer yields once (see
//     next), or when it holds maxBatch transactions.
//
// No transaction returns before the commit that holds it, so a caller that sees success has a
// durable write, and a failed commit fails every transaction of its batch. A transaction that
// failed waits for that commit too: its failure may rest on the batch's uncommitted rows (a
// conflict with a row an earlier member inserted), and whatever its caller reads next must show
// them. Without concurrency a batch is one transaction: BEGIN, SAVEPOINT, work, RELEASE, COMMIT.
//
// Statements run with a context that is never cancelled: an interrupted statement would make
// SQLite roll back the whole batch, other callers' released work included.
type writer struct {
	conn  *sql.Conn
	d     dialect
	queue chan *writeReq
	stop  chan struct{} // closed by close: finish what is queued, then exit
	done  chan struct{} // closed when the goroutine has exited
	stmts map[string]*sql.Stmt

	sending sync.RWMutex // held (read) while sending to queue, (write) while closing
	closed  bool

	commits atomic.Int64 // batches committed (for tests and metrics)
	txs     atomic.Int64 // transactions committed
}

// writeReq is one transaction sent to the writer.
type writeReq struct {
	ctx      context.Context
	fn       func(*txn) error
	err      error // fn's error, or its batch's
	panicked any   // what fn panicked with, re-panicked in the caller
	done     chan struct{}
}

var errWriterClosed = errors.New("sqlite store closed")

func newWriter(ctx context.Context, db *sql.DB, d dialect) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn, d: d, queue: make(chan *writeReq, 256), stop: make(chan struct{}), done: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}}
	go w.loop()
	return w, nil
}

// run runs fn as one transaction on the writer, returning fn's error or its commit's.
func (w *writer) run(ctx context.Context, fn func(*txn) error) error {
	req := &writeReq{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan struct{})}
	w.sending.RLock()
	if w.closed {
		w.sending.RUnlock()
		return errWriterClosed
	}
	w.queue <- req
	w.sending.RUnlock()
	<-req.done
	if req.panicked != nil {
		panic(req.panicked)
	}
	return req.err
}

// loop is the writer's goroutine: it takes a transaction, opens a batch, runs every transaction
// queued meanwhile into it (up to maxBatch), commits, and answers them.
func (w *writer) loop() {
	defer close(w.done)
	ctx := context.Background()
	members := make([]*writeReq, 0, maxBatch)
	failed := make([]*writeReq, 0, maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-w.queue:
		case <-w.stop:
			// Take what was queued before close, then stop: nothing is queued after it.
			select {
			case first = <-w.queue:
			default:
				return
			}
		}
		if err := w.begin(ctx); err != nil {
			first.err = fmt.Errorf("begin: %w", w.d.mapErr(err))
			close(first.done)
			continue
		}
		members, failed = members[:0], failed[:0]
		var broken error
		for req := first; req != nil; req = w.next(len(members) + len(failed)) {
			fnErr, err := w.inSavepoint(req)
			if err != nil {
				// The savepoint could not be released or rolled back: the transaction is in an
				// unknown state (SQLite rolls back the whole transaction on a full disk and some
				// I/O errors), so the batch fails. Its members did nothing wrong and nothing of
				// theirs is kept: they may try again, so for them the database was unavailable.
				req.err = errors.Join(fnErr, err)
				members = append(members, req)
				broken = errors.Join(store.ErrUnavailable, errBatchBroken, err)
				break
			}
			if fnErr != nil || req.panicked != nil {
				req.err = fnErr
				// Its work is undone, but it is answered after the commit all the same: its
				// failure may rest on what an earlier member wrote (a conflict with a row that
				// member inserted), and a caller that reads or retries next must see that row.
				failed = append(failed, req)
				continue
			}
			members = append(members, req)
		}
		w.end(ctx, members, failed, broken)
	}
}

// begin opens a batch. A transaction left open by a failure that SQLite did not roll back itself
// (a full disk or an I/O error in the middle of a commit, whose ROLLBACK failed too) would refuse
// every BEGIN from then on and wedge the writer: so a failed BEGIN rolls back and tries once more.
func (w *writer) begin(ctx context.Context) error {
	_, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		return nil
	}
	w.conn.ExecContext(ctx, "ROLLBACK") // fails harmlessly when no transaction is open
	_, err = w.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	return err
}

// next returns the next queued transaction if the batch has room, or nil to commit now.
func (w *writer) next(n int) *writeReq {
	if n >= maxBatch {
		return nil
	}
	select {
	case req := <-w.queue:
		return req
	default:
	}
	// The queue is empty: before committing, let the goroutines that are ready to run have their
	// turn, so that requests about to send their transaction join this batch instead of the next
	// commit. With nothing else to run this returns at once; under load it gathered about 20
	// transactions per commit where there had been 5, and an OTP login wrote 17% fewer bytes.
	runtime.Gosched()
	select {
	case req := <-w.queue:
		return req
	default:
		return nil
	}
}

var errBatchBroken = errors.New("sqlite write transaction broken")

// inSavepoint runs req.fn between SAVEPOINT and RELEASE, rolling its work back to the savepoint
// when it fails or panics. broken reports that the savepoint itself failed.
func (w *writer) inSavepoint(req *writeReq) (fnErr, broken error) {
	if _, err := w.exec(req.ctx, "SAVEPOINT tx"); err != nil {
		return nil, err
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				req.panicked = p
				fnErr = fmt.Errorf("transaction panicked: %v", p)
			}
		}()
		fnErr = req.fn(&txn{q: w.conn, d: w.d, prep: w.prepare, detached: true})
	}()
	if fnErr != nil {
		if _, err := w.exec(req.ctx, "ROLLBACK TO tx"); err != nil {
			return fnErr, err
		}
	}
	if _, err := w.exec(req.ctx, "RELEASE tx"); err != nil {
		return fnErr, err
	}
	return fnErr, nil
}

// end commits the open batch (or rolls it back when cause is not nil) and answers its members.
func (w *writer) end(ctx context.Context, members, failed []*writeReq, cause error) {
	if cause == nil {
		if _, err := w.exec(ctx, "COMMIT"); err != nil {
			cause = w.d.mapErr(fmt.Errorf("commit: %w", err))
		} else {
			w.commits.Add(1)
			w.txs.Add(int64(len(members)))
		}
	}
	if cause != nil {
		w.conn.ExecContext(ctx, "ROLLBACK") // may fail if SQLite already rolled back; nothing more to do
	}
	for _, req := range append(members, failed...) {
		if cause != nil {
			req.err = errors.Join(req.err, cause)
		}
		close(req.done)
	}
}

// exec runs a control statement (SAVEPOINT, RELEASE, COMMIT) through the statement cache.
func (w *writer) exec(ctx context.Context, q string) (sql.Result, error) {
	st, err := w.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx)
}

// prepare returns the writer connection's prepared statement for q. Only the writer's goroutine
// calls it.
func (w *writer) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// WriteBatches reports, on SQLite, how many commits the writer made and how many write
// transactions they carried; zeros on PostgreSQL.
func (db *DB) WriteBatches() (commits, transactions int64) {
	if db.wr == nil {
		return 0, 0
	}
	return db.wr.commits.Load(), db.wr.txs.Load()
}

// close runs what is queued, stops the goroutine and releases the connection. Transactions
// sent afterwards fail with errWriterClosed.
func (w *writer) close() error {
	w.sending.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop) // nothing is sent after this, so the loop can drain the queue and stop
	}
	w.sending.Unlock()
	<-w.done
	for _, st := range w.stmts {
		st.Close()
	}
	return w.conn.Close()
}
