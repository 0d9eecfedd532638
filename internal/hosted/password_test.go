package hosted_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// pwUser is a user with a password (and a verified email and phone number when asked).
type pwUser struct {
	id, username, email, phone, password string
}

var pwSeq = 0

// newPasswordUser creates a user with a username, an email, a phone number and a password (not
// temporary), marking the email and phone verified when verified is set.
func (e *env) newPasswordUser(t *testing.T, verified bool) pwUser {
	t.Helper()
	pwSeq++
	u := pwUser{username: fmt.Sprintf("pwuser%d-%d", pwSeq, seq.Add(1)), email: strings.ToLower(uniqueEmail("pw")), phone: uniquePhone(),
		password: fmt.Sprintf("violet harbor staple %d orbit", seq.Add(1))}
	u.id = e.CreateUser(t, e.token, map[string]any{"username": u.username, "email": u.email, "phone_number": u.phone,
		"credentials": map[string]any{"password": u.password, "force_replace": false}})
	if verified {
		for _, p := range []string{"/emails/" + url.PathEscape(u.email) + "/verify", "/phone-numbers/" + url.PathEscape(u.phone) + "/verify"} {
			if r := e.Do(t, http.MethodPost, "/cis/v1/users/"+u.id+p, e.token, map[string]any{}); r.Status/100 != 2 {
				t.Fatalf("verify %s: %d %s", p, r.Status, r.Body)
			}
		}
	}
	return u
}

// enablePasswords turns passwords on for the stack's default app.
func (e *env) enablePasswords(t *testing.T) {
	t.Helper()
	enablePasswordsFor(t, e, e.App.ID)
}

func enablePasswordsFor(t *testing.T, e *env, appID string) {
	t.Helper()
	r := e.Do(t, http.MethodPut, "/cis/v1/applications/"+appID, e.AdminToken(t), map[string]any{"settings": map[string]any{"password_enabled": true}})
	if r.Status != http.StatusOK {
		t.Fatalf("enable passwords: %d %s", r.Status, r.Body)
	}
}

func pwEnv(t *testing.T, dsn string) *env {
	e := newEnv(t, dsn)
	e.enablePasswords(t)
	return e
}

func eachPasswordEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.enablePasswords(t)
		fn(t, e)
	})
}

// passwordLogin posts a hosted password login with bearer (may be "") and returns the answer.
func (e *env) passwordLogin(t *testing.T, bearer string, body map[string]any) latchtest.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/cis/v1/auth/password/login", bearer, body)
}

func (e *env) loginBody(u pwUser, extra map[string]any) map[string]any {
	b := map[string]any{"username": u.username, "password": u.password, "client_id": e.ClientID, "redirect_uri": e.redirect}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// resultURL checks a {result:{url}} answer and returns the URL.
func (e *env) resultURL(t *testing.T, r latchtest.Response) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("password login: %d %s", r.Status, r.Body)
	}
	res, _ := r.JSON()["result"].(map[string]any)
	u, _ := res["url"].(string)
	if len(r.JSON()) != 1 || len(res) != 1 || !strings.HasPrefix(u, e.URL+hosted.RedirectPath+"?code=") {
		t.Fatalf("password login body %s: want exactly {result:{url}} with a result URI on Latch", r.Body)
	}
	return u
}

// TestPasswordLoginHosted: the hosted password login's URL ends at redirect_uri?code=…, and the
// code is exchanged at /oidc/token and /cis/v1/token like any hosted code (amr pwd, once). The
// route takes no token (client_id names the app) or the app's client token, and refuses a token
// of another app or a bad one.
func TestPasswordLoginHosted(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		u := e.newPasswordUser(t, false)
		for i, bearer := range []string{e.token, ""} {
			loc := e.follow(t, e.resultURL(t, e.passwordLogin(t, bearer, e.loginBody(u, map[string]any{"state": "s1"}))))
			code := loc.Query().Get("code")
			if code == "" || loc.Query().Get("state") != "s1" {
				t.Fatalf("redirected to %s, want a code and the state", loc)
			}
			var r latchtest.Response
			if i == 0 {
				r = e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect)
			} else {
				r = e.exchangeCIS(t, e.ClientID, e.ClientSecret, code)
			}
			tok := decodeTokens(t, r)
			c := e.checkIDToken(t, tok.IDToken, tok.AccessToken, e.ClientID)
			if got := amrOf(t, tok.IDToken); !slices.Equal(got, []string{"pwd"}) {
				t.Errorf("amr = %v, want [pwd]", got)
			}
			if c["sub"] != u.id {
				t.Errorf("sub = %v, want %s", c["sub"], u.id)
			}
			if r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect); r.Status != http.StatusBadRequest {
				t.Errorf("the code worked twice: %d %s", r.Status, r.Body)
			}
		}
		// By email and by phone number too.
		for _, by := range []map[string]any{{"email": u.email}, {"phone_number": u.phone}} {
			body := e.loginBody(u, by)
			delete(body, "username")
			e.follow(t, e.resultURL(t, e.passwordLogin(t, e.token, body)))
		}

		// Another app's client token, a bad token, a wrong client_id, a redirect not allowed.
		_, otherToken := e.newApp(t, appWithRedirect(e.redirect))
		for name, c := range map[string]struct {
			bearer string
			body   map[string]any
			status int
			code   any
		}{
			"other app's token":    {otherToken, e.loginBody(u, nil), 400, "system_invalid_input"},
			"bad token":            {"not-a-token", e.loginBody(u, nil), 401, float64(401)},
			"unknown client_id":    {"", e.loginBody(u, map[string]any{"client_id": "nope"}), 400, "system_invalid_input"},
			"no client_id":         {"", e.loginBody(u, map[string]any{"client_id": ""}), 400, "system_invalid_input"},
			"redirect not allowed": {e.token, e.loginBody(u, map[string]any{"redirect_uri": "https://evil.example/cb"}), 400, nil},
			"two identifiers":      {e.token, e.loginBody(u, map[string]any{"email": u.email}), 400, "system_invalid_input"},
			"no password":          {e.token, e.loginBody(u, map[string]any{"password": ""}), 400, "system_invalid_input"},
		} {
			r := e.passwordLogin(t, c.bearer, c.body)
			if r.Status != c.status || (c.code != nil && r.JSON()["error_code"] != c.code) {
				t.Errorf("%s: %d %s, want %d %v", name, r.Status, r.Body, c.status, c.code)
			}
		}
	})
}

// TestPasswordLoginWrongVsUnknown: a wrong password and an unknown user get the same status and
// body.
func TestPasswordLoginWrongVsUnknown(t *testing.T) {
	e := pwEnv(t, sqliteDSN(t))
	u := e.newPasswordUser(t, false)
	wrong := e.passwordLogin(t, e.token, e.loginBody(u, map[string]any{"password": u.password + " wrong"}))
	unknown := e.passwordLogin(t, e.token, e.loginBody(pwUser{username: "nobody-" + u.username, password: u.password}, nil))
	if wrong.Status != http.StatusUnauthorized || unknown.Status != wrong.Status || !bytes.Equal(wrong.Body, unknown.Body) {
		t.Fatalf("wrong password %d %s; unknown user %d %s: want the same 401", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
	if strings.Contains(string(wrong.Body), u.password) {
		t.Fatal("the answer echoes the password")
	}
	// The app's lockout: after otp_max_attempts wrong passwords even the right one is refused.
	locked := e.newPasswordUser(t, false)
	for i := 0; i < e.App.Settings.OTPMaxAttempts; i++ {
		e.passwordLogin(t, e.token, e.loginBody(locked, map[string]any{"password": "wrong " + locked.password}))
	}
	if r := e.passwordLogin(t, e.token, e.loginBody(locked, nil)); r.Status != http.StatusForbidden || r.JSON()["error_code"] != "auth_locked" {
		t.Fatalf("after %d wrong passwords the right one: %d %s, want 403 auth_locked", e.App.Settings.OTPMaxAttempts, r.Status, r.Body)
	}

	// A successful hosted login forgets the failures before it (when its code completes the
	// login); a user locked after the password step cannot complete it with the code.
	max := e.App.Settings.OTPMaxAttempts
	carried := e.newPasswordUser(t, false)
	wrongOnes := func(n int) {
		for i := 0; i < n; i++ {
			e.passwordLogin(t, e.token, e.loginBody(carried, map[string]any{"password": "wrong " + carried.password}))
		}
	}
	wrongOnes(max - 1)
	code := e.follow(t, e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(carried, nil)))).Query().Get("code")
	decodeTokens(t, e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect))
	wrongOnes(max - 1)
	code = e.follow(t, e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(carried, nil)))).Query().Get("code")
	wrongOnes(1)
	// (/oidc/token answers its refusals as OAuth's 400 invalid_grant.)
	if r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "locked") {
		t.Fatalf("a code of a user locked since the password step: %d %s, want the lock refused", r.Status, r.Body)
	}

	// A temporary password (force_replace, the default): Mosaic's 403 with a reset token, which
	// resets it; /reset/password/validate accepts the temporary password too.
	tmp := pwUser{username: "tmp-" + u.username, password: "temporary pelican " + u.password}
	tmp.id = e.CreateUser(t, e.token, map[string]any{"username": tmp.username, "credentials": map[string]any{"password": tmp.password}})
	r := e.passwordLogin(t, e.token, e.loginBody(tmp, nil))
	body := r.JSON()
	if r.Status != http.StatusForbidden || body["message"] != "temporary_password" || body["error_code"] != float64(403) || body["reset_token"] == "" || len(body) != 3 {
		t.Fatalf("temporary password: %d %s, want 403 {message: temporary_password, error_code: 403, reset_token}", r.Status, r.Body)
	}
	v := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/password/validate", "", map[string]any{"username": tmp.username, "password": tmp.password, "client_id": e.ClientID})
	if v.Status != http.StatusOK || v.String("result") == "" {
		t.Fatalf("validate a temporary password: %d %s", v.Status, v.Body)
	}
	e.checkReset(t, &tmp, v.String("result"), "") // (a new reset token replaces the user's earlier one)

	// Passwords off for an app: refused before any password is checked.
	creds, tok := e.newApp(t, appWithRedirect(e.redirect))
	if r := e.passwordLogin(t, tok, e.loginBody(u, map[string]any{"client_id": creds.ClientID})); r.Status != http.StatusForbidden {
		t.Fatalf("passwords not enabled: %d %s, want 403", r.Status, r.Body)
	}
}

// TestPasswordLoginMFA: with require_mfa (the request's, or the app's setting) the browser that
// follows the URL lands on redirect_uri?error=mfa_required with the tie cookie; a hosted SMS OTP
// with require_mfa, validated and followed in that browser, completes the same login and yields a
// code whose tokens have pwd, sms and mfa. The first URL's code is never exchangeable, and an
// untied browser gets no code.
func TestPasswordLoginMFA(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		u := e.newPasswordUser(t, false)
		mfa := map[string]any{"require_mfa": true}
		first := e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(u, mfa)))
		var b browser
		loc := b.get(t, e, first)
		sid := wantMFARequired(t, loc)
		if d := loc.Query().Get("error_description"); !strings.Contains(d, "sms") || !strings.Contains(d, "email-otp") {
			t.Errorf("error_description %q: want the second factors offered", d)
		}
		if len(b.cookies) != 1 {
			t.Fatal("the password step set no tie cookie")
		}
		firstCode := strings.TrimPrefix(first, e.URL+hosted.RedirectPath+"?code=")
		if r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, firstCode, e.redirect); r.Status != http.StatusBadRequest {
			t.Fatalf("the password step's code was exchanged: %d %s", r.Status, r.Body)
		}
		// Another browser following the SMS result gets no code.
		var other browser
		wantMFARequired(t, other.get(t, e, e.begin(t, flowNamed("otp_sms"), "phone_number", u.phone, mfa, nil)))
		e.Clock.Advance(time.Second)
		loc = b.get(t, e, e.begin(t, flowNamed("otp_sms"), "phone_number", u.phone, mfa, nil))
		code := loc.Query().Get("code")
		if code == "" {
			t.Fatalf("second factor redirected to %s, want a code", loc)
		}
		r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		if got := amrOf(t, r.String("id_token")); !slices.Contains(got, "pwd") || !slices.Contains(got, "sms") || !slices.Contains(got, "mfa") || r.String("session_id") != sid {
			t.Fatalf("amr %v session %s, want pwd, sms and mfa in session %s", got, r.String("session_id"), sid)
		}

		// The app's require_mfa setting alone makes a password login need a second factor.
		r = e.Do(t, http.MethodPut, "/cis/v1/applications/"+e.App.ID, e.AdminToken(t), map[string]any{"settings": map[string]any{"require_mfa": true}})
		if r.Status != http.StatusOK {
			t.Fatalf("require_mfa setting: %d %s", r.Status, r.Body)
		}
		var c browser
		wantMFARequired(t, c.get(t, e, e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(u, nil)))))
	})
}

func sqliteDSN(t *testing.T) string { return storetest.Engines()[0].DSN(t) }

// appWithRedirect is a new application (passwords off) that allows redirect.
func appWithRedirect(redirect string) app.NewApp {
	pwSeq++
	return app.NewApp{Name: fmt.Sprintf("pw-other-%d", pwSeq), RedirectURIs: []string{redirect}}
}

// resetLinkRE finds a reset link in an email.
func (e *env) resetLinkFor(t *testing.T, to string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(e.URL+hosted.ResetRedirectPath) + `\?code=[A-Za-z0-9_%\-]+`)
	link := re.FindString(e.outboxText(t, to))
	if link == "" {
		t.Fatalf("no reset link in the email to %s:\n%s", to, e.outboxText(t, to))
	}
	return link
}

// reset posts POST /cis/v1/auth/password/reset.
func (e *env) reset(t *testing.T, token, newPassword string) latchtest.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset", "", map[string]any{"reset_token": token, "new_password": newPassword, "redirect_uri": e.redirect})
}

// checkReset uses a reset token: the new password works, the old one does not, the token works
// once, and the session started before the reset has ended.
func (e *env) checkReset(t *testing.T, u *pwUser, token string, before string) {
	t.Helper()
	newPw := fmt.Sprintf("marble lantern %d quietly", seq.Add(1))
	r := e.reset(t, token, newPw)
	if r.Status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	// Its url logs the user in with the new password (a code any client of the app exchanges).
	loc := e.follow(t, r.String("url"))
	tok := decodeTokens(t, e.exchangeOIDC(t, e.ClientID, e.ClientSecret, loc.Query().Get("code"), e.redirect))
	if got := amrOf(t, tok.IDToken); !slices.Equal(got, []string{"pwd"}) {
		t.Fatalf("the reset's login: amr %v, want [pwd]", got)
	}
	if r := e.reset(t, token, newPw+" again"); r.Status < 400 || r.Status >= 500 {
		t.Fatalf("the reset token worked twice: %d %s", r.Status, r.Body)
	}
	if r := e.passwordLogin(t, e.token, e.loginBody(*u, nil)); r.Status != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d %s", r.Status, r.Body)
	}
	u.password = newPw
	e.follow(t, e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(*u, nil))))
	if before != "" {
		r := e.Do(t, http.MethodPost, "/cis/v1/auth/token/refresh", e.token, map[string]any{"refresh_token": before})
		if r.Status == http.StatusOK {
			t.Fatalf("a session from before the reset lives on: refresh %d %s", r.Status, r.Body)
		}
	}
}

// sessionRefresh logs u in (hosted) and returns the session's refresh token.
func (e *env) sessionRefresh(t *testing.T, u pwUser) string {
	t.Helper()
	loc := e.follow(t, e.resultURL(t, e.passwordLogin(t, e.token, e.loginBody(u, nil))))
	tok := decodeTokens(t, e.exchangeOIDC(t, e.ClientID, e.ClientSecret, loc.Query().Get("code"), e.redirect))
	if r := e.Do(t, http.MethodPost, "/cis/v1/auth/token/refresh", e.token, map[string]any{"refresh_token": tok.RefreshToken}); r.Status != http.StatusOK {
		t.Fatalf("refresh before the reset: %d %s", r.Status, r.Body)
	} else {
		return r.String("refresh_token")
	}
	return ""
}

// TestPasswordResetEmailLink: the emailed link, followed, lands on redirect_uri?code=RESET_TOKEN
// (once); the token resets the password once and ends the user's other sessions. /reset/link
// answers the same kind of link; unknown and unverified users get the same 200 and no email.
func TestPasswordResetEmailLink(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		u := e.newPasswordUser(t, true)
		before := e.sessionRefresh(t, u)
		r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/email/link", e.token, map[string]any{"username": u.username, "redirect_uri": e.redirect})
		wantJSON(t, r, http.StatusOK, map[string]any{"message": "Reset password email sent"})
		link := e.resetLinkFor(t, u.email)
		loc := e.follow(t, link)
		token := loc.Query().Get("code")
		if token == "" {
			t.Fatalf("the link redirected to %s, want ?code=RESET_TOKEN", loc)
		}
		if r := e.Do(t, http.MethodGet, link, "", nil); r.Status != http.StatusBadRequest {
			t.Fatalf("the reset link worked twice: %d", r.Status)
		}
		if r := e.Do(t, http.MethodGet, link, "", nil, "Accept", "text/html"); r.Status != http.StatusBadRequest ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), "password reset link cannot be used") {
			t.Fatalf("a browser opening a used reset link: %d %s %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		e.checkReset(t, &u, token, before)

		// The generated link (by email this time) works the same way.
		r = e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/link", e.token, map[string]any{"email": u.email, "redirect_uri": e.redirect})
		if r.Status != http.StatusOK || !strings.HasPrefix(r.String("reset_link"), e.URL+hosted.ResetRedirectPath+"?code=") {
			t.Fatalf("reset/link: %d %s", r.Status, r.Body)
		}
		e.checkReset(t, &u, e.follow(t, r.String("reset_link")).Query().Get("code"), "")
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/link", e.token, map[string]any{"username": "nobody-" + u.username, "redirect_uri": e.redirect}); r.Status != http.StatusNotFound {
			t.Fatalf("reset/link for an unknown user: %d %s, want 404", r.Status, r.Body)
		}

		// No enumeration: an unknown user and an unverified email get the same answer, and no email.
		unverified := e.newPasswordUser(t, false)
		for _, body := range []map[string]any{{"username": "nobody-" + u.username}, {"email": unverified.email}, {"email": "nobody-" + u.email}} {
			body["redirect_uri"] = e.redirect
			r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/email/link", e.token, body)
			wantJSON(t, r, http.StatusOK, map[string]any{"message": "Reset password email sent"})
		}
		if msgs := e.Outbox(t, unverified.email); len(msgs) != 0 {
			t.Fatalf("a reset link went to an unverified email: %d messages", len(msgs))
		}
		// Bad input.
		for name, body := range map[string]map[string]any{
			"no redirect":          {"username": u.username},
			"redirect not allowed": {"username": u.username, "redirect_uri": "https://evil.example/cb"},
			"username and email":   {"username": u.username, "email": u.email, "redirect_uri": e.redirect},
			"neither":              {"redirect_uri": e.redirect},
		} {
			if r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/email/link", e.token, body); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", name, r.Status, r.Body)
			}
		}
	})
}

// TestPasswordResetOTP: a reset code by email or SMS, validated, answers {result: reset_token};
// a wrong code is the 403, the code works once; unknown and unverified addresses get the same
// 200 and nothing is sent.
func TestPasswordResetOTP(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		for _, c := range []struct{ kind, field string }{{"email", "email"}, {"sms", "phone_number"}} {
			u := e.newPasswordUser(t, true)
			addr := u.email
			sent := "Email Sent"
			if c.kind == "sms" {
				addr, sent = u.phone, "SMS Sent"
			}
			before := e.sessionRefresh(t, u)
			start := "/cis/v1/auth/password/reset/" + c.kind + "/otp"
			wantJSON(t, e.Do(t, http.MethodPost, start, e.token, map[string]any{c.field: addr}), http.StatusOK, map[string]any{"message": sent})
			code := e.passcodeFor(t, addr)
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			r := e.Do(t, http.MethodPost, start+"/validate", e.token, map[string]any{c.field: addr, "passcode": wrong})
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s: wrong code: %d %s, want 403", c.kind, r.Status, r.Body)
			}
			r = e.Do(t, http.MethodPost, start+"/validate", e.token, map[string]any{c.field: addr, "passcode": code})
			if r.Status != http.StatusOK || r.String("result") == "" || len(r.JSON()) != 1 {
				t.Fatalf("%s: validate: %d %s, want {result}", c.kind, r.Status, r.Body)
			}
			if again := e.Do(t, http.MethodPost, start+"/validate", e.token, map[string]any{c.field: addr, "passcode": code}); again.Status != http.StatusForbidden {
				t.Fatalf("%s: the code worked twice: %d %s", c.kind, again.Status, again.Body)
			}
			e.checkReset(t, &u, r.String("result"), before)

			// Unknown and unverified: same answer, nothing sent.
			unverified := e.newPasswordUser(t, false)
			other := unverified.email
			if c.kind == "sms" {
				other = unverified.phone
			}
			for _, a := range []string{other, map[bool]string{true: uniquePhone(), false: uniqueEmail("nobody")}[c.kind == "sms"]} {
				wantJSON(t, e.Do(t, http.MethodPost, start, e.token, map[string]any{c.field: a}), http.StatusOK, map[string]any{"message": sent})
			}
			if msgs := e.Outbox(t, other); len(msgs) != 0 {
				t.Fatalf("%s: a reset code went to an unverified address", c.kind)
			}
			if r := e.Do(t, http.MethodPost, start, e.token, map[string]any{c.field: "not-an-address"}); r.Status != http.StatusBadRequest {
				t.Fatalf("%s: a bad address: %d %s", c.kind, r.Status, r.Body)
			}
		}
	})
}

// TestPasswordResetCurrentPassword: the current password answers a reset token (no token needed;
// client_id names the app); a wrong password and an unknown user are the same 403.
func TestPasswordResetCurrentPassword(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		u := e.newPasswordUser(t, false)
		path := "/cis/v1/auth/password/reset/password/validate"
		r := e.Do(t, http.MethodPost, path, "", map[string]any{"username": u.username, "password": u.password, "client_id": e.ClientID})
		if r.Status != http.StatusOK || r.String("result") == "" {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
		wrong := e.Do(t, http.MethodPost, path, "", map[string]any{"username": u.username, "password": u.password + "x", "client_id": e.ClientID})
		unknown := e.Do(t, http.MethodPost, path, "", map[string]any{"username": "nobody-" + u.username, "password": u.password, "client_id": e.ClientID})
		if wrong.Status != http.StatusForbidden || unknown.Status != wrong.Status || !bytes.Equal(wrong.Body, unknown.Body) {
			t.Fatalf("wrong %d %s; unknown %d %s: want the same 403", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		e.checkReset(t, &u, r.String("result"), "")
	})
}

// TestPasswordResetSingleUse: 20 concurrent validations of one reset code give one reset token;
// 20 concurrent GETs of one reset link give one redirect with a token.
func TestPasswordResetSingleUse(t *testing.T) {
	eachPasswordEngine(t, func(t *testing.T, e *env) {
		u := e.newPasswordUser(t, true)
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/email/otp", e.token, map[string]any{"email": u.email}); r.Status != http.StatusOK {
			t.Fatalf("start: %d %s", r.Status, r.Body)
		}
		code := e.passcodeFor(t, u.email)
		reqs := make([]*http.Request, 20)
		for i := range reqs {
			reqs[i] = jsonRequest(t, e.URL+"/cis/v1/auth/password/reset/email/otp/validate", map[string]any{"email": u.email, "passcode": code})
			reqs[i].Header.Set("Authorization", "Bearer "+e.token)
		}
		if ok := countStatus(latchtest.Concurrently(e.Client, reqs), http.StatusOK); ok != 1 {
			t.Fatalf("%d validations of one code succeeded, want 1", ok)
		}

		e.Clock.Advance(time.Second) // so that the newest email in the outbox is the link
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/reset/email/link", e.token, map[string]any{"email": u.email, "redirect_uri": e.redirect}); r.Status != http.StatusOK {
			t.Fatalf("link start: %d %s", r.Status, r.Body)
		}
		link := e.resetLinkFor(t, u.email)
		for i := range reqs {
			reqs[i], _ = http.NewRequest(http.MethodGet, link, nil)
		}
		if ok := countStatus(latchtest.Concurrently(e.Client, reqs), http.StatusFound); ok != 1 {
			t.Fatalf("%d GETs of one reset link redirected, want 1", ok)
		}
	})
}

func countStatus(statuses []int, want int) int {
	n := 0
	for _, s := range statuses {
		if s == want {
			n++
		}
	}
	return n
}
