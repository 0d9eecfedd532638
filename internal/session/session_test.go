package session_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/session"
)

// TestRefreshRotation: every refresh returns a new refresh token; presenting a rotated one is
// refused and revokes the whole session, the newest refresh token and the access tokens included.
func TestRefreshRotation(t *testing.T) {
	eachEngine(t, func(t *testing.T, dsn string) {
		n := startNode(t, dsn, latchtest.Options{})
		for _, rf := range refreshers {
			t.Run(rf.name, func(t *testing.T) {
				first := n.login(t, nil)
				idFirst := n.verify(t, first.IDToken)

				r1 := decodeUserTokens(t, rf.do(t, n, first.RefreshToken))
				r2 := decodeUserTokens(t, rf.do(t, n, r1.RefreshToken))
				for i, r := range []userTokens{r1, r2} {
					if r.RefreshToken == first.RefreshToken || r.AccessToken == first.AccessToken || r.SessionID != first.SessionID {
						t.Errorf("refresh %d: want new tokens of the same session %s, got session %s", i+1, first.SessionID, r.SessionID)
					}
					id := n.verify(t, r.IDToken)
					for _, k := range []string{"sub", "sid", "aud", "auth_time", "email"} {
						if !reflect.DeepEqual(id[k], idFirst[k]) {
							t.Errorf("refresh %d: ID token %s = %v, want %v", i+1, k, id[k], idFirst[k])
						}
					}
					if !reflect.DeepEqual(id["amr"], idFirst["amr"]) {
						t.Errorf("refresh %d: amr %v, want %v (a refresh adds no factor)", i+1, id["amr"], idFirst["amr"])
					}
				}
				if r1.RefreshToken == r2.RefreshToken {
					t.Fatalf("two refreshes returned the same refresh token")
				}
				if r := n.sessionAuthenticate(t, first.SessionID); r.Status != http.StatusOK {
					t.Errorf("the session is not live after two refreshes: %d %s", r.Status, r.Body)
				}
			})
			t.Run(rf.name+"/reuse_revokes_the_session", func(t *testing.T) {
				first := n.login(t, nil)
				r1 := decodeUserTokens(t, rf.do(t, n, first.RefreshToken))
				r2 := decodeUserTokens(t, rf.do(t, n, r1.RefreshToken))

				wantJSON(t, rf.do(t, n, first.RefreshToken), http.StatusBadRequest, rf.refused) // reuse
				wantJSON(t, rf.do(t, n, r2.RefreshToken), http.StatusBadRequest, rf.refused)    // the newest is dead too
				wantJSON(t, n.sessionAuthenticate(t, first.SessionID), http.StatusNotFound, sessionNotFound)
				n.userRouteRefuses(t, r2.AccessToken)
				n.userRouteRefuses(t, first.AccessToken)
				wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{"session_id": first.SessionID}),
					http.StatusNotFound, sessionNotFound)
			})
		}
		t.Run("rotated_at_one_endpoint_reused_at_the_other", func(t *testing.T) {
			first := n.login(t, nil)
			r1 := decodeUserTokens(t, refreshers[0].do(t, n, first.RefreshToken))
			wantJSON(t, refreshers[1].do(t, n, first.RefreshToken), http.StatusBadRequest, refreshers[1].refused)
			wantJSON(t, refreshers[0].do(t, n, r1.RefreshToken), http.StatusBadRequest, refreshers[0].refused)
		})
		t.Run("unknown_refresh_token", func(t *testing.T) {
			for _, rf := range refreshers {
				wantJSON(t, rf.do(t, n, "no-such-token"), http.StatusBadRequest, rf.refused)
			}
		})
	})
}

// TestRefreshKeepsWhatTheLoginAskedFor: the resource (access token audience) and the claims
// request of the login hold for every refreshed token, not only the first.
func TestRefreshKeepsWhatTheLoginAskedFor(t *testing.T) {
	n := sqliteNode(t)
	const resource = "https://api.example.com"
	creds, err := n.Apps.CreateApp(context.Background(), app.NewApp{Name: "with-resource", RedirectURIs: []string{"https://app.example.com/cb"},
		AllowSignup: true, Resources: []string{resource}})
	if err != nil {
		t.Fatal(err)
	}
	ctok := n.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, creds.ClientID, creds.ClientSecret).String("access_token")
	rn := &node{Stack: n.Stack, token: ctok}
	st := *n.Stack
	st.ClientID, st.ClientSecret = creds.ClientID, creds.ClientSecret
	rn.Stack = &st
	email := uniqueEmail()
	rn.CreateUser(t, ctok, map[string]any{"email": email})
	tok := rn.loginAs(t, ctok, email, map[string]any{"resource": resource, "claims": map[string]any{"id_token": map[string]any{"email_verified": nil}}})
	for _, rf := range refreshers {
		for i := 0; i < 3; i++ {
			at := rn.verify(t, tok.AccessToken)
			id := rn.verify(t, tok.IDToken)
			if at["aud"] != resource {
				t.Errorf("%s, generation %d: access token aud = %v, want %s", rf.name, i, at["aud"], resource)
			}
			if _, ok := id["email_verified"]; !ok {
				t.Errorf("%s, generation %d: the requested email_verified claim is missing", rf.name, i)
			}
			tok = decodeUserTokens(t, rf.do(t, rn, tok.RefreshToken))
		}
	}
}

// TestRefreshByAnotherClient: a refresh token works only for the client it was issued to; another
// client's attempt is refused without revoking the session.
func TestRefreshByAnotherClient(t *testing.T) {
	n := sqliteNode(t)
	other, err := n.Apps.CreateClient(context.Background(), n.App.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	tok := n.login(t, nil)
	r := n.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, other.ClientID, other.ClientSecret)
	wantJSON(t, r, http.StatusBadRequest, refreshers[1].refused)
	r = n.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, n.ClientID, "wrong-secret")
	if r.Status != http.StatusUnauthorized || r.String("error") != "invalid_client" {
		t.Errorf("bad client secret: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
	next := decodeUserTokens(t, refreshers[1].do(t, n, tok.RefreshToken))
	if next.SessionID != tok.SessionID {
		t.Errorf("session %s, want %s", next.SessionID, tok.SessionID)
	}
}

// TestRefreshLifetime: refresh tokens live 14 days and the session slides with each refresh.
func TestRefreshLifetime(t *testing.T) {
	n := sqliteNode(t)
	t.Run("expired_after_14_days", func(t *testing.T) {
		tok := n.login(t, nil)
		n.Clock.Advance(session.TTL)
		n.token = n.ClientToken(t)
		wantJSON(t, refreshers[0].do(t, n, tok.RefreshToken), http.StatusBadRequest, refreshers[0].refused)
	})
	t.Run("sliding", func(t *testing.T) {
		tok := n.login(t, nil)
		for i := 0; i < 3; i++ { // 39 days in all, each step within the 14 days of the newest token
			n.Clock.Advance(13 * 24 * time.Hour)
			n.token = n.ClientToken(t)
			tok = decodeUserTokens(t, refreshers[0].do(t, n, tok.RefreshToken))
		}
		if r := n.sessionAuthenticate(t, tok.SessionID); r.Status != http.StatusOK {
			t.Errorf("session after sliding refreshes: %d %s", r.Status, r.Body)
		}
	})
}

// TestSessionLogout: POST /cis/v1/auth/session/logout answers exactly 204 with no body; after it
// the session's refresh and access tokens are refused; an unknown or ended session is a 404.
func TestSessionLogout(t *testing.T) {
	eachEngine(t, func(t *testing.T, dsn string) {
		n := startNode(t, dsn, latchtest.Options{})
		for _, rf := range refreshers {
			t.Run("then_refresh_at_"+rf.name, func(t *testing.T) {
				tok := n.login(t, nil)
				r := n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{"session_id": tok.SessionID})
				if r.Status != http.StatusNoContent || len(r.Body) != 0 {
					t.Fatalf("logout: %d %q, want exactly 204 with no body", r.Status, r.Body)
				}
				if ct := r.Header.Get("Content-Type"); ct != "" {
					t.Errorf("204 with Content-Type %q", ct)
				}
				wantJSON(t, rf.do(t, n, tok.RefreshToken), http.StatusBadRequest, rf.refused)
				n.userRouteRefuses(t, tok.AccessToken)
				wantJSON(t, n.sessionAuthenticate(t, tok.SessionID), http.StatusNotFound, sessionNotFound)
				wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{"session_id": tok.SessionID}),
					http.StatusNotFound, sessionNotFound)
			})
		}
		t.Run("unknown_session", func(t *testing.T) {
			wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{"session_id": "no-such-session"}),
				http.StatusNotFound, sessionNotFound)
		})
		t.Run("missing_session_id", func(t *testing.T) {
			r := n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{})
			if r.Status != http.StatusBadRequest || r.String("error_code") != "system_invalid_input" {
				t.Errorf("no session_id: %d %s, want 400 system_invalid_input", r.Status, r.Body)
			}
		})
		t.Run("session_of_another_app", func(t *testing.T) {
			tok := n.login(t, nil)
			creds, err := n.Apps.CreateApp(context.Background(), app.NewApp{Name: "other", RedirectURIs: []string{"https://o.example.com/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			otherTok := n.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, creds.ClientID, creds.ClientSecret).String("access_token")
			wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", otherTok, map[string]any{"session_id": tok.SessionID}),
				http.StatusNotFound, sessionNotFound)
			wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", otherTok, map[string]any{"session_id": tok.SessionID}),
				http.StatusNotFound, sessionNotFound)
			decodeUserTokens(t, refreshers[0].do(t, n, tok.RefreshToken)) // untouched
		})
	})
}

// TestUserLogout: POST /cis/v1/auth/logout with the user's access token ends that session.
func TestUserLogout(t *testing.T) {
	eachEngine(t, func(t *testing.T, dsn string) {
		n := startNode(t, dsn, latchtest.Options{})
		tok := n.login(t, nil)
		other := n.login(t, nil) // another session stays live
		wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/logout", tok.AccessToken, nil), http.StatusOK, map[string]any{"sessions_count": float64(1)})
		n.userRouteRefuses(t, tok.AccessToken)
		for _, rf := range refreshers {
			wantJSON(t, rf.do(t, n, tok.RefreshToken), http.StatusBadRequest, rf.refused)
		}
		wantJSON(t, n.sessionAuthenticate(t, tok.SessionID), http.StatusNotFound, sessionNotFound)
		wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/session/logout", n.token, map[string]any{"session_id": tok.SessionID}),
			http.StatusNotFound, sessionNotFound)

		decodeUserTokens(t, refreshers[1].do(t, n, other.RefreshToken))
		n.userRouteRefuses(t, n.token) // a client token is not a user token
		wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/logout", "", nil), http.StatusUnauthorized, invalidToken)
	})
}

// TestSessionAuthenticate: new tokens for a live session, same session, no new factor.
func TestSessionAuthenticate(t *testing.T) {
	eachEngine(t, func(t *testing.T, dsn string) {
		n := startNode(t, dsn, latchtest.Options{})
		tok := n.login(t, nil)
		before := n.verify(t, tok.IDToken)
		n.Clock.Advance(time.Minute)
		again := decodeUserTokens(t, n.sessionAuthenticate(t, tok.SessionID))
		after := n.verify(t, again.IDToken)
		if again.SessionID != tok.SessionID || after["sid"] != before["sid"] {
			t.Errorf("session %s sid %v, want %s", again.SessionID, after["sid"], tok.SessionID)
		}
		for _, k := range []string{"amr", "auth_time", "sub", "aud"} {
			if !reflect.DeepEqual(after[k], before[k]) {
				t.Errorf("%s = %v, want %v unchanged", k, after[k], before[k])
			}
		}
		if after["iat"] == before["iat"] || again.AccessToken == tok.AccessToken || again.RefreshToken == tok.RefreshToken {
			t.Errorf("want newly issued tokens")
		}
		if at := n.verify(t, again.AccessToken); at["sid"] != tok.SessionID {
			t.Errorf("access token sid %v", at["sid"])
		}
		decodeUserTokens(t, refreshers[0].do(t, n, again.RefreshToken))
		wantJSON(t, n.sessionAuthenticate(t, "no-such-session"), http.StatusNotFound, sessionNotFound)
		r := n.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", n.token, map[string]any{})
		if r.Status != http.StatusBadRequest {
			t.Errorf("no session_id: %d %s, want 400", r.Status, r.Body)
		}
	})
}

// TestConcurrentRefresh: of concurrent refreshes of one token exactly one succeeds, on one node
// and on two nodes sharing one database.
func TestConcurrentRefresh(t *testing.T) {
	eachEngine(t, func(t *testing.T, dsn string) {
		first := startNode(t, dsn, latchtest.Options{})
		secondStack := latchtest.Start(t, "", latchtest.Options{Store: first.Store, Key: first.Key})
		// The second node is given the first node's client: one store, so it is valid on both.
		st := *secondStack
		st.ClientID, st.ClientSecret = first.ClientID, first.ClientSecret
		second := &node{Stack: &st}
		second.token = second.ClientToken(t)

		for _, tc := range []struct {
			name  string
			nodes []*node
			n     int
		}{
			{"two_on_one_node", []*node{first}, 2},
			{"eight_on_one_node", []*node{first}, 8},
			{"two_on_two_nodes", []*node{first, second}, 2},
			{"eight_on_two_nodes", []*node{first, second}, 8},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for round := 0; round < 3; round++ {
					tok := first.login(t, nil)
					reqs := make([]*http.Request, tc.n)
					for i := range reqs {
						reqs[i] = tc.nodes[i%len(tc.nodes)].refreshRequest(t, (i/len(tc.nodes))%2, tok.RefreshToken)
					}
					statuses := latchtest.Concurrently(first.Client, reqs)
					ok := 0
					for _, s := range statuses {
						switch s {
						case http.StatusOK:
							ok++
						case http.StatusBadRequest:
						default:
							t.Errorf("status %d, want 200 or 400", s)
						}
					}
					if ok != 1 {
						t.Errorf("round %d: %d of %d concurrent refreshes succeeded (%v), want exactly 1", round, ok, tc.n, statuses)
					}
				}
			})
		}
	})
}
