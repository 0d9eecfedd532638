package signin_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// env is a running stack with a confidential client of the default app.
type env struct {
	*latchtest.Stack
	redirect string
	token    string // client token of the default client (users API)
}

func newEnv(t testing.TB, dsn string) *env {
	t.Helper()
	s := latchtest.Start(t, dsn, latchtest.Options{})
	return &env{Stack: s, redirect: s.App.RedirectURIs[0], token: s.ClientToken(t)}
}

func eachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { fn(t, newEnv(t, eng.DSN(t))) })
	}
}

func sqliteEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, storetest.Engines()[0].DSN(t))
}

var seq atomic.Int64

func uniqueEmail(prefix string) string { return fmt.Sprintf("%s-%d@example.com", prefix, seq.Add(1)) }

func uniquePhone() string { return fmt.Sprintf("+1555%07d", 1000000+seq.Add(1)) }

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    testing.TB
	e    *env
	http *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw), Location: resp.Header.Get("Location")}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.e.URL + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

var flowField = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// flow is the sealed flow of a page's forms.
func (p page) flow(t testing.TB) string {
	t.Helper()
	m := flowField.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no flow on the page (status %d): %s", p.Status, p.Body)
	}
	return html.UnescapeString(m[1])
}

// act posts one of the page's forms with action and fields.
func (b *browser) act(p page, action string, fields ...string) page {
	b.t.Helper()
	if strings.HasPrefix(action, "send_") {
		// The dev outbox orders messages by time: a later send must be later on the fixed clock.
		b.e.Clock.Advance(time.Second)
	}
	form := url.Values{"flow": {p.flow(b.t)}, "action": {action}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.post("/cis/oidc/login", form)
}

// authRequest is an authorization request's parameters, PKCE included.
type authRequest struct {
	url.Values
	verifier string
}

func (e *env) request(clientID string, extra ...string) authRequest {
	verifier := secret.NewToken() + "abcdefghijk" // 43+ characters
	sum := sha256.Sum256([]byte(verifier))
	v := url.Values{"client_id": {clientID}, "redirect_uri": {e.redirect}, "response_type": {"code"},
		"scope": {"openid email offline_access"}, "state": {"st-" + secret.NewID()}, "nonce": {"n-" + secret.NewID()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return authRequest{Values: v, verifier: verifier}
}

func (b *browser) authorize(q authRequest) page {
	b.t.Helper()
	return b.get("/cis/oidc/auth?" + q.Encode())
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// codeSentTo reads the newest code sent to `to` from the dev outbox.
func (e *env) codeSentTo(t testing.TB, to string) string {
	t.Helper()
	msgs := e.Outbox(t, to)
	if len(msgs) == 0 {
		t.Fatalf("nothing was sent to %s", to)
	}
	m := sixDigits.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	return m[1]
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/cis/oidc/login/link\?code=[A-Za-z0-9_%\-]+`)

func (e *env) linkSentTo(t testing.TB, to string) string {
	t.Helper()
	msgs := e.Outbox(t, to)
	if len(msgs) == 0 {
		t.Fatalf("nothing was sent to %s", to)
	}
	m := linkRE.FindString(msgs[0].Text)
	if m == "" {
		t.Fatalf("no link in %q", msgs[0].Text)
	}
	return m
}

// callback checks that p sends the browser to the redirect URI and returns its query.
func (e *env) callback(t testing.TB, p page) url.Values {
	t.Helper()
	if p.Status != http.StatusFound || !strings.HasPrefix(p.Location, e.redirect) {
		t.Fatalf("want a redirect to %s, got %d %q: %s", e.redirect, p.Status, p.Location, p.Body)
	}
	u, _ := url.Parse(p.Location)
	return u.Query()
}

// exchange trades a code at the token endpoint with the client's credentials (Basic) or, for a
// public client (secret ""), its client_id.
func (e *env) exchange(t testing.TB, clientID, clientSecret, code, verifier string) latchtest.Response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if clientSecret == "" {
		form.Set("client_id", clientID)
		return e.Form(t, "/oidc/token", form, "", "")
	}
	return e.Form(t, "/oidc/token", form, clientID, clientSecret)
}

// signInByEmailCode runs a whole sign-in with an emailed code and returns the callback query.
func (e *env) signInByEmailCode(t testing.TB, b *browser, q authRequest, email string) url.Values {
	t.Helper()
	p := b.authorize(q)
	if p.Status != 200 {
		t.Fatalf("authorize: %d %s", p.Status, p.Body)
	}
	p = b.act(p, "send_email_otp", "email", email)
	if p.Status != 200 || !strings.Contains(p.Body, "Enter your code") {
		t.Fatalf("send: %d %s", p.Status, p.Body)
	}
	return e.callback(t, b.act(p, "verify", "code", e.codeSentTo(t, email)))
}

// newClient adds a confidential client to the default app.
func (e *env) newClient(t testing.TB) app.Credentials {
	t.Helper()
	c, err := e.Apps.CreateClient(context.Background(), e.App.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// updateApp changes the default app: settings (by their JSON names) and sign-up.
func (e *env) updateApp(t testing.TB, settings map[string]any, signup *bool) {
	t.Helper()
	u := app.Update{AllowSignup: signup}
	if settings != nil {
		raw, _ := json.Marshal(settings)
		u.Settings = raw
	}
	if _, err := e.Apps.UpdateApp(context.Background(), e.App.ID, u); err != nil {
		t.Fatal(err)
	}
}
