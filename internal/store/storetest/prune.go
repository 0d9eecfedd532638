package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// testPrune: Prune deletes what expired more than the grace period ago and keeps everything else.
func testPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("old", "u1", t0), true, newRefresh("r-old", "old", t0))
	later := t0.Add(20 * 24 * time.Hour) // the old session and its refresh token expired 6 days ago
	mustSaveLogin(t, s, newSession("live", "u2", later), true, newRefresh("r-live", "live", later))
	mustIssue(t, s, newCode("c-old", "h-old", t0), noLimit)
	fresh := newCode("c-new", "h-new", later)
	fresh.Identifier = "user:u2"
	mustIssue(t, s, fresh, noLimit)
	for _, m := range []store.OutboxMessage{
		{ID: "m-old", Channel: "email", To: "a@x.io", CreatedAt: t0},
		{ID: "m-new", Channel: "email", To: "a@x.io", CreatedAt: later},
	} {
		if err := s.AddOutboxMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx, later, 24*time.Hour, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 { // a session, a refresh token, a code, a message
		t.Fatalf("pruned %d rows, want at least 4", n)
	}
	if _, err := s.GetSession(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session kept: %v", err)
	}
	if _, err := s.GetSession(ctx, "live"); err != nil {
		t.Fatalf("live session pruned: %v", err)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h-old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired code kept: %v", err)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h-new"); err != nil {
		t.Fatalf("live code pruned: %v", err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r-live", newRefresh("r-live-2", "", later), later); err != nil {
		t.Fatalf("live refresh token pruned: %v", err)
	}
	msgs, _ := s.ListOutbox(ctx, "", 10)
	if len(msgs) != 1 || msgs[0].ID != "m-new" {
		t.Fatalf("outbox after prune: %+v", msgs)
	}
}

// testPruneBacklog: a backlog larger than one pruning chunk is pruned whole (the store deletes in
// chunks so a big backlog never holds the writer for long), lockouts included, and what is live
// stays.
func testPruneBacklog(t *testing.T, s store.Store) {
	ctx := context.Background()
	later := t0.Add(20 * 24 * time.Hour)
	const old = 2500 // more than two chunks of 1,000
	for i := range old {
		if err := s.AddOutboxMessage(ctx, store.OutboxMessage{ID: fmt.Sprint("m-old-", i), Channel: "email", To: "a@x.io", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddOutboxMessage(ctx, store.OutboxMessage{ID: "m-new", Channel: "email", To: "a@x.io", CreatedAt: later}); err != nil {
		t.Fatal(err)
	}
	p := store.FailurePolicy{Max: 5, Window: time.Hour, LockFor: time.Hour}
	for i := range 3 {
		if _, err := s.RecordFailure(ctx, "app1", "otp", fmt.Sprint("user:old", i), t0, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordFailure(ctx, "app1", "otp", "user:live", later, p); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, later, 24*time.Hour, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != old+3 {
		t.Errorf("pruned %d rows, want %d messages and 3 lockouts", n, old)
	}
	msgs, _ := s.ListOutbox(ctx, "", 10)
	if len(msgs) != 1 || msgs[0].ID != "m-new" {
		t.Errorf("outbox after prune: %d messages, first %+v", len(msgs), msgs)
	}
	for i := range 3 {
		if l, err := s.GetLockout(ctx, "app1", "otp", fmt.Sprint("user:old", i)); err != nil || l.Failures != 0 {
			t.Errorf("old lockout %d kept: %+v, %v", i, l, err)
		}
	}
	if l, err := s.GetLockout(ctx, "app1", "otp", "user:live"); err != nil || l.Failures != 1 {
		t.Errorf("live lockout: %+v, %v; want 1 failure", l, err)
	}
}
