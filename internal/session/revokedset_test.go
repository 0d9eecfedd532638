package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRevokedSet: the node-local copy of revoked client tokens waits for its first load (and
// fails with it), reloads at most once per revokedRefresh however many requests ask, keeps
// serving the last copy when a reload fails, and counts a local revocation at once and until a
// later load has it from the database.
func TestRevokedSet(t *testing.T) {
	ctx := context.Background()
	var r revokedSet
	var loads atomic.Int32
	var db sync.Map // the "database"
	var failing atomic.Bool
	fetch := func(context.Context) ([]string, error) {
		loads.Add(1)
		if failing.Load() {
			return nil, errors.New("database down")
		}
		var out []string
		db.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
		return out, nil
	}

	failing.Store(true)
	if _, err := r.contains(ctx, "a", fetch); err == nil {
		t.Fatal("a first load that fails must fail the check, not answer 'not revoked'")
	}
	failing.Store(false)
	db.Store("a", true)
	loads.Store(0)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if ok, err := r.contains(ctx, "a", fetch); err != nil || !ok {
				t.Errorf("a: %v %v", ok, err)
			}
			if ok, _ := r.contains(ctx, "b", fetch); ok {
				t.Error("b is not revoked")
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for 128 checks within a second, want 1", n)
	}

	// Revoked on another node: seen after the copy is a second old.
	db.Store("c", true)
	if ok, _ := r.contains(ctx, "c", fetch); ok {
		t.Fatal("the copy is fresh: c cannot be known yet (the test is too slow?)")
	}
	time.Sleep(revokedRefresh + 50*time.Millisecond)
	if ok, _ := r.contains(ctx, "c", fetch); !ok {
		t.Fatal("c not seen after a reload")
	}

	// Revoked on this node: counted at once, and kept through a reload that started before it.
	db.Store("d", true)
	r.add("d")
	if ok, _ := r.contains(ctx, "d", fetch); !ok {
		t.Fatal("a local revocation must count at once")
	}

	// A failing reload keeps the last copy.
	failing.Store(true)
	time.Sleep(revokedRefresh + 50*time.Millisecond)
	if ok, err := r.contains(ctx, "c", fetch); err != nil || !ok {
		t.Fatalf("after a failed reload: %v %v, want the last copy", ok, err)
	}
	failing.Store(false)
}
