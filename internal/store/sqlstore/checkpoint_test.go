package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackgroundCheckpoint: committed writes reach the database file without another write and
// without the writer checkpointing (its threshold is the backstop, far above what is written
// here): the checkpointer copies them on its own connection.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	var backstop int64
	if err := db.tx(ctx, func(tx *txn) error {
		return tx.queryRow(ctx, "PRAGMA wal_autocheckpoint").Scan(&backstop)
	}); err != nil {
		t.Fatal(err)
	}
	if backstop != walBackstopPages {
		t.Fatalf("the writer's wal_autocheckpoint is %d, want the backstop %d", backstop, walBackstopPages)
	}

	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// settle waits until the file has not changed for a few checkpoint periods.
	settle := func() int64 {
		last, since := size(), time.Now()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(checkpointEvery / 2) {
			if s := size(); s != last {
				last, since = s, time.Now()
			} else if time.Since(since) > 4*checkpointEvery {
				return s
			}
		}
		t.Fatal("the database file kept changing")
		return 0
	}
	before := settle()
	passes := db.ckpt.passes.Load()

	const rows = 200 // about 600 KB: 150 pages, well under the backstop
	for i := range rows {
		if err := insertBig(ctx, db, fmt.Sprintf("ckpt-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	after := settle()
	if grew := after - before; grew < rows*3000 {
		t.Fatalf("the database file grew by %d bytes after %d rows of 3,000 bytes: the writes were not checkpointed", grew, rows)
	}
	if db.ckpt.passes.Load() == passes {
		t.Fatal("the checkpointer did not run")
	}
	if n := db.ckpt.errs.Load(); n > 0 {
		t.Fatalf("%d checkpoints failed", n)
	}
}
