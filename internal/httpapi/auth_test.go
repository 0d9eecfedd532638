package httpapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/token"
)

// invalidTokenBody is the exact 401 body of product.md for a missing or bad Bearer token.
const invalidTokenBody = `{"message":"Invalid token","error_code":401}`

// protectedRoute is one concrete request to a route that needs a Bearer token.
type protectedRoute struct {
	pattern string // the route table's pattern this request must reach
	method  string
	path    string
	body    any
	okCode  int // the status a valid client token gets
}

// victim is the user whose routes are attacked: a request that slipped past the middleware
// would read, change or delete it.
type victim struct{ id, email, phone, username string }

// protectedRoutes lists every protected route of routes() with concrete path values. When a
// route is added to the table, TestBearerAuthCoversEveryProtectedRoute fails until it is here.
func protectedRoutes(v victim) []protectedRoute {
	return []protectedRoute{
		{"POST /cis/v1/users", "POST", "/cis/v1/users", map[string]any{"email": "intruder@example.com"}, 201},
		{"GET /cis/v1/users", "GET", "/cis/v1/users", nil, 200},
		{"GET /cis/v1/users/count", "GET", "/cis/v1/users/count", nil, 200},
		{"GET /cis/v1/users/identifier", "GET", "/cis/v1/users/identifier?identifier_name=email&identifier_value=" + url.QueryEscape(v.email), nil, 200},
		{"GET /cis/v1/users/{user_id}", "GET", "/cis/v1/users/" + v.id, nil, 200},
		{"PUT /cis/v1/users/{user_id}", "PUT", "/cis/v1/users/" + v.id, map[string]any{"language": "xx-intruder"}, 200},
		{"GET /cis/v1/users/email/{email}", "GET", "/cis/v1/users/email/" + v.email, nil, 200},
		{"GET /cis/v1/users/phone-number/{phone_number}", "GET", "/cis/v1/users/phone-number/" + v.phone, nil, 200},
		{"GET /cis/v1/users/phone/{phone_number}", "GET", "/cis/v1/users/phone/" + v.phone, nil, 200},
		{"GET /cis/v1/users/username/{username}", "GET", "/cis/v1/users/username/" + v.username, nil, 200},
		{"DELETE /cis/v1/manage/users/{user_id}", "DELETE", "/cis/v1/manage/users/" + v.id, nil, 204},
	}
}

func TestBearerAuthCoversEveryProtectedRoute(t *testing.T) {
	ts := sqliteServer(t)
	table := ts.API.routes()
	mux := http.NewServeMux()
	protected := map[string]bool{}
	for _, r := range table {
		mux.Handle(r.pattern, http.NotFoundHandler())
		if r.auth != authNone {
			protected[r.pattern] = true
		}
	}
	if len(protected) == 0 {
		t.Fatal("the route table has no protected route")
	}
	covered := map[string]bool{}
	for _, pr := range protectedRoutes(victim{"u1", "a@example.com", "+14155550100", "alice"}) {
		req, err := http.NewRequest(pr.method, "http://latch.test"+pr.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, pattern := mux.Handler(req)
		if pattern != pr.pattern {
			t.Errorf("%s %s reaches route %q, the test list says %q", pr.method, pr.path, pattern, pr.pattern)
		}
		if !protected[pr.pattern] {
			t.Errorf("test list names %q, which is not a protected route of routes()", pr.pattern)
		}
		covered[pr.pattern] = true
	}
	for _, p := range slices.Sorted(maps.Keys(protected)) {
		if !covered[p] {
			t.Errorf("protected route %q is missing from protectedRoutes: add a concrete request for it", p)
		}
	}
}

// tokenFactory mints tokens for one test server with claims that differ from a valid client
// token in exactly one way.
type tokenFactory struct {
	ts     *testServer
	client map[string]any // claims of a valid client access token, minted now
}

func newTokenFactory(t *testing.T, ts *testServer) *tokenFactory {
	t.Helper()
	c, a := ts.defaultClient(t)
	now := ts.Clock.Now()
	return &tokenFactory{ts: ts, client: map[string]any{
		"iss": ts.URL, "sub": c.ClientID, "aud": token.APIAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": secret.NewID(), "tid": a.TenantID, "client_id": c.ClientID, "app_id": a.ID, "app_name": a.Name,
		"scope": "openid", "roles": []string{},
	}}
}

// with returns the valid client claims changed by set (a nil value deletes the claim).
func (f *tokenFactory) with(set map[string]any) map[string]any {
	out := maps.Clone(f.client)
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// sign signs claims with the server's own current key.
func (f *tokenFactory) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok, err := f.ts.Signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signWith signs claims with an arbitrary ECDSA key and kid, as a forger would.
func signWith(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// unsignedJWT builds header.payload.signature by hand (alg none, HS256, tampered payloads).
func unsignedJWT(header, claims map[string]any, sig string) string {
	return b64(header) + "." + b64(claims) + "." + sig
}

func TestBearerAuthRefusesBadTokens(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { testBearerAuthRefusesBadTokens(t, newTestServer(t, e.DSN(t))) })
	}
}

func testBearerAuthRefusesBadTokens(t *testing.T, ts *testServer) {
	ctx := context.Background()
	good := ts.clientToken(t)
	created := ts.createUser(t, good, map[string]any{"email": "victim@example.com", "phone_number": "+14155550100", "username": "victim"})
	v := victim{id: created["user_id"].(string), email: "victim@example.com", phone: "+14155550100", username: "victim"}
	routes := protectedRoutes(v)

	// An expired client token, minted over HTTP, then the clock moves past exp + leeway.
	expired := ts.clientToken(t)
	ts.Clock.Advance(time.Hour + 31*time.Second)

	f := newTokenFactory(t, ts)
	now := ts.Clock.Now()

	// Another deployment: its own store, encryption key and signing key, same issuer.
	otherStore := storetest.Open(t, storetest.Engines()[0].DSN(t))
	otherKey := make([]byte, secret.KeySize)
	rand.Read(otherKey)
	otherBox, _ := secret.NewBox(otherKey)
	otherRing := token.NewKeyRing(otherStore, otherBox, ts.Clock, keyRetention, quietLogger())
	if err := otherRing.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	c, a := ts.defaultClient(t)
	otherSigner := &token.Signer{Ring: otherRing, Issuer: ts.URL, Clock: ts.Clock}
	foreign, err := otherSigner.ClientCredentials(c, a, "")
	if err != nil {
		t.Fatal(err)
	}
	forgerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	evilSigner := &token.Signer{Ring: ts.Keys, Issuer: "https://evil.example", Clock: ts.Clock}
	wrongIssuer, err := evilSigner.ClientCredentials(c, a, "")
	if err != nil {
		t.Fatal(err)
	}

	kid := ts.Keys.KID()
	valid := f.sign(t, f.client)
	parts := strings.Split(valid, ".")
	mac := hmac.New(sha256.New, []byte("any shared secret"))
	hsHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}
	mac.Write([]byte(b64(hsHeader) + "." + b64(f.client)))

	cases := []struct {
		name   string
		header string // the Authorization header; "" sends none
	}{
		{"no_authorization_header", ""},
		{"bearer_not_a_jwt", "Bearer abc"},
		{"basic_scheme", "Basic x"},
		{"basic_with_valid_client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte(ts.ClientID+":"+ts.ClientSecret))},
		{"bearer_without_token", "Bearer "},
		{"token_without_scheme", valid},
		{"garbage_jwt", "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6Ing4In0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"},
		{"tampered_payload", "Bearer " + parts[0] + "." + b64(f.with(map[string]any{"app_name": "other"})) + "." + parts[2]},
		{"signature_stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"alg_none", "Bearer " + unsignedJWT(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, f.client, "")},
		{"alg_hs256", "Bearer " + b64(hsHeader) + "." + b64(f.client) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))},
		{"expired_client_token", "Bearer " + expired},
		{"signed_by_another_key_ring", "Bearer " + foreign.AccessToken},
		{"signed_by_another_key_with_the_servers_kid", "Bearer " + signWith(t, forgerKey, kid, f.client)},
		{"wrong_issuer", "Bearer " + wrongIssuer.AccessToken},
		{"issuer_with_trailing_slash", "Bearer " + f.sign(t, f.with(map[string]any{"iss": ts.URL + "/"}))},
		{"id_token_like_aud_client_id", "Bearer " + f.sign(t, map[string]any{
			"iss": ts.URL, "sub": v.id, "aud": ts.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"auth_time": now.Unix(), "amr": []string{"otp"}, "tid": ts.TenantID, "sid": "session-1", "nonce": "n"})},
		{"client_token_with_aud_client_id", "Bearer " + f.sign(t, f.with(map[string]any{"aud": ts.ClientID}))},
		{"client_token_for_another_resource", "Bearer " + f.sign(t, f.with(map[string]any{"aud": "https://shop.example/api"}))},
		{"user_token_on_client_route", "Bearer " + f.sign(t, f.with(map[string]any{"sub": v.id, "sid": "session-1"}))},
		{"client_token_with_sid", "Bearer " + f.sign(t, f.with(map[string]any{"sid": "session-1"}))},
		{"subject_is_not_the_client", "Bearer " + f.sign(t, f.with(map[string]any{"sub": v.id}))},
		{"no_exp", "Bearer " + f.sign(t, f.with(map[string]any{"exp": nil}))},
		{"issued_in_the_future", "Bearer " + f.sign(t, f.with(map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}))},
		{"no_kid", "Bearer " + func() string {
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: forgerKey}, (&jose.SignerOptions{}).WithType("JWT"))
			p, _ := json.Marshal(f.client)
			obj, _ := s.Sign(p)
			out, _ := obj.CompactSerialize()
			return out
		}()},
	}

	usersBefore := ts.userCount(t)
	victimBefore := ts.storedUser(t, v.id)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range routes {
				var r response
				if tc.header == "" {
					r = ts.do(t, rt.method, rt.path, rt.body)
				} else {
					r = ts.do(t, rt.method, rt.path, rt.body, "Authorization", tc.header)
				}
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s: status %d, want 401 (body %s)", rt.method, rt.path, r.Status, r.Body)
					continue
				}
				assertContentTypeJSON(t, r)
				assertJSONBody(t, r, invalidTokenBody)
			}
		})
	}
	if n := ts.userCount(t); n != usersBefore {
		t.Errorf("refused requests changed the user count: %d → %d", usersBefore, n)
	}
	if after := ts.storedUser(t, v.id); !reflect.DeepEqual(after, victimBefore) {
		t.Errorf("refused requests changed the user:\nbefore %+v\nafter  %+v", victimBefore, after)
	}

	// Controls: the same requests with a valid token do reach the handlers (so each refusal
	// above is the middleware's doing), both for a token from /oidc/token and for the
	// hand-minted claims every forged token above was derived from.
	t.Run("control_valid_tokens_are_accepted", func(t *testing.T) {
		for _, tok := range []string{ts.clientToken(t), valid} {
			r := ts.authed(t, tok, http.MethodGet, "/cis/v1/users/"+v.id, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("valid token refused: %d %s", r.Status, r.Body)
			}
		}
		tok := ts.clientToken(t)
		for _, rt := range routes { // in table order: the DELETE comes last
			r := ts.authed(t, tok, rt.method, rt.path, rt.body)
			if r.Status != rt.okCode {
				t.Errorf("%s %s with a valid token: %d, want %d (body %s)", rt.method, rt.path, r.Status, rt.okCode, r.Body)
			}
		}
	})
}

// TestBearerAuthExpiryLeeway pins the 30 s leeway: a token is accepted until exp+30s and
// refused one second later.
func TestBearerAuthExpiryLeeway(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.clientToken(t)
	ts.Clock.Advance(time.Hour + 30*time.Second)
	if r := ts.authed(t, tok, http.MethodGet, "/cis/v1/users/count", nil); r.Status != http.StatusOK {
		t.Fatalf("at exp+30s: %d %s, want 200", r.Status, r.Body)
	}
	ts.Clock.Advance(time.Second)
	r := ts.authed(t, tok, http.MethodGet, "/cis/v1/users/count", nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("at exp+31s: %d %s, want 401", r.Status, r.Body)
	}
	assertJSONBody(t, r, invalidTokenBody)
}

// TestBearerSchemeIsCaseInsensitive: RFC 6750 auth schemes are case-insensitive.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.clientToken(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		r := ts.do(t, http.MethodGet, "/cis/v1/users/count", nil, "Authorization", scheme+" "+tok)
		if r.Status != http.StatusOK {
			t.Errorf("scheme %q: %d %s", scheme, r.Status, r.Body)
		}
	}
}
