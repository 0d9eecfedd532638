package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// totpUsers seeds the tenant and users u1, u2 (authenticators reference users).
func totpUsers(t *testing.T, s store.Store) {
	t.Helper()
	tn := seedTenant(t, s)
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUser(context.Background(), newUser(tn, id, id+"@example.com", "", "", t0)); err != nil {
			t.Fatal(err)
		}
	}
}

func newTOTP(id, appID, userID string, at time.Time, active bool) store.TOTPAuthenticator {
	a := store.TOTPAuthenticator{ID: id, AppID: appID, UserID: userID, Name: "name-" + id, DeviceID: "dev-" + id,
		Secret: "v1:sealed-" + id, Algorithm: "SHA1", Digits: 6, Period: 30, CreatedAt: at}
	if active {
		a.ActivatedAt = at
	}
	return a
}

func mustAddTOTP(t *testing.T, s store.Store, a store.TOTPAuthenticator, l store.TOTPLimit) {
	t.Helper()
	if _, err := s.AddTOTP(context.Background(), a, l); err != nil {
		t.Fatalf("AddTOTP %s: %v", a.ID, err)
	}
}

func listIDs(t *testing.T, s store.Store, appID, userID string) string {
	t.Helper()
	list, err := s.ListTOTPs(context.Background(), appID, userID)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, a := range list {
		if out != "" {
			out += ","
		}
		out += a.ID
	}
	return out
}

func testTOTPAddGetList(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	a := newTOTP("t1", "app1", "u1", t0, true)
	a.Algorithm, a.Digits, a.Period = "SHA512", 8, 60
	mustAddTOTP(t, s, a, store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t2", "app1", "u1", t0.Add(time.Second), false), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t3", "app2", "u1", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t4", "app1", "u2", t0, true), store.TOTPLimit{Max: 5})

	got, err := s.GetTOTP(ctx, "t1")
	if err != nil || got.AppID != "app1" || got.UserID != "u1" || got.Name != "name-t1" || got.DeviceID != "dev-t1" ||
		got.Secret != "v1:sealed-t1" || got.Algorithm != "SHA512" || got.Digits != 8 || got.Period != 60 ||
		got.LastStep != 0 || !got.CreatedAt.Equal(t0) || !got.ActivatedAt.Equal(t0) || !got.LastUsedAt.IsZero() ||
		!got.RevokedAt.IsZero() || !got.Active() {
		t.Fatalf("GetTOTP: %+v %v", got, err)
	}
	pending, err := s.GetTOTP(ctx, "t2")
	if err != nil || pending.Active() || !pending.ActivatedAt.IsZero() {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	if _, err := s.GetTOTP(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if ids := listIDs(t, s, "app1", "u1"); ids != "t1,t2" {
		t.Fatalf("list app1/u1 = %s, want t1,t2 (oldest first, pending included, scoped to app and user)", ids)
	}
	if ids := listIDs(t, s, "app9", "u1"); ids != "" {
		t.Fatalf("list of another app = %s", ids)
	}
	if _, err := s.AddTOTP(ctx, newTOTP("t1", "app1", "u1", t0, true), store.TOTPLimit{Max: 5}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
}

func testTOTPLimitAndReplace(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	one := store.TOTPLimit{Max: 1}
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), one)
	if _, err := s.AddTOTP(ctx, newTOTP("b", "app1", "u1", t0.Add(time.Second), true), one); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("second active at max 1: %v", err)
	}
	if _, err := s.GetTOTP(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused authenticator was written: %v", err)
	}
	// A pending device is refused at the limit too (activation would be).
	if _, err := s.AddTOTP(ctx, newTOTP("p", "app1", "u1", t0, false), one); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("pending at max: %v", err)
	}
	// Another user and another app have their own limits.
	mustAddTOTP(t, s, newTOTP("c", "app1", "u2", t0, true), one)
	mustAddTOTP(t, s, newTOTP("d", "app2", "u1", t0, true), one)

	replaceAt := t0.Add(time.Minute)
	n, err := s.AddTOTP(ctx, newTOTP("e", "app1", "u1", replaceAt, true), store.TOTPLimit{Max: 1, Replace: true})
	if err != nil || n != 1 {
		t.Fatalf("replace: %d %v", n, err)
	}
	old, _ := s.GetTOTP(ctx, "a")
	if old.Active() || !old.RevokedAt.Equal(replaceAt) {
		t.Fatalf("replaced authenticator not revoked: %+v", old)
	}
	if ids := listIDs(t, s, "app1", "u1"); ids != "e" {
		t.Fatalf("after replace: %s", ids)
	}
	if ids := listIDs(t, s, "app1", "u2") + "|" + listIDs(t, s, "app2", "u1"); ids != "c|d" {
		t.Fatalf("replace touched other users or apps: %s", ids)
	}

	// Pending ones do not count toward the limit; expired pending ones are pruned on add.
	many := store.TOTPLimit{Max: 2, PendingSince: t0.Add(30 * time.Minute)}
	mustAddTOTP(t, s, newTOTP("old-pending", "app1", "u2", t0, false), store.TOTPLimit{Max: 2})
	mustAddTOTP(t, s, newTOTP("p1", "app1", "u2", t0.Add(40*time.Minute), false), many)
	mustAddTOTP(t, s, newTOTP("p2", "app1", "u2", t0.Add(41*time.Minute), false), many)
	mustAddTOTP(t, s, newTOTP("f", "app1", "u2", t0.Add(42*time.Minute), true), many)
	if _, err := s.GetTOTP(ctx, "old-pending"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired pending authenticator not pruned: %v", err)
	}
	if _, err := s.AddTOTP(ctx, newTOTP("g", "app1", "u2", t0.Add(43*time.Minute), true), many); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("third active at max 2: %v", err)
	}
	if ids := listIDs(t, s, "app1", "u2"); ids != "c,p1,p2,f" {
		t.Fatalf("u2: %s", ids)
	}
}

// sessionSeq names the sessions of acceptStep's logins.
var sessionSeq atomic.Int64

// acceptStep is a TOTP login of authenticator id's user u1 that uses step (and the challenge,
// when not ""): SaveLogin with those uses and a new session.
func acceptStep(ctx context.Context, s store.Store, id string, step int64, at time.Time, challenge string) error {
	uses := []store.Use{store.UseTOTPStep{AuthenticatorID: id, Step: step}}
	if challenge != "" {
		uses = append([]store.Use{store.UseChallenge{ID: challenge}}, uses...)
	}
	sid := fmt.Sprint("totp-login-", sessionSeq.Add(1))
	return s.SaveLogin(ctx, newSession(sid, "u1", at), true, store.RefreshToken{}, at, uses...)
}

func testTOTPAcceptStep(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("p", "app1", "u1", t0, false), store.TOTPLimit{Max: 5})
	at := t0.Add(time.Hour)
	if err := acceptStep(ctx, s, "a", 100, at, ""); err != nil {
		t.Fatalf("first use of step 100: %v", err)
	}
	got, _ := s.GetTOTP(ctx, "a")
	if got.LastStep != 100 || !got.LastUsedAt.Equal(at) {
		t.Fatalf("after accept: %+v", got)
	}
	for _, step := range []int64{100, 99, 1} {
		if err := acceptStep(ctx, s, "a", step, at, ""); !errors.Is(err, store.ErrUsed) {
			t.Fatalf("step %d after 100: %v, want ErrUsed", step, err)
		}
	}
	if err := acceptStep(ctx, s, "a", 101, at, ""); err != nil {
		t.Fatalf("step 101: %v", err)
	}
	if err := acceptStep(ctx, s, "p", 500, at, ""); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("pending authenticator accepted a step: %v", err)
	}
	if err := acceptStep(ctx, s, "nope", 500, at, ""); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("unknown authenticator: %v", err)
	}
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "a", at, time.Time{}); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if err := acceptStep(ctx, s, "a", 200, at, ""); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("revoked authenticator accepted a step: %v", err)
	}
}

// testTOTPAcceptStepConcurrent: of 20 concurrent requests with one step exactly one wins.
func testTOTPAcceptStepConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), store.TOTPLimit{Max: 5})
	for round, step := range []int64{1000, 1001, 1003} {
		r := concurrently(20, is(store.ErrUsed), func(int) error { return acceptStep(ctx, s, "a", step, t0, "") })
		if r.ok != 1 || r.refused != 19 || len(r.other) > 0 {
			t.Fatalf("round %d: %d wins, %d refused, errors %v; want exactly one win", round, r.ok, r.refused, r.other)
		}
	}
}

func testTOTPActivate(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	live := store.TOTPLimit{Max: 1, PendingSince: t0}
	mustAddTOTP(t, s, newTOTP("p1", "app1", "u1", t0.Add(time.Minute), false), live)
	mustAddTOTP(t, s, newTOTP("p2", "app1", "u1", t0.Add(2*time.Minute), false), live)
	mustAddTOTP(t, s, newTOTP("old", "app1", "u2", t0.Add(-time.Minute), false), store.TOTPLimit{Max: 1})
	now := t0.Add(5 * time.Minute)
	if err := s.ActivateTOTP(ctx, "p1", 77, now, live); err != nil {
		t.Fatalf("activate: %v", err)
	}
	got, _ := s.GetTOTP(ctx, "p1")
	if !got.Active() || !got.ActivatedAt.Equal(now) || got.LastStep != 77 || !got.LastUsedAt.Equal(now) {
		t.Fatalf("activated: %+v", got)
	}
	// The activation code's step cannot log in again.
	if err := acceptStep(ctx, s, "p1", 77, now, ""); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("activation step reused: %v", err)
	}
	if err := s.ActivateTOTP(ctx, "p1", 78, now, live); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second activation: %v", err)
	}
	if err := s.ActivateTOTP(ctx, "p2", 78, now, live); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("activation at the limit: %v", err)
	}
	if got, _ := s.GetTOTP(ctx, "p2"); got.Active() {
		t.Fatal("refused activation was written")
	}
	if err := s.ActivateTOTP(ctx, "p2", 78, now, store.TOTPLimit{Max: 2, PendingSince: t0}); err != nil {
		t.Fatalf("activation under a higher limit: %v", err)
	}
	if err := s.ActivateTOTP(ctx, "old", 78, now, live); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired pending activated: %v", err)
	}
	if err := s.ActivateTOTP(ctx, "missing", 78, now, live); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func testTOTPRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	many := store.TOTPLimit{Max: 10}
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), many)
	mustAddTOTP(t, s, newTOTP("b", "app1", "u1", t0, true), many)
	mustAddTOTP(t, s, newTOTP("p", "app1", "u1", t0.Add(time.Hour), false), many)
	mustAddTOTP(t, s, newTOTP("expired", "app1", "u1", t0, false), many)
	mustAddTOTP(t, s, newTOTP("c", "app1", "u2", t0, true), many)
	mustAddTOTP(t, s, newTOTP("d", "app2", "u1", t0, true), many)
	now, pendingSince := t0.Add(2*time.Hour), t0.Add(30*time.Minute)

	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "c", now, pendingSince); err != nil || n != 0 {
		t.Fatalf("revoke another user's authenticator by id: %d %v", n, err)
	}
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "a", now, pendingSince); err != nil || n != 1 {
		t.Fatalf("revoke by id: %d %v", n, err)
	}
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "a", now, pendingSince); err != nil || n != 0 {
		t.Fatalf("revoke twice: %d %v", n, err)
	}
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "", now, pendingSince); err != nil || n != 2 {
		t.Fatalf("revoke all = %d %v; want 2 (b and the live pending p, not the expired one)", n, err)
	}
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "", now, pendingSince); err != nil || n != 0 {
		t.Fatalf("revoke all again: %d %v", n, err)
	}
	if got, _ := s.GetTOTP(ctx, "b"); !got.RevokedAt.Equal(now) {
		t.Fatalf("revoked_at: %+v", got)
	}
	if ids := listIDs(t, s, "app1", "u1"); ids != "expired" {
		t.Fatalf("left after revoke: %s", ids)
	}
	if ids := listIDs(t, s, "app1", "u2") + "|" + listIDs(t, s, "app2", "u1"); ids != "c|d" {
		t.Fatalf("revoke touched others: %s", ids)
	}
}

func testTOTPChallenges(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), store.TOTPLimit{Max: 5})
	ch := func(id, hash string, at time.Time) store.TOTPChallenge {
		return store.TOTPChallenge{ID: id, AppID: "app1", UserID: "u1", ChallengeHash: hash,
			ApprovalData: []byte(fmt.Sprintf(`{"tx":%q}`, id)), CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
	}
	for _, c := range []store.TOTPChallenge{ch("c1", "h1", t0), ch("c2", "h2", t0.Add(time.Minute))} {
		if err := s.AddTOTPChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(2 * time.Minute)
	newest, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "", now)
	if err != nil || newest.ID != "c2" || string(newest.ApprovalData) != `{"tx":"c2"}` || !newest.ExpiresAt.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("newest: %+v %v", newest, err)
	}
	if byHash, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "h1", now); err != nil || byHash.ID != "c1" {
		t.Fatalf("by hash: %+v %v", byHash, err)
	}
	for _, q := range []struct{ app, user, hash string }{{"app1", "u1", "h9"}, {"app1", "u2", ""}, {"app2", "u1", "h1"}} {
		if _, err := s.LiveTOTPChallenge(ctx, q.app, q.user, q.hash, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%+v: %v", q, err)
		}
	}
	// c1 expires at t0+5m.
	if _, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "h1", t0.Add(5*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired challenge is live: %v", err)
	}

	// Step and challenge together.
	if err := acceptStep(ctx, s, "a", 10, now, "c2"); err != nil {
		t.Fatalf("accept with challenge: %v", err)
	}
	if _, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "h2", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consumed challenge is live: %v", err)
	}
	// A consumed challenge refuses, and the step is not recorded (one transaction).
	if err := acceptStep(ctx, s, "a", 11, now, "c2"); !errors.Is(err, store.ErrChallengeGone) {
		t.Fatalf("consumed challenge: %v", err)
	}
	if got, _ := s.GetTOTP(ctx, "a"); got.LastStep != 10 {
		t.Fatalf("step recorded although the challenge was gone: %d", got.LastStep)
	}
	// A replayed step refuses, and the challenge is not consumed.
	if err := acceptStep(ctx, s, "a", 10, now, "c1"); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("replayed step with challenge: %v", err)
	}
	if _, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "h1", now); err != nil {
		t.Fatalf("challenge consumed by a refused step: %v", err)
	}
	if err := acceptStep(ctx, s, "a", 12, t0.Add(10*time.Minute), "c1"); !errors.Is(err, store.ErrChallengeGone) {
		t.Fatalf("expired challenge consumed: %v", err)
	}

	// Concurrent consumers of one challenge with different steps: exactly one wins.
	if err := s.AddTOTPChallenge(ctx, ch("c3", "h3", now)); err != nil {
		t.Fatal(err)
	}
	r := concurrently(10, nil, func(i int) error { return acceptStep(ctx, s, "a", int64(100+i), now, "c3") })
	if r.ok != 1 {
		t.Fatalf("%d concurrent consumers of one challenge won, want 1", r.ok)
	}
	// Adding a challenge prunes the dead ones.
	if err := s.AddTOTPChallenge(ctx, ch("c4", "h4", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTOTPChallenge(ctx, ch("c3", "h", t0.Add(time.Hour))); err != nil {
		t.Fatalf("id of a pruned challenge could not be reused: %v", err)
	}
	// Of challenges created in the same millisecond, the one inserted last is the newest.
	for _, id := range []string{"z1", "a2", "m3"} {
		if err := s.AddTOTPChallenge(ctx, ch(id, "h-"+id, t0.Add(2*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "", t0.Add(2*time.Hour)); err != nil || got.ID != "m3" {
		t.Fatalf("newest of one millisecond: %+v %v; want m3 (inserted last)", got.ID, err)
	}
}

func testTOTPDeletedWithUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	mustAddTOTP(t, s, newTOTP("a", "app1", "u1", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("b", "app1", "u2", t0, true), store.TOTPLimit{Max: 5})
	if err := s.AddTOTPChallenge(ctx, store.TOTPChallenge{ID: "c", AppID: "app1", UserID: "u1", ChallengeHash: "h",
		ApprovalData: []byte(`{}`), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTOTP(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("authenticator outlived its user: %v", err)
	}
	if _, err := s.LiveTOTPChallenge(ctx, "app1", "u1", "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("challenge outlived its user: %v", err)
	}
	if _, err := s.GetTOTP(ctx, "b"); err != nil {
		t.Fatalf("another user's authenticator was deleted: %v", err)
	}
	// An authenticator of an unknown user is refused.
	if _, err := s.AddTOTP(ctx, newTOTP("x", "app1", "ghost", t0, true), store.TOTPLimit{Max: 5}); err == nil {
		t.Fatal("authenticator of a missing user accepted")
	}
}

// testTOTPLoginList: UserLoginTOTPs is the user found by each column with ListTOTPs and the
// identifier's failure state, also when the user has no authenticator; ErrNotFound without user.
func testTOTPLoginList(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	p := store.FailurePolicy{Max: 1, Window: 10 * time.Minute, LockFor: 15 * time.Minute}
	login := func(by store.UserBy, value string) (store.User, []store.TOTPAuthenticator, store.Lockout, error) {
		return s.UserLoginTOTPs(ctx, by, value, "app1", "totp", "user:")
	}
	if _, _, _, err := login(store.UserByEmail, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	u1, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if u, list, l, err := login(store.UserByEmail, "u1@example.com"); err != nil || !reflect.DeepEqual(u, u1) || len(list) != 0 || l != (store.Lockout{}) {
		t.Fatalf("nothing yet: %+v %v %+v %v", u, list, l, err)
	}
	if _, err := s.RecordFailure(ctx, "app1", "totp", "user:u1", t0, p); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(15 * time.Minute)
	if _, list, l, err := login(store.UserByID, "u1"); err != nil || len(list) != 0 || l.Failures != 1 || !l.LockedUntil.Equal(until) {
		t.Fatalf("locked, no authenticator: %v %+v %v", list, l, err)
	}
	mustAddTOTP(t, s, newTOTP("t1", "app1", "u1", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t2", "app1", "u1", t0.Add(time.Second), false), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t3", "app1", "u2", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t4", "app2", "u1", t0, true), store.TOTPLimit{Max: 5})
	mustAddTOTP(t, s, newTOTP("t5", "app1", "u1", t0.Add(2*time.Second), true), store.TOTPLimit{Max: 5})
	if n, err := s.RevokeTOTPs(ctx, "app1", "u1", "t5", t0.Add(3*time.Second), t0); err != nil || n != 1 {
		t.Fatalf("revoke t5: %d %v", n, err)
	}
	want, err := s.ListTOTPs(ctx, "app1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	for _, by := range []struct {
		by    store.UserBy
		value string
	}{{store.UserByID, "u1"}, {store.UserByEmail, "u1@example.com"}} {
		u, list, l, err := login(by.by, by.value)
		if err != nil || !reflect.DeepEqual(u, u1) || !reflect.DeepEqual(list, want) || len(list) != 2 || list[0].ID != "t1" ||
			l.Failures != 1 || !l.LockedUntil.Equal(until) {
			t.Fatalf("by %s = %+v %v %+v %v\nwant %v", by.by, u, list, l, err, want)
		}
	}
	// Another method's or user's failures are not joined in.
	if _, _, l, err := s.UserLoginTOTPs(ctx, store.UserByID, "u1", "app1", "otp", "user:"); err != nil || l != (store.Lockout{}) {
		t.Fatalf("another method: %+v %v", l, err)
	}
	if _, list, l, err := login(store.UserByID, "u2"); err != nil || len(list) != 1 || list[0].ID != "t3" || l != (store.Lockout{}) {
		t.Fatalf("another user: %v %+v %v", list, l, err)
	}
}

func newRecoveryCodes(prefix string, n int) []store.RecoveryCode {
	var out []store.RecoveryCode
	for i := range n {
		out = append(out, store.RecoveryCode{ID: fmt.Sprint(prefix, i), CodeHash: fmt.Sprint("h-", prefix, i), CreatedAt: t0})
	}
	return out
}

// rcLogin is a login of u1 that uses recovery code id up.
func rcLogin(ctx context.Context, s store.Store, id string) error {
	sid := fmt.Sprint("rc-login-", sessionSeq.Add(1))
	return s.SaveLogin(ctx, newSession(sid, "u1", t0), true, store.RefreshToken{}, t0, store.UseRecoveryCode{ID: id})
}

// testRecoveryCodes: a set is found by hash per user and app, a code works once, a new set
// replaces the old one, and the codes go with their user.
func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	if err := s.ReplaceRecoveryCodes(ctx, "app1", "u1", newRecoveryCodes("a", 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "app2", "u1", newRecoveryCodes("o", 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountRecoveryCodes(ctx, "app1", "u1"); err != nil || n != 10 {
		t.Fatalf("count: %d %v", n, err)
	}
	c, err := s.FindRecoveryCode(ctx, "app1", "u1", "h-a3")
	if err != nil || c.ID != "a3" || !c.CreatedAt.Equal(t0) {
		t.Fatalf("find: %+v %v", c, err)
	}
	for _, q := range []struct{ app, user, hash string }{{"app2", "u1", "h-a3"}, {"app1", "u2", "h-a3"}, {"app1", "u1", "h-o1"}} {
		if _, err := s.FindRecoveryCode(ctx, q.app, q.user, q.hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%+v found: %v", q, err)
		}
	}
	if err := rcLogin(ctx, s, "a3"); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := rcLogin(ctx, s, "a3"); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second use: %v, want ErrUsed", err)
	}
	if c, err := s.FindRecoveryCode(ctx, "app1", "u1", "h-a3"); err != nil || c.UsedAt.IsZero() {
		t.Fatalf("a used code is found as used: %+v %v", c, err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, "app1", "u1"); n != 9 {
		t.Fatalf("remaining after one use: %d", n)
	}
	// A new set retires the old one.
	if err := s.ReplaceRecoveryCodes(ctx, "app1", "u1", newRecoveryCodes("b", 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindRecoveryCode(ctx, "app1", "u1", "h-a4"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an old code outlived its set: %v", err)
	}
	if err := rcLogin(ctx, s, "a4"); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("an old code logged in: %v", err)
	}
	if n, err := s.DeleteRecoveryCodes(ctx, "app2", "u1"); err != nil || n != 2 {
		t.Fatalf("delete: %d %v", n, err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, "app1", "u1"); n != 0 {
		t.Fatalf("%d recovery codes outlived their user", n)
	}
}

// testRecoveryCodeConcurrent: of 20 concurrent logins with one recovery code exactly one wins.
func testRecoveryCodeConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	totpUsers(t, s)
	if err := s.ReplaceRecoveryCodes(ctx, "app1", "u1", newRecoveryCodes("a", 10)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a0", "a5"} {
		r := concurrently(20, is(store.ErrUsed), func(int) error { return rcLogin(ctx, s, id) })
		if r.ok != 1 || r.refused != 19 || len(r.other) > 0 {
			t.Fatalf("%s: %d wins, %d refused, errors %v; want exactly one win", id, r.ok, r.refused, r.other)
		}
	}
}
