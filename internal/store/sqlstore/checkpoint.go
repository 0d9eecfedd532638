package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite in WAL mode copies the WAL back into the database file in a checkpoint. Left to itself
// (wal_autocheckpoint) the connection whose commit crosses the threshold runs the checkpoint
// inside that commit: here that is the one writer, so every write waits while thousands of pages
// are copied and the database file is fsynced. Measured under an open-loop otp load of 750
// logins/s on SQLite, those stalls were the whole tail: p99 31–40 ms with them, 11–14 ms with
// no checkpoint at all (server side: 95% of sends under 10 ms with them, all without).
//
// So a checkpointer goroutine runs PASSIVE checkpoints on a connection of its own, often and
// therefore small: a PASSIVE checkpoint takes no lock the writer needs and copies only the
// frames no reader still needs, so the writer keeps committing while it runs. The writer's own
// autocheckpoint stays as a backstop (walBackstopPages): when the writer never pauses long enough
// for SQLite to restart the WAL after a background checkpoint, the writer's own catches up the
// last frames, few by then.

const (
	// checkpointEvery is how often the checkpointer runs. A run with nothing to copy costs a
	// read of the WAL index.
	checkpointEvery = 100 * time.Millisecond
	// walBackstopPages is the writer's wal_autocheckpoint: 4,000 pages of 4 KiB, a 16 MiB WAL
	// (16,000 measured the same, with a WAL file four times the size).
	walBackstopPages = 4000
)

// checkpointer runs the background checkpoints of an SQLite database.
type checkpointer struct {
	conn *sql.DB // one connection of its own
	stop chan struct{}
	done chan struct{}

	closing sync.Once
	err     error // the connection's Close

	passes atomic.Int64 // checkpoints run
	errs   atomic.Int64 // checkpoints that failed (a full disk, an I/O error): retried next tick
}

func newCheckpointer(conn *sql.DB) *checkpointer {
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.once(context.Background())
		}
	}
}

// once runs one PASSIVE checkpoint. A failure (SQLITE_FULL while the database file grows, an I/O
// error) changes nothing that was committed — the frames stay in the WAL — and the next tick
// tries again; the writer's requests report such a disk themselves.
func (c *checkpointer) once(ctx context.Context) {
	var busy, frames, copied int64
	if err := c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		c.errs.Add(1)
		return
	}
	c.passes.Add(1)
}

// close stops the checkpointer; a second call (a second DB.Close) does nothing.
func (c *checkpointer) close() error {
	c.closing.Do(func() {
		close(c.stop)
		<-c.done
		c.err = c.conn.Close()
	})
	return c.err
}

// Checkpoints reports, on SQLite, how many background checkpoints ran and how many failed
// (a full disk, an I/O error: retried every checkpointEvery); zeros on PostgreSQL.
func (db *DB) Checkpoints() (ran, failed int64) {
	if db.ckpt == nil {
		return 0, 0
	}
	return db.ckpt.passes.Load(), db.ckpt.errs.Load()
}
