package otp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// atHash is OIDC's at_hash for ES256, computed here independently of Latch's token package.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// outboxLogin sends an OTP by channel to the dev outbox, reads the code from the one new message
// to `to`, and authenticates with it.
func (a *api) outboxLogin(t testing.TB, p person, channel, to string, extra map[string]any) latchtest.Response {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range a.Outbox(t, to) {
		seen[m.ID] = true
	}
	if r := a.post(t, pathSend, sendBody(channel, p, nil)); r.Status != 200 {
		t.Fatalf("%s send: %d %s", channel, r.Status, r.Body)
	}
	var code string
	for _, m := range a.Outbox(t, to) {
		if !seen[m.ID] {
			if code != "" {
				t.Fatal("more than one new message")
			}
			code = sixDigits.FindString(m.Text)
		}
	}
	if code == "" {
		t.Fatalf("no new %s in the outbox", channel)
	}
	return a.post(t, pathAuth, authBody(p, code, extra))
}

func (a *api) emailLogin(t testing.TB, p person, extra map[string]any) latchtest.Response {
	t.Helper()
	return a.outboxLogin(t, p, "email", p.email, extra)
}

func (a *api) smsLogin(t testing.TB, p person, extra map[string]any) latchtest.Response {
	t.Helper()
	return a.outboxLogin(t, p, "sms", p.phone, extra)
}

func ok200(t testing.TB, r latchtest.Response) latchtest.Response {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
	}
	return r
}

// TestUserTokensAndSessions covers what every login ends with: the ID and access tokens as an
// app verifies them, sessions joined for MFA, refresh rotation with reuse detection, and logout.
func TestUserTokensAndSessions(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, a *api, p person)
	}{
		{"id_and_access_tokens_verify_against_the_jwks", func(t *testing.T, a *api, p person) {
			a.Clock.Advance(7 * time.Second)
			r := ok200(t, a.emailLogin(t, p, nil))
			now := a.Clock.Now().Unix()
			var id idClaims
			a.verifyJWT(t, r.String("id_token"), &id)
			if id.Issuer != a.URL || id.Subject != p.id || !reflect.DeepEqual([]string(id.Audience), []string{a.ClientID}) {
				t.Fatalf("iss %q sub %q aud %v", id.Issuer, id.Subject, id.Audience)
			}
			if id.AuthTime != now || id.IssuedAt != now || id.Expiry != now+3600 {
				t.Fatalf("auth_time %d iat %d exp %d, want %d, %d, %d", id.AuthTime, id.IssuedAt, id.Expiry, now, now, now+3600)
			}
			if !reflect.DeepEqual(id.AMR, []string{"eotp"}) || id.SessionID != r.String("session_id") || id.SessionID == "" {
				t.Fatalf("amr %v sid %q session_id %q", id.AMR, id.SessionID, r.String("session_id"))
			}
			if id.AtHash != atHash(r.String("access_token")) {
				t.Fatalf("at_hash %q does not match the access token", id.AtHash)
			}
			if id.Email != p.email || id.Phone != p.phone || id.TenantID == "" {
				t.Fatalf("email %q phone %q tid %q", id.Email, id.Phone, id.TenantID)
			}
			var at accessClaims
			a.verifyJWT(t, r.String("access_token"), &at)
			if !reflect.DeepEqual([]string(at.Audience), []string{"userid-api"}) || at.Subject != p.id || at.ClientID != a.ClientID || at.SessionID != id.SessionID {
				t.Fatalf("access token aud %v sub %q client_id %q sid %q", at.Audience, at.Subject, at.ClientID, at.SessionID)
			}
		}},
		{"second_factor_joins_the_session_and_adds_mfa", func(t *testing.T, a *api, p person) {
			first := ok200(t, a.emailLogin(t, p, nil))
			sid := first.String("session_id")
			a.Clock.Advance(time.Minute)
			second := ok200(t, a.smsLogin(t, p, map[string]any{"session_id": sid}))
			if second.String("session_id") != sid {
				t.Fatalf("session_id %q, want the joined %q", second.String("session_id"), sid)
			}
			var id idClaims
			a.verifyJWT(t, second.String("id_token"), &id)
			if !reflect.DeepEqual(id.AMR, []string{"eotp", "sms", "mfa"}) || id.SessionID != sid || id.AuthTime != a.Clock.Now().Unix() {
				t.Fatalf("amr %v sid %q auth_time %d", id.AMR, id.SessionID, id.AuthTime)
			}
			// A third factor adds itself; mfa stays once.
			third := ok200(t, a.post(t, pathAuth, authBody(p, a.directCode(t, p.email), map[string]any{"session_id": sid})))
			id = idClaims{}
			a.verifyJWT(t, third.String("id_token"), &id)
			if !reflect.DeepEqual(id.AMR, []string{"eotp", "sms", "mfa", "otp"}) {
				t.Fatalf("amr after a third factor: %v", id.AMR)
			}
		}},
		{"same_method_twice_is_not_mfa", func(t *testing.T, a *api, p person) {
			sid := ok200(t, a.emailLogin(t, p, nil)).String("session_id")
			r := ok200(t, a.emailLogin(t, p, map[string]any{"session_id": sid}))
			var id idClaims
			a.verifyJWT(t, r.String("id_token"), &id)
			if !reflect.DeepEqual(id.AMR, []string{"eotp"}) {
				t.Fatalf("amr %v, want [eotp]", id.AMR)
			}
		}},
		{"session_of_another_user_is_not_found", func(t *testing.T, a *api, p person) {
			other := a.newPerson(t)
			theirs := ok200(t, a.emailLogin(t, other, nil)).String("session_id")
			code := a.directCode(t, p.email)
			wantError(t, a.post(t, pathAuth, authBody(p, code, map[string]any{"session_id": theirs})), 404, "session_not_found", "Session not found")
			wantError(t, a.post(t, pathAuth, authBody(p, a.directCode(t, p.email), map[string]any{"session_id": "no-such-session"})), 404, "session_not_found", "Session not found")
			// The code is checked (and consumed) before the session is looked at: it cannot be
			// retried without session_id. The other user's session is untouched.
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 400, "auth_invalid_credentials", "Invalid passcode")
			if r := a.post(t, pathLogout, map[string]any{"session_id": theirs}); r.Status != http.StatusNoContent {
				t.Fatalf("the other user's session was harmed: %d %s", r.Status, r.Body)
			}
		}},
		{"refresh_rotates_and_reuse_revokes_the_session", func(t *testing.T, a *api, p person) {
			login := ok200(t, a.emailLogin(t, p, nil))
			authTime := a.Clock.Now().Unix()
			rt0 := login.String("refresh_token")
			a.Clock.Advance(time.Minute)
			r1 := ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt0}))
			rt1 := r1.String("refresh_token")
			if rt1 == "" || rt1 == rt0 || r1.String("session_id") != login.String("session_id") || r1.String("token_type") != "Bearer" {
				t.Fatalf("refresh answer: %s", r1.Body)
			}
			var id idClaims
			a.verifyJWT(t, r1.String("id_token"), &id)
			if id.SessionID != login.String("session_id") || !reflect.DeepEqual(id.AMR, []string{"eotp"}) || id.IssuedAt != a.Clock.Now().Unix() || id.AuthTime != authTime {
				t.Fatalf("refreshed id token: sid %q amr %v iat %d auth_time %d", id.SessionID, id.AMR, id.IssuedAt, id.AuthTime)
			}
			rt2 := ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt1})).String("refresh_token")
			// rt0 was rotated long ago: presenting it is theft or a bug, and ends the session.
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt0}), 400, "invalid_grant", "Invalid refresh token")
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt2}), 400, "invalid_grant", "Invalid refresh token")
			wantError(t, a.post(t, pathLogout, map[string]any{"session_id": login.String("session_id")}), 404, "session_not_found", "Session not found")
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": "not-a-token"}), 400, "invalid_grant", "Invalid refresh token")
			wantError(t, a.post(t, pathRefresh, map[string]any{}), 400, "system_invalid_input", "refresh_token: is required")
		}},
		{"refresh_keeps_the_claims_request_across_rotations", func(t *testing.T, a *api, p person) {
			claims := map[string]any{"id_token": map[string]any{"username": nil}}
			rt := ok200(t, a.emailLogin(t, p, map[string]any{"claims": claims})).String("refresh_token")
			for i := range 3 {
				r := ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt}))
				var id idClaims
				a.verifyJWT(t, r.String("id_token"), &id)
				if id.Username != p.username {
					t.Fatalf("refresh %d: username claim %q, want %q", i+1, id.Username, p.username)
				}
				rt = r.String("refresh_token")
			}
		}},
		{"refresh_token_is_bound_to_its_client", func(t *testing.T, a *api, p person) {
			rt := ok200(t, a.emailLogin(t, p, nil)).String("refresh_token")
			// Another client of the same application (a second node gets its own client).
			other := latchtest.Start(t, "", latchtest.Options{Store: a.Store, Key: a.Key})
			wantError(t, other.Do(t, http.MethodPost, pathRefresh, other.ClientToken(t), map[string]any{"refresh_token": rt}), 400, "invalid_grant", "Invalid refresh token")
			// That was not a reuse: the token still works for its own client.
			ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt}))
		}},
		{"refresh_token_expires_after_14_days", func(t *testing.T, a *api, p person) {
			login := ok200(t, a.emailLogin(t, p, nil))
			a.Clock.Advance(14*24*time.Hour - time.Second)
			a.token = a.ClientToken(t)
			rt := ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": login.String("refresh_token")})).String("refresh_token")
			// The rotation slid the session: 14 more days for the new token.
			a.Clock.Advance(14*24*time.Hour - time.Second)
			a.token = a.ClientToken(t)
			rt = ok200(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt})).String("refresh_token")
			a.Clock.Advance(14 * 24 * time.Hour)
			a.token = a.ClientToken(t)
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt}), 400, "invalid_grant", "Invalid refresh token")
		}},
		{"refresh_refused_for_a_disabled_user", func(t *testing.T, a *api, p person) {
			rt := ok200(t, a.emailLogin(t, p, nil)).String("refresh_token")
			if r := a.Do(t, http.MethodPut, pathUsers+"/"+p.id, a.token, map[string]any{"status": "Disabled"}); r.Status != 200 {
				t.Fatalf("disable: %d %s", r.Status, r.Body)
			}
			// Disabling ended the session: its refresh token is dead, not merely paused.
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": rt}), 400, "invalid_grant", "Invalid refresh token")
		}},
		{"logout_ends_the_session", func(t *testing.T, a *api, p person) {
			login := ok200(t, a.emailLogin(t, p, nil))
			sid, access := login.String("session_id"), login.String("access_token")
			r := a.post(t, pathLogout, map[string]any{"session_id": sid})
			if r.Status != http.StatusNoContent || len(r.Body) != 0 {
				t.Fatalf("logout: %d %q, want 204 with an empty body", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathLogout, map[string]any{"session_id": sid}), 404, "session_not_found", "Session not found")
			wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": login.String("refresh_token")}), 400, "invalid_grant", "Invalid refresh token")
			wantError(t, a.post(t, pathAuth, authBody(p, a.directCode(t, p.email), map[string]any{"session_id": sid})), 404, "session_not_found", "Session not found")
			// The ended session's access token is refused where a user token is needed, while a
			// live session's token is accepted there.
			r = a.Do(t, http.MethodPost, "/cis/v1/auth/logout", access, nil)
			if r.Status != http.StatusUnauthorized || string(r.Body) != "{\"error_code\":401,\"message\":\"Invalid token\"}\n" {
				t.Fatalf("user token after logout: %d %s", r.Status, r.Body)
			}
			live := ok200(t, a.emailLogin(t, p, nil)).String("access_token")
			r = a.Do(t, http.MethodPost, "/cis/v1/auth/logout", live, nil)
			if r.Status != http.StatusOK || string(r.Body) != "{\"sessions_count\":1}\n" {
				t.Fatalf("user token of a live session: %d %s", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathLogout, map[string]any{"session_id": "no-such-session"}), 404, "session_not_found", "Session not found")
			wantError(t, a.post(t, pathLogout, map[string]any{}), 400, "system_invalid_input", "session_id: is required")
		}},
	}
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a.token = a.ClientToken(t) // earlier cases may have moved the clock past its expiry
				tc.fn(t, a, a.newPerson(t))
			})
		}
	})
}
