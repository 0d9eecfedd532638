package otp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// Paths of the backend one-time login API and the session API.
const (
	pathSend     = "/cis/v1/auth/otp/send"
	pathAuth     = "/cis/v1/auth/otp/authenticate"
	pathRefresh  = "/cis/v1/auth/token/refresh"
	pathLogout   = "/cis/v1/auth/session/logout"
	pathUsers    = "/cis/v1/users"
	pathJWKS     = "/cis/oidc/jwks"
	pathLinkSend = "/cis/v1/auth/link/email/send"
)

// api is one running Latch stack and a client access token for its default app.
type api struct {
	*latchtest.Stack
	token string
}

// eachEngine runs fn once per storage engine (PostgreSQL only when LATCH_TEST_POSTGRES is set).
func eachEngine(t *testing.T, fn func(t *testing.T, e storetest.Engine)) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// start starts a fresh stack on a fresh database of engine e.
func start(t testing.TB, e storetest.Engine, opts latchtest.Options) *api {
	t.Helper()
	s := latchtest.Start(t, e.DSN(t), opts)
	return &api{Stack: s, token: s.ClientToken(t)}
}

// post sends a JSON body with the client token.
func (a *api) post(t testing.TB, path string, body any) latchtest.Response {
	t.Helper()
	return a.Do(t, http.MethodPost, path, a.token, body)
}

// newUser creates a user with the given fields and returns its id.
func (a *api) newUser(t testing.TB, fields map[string]any) string {
	t.Helper()
	return a.CreateUser(t, a.token, fields)
}

// directCode sends a direct-channel OTP to the email and returns the code.
func (a *api) directCode(t testing.TB, email string) string {
	t.Helper()
	r := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email})
	if r.Status != http.StatusOK || r.String("code") == "" {
		t.Fatalf("direct send: %d %s", r.Status, r.Body)
	}
	return r.String("code")
}

// login authenticates an email user with a passcode and returns the 200 token response.
func (a *api) login(t testing.TB, email, code string, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"identifier_type": "email", "identifier": email, "passcode": code}
	for k, v := range extra {
		body[k] = v
	}
	r := a.post(t, pathAuth, body)
	if r.Status != http.StatusOK {
		t.Fatalf("authenticate: %d %s", r.Status, r.Body)
	}
	return r.JSON()
}

// wantError checks an error answer: exact status, and a body of exactly error_code and message.
// An empty message is not checked; a message ending in "*" is checked as a prefix.
func wantError(t testing.TB, r latchtest.Response, status int, code, message string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body is not a JSON object: %q", r.Body)
	}
	if got := fmt.Sprint(body["error_code"]); got != code {
		t.Fatalf("error_code = %q, want %q; body %s", got, code, r.Body)
	}
	msg, _ := body["message"].(string)
	switch {
	case message == "":
		if msg == "" {
			t.Fatalf("empty message: %s", r.Body)
		}
	case strings.HasSuffix(message, "*"):
		if !strings.HasPrefix(msg, strings.TrimSuffix(message, "*")) {
			t.Fatalf("message = %q, want it to start with %q", msg, strings.TrimSuffix(message, "*"))
		}
	case msg != message:
		t.Fatalf("message = %q, want %q", msg, message)
	}
	if len(body) != 2 {
		t.Fatalf("error body has fields beyond error_code and message: %s", r.Body)
	}
}

// sixDigits finds the one 6-digit code in a text.
var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// recorder is a delivery.Sender that remembers what it was asked to send.
type recorder struct {
	mu   sync.Mutex
	msgs []delivery.Message
}

func (r *recorder) Send(_ context.Context, m delivery.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Issuer       string         `json:"iss"`
	Subject      string         `json:"sub"`
	Audience     jwt.Audience   `json:"aud"`
	IssuedAt     int64          `json:"iat"`
	Expiry       int64          `json:"exp"`
	AuthTime     int64          `json:"auth_time"`
	AMR          []string       `json:"amr"`
	SessionID    string         `json:"sid"`
	AtHash       string         `json:"at_hash"`
	Email        string         `json:"email"`
	Phone        string         `json:"phone_number"`
	TenantID     string         `json:"tid"`
	ApprovalData map[string]any `json:"approval_data"`
	Username     string         `json:"username"`
}

// accessClaims are the access token claims the tests look at.
type accessClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  jwt.Audience `json:"aud"`
	ClientID  string       `json:"client_id"`
	SessionID string       `json:"sid"`
}

// verifyJWT checks raw's ES256 signature against the stack's published JWKS (as an app would)
// and decodes its claims into dst.
func (a *api) verifyJWT(t testing.TB, raw string, dst any) {
	t.Helper()
	r := a.Do(t, http.MethodGet, pathJWKS, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse jwt: %v", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not published once in the JWKS", tok.Headers[0].KeyID)
	}
	if err := tok.Claims(keys[0].Key, dst); err != nil {
		t.Fatalf("jwt signature or claims: %v", err)
	}
}

// readAll reads and closes an HTTP body.
func readAll(t testing.TB, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
