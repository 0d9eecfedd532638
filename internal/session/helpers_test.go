package session_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// node is one running stack with a client token of its default client.
type node struct {
	*latchtest.Stack
	token string
}

func startNode(t *testing.T, dsn string, opts latchtest.Options) *node {
	t.Helper()
	s := latchtest.Start(t, dsn, opts)
	return &node{Stack: s, token: s.ClientToken(t)}
}

func eachEngine(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { fn(t, eng.DSN(t)) })
	}
}

func sqliteNode(t *testing.T) *node {
	t.Helper()
	return startNode(t, storetest.Engines()[0].DSN(t), latchtest.Options{})
}

var seq atomic.Int64

func uniqueEmail() string { return fmt.Sprintf("session-%d@example.com", seq.Add(1)) }

// userTokens is the user token response.
type userTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    any    `json:"expires_in"`
	SessionID    string `json:"session_id"`
}

func decodeUserTokens(t *testing.T, r latchtest.Response) userTokens {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("tokens: %d %s", r.Status, r.Body)
	}
	var tok userTokens
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		t.Fatalf("tokens %s: %v", r.Body, err)
	}
	if tok.AccessToken == "" || tok.IDToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != float64(3600) {
		t.Fatalf("tokens %s: want access, ID and refresh tokens, token_type Bearer, expires_in 3600", r.Body)
	}
	return tok
}

// login creates a user and logs it in with a direct backend OTP; extra goes into the
// authenticate request (resource, claims).
func (n *node) login(t *testing.T, extra map[string]any) userTokens {
	t.Helper()
	email := uniqueEmail()
	n.CreateUser(t, n.token, map[string]any{"email": email})
	return n.loginAs(t, n.token, email, extra)
}

func (n *node) loginAs(t *testing.T, clientToken, email string, extra map[string]any) userTokens {
	t.Helper()
	sent := n.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", clientToken, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email})
	if sent.Status != http.StatusOK || sent.String("code") == "" {
		t.Fatalf("otp send: %d %s", sent.Status, sent.Body)
	}
	body := map[string]any{"identifier_type": "email", "identifier": email, "passcode": sent.String("code")}
	for k, v := range extra {
		body[k] = v
	}
	return decodeUserTokens(t, n.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", clientToken, body))
}

// refresher is one of the two refresh endpoints with its exact refusal body.
type refresher struct {
	name    string
	do      func(t *testing.T, n *node, refreshToken string) latchtest.Response
	refused map[string]any
}

var refreshers = []refresher{
	{
		name: "cis_token_refresh",
		do: func(t *testing.T, n *node, rt string) latchtest.Response {
			return n.Do(t, http.MethodPost, "/cis/v1/auth/token/refresh", n.token, map[string]any{"refresh_token": rt})
		},
		refused: map[string]any{"error_code": "invalid_grant", "message": "Invalid refresh token"},
	},
	{
		name: "oidc_token",
		do: func(t *testing.T, n *node, rt string) latchtest.Response {
			return n.Form(t, "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, n.ClientID, n.ClientSecret)
		},
		refused: map[string]any{"error": "invalid_grant", "error_description": "Invalid refresh token",
			"message": "Invalid refresh token", "error_code": float64(400)},
	},
}

// verify checks a JWT against the node's JWKS with go-jose alone and returns its claims.
func (n *node) verify(t *testing.T, raw string) map[string]any {
	t.Helper()
	r := n.Do(t, http.MethodGet, "/cis/oidc/jwks", "", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks %s: %v", r.Body, err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("no key %s in the JWKS", tok.Headers[0].KeyID)
	}
	var c map[string]any
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if c["iss"] != n.URL {
		t.Errorf("iss = %v, want %s", c["iss"], n.URL)
	}
	return c
}

func wantJSON(t *testing.T, r latchtest.Response, status int, want map[string]any) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d (body %s)", r.Status, status, r.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Errorf("body %q is not a JSON object: %v", r.Body, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body %s, want %v", r.Body, want)
	}
}

var (
	invalidToken    = map[string]any{"message": "Invalid token", "error_code": float64(401)}
	sessionNotFound = map[string]any{"error_code": "session_not_found", "message": "Session not found"}
)

// userRouteRefuses checks that Latch's own user routes refuse an access token with the exact 401.
func (n *node) userRouteRefuses(t *testing.T, accessToken string) {
	t.Helper()
	wantJSON(t, n.Do(t, http.MethodPost, "/cis/v1/auth/logout", accessToken, nil), http.StatusUnauthorized, invalidToken)
}

func (n *node) sessionAuthenticate(t *testing.T, sessionID string) latchtest.Response {
	t.Helper()
	return n.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", n.token, map[string]any{"session_id": sessionID})
}

func (n *node) refreshRequest(t *testing.T, endpoint int, rt string) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if endpoint == 0 {
		raw, _ := json.Marshal(map[string]any{"refresh_token": rt})
		req, err = http.NewRequest(http.MethodPost, n.URL+"/cis/v1/auth/token/refresh", bytes.NewReader(raw))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+n.token)
		}
	} else {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {n.ClientID}, "client_secret": {n.ClientSecret}}
		req, err = http.NewRequest(http.MethodPost, n.URL+"/oidc/token", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}
