package signin_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// TestEmailCodeSignIn is the whole code flow through the pages: authorize, send an emailed code,
// enter it, come back with a code, exchange it with PKCE; the ID token tells the truth.
func TestEmailCodeSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("code")
		e.CreateUser(t, e.token, map[string]any{"email": email})
		b := e.browser(t)
		q := e.request(e.ClientID)
		back := e.signInByEmailCode(t, b, q, email)
		if back.Get("state") != q.Get("state") || back.Get("code") == "" {
			t.Fatalf("callback: %v", back)
		}
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		if r.Status != 200 {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		tok := r.JSON()
		if tok["token_type"] != "Bearer" || tok["refresh_token"] == nil || tok["refresh_token"] == "" {
			t.Fatalf("tokens: %v", tok)
		}
		id := latchtest.Claims(t, tok["id_token"].(string))
		if id["nonce"] != q.Get("nonce") || id["aud"] != e.ClientID || id["email"] != email || id["email_verified"] != true ||
			id["at_hash"] == nil || id["sid"] == nil || id["auth_time"] == nil {
			t.Fatalf("id token: %v", id)
		}
		if amr, _ := id["amr"].([]any); len(amr) != 1 || amr[0] != "eotp" {
			t.Fatalf("amr: %v", id["amr"])
		}
		if _, ok := id["acr"]; ok {
			t.Fatalf("acr with one factor: %v", id["acr"])
		}
		at := latchtest.Claims(t, tok["access_token"].(string))
		if at["scope"] != "openid email offline_access" {
			t.Fatalf("access token scope: %v", at["scope"])
		}
		// The code works once.
		if r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier); r.Status != 400 || r.String("error") != "invalid_grant" {
			t.Fatalf("second exchange: %d %s", r.Status, r.Body)
		}
	})
}

// TestNoRefreshTokenWithoutOfflineAccess: refresh tokens only with offline_access.
func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("nooffline")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	q := e.request(e.ClientID, "scope", "openid")
	back := e.signInByEmailCode(t, e.browser(t), q, email)
	r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
	if r.Status != 200 || r.String("refresh_token") != "" {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	if id := latchtest.Claims(t, r.String("id_token")); id["email"] != nil {
		t.Fatalf("email without the email scope: %v", id)
	}
}

// TestPagesAreSafe: headers and markup the pages promise.
func TestPagesAreSafe(t *testing.T) {
	e := sqliteEnv(t)
	b := e.browser(t)
	p := b.authorize(e.request(e.ClientID, "login_hint", "hint@example.com"))
	if p.Status != 200 {
		t.Fatalf("authorize: %d %s", p.Status, p.Body)
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("CSP %q / X-Frame-Options %q", csp, p.Header.Get("X-Frame-Options"))
	}
	for _, want := range []string{`name="viewport"`, `autocomplete="email"`, `value="hint@example.com"`, `autocomplete="tel"`, "Email me a code", "Email me a sign-in link", "Text me a code"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("start page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "<script") {
		t.Errorf("the sign-in page runs a script")
	}
	var cookies []string
	for _, c := range p.Header.Values("Set-Cookie") {
		cookies = append(cookies, c)
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
			t.Errorf("cookie %q", c)
		}
	}
	if len(cookies) == 0 {
		t.Errorf("no browser cookie set")
	}
	// A bad address is shown at its field.
	p2 := b.act(p, "send_email_otp", "email", "not-an-email")
	if p2.Status != 400 || !strings.Contains(p2.Body, `aria-invalid="true" aria-describedby="email-error"`) || !strings.Contains(p2.Body, `id="email-error"`) {
		t.Fatalf("bad email: %d %s", p2.Status, p2.Body)
	}
	// The code page.
	email := uniqueEmail("safe")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	p3 := b.act(p, "send_email_otp", "email", email)
	for _, want := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, "You can ask for a new code in 30 seconds"} {
		if !strings.Contains(p3.Body, want) {
			t.Errorf("code page lacks %q: %s", want, p3.Body)
		}
	}
	p4 := b.act(p3, "verify", "code", "000000")
	if p4.Status != 400 || !strings.Contains(p4.Body, `aria-describedby="code-error"`) {
		t.Fatalf("wrong code: %d %s", p4.Status, p4.Body)
	}
}

// TestNoAccountEnumeration: an unknown address gets the same page as a known one, and nothing
// is sent to it.
func TestNoAccountEnumeration(t *testing.T) {
	e := sqliteEnv(t)
	no := false
	e.updateApp(t, nil, &no)
	known := uniqueEmail("known")
	e.CreateUser(t, e.token, map[string]any{"email": known})
	unknown := uniqueEmail("unknown")
	b := e.browser(t)
	start := b.authorize(e.request(e.ClientID))
	pk := b.act(start, "send_email_otp", "email", known)
	pu := b.act(start, "send_email_otp", "email", unknown)
	norm := func(s, email string) string {
		s = strings.ReplaceAll(s, email, "EMAIL")
		return flowField.ReplaceAllString(s, "FLOW")
	}
	if pk.Status != pu.Status || norm(pk.Body, known) != norm(pu.Body, unknown) {
		t.Fatalf("the pages differ:\n%s\n---\n%s", pk.Body, pu.Body)
	}
	if len(e.Outbox(t, unknown)) != 0 {
		t.Fatalf("a code was sent to an address without an account")
	}
	if p := b.act(pu, "verify", "code", "123456"); p.Status != 400 || !strings.Contains(p.Body, "not right") {
		t.Fatalf("code for unknown: %d %s", p.Status, p.Body)
	}
}

// TestSignup: with sign-up allowed, an unknown address becomes a user with a verified email.
func TestSignup(t *testing.T) {
	e := sqliteEnv(t)
	yes := true
	e.updateApp(t, nil, &yes)
	email := uniqueEmail("new")
	q := e.request(e.ClientID)
	back := e.signInByEmailCode(t, e.browser(t), q, email)
	r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
	id := latchtest.Claims(t, r.String("id_token"))
	if r.Status != 200 || id["email"] != email || id["email_verified"] != true || id["new_user"] != true {
		t.Fatalf("sign-up: %d %v", r.Status, id)
	}
}

// TestResendWait: a new code only after 30 s.
func TestResendWait(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("resend")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	b := e.browser(t)
	p := b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", email)
	e.Clock.Advance(10e9)
	if r := b.act(p, "resend"); r.Status != http.StatusTooManyRequests || !strings.Contains(r.Body, "20 seconds") {
		t.Fatalf("early resend: %d %s", r.Status, r.Body)
	}
	first := e.codeSentTo(t, email)
	e.Clock.Advance(21e9)
	r := b.act(p, "resend")
	if r.Status != 200 || len(e.Outbox(t, email)) != 2 {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	second := e.codeSentTo(t, email)
	if first == second {
		t.Skip("the two random codes happen to be equal")
	}
	if p := b.act(r, "verify", "code", first); p.Status != 400 {
		t.Fatalf("the replaced code still works: %d", p.Status)
	}
	e.callback(t, b.act(r, "verify", "code", second))
}

// TestSMSSignIn: a text message code.
func TestSMSSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		phone := uniquePhone()
		e.CreateUser(t, e.token, map[string]any{"phone_number": phone})
		b := e.browser(t)
		q := e.request(e.ClientID, "scope", "openid phone")
		p := b.act(b.authorize(q), "send_sms", "phone", phone)
		if p.Status != 200 {
			t.Fatalf("send: %d %s", p.Status, p.Body)
		}
		back := e.callback(t, b.act(p, "verify", "code", e.codeSentTo(t, phone)))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		id := latchtest.Claims(t, r.String("id_token"))
		if r.Status != 200 || id["phone_number"] != phone || id["phone_number_verified"] != true || !slices.Equal(id["amr"].([]any), []any{"sms"}) {
			t.Fatalf("sms: %d %v", r.Status, id)
		}
	})
}

// TestMagicLink: the link finishes the sign-in in the browser that asked for it; another browser
// gets an explanation and uses nothing up.
func TestMagicLink(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := uniqueEmail("link")
		e.CreateUser(t, e.token, map[string]any{"email": email})
		b := e.browser(t)
		q := e.request(e.ClientID)
		p := b.act(b.authorize(q), "send_magic_link", "email", email)
		if p.Status != 200 || !strings.Contains(p.Body, "Check your email") {
			t.Fatalf("send: %d %s", p.Status, p.Body)
		}
		link := e.linkSentTo(t, email)
		other := e.browser(t).get(link)
		if other.Status != 200 || !strings.Contains(other.Body, "browser you started in") {
			t.Fatalf("other browser: %d %s", other.Status, other.Body)
		}
		back := e.callback(t, b.get(link))
		r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
		id := latchtest.Claims(t, r.String("id_token"))
		if r.Status != 200 || !slices.Equal(id["amr"].([]any), []any{"eml"}) || id["email_verified"] != true {
			t.Fatalf("link: %d %v", r.Status, id)
		}
		if again := b.get(link); again.Status != 400 {
			t.Fatalf("link used twice: %d", again.Status)
		}
	})
}

// TestBranding: the pages carry the app's name, logo and colour, and the CSP allows that logo.
func TestBranding(t *testing.T) {
	e := sqliteEnv(t)
	e.updateApp(t, map[string]any{"brand_logo_url": "https://cdn.example.com/logo.png", "brand_primary_color": "#0a7f3c"}, nil)
	p := e.browser(t).authorize(e.request(e.ClientID))
	if !strings.Contains(p.Body, `<img class="logo" src="https://cdn.example.com/logo.png"`) || !strings.Contains(p.Body, "--brand: #0a7f3c") {
		t.Fatalf("brand: %s", p.Body)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.example.com;") {
		t.Fatalf("CSP: %s", csp)
	}
}

// TestSignupRules: createNewUser=false and an app without sign-up send nothing to a new address;
// a magic link signs a new user up too.
func TestSignupRules(t *testing.T) {
	e := sqliteEnv(t)
	yes, no := true, false
	e.updateApp(t, nil, &yes)
	b := e.browser(t)
	email := uniqueEmail("nocreate")
	b.act(b.authorize(e.request(e.ClientID, "createNewUser", "false")), "send_email_otp", "email", email)
	if len(e.Outbox(t, email)) != 0 {
		t.Fatalf("createNewUser=false still sent a code")
	}
	linkEmail := uniqueEmail("linksignup")
	q := e.request(e.ClientID)
	b.act(b.authorize(q), "send_magic_link", "email", linkEmail)
	back := e.callback(t, b.get(e.linkSentTo(t, linkEmail)))
	r := e.exchange(t, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier)
	if id := latchtest.Claims(t, r.String("id_token")); r.Status != 200 || id["email"] != linkEmail || id["new_user"] != true {
		t.Fatalf("link sign-up: %d %s", r.Status, r.Body)
	}
	e.updateApp(t, nil, &no)
	other := uniqueEmail("closed")
	b2 := e.browser(t)
	b2.act(b2.authorize(e.request(e.ClientID)), "send_email_otp", "email", other)
	if len(e.Outbox(t, other)) != 0 {
		t.Fatalf("an app without sign-up sent a code to a new address")
	}
}

// TestConsentRecorded: prompt=consent needs no screen for a first-party app and records the grant.
func TestConsentRecorded(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("consent")
	uid := e.CreateUser(t, e.token, map[string]any{"email": email})
	q := e.request(e.ClientID, "prompt", "consent")
	e.signInByEmailCode(t, e.browser(t), q, email)
	scope, err := e.Store.GetGrant(context.Background(), uid, e.ClientID)
	if err != nil || scope != "openid email offline_access" {
		t.Fatalf("grant = %q, %v", scope, err)
	}
}

// TestDisabledUserGetsNothing: a disabled account is treated as unknown: nothing is sent.
func TestDisabledUserGetsNothing(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("disabled")
	uid := e.CreateUser(t, e.token, map[string]any{"email": email})
	if r := e.Do(t, http.MethodPut, "/cis/v1/users/"+uid, e.token, map[string]any{"status": "Disabled"}); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	b := e.browser(t)
	b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", email)
	if len(e.Outbox(t, email)) != 0 {
		t.Fatalf("a disabled user was sent a code")
	}
}

// TestAdminAPIPublicClient: the admin API creates a public client (no secret) that signs in with
// PKCE, and refuses to rotate a secret it does not have.
func TestAdminAPIPublicClient(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.AdminToken(t)
	r := e.Do(t, http.MethodPost, "/cis/v1/applications/"+e.App.ID+"/clients", admin, map[string]any{"name": "spa", "public": true})
	c := r.JSON()
	if sec, _ := c["client_secret"].(string); r.Status != 201 || sec != "" || c["public"] != true || c["client_type"] != "native" {
		t.Fatalf("create public client: %d %s", r.Status, r.Body)
	}
	id, _ := c["client_id"].(string)
	if rr := e.Do(t, http.MethodPost, "/cis/v1/applications/"+e.App.ID+"/clients/"+id+"/secret", admin, map[string]any{}); rr.Status != 400 {
		t.Fatalf("rotate a public client's secret: %d %s", rr.Status, rr.Body)
	}
	email := uniqueEmail("spa")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	q := e.request(id)
	back := e.signInByEmailCode(t, e.browser(t), q, email)
	if rr := e.exchange(t, id, "", back.Get("code"), q.verifier); rr.Status != 200 {
		t.Fatalf("public exchange: %d %s", rr.Status, rr.Body)
	}
}

// TestLimitsApply: the login API's send limit and lockout hold on the pages too.
func TestLimitsApply(t *testing.T) {
	e := sqliteEnv(t)
	email := uniqueEmail("limits")
	e.CreateUser(t, e.token, map[string]any{"email": email})
	b := e.browser(t)
	p := b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", email)
	// Five wrong codes lock the address (otp_max_attempts); the right code then fails too.
	var w page
	for range 5 {
		w = b.act(p, "verify", "code", "000000")
	}
	if w.Status != http.StatusTooManyRequests || !strings.Contains(w.Body, "Too many wrong codes") {
		t.Fatalf("after five wrong codes: %d %s", w.Status, w.Body)
	}
	if r := b.act(p, "verify", "code", e.codeSentTo(t, email)); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right code while locked: %d", r.Status)
	}

	// Sends: five in 15 minutes (send_limit), whatever the 30 s resend wait allows.
	other := uniqueEmail("sends")
	e.CreateUser(t, e.token, map[string]any{"email": other})
	p = b.act(b.authorize(e.request(e.ClientID)), "send_email_otp", "email", other)
	for i := 2; i <= 5; i++ {
		e.Clock.Advance(31 * time.Second)
		if r := b.act(p, "resend"); r.Status != 200 {
			t.Fatalf("send %d: %d", i, r.Status)
		}
	}
	e.Clock.Advance(31 * time.Second)
	if r := b.act(p, "resend"); r.Status != http.StatusTooManyRequests || !strings.Contains(r.Body, "Too many attempts") {
		t.Fatalf("sixth send: %d %s", r.Status, r.Body)
	}
	if n := len(e.Outbox(t, other)); n != 5 {
		t.Fatalf("%d messages sent, want 5", n)
	}
}

// TestCookiesSecureOffLoopback: with an issuer that is not on this machine Latch's cookies are
// Secure; on loopback (the tests' 127.0.0.1) they are not, so plain-HTTP development works.
func TestCookiesSecureOffLoopback(t *testing.T) {
	s := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{Issuer: "https://login.example.com"})
	e := &env{Stack: s, redirect: s.App.RedirectURIs[0]}
	p := e.browser(t).authorize(e.request(e.ClientID))
	cookies := p.Header.Values("Set-Cookie")
	if p.Status != 200 || len(cookies) == 0 {
		t.Fatalf("authorize: %d %v", p.Status, cookies)
	}
	for _, c := range cookies {
		if !strings.Contains(c, "; Secure") {
			t.Errorf("cookie without Secure: %s", c)
		}
	}
	local := sqliteEnv(t).browser(t)
	for _, c := range local.authorize(local.e.request(local.e.ClientID)).Header.Values("Set-Cookie") {
		if strings.Contains(c, "; Secure") {
			t.Errorf("loopback cookie with Secure: %s", c)
		}
	}
}
