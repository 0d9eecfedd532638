package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openSQLiteForTest opens a fresh SQLite store in a temp dir.
func openSQLiteForTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "latch.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func insertOutbox(ctx context.Context, t *txn, id string) error {
	_, err := t.exec(ctx, `INSERT INTO outbox (id, channel, recipient, subject, text_body, html_body, created_at) VALUES (?, 'email', 'a@example.com', '', '', '', 1)`, id)
	return err
}

// outboxIDs reads through the reader pool, so it sees only committed rows.
func outboxIDs(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	rows, err := db.query(context.Background(), `SELECT id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

// holdWriter runs a transaction that waits until release is closed, and returns once the writer
// is inside it, so transactions sent meanwhile queue up for one batch.
func holdWriter(t *testing.T, db *DB) (release chan struct{}, finished chan error) {
	t.Helper()
	release, finished, inside := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		finished <- db.tx(context.Background(), func(tx *txn) error {
			close(inside)
			<-release
			return insertOutbox(context.Background(), tx, "holder")
		})
	}()
	<-inside
	return release, finished
}

// waitQueued waits until n transactions are queued behind the writer.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.wr.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d transactions queued", len(db.wr.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterGroupCommitSharesOneCommit(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	c0, t0 := db.WriteBatches()
	release, finished := holdWriter(t, db)

	// 20 transactions queue behind the held one: 15 succeed, 5 fail after writing.
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.tx(ctx, func(tx *txn) error {
				if err := insertOutbox(ctx, tx, fmt.Sprint("m", i)); err != nil {
					return err
				}
				if i%4 == 0 {
					return fmt.Errorf("refused %d", i)
				}
				return nil
			})
		}()
	}
	waitQueued(t, db, n)
	close(release)
	wg.Wait()
	if err := <-finished; err != nil {
		t.Fatal(err)
	}

	ids := outboxIDs(t, db)
	for i := range n {
		id := fmt.Sprint("m", i)
		if i%4 == 0 {
			if errs[i] == nil || errs[i].Error() != fmt.Sprint("refused ", i) {
				t.Errorf("tx %d: err %v, want its own error", i, errs[i])
			}
			if ids[id] {
				t.Errorf("tx %d failed but its row was committed", i)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("tx %d: %v", i, errs[i])
		}
		if !ids[id] {
			t.Errorf("tx %d succeeded but its row is not visible to readers", i)
		}
	}
	if !ids["holder"] {
		t.Error("the held transaction's row is missing")
	}
	c1, t1 := db.WriteBatches()
	// The held transaction committed alone or with the queue; the 15 queued successes shared one
	// commit (maxBatch is above 16).
	if commits, txs := c1-c0, t1-t0; txs != 16 || commits > 2 {
		t.Errorf("%d transactions in %d commits, want 16 in at most 2", txs, commits)
	}
}

func TestWriterBatchIsBounded(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	c0, _ := db.WriteBatches()
	release, finished := holdWriter(t, db)
	n := maxBatch*2 + 3
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.tx(ctx, func(tx *txn) error { return insertOutbox(ctx, tx, fmt.Sprint("b", i)) }); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(t, db, n)
	close(release)
	wg.Wait()
	<-finished
	c1, _ := db.WriteBatches()
	// 1 + n transactions, at most maxBatch per commit.
	if got, least := c1-c0, int64((1+n+maxBatch-1)/maxBatch); got < least {
		t.Errorf("%d commits for %d transactions, want at least %d (maxBatch %d)", got, 1+n, least, maxBatch)
	}
	if got := len(outboxIDs(t, db)); got != n+1 {
		t.Errorf("%d rows, want %d", got, n+1)
	}
}

func TestWriterPanicIsTheCallersAlone(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	release, finished := holdWriter(t, db)
	var wg sync.WaitGroup
	var recovered any
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer func() { recovered = recover() }()
		db.tx(ctx, func(tx *txn) error {
			insertOutbox(ctx, tx, "panicker")
			panic("boom")
		})
	}()
	waitQueued(t, db, 1)
	var okErr error
	go func() {
		defer wg.Done()
		okErr = db.tx(ctx, func(tx *txn) error { return insertOutbox(ctx, tx, "after") })
	}()
	waitQueued(t, db, 2)
	close(release)
	wg.Wait()
	<-finished
	if recovered != "boom" {
		t.Errorf("caller recovered %v, want the transaction's panic", recovered)
	}
	if okErr != nil {
		t.Errorf("the transaction batched with a panic failed: %v", okErr)
	}
	ids := outboxIDs(t, db)
	if ids["panicker"] || !ids["after"] || !ids["holder"] {
		t.Errorf("rows %v: want holder and after, not panicker", ids)
	}
	// The writer still works.
	if err := db.tx(ctx, func(tx *txn) error { return insertOutbox(ctx, tx, "later") }); err != nil {
		t.Fatal(err)
	}
}

func TestWriterCloseRunsWhatIsQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release, finished := holdWriter(t, db)
	queued := make(chan error, 1)
	go func() { queued <- db.tx(ctx, func(tx *txn) error { return insertOutbox(ctx, tx, "queued") }) }()
	waitQueued(t, db, 1)
	closed := make(chan error, 1)
	go func() { closed <- db.wr.close() }()
	// close waits for the queue; a transaction sent after it started is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.wr.sending.RLock()
		c := db.wr.closed
		db.wr.sending.RUnlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if err := db.tx(ctx, func(tx *txn) error { return nil }); !errors.Is(err, errWriterClosed) {
		t.Errorf("tx after close: %v, want errWriterClosed", err)
	}
	close(release)
	if err := <-finished; err != nil {
		t.Errorf("held tx: %v", err)
	}
	if err := <-queued; err != nil {
		t.Errorf("queued tx: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
	db.wr = nil // closed already; close the pools
	db.Close()

	// Both committed: the store opened again on the same file has them.
	db2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if ids := outboxIDs(t, db2); !ids["holder"] || !ids["queued"] {
		t.Errorf("rows after reopening: %v, want holder and queued", ids)
	}
}

// TestWriterIgnoresCallersCancellation: a transaction's statements run to the end although its
// caller's context ends meanwhile (a client that went away), and the transactions that share its
// batch commit. With the caller's context, the driver would interrupt the shared connection,
// which rolls back the whole batch; here the cancelled statement would fail at once.
func TestWriterIgnoresCallersCancellation(t *testing.T) {
	db := openSQLiteForTest(t)
	release, finished := holdWriter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	gone, mate := make(chan error, 1), make(chan error, 1)
	go func() {
		gone <- db.tx(ctx, func(tx *txn) error {
			if err := insertOutbox(ctx, tx, "gone-1"); err != nil {
				return err
			}
			cancel() // the caller goes away between two statements
			return insertOutbox(ctx, tx, "gone-2")
		})
	}()
	go func() {
		mate <- db.tx(context.Background(), func(tx *txn) error { return insertOutbox(context.Background(), tx, "mate") })
	}()
	waitQueued(t, db, 2)
	close(release)
	for name, ch := range map[string]chan error{"held": finished, "cancelled caller": gone, "batch mate": mate} {
		if err := <-ch; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if ids := outboxIDs(t, db); !ids["gone-1"] || !ids["gone-2"] || !ids["mate"] || !ids["holder"] {
		t.Errorf("committed rows %v, want holder, gone-1, gone-2 and mate", ids)
	}
}

// TestWriterFailedTransactionWaitsForTheCommit: a transaction that fails in a batch is answered
// after the batch commits, like the others. Its failure may rest on a row an earlier member of the
// batch wrote (here a conflict with one); a caller that then reads or retries, through a reader
// connection, must see that row. Answered before the commit, a concurrent signup that lost the
// race looked its user up, did not find it, and answered 404.
func TestWriterFailedTransactionWaitsForTheCommit(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	release, finished := holdWriter(t, db) // inserts "holder" once released
	conflicting := make(chan error, 1)
	go func() {
		conflicting <- db.tx(ctx, func(tx *txn) error { return insertOutbox(ctx, tx, "holder") })
	}()
	waitQueued(t, db, 1)
	gate, last := make(chan struct{}), make(chan error, 1)
	go func() {
		last <- db.tx(ctx, func(tx *txn) error { <-gate; return insertOutbox(ctx, tx, "last") })
	}()
	waitQueued(t, db, 2)
	close(release)
	// The conflicting insert fails inside the batch while the last member keeps it open.
	select {
	case err := <-conflicting:
		ids := outboxIDs(t, db)
		close(gate)
		t.Fatalf("the failed transaction was answered before its batch committed (err %v, committed rows %v)", err, ids)
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	if err := <-conflicting; err == nil {
		t.Fatal("a second insert of the same id succeeded")
	}
	if ids := outboxIDs(t, db); !ids["holder"] || !ids["last"] {
		t.Errorf("after the failed transaction returned, readers see %v; want holder and last", ids)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if err := <-last; err != nil {
		t.Fatal(err)
	}
}
