package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// testSSO: a browser session is created, refreshed (only while live and for its own user),
// lists the app sessions signed in through it, and ending it ends them.
func testSSO(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, store.RefreshToken{})
	mustSaveLogin(t, s, newSession("s2", "u1", t0), true, store.RefreshToken{})
	mustSaveLogin(t, s, newSession("s3", "u1", t0), true, store.RefreshToken{})
	b := store.SSOSession{ID: "b1", UserID: "u1", AMR: []string{"eotp"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.SaveSSO(ctx, b, "s1"); err != nil {
		t.Fatal(err)
	}
	b.AMR, b.AuthTime, b.ExpiresAt = []string{"eotp", "totp", "mfa"}, t0.Add(time.Minute), t0.Add(2*time.Hour)
	if err := s.SaveSSO(ctx, b, "s2"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSSO(ctx, "b1")
	if err != nil || got.UserID != "u1" || !slices.Equal(got.AMR, b.AMR) || !got.AuthTime.Equal(b.AuthTime) ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(b.ExpiresAt) || !got.EndedAt.IsZero() {
		t.Fatalf("GetSSO = %+v, %v", got, err)
	}
	if _, err := s.GetSSO(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	// Another user cannot take the row over.
	if err := s.SaveSSO(ctx, store.SSOSession{ID: "b1", UserID: "u2", AMR: []string{"sms"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's SaveSSO = %v, want ErrNotFound", err)
	}
	end := t0.Add(3 * time.Minute)
	if err := s.EndSSO(ctx, "b1", end, true); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"s1": false, "s2": false, "s3": true} {
		if live, err := s.SessionLive(ctx, id, end); err != nil || live != want {
			t.Errorf("session %s live = %v (%v), want %v", id, live, err, want)
		}
	}
	if got, _ := s.GetSSO(ctx, "b1"); !got.EndedAt.Equal(end) {
		t.Fatalf("ended_at = %v", got.EndedAt)
	}
	// An ended browser session is not refreshed.
	if err := s.SaveSSO(ctx, b, "s3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SaveSSO of an ended session = %v", err)
	}
	// Ending without sessions leaves them live.
	b2 := store.SSOSession{ID: "b2", UserID: "u1", AMR: []string{"sms"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.SaveSSO(ctx, b2, "s3"); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSSO(ctx, "b2", end, false); err != nil {
		t.Fatal(err)
	}
	if live, _ := s.SessionLive(ctx, "s3", end); !live {
		t.Fatal("EndSSO without sessions ended one")
	}
	// Grants.
	if _, err := s.GetGrant(ctx, "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no grant: %v", err)
	}
	for _, scope := range []string{"openid", "openid email"} {
		if err := s.SaveGrant(ctx, "u1", "c1", scope, t0); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetGrant(ctx, "u1", "c1"); err != nil || got != scope {
			t.Fatalf("GetGrant = %q, %v; want %q", got, err, scope)
		}
	}
	// Deleting the user deletes its browser sessions and grants.
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSSO(ctx, "b2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("browser session of a deleted user: %v", err)
	}
	if _, err := s.GetGrant(ctx, "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("grant of a deleted user: %v", err)
	}
}
