package hosted_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// env is one running stack, a client token of its default client and its redirect URI.
type env struct {
	*latchtest.Stack
	token    string
	redirect string
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	s := latchtest.Start(t, dsn, latchtest.Options{})
	return &env{Stack: s, token: s.ClientToken(t), redirect: s.App.RedirectURIs[0]}
}

// eachEngine runs fn once per store engine on a fresh stack.
func eachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { fn(t, newEnv(t, eng.DSN(t))) })
	}
}

// sqliteEnv is a stack on SQLite, for tests of HTTP behaviour rather than storage.
func sqliteEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, storetest.Engines()[0].DSN(t))
}

var seq atomic.Int64

// uniqueEmail and uniquePhone give every login its own identifier, so send rate limits never
// interfere between subtests.
func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d@Example.COM", prefix, seq.Add(1))
}

func uniquePhone() string { return fmt.Sprintf("+1555%07d", seq.Add(1)) }

// hostedFlow is one of the three hosted one-time login methods.
type hostedFlow struct {
	name     string
	send     string // start path
	validate string // validation path; "" for the emailed link
	sms      bool
	amr      string
}

var flows = []hostedFlow{
	{name: "links_email", send: "/cis/v1/auth/links/email", amr: "eml"},
	{name: "otp_email", send: "/cis/v1/auth/otp/email", validate: "/cis/v1/auth/otp/email/validation", amr: "eotp"},
	{name: "otp_sms", send: "/cis/v1/auth/otp/sms", validate: "/cis/v1/auth/otp/sms/validation", sms: true, amr: "sms"},
}

func flowNamed(name string) hostedFlow {
	for _, f := range flows {
		if f.name == name {
			return f
		}
	}
	panic("no flow " + name)
}

// identifier returns a fresh identifier for the flow and the JSON field it goes in.
func (f hostedFlow) identifier() (field, value string) {
	if f.sms {
		return "phone_number", uniquePhone()
	}
	return "email", uniqueEmail(f.name)
}

// startBody builds a send request.
func (e *env) startBody(field, value string, extra map[string]any) map[string]any {
	body := map[string]any{field: value, "redirect_uri": e.redirect}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

var otpInText = regexp.MustCompile(`\b(\d{6})\b`)

// outboxText returns the newest message to `to` (text and HTML parts).
func (e *env) outboxText(t *testing.T, to string) string {
	t.Helper()
	msgs := e.Outbox(t, to)
	if len(msgs) == 0 {
		t.Fatalf("the outbox holds no message to %s", to)
	}
	return msgs[0].Text + "\n" + msgs[0].HTML
}

// passcodeFor reads the OTP delivered to `to`.
func (e *env) passcodeFor(t *testing.T, to string) string {
	t.Helper()
	m := otpInText.FindStringSubmatch(e.outboxText(t, to))
	if m == nil {
		t.Fatalf("no 6-digit code in the message to %s", to)
	}
	return m[1]
}

// linkFor reads the sign-in link emailed to `to`.
func (e *env) linkFor(t *testing.T, to string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(e.URL+hosted.RedirectPath) + `\?code=[A-Za-z0-9_%\-]+`)
	link := re.FindString(e.outboxText(t, to))
	if link == "" {
		t.Fatalf("no %s link in the email to %s:\n%s", hosted.RedirectPath, to, e.outboxText(t, to))
	}
	return link
}

// begin sends and (for OTP flows) validates, returning the result URI (or the emailed link).
func (e *env) begin(t *testing.T, f hostedFlow, field, value string, sendExtra, validateExtra map[string]any) string {
	t.Helper()
	r := e.Do(t, http.MethodPost, f.send, e.token, e.startBody(field, value, sendExtra))
	if r.Status != http.StatusOK {
		t.Fatalf("send %s: %d %s", f.send, r.Status, r.Body)
	}
	if f.validate == "" {
		return e.linkFor(t, strings.ToLower(value))
	}
	body := map[string]any{field: value, "passcode": e.passcodeFor(t, strings.ToLower(value))}
	for k, v := range validateExtra {
		body[k] = v
	}
	v := e.Do(t, http.MethodPost, f.validate, e.token, body)
	if v.Status != http.StatusOK {
		t.Fatalf("validate %s: %d %s", f.validate, v.Status, v.Body)
	}
	result := v.String("result")
	if !strings.HasPrefix(result, e.URL+hosted.RedirectPath+"?") {
		t.Fatalf("result %q is not a URI on Latch (%s)", result, e.URL+hosted.RedirectPath)
	}
	if len(v.JSON()) != 1 {
		t.Errorf("validation body %s: want exactly {result}", v.Body)
	}
	return result
}

// follow GETs a result URI without following the redirect and returns the Location.
func (e *env) follow(t *testing.T, uri string) *url.URL {
	t.Helper()
	r := e.Do(t, http.MethodGet, uri, "", nil)
	if r.Status != http.StatusFound {
		t.Fatalf("GET %s: %d, want 302 (body %s)", uri, r.Status, r.Body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", r.Header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.redirect {
		t.Fatalf("redirected to %s, want the redirect_uri %s", got, e.redirect)
	}
	return loc
}

// codeFor runs an email OTP login to its redirect and returns the authorization code.
func (e *env) codeFor(t *testing.T, email string) string {
	t.Helper()
	loc := e.follow(t, e.begin(t, flowNamed("otp_email"), "email", email, map[string]any{"create_new_user": true}, nil))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

// tokens is what either exchange endpoint returns.
type tokens struct {
	IDToken       string `json:"id_token"`
	AccessToken   string `json:"access_token"`
	RefreshToken  string `json:"refresh_token"`
	TokenType     string `json:"token_type"`
	ExpiresIn     any    `json:"expires_in"`
	IsUserCreated *bool  `json:"is_user_created"`
}

// exchangeOIDC posts grant_type=authorization_code to /oidc/token with HTTP Basic credentials.
func (e *env) exchangeOIDC(t *testing.T, clientID, secret, code, redirect string) latchtest.Response {
	t.Helper()
	return e.Form(t, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, clientID, secret)
}

// exchangeCIS posts the deprecated JSON exchange.
func (e *env) exchangeCIS(t *testing.T, clientID, secret, code string) latchtest.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/cis/v1/token", "", map[string]any{"code": code, "client_id": clientID, "client_secret": secret})
}

func decodeTokens(t *testing.T, r latchtest.Response) tokens {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	var tok tokens
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		t.Fatalf("exchange body %s: %v", r.Body, err)
	}
	if tok.IDToken == "" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("exchange body %s: want id_token, access_token and refresh_token", r.Body)
	}
	return tok
}

// jwks fetches the published keys.
func (e *env) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	r := e.Do(t, http.MethodGet, "/cis/oidc/jwks", "", nil)
	var set jose.JSONWebKeySet
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	return set
}

// verify checks a JWT against the JWKS with go-jose alone and returns its claims; iss and exp are
// checked against the stack's issuer and clock.
func (e *env) verify(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	set := e.jwks(t)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("no JWKS key for kid %q", tok.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	if claims["iss"] != e.URL {
		t.Errorf("iss = %v, want %s", claims["iss"], e.URL)
	}
	if exp, _ := claims["exp"].(float64); int64(exp) <= e.Clock.Now().Unix() {
		t.Errorf("exp %v is not in the future of %v", claims["exp"], e.Clock.Now())
	}
	return claims
}

// atHash is OIDC's at_hash for an ES256 token: base64url of the left half of SHA-256.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// checkIDToken verifies an ID token issued beside accessToken (when not "") for clientID.
func (e *env) checkIDToken(t *testing.T, raw, accessToken, clientID string) map[string]any {
	t.Helper()
	c := e.verify(t, raw)
	switch aud := c["aud"].(type) {
	case string:
		if aud != clientID {
			t.Errorf("aud = %q, want the client %s", aud, clientID)
		}
	case []any:
		if len(aud) != 1 || aud[0] != clientID {
			t.Errorf("aud = %v, want [%s]", aud, clientID)
		}
	default:
		t.Errorf("aud = %#v", c["aud"])
	}
	if _, ok := c["azp"]; ok {
		t.Errorf("azp %v with a single audience", c["azp"])
	}
	for _, k := range []string{"sub", "iat", "exp", "auth_time", "sid"} {
		if _, ok := c[k]; !ok {
			t.Errorf("ID token without %s: %v", k, c)
		}
	}
	if accessToken != "" && c["at_hash"] != atHash(accessToken) {
		t.Errorf("at_hash = %v, want %s", c["at_hash"], atHash(accessToken))
	}
	return c
}

// wantJSON compares a body with an exact JSON object.
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

// Exact error bodies of the code exchange.
var (
	oidcInvalidGrant = map[string]any{"error": "invalid_grant", "error_description": "Invalid or expired authorization code",
		"message": "Invalid or expired authorization code", "error_code": float64(400)}
	oidcInvalidClient = map[string]any{"error": "invalid_client", "error_description": "Invalid client credentials",
		"message": "Invalid client credentials", "error_code": float64(401)}
	cisInvalidGrant  = map[string]any{"error_code": "invalid_grant", "message": "Invalid or expired authorization code"}
	cisInvalidClient = map[string]any{"error_code": "invalid_client", "message": "Invalid client credentials"}
)

// newApp creates another application and returns its credentials and a client token.
func (e *env) newApp(t *testing.T, n app.NewApp) (app.Credentials, string) {
	t.Helper()
	creds, err := e.Apps.CreateApp(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	r := e.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, creds.ClientID, creds.ClientSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("client token of the new app: %d %s", r.Status, r.Body)
	}
	return creds, r.String("access_token")
}

func formRequest(t *testing.T, target string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func jsonRequest(t *testing.T, target string, body any) *http.Request {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}
