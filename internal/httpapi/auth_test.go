package httpapi_test

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
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/token"
)

// invalidTokenBody is the exact 401 body of product.md for a missing or bad Bearer token.
const invalidTokenBody = `{"message":"Invalid token","error_code":401}`

// protectedRoute is one concrete request to a route that needs a Bearer token.
type protectedRoute struct {
	pattern string // the route table's pattern this request must reach
	auth    httpapi.AuthKind
	method  string
	path    string
	body    any
	okCode  int // the status a valid token of the right kind gets; 0: anything but 401
}

// victim is the user whose routes are attacked: a request that slipped past the middleware
// would read, change or delete it.
type victim struct{ id, email, phone, username, appID, clientID string }

// none is an empty JSON body.
var none = map[string]any{}

// protectedRoutes lists every protected route of routes() with concrete path values. When a
// route is added to the table, TestBearerAuthCoversEveryProtectedRoute fails until it is here.
// okCode is exact for the routes whose services the test server wires (users); for the others a
// valid token only has to get past the middleware.
func protectedRoutes(v victim) []protectedRoute {
	routes := []protectedRoute{
		// backend one-time login (seed 002)
		{"POST /cis/v1/auth/otp/send", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/send", map[string]any{"identifier": v.email, "channel": "email"}, 0},
		{"POST /cis/v1/auth/otp/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/authenticate", map[string]any{"identifier": v.email, "passcode": "123456"}, 0},
		{"POST /cis/v1/auth/password/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/password/authenticate", map[string]any{"username": v.username, "password": "guess guess guess"}, 0},
		{"POST /cis/v1/auth/password/validate", httpapi.AuthClient, "POST", "/cis/v1/auth/password/validate", map[string]any{"password": "guess guess guess"}, 0},
		{"POST /cis/v1/auth/password/register", httpapi.AuthClient, "POST", "/cis/v1/auth/password/register", map[string]any{"username": "intruder", "password": "guess guess guess"}, 0},
		{"POST /cis/v1/auth/password/reset/email/link", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/email/link", map[string]any{"username": v.username, "redirect_uri": "https://evil.example/cb"}, 0},
		{"POST /cis/v1/auth/password/reset/link", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/link", map[string]any{"username": v.username, "redirect_uri": "https://evil.example/cb"}, 0},
		{"POST /cis/v1/auth/password/reset/email/otp", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/email/otp", map[string]any{"email": v.email}, 0},
		{"POST /cis/v1/auth/password/reset/email/otp/validate", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/email/otp/validate", map[string]any{"email": v.email, "passcode": "123456"}, 0},
		{"POST /cis/v1/auth/password/reset/sms/otp", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/sms/otp", map[string]any{"phone_number": v.phone}, 0},
		{"POST /cis/v1/auth/password/reset/sms/otp/validate", httpapi.AuthClient, "POST", "/cis/v1/auth/password/reset/sms/otp/validate", map[string]any{"phone_number": v.phone, "passcode": "123456"}, 0},
		{"POST /cis/v1/auth/link/email/send", httpapi.AuthClient, "POST", "/cis/v1/auth/link/email/send", map[string]any{"email": v.email}, 0},
		{"POST /cis/v1/auth/link/email/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/link/email/authenticate", map[string]any{"code": "abc"}, 0},

		// hosted one-time login (seed 003)
		{"POST /cis/v1/auth/links/email", httpapi.AuthClient, "POST", "/cis/v1/auth/links/email", map[string]any{"email": v.email}, 0},
		{"POST /cis/v1/auth/otp/email", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/email", map[string]any{"email": v.email}, 0},
		{"POST /cis/v1/auth/otp/email/validation", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/email/validation", map[string]any{"email": v.email, "passcode": "123456"}, 0},
		{"POST /cis/v1/auth/otp/sms", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/sms", map[string]any{"phone_number": v.phone}, 0},
		{"POST /cis/v1/auth/otp/sms/validation", httpapi.AuthClient, "POST", "/cis/v1/auth/otp/sms/validation", map[string]any{"phone_number": v.phone, "passcode": "123456"}, 0},

		// sessions
		{"POST /cis/v1/auth/session/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/session/authenticate", map[string]any{"session_id": "s1"}, 0},
		{"POST /cis/v1/auth/session/logout", httpapi.AuthClient, "POST", "/cis/v1/auth/session/logout", map[string]any{"session_id": "s1"}, 0},
		{"POST /cis/v1/auth/token/refresh", httpapi.AuthClient, "POST", "/cis/v1/auth/token/refresh", map[string]any{"refresh_token": "r"}, 0},
		{"POST /cis/v1/auth/logout", httpapi.AuthUser, "POST", "/cis/v1/auth/logout", nil, 0},

		// TOTP (seeds 000 and 001)
		{"POST /cis/v1/users/me/totp", httpapi.AuthUser, "POST", "/cis/v1/users/me/totp", none, 0},
		{"POST /cis/v1/auth/totp/register", httpapi.AuthUser, "POST", "/cis/v1/auth/totp/register", none, 0},
		{"POST /cis/v1/auth/totp/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/totp/authenticate", map[string]any{"identifier": v.email, "token": "123456"}, 0},
		{"POST /cis/v1/auth/totp/transaction/start", httpapi.AuthClient, "POST", "/cis/v1/auth/totp/transaction/start", map[string]any{"identifier": v.email}, 0},
		{"POST /cis/v1/auth/totp/transaction/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/totp/transaction/authenticate", map[string]any{"identifier": v.email, "token": "123456"}, 0},
		{"POST /cis/v1/users/me/totp/revoke", httpapi.AuthUser, "POST", "/cis/v1/users/me/totp/revoke", none, 0},
		{"POST /cis/v1/users/{userId}/totp/revoke", httpapi.AuthClient, "POST", "/cis/v1/users/" + v.id + "/totp/revoke", none, 0},
		{"POST /cis/v1/users/me/totp/recovery-codes", httpapi.AuthUser, "POST", "/cis/v1/users/me/totp/recovery-codes", none, 0},
		{"GET /cis/v1/users/me/totp/recovery-codes", httpapi.AuthUser, "GET", "/cis/v1/users/me/totp/recovery-codes", nil, 0},
		{"POST /cis/v1/auth/totp/recovery/authenticate", httpapi.AuthClient, "POST", "/cis/v1/auth/totp/recovery/authenticate", map[string]any{"identifier": v.email, "code": "0000000000"}, 0},
		{"POST /cis/v1/users/me/totp/devices", httpapi.AuthUser, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP", "deviceName": "x"}, 0},
		{"GET /cis/v1/users/me/totp/devices", httpapi.AuthUser, "GET", "/cis/v1/users/me/totp/devices", nil, 0},
		{"POST /cis/v1/users/me/totp/devices/{authId}/activate", httpapi.AuthUser, "POST", "/cis/v1/users/me/totp/devices/dev1/activate", map[string]any{"otp": "123456"}, 0},
		{"DELETE /cis/v1/users/me/totp/devices/{authId}", httpapi.AuthUser, "DELETE", "/cis/v1/users/me/totp/devices/dev1", nil, 0},

		// users (users.yml): client or admin tokens
		{"POST /cis/v1/users", httpapi.AuthUsers, "POST", "/cis/v1/users", map[string]any{"email": "intruder@example.com"}, 201},
		{"GET /cis/v1/users", httpapi.AuthUsers, "GET", "/cis/v1/users", nil, 200},
		{"GET /cis/v1/users/count", httpapi.AuthUsers, "GET", "/cis/v1/users/count", nil, 200},
		{"GET /cis/v1/users/identifier", httpapi.AuthUsers, "GET", "/cis/v1/users/identifier?identifier_name=email&identifier_value=" + url.QueryEscape(v.email), nil, 200},
		{"GET /cis/v1/users/{user_id}", httpapi.AuthUsers, "GET", "/cis/v1/users/" + v.id, nil, 200},
		{"PUT /cis/v1/users/{user_id}", httpapi.AuthUsers, "PUT", "/cis/v1/users/" + v.id, map[string]any{"language": "xx-intruder"}, 200},
		{"GET /cis/v1/users/{user_id}/{list}", httpapi.AuthUsers, "GET", "/cis/v1/users/" + v.id + "/groups", nil, 200},
		{"GET /cis/v1/users/email/{email}", httpapi.AuthUsers, "GET", "/cis/v1/users/email/" + v.email, nil, 200},
		{"GET /cis/v1/users/phone-number/{phone_number}", httpapi.AuthUsers, "GET", "/cis/v1/users/phone-number/" + v.phone, nil, 200},
		{"GET /cis/v1/users/phone/{phone_number}", httpapi.AuthUsers, "GET", "/cis/v1/users/phone/" + v.phone, nil, 200},
		{"GET /cis/v1/users/username/{username}", httpapi.AuthUsers, "GET", "/cis/v1/users/username/" + v.username, nil, 200},
		{"GET /cis/v1/users/external-user-id/{external_user_id}", httpapi.AuthUsers, "GET", "/cis/v1/users/external-user-id/ext-victim", nil, 200},
		{"POST /cis/v1/users/{user_id}/emails/{email}/verify", httpapi.AuthUsers, "POST", "/cis/v1/users/" + v.id + "/emails/" + v.email + "/verify", none, 202},
		{"POST /cis/v1/users/{user_id}/phone-numbers/{phone_number}/verify", httpapi.AuthUsers, "POST", "/cis/v1/users/" + v.id + "/phone-numbers/" + v.phone + "/verify", none, 202},
		{"DELETE /cis/v1/users/{user_id}/emails/{email}", httpapi.AuthUsers, "DELETE", "/cis/v1/users/" + v.id + "/emails/other@example.com", nil, 404},
		{"DELETE /cis/v1/users/{user_id}/phone-numbers/{phone_number}", httpapi.AuthUsers, "DELETE", "/cis/v1/users/" + v.id + "/phone-numbers/+14155550199", nil, 404},
		{"POST /cis/v1/users/{user_id}/password", httpapi.AuthUsers, "POST", "/cis/v1/users/" + v.id + "/password", map[string]any{"password": "intruder's own password"}, 400},
		{"PUT /cis/v1/users/{user_id}/password", httpapi.AuthUsers, "PUT", "/cis/v1/users/" + v.id + "/password", map[string]any{"password": "intruder's own password"}, 400},
		{"POST /cis/v1/users/me/password-credentials", httpapi.AuthUser, "POST", "/cis/v1/users/me/password-credentials", none, 0},
		{"GET /cis/v1/users/me/device-keys", httpapi.AuthUser, "GET", "/cis/v1/users/me/device-keys", nil, 0},
		{"DELETE /cis/v1/users/{user_id}/apps", httpapi.AuthUsers, "DELETE", "/cis/v1/users/" + v.id + "/apps", nil, 204},
		{"DELETE /cis/v1/manage/users/{user_id}", httpapi.AuthUsers, "DELETE", "/cis/v1/manage/users/" + v.id, nil, 204},
	}
	return append(routes, adminRoutes(v)...)
}

// adminRoutes are the applications API's routes (admin tokens only) with concrete paths; the
// application is the default one, its client the stack's default client.
func adminRoutes(v victim) []protectedRoute {
	a, c := "/cis/v1/applications/"+v.appID, v.clientID
	return []protectedRoute{
		{"POST /cis/v1/applications", httpapi.AuthAdmin, "POST", "/cis/v1/applications", map[string]any{"app_name": "intruder"}, 201},
		{"GET /cis/v1/applications", httpapi.AuthAdmin, "GET", "/cis/v1/applications", nil, 200},
		{"GET /cis/v1/applications/list", httpapi.AuthAdmin, "GET", "/cis/v1/applications/list", nil, 200},
		{"GET /cis/v1/applications/{appId}", httpapi.AuthAdmin, "GET", a, nil, 200},
		{"PUT /cis/v1/applications/{appId}", httpapi.AuthAdmin, "PUT", a, map[string]any{"app_description": "changed"}, 200},
		{"PUT /cis/v1/applications/{appId}/resources", httpapi.AuthAdmin, "PUT", a + "/resources", map[string]any{"resource_ids": []string{"https://api.example"}}, 200},
		{"POST /cis/v1/applications/{appId}/clients", httpapi.AuthAdmin, "POST", a + "/clients", map[string]any{"name": "intruder"}, 201},
		{"GET /cis/v1/applications/{appId}/clients", httpapi.AuthAdmin, "GET", a + "/clients", nil, 200},
		{"GET /cis/v1/applications/{appId}/clients/{clientId}", httpapi.AuthAdmin, "GET", a + "/clients/" + c, nil, 200},
		{"PUT /cis/v1/applications/{appId}/clients/{clientId}", httpapi.AuthAdmin, "PUT", a + "/clients/" + c, map[string]any{"name": "renamed"}, 200},
		{"PUT /cis/v1/applications/{appId}/clients/{clientId}/resources", httpapi.AuthAdmin, "PUT", a + "/clients/" + c + "/resources", map[string]any{"resource_ids": []string{}}, 200},
		{"POST /cis/v1/applications/{appId}/clients/{clientId}/secret", httpapi.AuthAdmin, "POST", a + "/clients/" + c + "/secret", map[string]any{"grace_period_seconds": 3600}, 200},
		{"GET /cis/v1/applications/signing-keys", httpapi.AuthAdmin, "GET", "/cis/v1/applications/signing-keys", nil, 200},
		{"POST /cis/v1/applications/signing-keys", httpapi.AuthAdmin, "POST", "/cis/v1/applications/signing-keys", map[string]any{"name": "k"}, 201},
		{"POST /cis/v1/applications/signing-keys/upload", httpapi.AuthAdmin, "POST", "/cis/v1/applications/signing-keys/upload", none, 501},
		// the destructive ones last: the table is run in order
		{"DELETE /cis/v1/applications/{appId}/clients/{clientId}", httpapi.AuthAdmin, "DELETE", a + "/clients/" + c, nil, 204},
		{"DELETE /cis/v1/applications/{appId}/clients", httpapi.AuthAdmin, "DELETE", a + "/clients", nil, 204},
		{"DELETE /cis/v1/applications/{appId}", httpapi.AuthAdmin, "DELETE", a, nil, 204},
	}
}

func TestBearerAuthCoversEveryProtectedRoute(t *testing.T) {
	ts := sqliteServer(t) // dev mode: the conditional routes are in the table too
	mux := http.NewServeMux()
	protected := map[string]httpapi.AuthKind{}
	for _, r := range ts.API.Routes() {
		mux.Handle(r.Pattern, http.NotFoundHandler())
		if r.Auth != httpapi.AuthNone {
			protected[r.Pattern] = r.Auth
		}
	}
	if len(protected) == 0 {
		t.Fatal("the route table has no protected route")
	}
	covered := map[string]bool{}
	for _, pr := range protectedRoutes(victim{"u1", "a@example.com", "+14155550100", "alice", "app1", "c1"}) {
		req, err := http.NewRequest(pr.method, "http://latch.test"+pr.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, pattern := mux.Handler(req)
		if pattern != pr.pattern {
			t.Errorf("%s %s reaches route %q, the test list says %q", pr.method, pr.path, pattern, pr.pattern)
		}
		if kind, ok := protected[pr.pattern]; !ok {
			t.Errorf("test list names %q, which is not a protected route of routes()", pr.pattern)
		} else if kind != pr.auth {
			t.Errorf("route %q needs auth kind %d, the test list says %d", pr.pattern, kind, pr.auth)
		}
		covered[pr.pattern] = true
	}
	for _, p := range slices.Sorted(maps.Keys(protected)) {
		if !covered[p] {
			t.Errorf("protected route %q is missing from protectedRoutes: add a concrete request for it", p)
		}
	}
}

// tokenFactory mints tokens for one test server with claims that differ from a valid token of a
// route's kind in exactly one way.
type tokenFactory struct {
	ts    *testServer
	bases map[httpapi.AuthKind]map[string]any // valid claims of each kind, minted now
}

// newTokenFactory's user tokens name sessionID, a live session of the victim's: the middleware
// refuses a user token whose session has ended.
func newTokenFactory(t *testing.T, ts *testServer, v victim, sessionID string) *tokenFactory {
	t.Helper()
	c, a := ts.defaultClient(t)
	now := ts.Clock.Now()
	client := map[string]any{
		"iss": ts.URL, "sub": c.ClientID, "aud": token.APIAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": secret.NewID(), "tid": a.TenantID, "client_id": c.ClientID, "app_id": a.ID, "app_name": a.Name,
		"scope": "openid", "roles": []string{},
	}
	user := maps.Clone(client)
	user["sub"], user["sid"], user["auth_time"], user["amr"] = v.id, sessionID, now.Unix(), []string{"otp"}
	// An admin token is a client token of a management application's client, with roles admin.
	creds, err := ts.Apps.CreateApp(context.Background(), app.NewApp{Name: "management", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	admin := maps.Clone(client)
	admin["sub"], admin["client_id"], admin["app_id"], admin["app_name"], admin["roles"] = creds.ClientID, creds.ClientID, creds.AppID, "management", []string{"admin"}
	return &tokenFactory{ts: ts, bases: map[httpapi.AuthKind]map[string]any{httpapi.AuthClient: client, httpapi.AuthUsers: client,
		httpapi.AuthUser: user, httpapi.AuthAdmin: admin}}
}

// with returns the valid claims of kind changed by set (a nil value deletes the claim).
func (f *tokenFactory) with(kind httpapi.AuthKind, set map[string]any) map[string]any {
	out := maps.Clone(f.bases[kind])
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

// signWith signs claims with an arbitrary ECDSA key and kid ("" for none), as a forger would.
func signWith(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
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

func TestBearerAuthRefusesBadTokens(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { testBearerAuthRefusesBadTokens(t, newTestServer(t, e.DSN(t))) })
	}
}

func testBearerAuthRefusesBadTokens(t *testing.T, ts *testServer) {
	// Every route is served (dev mode), the conditional ones too.
	good := ts.ClientToken(t)
	created := ts.createUser(t, good, map[string]any{"email": "victim@example.com", "phone_number": "+14155550100", "username": "victim", "external_user_id": "ext-victim"})
	v := victim{id: created["user_id"].(string), email: "victim@example.com", phone: "+14155550100", username: "victim", appID: ts.App.ID, clientID: ts.ClientID}
	routes := protectedRoutes(v)

	// An expired client token, minted over HTTP, then the clock moves past exp + leeway.
	expired := ts.ClientToken(t)
	ts.Clock.Advance(time.Hour + 31*time.Second)

	_, sessionID := ts.userLogin(t, v.id)
	f := newTokenFactory(t, ts, v, sessionID)
	now := ts.Clock.Now()
	kid := ts.Keys.KID()

	// Another deployment: its own store, encryption key and signing key, same issuer.
	foreign := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{Issuer: ts.URL})
	forgerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// Another node of this deployment (same store and keys) configured with another issuer.
	evil := latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Issuer: "https://evil.example"})
	c, a := ts.defaultClient(t)
	wrongIssuer, err := evil.Signer.ClientCredentials(c, a, "")
	if err != nil {
		t.Fatal(err)
	}

	valid := map[httpapi.AuthKind]string{}
	for k, claims := range f.bases {
		valid[k] = f.sign(t, claims)
	}
	// The token of another family: a user token on the client, users and admin routes, a
	// client token on the user routes. (A client token on an admin route, and an admin token on
	// a client route, are 403s: TestAdminTokenKinds.)
	other := map[httpapi.AuthKind]httpapi.AuthKind{httpapi.AuthClient: httpapi.AuthUser, httpapi.AuthUser: httpapi.AuthClient,
		httpapi.AuthUsers: httpapi.AuthUser, httpapi.AuthAdmin: httpapi.AuthUser}
	bearer := func(tok string) string { return "Bearer " + tok }

	cases := []struct {
		name   string
		header func(k httpapi.AuthKind) string // the Authorization header for a route of kind k; "" sends none
	}{
		{"no_authorization_header", func(httpapi.AuthKind) string { return "" }},
		{"bearer_not_a_jwt", func(httpapi.AuthKind) string { return "Bearer abc" }},
		{"basic_scheme", func(httpapi.AuthKind) string { return "Basic x" }},
		{"basic_with_valid_client_credentials", func(httpapi.AuthKind) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(ts.ClientID+":"+ts.ClientSecret))
		}},
		{"bearer_without_token", func(httpapi.AuthKind) string { return "Bearer " }},
		{"token_without_scheme", func(k httpapi.AuthKind) string { return valid[k] }},
		{"garbage_jwt", func(httpapi.AuthKind) string {
			return "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6Ing4In0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
		}},
		{"tampered_payload", func(k httpapi.AuthKind) string {
			p := strings.Split(valid[k], ".")
			return bearer(p[0] + "." + b64(f.with(k, map[string]any{"app_name": "other"})) + "." + p[2])
		}},
		{"signature_stripped", func(k httpapi.AuthKind) string {
			p := strings.Split(valid[k], ".")
			return bearer(p[0] + "." + p[1] + ".")
		}},
		{"alg_none", func(k httpapi.AuthKind) string {
			return bearer(b64(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(f.bases[k]) + ".")
		}},
		{"alg_hs256", func(k httpapi.AuthKind) string {
			signing := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(f.bases[k])
			mac := hmac.New(sha256.New, []byte("any shared secret"))
			mac.Write([]byte(signing))
			return bearer(signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
		}},
		{"expired_client_token_from_oidc_token", func(httpapi.AuthKind) string { return bearer(expired) }},
		{"expired_past_leeway", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-31 * time.Second).Unix()})))
		}},
		{"signed_by_another_key_ring", func(k httpapi.AuthKind) string {
			tok, err := foreign.Signer.Sign(f.bases[k])
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}},
		{"signed_by_another_key_with_the_servers_kid", func(k httpapi.AuthKind) string { return bearer(signWith(t, forgerKey, kid, f.bases[k])) }},
		{"no_kid", func(k httpapi.AuthKind) string { return bearer(signWith(t, forgerKey, "", f.bases[k])) }},
		{"wrong_issuer_client_credentials", func(httpapi.AuthKind) string { return bearer(wrongIssuer.AccessToken) }},
		{"wrong_issuer", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"iss": "https://evil.example"})))
		}},
		{"issuer_with_trailing_slash", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"iss": ts.URL + "/"})))
		}},
		{"id_token_like_aud_client_id", func(httpapi.AuthKind) string {
			return bearer(f.sign(t, map[string]any{
				"iss": ts.URL, "sub": v.id, "aud": ts.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				"auth_time": now.Unix(), "amr": []string{"otp"}, "tid": ts.App.TenantID, "sid": sessionID, "nonce": "n"}))
		}},
		{"aud_client_id", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"aud": ts.ClientID})))
		}},
		{"aud_another_resource", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"aud": []string{"https://shop.example/api", ts.ClientID}})))
		}},
		{"no_aud", func(k httpapi.AuthKind) string { return bearer(f.sign(t, f.with(k, map[string]any{"aud": nil}))) }},
		{"no_exp", func(k httpapi.AuthKind) string { return bearer(f.sign(t, f.with(k, map[string]any{"exp": nil}))) }},
		{"issued_in_the_future", func(k httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(k, map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})))
		}},
		{"wrong_kind", func(k httpapi.AuthKind) string { return bearer(valid[other[k]]) }},
		{"wrong_kind_client_token_from_oidc_token", func(k httpapi.AuthKind) string {
			if k != httpapi.AuthUser {
				return bearer(valid[httpapi.AuthUser])
			}
			return bearer(ts.ClientToken(t))
		}},
		{"client_token_with_sid", func(httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(httpapi.AuthClient, map[string]any{"sid": sessionID})))
		}},
		{"client_subject_is_not_the_client", func(httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(httpapi.AuthClient, map[string]any{"sub": v.id})))
		}},
		{"user_token_without_sid", func(httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(httpapi.AuthUser, map[string]any{"sid": nil})))
		}},
		{"user_token_with_client_subject", func(httpapi.AuthKind) string {
			return bearer(f.sign(t, f.with(httpapi.AuthUser, map[string]any{"sub": ts.ClientID})))
		}},
	}

	usersBefore := ts.userCount(t)
	victimBefore := ts.storedUser(t, v.id)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range routes {
				var r response
				if h := tc.header(rt.auth); h == "" {
					r = ts.Do(t, rt.method, rt.path, "", rt.body)
				} else {
					r = ts.Do(t, rt.method, rt.path, "", rt.body, "Authorization", h)
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

	// Controls: the same requests with a valid token of the route's kind do get past the
	// middleware, so each refusal above is the middleware's doing. The client routes get both a
	// token from /oidc/token and the hand-minted claims every forged token was derived from.
	t.Run("control_valid_tokens_are_accepted", func(t *testing.T) {
		for _, tok := range []string{ts.ClientToken(t), valid[httpapi.AuthClient]} {
			r := ts.Do(t, http.MethodGet, "/cis/v1/users/"+v.id, tok, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("valid client token refused: %d %s", r.Status, r.Body)
			}
		}
		toks := map[httpapi.AuthKind]string{httpapi.AuthClient: ts.ClientToken(t), httpapi.AuthUsers: ts.ClientToken(t),
			httpapi.AuthAdmin: ts.AdminToken(t), httpapi.AuthUser: valid[httpapi.AuthUser]}
		// The users routes answer for real; the others, whose answer depends on state this test
		// does not set up, are checked on the route table's middleware in front of a stub
		// handler that says it was reached.
		reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
		stubs := http.NewServeMux()
		for _, r := range ts.API.Routes() {
			stubs.Handle(r.Pattern, ts.API.Authenticate(r.Auth, reached))
		}
		stubServer := httptest.NewServer(stubs)
		defer stubServer.Close()
		stub := &testServer{Stack: &latchtest.Stack{}}
		*stub.Stack = *ts.Stack
		stub.URL, stub.Client = stubServer.URL, stubServer.Client()
		for _, rt := range routes { // in table order: the DELETE comes last
			if rt.okCode == 0 {
				if r := stub.Do(t, rt.method, rt.path, toks[rt.auth], rt.body); r.Status != 299 {
					t.Errorf("%s %s with a valid token: %d %s, want the handler reached", rt.method, rt.path, r.Status, r.Body)
				}
				continue
			}
			if r := ts.Do(t, rt.method, rt.path, toks[rt.auth], rt.body); r.Status != rt.okCode {
				t.Errorf("%s %s with a valid token: %d, want %d (body %s)", rt.method, rt.path, r.Status, rt.okCode, r.Body)
			}
		}
	})
}

// TestBearerAuthExpiryLeeway pins the 30 s leeway: a token is accepted until exp+30s and
// refused one second later.
func TestBearerAuthExpiryLeeway(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	ts.Clock.Advance(time.Hour + 30*time.Second)
	if r := ts.Do(t, http.MethodGet, "/cis/v1/users/count", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("at exp+30s: %d %s, want 200", r.Status, r.Body)
	}
	ts.Clock.Advance(time.Second)
	r := ts.Do(t, http.MethodGet, "/cis/v1/users/count", tok, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("at exp+31s: %d %s, want 401", r.Status, r.Body)
	}
	assertJSONBody(t, r, invalidTokenBody)
}

// TestBearerSchemeIsCaseInsensitive: RFC 6750 auth schemes are case-insensitive.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		r := ts.Do(t, http.MethodGet, "/cis/v1/users/count", "", nil, "Authorization", scheme+" "+tok)
		if r.Status != http.StatusOK {
			t.Errorf("scheme %q: %d %s", scheme, r.Status, r.Body)
		}
	}
}
