package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/user"
)

// TestScreenshotsOIDCPages walks Latch's own sign-in pages (the OpenID Connect provider's, at
// /cis/oidc/auth) in headless Chromium, on a node whose clock the test moves: the sign-in page
// with its methods, the page of an app that offers only the email code, a refused address told
// at its field, code entry, a wrong code, the wait before a new code, the second factor, the
// recovery-code step, a sign-in link sent and the same link opened in another browser, the
// sign-out confirmation, the signed-out page and the error page of a bad redirect_uri. Every page
// is checked at 1280 and 390 px (no sideways scrolling); LATCH_SCREENSHOTS=DIR saves each as
// DIR/oidc-NAME-WIDTH.png (docs/screenshots is made so:
// `LATCH_SCREENSHOTS=$PWD/docs/screenshots go test -run TestScreenshots ./cmd/latch/`).
func TestScreenshotsOIDCPages(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	stack := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{})
	if r := stack.Do(t, http.MethodGet, "/cis/oidc/auth", "", nil); r.Status == http.StatusNotFound {
		t.Skip("GET /cis/oidc/auth (branch oidc-core) is not served yet")
	}

	// The application people sign in to, by the name they know it by.
	name := "Acme Wiki"
	if _, err := stack.Apps.UpdateApp(context.Background(), stack.App.ID, app.Update{Name: &name}); err != nil {
		t.Fatal(err)
	}
	stack.App.Name = name

	// Ada has an authenticator app: sign in through the API, register TOTP with her token.
	const ada = "ada.lovelace@example.com"
	client := stack.ClientToken(t)
	stack.CreateUser(t, client, map[string]any{"email": ada})
	sent := stack.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", client, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": ada})
	login := stack.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", client, map[string]any{"identifier_type": "email", "identifier": ada, "passcode": sent.String("code")})
	reg := stack.Do(t, http.MethodPost, "/cis/v1/users/me/totp", login.String("access_token"), map[string]any{})
	secret := reg.String("secret")
	if secret == "" {
		t.Fatalf("TOTP registration: %d %s (login %d %s)", reg.Status, reg.Body, login.Status, login.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(int(shotWidths[0]), demoHeight))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	b := &firstBrowser{demoBrowser: &demoBrowser{t: t, ctx: tabCtx, base: stack.URL}, stack: stack, shots: os.Getenv("LATCH_SCREENSHOTS")}
	if b.shots != "" {
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := &oauth2.Config{ClientID: stack.ClientID, RedirectURL: stack.App.RedirectURIs[0], Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: stack.URL + "/cis/oidc/auth"}}
	authURL := func(extra ...string) string {
		o := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("nonce", "n")}
		for i := 0; i+1 < len(extra); i += 2 {
			o = append(o, oauth2.SetAuthURLParam(extra[i], extra[i+1]))
		}
		return conf.AuthCodeURL("st", o...)
	}
	step := func(name string, f func(b *firstBrowser)) bool {
		return t.Run(name, func(t *testing.T) {
			b.t = t
			f(b)
		})
	}

	_ = step("sign_in_page", func(b *firstBrowser) {
		b.navigate(authURL("acr_values", "mfa"))
		b.heading("Sign in to " + stack.App.Name)
		b.shows("main", "Email me a code", "Email me a sign-in link", "Text me a code")
		b.look("oidc-signin")
		b.press("send_email_otp", map[string]string{"email": "not an address"})
		b.heading("Sign in to " + stack.App.Name)
		if v := b.attr("#email", "aria-invalid"); v != "true" {
			b.t.Errorf("the refused address is not marked aria-invalid (%q)", v)
		}
		b.shows("#email-error", "")
		b.look("oidc-signin-refused")
	}) && step("email_only_app", func(b *firstBrowser) {
		// An application that offers only the email code: the page asks for the address alone.
		st := app.DefaultSettings()
		st.SignInMethods = app.SignInEmailOTP
		creds, err := stack.Apps.CreateApp(context.Background(), app.NewApp{Name: "Team Notes", RedirectURIs: []string{"https://notes.example/callback"}, Settings: st})
		if err != nil {
			b.t.Fatal(err)
		}
		notes := &oauth2.Config{ClientID: creds.ClientID, RedirectURL: "https://notes.example/callback", Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{AuthURL: stack.URL + "/cis/oidc/auth"}}
		b.navigate(notes.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		b.heading("Sign in to Team Notes")
		b.shows("main", "Email me a code")
		b.notShows("main", "sign-in link", "Text me a code")
		b.look("oidc-signin-email")
		b.navigate(authURL("acr_values", "mfa")) // back to Acme Wiki's sign-in
	}) && step("code_wrong_and_resend_wait", func(b *firstBrowser) {
		b.press("send_email_otp", map[string]string{"email": ada})
		b.heading("Enter your code")
		b.shows("main", ada, "You can ask for a new code in 30 seconds.")
		b.look("oidc-code")
		b.press("verify", map[string]string{"code": "000000"})
		b.heading("Enter your code")
		if v := b.attr("#code", "aria-invalid"); v != "true" {
			b.t.Errorf("the wrong code is not marked aria-invalid (%q)", v)
		}
		b.look("oidc-code-wrong")
		stack.Clock.Advance(10 * time.Second)
		b.press("resend", nil)
		b.shows("main", "You can ask for a new code in 20 seconds.")
		if n := len(stack.Outbox(b.t, ada)); n != 1 {
			b.t.Errorf("%d messages to %s after a too-early resend, want 1", n, ada)
		}
		b.look("oidc-code-resend-wait")
	}) && step("second_factor", func(b *firstBrowser) {
		b.press("verify", map[string]string{"code": storeCode(b.t, stack, ada)})
		b.heading("Two-step verification")
		b.look("oidc-totp")
		b.press("use_recovery", nil)
		b.heading("Use a recovery code")
		b.look("oidc-recovery")
		b.press("use_totp", nil)
		b.heading("Two-step verification")
		code, err := totp.GenerateCode(secret, stack.Clock.Now())
		if err != nil {
			b.t.Fatal(err)
		}
		b.press("totp", map[string]string{"totp": code})
		if loc := b.location(); !strings.HasPrefix(loc, stack.App.RedirectURIs[0]+"?code=") {
			b.t.Errorf("after the second factor the browser is at %s, want the redirect URI with a code", loc)
		}
	}) && step("link_opened_elsewhere", func(b *firstBrowser) {
		b.navigate(authURL("prompt", "login"))
		b.press("send_magic_link", map[string]string{"email": ada})
		b.heading("Check your email")
		b.look("oidc-link-sent")
		link := outboxLink(b.t, stack, ada)
		other, cancelOther := chromedp.NewContext(tabCtx, chromedp.WithNewBrowserContext()) // another browser: its own cookies
		defer cancelOther()
		ob := &firstBrowser{demoBrowser: &demoBrowser{t: b.t, ctx: other, base: stack.URL}, stack: stack, shots: b.shots}
		ob.navigate(link)
		if loc := ob.location(); !strings.HasPrefix(loc, stack.URL+"/cis/") {
			b.t.Fatalf("a link opened in another browser signed it in: %s", loc)
		}
		ob.shows("main", "browser")
		ob.look("oidc-link-elsewhere")
	}) && step("signed_out", func(b *firstBrowser) {
		b.navigate(stack.URL + "/cis/oidc/session/end")
		b.heading("Sign out?") // no id_token_hint: the person confirms
		b.look("oidc-signout-confirm")
		b.submitOnly()
		b.heading("You are signed out")
		b.look("oidc-signed-out")
	}) && step("error_page", func(b *firstBrowser) {
		b.navigate(conf.AuthCodeURL("st", oauth2.SetAuthURLParam("redirect_uri", "https://attacker.example/cb")))
		if loc := b.location(); !strings.HasPrefix(loc, stack.URL) {
			b.t.Fatalf("a bad redirect_uri sent the browser to %s", loc)
		}
		b.look("oidc-error")
	}) && step("password_pages", func(b *firstBrowser) {
		// An application with passwords and MFA: Grace's temporary password asks for her own,
		// then a code at her email (she has no authenticator), then back to the app.
		st := app.DefaultSettings()
		st.PasswordEnabled, st.RequireMFA = true, true
		redirect := stack.App.RedirectURIs[0] // served by the test, so the browser lands somewhere
		files, err := stack.Apps.CreateApp(context.Background(), app.NewApp{Name: "Acme Files", RedirectURIs: []string{redirect}, Settings: st})
		if err != nil {
			b.t.Fatal(err)
		}
		filesApp, err := stack.Apps.App(context.Background(), files.AppID)
		if err != nil {
			b.t.Fatal(err)
		}
		const grace = "grace.hopper@example.com"
		if _, err := stack.Passwords.CreateUser(context.Background(), password.Caller{App: filesApp}, user.Input{Email: ptr(grace)},
			password.CredentialInput{Password: "welcome aboard 2026 cobalt"}); err != nil {
			b.t.Fatal(err)
		}
		fc := &oauth2.Config{ClientID: files.ClientID, RedirectURL: redirect, Scopes: []string{"openid", "email"},
			Endpoint: oauth2.Endpoint{AuthURL: stack.URL + "/cis/oidc/auth"}}
		b.navigate(fc.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		b.heading("Sign in to Acme Files")
		b.shows("main", "Email me a code", "Sign in with password")
		b.look("oidc-signin-password")
		b.press("password", map[string]string{"username": grace, "password": "not her password at all"})
		b.shows("#password-error", "That username or password is not right.")
		b.press("password", map[string]string{"username": grace, "password": "welcome aboard 2026 cobalt"})
		b.heading("Choose a new password")
		b.press("new_password", map[string]string{"new_password": "short"})
		b.shows("#new_password-error", "at least 15 characters")
		b.look("oidc-new-password")
		b.press("new_password", map[string]string{"new_password": "tidal compass for 9 orchids"})
		b.heading("Enter your code")
		b.shows("main", "Your password is right", "g\u2022\u2022\u2022@example.com") // masked: only a password proved so far
		b.look("oidc-password-code")
		b.press("verify", map[string]string{"code": storeCode(b.t, stack, grace)})
		if loc := b.location(); !strings.HasPrefix(loc, redirect+"?code=") {
			b.t.Errorf("after the password and the code the browser is at %s, want the redirect URI with a code", loc)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func (b *firstBrowser) navigate(u string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(u)); err != nil {
		b.t.Fatalf("open %s: %v", u, err)
	}
}

func (b *firstBrowser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// heading fails the test unless the page's h1 contains want.
func (b *firstBrowser) heading(want string) {
	b.t.Helper()
	if h := b.text("h1"); !strings.Contains(h, want) {
		b.t.Fatalf("at %s the page says %q, want %q; it shows:\n%s", b.location(), h, want, b.text("main"))
	}
}

// press fills fields (by name) in the form of the button whose value is action and presses
// that button, waiting for the page it loads.
func (b *firstBrowser) press(action string, fields map[string]string) {
	b.t.Helper()
	raw, _ := json.Marshal(fields)
	js := `((action, fields) => {
  const btn = document.querySelector('button[name="action"][value="' + action + '"]');
  if (!btn) return false;
  for (const [k, v] of Object.entries(fields || {})) btn.form.querySelector('[name="' + k + '"]').value = v;
  btn.form.requestSubmit(btn);
  return true;
})(` + jsString(action) + `, ` + string(raw) + `)`
	sel := `button[name="action"][value="` + action + `"]`
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`)); err != nil || n != 1 {
		b.t.Fatalf("at %s there is no %q button (%v); the page shows:\n%s", b.location(), action, err, b.text("main"))
	}
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Evaluate[bool](js))); err != nil {
		b.t.Fatalf("press %s at %s: %v; the page shows:\n%s", action, b.location(), err, b.text("main"))
	}
}

// submitOnly presses the button of the page's only form.
func (b *firstBrowser) submitOnly() {
	b.t.Helper()
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("form button").length`)); err != nil || n != 1 {
		b.t.Fatalf("at %s: want one form button (%v)", b.location(), err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("form button")))); err != nil {
		b.t.Fatalf("press the button at %s: %v", b.location(), err)
	}
}

func jsString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// storeCode is the code of the newest message to `to` in the dev outbox.
func storeCode(t *testing.T, s *latchtest.Stack, to string) string {
	t.Helper()
	msgs := s.Outbox(t, to)
	if len(msgs) == 0 {
		t.Fatalf("no message to %s", to)
	}
	m := emailCode.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	return m[1]
}

// outboxLink is the sign-in link of the newest message to `to`.
func outboxLink(t *testing.T, s *latchtest.Stack, to string) string {
	t.Helper()
	msgs := s.Outbox(t, to)
	if len(msgs) == 0 {
		t.Fatalf("no message to %s", to)
	}
	for _, m := range msgs { // newest first; only the link email has a link
		for _, w := range strings.Fields(m.Text) {
			if u, err := url.Parse(w); err == nil && strings.HasPrefix(w, s.URL) && u.RawQuery != "" {
				return w
			}
		}
	}
	t.Fatalf("no link in the messages to %s", to)
	return ""
}
