package signin_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/totp"
)

// enrol gives the user an active TOTP and recovery codes; it returns a function for the current
// code and the recovery codes.
func (e *env) enrol(t *testing.T, userID string) (func() string, []string) {
	t.Helper()
	ctx := context.Background()
	a, _ := e.Apps.App(ctx, e.App.ID)
	reg, err := e.TOTP.Register(ctx, a, userID, totp.UserActor(""), totp.RegisterRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.TOTP.GenerateRecoveryCodes(ctx, a, userID, totp.OperatorActor())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := totp.DecodeSecret(reg.Secret)
	p := totp.DefaultParams()
	return func() string { return p.CodeAt(raw, p.Step(e.Clock.Now())) }, rc.Codes
}

func amrOf(t *testing.T, idToken string) []any {
	amr, _ := latchtest.Claims(t, idToken)["amr"].([]any)
	return amr
}

// TestMFA: acr_values=mfa, the app's require_mfa and mfa_when_enrolled ask for the TOTP (or a
// recovery code) after the first factor; the ID token then says acr mfa.
func TestMFA(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("mfa")
		uid := e.CreateUser(t, e.token, map[string]any{"email": email})
		code, recovery := e.enrol(t, uid)

		// Without any MFA rule, a user with TOTP signs in with one factor.
		q := e.request(e.ClientID)
		back := e.signInByEmailCode(t, e.browser(t), q, email)
		if r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier); len(amrOf(t, r.String("id_token"))) != 1 {
			t.Fatalf("one factor: %s", r.Body)
		}

		// acr_values=mfa: the TOTP page, a wrong code at its field, then the right one.
		b := e.browser(t)
		q = e.request(e.ClientID, "acr_values", "mfa")
		p := b.act(b.authorize(q), "send_email_otp", "email", email)
		p = b.act(p, "verify", "code", e.codeSentTo(t, email))
		if p.Status != 200 || !strings.Contains(p.Body, "Two-step verification") || !strings.Contains(p.Body, `autocomplete="one-time-code"`) {
			t.Fatalf("totp page: %d %s", p.Status, p.Body)
		}
		if w := b.act(p, "totp", "totp", "000000"); w.Status != 400 || !strings.Contains(w.Body, `aria-describedby="totp-error"`) {
			t.Fatalf("wrong totp: %d %s", w.Status, w.Body)
		}
		back = e.callback(t, b.act(p, "totp", "totp", code()))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		id := latchtest.Claims(t, r.String("id_token"))
		if r.Status != 200 || id["acr"] != "mfa" || !slices.Equal(amrOf(t, r.String("id_token")), []any{"eotp", "totp", "mfa"}) {
			t.Fatalf("mfa tokens: %d %v", r.Status, id)
		}

		// mfa_when_enrolled: a user with TOTP is asked for it; one without is not.
		e.updateApp(t, map[string]any{"mfa_when_enrolled": true}, nil)
		b = e.browser(t)
		p = b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", email)
		if p = b.act(p, "verify", "code", e.codeSentTo(t, email)); !strings.Contains(p.Body, "Two-step verification") {
			t.Fatalf("mfa_when_enrolled: %d %s", p.Status, p.Location)
		}
		plain := uniqueEmail("plain")
		e.CreateUser(t, e.token, map[string]any{"email": plain})
		e.signInByEmailCode(t, e.browser(t), e.request(e.ClientID), plain)
		e.updateApp(t, map[string]any{"mfa_when_enrolled": false}, nil)

		// The app requires MFA: a recovery code does as the second factor.
		e.updateApp(t, map[string]any{"require_mfa": true}, nil)
		b = e.browser(t)
		q = e.request(e.ClientID)
		p = b.act(b.authorize(q), "send_email_otp", "email", email)
		p = b.act(p, "verify", "code", e.codeSentTo(t, email))
		p = b.act(p, "use_recovery")
		if !strings.Contains(p.Body, `name="recovery_code"`) {
			t.Fatalf("recovery page: %d %s", p.Status, p.Body)
		}
		back = e.callback(t, b.act(p, "recovery", "recovery_code", recovery[0]))
		r = e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 || !slices.Equal(amrOf(t, r.String("id_token")), []any{"eotp", "rc", "mfa"}) {
			t.Fatalf("recovery tokens: %d %s", r.Status, r.Body)
		}

		// A user with no authenticator cannot meet require_mfa: access_denied.
		other := uniqueEmail("nototp")
		e.CreateUser(t, e.token, map[string]any{"email": other})
		b = e.browser(t)
		p = b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", other)
		if back := e.callback(t, b.act(p, "verify", "code", e.codeSentTo(t, other))); back.Get("error") != "access_denied" {
			t.Fatalf("no totp: %v", back)
		}
	})
}

// TestSSO: the second app (another client) signs in without a code; prompt=none works with a
// session and answers login_required without; prompt=login and max_age ask again; acr_values=mfa
// steps up with the second factor only.
func TestSSO(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("sso")
		uid := e.CreateUser(t, e.token, map[string]any{"email": email})
		b := e.browser(t)

		// prompt=none without a session.
		q := e.request(e.ClientID, "prompt", "none")
		if back := e.callback(t, b.authorize(q)); back.Get("error") != "login_required" || back.Get("state") != q.Get("state") {
			t.Fatalf("prompt=none without session: %v", back)
		}

		q1 := e.request(e.ClientID)
		back := e.signInByEmailCode(t, b, q1, email)
		r1 := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q1.verifier)
		id1 := latchtest.Claims(t, r1.String("id_token"))
		sent := len(e.Outbox(t, email))

		e.Clock.Advance(5 * time.Second)
		second := e.newClient(t)
		q2 := e.request(second.ClientID, "prompt", "none")
		back = e.callback(t, b.authorize(q2))
		r2 := e.exchange(t, second.ClientID, second.ClientSecret, back.Get("code"), q2.verifier)
		id2 := latchtest.Claims(t, r2.String("id_token"))
		if r2.Status != 200 || id2["sub"] != id1["sub"] || id2["auth_time"] != id1["auth_time"] || id2["aud"] != second.ClientID || id2["sid"] == id1["sid"] {
			t.Fatalf("sso: %d %v vs %v", r2.Status, id2, id1)
		}
		if len(e.Outbox(t, email)) != sent {
			t.Fatalf("sso sent a code")
		}

		// An id_token_hint of the same user keeps prompt=none silent.
		qh := e.request(e.ClientID, "prompt", "none", "id_token_hint", r1.String("id_token"))
		if back := e.callback(t, b.authorize(qh)); back.Get("code") == "" {
			t.Fatalf("id_token_hint: %v", back)
		}

		// max_age: within it, no page; past it, the pages (and a later auth_time).
		if back := e.callback(t, b.authorize(e.request(e.ClientID, "max_age", "3600"))); back.Get("code") == "" {
			t.Fatalf("max_age 3600: %v", back)
		}
		if p := b.authorize(e.request(e.ClientID, "max_age", "1")); p.Status != 200 || !strings.Contains(p.Body, "Sign in to") {
			t.Fatalf("max_age 1: %d %s", p.Status, p.Location)
		}
		if back := e.callback(t, b.authorize(e.request(e.ClientID, "max_age", "1", "prompt", "none"))); back.Get("error") != "login_required" {
			t.Fatalf("max_age 1 prompt none: %v", back)
		}

		// prompt=login shows the pages, and a new sign-in has a later auth_time.
		e.Clock.Advance(10 * time.Second)
		ql := e.request(e.ClientID, "prompt", "login")
		if p := b.authorize(ql); p.Status != 200 {
			t.Fatalf("prompt=login: %d", p.Status)
		}
		back = e.signInByEmailCode(t, b, ql, email)
		rl := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), ql.verifier)
		if at := latchtest.Claims(t, rl.String("id_token"))["auth_time"].(float64); at <= id1["auth_time"].(float64) {
			t.Fatalf("auth_time after prompt=login: %v <= %v", at, id1["auth_time"])
		}

		// Step-up: acr_values=mfa asks only for the TOTP.
		code, _ := e.enrol(t, uid)
		qm := e.request(second.ClientID, "acr_values", "mfa")
		p := b.authorize(qm)
		if p.Status != 200 || !strings.Contains(p.Body, "Two-step verification") {
			t.Fatalf("step-up: %d %s", p.Status, p.Body)
		}
		if back := e.callback(t, b.authorize(e.request(second.ClientID, "acr_values", "mfa", "prompt", "none"))); back.Get("error") != "interaction_required" {
			t.Fatalf("step-up prompt=none: %v", back)
		}
		back = e.callback(t, b.act(p, "totp", "totp", code()))
		rm := e.exchange(t, second.ClientID, second.ClientSecret, back.Get("code"), qm.verifier)
		if latchtest.Claims(t, rm.String("id_token"))["acr"] != "mfa" {
			t.Fatalf("step-up tokens: %s", rm.Body)
		}
		// ... and the browser's session now has two factors.
		qn := e.request(e.ClientID, "acr_values", "mfa", "prompt", "none")
		back = e.callback(t, b.authorize(qn))
		if rn := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), qn.verifier); latchtest.Claims(t, rn.String("id_token"))["acr"] != "mfa" {
			t.Fatalf("after step-up: %v %s", back, rn.Body)
		}
	})
}

// TestLogout: session/end ends the browser session and the app sessions signed in through it,
// and redirects only to a registered URI.
func TestLogout(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("logout")
		e.CreateUser(t, e.token, map[string]any{"email": email})
		b := e.browser(t)
		q := e.request(e.ClientID)
		back := e.signInByEmailCode(t, b, q, email)
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		second := e.newClient(t)
		q2 := e.request(second.ClientID)
		back = e.callback(t, b.authorize(q2))
		r2 := e.exchange(t, second.ClientID, second.ClientSecret, back.Get("code"), q2.verifier)

		// An unregistered post_logout_redirect_uri: a page, nothing ended.
		bad := b.get("/cis/oidc/session/end?" + url.Values{"id_token_hint": {r.String("id_token")}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if bad.Status != 400 || bad.Location != "" {
			t.Fatalf("bad post_logout_redirect_uri: %d %q", bad.Status, bad.Location)
		}
		out := b.get("/oidc/session/end?" + url.Values{"id_token_hint": {r.String("id_token")}, "post_logout_redirect_uri": {e.redirect}, "state": {"bye"}}.Encode())
		if out.Status != 302 || out.Location != e.redirect+"?state=bye" {
			t.Fatalf("logout: %d %q %s", out.Status, out.Location, out.Body)
		}
		// Both apps' refresh tokens are dead.
		for _, c := range []struct{ id, secret, rt string }{{e.ClientID, e.ClientSecret, r.String("refresh_token")}, {second.ClientID, second.ClientSecret, r2.String("refresh_token")}} {
			rr := e.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.rt}}, c.id, c.secret)
			if rr.Status != 400 {
				t.Fatalf("refresh after logout: %d %s", rr.Status, rr.Body)
			}
		}
		// And the browser must sign in again.
		if back := e.callback(t, b.authorize(e.request(e.ClientID, "prompt", "none"))); back.Get("error") != "login_required" {
			t.Fatalf("after logout: %v", back)
		}
		// Without a redirect: the signed-out page.
		if p := b.get("/cis/oidc/session/end?id_token_hint=" + r.String("id_token")); p.Status != 200 || !strings.Contains(p.Body, "signed out") {
			t.Fatalf("signed out page: %d %s", p.Status, p.Body)
		}

		// Without an id_token_hint the person confirms (a form bound to the browser); a forged
		// confirmation or a GET alone ends nothing.
		back = e.signInByEmailCode(t, b, e.request(e.ClientID), email)
		ask := b.get("/cis/oidc/session/end?" + url.Values{"client_id": {e.ClientID}, "post_logout_redirect_uri": {e.redirect}, "state": {"s2"}}.Encode())
		if ask.Status != 200 || !strings.Contains(ask.Body, "Sign out?") {
			t.Fatalf("confirmation page: %d %s", ask.Status, ask.Body)
		}
		if forged := b.post("/cis/oidc/session/end", url.Values{"client_id": {e.ClientID}, "confirm": {"forged"}}); !strings.Contains(forged.Body, "Sign out?") {
			t.Fatalf("forged confirmation: %d %s", forged.Status, forged.Body)
		}
		if cb := e.callback(t, b.authorize(e.request(e.ClientID, "prompt", "none"))); cb.Get("code") == "" {
			t.Fatalf("signed out by an unconfirmed request: %v", cb)
		}
		confirm := regexp.MustCompile(`name="confirm" value="([^"]+)"`).FindStringSubmatch(ask.Body)
		done := b.post("/cis/oidc/session/end", url.Values{"client_id": {e.ClientID}, "confirm": {html.UnescapeString(confirm[1])},
			"post_logout_redirect_uri": {e.redirect}, "state": {"s2"}})
		if done.Status != 302 || done.Location != e.redirect+"?state=s2" {
			t.Fatalf("confirmed logout: %d %q", done.Status, done.Location)
		}
		if cb := e.callback(t, b.authorize(e.request(e.ClientID, "prompt", "none"))); cb.Get("error") != "login_required" {
			t.Fatalf("after confirmed logout: %v", cb)
		}
	})
}

// TestAuthorizationErrors: OIDC Core 3.1.2.6 — a bad client or redirect URI is a page (never a
// redirect); everything after goes back to the redirect URI with state.
func TestAuthorizationErrors(t *testing.T) {
	e := sqliteEnv(t)
	b := e.browser(t)
	for _, tc := range []struct{ name, k, v string }{{"unknown client", "client_id", "nope"}, {"no client", "client_id", ""},
		{"unregistered redirect", "redirect_uri", "https://evil.example/cb"}, {"no redirect", "redirect_uri", ""}} {
		p := b.authorize(e.request(e.ClientID, tc.k, tc.v))
		if p.Status != 400 || p.Location != "" || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q", tc.name, p.Status, p.Location)
		}
	}
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"no response_type", []string{"response_type", ""}, "invalid_request"},
		{"token response_type", []string{"response_type", "token"}, "unsupported_response_type"},
		{"no openid", []string{"scope", "email"}, "invalid_scope"},
		{"plain pkce", []string{"code_challenge_method", "plain"}, "invalid_request"},
		{"no pkce method", []string{"code_challenge_method", ""}, "invalid_request"},
		{"short challenge", []string{"code_challenge", "abc"}, "invalid_request"},
		{"bad prompt", []string{"prompt", "sometimes"}, "invalid_request"},
		{"none with login", []string{"prompt", "none login"}, "invalid_request"},
		{"bad max_age", []string{"max_age", "-1"}, "invalid_request"},
		{"bad response_mode", []string{"response_mode", "fragment"}, "invalid_request"},
		{"request object", []string{"request", "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"},
		{"request_uri", []string{"request_uri", "https://rp.example/r"}, "request_uri_not_supported"},
		{"bad id_token_hint", []string{"id_token_hint", "not.a.jwt"}, "invalid_request"},
		{"registration", []string{"registration", `{"logo_uri":"https://rp.example/logo.png"}`}, "registration_not_supported"},
		{"select_account", []string{"prompt", "select_account"}, "account_selection_required"},
		{"long nonce", []string{"nonce", strings.Repeat("n", 513)}, "invalid_request"},
		{"prompt none", []string{"prompt", "none"}, "login_required"},
	} {
		q := e.request(e.ClientID, tc.extra...)
		back := e.callback(t, b.authorize(q))
		if back.Get("error") != tc.want || back.Get("state") != q.Get("state") || back.Get("error_description") == "" {
			t.Errorf("%s: %v, want %s", tc.name, back, tc.want)
		}
	}
	// Unknown parameters, display, ui_locales and claims are accepted; scopes are accepted and
	// the unknown ones ignored; POST works as GET.
	q := e.request(e.ClientID, "extra", "foobar", "display", "popup", "ui_locales", "fr-CA en", "claims_locales", "fr",
		"scope", "profile openid address email phone", "claims", `{"userinfo":{"name":{"essential":true}}}`)
	if p := b.authorize(q); p.Status != 200 {
		t.Fatalf("accepted parameters: %d %s", p.Status, p.Location)
	}
	if p := b.post("/cis/oidc/auth", q.Values); p.Status != 200 || !strings.Contains(p.Body, "Sign in to") {
		t.Fatalf("POST: %d %s", p.Status, p.Location)
	}
	if p := b.get("/oidc/auth?" + q.Encode()); p.Status != 200 || !strings.Contains(p.Body, "Sign in to") {
		t.Fatalf("GET /oidc/auth: %d %s", p.Status, p.Location)
	}
	if p := b.post("/oidc/auth", q.Values); p.Status != 200 {
		t.Fatalf("POST /oidc/auth: %d %s", p.Status, p.Location)
	}
	// A forged or foreign flow is refused.
	p := b.authorize(e.request(e.ClientID))
	other := e.browser(t)
	if r := other.act(p, "send_email_otp", "email", "a@example.com"); r.Status != http.StatusForbidden {
		t.Fatalf("another browser's flow: %d", r.Status)
	}
	if r := b.post("/cis/oidc/login", url.Values{"flow": {"forged"}, "action": {"send_email_otp"}}); r.Status != http.StatusForbidden {
		t.Fatalf("forged flow: %d", r.Status)
	}
	// cancel goes back with access_denied.
	if back := e.callback(t, b.act(p, "cancel")); back.Get("error") != "access_denied" {
		t.Fatalf("cancel: %v", back)
	}
}

// TestPKCE: the verifier must match; a public client must use PKCE and needs no secret.
func TestPKCE(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("pkce")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	b := e.browser(t)
	q := e.request(e.ClientID)
	back := e.signInByEmailCode(t, b, q, email)
	code := back.Get("code")
	for _, tc := range []struct{ name, verifier string }{{"missing", ""}, {"wrong", strings.Repeat("a", 43)}, {"short", "abc"}} {
		if r := e.exchange(t, e.ClientID, e.ClientSecret, code, tc.verifier); r.Status != 400 || r.String("error") != "invalid_grant" {
			t.Errorf("%s verifier: %d %s", tc.name, r.Status, r.Body)
		}
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.redirect + "x"}, "code_verifier": {q.verifier}}
	if r := e.Form(t, "/oidc/token", form, e.ClientID, e.ClientSecret); r.Status != 400 {
		t.Errorf("wrong redirect_uri: %d", r.Status)
	}
	other := e.newClient(t)
	if r := e.exchange(t, other.ClientID, other.ClientSecret, code, q.verifier); r.Status != 400 {
		t.Errorf("another client: %d", r.Status)
	}
	// None of these used the code up.
	if r := e.exchange(t, e.ClientID, e.ClientSecret, code, q.verifier); r.Status != 200 {
		t.Fatalf("right verifier after wrong ones: %d %s", r.Status, r.Body)
	}

	// A public client.
	pub, err := e.Apps.CreatePublicClient(context.Background(), e.App.ID)
	if err != nil {
		t.Fatal(err)
	}
	if back := e.callback(t, b.authorize(e.request(pub.ClientID, "code_challenge", "", "code_challenge_method", ""))); back.Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %v", back)
	}
	qp := e.request(pub.ClientID)
	back = e.callback(t, b.authorize(qp)) // signed in already (SSO)
	if r := e.exchange(t, pub.ClientID, "", back.Get("code"), ""); r.Status != 400 {
		t.Fatalf("public client without verifier: %d %s", r.Status, r.Body)
	}
	r := e.exchange(t, pub.ClientID, "", back.Get("code"), qp.verifier)
	if r.Status != 200 || r.String("refresh_token") == "" {
		t.Fatalf("public client exchange: %d %s", r.Status, r.Body)
	}
	rr := e.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.String("refresh_token")}, "client_id": {pub.ClientID}}, "", "")
	if rr.Status != 200 {
		t.Fatalf("public client refresh: %d %s", rr.Status, rr.Body)
	}
	// A public client has no client_credentials.
	if cc := e.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {pub.ClientID}}, "", ""); cc.Status != 401 {
		t.Fatalf("public client_credentials: %d", cc.Status)
	}
}

// TestCodeSingleUse: of 20 concurrent exchanges of one code exactly one succeeds, on both
// engines; presenting the code again afterwards revokes the session the first exchange made.
func TestCodeSingleUse(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("race")
		e.CreateUser(t, e.token, map[string]any{"email": email})
		q := e.request(e.ClientID)
		back := e.signInByEmailCode(t, e.browser(t), q, email)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Get("code")}, "redirect_uri": {e.redirect}, "code_verifier": {q.verifier}}
		reqs := make([]*http.Request, 20)
		for i := range reqs {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/oidc/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(e.ClientID), url.QueryEscape(e.ClientSecret))
			reqs[i] = req
		}
		statuses := latchtest.Concurrently(e.Client, reqs)
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 400:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 20 exchanges succeeded: %v", ok, statuses)
		}

		// Replay: a fresh code, exchanged, then presented again.
		q = e.request(e.ClientID)
		b := e.browser(t)
		back = e.signInByEmailCode(t, b, q, email)
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		if again := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier); again.Status != 400 {
			t.Fatalf("replay: %d", again.Status)
		}
		rr := e.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.String("refresh_token")}}, e.ClientID, e.ClientSecret)
		if rr.Status != 400 {
			t.Fatalf("the replayed code's session still refreshes: %d %s", rr.Status, rr.Body)
		}
		if me := e.Do(t, http.MethodGet, "/cis/v1/users/me/totp/devices", r.String("access_token"), nil); me.Status != 401 {
			t.Fatalf("the replayed code's access token still works: %d", me.Status)
		}
	})
}

// TestCodeExpires: a code lives 60 seconds.
func TestCodeExpires(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("expiry")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	q := e.request(e.ClientID)
	back := e.signInByEmailCode(t, e.browser(t), q, email)
	e.Clock.Advance(61 * time.Second)
	if r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier); r.Status != 400 {
		t.Fatalf("expired code: %d %s", r.Status, r.Body)
	}
}

// TestFormPost: response_mode=form_post answers a page whose form posts code and state to the
// redirect URI, submitted by a script file or, without JavaScript, its button.
func TestFormPost(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("formpost")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	b := e.browser(t)
	q := e.request(e.ClientID, "response_mode", "form_post")
	p := b.act(b.authorize(q), "send_email_otp", "email", email)
	p = b.act(p, "verify", "code", e.codeSentTo(t, email))
	if p.Status != 200 || !strings.Contains(p.Body, `action="`+e.redirect+`"`) || !strings.Contains(p.Body, `name="code"`) ||
		!strings.Contains(p.Body, `name="state" value="`+q.Get("state")+`"`) || !strings.Contains(p.Body, `<button type="submit">`) ||
		!strings.Contains(p.Body, `<script src="/cis/oidc/static/form_post.js"></script>`) {
		t.Fatalf("form_post page: %d %s", p.Status, p.Body)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+strings.TrimSuffix(e.URL, "/")) {
		t.Fatalf("form_post CSP: %s", csp)
	}
	if js := b.get("/cis/oidc/static/form_post.js"); js.Status != 200 || !strings.Contains(js.Body, "submit()") {
		t.Fatalf("script: %d", js.Status)
	}
}

// TestResourceAndClaims: Mosaic's resource (the access token's audience, one of the app's) and
// an OIDC claims request reach the tokens; bad ones go back as errors.
func TestResourceAndClaims(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	res := []string{"https://api.shop.example"}
	if _, err := e.Apps.UpdateApp(ctx, e.App.ID, app.Update{Resources: &res}); err != nil {
		t.Fatal(err)
	}
	email := uniqueEmail("resource")
	e.CreateUser(t, e.token, map[string]any{"email": email, "username": fmt.Sprintf("bea%d", seq.Add(1))})
	b := e.browser(t)
	for _, tc := range []struct{ k, v, want string }{
		{"resource", "https://other.example", "invalid_target"},
		{"claims", "not json", "invalid_request"},
		{"claims", `{"nope": {}}`, "invalid_request"},
	} {
		q := e.request(e.ClientID, tc.k, tc.v)
		if back := e.callback(t, b.authorize(q)); back.Get("error") != tc.want {
			t.Errorf("%s=%s: %v, want %s", tc.k, tc.v, back, tc.want)
		}
	}
	q := e.request(e.ClientID, "resource", res[0], "claims", `{"id_token":{"username":null}}`)
	back := e.signInByEmailCode(t, b, q, email)
	r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
	if at := latchtest.Claims(t, r.String("access_token")); at["aud"] != res[0] {
		t.Fatalf("access token aud: %v", at["aud"])
	}
	if id := latchtest.Claims(t, r.String("id_token")); id["username"] == nil {
		t.Fatalf("claims request ignored: %v", id)
	}
}
