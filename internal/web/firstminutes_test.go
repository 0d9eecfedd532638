package web

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

// testClock is a settable clock shared by the demo and the fake Latch.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// clockedDemo is the demo against a fake Latch, both on one clock the test moves.
func clockedDemo(t *testing.T) (*fakeLatch, *browser, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Now().Truncate(time.Second)}
	f := newFakeLatch(t)
	f.now = clk.Now
	h := New(Config{BaseURL: f.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret, Outbox: &memOutbox{},
		HTTPClient: &http.Client{Timeout: 5 * time.Second}, Now: clk.Now})
	b := newBrowser(t, h)
	b.get("/demo")
	return f, b, clk
}

// postAndFollow submits a form, requires the post/redirect/get answer (303 to want), and returns
// the page the redirect leads to.
func (b *browser) postAndFollow(path string, form url.Values, want string) string {
	b.t.Helper()
	w := b.post(path, form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
		b.t.Fatalf("POST %s = %d to %q, want 303 to %s: %s", path, w.Code, w.Header().Get("Location"), want, firstLines(w.Body.String()))
	}
	page := b.get(strings.SplitN(want, "#", 2)[0])
	if page.Code != http.StatusOK {
		b.t.Fatalf("GET %s after POST %s = %d", want, path, page.Code)
	}
	return page.Body.String()
}

func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, firstLines(body))
		}
	}
}

func mustNotContain(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s contains %q:\n%s", what, w, firstLines(body))
		}
	}
}

// errorText is the text of the page's refusals (role="alert").
var alertText = regexp.MustCompile(`role="alert">([^<]*)<`)

func alerts(body string) []string {
	var out []string
	for _, m := range alertText.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDemoNoEnumeration: a signed-out visitor reads the same words whether the account exists,
// has an authenticator app, is disabled or is locked; a code "sent" to a disabled account looks
// like any other.
func TestDemoNoEnumeration(t *testing.T) {
	f, b, _ := clockedDemo(t)
	var seen []string
	for _, refusal := range []fakeError{
		{status: 400, code: "auth_invalid_credentials"},
		{status: 404, code: "user_not_found"},
		{status: 404, code: "totp_not_registered"},
		{status: 403, code: "user_not_active"},
		{status: 403, code: "auth_locked"},
	} {
		f.failWith("POST /cis/v1/auth/totp/authenticate", refusal)
		body := b.postAndFollow("/demo/totp/signin", url.Values{"email": {"ada@example.com"}, "code": {"123456"}}, "/demo")
		got := strings.Join(alerts(body), " | ")
		mustNotContain(t, refusal.code, strings.ToLower(got), "no account", "not found", "not registered", "no authenticator", "not active", "locked")
		seen = append(seen, got)
		if got != seen[0] {
			t.Errorf("%s reads %q, %s read %q: the words tell them apart", refusal.code, got, "auth_invalid_credentials", seen[0])
		}
	}
	if seen[0] != totpSignInFailed {
		t.Errorf("refusal reads %q, want %q", seen[0], totpSignInFailed)
	}

	// A disabled account: "sent", then every code is simply wrong.
	f.failWith("POST /cis/v1/auth/totp/authenticate", fakeError{})
	f.failWith("POST /cis/v1/auth/otp/send", fakeError{status: 403, code: "user_not_active"})
	body := b.postAndFollow("/demo/email", url.Values{"email": {"gone@example.com"}}, "/demo/code")
	mustContain(t, "code page for a disabled account", body, "gone@example.com", "expires in 5 minutes")
	f.failWith("POST /cis/v1/auth/otp/authenticate", fakeError{status: 403, code: "user_not_active"})
	body = b.postAndFollow("/demo/code", url.Values{"code": {"123456"}}, "/demo/code")
	if got := alerts(body); len(got) != 1 || got[0] != codeWrong {
		t.Errorf("a disabled account's code reads %q, want %q", got, codeWrong)
	}
}

// TestDemoCodeEntry: the code page says when the code expires and when a new one may be asked
// for, refuses in plain words at the field, tells lockouts and rate limits with the wait, and
// every POST answers with a redirect.
func TestDemoCodeEntry(t *testing.T) {
	f, b, clk := clockedDemo(t)
	body := b.postAndFollow("/demo/email", url.Values{"email": {"ada@example.com"}}, "/demo/code")
	mustContain(t, "code page", body, `id="expiry">The code expires in 5 minutes.`, "You can ask for a new code in 30 seconds.",
		`autocomplete="one-time-code"`, `inputmode="numeric"`)
	if f.lastSend["expires_in"] != float64(codeMinutes) {
		t.Errorf("otp/send expires_in = %v, want %d (the page says it)", f.lastSend["expires_in"], codeMinutes)
	}

	// Too early for a new code: nothing is sent, the wait is told.
	clk.Advance(12 * time.Second)
	sends := f.count("POST /cis/v1/auth/otp/send")
	body = b.postAndFollow("/demo/code/resend", nil, "/demo/code")
	mustContain(t, "early resend", body, "You can ask for a new code in 18 seconds.")
	if f.count("POST /cis/v1/auth/otp/send") != sends {
		t.Error("a new code was sent before the wait ended")
	}
	clk.Advance(20 * time.Second)
	body = b.postAndFollow("/demo/code/resend", nil, "/demo/code")
	mustContain(t, "resend", body, "We sent a new code to ada@example.com.", "The code expires in 5 minutes.")
	if f.count("POST /cis/v1/auth/otp/send") != sends+1 {
		t.Error("no new code was sent")
	}
	clk.Advance(2*time.Minute + 10*time.Second)
	mustContain(t, "code page later", b.get("/demo/code").Body.String(), "The code expires in 3 minutes.",
		"Didn't get it, or took too long?")

	for _, tc := range []struct {
		name    string
		code    string
		refusal fakeError
		want    string
	}{
		{"empty", "", fakeError{}, `id="code-error" role="alert">Enter the code from the message.`},
		{"wrong", "000000", fakeError{}, `id="code-error" role="alert">` + codeWrong},
		{"expired", "123456", fakeError{status: 400, code: "auth_otp_passcode_expired"}, `id="code-error" role="alert">` + codeExpired},
		{"not digits", "12ab", fakeError{status: 400, code: "system_invalid_input"}, ""},
		{"locked", "000000", fakeError{status: 403, code: "auth_locked"}, "Too many attempts. Try again in 15 minutes."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.failWith("POST /cis/v1/auth/otp/authenticate", tc.refusal)
			body := b.postAndFollow("/demo/code", url.Values{"code": {tc.code}}, "/demo/code")
			if tc.want != "" {
				mustContain(t, "refused code", body, tc.want)
			}
			mustNotContain(t, "refused code", body, "passcode", "error_code", "system_invalid_input")
		})
	}
	// The lock's end comes nearer as time passes.
	clk.Advance(time.Minute)
	body = b.postAndFollow("/demo/code", url.Values{"code": {"000000"}}, "/demo/code")
	mustContain(t, "still locked", body, "Too many attempts. Try again in 14 minutes.")
	// Latch's Retry-After, when it sends one, wins.
	f.failWith("POST /cis/v1/auth/otp/authenticate", fakeError{status: 403, code: "auth_locked", retryAfter: 125})
	body = b.postAndFollow("/demo/code", url.Values{"code": {"000000"}}, "/demo/code")
	mustContain(t, "lock with Retry-After", body, "Too many attempts. Try again in 3 minutes.")

	// A rate-limited resend says how long to wait.
	clk.Advance(time.Minute)
	f.failWith("POST /cis/v1/auth/otp/send", fakeError{status: 429, code: "rate_limit_exceeded", retryAfter: 600})
	body = b.postAndFollow("/demo/code/resend", nil, "/demo/code")
	mustContain(t, "rate limited", body, "Too many codes were sent to this address. Try again in 10 minutes.")

	// Reloading the page after a refusal shows no refusal, and submits nothing.
	body = b.get("/demo/code").Body.String()
	if got := alerts(body); len(got) != 0 {
		t.Errorf("after a reload the page still shows %q", got)
	}

	// The expiry passes.
	clk.Advance(10 * time.Minute)
	mustContain(t, "expired code page", b.get("/demo/code").Body.String(), "The code has expired.")

	// A field refusal from Latch names the field in words on the home page.
	f.failWith("POST /cis/v1/users", fakeError{status: 400, code: "system_invalid_input"})
	f.failWith("POST /cis/v1/auth/otp/send", fakeError{})
	w := b.post("/demo/sms", url.Values{"phone": {"12"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("POST /demo/sms = %d", w.Code)
	}
}

// TestDemoFieldWords: Latch's "field: problem" refusals read as words at the right field.
func TestDemoFieldWords(t *testing.T) {
	for _, tc := range []struct{ message, field, want string }{
		{"email: must be a valid email address", "email", "Enter an email address such as ada@example.com."},
		{"phone_number: must be E.164", "phone", "Enter the phone number in international format"},
		{"passcode: must be digits", "code", "digits only"},
		{"token: must be 6 digits", "code", "digits only"},
		{"request: contains NUL", "", "Check what you entered"},
	} {
		field, msg := inputProblem(tc.message)
		name, _, _ := strings.Cut(tc.message, ":")
		if field != tc.field || !strings.Contains(msg, tc.want) || strings.Contains(msg, name+":") {
			t.Errorf("inputProblem(%q) = %q, %q; want %q, %q", tc.message, field, msg, tc.field, tc.want)
		}
	}
	if got := waitWords(61 * time.Second); got != "2 minutes" {
		t.Errorf("waitWords(61s) = %q", got)
	}
	if got := waitWords(time.Second); got != "1 second" {
		t.Errorf("waitWords(1s) = %q", got)
	}
}

// signInFake signs the browser in with the fake's passcode.
func signInFake(t *testing.T, b *browser) {
	t.Helper()
	b.postAndFollow("/demo/email", url.Values{"email": {"ada@example.com"}}, "/demo/code")
	b.postAndFollow("/demo/code", url.Values{"code": {fakePasscode}}, "/demo/account")
}

// TestDemoAccountKnowsTOTPState: the account page offers what the account's state allows.
func TestDemoAccountKnowsTOTPState(t *testing.T) {
	f, b, _ := clockedDemo(t)
	signInFake(t, b)
	w := b.get("/demo/account")
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("signed-in page Cache-Control %q, want no-store", cc)
	}
	body := w.Body.String()
	mustContain(t, "account without authenticator", body, "Not set up", `id="enrol"`)
	mustNotContain(t, "account without authenticator", body, `id="revoke"`, `id="form-mfa"`, `id="form-txn"`)

	f.mu.Lock()
	f.devices = []map[string]any{{"authId": "a1", "deviceName": "Latch (ada@example.com)", "status": "active", "created_at": int64(1767225600000)},
		{"authId": "a2", "deviceName": "pending", "status": "pending", "created_at": int64(1767225600000)}}
	f.mu.Unlock()
	body = b.get("/demo/account").Body.String()
	mustContain(t, "account with authenticator", body, "Set up", "Latch (ada@example.com)", "1 January 2026", `id="revoke"`, `id="form-mfa"`, `id="form-txn"`)
	mustNotContain(t, "account with authenticator", body, `id="enrol"`, "pending")

	// Joined as the second factor: it is not offered again.
	body = b.postAndFollow("/demo/mfa", url.Values{"code": {fakePasscode}}, "/demo/account")
	mustContain(t, "account after MFA", body, "Second factor added", `<li class="badge mfa">mfa</li>`, "already used it as its second factor", `id="form-txn"`)
	mustNotContain(t, "account after MFA", body, `id="form-mfa"`)
	if f.totpBody["session_id"] != "s1" {
		t.Errorf("the second factor was not joined to the session: %v", f.totpBody)
	}

	// A wrong authenticator code is told at the field of its form.
	f.mu.Lock()
	f.amr = []string{"eotp"}
	f.mu.Unlock()
	signInFake(t, b)
	body = b.postAndFollow("/demo/mfa", url.Values{"code": {"999999"}}, "/demo/account")
	mustContain(t, "wrong second factor", body, `id="mfa-code-error" role="alert">`+totpWrong)
	body = b.postAndFollow("/demo/txn", url.Values{"amount": {"12,50"}, "currency": {"EUR"}}, "/demo/account")
	mustContain(t, "bad amount", body, `id="txn-amount-error" role="alert">Enter an amount such as 42.50`, `value="12,50"`)
}

// TestDemoRemoveAsksForConfirmation: removing the authenticator goes through a confirmation
// page, which asks for a code from the app when the session has not used it yet.
func TestDemoRemoveAsksForConfirmation(t *testing.T) {
	f, b, _ := clockedDemo(t)
	f.mu.Lock()
	f.devices = []map[string]any{{"authId": "a1", "deviceName": "App", "status": "active", "created_at": int64(1767225600000)}}
	f.mu.Unlock()
	signInFake(t, b)
	mustContain(t, "account", b.get("/demo/account").Body.String(), `href="/demo/totp/remove"`)

	w := b.post("/demo/totp/revoke", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo/totp/remove" || f.revokes != 0 {
		t.Fatalf("an unconfirmed remove: %d %s, %d revokes", w.Code, w.Header().Get("Location"), f.revokes)
	}
	body := b.get("/demo/totp/remove").Body.String()
	mustContain(t, "confirmation", body, "Remove your authenticator app?", `name="confirm" value="yes"`, `id="remove-code"`, `href="/demo/account"`)

	body = b.postAndFollow("/demo/totp/revoke", url.Values{"confirm": {"yes"}}, "/demo/totp/remove")
	mustContain(t, "remove without code", body, `id="remove-code-error" role="alert">Enter the code your authenticator app shows`)
	body = b.postAndFollow("/demo/totp/revoke", url.Values{"confirm": {"yes"}, "code": {"111111"}}, "/demo/totp/remove")
	mustContain(t, "remove with a wrong code", body, totpWrong)
	if f.revokes != 0 {
		t.Fatal("removed without a right code")
	}
	body = b.postAndFollow("/demo/totp/revoke", url.Values{"confirm": {"yes"}, "code": {fakePasscode}}, "/demo/account")
	mustContain(t, "after remove", body, "Your authenticator app was removed.", "Not set up", `id="enrol"`)
	if f.revokes != 1 {
		t.Errorf("%d revokes, want 1", f.revokes)
	}

	// With the app already used by the session, the confirmation needs no code.
	f.mu.Lock()
	f.devices = []map[string]any{{"authId": "a2", "deviceName": "App", "status": "active", "created_at": int64(1767225600000)}}
	f.mu.Unlock()
	body = b.get("/demo/totp/remove").Body.String()
	mustNotContain(t, "confirmation after MFA", body, `id="remove-code"`)
	b.postAndFollow("/demo/totp/revoke", url.Values{"confirm": {"yes"}}, "/demo/account")
	if f.revokes != 2 {
		t.Errorf("%d revokes, want 2", f.revokes)
	}
}

// TestDemoSignOutForgetsTheSession: after sign-out the old session id answers nothing, and the
// browser has a new one.
func TestDemoSignOutForgetsTheSession(t *testing.T) {
	_, b, _ := clockedDemo(t)
	signInFake(t, b)
	signedInID := b.cookies[sessionCookie]
	body := b.postAndFollow("/demo/signout", nil, "/demo")
	mustContain(t, "home after sign-out", body, "You are signed out.")
	if b.cookies[sessionCookie] == signedInID {
		t.Error("the browser keeps its signed-in session id after signing out")
	}
	old := newBrowser(t, b.h)
	old.cookies[sessionCookie] = signedInID
	if w := old.get("/demo/account"); w.Code != http.StatusSeeOther {
		t.Errorf("the signed-in session id still opens the account page: %d", w.Code)
	}
}

// TestStyleContrast: every colour of style.css is checked: text colours reach 4.5:1 on every
// background they are used on.
func TestStyleContrast(t *testing.T) {
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	const (
		ink, muted, white, bg, accent = "#111827", "#4b5563", "#ffffff", "#f3f4f6", "#1d4ed8"
		ok, okBg, bad, badBg          = "#047857", "#ecfdf5", "#b91c1c", "#fef2f2"
	)
	pairs := []struct{ what, fg, bg string }{
		{"text on page", ink, bg}, {"text on card", ink, white}, {"muted on page", muted, bg}, {"muted on card", muted, white},
		{"link on page", accent, bg}, {"link on card", accent, white}, {"button", white, accent},
		{"flash", ok, okBg}, {"error", bad, badBg}, {"field error on card", bad, white}, {"danger button", bad, white},
		{"danger solid button", white, bad}, {"header brand", white, ink}, {"header nav", "#d1d5db", ink},
		{"current nav", white, "#374151"}, {"tag", ink, "#fbbf24"}, {"placeholder", "#6b7280", white},
		{"state off", "#374151", "#e5e7eb"}, {"badge", "#3730a3", "#e0e7ff"}, {"email badge", "#1e40af", "#dbeafe"},
		{"sms badge", "#9d174d", "#fce7f3"}, {"code", ink, "#f9fafb"}, {"sms text", ink, bg},
	}
	checked := map[string]bool{}
	for _, p := range pairs {
		checked[p.fg], checked[p.bg] = true, true
		if c := delivery.Contrast(p.fg, p.bg); c < delivery.MinContrast {
			t.Errorf("%s: %s on %s is %.2f:1, want ≥ %.1f", p.what, p.fg, p.bg, c, delivery.MinContrast)
		}
	}
	// Lines and borders are not text; they are listed so that every other colour is checked.
	for _, c := range []string{"#e5e7eb", "#9ca3af", "#a7f3d0", "#fecaca"} {
		checked[c] = true
	}
	for _, c := range regexp.MustCompile(`#[0-9a-fA-F]{6}\b`).FindAllString(string(css), -1) {
		if !checked[strings.ToLower(c)] {
			t.Errorf("style.css uses %s, which no contrast pair checks", c)
		}
	}
}
