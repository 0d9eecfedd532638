package hosted_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
)

// TestHostedFlowEndToEnd walks every hosted method over HTTP: send → outbox → validation → GET
// the result without following → exchange at /oidc/token or /cis/v1/token → tokens that verify
// against the JWKS, with nonce, approval_data and is_user_created / new_user right.
func TestHostedFlowEndToEnd(t *testing.T) {
	approval := map[string]any{"transaction_id": "tx-42", "sum": "200"}
	cases := []struct {
		name          string
		existing      bool // the user exists before the flow
		nonceAtSend   string
		nonceAtCheck  string // given at validation (OTP flows only); wins over the one at send
		approval      map[string]any
		wantNonce     string
		wantApproval  map[string]any
		wantCreated   bool
		skipForLinks  bool
		validateExtra map[string]any
	}{
		{name: "existing_user_nonce_at_send", existing: true, nonceAtSend: "n-send", approval: approval, wantNonce: "n-send", wantApproval: approval},
		{name: "new_user_created", nonceAtSend: "n-new", wantNonce: "n-new", wantCreated: true},
		{name: "nonce_at_validation", existing: true, nonceAtSend: "n-first", nonceAtCheck: "n-check", wantNonce: "n-check", skipForLinks: true},
		{name: "no_nonce_no_approval", existing: true},
	}
	eachEngine(t, func(t *testing.T, e *env) {
		for _, f := range flows {
			for _, tc := range cases {
				if tc.skipForLinks && f.validate == "" {
					continue
				}
				for _, endpoint := range []string{"oidc_token", "cis_token"} {
					t.Run(f.name+"/"+tc.name+"/"+endpoint, func(t *testing.T) {
						field, value := f.identifier()
						wantUser := ""
						if tc.existing {
							wantUser = e.CreateUser(t, e.token, map[string]any{field: value})
						}
						send := map[string]any{"create_new_user": !tc.existing, "state": "st-" + tc.name}
						if tc.nonceAtSend != "" {
							send["nonce"] = tc.nonceAtSend
						}
						if tc.approval != nil {
							send["approval_data"] = tc.approval
						}
						sent := e.Do(t, http.MethodPost, f.send, e.token, e.startBody(field, value, send))
						if sent.Status != http.StatusOK || sent.String("message") == "" {
							t.Fatalf("send: %d %s", sent.Status, sent.Body)
						}
						if f.validate != "" && tc.approval != nil && !reflect.DeepEqual(sent.JSON()["approval_data"], tc.approval) {
							t.Errorf("send response %s: want approval_data echoed", sent.Body)
						}
						var result string
						if f.validate == "" {
							result = e.linkFor(t, strings.ToLower(value))
						} else {
							check := map[string]any{field: value, "passcode": e.passcodeFor(t, strings.ToLower(value))}
							if tc.nonceAtCheck != "" {
								check["nonce"] = tc.nonceAtCheck
							}
							v := e.Do(t, http.MethodPost, f.validate, e.token, check)
							if v.Status != http.StatusOK {
								t.Fatalf("validation: %d %s", v.Status, v.Body)
							}
							result = v.String("result")
						}

						loc := e.follow(t, result)
						code := loc.Query().Get("code")
						if code == "" || loc.Query().Get("state") != "st-"+tc.name {
							t.Fatalf("redirect %s: want code and state", loc)
						}
						if again := e.follow(t, result); again.String() != loc.String() {
							t.Errorf("a second GET redirects to %s, want %s (a GET consumes nothing)", again, loc)
						}

						var tok tokens
						if endpoint == "oidc_token" {
							tok = decodeTokens(t, e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect))
							if tok.TokenType != "Bearer" || tok.ExpiresIn != float64(3600) {
								t.Errorf("token_type %q expires_in %v, want Bearer and the number 3600", tok.TokenType, tok.ExpiresIn)
							}
						} else {
							tok = decodeTokens(t, e.exchangeCIS(t, e.ClientID, e.ClientSecret, code))
							if tok.IsUserCreated == nil || *tok.IsUserCreated != tc.wantCreated {
								t.Errorf("is_user_created = %v, want %v", tok.IsUserCreated, tc.wantCreated)
							}
						}

						id := e.checkIDToken(t, tok.IDToken, tok.AccessToken, e.ClientID)
						at := e.verify(t, tok.AccessToken)
						if tc.wantNonce == "" {
							if _, ok := id["nonce"]; ok {
								t.Errorf("nonce %v in an ID token of a flow without one", id["nonce"])
							}
						} else if id["nonce"] != tc.wantNonce {
							t.Errorf("nonce = %v, want %s", id["nonce"], tc.wantNonce)
						}
						if tc.wantApproval == nil {
							if _, ok := id["approval_data"]; ok {
								t.Errorf("approval_data %v without one in the request", id["approval_data"])
							}
						} else if !reflect.DeepEqual(id["approval_data"], tc.wantApproval) {
							t.Errorf("approval_data = %v, want %v", id["approval_data"], tc.wantApproval)
						}
						if nu, _ := id["new_user"].(bool); nu != tc.wantCreated {
							t.Errorf("new_user = %v, want %v", id["new_user"], tc.wantCreated)
						}
						if amr, _ := id["amr"].([]any); len(amr) != 1 || amr[0] != f.amr {
							t.Errorf("amr = %v, want [%s]", id["amr"], f.amr)
						}
						if want := strings.ToLower(value); id[field] != want {
							t.Errorf("%s claim = %v, want %s", field, id[field], want)
						}
						if at["sub"] != id["sub"] || at["sid"] != id["sid"] || at["client_id"] != e.ClientID || at["aud"] != "userid-api" {
							t.Errorf("access token sub %v sid %v client_id %v aud %v; ID token sub %v sid %v",
								at["sub"], at["sid"], at["client_id"], at["aud"], id["sub"], id["sid"])
						}

						// The user the tokens name is the one the identifier resolves to now.
						path := "/cis/v1/users/email/" + url.PathEscape(strings.ToLower(value))
						if f.sms {
							path = "/cis/v1/users/phone-number/" + url.PathEscape(value)
						}
						u := e.Do(t, http.MethodGet, path, e.token, nil)
						res, _ := u.JSON()["result"].(map[string]any)
						if u.Status != http.StatusOK || res["user_id"] != id["sub"] {
							t.Errorf("GET %s: %d %s; want the user %v", path, u.Status, u.Body, id["sub"])
						}
						if wantUser != "" && id["sub"] != wantUser {
							t.Errorf("sub = %v, want the existing user %s", id["sub"], wantUser)
						}

						// The user access token is accepted by Latch's own user routes.
						if r := e.Do(t, http.MethodPost, "/cis/v1/auth/logout", tok.AccessToken, nil); r.Status != http.StatusOK {
							t.Errorf("user token refused by /cis/v1/auth/logout: %d %s", r.Status, r.Body)
						}
					})
				}
			}
		}
	})
}

// TestHostedUserCreationRules: create_new_user needs an app that allows sign-up; without it an
// unknown identifier is a 404; an existing user is never "created".
func TestHostedUserCreationRules(t *testing.T) {
	e := sqliteEnv(t)
	noSignup, noSignupToken := e.newApp(t, app.NewApp{Name: "closed", RedirectURIs: []string{e.redirect}, AllowSignup: false})
	for _, f := range flows {
		t.Run(f.name+"/unknown_user_without_create_new_user", func(t *testing.T) {
			field, value := f.identifier()
			r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody(field, value, map[string]any{"create_new_user": false}))
			wantJSON(t, r, http.StatusNotFound, map[string]any{"error_code": "user_not_found", "message": "User not found"})
			if n := len(e.Outbox(t, strings.ToLower(value))); n != 0 {
				t.Errorf("%d messages sent to an unknown user", n)
			}
		})
		t.Run(f.name+"/app_without_signup", func(t *testing.T) {
			field, value := f.identifier()
			r := e.Do(t, http.MethodPost, f.send, noSignupToken, e.startBody(field, value, map[string]any{"create_new_user": true}))
			if r.Status != http.StatusForbidden || r.String("error_code") != "signup_not_allowed" {
				t.Errorf("send: %d %s, want 403 signup_not_allowed", r.Status, r.Body)
			}
			if n := len(e.Outbox(t, strings.ToLower(value))); n != 0 {
				t.Errorf("%d messages sent although sign-up is closed", n)
			}
		})
		t.Run(f.name+"/existing_user_on_app_without_signup", func(t *testing.T) {
			field, value := f.identifier()
			userID := e.CreateUser(t, e.token, map[string]any{field: value})
			closed := &env{Stack: e.Stack, token: noSignupToken, redirect: e.redirect}
			loc := closed.follow(t, closed.begin(t, f, field, value, map[string]any{"create_new_user": true}, nil))
			tok := decodeTokens(t, e.exchangeCIS(t, noSignup.ClientID, noSignup.ClientSecret, loc.Query().Get("code")))
			if tok.IsUserCreated == nil || *tok.IsUserCreated {
				t.Errorf("is_user_created = %v, want false", tok.IsUserCreated)
			}
			if c := e.checkIDToken(t, tok.IDToken, tok.AccessToken, noSignup.ClientID); c["sub"] != userID {
				t.Errorf("sub = %v, want %s", c["sub"], userID)
			}
		})
		t.Run(f.name+"/second_login_of_a_created_user", func(t *testing.T) {
			field, value := f.identifier()
			first := e.follow(t, e.begin(t, f, field, value, map[string]any{"create_new_user": true}, nil))
			tok := decodeTokens(t, e.exchangeCIS(t, e.ClientID, e.ClientSecret, first.Query().Get("code")))
			if tok.IsUserCreated == nil || !*tok.IsUserCreated {
				t.Fatalf("first login: is_user_created = %v, want true", tok.IsUserCreated)
			}
			e.Clock.Advance(time.Minute) // past any per-identifier send interval
			second := e.follow(t, e.begin(t, f, field, value, map[string]any{"create_new_user": true}, nil))
			tok2 := decodeTokens(t, e.exchangeCIS(t, e.ClientID, e.ClientSecret, second.Query().Get("code")))
			if tok2.IsUserCreated == nil || *tok2.IsUserCreated {
				t.Errorf("second login: is_user_created = %v, want false", tok2.IsUserCreated)
			}
			if e.verify(t, tok2.IDToken)["sub"] != e.verify(t, tok.IDToken)["sub"] {
				t.Errorf("the second login names another user")
			}
		})
	}
}

// TestHostedResponseTypeIDToken: with response_type id_token the result URI redirects with the ID
// token itself (nonce inside), and its code is spent: it cannot be exchanged afterwards.
func TestHostedResponseTypeIDToken(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		for _, f := range flows {
			if f.validate == "" {
				continue // response_type is a validation field of the OTP flows
			}
			for _, tc := range []struct{ name, atSend, atCheck, want string }{
				{"nonce_at_validation", "", "n-val", "n-val"},
				{"nonce_at_send", "n-send", "", "n-send"},
			} {
				t.Run(f.name+"/"+tc.name, func(t *testing.T) {
					field, value := f.identifier()
					send := map[string]any{"create_new_user": true, "state": "s1", "approval_data": map[string]any{"k": "v"}}
					if tc.atSend != "" {
						send["nonce"] = tc.atSend
					}
					check := map[string]any{"response_type": "id_token"}
					if tc.atCheck != "" {
						check["nonce"] = tc.atCheck
					}
					result := e.begin(t, f, field, value, send, check)
					loc := e.follow(t, result)
					q := loc.Query()
					if q.Has("code") || q.Get("state") != "s1" || q.Get("id_token") == "" {
						t.Fatalf("redirect %s: want id_token and state, no code", loc)
					}
					c := e.checkIDToken(t, q.Get("id_token"), "", e.ClientID)
					if c["nonce"] != tc.want {
						t.Errorf("nonce = %v, want %s", c["nonce"], tc.want)
					}
					if nu, _ := c["new_user"].(bool); !nu {
						t.Errorf("new_user = %v, want true", c["new_user"])
					}
					if !reflect.DeepEqual(c["approval_data"], map[string]any{"k": "v"}) {
						t.Errorf("approval_data = %v", c["approval_data"])
					}
					if c[field] != strings.ToLower(value) {
						t.Errorf("%s = %v, want %s", field, c[field], strings.ToLower(value))
					}
					code, _ := url.ParseQuery(strings.SplitN(result, "?", 2)[1])
					wantJSON(t, e.exchangeCIS(t, e.ClientID, e.ClientSecret, code.Get("code")), http.StatusBadRequest, cisInvalidGrant)
					second := e.Do(t, http.MethodGet, result, "", nil)
					if second.Status != http.StatusBadRequest || second.Header.Get("Location") != "" {
						t.Errorf("second GET of a spent id_token result: %d %s, want 400 without a redirect", second.Status, second.Body)
					}
				})
			}
		}
	})
}

// TestHostedValidationRules: the hosted OTP reuses the backend code rules: a wrong passcode is a
// 400, five lock the identifier, another client cannot validate, a used passcode is refused.
func TestHostedValidationRules(t *testing.T) {
	e := sqliteEnv(t)
	f := flowNamed("otp_email")
	t.Run("wrong_then_locked", func(t *testing.T) {
		email := uniqueEmail("lock")
		if r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody("email", email, map[string]any{"create_new_user": true})); r.Status != 200 {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		right := e.passcodeFor(t, strings.ToLower(email))
		wrong := "000000"
		if right == wrong {
			wrong = "111111"
		}
		for i := 1; i <= 5; i++ {
			r := e.Do(t, http.MethodPost, f.validate, e.token, map[string]any{"email": email, "passcode": wrong})
			want := http.StatusBadRequest
			if i == 5 {
				want = http.StatusForbidden
			}
			if r.Status != want {
				t.Fatalf("attempt %d: %d %s, want %d", i, r.Status, r.Body, want)
			}
		}
		r := e.Do(t, http.MethodPost, f.validate, e.token, map[string]any{"email": email, "passcode": right})
		if r.Status != http.StatusForbidden || r.String("error_code") != "auth_locked" {
			t.Errorf("right code after lockout: %d %s, want 403 auth_locked", r.Status, r.Body)
		}
	})
	t.Run("other_client_cannot_validate", func(t *testing.T) {
		email := uniqueEmail("other")
		if r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody("email", email, map[string]any{"create_new_user": true})); r.Status != 200 {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		code := e.passcodeFor(t, strings.ToLower(email))
		other, err := e.Apps.CreateClient(t.Context(), e.App.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		otherTok := e.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, other.ClientID, other.ClientSecret).String("access_token")
		r := e.Do(t, http.MethodPost, f.validate, otherTok, map[string]any{"email": email, "passcode": code})
		if r.Status != http.StatusBadRequest || r.String("error_code") != "auth_invalid_credentials" {
			t.Errorf("validation by another client: %d %s, want 400 auth_invalid_credentials", r.Status, r.Body)
		}
	})
	t.Run("passcode_used_once", func(t *testing.T) {
		email := uniqueEmail("once")
		if r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody("email", email, map[string]any{"create_new_user": true})); r.Status != 200 {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		code := e.passcodeFor(t, strings.ToLower(email))
		if r := e.Do(t, http.MethodPost, f.validate, e.token, map[string]any{"email": email, "passcode": code}); r.Status != 200 {
			t.Fatalf("first validation: %d %s", r.Status, r.Body)
		}
		r := e.Do(t, http.MethodPost, f.validate, e.token, map[string]any{"email": email, "passcode": code})
		if r.Status != http.StatusBadRequest {
			t.Errorf("second validation: %d %s, want 400", r.Status, r.Body)
		}
	})
	t.Run("expired_passcode", func(t *testing.T) {
		email := uniqueEmail("exp")
		if r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody("email", email, map[string]any{"create_new_user": true})); r.Status != 200 {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		code := e.passcodeFor(t, strings.ToLower(email))
		e.Clock.Advance(5 * time.Minute)
		r := e.Do(t, http.MethodPost, f.validate, e.token, map[string]any{"email": email, "passcode": code})
		if r.Status != http.StatusBadRequest || r.String("error_code") != "auth_otp_passcode_expired" {
			t.Errorf("validation after 5 minutes: %d %s, want 400 auth_otp_passcode_expired", r.Status, r.Body)
		}
	})
}

// TestHostedLinkLifecycle: the emailed link can be opened any number of times until its code is
// exchanged; then, or once it expires, it answers 400 without a redirect.
func TestHostedLinkLifecycle(t *testing.T) {
	e := sqliteEnv(t)
	f := flowNamed("links_email")
	invalid := map[string]any{"error_code": "invalid_code", "message": "This link is invalid or has expired"}
	t.Run("spent_after_exchange", func(t *testing.T) {
		link := e.begin(t, f, "email", uniqueEmail("spent"), map[string]any{"create_new_user": true}, nil)
		var code string
		for i := 0; i < 3; i++ {
			code = e.follow(t, link).Query().Get("code")
		}
		decodeTokens(t, e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect))
		r := e.Do(t, http.MethodGet, link, "", nil)
		wantJSON(t, r, http.StatusBadRequest, invalid)
		if r.Header.Get("Location") != "" {
			t.Errorf("a spent link still redirects to %s", r.Header.Get("Location"))
		}
	})
	t.Run("lives_ten_minutes", func(t *testing.T) {
		link := e.begin(t, f, "email", uniqueEmail("ttl"), map[string]any{"create_new_user": true}, nil)
		e.Clock.Advance(10*time.Minute - time.Second)
		code := e.follow(t, link).Query().Get("code")
		e.Clock.Advance(time.Second)
		wantJSON(t, e.Do(t, http.MethodGet, link, "", nil), http.StatusBadRequest, invalid)
		wantJSON(t, e.exchangeCIS(t, e.ClientID, e.ClientSecret, code), http.StatusBadRequest, cisInvalidGrant)
	})
	t.Run("unknown_or_missing_code", func(t *testing.T) {
		wantJSON(t, e.Do(t, http.MethodGet, hosted.RedirectPath+"?code=nope", "", nil), http.StatusBadRequest, invalid)
		wantJSON(t, e.Do(t, http.MethodGet, hosted.RedirectPath, "", nil), http.StatusBadRequest, invalid)
	})
}
