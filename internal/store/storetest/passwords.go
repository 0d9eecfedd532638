package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

func newPassword(userID, hash string, at time.Time) store.PasswordCredential {
	return store.PasswordCredential{UserID: userID, Hash: hash, Temporary: true, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
}

// testPasswords: a user created with a password is read back with it by every column, with the
// failure state of its key; a create whose identifier is taken writes neither; add, replace and
// set refuse what their mode forbids; deleting the user deletes the password.
func testPasswords(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	u := newUser(tn, "u1", "", "", "", t0)
	u.Username = "mina"
	c := newPassword("u1", "$argon2id$one", t0)
	if err := s.CreateUserWithPassword(ctx, u, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPassword(ctx, "u1"); err != nil || got != c {
		t.Fatalf("GetPassword = %+v, %v\nwant %+v", got, err, c)
	}
	if _, err := s.RecordFailure(ctx, "app1", "password", "user:u1", t0, store.FailurePolicy{Max: 5, Window: time.Minute, LockFor: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, by := range []struct {
		col   store.UserBy
		value string
	}{{store.UserByUsername, "mina"}, {store.UserByID, "u1"}} {
		gu, gc, l, err := s.UserPassword(ctx, by.col, by.value, "app1", "password", "user:")
		if err != nil || gu.ID != "u1" || gc != c || l.Failures != 1 {
			t.Fatalf("UserPassword by %s = %+v %+v %+v %v", by.col, gu, gc, l, err)
		}
	}
	if _, _, _, err := s.UserPassword(ctx, store.UserByUsername, "nobody", "app1", "password", "user:"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	// A user without a password: found, with a zero credential.
	if err := s.CreateUser(ctx, newUser(tn, "u2", "u2@example.com", "", "", t0)); err != nil {
		t.Fatal(err)
	}
	if gu, gc, l, err := s.UserPassword(ctx, store.UserByEmail, "u2@example.com", "app1", "password", "user:"); err != nil || gu.ID != "u2" || gc != (store.PasswordCredential{}) || l.Failures != 0 {
		t.Fatalf("user without password = %+v %+v %+v %v", gu, gc, l, err)
	}
	if _, err := s.GetPassword(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPassword without one: %v", err)
	}
	// Taken username: neither the user nor the password is written.
	dup := newUser(tn, "u3", "", "", "", t0)
	dup.Username = "mina"
	if err := s.CreateUserWithPassword(ctx, dup, newPassword("u3", "h", t0)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username: %v", err)
	}
	if _, err := s.GetUser(ctx, "u3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user of a refused create: %v", err)
	}
	if _, err := s.GetPassword(ctx, "u3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("password of a refused create: %v", err)
	}
	later := t0.Add(time.Hour)
	two := store.PasswordCredential{UserID: "u1", Hash: "$argon2id$two", CreatedAt: later, UpdatedAt: later}
	if err := s.SavePassword(ctx, two, store.PasswordWrite{Mode: store.PasswordAdd}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("add over an existing password: %v", err)
	}
	if err := s.SavePassword(ctx, store.PasswordCredential{UserID: "u2", Hash: "x", CreatedAt: later, UpdatedAt: later}, store.PasswordWrite{Mode: store.PasswordReplace}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace a missing password: %v", err)
	}
	if err := s.SavePassword(ctx, two, store.PasswordWrite{Mode: store.PasswordReplace}); err != nil {
		t.Fatal(err)
	}
	want := two
	want.CreatedAt = t0 // a replace keeps the creation time
	if got, _ := s.GetPassword(ctx, "u1"); got != want {
		t.Fatalf("after replace = %+v\nwant %+v", got, want)
	}
	three := store.PasswordCredential{UserID: "u2", Hash: "$argon2id$three", CreatedAt: later, UpdatedAt: later}
	if err := s.SavePassword(ctx, three, store.PasswordWrite{Mode: store.PasswordSet}); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePassword(ctx, three, store.PasswordWrite{Mode: store.PasswordAdd}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second add: %v", err)
	}
	// A username set with the password: a taken one refuses the whole write.
	four := store.PasswordCredential{UserID: "u2", Hash: "$argon2id$four", CreatedAt: later, UpdatedAt: later}
	if err := s.SavePassword(ctx, four, store.PasswordWrite{Mode: store.PasswordSet, Username: "mina"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("taken username: %v", err)
	}
	if got, _ := s.GetPassword(ctx, "u2"); got.Hash != three.Hash {
		t.Fatalf("a refused write changed the password: %+v", got)
	}
	if err := s.SavePassword(ctx, four, store.PasswordWrite{Mode: store.PasswordSet, Username: "lucy"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "u2"); u.Username != "lucy" || !u.UpdatedAt.Equal(later) {
		t.Fatalf("username not set: %+v", u)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPassword(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("password of a deleted user: %v", err)
	}
}

// testPasswordReset: a reset uses its token up, writes the password and ends the user's sessions
// in one transaction; of 20 concurrent resets with one token exactly one succeeds, and a refused
// one writes nothing.
func testPasswordReset(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	u := newUser(tn, "u1", "u1@example.com", "", "", t0)
	if err := s.CreateUserWithPassword(ctx, u, newPassword("u1", "$argon2id$old", t0)); err != nil {
		t.Fatal(err)
	}
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, store.RefreshToken{})
	tok := newCode("reset1", "hreset", t0)
	tok.Method, tok.Channel = "password_reset", "redirect"
	mustIssue(t, s, tok, noLimit)
	now := t0.Add(time.Minute)
	r := concurrently(20, is(store.ErrUsed), func(i int) error {
		c := store.PasswordCredential{UserID: "u1", Hash: "$argon2id$new" + string(rune('a'+i)), CreatedAt: now, UpdatedAt: now}
		return s.SavePassword(ctx, c, store.PasswordWrite{Mode: store.PasswordReplace, EndSessions: now}, store.UseCode{ID: "reset1"})
	})
	if r.ok != 1 || r.refused != 19 || len(r.other) > 0 {
		t.Fatalf("%d wins, %d refused, errors %v; want exactly one win", r.ok, r.refused, r.other)
	}
	got, _ := s.GetPassword(ctx, "u1")
	if got.Hash == "$argon2id$old" || got.Temporary || !got.UpdatedAt.Equal(now) {
		t.Fatalf("after the reset: %+v", got)
	}
	if live, _ := s.SessionLive(ctx, "s1", now); live {
		t.Fatal("the reset did not end the user's session")
	}
	// A used token refuses, and its refusal writes nothing.
	c := store.PasswordCredential{UserID: "u1", Hash: "$argon2id$late", CreatedAt: now, UpdatedAt: now}
	if err := s.SavePassword(ctx, c, store.PasswordWrite{Mode: store.PasswordReplace, EndSessions: now}, store.UseCode{ID: "reset1"}); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("used token: %v", err)
	}
	if again, _ := s.GetPassword(ctx, "u1"); again != got {
		t.Fatalf("a refused reset wrote %+v", again)
	}
	// Rehash in a login: applied when the hash is still the one read, ignored otherwise.
	sess := newSession("s2", "u1", now)
	if err := s.SaveLogin(ctx, sess, true, store.RefreshToken{}, now, store.UsePasswordRehash{UserID: "u1", Old: got.Hash, New: "$argon2id$rehashed"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.GetPassword(ctx, "u1"); p.Hash != "$argon2id$rehashed" || !p.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("after rehash: %+v", p)
	}
	sess3 := newSession("s3", "u1", now)
	if err := s.SaveLogin(ctx, sess3, true, store.RefreshToken{}, now, store.UsePasswordRehash{UserID: "u1", Old: "$argon2id$stale", New: "$argon2id$lost"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.GetPassword(ctx, "u1"); p.Hash != "$argon2id$rehashed" {
		t.Fatalf("a rehash of a changed password applied: %+v", p)
	}
}
