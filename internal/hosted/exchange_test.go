package hosted_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
)

// exchanger is one of the two exchange endpoints, with the exact error bodies it answers.
type exchanger struct {
	name          string
	do            func(t *testing.T, e *env, clientID, secret, code, redirect string) latchtest.Response
	invalidGrant  map[string]any
	invalidClient map[string]any
}

var exchangers = []exchanger{
	{
		name: "oidc_token",
		do: func(t *testing.T, e *env, clientID, secret, code, redirect string) latchtest.Response {
			return e.exchangeOIDC(t, clientID, secret, code, redirect)
		},
		invalidGrant: oidcInvalidGrant, invalidClient: oidcInvalidClient,
	},
	{
		name: "cis_token",
		do: func(t *testing.T, e *env, clientID, secret, code, _ string) latchtest.Response {
			return e.exchangeCIS(t, clientID, secret, code)
		},
		invalidGrant: cisInvalidGrant, invalidClient: cisInvalidClient,
	},
}

func (x exchanger) ok(t *testing.T, e *env, code string) tokens {
	t.Helper()
	tok := decodeTokens(t, x.do(t, e, e.ClientID, e.ClientSecret, code, e.redirect))
	e.checkIDToken(t, tok.IDToken, tok.AccessToken, e.ClientID)
	return tok
}

// TestCodeExchangeRefusals: every way an exchange can be refused, with the exact status and
// body, and whether the code is still usable by the rightful client afterwards.
func TestCodeExchangeRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		other, err := e.Apps.CreateClient(t.Context(), e.App.ID, false) // a second client of the same app
		if err != nil {
			t.Fatal(err)
		}
		otherApp, _ := e.newApp(t, app.NewApp{Name: "other", RedirectURIs: []string{e.redirect}, AllowSignup: true})

		for _, x := range exchangers {
			for _, y := range exchangers {
				t.Run(x.name+"/code_reused_at_"+y.name, func(t *testing.T) {
					code := e.codeFor(t, uniqueEmail("reuse"))
					x.ok(t, e, code)
					wantJSON(t, y.do(t, e, e.ClientID, e.ClientSecret, code, e.redirect), http.StatusBadRequest, y.invalidGrant)
				})
			}

			// Refusals that must leave the code usable.
			for _, tc := range []struct {
				name         string
				clientID     string
				secret       string
				redirect     string
				status       int
				body         map[string]any
				onlyOIDC     bool
				consumesCode bool
			}{
				{name: "bad_client_secret", clientID: e.ClientID, secret: "not-the-secret", redirect: e.redirect,
					status: http.StatusUnauthorized, body: x.invalidClient},
				{name: "unknown_client", clientID: "no-such-client", secret: e.ClientSecret, redirect: e.redirect,
					status: http.StatusUnauthorized, body: x.invalidClient},
				{name: "other_client_of_the_app", clientID: other.ClientID, secret: other.ClientSecret, redirect: e.redirect,
					status: http.StatusBadRequest, body: x.invalidGrant},
				{name: "client_of_another_app", clientID: otherApp.ClientID, secret: otherApp.ClientSecret, redirect: e.redirect,
					status: http.StatusBadRequest, body: x.invalidGrant},
				{name: "wrong_redirect_uri", clientID: e.ClientID, secret: e.ClientSecret, redirect: e.redirect + "/elsewhere",
					status: http.StatusBadRequest, body: x.invalidGrant, onlyOIDC: true},
			} {
				if tc.onlyOIDC && x.name != "oidc_token" {
					continue
				}
				t.Run(x.name+"/"+tc.name+"/code_still_usable", func(t *testing.T) {
					code := e.codeFor(t, uniqueEmail(tc.name))
					r := x.do(t, e, tc.clientID, tc.secret, code, tc.redirect)
					wantJSON(t, r, tc.status, tc.body)
					if tc.status == http.StatusUnauthorized && x.name == "oidc_token" && r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					x.ok(t, e, code)
				})
			}

			t.Run(x.name+"/expired_code", func(t *testing.T) {
				code := e.codeFor(t, uniqueEmail("expired"))
				e.Clock.Advance(6 * time.Minute)
				wantJSON(t, x.do(t, e, e.ClientID, e.ClientSecret, code, e.redirect), http.StatusBadRequest, x.invalidGrant)
			})
			t.Run(x.name+"/unknown_code", func(t *testing.T) {
				wantJSON(t, x.do(t, e, e.ClientID, e.ClientSecret, "no-such-code", e.redirect), http.StatusBadRequest, x.invalidGrant)
			})
		}

		t.Run("code_lives_five_minutes", func(t *testing.T) {
			code := e.codeFor(t, uniqueEmail("fresh"))
			e.Clock.Advance(5*time.Minute - time.Second)
			exchangers[0].ok(t, e, code)
		})
		t.Run("missing_fields", func(t *testing.T) {
			code := e.codeFor(t, uniqueEmail("missing"))
			r := e.Form(t, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}}, e.ClientID, e.ClientSecret)
			if r.Status != http.StatusBadRequest || r.String("error") != "invalid_request" {
				t.Errorf("no redirect_uri: %d %s, want 400 invalid_request", r.Status, r.Body)
			}
			r = e.Form(t, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {e.redirect}}, e.ClientID, e.ClientSecret)
			if r.Status != http.StatusBadRequest || r.String("error") != "invalid_request" {
				t.Errorf("no code: %d %s, want 400 invalid_request", r.Status, r.Body)
			}
			exchangers[1].ok(t, e, code)
		})
		t.Run("form_client_authentication", func(t *testing.T) {
			code := e.codeFor(t, uniqueEmail("form"))
			r := e.Form(t, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.redirect},
				"client_id": {e.ClientID}, "client_secret": {e.ClientSecret}}, "", "")
			tok := decodeTokens(t, r)
			e.checkIDToken(t, tok.IDToken, tok.AccessToken, e.ClientID)
		})
	})
}

// TestCodeExchangeConcurrent: of concurrent exchanges of one code, across both endpoints,
// exactly one succeeds.
func TestCodeExchangeConcurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		for round := 0; round < 3; round++ {
			code := e.codeFor(t, uniqueEmail("race"))
			const n = 6
			reqs := make([]*http.Request, n)
			for i := range reqs {
				if i%2 == 0 {
					reqs[i] = formRequest(t, e.URL+"/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
						"redirect_uri": {e.redirect}, "client_id": {e.ClientID}, "client_secret": {e.ClientSecret}})
				} else {
					reqs[i] = jsonRequest(t, e.URL+"/cis/v1/token", map[string]any{"code": code, "client_id": e.ClientID, "client_secret": e.ClientSecret})
				}
			}
			statuses := latchtest.Concurrently(e.Client, reqs)
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
				t.Errorf("round %d: %d of %d concurrent exchanges succeeded (%v), want exactly 1", round, ok, n, statuses)
			}
		}
	})
}
