package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// testAccessTokenRevocation: a revoked jti makes its token dead (user tokens through the same
// read that checks the session), revoking twice is harmless, only unexpired client-token
// revocations are listed, and pruning forgets a revocation once its token has expired.
func testAccessTokenRevocation(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r1", "s1", t0))
	live := func(sessionID, jti string, at time.Time) bool {
		t.Helper()
		ok, err := s.AccessTokenLive(ctx, sessionID, jti, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !live("s1", "j-user", t0) || !live("", "j-client", t0) {
		t.Fatal("tokens live before any revocation")
	}
	if live("ghost", "j-user", t0) {
		t.Fatal("a token of an unknown session is live")
	}
	exp := t0.Add(time.Hour)
	if err := s.RevokeAccessToken(ctx, "j-user", "s1", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, "j-user", "s1", exp, t0); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := s.RevokeAccessToken(ctx, "j-client", "", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, "j-client-old", "", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if live("s1", "j-user", t0) || live("", "j-client", t0) {
		t.Fatal("a revoked token is live")
	}
	if !live("s1", "j-other", t0) || !live("", "j-other", t0) {
		t.Fatal("revoking one jti killed another token")
	}
	got, err := s.RevokedClientTokens(ctx, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"j-client"}) {
		t.Fatalf("revoked client tokens = %v, want [j-client] (no user token, no expired one)", got)
	}
	if _, err := s.Prune(ctx, exp.Add(2*time.Hour), time.Hour, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RevokedClientTokens(ctx, t0); len(got) != 0 {
		t.Fatalf("revocations of expired tokens kept by Prune: %v", got)
	}
}

// testRefreshTokenInfoAndEnd: a refresh token is found by hash whatever client holds it, and
// ending its session works only for the session's own application, once.
func testRefreshTokenInfoAndEnd(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r1", "s1", t0))
	rt, sess, u, err := s.RefreshTokenInfo(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if rt.SessionID != "s1" || rt.ClientID != "c1" || !rt.ExpiresAt.Equal(t0.Add(14*24*time.Hour)) || string(rt.Payload) != `{"resource":"r1"}` ||
		sess.ID != "s1" || sess.AppID != "app1" || u.ID != "u1" || u.Email != "u1@example.com" {
		t.Fatalf("RefreshTokenInfo = %+v %+v %+v", rt, sess, u)
	}
	if _, _, _, err := s.RefreshTokenInfo(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown refresh token: %v", err)
	}
	at := t0.Add(time.Hour)
	if err := s.EndRefreshTokenSession(ctx, "r1", "other-app", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another app ended the session: %v", err)
	}
	if ok, _ := s.SessionLive(ctx, "s1", at); !ok {
		t.Fatal("session ended by another application's request")
	}
	if err := s.EndRefreshTokenSession(ctx, "ghost", "app1", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.EndRefreshTokenSession(ctx, "r1", "app1", at); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SessionLive(ctx, "s1", at); ok {
		t.Fatal("session live after its refresh token's revocation")
	}
	if err := s.EndRefreshTokenSession(ctx, "r1", "app1", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ending twice: %v", err)
	}
	if _, sess, _, err := s.RefreshTokenInfo(ctx, "r1"); err != nil || !sess.EndedAt.Equal(at) {
		t.Fatalf("after revocation: %+v %v", sess, err)
	}
}
