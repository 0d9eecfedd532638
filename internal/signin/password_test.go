package signin_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
)

// Passwords long enough for the default policy (15) and on no blocklist.
const (
	pagePassword = "lantern orbit pebble 7 violin"
	newPassword  = "marble harbour cactus 31 tundra"
)

// passwordUser creates a user with an email, a username and a password (temporary or not).
func (e *env) passwordUser(t *testing.T, prefix string, temporary bool) (email, username, id string) {
	t.Helper()
	email = uniqueEmail(prefix)
	username = strings.TrimSuffix(email, "@example.com")
	id = e.CreateUser(t, e.token, map[string]any{"email": email, "username": username,
		"credentials": map[string]any{"password": pagePassword, "force_replace": temporary}})
	return email, username, id
}

// signInWithPassword opens the pages and posts the password form.
func (b *browser) signInWithPassword(q authRequest, username, pw string) page {
	b.t.Helper()
	p := b.authorize(q)
	if p.Status != 200 {
		b.t.Fatalf("authorize: %d %s", p.Status, p.Body)
	}
	return b.act(p, "password", "username", username, "password", pw)
}

// flowless is a page's body without its sealed flows, which differ on every render.
var flowValue = regexp.MustCompile(`name="flow" value="[^"]+"`)

func flowless(body string) string { return flowValue.ReplaceAllString(body, `name="flow"`) }

// TestPasswordMethod: the pages offer the password form only for an app with password_enabled
// (and "password" in signin_methods); a username or email and the right password sign in with
// amr pwd, prove no address, and a wrong password and an unknown user get the same page.
func TestPasswordMethod(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		b := e.browser(t)
		if p := b.authorize(e.request(e.ClientID)); p.Status != 200 || strings.Contains(p.Body, `name="password"`) ||
			!strings.Contains(p.Body, "No password needed.") {
			t.Fatalf("a password form while passwords are off: %d %s", p.Status, p.Body)
		}
		// Forcing the action while passwords are off changes nothing.
		if p := b.signInWithPassword(e.request(e.ClientID), "someone", pagePassword); p.Status != 400 ||
			!strings.Contains(p.Body, "This app does not offer that way to sign in.") {
			t.Fatalf("password action while off: %d %s", p.Status, p.Body)
		}

		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email, username, _ := e.passwordUser(t, "pw", false)
		p := b.authorize(e.request(e.ClientID, "login_hint", email))
		for _, want := range []string{`name="password" type="password" autocomplete="current-password"`, `autocomplete="username"`,
			`value="` + email + `"`, `value="password"`} {
			if !strings.Contains(p.Body, want) {
				t.Fatalf("start page lacks %q: %s", want, p.Body)
			}
		}

		for _, name := range []string{username, email} {
			// login_hint prefills the address: the password still proves nothing about it.
			q := e.request(e.ClientID, "login_hint", email)
			back := e.callback(t, e.browser(t).signInWithPassword(q, name, pagePassword))
			r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
			if r.Status != 200 {
				t.Fatalf("exchange: %d %s", r.Status, r.Body)
			}
			id := latchtest.Claims(t, r.String("id_token"))
			if !slices.Equal(amrOf(t, r.String("id_token")), []any{"pwd"}) || id["email"] != email || id["email_verified"] != false {
				t.Fatalf("id token after a password (%s): %v", name, id)
			}
		}

		// A wrong password and an unknown user: the same status, the same page, the error at
		// the password field.
		wrong := e.browser(t).signInWithPassword(e.request(e.ClientID), username, pagePassword+"x")
		unknown := e.browser(t).signInWithPassword(e.request(e.ClientID), "nobody-"+username, pagePassword)
		if wrong.Status != 400 || !strings.Contains(wrong.Body, "That username or password is not right.") ||
			!strings.Contains(wrong.Body, `aria-describedby="password-error"`) {
			t.Fatalf("wrong password: %d %s", wrong.Status, wrong.Body)
		}
		if unknown.Status != wrong.Status || strings.ReplaceAll(flowless(unknown.Body), "nobody-"+username, username) != flowless(wrong.Body) {
			t.Fatalf("unknown user differs from a wrong password:\n%s\n---\n%s", unknown.Body, wrong.Body)
		}
		// Empty fields are named at their field, before any check.
		if p := e.browser(t).signInWithPassword(e.request(e.ClientID), "", ""); p.Status != 400 ||
			!strings.Contains(p.Body, `id="username-error"`) || !strings.Contains(p.Body, `id="password-error"`) {
			t.Fatalf("empty fields: %d %s", p.Status, p.Body)
		}

		// An app that lists other methods only shows no password form.
		e.updateApp(t, map[string]any{"signin_methods": "email_otp"}, nil)
		if p := e.browser(t).authorize(e.request(e.ClientID)); strings.Contains(p.Body, `name="password"`) {
			t.Fatalf("password form without password in signin_methods: %s", p.Body)
		}
		e.updateApp(t, map[string]any{"signin_methods": "password"}, nil)
		if p := e.browser(t).authorize(e.request(e.ClientID)); !strings.Contains(p.Body, `name="password"`) || strings.Contains(p.Body, `name="email"`) {
			t.Fatalf("password only: %s", p.Body)
		}
	})
}

// TestPasswordLockout: wrong passwords lock the user after the app's limit, even for the right
// password, on the pages as in the API (one counter).
func TestPasswordLockout(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true, "otp_max_attempts": 3}, nil)
		_, username, _ := e.passwordUser(t, "lock", false)
		for i := 0; i < 3; i++ {
			e.browser(t).signInWithPassword(e.request(e.ClientID), username, "not the password at all "+string(rune('a'+i)))
		}
		p := e.browser(t).signInWithPassword(e.request(e.ClientID), username, pagePassword)
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many wrong passwords.") {
			t.Fatalf("locked: %d %s", p.Status, p.Body)
		}
		r := e.Do(t, http.MethodPost, "/cis/v1/auth/password/authenticate", e.token,
			map[string]any{"username": username, "password": pagePassword})
		if r.Status != 403 || r.String("error_code") != "auth_locked" {
			t.Fatalf("the API after the pages locked the user: %d %s", r.Status, r.Body)
		}
	})
}

// TestPasswordSecondFactor: an app that requires MFA takes the authenticator of a user who has
// one, and a code sent to the user's own email from one who has not; the second factor cannot
// be skipped, and the ID token says both.
func TestPasswordSecondFactor(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true, "require_mfa": true}, nil)

		// No authenticator: a code to the user's email.
		email, username, _ := e.passwordUser(t, "pw2f", false)
		b := e.browser(t)
		q := e.request(e.ClientID)
		p := b.signInWithPassword(q, username, pagePassword)
		// The address is shown masked: so far this person has proved only a password.
		masked := email[:1] + "\u2022\u2022\u2022" + email[strings.LastIndex(email, "@"):]
		if p.Status != 200 || !strings.Contains(p.Body, "Your password is right") || !strings.Contains(p.Body, masked) ||
			strings.Contains(p.Body, email) || strings.Contains(p.Body, `value="restart"`) {
			t.Fatalf("code page after the password: %d %s", p.Status, p.Body)
		}
		if w := b.act(p, "verify", "code", "000000"); w.Status != 400 || !strings.Contains(w.Body, `aria-describedby="code-error"`) {
			t.Fatalf("wrong second code: %d %s", w.Status, w.Body)
		}
		if w := b.act(p, "restart"); !strings.Contains(w.Body, "Your password is right") {
			t.Fatalf("restart skipped the second factor: %d %s", w.Status, w.Body)
		}
		if w := b.act(p, "resend"); w.Status != http.StatusTooManyRequests || !strings.Contains(w.Body, "You can ask for a new one in") {
			t.Fatalf("resend at once: %d %s", w.Status, w.Body)
		}
		back := e.callback(t, b.act(p, "verify", "code", e.codeSentTo(t, email)))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		id := latchtest.Claims(t, r.String("id_token"))
		if r.Status != 200 || id["acr"] != "mfa" || !slices.Equal(amrOf(t, r.String("id_token")), []any{"pwd", "eotp", "mfa"}) ||
			id["email_verified"] != true {
			t.Fatalf("password + email code: %d %v", r.Status, id)
		}

		// An authenticator: its code, not an email.
		_, username2, uid2 := e.passwordUser(t, "pwtotp", false)
		code, _ := e.enrol(t, uid2)
		b = e.browser(t)
		q = e.request(e.ClientID)
		p = b.signInWithPassword(q, username2, pagePassword)
		if p.Status != 200 || !strings.Contains(p.Body, "Two-step verification") {
			t.Fatalf("totp page after the password: %d %s", p.Status, p.Body)
		}
		back = e.callback(t, b.act(p, "totp", "totp", code()))
		r = e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 || !slices.Equal(amrOf(t, r.String("id_token")), []any{"pwd", "totp", "mfa"}) {
			t.Fatalf("password + totp: %d %s", r.Status, r.Body)
		}
	})
}

// TestTemporaryPasswordOnThePages: a right temporary password asks for a new one (the policy's
// reasons at the field), then signs in; the temporary password is gone.
func TestTemporaryPasswordOnThePages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		_, username, _ := e.passwordUser(t, "temp", true)
		b := e.browser(t)
		q := e.request(e.ClientID)
		p := b.signInWithPassword(q, username, pagePassword)
		if p.Status != 200 || !strings.Contains(p.Body, "Choose a new password") || !strings.Contains(p.Body, `autocomplete="new-password"`) {
			t.Fatalf("new-password page: %d %s", p.Status, p.Body)
		}
		if w := b.act(p, "new_password", "new_password", "short one"); w.Status != 400 ||
			!strings.Contains(w.Body, "Your new password must be at least 15 characters") || !strings.Contains(w.Body, `aria-describedby="new_password-error"`) {
			t.Fatalf("short new password: %d %s", w.Status, w.Body)
		}
		back := e.callback(t, b.act(p, "new_password", "new_password", newPassword))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 || !slices.Equal(amrOf(t, r.String("id_token")), []any{"pwd"}) {
			t.Fatalf("after the new password: %d %s", r.Status, r.Body)
		}
		// The reset token worked once: the same page cannot set another password.
		if w := b.act(p, "new_password", "new_password", "another fine long passphrase"); w.Status != 400 ||
			!strings.Contains(w.Body, "This password change has expired") {
			t.Fatalf("second use of the reset: %d %s", w.Status, w.Body)
		}
		if w := e.browser(t).signInWithPassword(e.request(e.ClientID), username, pagePassword); w.Status != 400 {
			t.Fatalf("the temporary password still works: %d %s", w.Status, w.Body)
		}
		e.callback(t, e.browser(t).signInWithPassword(e.request(e.ClientID), username, newPassword))
	})
}

// TestPasswordSSO: a password sign-in is a single sign-on session for the apps that enable
// passwords, but an app that has not enabled them asks for one of its own methods (and
// prompt=none answers login_required there).
func TestPasswordSSO(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		_, username, _ := e.passwordUser(t, "sso", false)
		other, err := e.Apps.CreateApp(context.Background(), app.NewApp{Name: "No Passwords", RedirectURIs: []string{e.redirect}, Settings: app.DefaultSettings()})
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		e.callback(t, b.signInWithPassword(e.request(e.ClientID), username, pagePassword))

		// Another client of the same app: signed in at once.
		c := e.newClient(t)
		q := e.request(c.ClientID, "prompt", "none")
		if back := e.callback(t, b.authorize(q)); back.Get("code") == "" {
			t.Fatalf("SSO to a second client of the password app: %v", back)
		}
		// The app without passwords: login_required with prompt=none, the pages otherwise.
		if back := e.callback(t, b.authorize(e.request(other.ClientID, "prompt", "none"))); back.Get("error") != "login_required" {
			t.Fatalf("prompt=none at an app without passwords: %v", back)
		}
		if p := b.authorize(e.request(other.ClientID)); p.Status != 200 || !strings.Contains(p.Body, "Sign in to No Passwords") {
			t.Fatalf("the app without passwords: %d %s", p.Status, p.Body)
		}
	})
}

// TestSSOMethodsDoNotAddUpToMFA: two one-factor sign-ins in one browser (an email code, later a
// password with prompt=login) do not make the browser's session a two-factor one: an app asking
// for MFA still gets the user's authenticator, as a fresh browser does.
func TestSSOMethodsDoNotAddUpToMFA(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email, username, uid := e.passwordUser(t, "merge", false)
		code, _ := e.enrol(t, uid)
		b := e.browser(t)
		e.signInByEmailCode(t, b, e.request(e.ClientID), email)
		e.callback(t, b.signInWithPassword(e.request(e.ClientID, "prompt", "login"), username, pagePassword))

		q := e.request(e.ClientID, "acr_values", "mfa")
		p := b.authorize(q)
		if p.Status != 200 || !strings.Contains(p.Body, "Two-step verification") {
			t.Fatalf("acr_values=mfa after an email code and a password: %d %s %s", p.Status, p.Location, p.Body)
		}
		back := e.callback(t, b.act(p, "totp", "totp", code()))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		id := latchtest.Claims(t, r.String("id_token"))
		if r.Status != 200 || id["acr"] != "mfa" || !slices.Contains(amrOf(t, r.String("id_token")), any("totp")) {
			t.Fatalf("step-up: %d %v", r.Status, id)
		}
	})
}

// TestSSOStepUpWithoutAuthenticator: a browser signed in with one factor meets an app that
// requires MFA and signs in with passwords; the user has no authenticator, so instead of a refusal
// the pages ask for the password, then a code to the user's own email, as a fresh browser does.
func TestSSOStepUpWithoutAuthenticator(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email, username, _ := e.passwordUser(t, "stepup", false)
		mfaApp := e.mfaPasswordApp(t)
		b := e.browser(t)
		e.callback(t, b.signInWithPassword(e.request(e.ClientID), username, pagePassword))

		if back := e.callback(t, b.authorize(e.request(mfaApp.ClientID, "prompt", "none"))); back.Get("error") != "interaction_required" {
			t.Fatalf("prompt=none: %v", back)
		}
		q := e.request(mfaApp.ClientID)
		p := b.authorize(q)
		if p.Status != 200 || !strings.Contains(p.Body, "asks for your password and a code") || !strings.Contains(p.Body, `value="`+username+`"`) ||
			strings.Contains(p.Body, email) {
			t.Fatalf("step-up without an authenticator: %d %s %s", p.Status, p.Location, p.Body)
		}
		p = b.signInWithPassword(q, username, pagePassword)
		if p.Status != 200 || !strings.Contains(p.Body, "Your password is right") {
			t.Fatalf("after the password: %d %s", p.Status, p.Body)
		}
		back := e.callback(t, b.act(p, "verify", "code", e.codeSentTo(t, email)))
		r := e.exchange(t, mfaApp.ClientID, mfaApp.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 || !slices.Equal(amrOf(t, r.String("id_token")), []any{"pwd", "eotp", "mfa"}) {
			t.Fatalf("password + code at the MFA app: %d %s", r.Status, r.Body)
		}
	})
}

// TestPasswordUsernameLikeAnAddress: a username that is not an email address or a phone number,
// though it has an "@" or starts with "+", signs in on the pages as a username.
func TestPasswordUsernameLikeAnAddress(t *testing.T) {
	e := sqliteEnv(t)
	e.updateApp(t, map[string]any{"password_enabled": true}, nil)
	for _, name := range []string{"bob@corp", "+bob"} {
		e.CreateUser(t, e.token, map[string]any{"username": name,
			"credentials": map[string]any{"password": pagePassword, "force_replace": false}})
		e.callback(t, e.browser(t).signInWithPassword(e.request(e.ClientID), name, pagePassword))
	}
}

// TestStepUpPageShowsNoAddress: a browser that proved a phone number and a password meets an
// app that requires MFA: the page asking for the password again shows neither of the user's
// addresses (it prefills only a username, and this user has none), nor does the code page.
func TestStepUpPageShowsNoAddress(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email, phone := uniqueEmail("leak"), uniquePhone()
		e.CreateUser(t, e.token, map[string]any{"email": email, "phone_number": phone,
			"credentials": map[string]any{"password": pagePassword, "force_replace": false}})
		mfaApp := e.mfaPasswordApp(t)
		b := e.browser(t)
		e.callback(t, b.signInWithPassword(e.request(e.ClientID), phone, pagePassword))
		q := e.request(mfaApp.ClientID)
		p := b.authorize(q)
		if p.Status != 200 || !strings.Contains(p.Body, "asks for your password and a code") || strings.Contains(p.Body, email) || strings.Contains(p.Body, phone) {
			t.Fatalf("step-up page: %d %s", p.Status, p.Body)
		}
		p = b.signInWithPassword(q, phone, pagePassword)
		if p.Status != 200 || !strings.Contains(p.Body, "Your password is right") || strings.Contains(p.Body, email) {
			t.Fatalf("code page: %d %s", p.Status, p.Body)
		}
	})
}

// TestStepUpWithoutPassword: a user with neither a password nor an authenticator, signed in by
// email code, is refused at once by an app that requires MFA — not sent to a password form.
func TestStepUpWithoutPassword(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email := uniqueEmail("nopw")
		e.CreateUser(t, e.token, map[string]any{"email": email})
		mfaApp := e.mfaPasswordApp(t)
		b := e.browser(t)
		e.signInByEmailCode(t, b, e.request(e.ClientID), email)
		if back := e.callback(t, b.authorize(e.request(mfaApp.ClientID))); back.Get("error") != "access_denied" {
			t.Fatalf("a user without a password or an authenticator: %v", back)
		}
	})
}

// TestNewerOneFactorSignInDropsMFA: after a two-factor sign-in, a newer one-factor sign-in in the
// same browser (prompt=login) moves auth_time forward, so the browser's session no longer counts
// as two-factor: acr_values=mfa asks for the authenticator again.
func TestNewerOneFactorSignInDropsMFA(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		e.updateApp(t, map[string]any{"password_enabled": true}, nil)
		email, username, uid := e.passwordUser(t, "newer", false)
		code, _ := e.enrol(t, uid)
		b := e.browser(t)
		p := b.signInWithPassword(e.request(e.ClientID, "acr_values", "mfa"), username, pagePassword)
		e.callback(t, b.act(p, "totp", "totp", code()))
		e.Clock.Advance(time.Minute)
		e.signInByEmailCode(t, b, e.request(e.ClientID, "prompt", "login"), email)
		p = b.authorize(e.request(e.ClientID, "acr_values", "mfa"))
		if p.Status != 200 || !strings.Contains(p.Body, "Two-step verification") {
			t.Fatalf("acr_values=mfa after a newer one-factor sign-in: %d %s", p.Status, p.Location)
		}
	})
}

// mfaPasswordApp creates an app that signs in with passwords and requires MFA.
func (e *env) mfaPasswordApp(t *testing.T) app.Credentials {
	t.Helper()
	s := app.DefaultSettings()
	s.PasswordEnabled, s.RequireMFA = true, true
	c, err := e.Apps.CreateApp(context.Background(), app.NewApp{Name: "MFA App", RedirectURIs: []string{e.redirect}, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
