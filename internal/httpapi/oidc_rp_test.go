package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// The relying-party tests: Latch as the OpenID Connect provider of an app that uses only
// coreos/go-oidc and x/oauth2, signing in through Latch's pages with a cookie-jar HTTP client
// (rpAgent), and the OpenID Foundation's Basic OP / Config OP / RP-initiated logout checks
// (oidc_conformance_test.go) on the same harness.

// rpStack is a running Latch with go-oidc's view of it and two confidential clients of the
// default application (the conformance plans' "client" and "client2").
type rpStack struct {
	*latchtest.Stack
	ctx          context.Context
	provider     *oidc.Provider
	disc         map[string]any
	redirect     string
	id2, secret2 string
}

func startRP(t *testing.T, dsn string) *rpStack {
	t.Helper()
	return startRPStack(t, dsn, true)
}

// startRPStack starts the stack; signIn says the test signs in (it skips while the
// authorization endpoint is not served).
func startRPStack(t *testing.T, dsn string, signIn bool) *rpStack {
	t.Helper()
	s := latchtest.Start(t, dsn, latchtest.Options{})
	ctx := oidc.ClientContext(context.Background(), s.HTTP.Client())
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTP.Client())
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", s.URL, err)
	}
	var disc map[string]any
	if err := provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	if au := provider.Endpoint().AuthURL; signIn && (au == "" || s.Do(t, http.MethodGet, au, "", nil).Status == http.StatusNotFound) {
		t.Skip("GET /cis/oidc/auth (branch oidc-core) is not served yet")
	}
	c2, err := s.Apps.CreateClient(context.Background(), s.App.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	return &rpStack{Stack: s, ctx: ctx, provider: provider, disc: disc, redirect: s.App.RedirectURIs[0], id2: c2.ClientID, secret2: c2.ClientSecret}
}

// endpoint is a discovery document's URL field, failing the test when it is absent.
func (r *rpStack) endpoint(t *testing.T, field string) string {
	t.Helper()
	u, _ := r.disc[field].(string)
	if u == "" {
		t.Fatalf("discovery has no %s", field)
	}
	return u
}

func (r *rpStack) conf(scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: r.ClientID, ClientSecret: r.ClientSecret, Endpoint: r.provider.Endpoint(),
		RedirectURL: r.redirect, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
}

func (r *rpStack) verifier(clientID string) *oidc.IDTokenVerifier {
	return r.provider.Verifier(&oidc.Config{ClientID: clientID, Now: r.Clock.Now})
}

func rpRandom() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// rpFlow is one authorization request as the relying party makes it.
type rpFlow struct {
	conf     *oauth2.Config
	state    string
	nonce    string
	verifier string
	opts     []oauth2.AuthCodeOption
}

// newFlow prepares an authorization request with state, nonce and PKCE S256 (each may be turned
// off by the caller clearing it) plus extra parameters (name, value, ...).
func (r *rpStack) newFlow(conf *oauth2.Config, extra ...string) *rpFlow {
	f := &rpFlow{conf: conf, state: rpRandom(), nonce: rpRandom(), verifier: oauth2.GenerateVerifier()}
	for i := 0; i+1 < len(extra); i += 2 {
		f.opts = append(f.opts, oauth2.SetAuthURLParam(extra[i], extra[i+1]))
	}
	return f
}

func (f *rpFlow) url() string {
	opts := slices.Clone(f.opts)
	if f.nonce != "" {
		opts = append(opts, oidc.Nonce(f.nonce))
	}
	if f.verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(f.verifier))
	}
	return f.conf.AuthCodeURL(f.state, opts...)
}

// rpLoggedIn is what a relying party holds after a sign-in.
type rpLoggedIn struct {
	token  *oauth2.Token
	rawID  string
	id     *oidc.IDToken
	claims map[string]any
	result rpResult
}

// signIn runs flow through the pages as who, checks the redirect (state, iss), exchanges the
// code and verifies the ID token as go-oidc does, plus the checks of the conformance suite's
// oidcc-server (nonce, at_hash, iat recent, kid).
func (r *rpStack) signIn(t *testing.T, a *rpAgent, f *rpFlow, who rpLogin) rpLoggedIn {
	t.Helper()
	res := a.authorize(f.url(), r.redirect, who)
	if res.Params.Get("error") != "" {
		t.Fatalf("authorization answered error=%s (%s)", res.Params.Get("error"), res.Params.Get("error_description"))
	}
	return r.exchange(t, f, res)
}

func (r *rpStack) exchange(t *testing.T, f *rpFlow, res rpResult) rpLoggedIn {
	t.Helper()
	if got := res.Params.Get("state"); got != f.state {
		t.Errorf("state = %q, want %q", got, f.state)
	}
	if iss := res.Params.Get("iss"); iss != "" && iss != r.URL {
		t.Errorf("iss in the authorization response = %q, want %q", iss, r.URL)
	}
	code := res.Params.Get("code")
	if code == "" {
		t.Fatalf("no code in the authorization response %v", res.Params)
	}
	var opts []oauth2.AuthCodeOption
	if f.verifier != "" {
		opts = append(opts, oauth2.VerifierOption(f.verifier))
	}
	tok, err := f.conf.Exchange(r.ctx, code, opts...)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("token response %+v: want access_token, token_type Bearer, expires_in", tok)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier(f.conf.ClientID).Verify(r.ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if idt.Issuer != r.URL || !slices.Contains(idt.Audience, f.conf.ClientID) || idt.Subject == "" {
		t.Errorf("ID token iss %q aud %v sub %q", idt.Issuer, idt.Audience, idt.Subject)
	}
	if idt.Nonce != f.nonce {
		t.Errorf("ID token nonce = %q, want %q", idt.Nonce, f.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	now := r.Clock.Now()
	if idt.IssuedAt.After(now.Add(time.Second)) || idt.IssuedAt.Before(now.Add(-5*time.Minute)) || !idt.Expiry.After(now) {
		t.Errorf("iat %v exp %v, now %v", idt.IssuedAt, idt.Expiry, now)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["auth_time"].(float64); !ok {
		t.Errorf("ID token has no auth_time: %v", claims)
	}
	if hdr := rpJWTHeader(t, rawID); hdr["kid"] == "" || hdr["alg"] == "none" {
		t.Errorf("ID token header %v: want a kid and a real alg", hdr)
	}
	return rpLoggedIn{token: tok, rawID: rawID, id: idt, claims: claims, result: res}
}

func (l rpLoggedIn) authTime() int64 {
	v, _ := l.claims["auth_time"].(float64)
	return int64(v)
}

func (l rpLoggedIn) amr() []string {
	raw, _ := l.claims["amr"].([]any)
	var out []string
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func rpJWTHeader(t *testing.T, jwt string) map[string]string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return h
}

// userInfo calls the UserInfo endpoint as go-oidc does (GET, Bearer).
func (r *rpStack) userInfo(t *testing.T, tok *oauth2.Token) map[string]any {
	t.Helper()
	ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("go-oidc UserInfo: %v", err)
	}
	var c map[string]any
	if err := ui.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP gives the signed-in user an authenticator and returns its secret.
func (r *rpStack) enrolTOTP(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	res := r.Do(t, http.MethodPost, "/cis/v1/users/me/totp", tok.AccessToken, map[string]any{})
	if res.Status != http.StatusCreated || res.String("secret") == "" {
		t.Fatalf("TOTP registration: %d %s", res.Status, res.Body)
	}
	return res.String("secret")
}

// TestGoOIDCRelyingParty is an app built on coreos/go-oidc and x/oauth2 alone: discovery, an
// authorization request with PKCE S256, nonce and state, the sign-in on Latch's pages (email
// code from the dev outbox), the code exchange, the ID token verified (nonce, at_hash,
// auth_time, amr, acr), UserInfo, a refresh with offline_access, a step-up to MFA with
// acr_values=mfa, and RP-initiated logout ending the browser session. Both engines.
func TestGoOIDCRelyingParty(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			r := startRP(t, e.DSN(t))
			a := newRPAgent(t, r.Stack)
			email := rpUnique("gooidc")
			who := rpLogin{Email: email}

			conf := r.conf(oidc.ScopeOfflineAccess, "email")
			first := r.signIn(t, a, r.newFlow(conf), who)
			if first.result.Pages == 0 {
				t.Error("the first sign-in showed no page")
			}
			if amr := first.amr(); !slices.Contains(amr, "eotp") || slices.Contains(amr, "mfa") {
				t.Errorf("amr %v: want eotp (an email code), no mfa", amr)
			}
			if acr, ok := first.claims["acr"]; ok && acr == "mfa" {
				t.Errorf("acr %v after one factor", acr)
			}
			if first.authTime() != r.Clock.Now().Unix() {
				t.Errorf("auth_time %d, want the sign-in's time %d", first.authTime(), r.Clock.Now().Unix())
			}
			if first.claims["email"] != email || first.claims["email_verified"] != true {
				t.Errorf("ID token email %v email_verified %v, want %s and true", first.claims["email"], first.claims["email_verified"], email)
			}

			ui := r.userInfo(t, first.token)
			if ui["sub"] != first.id.Subject || ui["email"] != email || ui["email_verified"] != true {
				t.Errorf("UserInfo %v: want sub %s, email %s verified", ui, first.id.Subject, email)
			}

			// offline_access: a refresh token, used through the library's TokenSource.
			if first.token.RefreshToken == "" {
				t.Fatal("no refresh token although offline_access was asked for")
			}
			expired := *first.token
			expired.Expiry = time.Now().Add(-time.Minute)
			next, err := conf.TokenSource(r.ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if next.AccessToken == first.token.AccessToken || next.RefreshToken == "" || next.RefreshToken == first.token.RefreshToken {
				t.Error("a refresh must bring a new access token and a new refresh token")
			}
			if rawNext, _ := next.Extra("id_token").(string); rawNext != "" {
				if idNext, err := r.verifier(r.ClientID).Verify(r.ctx, rawNext); err != nil || idNext.Subject != first.id.Subject {
					t.Errorf("refreshed ID token: %v", err)
				}
			}
			if ui := r.userInfo(t, next); ui["sub"] != first.id.Subject {
				t.Errorf("UserInfo with the refreshed token: %v", ui)
			}

			// Without offline_access: no refresh token.
			plain := r.signIn(t, a, r.newFlow(r.conf("email")), who)
			if plain.token.RefreshToken != "" {
				t.Error("a refresh token without offline_access")
			}
			if plain.result.Pages != 0 || plain.authTime() != first.authTime() {
				t.Errorf("the SSO session should have signed in silently: %d pages, auth_time %d (first %d)", plain.result.Pages, plain.authTime(), first.authTime())
			}

			// Step-up: with an authenticator enrolled, acr_values=mfa asks for it on the pages.
			who.TOTPSecret = r.enrolTOTP(t, next)
			r.Clock.Advance(5 * time.Second)
			mfa := r.signIn(t, a, r.newFlow(conf, "acr_values", "mfa"), who)
			if mfa.result.Pages == 0 {
				t.Error("acr_values=mfa over a one-factor session showed no page")
			}
			if amr := mfa.amr(); !slices.Contains(amr, "totp") || !slices.Contains(amr, "mfa") {
				t.Errorf("amr %v after the step-up: want totp and mfa", amr)
			}
			if mfa.claims["acr"] != "mfa" {
				t.Errorf("acr %v after the step-up, want mfa", mfa.claims["acr"])
			}
			if mfa.id.Subject != first.id.Subject {
				t.Errorf("step-up changed sub: %s → %s", first.id.Subject, mfa.id.Subject)
			}

			// RP-initiated logout: back to the app with state, and the browser session is over.
			state := rpRandom()
			end := r.endpoint(t, "end_session_endpoint") + "?" + url.Values{"id_token_hint": {mfa.rawID},
				"post_logout_redirect_uri": {r.redirect}, "state": {state}}.Encode()
			p := a.get(end)
			if !p.redirect() || !strings.HasPrefix(p.Location().String(), r.redirect) || p.Location().Query().Get("state") != state {
				t.Fatalf("logout: %d to %q, want a redirect to %s with state", p.Status, p.Header.Get("Location"), r.redirect)
			}
			silent := r.newFlow(conf, "prompt", "none")
			res := a.authorize(silent.url(), r.redirect, rpLogin{})
			if res.Params.Get("error") != "login_required" || res.Params.Get("state") != silent.state {
				t.Errorf("prompt=none after logout: %v, want error=login_required with state", res.Params)
			}
		})
	}
}

// TestGoOIDCPublicClient: a public client (`latch client create --public`: no secret, as a
// single-page or native app) with x/oauth2 — PKCE S256 is required (a request without it, or
// with "plain", goes back with invalid_request), the code exchange and the refresh carry only
// client_id and the verifier, it can revoke its refresh token (RFC 7009) but not introspect, and
// a code cannot be exchanged without its verifier.
func TestGoOIDCPublicClient(t *testing.T) {
	r := startRP(t, storetest.Engines()[0].DSN(t))
	a := newRPAgent(t, r.Stack)
	creds, _, err := r.Apps.AddClient(context.Background(), r.App.ID, app.NewClient{Name: "spa", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if creds.ClientSecret != "" {
		t.Fatalf("a public client was given a secret")
	}
	conf := r.conf(oidc.ScopeOfflineAccess, "email")
	conf.ClientID, conf.ClientSecret = creds.ClientID, ""
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	noPKCE := r.newFlow(conf)
	noPKCE.verifier = ""
	wantAuthError(t, a.authorize(noPKCE.url(), r.redirect, rpLogin{}), noPKCE.state, "invalid_request")
	plain := r.newFlow(conf, "code_challenge", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "code_challenge_method", "plain")
	plain.verifier = ""
	wantAuthError(t, a.authorize(plain.url(), r.redirect, rpLogin{}), plain.state, "invalid_request")

	who := r.who()
	l := r.signIn(t, a, r.newFlow(conf), who)
	if !slices.Equal(l.id.Audience, []string{creds.ClientID}) {
		t.Errorf("aud %v, want the public client", l.id.Audience)
	}
	stale := *l.token
	stale.Expiry = time.Now().Add(-time.Minute)
	next, err := conf.TokenSource(r.ctx, &stale).Token()
	if err != nil || next.AccessToken == "" {
		t.Fatalf("refresh by the public client: %v", err)
	}
	// Signing out, the app revokes its refresh token (RFC 7009 names no secret for a public
	// client); the token is dead afterwards.
	rev := r.Form(t, "/oidc/token/revocation", url.Values{"client_id": {creds.ClientID}, "token": {next.RefreshToken}, "token_type_hint": {"refresh_token"}}, "", "")
	if rev.Status != http.StatusOK {
		t.Fatalf("revocation by the public client: %d %s", rev.Status, rev.Body)
	}
	dead := *next
	dead.Expiry = time.Now().Add(-time.Minute)
	if _, err := conf.TokenSource(r.ctx, &dead).Token(); retrieveError(err) == nil || retrieveError(err).ErrorCode != "invalid_grant" {
		t.Errorf("refresh with a revoked refresh token: %v, want invalid_grant", err)
	}
	// Introspection stays closed to it: anyone can name a public client_id.
	if in := r.Form(t, "/oidc/token/introspection", url.Values{"client_id": {creds.ClientID}, "token": {next.AccessToken}}, "", ""); in.Status != http.StatusUnauthorized {
		t.Errorf("introspection by a public client: %d %s, want 401", in.Status, in.Body)
	}

	f := r.newFlow(conf)
	res := a.authorize(f.url(), r.redirect, who)
	if _, err := conf.Exchange(r.ctx, res.Params.Get("code")); err == nil {
		t.Error("a public client exchanged a code without its code_verifier")
	}
}

// TestGrafanaRecipe plays Grafana's part with README's grafana.ini as written (its generic OAuth
// login is x/oauth2 with these settings): the application registered as README registers it, the
// authorization code flow with PKCE against auth_url and token_url, the user read from api_url by
// email_attribute_path, a refresh token (offline_access, use_refresh_token), and the sign-out
// through signout_redirect_url back to Grafana's login page.
func TestGrafanaRecipe(t *testing.T) {
	r := startRP(t, storetest.Engines()[0].DSN(t))
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "\n## Sign in to Grafana with Latch\n")
	if i < 0 {
		t.Fatal("README.md has no section \"Sign in to Grafana with Latch\"")
	}
	text = text[i+1:]
	text = text[:strings.Index(text[3:], "\n## ")+3]
	var block []string // the indented lines, continuations joined
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		l = strings.TrimSpace(l)
		if n := len(block); n > 0 && strings.HasSuffix(block[n-1], "\\") {
			block[n-1] = strings.TrimSuffix(block[n-1], "\\") + " " + l
		} else {
			block = append(block, l)
		}
	}
	var uris []string
	ini := map[string]string{}
	section := ""
	for _, l := range block {
		switch {
		case strings.HasPrefix(l, "./latch app create"):
			f := strings.Fields(l)
			for k := range f {
				if f[k] == "--redirect-uri" && k+1 < len(f) {
					uris = append(uris, f[k+1])
				}
			}
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		case strings.HasPrefix(l, "#"):
		default:
			if k, v, ok := strings.Cut(l, "="); ok && section != "" {
				ini[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	creds, err := r.Apps.CreateApp(context.Background(), app.NewApp{Name: "Grafana", RedirectURIs: uris, AllowSignup: true})
	if err != nil {
		t.Fatalf("README's app create: %v", err)
	}
	set := strings.NewReplacer("https://latch.example.com", r.URL, "CLIENT_ID", creds.ClientID, "CLIENT_SECRET", creds.ClientSecret)
	for k, v := range ini {
		ini[k] = set.Replace(v)
	}
	g := func(key string) string {
		v, ok := ini["auth.generic_oauth."+key]
		if !ok {
			t.Fatalf("README's grafana.ini has no %s", key)
		}
		return v
	}
	if g("use_pkce") != "true" || g("use_refresh_token") != "true" {
		t.Fatal("README's grafana.ini: use_pkce and use_refresh_token are what this test plays")
	}
	conf := &oauth2.Config{ClientID: g("client_id"), ClientSecret: g("client_secret"), Scopes: strings.Fields(g("scopes")),
		Endpoint:    oauth2.Endpoint{AuthURL: g("auth_url"), TokenURL: g("token_url")},
		RedirectURL: ini["server.root_url"] + "login/generic_oauth"}
	who := r.who()
	a := newRPAgent(t, r.Stack)
	f := r.newFlow(conf)
	f.nonce = "" // Grafana sends none
	l := r.exchange(t, f, a.authorize(f.url(), conf.RedirectURL, who))
	if l.token.RefreshToken == "" {
		t.Error("no refresh token for Grafana's scopes")
	}
	req, _ := http.NewRequest(http.MethodGet, g("api_url"), nil)
	req.Header.Set("Authorization", "Bearer "+l.token.AccessToken)
	status, user := r.userInfoRaw(t, req)
	if status != http.StatusOK {
		t.Fatalf("api_url: %d %v", status, user)
	}
	for _, attr := range []string{"email_attribute_path", "login_attribute_path", "name_attribute_path"} {
		if got := user[g(attr)]; got != who.Email {
			t.Errorf("%s %q reads %v from api_url, want %s", attr, g(attr), got, who.Email)
		}
	}
	// Grafana's sign-out: Latch confirms, ends the session, and returns to Grafana's login page.
	p := r.confirmLogout(t, a, a.get(ini["auth.signout_redirect_url"]))
	post, _ := url.Parse(ini["auth.signout_redirect_url"])
	if loc := p.Location(); loc == nil || loc.String() != post.Query().Get("post_logout_redirect_uri") {
		t.Errorf("after the sign-out: %d to %v, want %s", p.Status, loc, post.Query().Get("post_logout_redirect_uri"))
	}
	silent := r.newFlow(conf, "prompt", "none")
	wantAuthError(t, a.authorize(silent.url(), conf.RedirectURL, rpLogin{}), silent.state, "login_required")
}

// TestFormPostRelyingParty: response_mode=form_post (the Form Post OP profile), as an RP that
// takes the code from a POST: the pages end in a form to the redirect URI carrying code and
// state, never a redirect with them in the URL, and the code exchanges as usual.
func TestFormPostRelyingParty(t *testing.T) {
	r := startRP(t, storetest.Engines()[0].DSN(t))
	a := newRPAgent(t, r.Stack)
	if !slices.Contains(discList(r.disc, "response_modes_supported"), "form_post") {
		t.Fatalf("response_modes_supported %v lacks form_post", r.disc["response_modes_supported"])
	}
	f := r.newFlow(r.conf("email"), "response_mode", "form_post")
	res := a.authorize(f.url(), r.redirect, r.who())
	if !res.FormPost {
		t.Fatalf("response_mode=form_post answered with a redirect: %v", res.Params)
	}
	r.exchange(t, f, res)
	// An error goes back the same way.
	silent := r.newFlow(r.conf(), "response_mode", "form_post", "prompt", "none")
	b := newRPAgent(t, r.Stack)
	res = b.authorize(silent.url(), r.redirect, rpLogin{})
	if !res.FormPost {
		t.Errorf("a form_post error came back by redirect")
	}
	wantAuthError(t, res, silent.state, "login_required")
}
