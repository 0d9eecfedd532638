package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/latch-auth/latch/internal/store"
)

// setMaxPageCount limits the SQLite file to n pages, on the writer's connection (the limit is a
// property of the connection, and the writer is the only one that writes).
func setMaxPageCount(t *testing.T, db *DB, n int64) {
	t.Helper()
	err := db.tx(context.Background(), func(tx *txn) error {
		var got int64
		if err := tx.queryRow(context.Background(), fmt.Sprintf("PRAGMA max_page_count = %d", n)).Scan(&got); err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("max_page_count is %d, want %d", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pageCount(t *testing.T, db *DB) int64 {
	t.Helper()
	var n int64
	if err := db.queryRow(context.Background(), "PRAGMA page_count").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// insertBig inserts an outbox row with a body of a few kilobytes, so a few dozen fill a page budget.
func insertBig(ctx context.Context, db *DB, id string) error {
	return db.tx(ctx, func(tx *txn) error {
		_, err := tx.exec(ctx, `INSERT INTO outbox (id, channel, recipient, subject, text_body, html_body, created_at) VALUES (?, 'email', 'a@example.com', '', ?, '', 1)`,
			id, strings.Repeat("x", 3000))
		return err
	})
}

// TestFullDisk: a database that cannot grow (SQLITE_FULL, here from max_page_count) refuses
// writes with store.ErrUnavailable — a 503 at the HTTP edge, never a crash — while the writer
// keeps running: once there is room again it takes writes, and every write it acknowledged,
// before or after, is there; none it refused is.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	db := openSQLiteForTest(t)
	setMaxPageCount(t, db, pageCount(t, db)+8)

	var mu sync.Mutex
	acked, refused := map[string]bool{}, map[string]bool{}
	var other []error
	// 16 writers at once, so full-disk failures land inside group-commit batches beside writes
	// that fit; each stops at its first refusal after the database is full.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				err := insertBig(ctx, db, id)
				mu.Lock()
				switch {
				case err == nil:
					acked[id] = true
				case errors.Is(err, store.ErrUnavailable):
					refused[id] = true
				default:
					other = append(other, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("a full database gave errors other than store.ErrUnavailable: %v", other[0])
	}
	if len(refused) == 0 {
		t.Fatalf("no write was refused: %d writes fit in 8 pages", len(acked))
	}
	t.Logf("full: %d writes acknowledged, %d refused", len(acked), len(refused))

	// Still full: a write is refused again, not hung and not crashing the writer.
	if err := insertBig(ctx, db, "still-full"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a write to the still-full database: %v, want store.ErrUnavailable", err)
	}
	refused["still-full"] = true

	// Room again: the writer takes writes at once.
	setMaxPageCount(t, db, 1<<30)
	for i := range 50 {
		id := fmt.Sprintf("after-%d", i)
		if err := insertBig(ctx, db, id); err != nil {
			t.Fatalf("write %d after space came back: %v", i, err)
		}
		acked[id] = true
	}

	stored := outboxIDs(t, db)
	for id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged write %s is lost", id)
		}
	}
	for id := range refused {
		if stored[id] {
			t.Errorf("refused write %s was stored", id)
		}
	}
}
