package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// These tests drive Latch with standard client libraries only (coreos/go-oidc, x/oauth2): what
// an app that verifies Latch's tokens with them sees. Latch's own code is used only to start the
// server and to read the dev outbox.

var interopSeq atomic.Int64

// interop is a running stack with a go-oidc provider discovered from it.
type interop struct {
	*latchtest.Stack
	ctx      context.Context // carries the HTTP client for both libraries
	provider *oidc.Provider
	token    string // client access token
	redirect string
}

func startInterop(t *testing.T) *interop {
	t.Helper()
	s := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{})
	ctx := oidc.ClientContext(context.Background(), s.HTTP.Client())
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTP.Client())
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", s.URL, err)
	}
	return &interop{Stack: s, ctx: ctx, provider: provider, token: s.ClientToken(t), redirect: s.App.RedirectURIs[0]}
}

// verifier is go-oidc's ID token verifier for the default client, on the server's clock (the
// fixed clock's tokens may be in the past of the real one).
func (s *interop) verifier() *oidc.IDTokenVerifier {
	return s.provider.Verifier(&oidc.Config{ClientID: s.ClientID, Now: s.Clock.Now})
}

func (s *interop) oauth2Config(style oauth2.AuthStyle) *oauth2.Config {
	ep := s.provider.Endpoint()
	ep.AuthStyle = style
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: ep, RedirectURL: s.redirect,
		Scopes: []string{oidc.ScopeOpenID}}
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// hostedCode runs an email OTP hosted login (nonce given at send) and returns the code the
// browser would carry to redirect_uri.
func (s *interop) hostedCode(t *testing.T, nonce string) string {
	t.Helper()
	email := fmt.Sprintf("interop-%d@example.com", interopSeq.Add(1))
	r := s.Do(t, http.MethodPost, "/cis/v1/auth/otp/email", s.token, map[string]any{"email": email, "redirect_uri": s.redirect,
		"create_new_user": true, "nonce": nonce})
	if r.Status != http.StatusOK {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	msgs := s.Outbox(t, email)
	if len(msgs) == 0 {
		t.Fatalf("no email to %s", email)
	}
	m := sixDigits.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	v := s.Do(t, http.MethodPost, "/cis/v1/auth/otp/email/validation", s.token, map[string]any{"email": email, "passcode": m[1]})
	if v.Status != http.StatusOK {
		t.Fatalf("validation: %d %s", v.Status, v.Body)
	}
	g := s.Do(t, http.MethodGet, v.String("result"), "", nil)
	if g.Status != http.StatusFound {
		t.Fatalf("GET result: %d %s", g.Status, g.Body)
	}
	loc, err := url.Parse(g.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("Location %q: want redirect_uri?code=…", g.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// checkIDToken verifies raw with go-oidc and checks nonce, at_hash (by go-oidc and by hand) and azp.
func (s *interop) checkIDToken(t *testing.T, raw, accessToken, nonce string) *oidc.IDToken {
	t.Helper()
	idt, err := s.verifier().Verify(s.ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if idt.Issuer != s.URL || !slices.Equal(idt.Audience, []string{s.ClientID}) || idt.Subject == "" {
		t.Errorf("iss %q aud %v sub %q", idt.Issuer, idt.Audience, idt.Subject)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(accessToken); err != nil {
		t.Errorf("go-oidc at_hash check: %v", err)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(accessToken))
	if want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]); c["at_hash"] != want {
		t.Errorf("at_hash = %v, want %s", c["at_hash"], want)
	}
	if _, ok := c["azp"]; ok {
		t.Errorf("azp %v with a single audience", c["azp"])
	}
	if _, ok := c["auth_time"]; !ok {
		t.Errorf("no auth_time")
	}
	return idt
}

func retrieveError(err error) *oauth2.RetrieveError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

func TestOIDCDiscoveryInterop(t *testing.T) {
	s := startInterop(t)
	r := s.Do(t, http.MethodGet, "/.well-known/openid-configuration", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("discovery: %d %s", r.Status, r.Body)
	}
	var d map[string]any
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	list := func(field string) []string {
		raw, _ := d[field].([]any)
		out := make([]string, 0, len(raw))
		for _, v := range raw {
			s, _ := v.(string)
			out = append(out, s)
		}
		slices.Sort(out)
		return out
	}
	if d["issuer"] != s.URL || strings.HasSuffix(s.URL, "/") {
		t.Errorf("issuer %v, want exactly %s", d["issuer"], s.URL)
	}
	if d["token_endpoint"] != s.URL+"/oidc/token" || d["jwks_uri"] != s.URL+"/cis/oidc/jwks" {
		t.Errorf("token_endpoint %v jwks_uri %v", d["token_endpoint"], d["jwks_uri"])
	}
	for field, want := range map[string][]string{
		"grant_types_supported":                 {"authorization_code", "client_credentials", "password", "refresh_token"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
		"subject_types_supported":               {"public"},
	} {
		if got := list(field); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want exactly %v", field, got, want)
		}
	}
	if !slices.Contains(list("id_token_signing_alg_values_supported"), "ES256") {
		t.Errorf("id_token_signing_alg_values_supported = %v, want ES256", d["id_token_signing_alg_values_supported"])
	}
	for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "sid"} {
		if !slices.Contains(list("claims_supported"), c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	if !slices.Contains(list("response_types_supported"), "code") {
		t.Errorf("response_types_supported = %v", d["response_types_supported"])
	}
	copyDoc := s.Do(t, http.MethodGet, "/cis/oidc/.well-known/openid-configuration", "", nil)
	var c map[string]any
	if copyDoc.Status != http.StatusOK || json.Unmarshal(copyDoc.Body, &c) != nil || !reflect.DeepEqual(c, d) {
		t.Errorf("/cis/oidc/.well-known/openid-configuration differs: %d %s", copyDoc.Status, copyDoc.Body)
	}
	if ep := s.provider.Endpoint(); ep.TokenURL != s.URL+"/oidc/token" {
		t.Errorf("go-oidc endpoint %+v", ep)
	}
}

// TestOAuth2CodeExchangeInterop: x/oauth2's Config.Exchange with each auth style, go-oidc's
// verifier on the ID token (nonce, at_hash), and the library's refresh through a TokenSource.
func TestOAuth2CodeExchangeInterop(t *testing.T) {
	s := startInterop(t)
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"basic", oauth2.AuthStyleInHeader}, {"form", oauth2.AuthStyleInParams}, {"auto_detect", oauth2.AuthStyleAutoDetect}} {
		t.Run(style.name, func(t *testing.T) {
			conf := s.oauth2Config(style.style)
			nonce := "nonce-" + style.name
			tok, err := conf.Exchange(s.ctx, s.hostedCode(t, nonce))
			if err != nil {
				t.Fatalf("oauth2 Exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Fatalf("token %+v", tok)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt := s.checkIDToken(t, rawID, tok.AccessToken, nonce)

			// The library's refresh: an expired token makes the TokenSource use the refresh token.
			expired := *tok
			expired.Expiry = time.Now().Add(-time.Minute)
			next, err := conf.TokenSource(s.ctx, &expired).Token()
			if err != nil {
				t.Fatalf("TokenSource refresh: %v", err)
			}
			if next.AccessToken == tok.AccessToken || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh must bring a new access token and a new refresh token")
			}
			rawNext, _ := next.Extra("id_token").(string)
			idNext, err := s.verifier().Verify(s.ctx, rawNext)
			if err != nil {
				t.Fatalf("go-oidc refuses the refreshed ID token: %v", err)
			}
			if idNext.Subject != idt.Subject {
				t.Errorf("refreshed ID token sub %q, want %q", idNext.Subject, idt.Subject)
			}
			if err := idNext.VerifyAccessToken(next.AccessToken); err != nil {
				t.Errorf("refreshed at_hash: %v", err)
			}
			if r := s.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", s.token, map[string]any{"session_id": sid(t, idNext)}); r.Status != http.StatusOK {
				t.Errorf("the session is not live after a refresh: %d %s", r.Status, r.Body)
			}

			// A client that kept the old refresh token presents it again: refused, session revoked.
			_, err = conf.TokenSource(s.ctx, &expired).Token()
			if re := retrieveError(err); re == nil || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
				t.Fatalf("old refresh token: err %v, want a 400 invalid_grant", err)
			}
			stale := *next
			stale.Expiry = time.Now().Add(-time.Minute)
			_, err = conf.TokenSource(s.ctx, &stale).Token()
			if re := retrieveError(err); re == nil || re.ErrorCode != "invalid_grant" {
				t.Errorf("newest refresh token after reuse: err %v, want invalid_grant (session revoked)", err)
			}
		})
	}
	t.Run("code_used_once", func(t *testing.T) {
		conf := s.oauth2Config(oauth2.AuthStyleInHeader)
		code := s.hostedCode(t, "n")
		if _, err := conf.Exchange(s.ctx, code); err != nil {
			t.Fatal(err)
		}
		_, err := conf.Exchange(s.ctx, code)
		if re := retrieveError(err); re == nil || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Errorf("second exchange: %v, want 400 invalid_grant", err)
		}
	})
	t.Run("wrong_secret_then_right", func(t *testing.T) {
		code := s.hostedCode(t, "n2")
		bad := s.oauth2Config(oauth2.AuthStyleInHeader)
		bad.ClientSecret = "wrong"
		_, err := bad.Exchange(s.ctx, code)
		if re := retrieveError(err); re == nil || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
			t.Fatalf("wrong secret: %v, want 401 invalid_client", err)
		}
		tok, err := s.oauth2Config(oauth2.AuthStyleInHeader).Exchange(s.ctx, code)
		if err != nil {
			t.Fatalf("the code is no longer usable after a failed client authentication: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		s.checkIDToken(t, rawID, tok.AccessToken, "n2")
	})
}

func sid(t *testing.T, idt *oidc.IDToken) string {
	t.Helper()
	var c struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("no sid in the ID token: %v", err)
	}
	return c.SID
}

// TestDeprecatedExchangeInterop: the ID token of POST /cis/v1/token passes go-oidc's verifier too.
func TestDeprecatedExchangeInterop(t *testing.T) {
	s := startInterop(t)
	r := s.Do(t, http.MethodPost, "/cis/v1/token", "", map[string]any{"code": s.hostedCode(t, "legacy"), "client_id": s.ClientID, "client_secret": s.ClientSecret})
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	s.checkIDToken(t, r.String("id_token"), r.String("access_token"), "legacy")
}

// TestClientCredentialsInterop: x/oauth2's clientcredentials with both auth styles, against the
// endpoint go-oidc discovered; the token works on a client route.
func TestClientCredentialsInterop(t *testing.T) {
	s := startInterop(t)
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "form": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, TokenURL: s.provider.Endpoint().TokenURL, AuthStyle: style}
			tok, err := cfg.Token(s.ctx)
			if err != nil {
				t.Fatalf("clientcredentials: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("token %+v", tok)
			}
			if r := s.Do(t, http.MethodGet, "/cis/v1/users/count", tok.AccessToken, nil); r.Status != http.StatusOK {
				t.Errorf("the library's client token is refused: %d %s", r.Status, r.Body)
			}
			bad := cfg
			bad.ClientSecret = "wrong"
			_, err = bad.Token(s.ctx)
			if re := retrieveError(err); re == nil || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
				t.Errorf("wrong secret: %v, want 401 invalid_client", err)
			}
		})
	}
}
