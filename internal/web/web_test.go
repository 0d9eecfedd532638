package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

func newTestHandler(t *testing.T, box *memOutbox, latchURL string) http.Handler {
	t.Helper()
	if box == nil {
		box = &memOutbox{}
	}
	if latchURL == "" {
		latchURL = "http://127.0.0.1:1" // nothing there: pages that need no API call must not make one
	}
	return New(Config{BaseURL: latchURL, ClientID: fakeClientID, ClientSecret: fakeClientSecret, Outbox: box,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
}

func TestWebCSRF(t *testing.T) {
	h := newTestHandler(t, nil, "")
	home := newBrowser(t, h)
	w := home.get("/demo")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /demo = %d", w.Code)
	}
	var csrf *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == csrfCookie {
			csrf = c
		}
	}
	if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode || len(csrf.Value) < 32 {
		t.Fatalf("CSRF cookie = %+v, want a random HttpOnly SameSite=Lax cookie", csrf)
	}
	if !strings.Contains(w.Body.String(), `name="csrf" value="`+csrf.Value+`"`) {
		t.Error("the forms do not carry the CSRF token")
	}

	other := randomToken()
	cases := []struct {
		name   string
		cookie string
		field  string
		header map[string]string
		want   int
	}{
		{"no cookie and no field", "", "", nil, http.StatusForbidden},
		{"cookie without field", csrf.Value, "", nil, http.StatusForbidden},
		{"field without cookie", "", csrf.Value, nil, http.StatusForbidden},
		{"wrong field", csrf.Value, other, nil, http.StatusForbidden},
		{"short equal values", "abc", "abc", nil, http.StatusForbidden},
		{"cross-site browser request", csrf.Value, csrf.Value, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"matching cookie and field", csrf.Value, csrf.Value, nil, http.StatusSeeOther}, // past CSRF: back to "enter your email"
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"email": {""}}
			if tc.field != "" {
				form.Set(csrfField, tc.field)
			}
			b := newBrowser(t, h)
			if tc.cookie != "" {
				b.cookies[csrfCookie] = tc.cookie
			}
			r := httptestRequest(http.MethodPost, "/demo/email", form, b.cookies, tc.header)
			w := serve(h, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d; body: %s", w.Code, tc.want, firstLines(w.Body.String()))
			}
			if tc.want == http.StatusForbidden && w.Code == http.StatusForbidden && tc.header == nil &&
				!strings.Contains(w.Body.String(), "reload the page") {
				t.Errorf("refusal page does not explain itself: %s", firstLines(w.Body.String()))
			}
		})
	}
}

func TestOutboxEscapesMessageHTML(t *testing.T) {
	box := &memOutbox{}
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	box.AddOutboxMessage(ctx, store.OutboxMessage{ID: "m1", Channel: "email", To: "ada@example.com", Subject: "Sign in <now>",
		Text: "Sign in: https://latch.test/cis/v1/auth/hosted/redirect?code=abc.\n",
		HTML: `<html><head><title>x</title></head><body><script>alert("pwned")</script><p onclick="x()">Hi</p>` +
			`<a href="https://latch.test/cis/v1/auth/hosted/redirect?code=abc&amp;x=1">Sign in</a></body></html>`,
		CreatedAt: at})
	box.AddOutboxMessage(ctx, store.OutboxMessage{ID: "m2", Channel: "sms", To: "+15551234567",
		Text: "<b>123456</b> is your code", CreatedAt: at.Add(time.Minute)})
	h := newTestHandler(t, box, "")
	b := newBrowser(t, h)

	w := b.get("/dev/outbox")
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET /dev/outbox = %d", w.Code)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, `onclick="x()"`) || strings.Contains(body, "<b>123456") {
		t.Errorf("message markup is live in the page:\n%s", body)
	}
	if strings.Contains(body, "<iframe") || !strings.Contains(body, `<a href="/dev/outbox/m1">Show the email as it looks</a>`) {
		t.Error("the list is not compact: it frames the emails instead of linking to them")
	}
	if !strings.Contains(body, `<code class="otp">123456</code>`) {
		t.Error("the SMS's code is not extracted")
	}
	if !strings.Contains(body, `<a class="msg-link" href="https://latch.test/cis/v1/auth/hosted/redirect?code=abc"`) {
		t.Errorf("the message's link is not shown as a plain link:\n%s", body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q must forbid scripts", csp)
	}

	single := b.get("/dev/outbox/m1").Body.String()
	if !strings.Contains(single, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") || strings.Contains(single, "<script") {
		t.Errorf("the email's HTML is not escaped into srcdoc:\n%s", single)
	}
	iframe := regexp.MustCompile(`<iframe[^>]*>`).FindString(single)
	if !strings.Contains(iframe, `sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"`) ||
		strings.Contains(iframe, "allow-scripts") || strings.Contains(iframe, "allow-same-origin") {
		t.Errorf("the frame is not sandboxed as it should be: %s", iframe)
	}
	if !strings.Contains(iframe, `&lt;head&gt;&lt;base target=&#34;_top&#34;&gt;`) {
		t.Errorf("srcdoc lacks <base target=_top> in its head: %s", iframe)
	}
	// Newest first: the SMS (a minute later) comes before the email.
	if i, j := strings.Index(body, `id="m-m2"`), strings.Index(body, `id="m-m1"`); i < 0 || j < 0 || i > j {
		t.Errorf("messages are not newest first (sms at %d, email at %d)", i, j)
	}
	if !strings.Contains(body, "&lt;b&gt;123456&lt;/b&gt; is your code") {
		t.Error("the SMS text is not shown (escaped)")
	}

	w = b.get("/dev/outbox?to=ada@example.com")
	if strings.Contains(w.Body.String(), `id="m-m2"`) || !strings.Contains(w.Body.String(), `id="m-m1"`) {
		t.Error("?to= does not filter by recipient")
	}
	w = b.get("/dev/outbox/m1")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Sign in &lt;now&gt;") || strings.Contains(w.Body.String(), `id="m-m2"`) {
		t.Errorf("GET /dev/outbox/m1 = %d, want that message alone", w.Code)
	}
	if w = b.get("/dev/outbox/nope"); w.Code != http.StatusNotFound {
		t.Errorf("GET /dev/outbox/nope = %d, want 404", w.Code)
	}
}

func TestDemoPagesRender(t *testing.T) {
	h := newTestHandler(t, nil, "")
	b := newBrowser(t, h)
	w := b.get("/demo")
	body := w.Body.String()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /demo = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{`action="/demo/email"`, `action="/demo/sms"`, `action="/demo/link"`, `action="/demo/totp/signin"`,
		`href="/dev/outbox"`, `<link rel="stylesheet" href="/demo/static/style.css">`} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the demo uses JavaScript")
	}
	if w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "form-action 'self'") {
		t.Errorf("headers %v", w.Header())
	}
	if w = b.get("/demo/"); w.Code != http.StatusOK {
		t.Errorf("GET /demo/ = %d", w.Code)
	}
	if w = b.get("/demo/static/style.css"); w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Errorf("GET style.css = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/demo/account", "/demo/code", "/demo/totp", "/demo/txn", "/demo/link"} {
		if w = b.get(p); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo" {
			t.Errorf("GET %s without a session = %d %s, want 303 to /demo", p, w.Code, w.Header().Get("Location"))
		}
	}
	if w = b.get("/demo/nope"); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "There is no page") {
		t.Errorf("GET /demo/nope = %d", w.Code)
	}
	if w = b.post("/demo/email", url.Values{"email": {" "}}); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo" {
		t.Errorf("empty email: %d %s, want 303 back to /demo", w.Code, w.Header().Get("Location"))
	}
	body = b.get("/demo").Body.String()
	if !strings.Contains(body, `aria-describedby="email-email-error"`) || !strings.Contains(body, `id="email-email-error" role="alert">Enter your email address.`) {
		t.Errorf("the empty email is not refused at its field: %s", firstLines(body))
	}
	if strings.Contains(b.get("/demo").Body.String(), "Enter your email address.") {
		t.Error("a refusal is shown again after a reload")
	}
}

func TestDemoEmailOTPAgainstLatchAPI(t *testing.T) {
	f := newFakeLatch(t)
	h := newTestHandler(t, nil, f.srv.URL)
	b := newBrowser(t, h)
	b.get("/demo")

	w := b.post("/demo/email", url.Values{"email": {"ada@example.com"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo/code" {
		t.Fatalf("POST /demo/email = %d %s: %s", w.Code, w.Header().Get("Location"), firstLines(w.Body.String()))
	}
	if f.count("POST /cis/v1/users") != 1 {
		t.Error("the unknown user was not created before the send")
	}
	if got := f.lastSend; got["channel"] != "email" || got["identifier_type"] != "email" || got["identifier"] != "ada@example.com" {
		t.Errorf("otp/send body %v", got)
	}
	sid := b.cookies[sessionCookie]
	if len(sid) < 32 {
		t.Fatalf("no demo session cookie: %v", b.cookies)
	}
	w = b.get("/demo/code")
	if !strings.Contains(w.Body.String(), "ada@example.com") || !strings.Contains(w.Body.String(), `href="/dev/outbox?to=ada%40example.com"`) {
		t.Errorf("code page: %s", firstLines(w.Body.String()))
	}

	w = b.post("/demo/code", url.Values{"code": {"000000"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo/code" {
		t.Errorf("wrong code: %d %s, want 303 back to the code page", w.Code, w.Header().Get("Location"))
	}
	if body := b.get("/demo/code").Body.String(); !strings.Contains(body, `id="code-error" role="alert">That code is wrong`) {
		t.Errorf("wrong code is not told at the field: %s", firstLines(body))
	}
	w = b.post("/demo/code", url.Values{"code": {fakePasscode}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/demo/account" {
		t.Fatalf("right code: %d %s %s", w.Code, w.Header().Get("Location"), firstLines(w.Body.String()))
	}
	w = b.get("/demo/account")
	body := w.Body.String()
	for _, want := range []string{`<strong id="who">ada@example.com</strong>`, `<li class="badge">eotp</li>`, "<th>auth_time</th>", "signed in with a code sent by email"} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if strings.Contains(body, "user-access-token") || strings.Contains(body, "eyJ") {
		t.Error("the account page shows a token")
	}
	for _, c := range b.cookies {
		if strings.Contains(c, "eyJ") || c == "user-access-token" {
			t.Error("a cookie holds a token")
		}
	}
	if n := f.count("POST /oidc/token"); n != 1 {
		t.Errorf("%d client_credentials grants for several API calls, want 1 (cached)", n)
	}
	if b.get("/demo").Header().Get("Location") != "/demo/account" {
		t.Error("the home page does not send a signed-in browser to its account")
	}

	// Sign out ends the session at Latch and here.
	w = b.post("/demo/signout", nil)
	if w.Code != http.StatusSeeOther || f.count("POST /cis/v1/auth/session/logout") != 1 {
		t.Errorf("sign out: %d, logout calls %d", w.Code, f.count("POST /cis/v1/auth/session/logout"))
	}
	if w = b.get("/demo/account"); w.Code != http.StatusSeeOther {
		t.Errorf("account after sign out = %d, want a redirect", w.Code)
	}
}

func TestDemoRefetchesAClientTokenLatchRefuses(t *testing.T) {
	f := newFakeLatch(t)
	h := newTestHandler(t, nil, f.srv.URL)
	b := newBrowser(t, h)
	b.get("/demo")
	b.post("/demo/email", url.Values{"email": {"ada@example.com"}})
	f.mu.Lock()
	f.clientToken = "client-token-2" // Latch restarted with new keys: the cached token is refused
	f.mu.Unlock()
	w := b.post("/demo/email", url.Values{"email": {"ada@example.com"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("after a refused client token: %d %s", w.Code, firstLines(w.Body.String()))
	}
	if n := f.count("POST /oidc/token"); n != 2 {
		t.Errorf("%d grants, want 2", n)
	}
}

func TestDemoRefusesAForgedIDToken(t *testing.T) {
	f := newFakeLatch(t)
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.signKey = forger // same kid, another key
	h := newTestHandler(t, nil, f.srv.URL)
	b := newBrowser(t, h)
	b.get("/demo")
	b.post("/demo/email", url.Values{"email": {"ada@example.com"}})
	w := b.post("/demo/code", url.Values{"code": {fakePasscode}})
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "could not be verified") {
		t.Errorf("forged ID token: %d %s", w.Code, firstLines(w.Body.String()))
	}
	if w = b.get("/demo/account"); w.Code != http.StatusSeeOther {
		t.Error("a forged ID token signed the browser in")
	}
}

func TestDemoCallbackChecksState(t *testing.T) {
	f := newFakeLatch(t)
	h := newTestHandler(t, nil, f.srv.URL)
	b := newBrowser(t, h)
	w := b.get("/demo/callback?code=abc&state=forged")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "started in another browser") {
		t.Errorf("callback without state cookie: %d %s", w.Code, firstLines(w.Body.String()))
	}
	b.cookies[stateCookie] = "expected.nonce"
	w = b.get("/demo/callback?code=abc&state=forged")
	if w.Code != http.StatusBadRequest {
		t.Errorf("callback with the wrong state: %d", w.Code)
	}
	if n := f.count("POST /oidc/token"); n != 0 {
		t.Errorf("a forged callback reached the token endpoint %d times", n)
	}
}

func TestWebLatchErrorsAreReadable(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&latchError{Status: 400, Code: "auth_invalid_credentials", Message: "Invalid"}, "That code is wrong"},
		{&latchError{Status: 403, Code: "auth_locked"}, "Too many attempts"},
		{&latchError{Status: 429, Code: "rate_limit_exceeded", Message: "Too many requests, retry in 30 seconds"}, "Too many codes"},
		{&latchError{Status: 400, Code: "system_invalid_input", Message: "identifier: must be an email address"}, "Enter an email address such as"},
		{&latchError{Status: 404, Code: "totp_not_registered"}, "No authenticator app"},
		{&latchError{Status: 404, Code: "user_not_found", Message: "User not found"}, "That did not work"},
		{&latchError{Status: 404, Code: "not_found", Message: "No route for POST /x"}, "does not offer that feature"},
		{&latchError{Status: 500, Code: "internal_error", Message: "Internal server error"}, "HTTP 500"},
		{&unreachable{errors.New("dial tcp: connection refused")}, "could not be reached"},
	}
	for _, tc := range cases {
		status, msg := friendly(tc.err)
		if !strings.Contains(msg, tc.want) || status < 400 {
			t.Errorf("friendly(%v) = %d %q, want it to say %q", tc.err, status, msg, tc.want)
		}
		if strings.Contains(msg, "latch:") || strings.Contains(msg, "dial tcp") || strings.Contains(msg, "identifier:") ||
			strings.Contains(strings.ToLower(msg), "no account") {
			t.Errorf("friendly(%v) leaks a Go error: %q", tc.err, msg)
		}
	}
	if e := parseError(401, []byte(`{"message":"Invalid token","error_code":401}`)); e.Code != "401" || e.Message != "Invalid token" {
		t.Errorf("numeric error_code parsed as %+v", e)
	}
}

func TestWebSessionsAreBoundedAndExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSessions(2, time.Hour, func() time.Time { return now })
	s.update("a", func(d *demoSession) { d.flash = "a" })
	now = now.Add(time.Minute)
	s.update("b", func(d *demoSession) { d.flash = "b" })
	now = now.Add(time.Minute)
	s.update("c", func(d *demoSession) { d.flash = "c" })
	if s.len() != 2 {
		t.Errorf("%d sessions, want at most 2", s.len())
	}
	if _, ok := s.get("a"); ok {
		t.Error("the session closest to expiry was not the one dropped")
	}
	now = now.Add(2 * time.Hour)
	if _, ok := s.get("c"); ok {
		t.Error("an idle session outlived its TTL")
	}
}

// httptestRequest builds a form POST with the given cookies and headers.
func httptestRequest(method, path string, form url.Values, cookies map[string]string, header map[string]string) *http.Request {
	r, _ := http.NewRequest(method, "http://latch.test"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for n, v := range cookies {
		r.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	for n, v := range header {
		r.Header.Set(n, v)
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func firstLines(s string) string {
	if i := strings.Index(s, "<main>"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 600 {
		s = s[:600]
	}
	return s
}
