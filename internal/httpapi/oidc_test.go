package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/session"
)

// otpLogin signs a user in by a one-time code sent on the direct channel (the code comes back in
// the send answer) and returns the token answer: access_token, id_token, refresh_token.
func (ts *testServer) otpLogin(t testing.TB, identifierType, identifier string) map[string]any {
	t.Helper()
	tok := ts.ClientToken(t)
	sent := ts.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", tok, map[string]any{"channel": "direct", "identifier_type": identifierType, "identifier": identifier})
	if sent.Status != http.StatusOK || sent.String("code") == "" {
		t.Fatalf("otp send to %s: %d %s", identifier, sent.Status, sent.Body)
	}
	r := ts.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", tok, map[string]any{"identifier_type": identifierType, "identifier": identifier, "passcode": sent.String("code")})
	if r.Status != http.StatusOK || r.String("access_token") == "" || r.String("refresh_token") == "" {
		t.Fatalf("otp authenticate %s: %d %s", identifier, r.Status, r.Body)
	}
	return r.Object(t)
}

// bearerGet is GET path with a Bearer token.
func bearerGet(t testing.TB, s *latchtest.Stack, path, tok string) response {
	t.Helper()
	return s.Do(t, http.MethodGet, path, tok, nil)
}

// assertInvalidToken checks RFC 6750's 401 for a bad token: WWW-Authenticate names
// invalid_token, the body is product.md's.
func assertInvalidToken(t testing.TB, r response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 (body %s)", r.Status, r.Body)
	}
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", h)
	}
	assertJSONBody(t, r, `{"message":"Invalid token","error_code":401}`)
}

// introspect asks s's introspection endpoint about tok as the client id/secret (form fields).
func introspect(t testing.TB, s *latchtest.Stack, id, secret, tok string, extra ...string) response {
	t.Helper()
	f := url.Values{"token": {tok}, "client_id": {id}, "client_secret": {secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return s.Form(t, "/oidc/token/introspection", f, "", "")
}

// assertInactive checks that an introspection answer is exactly {"active": false}.
func assertInactive(t testing.TB, r response) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("introspection: %d %s", r.Status, r.Body)
	}
	assertJSONBody(t, r, `{"active":false}`)
}

// revoke asks s's revocation endpoint to revoke tok as the client id/secret (form fields).
func revoke(t testing.TB, s *latchtest.Stack, id, secret, tok string, extra ...string) {
	t.Helper()
	f := url.Values{"token": {tok}, "client_id": {id}, "client_secret": {secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	r := s.Form(t, "/oidc/token/revocation", f, "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("revocation: %d %s", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	assertJSONBody(t, r, `{}`)
}

// otherApp creates a second application and returns its client's credentials.
func (ts *testServer) otherApp(t testing.TB) app.Credentials {
	t.Helper()
	creds, err := ts.Apps.CreateApp(context.Background(), app.NewApp{Name: "other-" + strings.ToLower(t.Name()[len(t.Name())-4:])})
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// TestUserInfo: UserInfo answers sub and what the token's scope allows, by GET and POST, with the
// token in the header or the form, at both paths; everything that is not a live user access
// token with openid is refused as RFC 6750 says.
func TestUserInfo(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		client := ts.ClientToken(t)
		emailOnly := ts.CreateUser(t, client, map[string]any{"email": "mail@example.com"})
		both := ts.CreateUser(t, client, map[string]any{"email": "both@example.com", "phone_number": "+14155550101"})
		phoneOnly := ts.CreateUser(t, client, map[string]any{"phone_number": "+14155550102"})

		// email_verified and phone_number_verified say what the store says: both's email and
		// phoneOnly's phone are marked verified, the rest not.
		for _, p := range []string{"/cis/v1/users/" + both + "/emails/both@example.com/verify", "/cis/v1/users/" + phoneOnly + "/phone-numbers/" + url.PathEscape("+14155550102") + "/verify"} {
			if r := ts.Do(t, http.MethodPost, p, client, nil); r.Status >= 300 {
				t.Fatalf("verify %s: %d %s", p, r.Status, r.Body)
			}
		}

		byEmail := ts.otpLogin(t, "email", "mail@example.com")
		byBoth := ts.otpLogin(t, "email", "both@example.com")
		byPhone := ts.otpLogin(t, "phone_number", "+14155550102")

		cases := []struct {
			name, tok, scope, want string
		}{
			{"email_user", byEmail["access_token"].(string), "openid email", `{"sub":"` + emailOnly + `","email":"mail@example.com","email_verified":false}`},
			{"email_and_phone_user", byBoth["access_token"].(string), "openid email phone",
				`{"sub":"` + both + `","email":"both@example.com","email_verified":true,"phone_number":"+14155550101","phone_number_verified":false}`},
			{"phone_user", byPhone["access_token"].(string), "openid phone", `{"sub":"` + phoneOnly + `","phone_number":"+14155550102","phone_number_verified":true}`},
		}
		// Tokens granted a narrower scope (as the authorization endpoint grants) get less.
		c, a := ts.defaultClient(t)
		for _, sc := range []struct{ scope, want string }{
			{"openid", `{"sub":"` + both + `"}`},
			{"openid phone", `{"sub":"` + both + `","phone_number":"+14155550101","phone_number_verified":false}`},
			{"email openid", `{"sub":"` + both + `","email":"both@example.com","email_verified":true}`},
		} {
			tk, err := ts.Sessions.Complete(context.Background(), session.Login{App: a, ClientID: c.ClientID, User: ts.storedUser(t, both), Method: "eotp", Scope: sc.scope})
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, struct{ name, tok, scope, want string }{"scope_" + strings.ReplaceAll(sc.scope, " ", "_"), tk.AccessToken, sc.scope, sc.want})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if got := latchtest.Claims(t, tc.tok)["scope"]; got != tc.scope {
					t.Errorf("access token scope = %v, want %q", got, tc.scope)
				}
				for _, path := range []string{"/cis/oidc/me", "/oidc/me"} {
					get := bearerGet(t, ts.Stack, path, tc.tok)
					if get.Status != http.StatusOK {
						t.Fatalf("GET %s: %d %s", path, get.Status, get.Body)
					}
					assertContentTypeJSON(t, get)
					assertJSONBody(t, get, tc.want)
					postHeader := ts.Do(t, http.MethodPost, path, tc.tok, nil)
					if postHeader.Status != http.StatusOK {
						t.Fatalf("POST %s with the header: %d %s", path, postHeader.Status, postHeader.Body)
					}
					assertJSONBody(t, postHeader, tc.want)
					postForm := ts.Form(t, path, url.Values{"access_token": {tc.tok}}, "", "")
					if postForm.Status != http.StatusOK {
						t.Fatalf("POST %s with the form: %d %s", path, postForm.Status, postForm.Body)
					}
					assertJSONBody(t, postForm, tc.want)
				}
			})
		}

		t.Run("refresh_keeps_the_scope", func(t *testing.T) {
			tk, err := ts.Sessions.Complete(context.Background(), session.Login{App: a, ClientID: c.ClientID, User: ts.storedUser(t, both), Method: "eotp", Scope: "openid email"})
			if err != nil {
				t.Fatal(err)
			}
			r := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}, ts.ClientID, ts.ClientSecret)
			at := r.String("access_token")
			if r.Status != http.StatusOK || at == "" {
				t.Fatalf("refresh: %d %s", r.Status, r.Body)
			}
			if got := latchtest.Claims(t, at)["scope"]; got != "openid email" {
				t.Fatalf("refreshed scope = %v", got)
			}
			assertJSONBody(t, bearerGet(t, ts.Stack, "/cis/oidc/me", at), `{"sub":"`+both+`","email":"both@example.com","email_verified":true}`)
		})

		t.Run("refused", func(t *testing.T) {
			tok := byEmail["access_token"].(string)
			none := ts.Do(t, http.MethodGet, "/cis/oidc/me", "", nil)
			if none.Status != http.StatusUnauthorized || none.Header.Get("WWW-Authenticate") != `Bearer realm="latch"` {
				t.Errorf("no token: %d, WWW-Authenticate %q (RFC 6750 §3.1: no error code without credentials)", none.Status, none.Header.Get("WWW-Authenticate"))
			}
			assertJSONBody(t, none, `{"message":"Invalid token","error_code":401}`)
			for name, bad := range map[string]string{
				"garbage":      "not-a-token",
				"client_token": client,
				"id_token":     byEmail["id_token"].(string),
				"refresh":      byEmail["refresh_token"].(string),
				"tampered":     tok[:len(tok)-4] + "AAAA",
			} {
				t.Run(name, func(t *testing.T) {
					assertInvalidToken(t, bearerGet(t, ts.Stack, "/cis/oidc/me", bad))
					assertInvalidToken(t, ts.Form(t, "/oidc/me", url.Values{"access_token": {bad}}, "", ""))
				})
			}
			t.Run("basic_scheme", func(t *testing.T) {
				assertInvalidToken(t, ts.Do(t, http.MethodGet, "/cis/oidc/me", "", nil, "Authorization", "Basic "+tok))
			})
			t.Run("header_and_form", func(t *testing.T) {
				r := ts.Do(t, http.MethodPost, "/cis/oidc/me", tok, url.Values{"access_token": {tok}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
				if r.Status != http.StatusBadRequest || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_request"`) ||
					!strings.HasPrefix(r.String("message"), "access_token:") {
					t.Fatalf("both: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
				}
			})
			t.Run("json_body", func(t *testing.T) {
				r := ts.Do(t, http.MethodPost, "/cis/oidc/me", "", map[string]any{"access_token": tok})
				if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.String("message"), "Content-Type:") {
					t.Fatalf("JSON body: %d %s", r.Status, r.Body)
				}
			})
			t.Run("without_openid", func(t *testing.T) {
				tk, err := ts.Sessions.Complete(context.Background(), session.Login{App: a, ClientID: c.ClientID, User: ts.storedUser(t, both), Method: "eotp", Scope: "email"})
				if err != nil {
					t.Fatal(err)
				}
				r := bearerGet(t, ts.Stack, "/cis/oidc/me", tk.AccessToken)
				if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
					t.Fatalf("no openid scope: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
				}
			})
			t.Run("ended_session", func(t *testing.T) {
				l := ts.otpLogin(t, "email", "mail@example.com")
				at := l["access_token"].(string)
				if r := bearerGet(t, ts.Stack, "/cis/oidc/me", at); r.Status != http.StatusOK {
					t.Fatalf("before logout: %d", r.Status)
				}
				if r := ts.Do(t, http.MethodPost, "/cis/v1/auth/logout", at, nil); r.Status >= 300 {
					t.Fatalf("logout: %d %s", r.Status, r.Body)
				}
				assertInvalidToken(t, bearerGet(t, ts.Stack, "/cis/oidc/me", at))
			})
			t.Run("expired", func(t *testing.T) {
				at := ts.otpLogin(t, "email", "both@example.com")["access_token"].(string)
				ts.Clock.Advance(time.Hour + time.Minute) // an hour's token, past the 30 s leeway
				assertInvalidToken(t, bearerGet(t, ts.Stack, "/cis/oidc/me", at))
			})
		})
	})
}

// secondNode starts another node on ts's database (same key, issuer and clock), as nodes behind
// one load balancer run.
func (ts *testServer) secondNode(t testing.TB) *latchtest.Stack {
	t.Helper()
	return latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Issuer: ts.URL, Clock: ts.Clock})
}

// userRoute is an authUser route (the user's TOTP devices) for checking that a user token is
// accepted or refused by the bearer middleware.
const userRoute = "/cis/v1/users/me/totp/devices"

// TestRevokeAccessToken: a revoked user access token is refused at once on another node sharing
// the database — by the bearer middleware, UserInfo and introspection — while its session and
// refresh token live on; revoking again, or with the other hint, is harmless.
func TestRevokeAccessToken(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		node2 := ts.secondNode(t)
		ts.CreateUser(t, ts.ClientToken(t), map[string]any{"email": "rev@example.com"})
		login := ts.otpLogin(t, "email", "rev@example.com")
		at, rt := login["access_token"].(string), login["refresh_token"].(string)
		for _, s := range []*latchtest.Stack{ts.Stack, node2} {
			if r := bearerGet(t, s, userRoute, at); r.Status != http.StatusOK {
				t.Fatalf("before revocation: %d %s", r.Status, r.Body)
			}
			if r := bearerGet(t, s, "/cis/oidc/me", at); r.Status != http.StatusOK {
				t.Fatalf("userinfo before revocation: %d %s", r.Status, r.Body)
			}
			if r := introspect(t, s, ts.ClientID, ts.ClientSecret, at); r.Object(t)["active"] != true {
				t.Fatalf("introspection before revocation: %s", r.Body)
			}
		}
		// HTTP Basic with both parts URL-encoded, as x/oauth2 sends them.
		r := ts.postForm(t, "/oidc/token/revocation", url.Values{"token": {at}, "token_type_hint": {"access_token"}},
			percentEncodeAll(ts.ClientID), percentEncodeAll(ts.ClientSecret))
		if r.Status != http.StatusOK {
			t.Fatalf("revocation: %d %s", r.Status, r.Body)
		}
		for name, s := range map[string]*latchtest.Stack{"node1": ts.Stack, "node2": node2} {
			t.Run(name, func(t *testing.T) {
				assertJSONBody(t, bearerGet(t, s, userRoute, at), `{"message":"Invalid token","error_code":401}`)
				assertInvalidToken(t, bearerGet(t, s, "/cis/oidc/me", at))
				assertInvalidToken(t, s.Form(t, "/cis/oidc/me", url.Values{"access_token": {at}}, "", ""))
				assertInactive(t, introspect(t, s, ts.ClientID, ts.ClientSecret, at))
			})
		}
		// The session is not ended: its refresh token still works, and the new access token.
		ref := node2.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, ts.ClientID, ts.ClientSecret)
		at2 := ref.String("access_token")
		if ref.Status != http.StatusOK || at2 == "" {
			t.Fatalf("refresh after revoking an access token: %d %s", ref.Status, ref.Body)
		}
		if r := bearerGet(t, node2, userRoute, at2); r.Status != http.StatusOK {
			t.Fatalf("new access token: %d %s", r.Status, r.Body)
		}
		revoke(t, node2, ts.ClientID, ts.ClientSecret, at)                                     // again
		revoke(t, node2, ts.ClientID, ts.ClientSecret, at, "token_type_hint", "refresh_token") // a wrong hint is only a hint
		revoke(t, node2, ts.ClientID, ts.ClientSecret, at2, "token_type_hint", "refresh_token")
		assertInvalidToken(t, bearerGet(t, ts.Stack, "/cis/oidc/me", at2))
		// Revoking by the /cis path works alike.
		at3 := ts.otpLogin(t, "email", "rev@example.com")["access_token"].(string)
		if r := ts.Form(t, "/cis/oidc/token/revocation", url.Values{"token": {at3}}, ts.ClientID, ts.ClientSecret); r.Status != http.StatusOK {
			t.Fatalf("/cis revocation: %d %s", r.Status, r.Body)
		}
		assertInvalidToken(t, bearerGet(t, node2, "/oidc/me", at3))
	})
}

// TestRevokeRefreshToken: revoking a refresh token ends its session: the refresh token no longer
// rotates and the session's access tokens are refused everywhere.
func TestRevokeRefreshToken(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		node2 := ts.secondNode(t)
		ts.CreateUser(t, ts.ClientToken(t), map[string]any{"email": "rt@example.com"})
		login := ts.otpLogin(t, "email", "rt@example.com")
		at, rt, sid := login["access_token"].(string), login["refresh_token"].(string), login["session_id"].(string)
		other := ts.otpLogin(t, "email", "rt@example.com") // another session of the same user
		if r := introspect(t, node2, ts.ClientID, ts.ClientSecret, rt); r.Object(t)["active"] != true {
			t.Fatalf("refresh token before revocation: %s", r.Body)
		}
		// A client of the same application may revoke it (the form fields this time).
		c2, err := ts.Apps.CreateClient(context.Background(), ts.App.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		revoke(t, ts.Stack, c2.ClientID, c2.ClientSecret, rt, "token_type_hint", "refresh_token")
		if sess, err := ts.Store.GetSession(context.Background(), sid); err != nil || sess.EndedAt.IsZero() {
			t.Fatalf("session after revoking its refresh token: %+v %v", sess, err)
		}
		r := node2.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, ts.ClientID, ts.ClientSecret)
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		assertInvalidToken(t, bearerGet(t, node2, "/cis/oidc/me", at))
		assertJSONBody(t, bearerGet(t, node2, userRoute, at), `{"message":"Invalid token","error_code":401}`)
		assertInactive(t, introspect(t, node2, ts.ClientID, ts.ClientSecret, rt))
		assertInactive(t, introspect(t, node2, ts.ClientID, ts.ClientSecret, at))
		// The user's other session is untouched.
		if r := bearerGet(t, node2, "/cis/oidc/me", other["access_token"].(string)); r.Status != http.StatusOK {
			t.Fatalf("the other session: %d %s", r.Status, r.Body)
		}
		revoke(t, ts.Stack, ts.ClientID, ts.ClientSecret, rt) // an ended session's token: still 200

		t.Run("concurrent", func(t *testing.T) {
			// 20 revocations of one refresh token and 20 of one access token at once, on two
			// nodes: every one answers 200, and both tokens are dead.
			l := ts.otpLogin(t, "email", "rt@example.com")
			var reqs []*http.Request
			for i := range 40 {
				tok, s := l["refresh_token"].(string), ts.Stack
				if i%2 == 1 {
					tok = l["access_token"].(string)
				}
				if i%4 >= 2 {
					s = node2
				}
				req, err := http.NewRequest(http.MethodPost, s.URL+"/oidc/token/revocation", strings.NewReader(url.Values{"token": {tok}}.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(ts.ClientID, ts.ClientSecret)
				reqs = append(reqs, req)
			}
			for i, st := range latchtest.Concurrently(ts.Client, reqs) {
				if st != http.StatusOK {
					t.Errorf("revocation %d: %d", i, st)
				}
			}
			assertInactive(t, introspect(t, node2, ts.ClientID, ts.ClientSecret, l["refresh_token"].(string)))
			assertInvalidToken(t, bearerGet(t, node2, "/cis/oidc/me", l["access_token"].(string)))
		})
	})
}

// TestRevokeForeignToken: another application's client gets the same 200 for this application's
// tokens, and nothing is revoked; unknown tokens get it too.
func TestRevokeForeignToken(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		foreign := ts.otherApp(t)
		ts.CreateUser(t, ts.ClientToken(t), map[string]any{"email": "mine@example.com"})
		login := ts.otpLogin(t, "email", "mine@example.com")
		at, rt := login["access_token"].(string), login["refresh_token"].(string)
		ct := ts.ClientToken(t)
		for _, tok := range []string{at, rt, ct, "no-such-token", login["id_token"].(string)} {
			revoke(t, ts.Stack, foreign.ClientID, foreign.ClientSecret, tok)
			revoke(t, ts.Stack, foreign.ClientID, foreign.ClientSecret, tok, "token_type_hint", "refresh_token")
		}
		revoke(t, ts.Stack, ts.ClientID, ts.ClientSecret, "no-such-token")
		if r := bearerGet(t, ts.Stack, "/cis/oidc/me", at); r.Status != http.StatusOK {
			t.Fatalf("access token after a foreign revocation: %d %s", r.Status, r.Body)
		}
		if r := bearerGet(t, ts.Stack, "/cis/v1/users", ct); r.Status != http.StatusOK {
			t.Fatalf("client token after a foreign revocation: %d %s", r.Status, r.Body)
		}
		if r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, rt); r.Object(t)["active"] != true {
			t.Fatalf("refresh token after a foreign revocation: %s", r.Body)
		}
		r := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, ts.ClientID, ts.ClientSecret)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh after a foreign revocation: %d %s", r.Status, r.Body)
		}
	})
}

// TestRevokeClientToken: a revoked client token is refused at once on the node that revoked it,
// within about a second on another node (its copy of the revoked client tokens), and inactive at
// introspection everywhere at once.
func TestRevokeClientToken(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		node2 := ts.secondNode(t)
		ct := ts.ClientToken(t)
		keep := ts.ClientToken(t)
		for _, s := range []*latchtest.Stack{ts.Stack, node2} {
			if r := bearerGet(t, s, "/cis/v1/users", ct); r.Status != http.StatusOK {
				t.Fatalf("before: %d %s", r.Status, r.Body)
			}
		}
		revoke(t, ts.Stack, ts.ClientID, ts.ClientSecret, ct)
		assertJSONBody(t, bearerGet(t, ts.Stack, "/cis/v1/users", ct), `{"message":"Invalid token","error_code":401}`)
		assertInactive(t, introspect(t, node2, ts.ClientID, ts.ClientSecret, ct))
		deadline := time.Now().Add(3 * time.Second)
		for {
			r := bearerGet(t, node2, "/cis/v1/users", ct)
			if r.Status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node2 still accepts the revoked client token after 3 s: %d", r.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, s := range []*latchtest.Stack{ts.Stack, node2} {
			if r := bearerGet(t, s, "/cis/v1/users", keep); r.Status != http.StatusOK {
				t.Fatalf("another client token: %d %s", r.Status, r.Body)
			}
		}
	})
}

// TestIntrospection: every state a token can be in, for access tokens (user and client) and
// refresh tokens.
func TestIntrospection(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		uid := ts.CreateUser(t, ts.ClientToken(t), map[string]any{"email": "in@example.com", "phone_number": "+14155550103"})
		login := ts.otpLogin(t, "email", "in@example.com")
		at, rt, idt, sid := login["access_token"].(string), login["refresh_token"].(string), login["id_token"].(string), login["session_id"].(string)
		claims := latchtest.Claims(t, at)

		t.Run("user_access_token", func(t *testing.T) {
			r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, at)
			assertContentTypeJSON(t, r)
			assertJSONBody(t, r, mustJSON(t, map[string]any{"active": true, "scope": "openid email phone", "client_id": ts.ClientID,
				"sub": uid, "exp": claims["exp"], "iat": claims["iat"], "iss": ts.URL, "aud": "userid-api", "token_type": "Bearer",
				"sid": sid, "session_id": sid, "jti": claims["jti"], "tid": claims["tid"]}))
			// By HTTP Basic, at the /cis path, with a hint: the same answer.
			r2 := ts.Form(t, "/cis/oidc/token/introspection", url.Values{"token": {at}, "token_type_hint": {"refresh_token"}}, ts.ClientID, ts.ClientSecret)
			assertJSONBody(t, r2, string(r.Body))
		})
		t.Run("client_access_token", func(t *testing.T) {
			ct := ts.ClientToken(t)
			c := latchtest.Claims(t, ct)
			r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, ct)
			assertJSONBody(t, r, mustJSON(t, map[string]any{"active": true, "scope": "openid", "client_id": ts.ClientID, "sub": ts.ClientID,
				"exp": c["exp"], "iat": c["iat"], "iss": ts.URL, "aud": "userid-api", "token_type": "Bearer", "jti": c["jti"], "tid": c["tid"]}))
		})
		t.Run("resource_audience", func(t *testing.T) {
			// A token minted for one of the app's resources (its audience) is what a resource
			// server introspects: active, with that audience, and revocable.
			res := []string{"https://api.example.com"}
			if _, err := ts.Apps.UpdateApp(context.Background(), ts.App.ID, app.Update{Resources: &res}); err != nil {
				t.Fatal(err)
			}
			r := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "resource": {res[0]}}, ts.ClientID, ts.ClientSecret)
			tok := r.String("access_token")
			if tok == "" {
				t.Fatalf("resource token: %d %s", r.Status, r.Body)
			}
			o := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, tok).Object(t)
			if o["active"] != true || o["aud"] != res[0] {
				t.Fatalf("resource token introspection: %v", o)
			}
			revoke(t, ts.Stack, ts.ClientID, ts.ClientSecret, tok)
			assertInactive(t, introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, tok))
		})
		t.Run("refresh_token", func(t *testing.T) {
			r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, rt, "token_type_hint", "refresh_token")
			o := r.Object(t)
			exp := ts.Clock.Now().Add(time.Duration(ts.App.Settings.RefreshTokenTTLSeconds) * time.Second).Unix()
			if o["active"] != true || o["token_type"] != "refresh_token" || o["sub"] != uid || o["client_id"] != ts.ClientID ||
				o["sid"] != sid || o["session_id"] != sid || o["scope"] != "openid email phone" || o["iss"] != ts.URL ||
				o["exp"] != float64(exp) || o["iat"] != float64(ts.Clock.Now().Unix()) {
				t.Fatalf("refresh token introspection: %s (want exp %d)", r.Body, exp)
			}
		})
		foreign := ts.otherApp(t)
		inactive := map[string]func(t *testing.T) response{
			"garbage":  func(t *testing.T) response { return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, "garbage") },
			"id_token": func(t *testing.T) response { return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, idt) },
			"tampered": func(t *testing.T) response {
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, at[:len(at)-4]+"AAAA")
			},
			"other_apps_access_token": func(t *testing.T) response {
				return introspect(t, ts.Stack, foreign.ClientID, foreign.ClientSecret, at)
			},
			"other_apps_refresh_token": func(t *testing.T) response {
				return introspect(t, ts.Stack, foreign.ClientID, foreign.ClientSecret, rt)
			},
			"other_apps_client_token": func(t *testing.T) response {
				return introspect(t, ts.Stack, foreign.ClientID, foreign.ClientSecret, ts.ClientToken(t))
			},
			"rotated_refresh_token": func(t *testing.T) response {
				l := ts.otpLogin(t, "email", "in@example.com")
				old := l["refresh_token"].(string)
				r := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, ts.ClientID, ts.ClientSecret)
				if r.Status != http.StatusOK {
					t.Fatalf("refresh: %d %s", r.Status, r.Body)
				}
				if n := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, r.String("refresh_token")); n.Object(t)["active"] != true {
					t.Fatalf("the new refresh token: %s", n.Body)
				}
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, old)
			},
			"ended_session_access_token": func(t *testing.T) response {
				l := ts.otpLogin(t, "email", "in@example.com")
				if err := ts.Sessions.Logout(context.Background(), ts.App.ID, l["session_id"].(string)); err != nil {
					t.Fatal(err)
				}
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, l["access_token"].(string))
			},
			"ended_session_refresh_token": func(t *testing.T) response {
				l := ts.otpLogin(t, "email", "in@example.com")
				if err := ts.Sessions.Logout(context.Background(), ts.App.ID, l["session_id"].(string)); err != nil {
					t.Fatal(err)
				}
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, l["refresh_token"].(string))
			},
			"revoked_access_token": func(t *testing.T) response {
				l := ts.otpLogin(t, "email", "in@example.com")
				revoke(t, ts.Stack, ts.ClientID, ts.ClientSecret, l["access_token"].(string))
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, l["access_token"].(string))
			},
			"deleted_clients_token": func(t *testing.T) response {
				c2, err := ts.Apps.CreateClient(context.Background(), ts.App.ID, false)
				if err != nil {
					t.Fatal(err)
				}
				tok := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, c2.ClientID, c2.ClientSecret).String("access_token")
				if r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, tok); r.Object(t)["active"] != true {
					t.Fatalf("before deletion: %s", r.Body)
				}
				if err := ts.Apps.DeleteClient(context.Background(), ts.App.ID, c2.ClientID); err != nil {
					t.Fatal(err)
				}
				return introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, tok)
			},
		}
		for name, fn := range inactive {
			t.Run(name, func(t *testing.T) { assertInactive(t, fn(t)) })
		}
		// Last, as it moves the clock past every access token's expiry: the refresh token
		// (two weeks) stays active.
		t.Run("expired_access_token", func(t *testing.T) {
			ts.Clock.Advance(time.Hour + time.Minute)
			assertInactive(t, introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, at))
			if r := introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, rt); r.Object(t)["active"] != true {
				t.Fatalf("refresh token: %s", r.Body)
			}
		})
		t.Run("expired_refresh_token", func(t *testing.T) {
			ts.Clock.Advance(time.Duration(ts.App.Settings.RefreshTokenTTLSeconds) * time.Second)
			assertInactive(t, introspect(t, ts.Stack, ts.ClientID, ts.ClientSecret, rt))
		})
	})
}

// TestRevocationIntrospectionClientAuth: both endpoints authenticate the client as /oidc/token
// does, before they look at the token: a failed attempt revokes nothing.
func TestRevocationIntrospectionClientAuth(t *testing.T) {
	ts := sqliteServer(t)
	ts.CreateUser(t, ts.ClientToken(t), map[string]any{"email": "auth@example.com"})
	at := ts.otpLogin(t, "email", "auth@example.com")["access_token"].(string)
	for _, path := range []string{"/oidc/token/revocation", "/cis/oidc/token/revocation", "/oidc/token/introspection", "/cis/oidc/token/introspection"} {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			for name, r := range map[string]response{
				"wrong_secret_form":  ts.Form(t, path, url.Values{"token": {at}, "client_id": {ts.ClientID}, "client_secret": {"wrong"}}, "", ""),
				"wrong_secret_basic": ts.Form(t, path, url.Values{"token": {at}}, ts.ClientID, "wrong"),
				"unknown_client":     ts.Form(t, path, url.Values{"token": {at}}, "nobody", ts.ClientSecret),
				"no_client":          ts.Form(t, path, url.Values{"token": {at}}, "", ""),
				"no_secret":          ts.Form(t, path, url.Values{"token": {at}, "client_id": {ts.ClientID}}, "", ""),
			} {
				t.Run(name, func(t *testing.T) {
					assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
					if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
						t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
					}
				})
			}
			r := ts.Do(t, http.MethodPost, path, "", map[string]any{"token": at, "client_id": ts.ClientID, "client_secret": ts.ClientSecret})
			assertOAuthError(t, r, http.StatusBadRequest, "invalid_request")
			if !strings.HasPrefix(r.String("error_description"), "Content-Type:") {
				t.Errorf("JSON body: %s", r.Body)
			}
			r = ts.Form(t, path, url.Values{"client_id": {ts.ClientID}, "client_secret": {ts.ClientSecret}}, "", "")
			assertOAuthError(t, r, http.StatusBadRequest, "invalid_request")
			if r.String("error_description") != "token: is required" {
				t.Errorf("no token: %s", r.Body)
			}
		})
	}
	if r := bearerGet(t, ts.Stack, "/cis/oidc/me", at); r.Status != http.StatusOK {
		t.Fatalf("the token after refused revocations: %d %s", r.Status, r.Body)
	}
}

// TestDiscoveryOIDCProvider: discovery lists every endpoint of the provider and what it
// supports; every endpoint served by this node answers (not 404).
func TestDiscoveryOIDCProvider(t *testing.T) {
	ts := sqliteServer(t)
	d := ts.Do(t, http.MethodGet, "/.well-known/openid-configuration", "", nil).Object(t)
	endpoints := map[string]string{
		"authorization_endpoint": "/cis/oidc/auth",
		"token_endpoint":         "/oidc/token",
		"userinfo_endpoint":      "/cis/oidc/me",
		"jwks_uri":               "/cis/oidc/jwks",
		"end_session_endpoint":   "/cis/oidc/session/end",
		"revocation_endpoint":    "/oidc/token/revocation",
		"introspection_endpoint": "/oidc/token/introspection",
	}
	for field, path := range endpoints {
		if d[field] != ts.URL+path {
			t.Errorf("%s = %v, want %s", field, d[field], ts.URL+path)
		}
	}
	lists := map[string][]string{
		"code_challenge_methods_supported":              {"S256"},
		"response_modes_supported":                      {"query", "form_post"},
		"response_types_supported":                      {"code"},
		"prompt_values_supported":                       {"none", "login", "consent"},
		"acr_values_supported":                          {"mfa"},
		"scopes_supported":                              {"openid", "email", "phone", "offline_access"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "none"},
		"subject_types_supported":                       {"public"},
	}
	for field, want := range lists {
		if got := mustJSON(t, d[field]); got != mustJSON(t, want) {
			t.Errorf("%s = %s, want %s", field, got, mustJSON(t, want))
		}
	}
	claims := mustJSON(t, d["claims_supported"])
	for _, c := range []string{"sub", "auth_time", "amr", "acr", "nonce", "sid", "at_hash", "email", "email_verified", "phone_number", "phone_number_verified"} {
		if !strings.Contains(claims, `"`+c+`"`) {
			t.Errorf("claims_supported lacks %s: %s", c, claims)
		}
	}
	if d["request_uri_parameter_supported"] != false || d["request_parameter_supported"] != false {
		t.Errorf("request objects: %v %v, want false (not supported)", d["request_parameter_supported"], d["request_uri_parameter_supported"])
	}
	// The endpoints of this node answer (authorization and end-session come with the sign-in
	// pages and are only listed here); so do their other paths.
	for _, probe := range []struct{ method, path string }{
		{"POST", "/oidc/token"}, {"GET", "/cis/oidc/jwks"}, {"GET", "/cis/oidc/me"}, {"POST", "/cis/oidc/me"}, {"GET", "/oidc/me"}, {"POST", "/oidc/me"},
		{"POST", "/oidc/token/revocation"}, {"POST", "/cis/oidc/token/revocation"},
		{"POST", "/oidc/token/introspection"}, {"POST", "/cis/oidc/token/introspection"},
	} {
		r := ts.Do(t, probe.method, probe.path, "", nil)
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed || r.Status >= 500 {
			t.Errorf("%s %s: %d %s", probe.method, probe.path, r.Status, r.Body)
		}
	}
}

// mustJSON marshals v (maps with sorted keys) for comparisons.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOIDCFormInput: bad form input at UserInfo, revocation and introspection is a 400 naming
// the field, on both engines (PostgreSQL refuses NUL and invalid UTF-8), never a 500.
func TestOIDCFormInput(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		for _, path := range []string{"/oidc/token/revocation", "/cis/oidc/token/introspection", "/oidc/me"} {
			for name, tc := range map[string]struct{ body, field string }{
				"nul":       {url.Values{"token": {"a\x00b"}, "access_token": {"a\x00b"}}.Encode(), "token"},
				"bad_utf8":  {url.Values{"token": {"\xff"}, "access_token": {"\xff"}}.Encode(), "token"},
				"malformed": {"token=%zz&access_token=%zz", "body"},
			} {
				t.Run(strings.ReplaceAll(path, "/", "_")+"/"+name, func(t *testing.T) {
					headers := []string{"Content-Type", "application/x-www-form-urlencoded"}
					if !strings.HasSuffix(path, "/me") { // UserInfo takes the token from the form
						headers = append(headers, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ts.ClientID+":"+ts.ClientSecret)))
					}
					r := ts.Do(t, http.MethodPost, path, "", tc.body, headers...)
					if r.Status != http.StatusBadRequest {
						t.Fatalf("%d %s, want 400", r.Status, r.Body)
					}
					msg := r.String("message")
					if !strings.HasPrefix(msg, tc.field) && !strings.HasPrefix(msg, "access_token") {
						t.Errorf("message %q does not name the field", msg)
					}
				})
			}
		}
	})
}
