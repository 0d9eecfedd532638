package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/session"
)

// contract holds the descriptions a body is checked against: Mosaic's applications.yml and
// users.yml (testdata/mosaic, copies of ../shared/reference/mosaic-openapi) and Latch's own
// openapi.yaml.
type contract struct {
	apps, users, latch *openapi3.T
}

func loadContract(t *testing.T) contract {
	t.Helper()
	load := func(name string, data []byte) *openapi3.T {
		l := openapi3.NewLoader()
		doc, err := l.LoadFromData(data)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		return doc
	}
	read := func(path string) []byte {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	latch := load("openapi.yaml", httpapi.OpenAPIDoc)
	if err := latch.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return contract{apps: load("applications.yml", read("testdata/mosaic/applications.yml")),
		users: load("users.yml", read("testdata/mosaic/users.yml")), latch: latch}
}

// validate checks one answer against the operation (method, path) of doc: its status must be
// one the operation lists and its body must match that status's schema.
func validate(t *testing.T, doc *openapi3.T, docName, method, path string, r response) {
	t.Helper()
	item := doc.Paths.Find(path)
	if item == nil {
		t.Fatalf("%s has no path %s", docName, path)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("%s has no operation %s %s", docName, method, path)
	}
	req := httptest.NewRequest(method, "http://latch.test"+path, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}},
		Status: r.Status, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s (%d) does not match %s: %v\nbody: %.600s", method, path, r.Status, docName, err, r.Body)
	}
}

// validateSchema checks a body against one schema of doc's components.
func validateSchema(t *testing.T, doc *openapi3.T, schema string, r response) {
	t.Helper()
	ref := doc.Components.Schemas[schema]
	if ref == nil {
		t.Fatalf("no schema %s", schema)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("body does not match %s: %v\nbody: %.600s", schema, err, r.Body)
	}
}

// op is one 2xx exchange of the contract test: the request, and the operations of Mosaic's
// description (mosaic: "" when Mosaic has none) and Latch's it must match.
type op struct {
	method, path string // the request
	body         any
	want         int
	doc          string // "apps" or "users"
	mosaic       string // Mosaic's path for it ("" when Mosaic has no such operation)
	latch        string // openapi.yaml's path
	schema       string // when mosaic is "": a Mosaic schema the body must match ("" for none)
}

// TestAdminAPIBodiesMatchMosaic: every 2xx answer of the applications API and of the users
// routes this issue added is valid against applications.yml / users.yml (kin-openapi), and
// against Latch's own openapi.yaml.
func TestAdminAPIBodiesMatchMosaic(t *testing.T) {
	c := loadContract(t)
	ts := sqliteServer(t)
	admin := ts.AdminToken(t)
	cl := ts.ClientToken(t)
	u := ts.createUser(t, cl, map[string]any{"email": "mosaic@example.com", "phone_number": "+14155550123", "external_user_id": "ext-42",
		"custom_app_data": map[string]any{"k": "v"}})
	uid := u["user_id"].(string)

	// Create an app first: the others act on it.
	r := ts.Do(t, "POST", "/cis/v1/applications", admin, map[string]any{"app_name": "shop", "app_description": "the shop",
		"redirect_uris": []string{"https://shop.example/cb"}, "allow_public_signup": true, "client_display_name": "web",
		"login_preferences": map[string]any{"auth_methods": map[string]any{"email_otp": map[string]any{"codeLength": 8}}},
		"settings":          map[string]any{"totp_digits": 8, "require_mfa": true}})
	if r.Status != 201 {
		t.Fatalf("create app: %d %s", r.Status, r.Body)
	}
	validate(t, c.apps, "applications.yml", "POST", "/v1/applications", r)
	validate(t, c.latch, "openapi.yaml", "POST", "/cis/v1/applications", r)
	res := r.Object(t)["result"].(map[string]any)
	appID, clientID := res["app_id"].(string), res["client_id"].(string)
	if sec, _ := res["client_secret"].(string); len(sec) < 20 {
		t.Errorf("create app: client_secret %q, want the new secret shown once", sec)
	}
	if st := res["settings"].(map[string]any); st["otp_length"] != 8.0 || st["totp_digits"] != 8.0 || st["require_mfa"] != true {
		t.Errorf("create app: settings %v, want otp_length 8 (from login_preferences), totp_digits 8, require_mfa", st)
	}
	a := "/cis/v1/applications/" + appID
	ops := []op{
		{"GET", "/cis/v1/applications", nil, 200, "apps", "/v1/applications", "/cis/v1/applications", ""},
		{"GET", "/cis/v1/applications/list", nil, 200, "apps", "/v1/applications/list", "/cis/v1/applications/list", ""},
		{"GET", a, nil, 200, "apps", "/v1/applications/{appId}", "/cis/v1/applications/{appId}", ""},
		{"PUT", a, map[string]any{"app_name": "shop2", "settings": map[string]any{"otp_length": 7, "users": "read"},
			"login_preferences": map[string]any{"auth_methods": map[string]any{"totp": map[string]any{"algorithm": "sha256", "period": 60}}}},
			200, "apps", "/v1/applications/{appId}", "/cis/v1/applications/{appId}", ""},
		{"PUT", a + "/resources", map[string]any{"resource_ids": []string{"https://api.shop.example"}}, 200, "apps", "/v1/applications/{appId}/resources", "/cis/v1/applications/{appId}/resources", ""},
		{"POST", a + "/clients", map[string]any{"name": "mobile", "redirect_uris": []string{"https://shop.example/m"}}, 201, "apps", "/v1/applications/{appId}/clients", "/cis/v1/applications/{appId}/clients", ""},
		{"GET", a + "/clients", nil, 200, "apps", "/v1/applications/{appId}/clients", "/cis/v1/applications/{appId}/clients", ""},
		{"GET", a + "/clients/" + clientID, nil, 200, "apps", "/v1/applications/{appId}/clients/{clientId}", "/cis/v1/applications/{appId}/clients/{clientId}", ""},
		{"PUT", a + "/clients/" + clientID, map[string]any{"name": "web2", "description": "d"}, 200, "apps", "/v1/applications/{appId}/clients/{clientId}", "/cis/v1/applications/{appId}/clients/{clientId}", ""},
		{"PUT", a + "/clients/" + clientID + "/resources", map[string]any{"resource_ids": []string{"https://api.shop.example"}}, 200, "apps", "/v1/applications/{appId}/clients/{clientId}/resources", "/cis/v1/applications/{appId}/clients/{clientId}/resources", ""},
		{"POST", a + "/clients/" + clientID + "/secret", map[string]any{"grace_period_seconds": 60}, 200, "apps", "", "/cis/v1/applications/{appId}/clients/{clientId}/secret", "ApiOidcClient"},
		{"GET", "/cis/v1/applications/signing-keys", nil, 200, "apps", "/v1/applications/signing-keys", "/cis/v1/applications/signing-keys", ""},
		// Mosaic lists no 2xx for a created key; its body is checked as an ApiTokenSigningKey.
		{"POST", "/cis/v1/applications/signing-keys", map[string]any{"name": "next"}, 201, "apps", "", "/cis/v1/applications/signing-keys", "ApiTokenSigningKey"},
		{"GET", "/cis/v1/applications/signing-keys", nil, 200, "apps", "/v1/applications/signing-keys", "/cis/v1/applications/signing-keys", ""},

		// users.yml: the routes this issue added, with an admin token and a client token
		{"GET", "/cis/v1/users/external-user-id/ext-42", nil, 200, "users", "/v1/users/external-user-id/{external_user_id}", "/cis/v1/users/external-user-id/{external_user_id}", ""},
		{"GET", "/cis/v1/users/" + uid + "/groups", nil, 200, "users", "/v1/users/{user_id}/groups", "/cis/v1/users/{user_id}/groups", ""},
		{"POST", "/cis/v1/users/" + uid + "/emails/mosaic@example.com/verify", map[string]any{"change_to_primary": false}, 202, "users", "/v1/users/{user_id}/emails/{email}/verify", "/cis/v1/users/{user_id}/emails/{email}/verify", ""},
		{"POST", "/cis/v1/users/" + uid + "/phone-numbers/" + url.PathEscape("+14155550123") + "/verify", nil, 202, "users", "/v1/users/{user_id}/phone-numbers/{phone_number}/verify", "/cis/v1/users/{user_id}/phone-numbers/{phone_number}/verify", ""},
		{"GET", "/cis/v1/users/" + uid, nil, 200, "users", "/v1/users/{user_id}", "/cis/v1/users/{user_id}", ""},
		{"DELETE", "/cis/v1/users/" + uid + "/apps", nil, 204, "users", "/v1/users/{user_id}/apps", "/cis/v1/users/{user_id}/apps", ""},

		// the deletes last
		{"DELETE", a + "/clients/" + clientID, nil, 204, "apps", "/v1/applications/{appId}/clients/{clientId}", "/cis/v1/applications/{appId}/clients/{clientId}", ""},
		{"DELETE", a + "/clients", nil, 204, "apps", "/v1/applications/{appId}/clients", "/cis/v1/applications/{appId}/clients", ""},
		{"DELETE", a, nil, 204, "apps", "/v1/applications/{appId}", "/cis/v1/applications/{appId}", ""},
	}
	for _, o := range ops {
		toks := []string{admin}
		if o.doc == "users" && o.method == "GET" {
			toks = append(toks, cl) // a client token sees the same shape
		}
		for _, tok := range toks {
			r := ts.Do(t, o.method, o.path, tok, o.body)
			if r.Status != o.want {
				t.Errorf("%s %s: %d, want %d (body %s)", o.method, o.path, r.Status, o.want, r.Body)
				continue
			}
			doc, name := c.apps, "applications.yml"
			if o.doc == "users" {
				doc, name = c.users, "users.yml"
			}
			if o.mosaic != "" {
				validate(t, doc, name, o.method, o.mosaic, r)
			} else if o.schema != "" {
				validateSchema(t, doc, o.schema, r)
			}
			validate(t, c.latch, "openapi.yaml", o.method, o.latch, r)
		}
	}
}

// TestAdminTokenKinds: on every admin route an admin token gets past the middleware, a client
// token is a 403 and a user token a 401; on every login (client) route an admin token is a 403;
// on the users routes both client and admin tokens are accepted.
func TestAdminTokenKinds(t *testing.T) {
	ts := sqliteServer(t)
	admin, client := ts.AdminToken(t), ts.ClientToken(t)
	u := ts.createUser(t, client, map[string]any{"email": "kinds@example.com"})
	userTok, _ := ts.userLogin(t, u["user_id"].(string))
	reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	stubs := http.NewServeMux()
	for _, r := range ts.API.Routes() {
		stubs.Handle(r.Pattern, ts.API.Authenticate(r.Auth, reached))
	}
	srv := httptest.NewServer(stubs)
	defer srv.Close()
	stub := &testServer{Stack: &latchtest.Stack{}}
	*stub.Stack = *ts.Stack
	stub.URL, stub.Client = srv.URL, srv.Client()

	v := victim{"u1", "a@example.com", "+14155550100", "alice", ts.App.ID, ts.ClientID}
	seen := map[httpapi.AuthKind]int{}
	for _, rt := range protectedRoutes(v) {
		want := map[string]int{}
		switch rt.auth {
		case httpapi.AuthAdmin:
			want = map[string]int{"admin": 299, "client": 403, "user": 401}
		case httpapi.AuthClient:
			want = map[string]int{"admin": 403, "client": 299, "user": 401}
		case httpapi.AuthUsers:
			want = map[string]int{"admin": 299, "client": 299, "user": 401}
		case httpapi.AuthUser:
			want = map[string]int{"admin": 401, "client": 401, "user": 299}
		}
		seen[rt.auth]++
		for name, tok := range map[string]string{"admin": admin, "client": client, "user": userTok} {
			r := stub.Do(t, rt.method, rt.path, tok, rt.body)
			if r.Status != want[name] {
				t.Errorf("%s %s with a %s token: %d, want %d (%s)", rt.method, rt.path, name, r.Status, want[name], r.Body)
			}
			if r.Status == 403 && !strings.Contains(string(r.Body), `"error_code":"forbidden"`) {
				t.Errorf("%s %s with a %s token: 403 body %s, want error_code forbidden", rt.method, rt.path, name, r.Body)
			}
		}
	}
	if seen[httpapi.AuthAdmin] < 15 || seen[httpapi.AuthClient] < 10 || seen[httpapi.AuthUsers] < 15 {
		t.Fatalf("too few routes of each kind checked: %v", seen)
	}
}

// TestSecretRotation: after a rotation without grace the old secret is refused at once on the
// node that rotated it and within 30 s on another; with a grace period it works until the
// period ends, and never after.
func TestSecretRotation(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		b := &testServer{latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Clock: ts.Clock, Issuer: ts.URL})}
		admin := ts.AdminToken(t)
		grant := func(s *testServer, secret string) int {
			return s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.ClientID}, "client_secret": {secret}}, "", "").Status
		}
		rotate := func(grace int) string {
			r := ts.Do(t, "POST", "/cis/v1/applications/"+ts.App.ID+"/clients/"+ts.ClientID+"/secret", admin, map[string]any{"grace_period_seconds": grace})
			if r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Body)
			}
			return r.String("client_secret")
		}
		old := ts.ClientSecret
		if grant(ts, old) != 200 || grant(b, old) != 200 { // node B has the client cached now
			t.Fatal("the first secret does not work")
		}
		second := rotate(0)
		if second == "" || second == old {
			t.Fatalf("rotation answered secret %q", second)
		}
		if s := grant(ts, old); s != 401 {
			t.Errorf("old secret on the rotating node right after a rotation without grace: %d, want 401", s)
		}
		if s := grant(ts, second); s != 200 {
			t.Errorf("new secret: %d, want 200", s)
		}
		if s := grant(b, second); s != 200 {
			t.Errorf("new secret on node B: %d, want 200", s)
		}
		ts.Clock.Advance(31 * time.Second)
		if s := grant(b, old); s != 401 {
			t.Errorf("old secret on node B 31 s after the rotation: %d, want 401", s)
		}

		third := rotate(120)
		for _, s := range []*testServer{ts, b} {
			if st := grant(s, second); st != 200 {
				t.Errorf("previous secret within its grace period: %d, want 200", st)
			}
			if st := grant(s, third); st != 200 {
				t.Errorf("new secret: %d, want 200", st)
			}
			if st := grant(s, old); st != 401 {
				t.Errorf("a secret two rotations old: %d, want 401", st)
			}
		}
		got := ts.Do(t, "GET", "/cis/v1/applications/"+ts.App.ID+"/clients/"+ts.ClientID, admin, nil)
		if exp := got.String("secret_grace_expires_at"); exp == "" || got.String("client_secret") != "" {
			t.Errorf("client after a rotation with grace: %s, want secret_grace_expires_at and no secret", got.Body)
		}
		ts.Clock.Advance(121 * time.Second)
		for _, s := range []*testServer{ts, b} {
			if st := grant(s, second); st != 401 {
				t.Errorf("previous secret after its grace period: %d, want 401", st)
			}
			if st := grant(s, third); st != 200 {
				t.Errorf("new secret after the grace period: %d, want 200", st)
			}
		}
	})
}

// TestSettingChangeReachesEveryNode: a setting changed through node A applies on node A at once
// and on node B (same database, its own cache) within 30 s.
func TestSettingChangeReachesEveryNode(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		b := &testServer{latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Clock: ts.Clock, Issuer: ts.URL})}
		admin := ts.AdminToken(t)
		expiresIn := func(s *testServer) float64 {
			r := s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}, "", "")
			if r.Status != 200 {
				t.Fatalf("grant: %d %s", r.Status, r.Body)
			}
			return r.Object(t)["expires_in"].(float64)
		}
		if expiresIn(ts) != 3600 || expiresIn(b) != 3600 { // both nodes have the app cached now
			t.Fatal("default access token lifetime is not 3600")
		}
		tokB := b.ClientToken(t)
		if r := b.Do(t, "GET", "/cis/v1/users", tokB, nil); r.Status != 200 {
			t.Fatalf("users on B before the change: %d %s", r.Status, r.Body)
		}
		r := ts.Do(t, "PUT", "/cis/v1/applications/"+ts.App.ID, admin, map[string]any{"settings": map[string]any{"access_token_ttl_seconds": 600, "users": "none"}})
		if r.Status != 200 {
			t.Fatalf("update: %d %s", r.Status, r.Body)
		}
		if got := expiresIn(ts); got != 600 {
			t.Errorf("node A right after the change: expires_in %v, want 600", got)
		}
		ts.Clock.Advance(30 * time.Second)
		if got := expiresIn(b); got != 600 {
			t.Errorf("node B 30 s after the change: expires_in %v, want 600", got)
		}
		if r := b.Do(t, "GET", "/cis/v1/users", tokB, nil); r.Status != 403 {
			t.Errorf("users on B 30 s after users=none: %d %s, want 403", r.Status, r.Body)
		}
		if r := b.Do(t, "GET", "/cis/v1/users", admin, nil); r.Status != 200 {
			t.Errorf("an admin token on B with users=none: %d %s, want 200", r.Status, r.Body)
		}
	})
}

// TestDeleteAppRefusesItsTokens: deleting an application refuses its client tokens, its users'
// access tokens and refresh tokens at once on the deleting node and within 30 s on another.
func TestDeleteAppRefusesItsTokens(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		b := &testServer{latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Clock: ts.Clock, Issuer: ts.URL})}
		admin := ts.AdminToken(t)
		r := ts.Do(t, "POST", "/cis/v1/applications", admin, map[string]any{"app_name": "doomed"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		res := r.Object(t)["result"].(map[string]any)
		appID, cid, csec := res["app_id"].(string), res["client_id"].(string), res["client_secret"].(string)
		g := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {csec}}, "", "")
		clientTok := g.String("access_token")
		uid := ts.createUser(t, clientTok, map[string]any{"email": "doomed@example.com"})["user_id"].(string)
		a, err := ts.Apps.App(context.Background(), appID)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := ts.Sessions.Complete(context.Background(), session.Login{App: a, ClientID: cid, User: ts.storedUser(t, uid), Method: "eotp"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*testServer{ts, b} { // both nodes have the app and client cached
			if r := s.Do(t, "GET", "/cis/v1/users/count", clientTok, nil); r.Status != 200 {
				t.Fatalf("client token before the delete: %d %s", r.Status, r.Body)
			}
			if r := s.Do(t, "GET", "/cis/v1/users/me/totp/devices", tk.AccessToken, nil); r.Status != 200 {
				t.Fatalf("user token before the delete: %d %s", r.Status, r.Body)
			}
		}
		if r := ts.Do(t, "DELETE", "/cis/v1/applications/"+appID, admin, nil); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		refused := func(s *testServer, when string) {
			t.Helper()
			if r := s.Do(t, "GET", "/cis/v1/users/count", clientTok, nil); r.Status != 401 {
				t.Errorf("%s: client token: %d %s, want 401", when, r.Status, r.Body)
			}
			if r := s.Do(t, "GET", "/cis/v1/users/me/totp/devices", tk.AccessToken, nil); r.Status != 401 {
				t.Errorf("%s: user token: %d %s, want 401", when, r.Status, r.Body)
			}
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}, "client_id": {cid}, "client_secret": {csec}}
			if r := s.Form(t, "/oidc/token", f, "", ""); r.Status != 401 && r.Status != 400 {
				t.Errorf("%s: refresh: %d %s, want it refused", when, r.Status, r.Body)
			}
		}
		refused(ts, "deleting node, at once")
		// The user token's session is gone from the database: node B refuses it at once too.
		if r := b.Do(t, "GET", "/cis/v1/users/me/totp/devices", tk.AccessToken, nil); r.Status != 401 {
			t.Errorf("node B, at once: user token: %d, want 401", r.Status)
		}
		ts.Clock.Advance(30 * time.Second)
		refused(b, "node B after 30 s")
		if r := ts.Do(t, "GET", "/cis/v1/applications/"+appID, admin, nil); r.Status != 404 {
			t.Errorf("GET a deleted app: %d, want 404", r.Status)
		}
		if r := ts.Do(t, "GET", "/cis/v1/users/"+uid, admin, nil); r.Status != 200 {
			t.Errorf("the user belongs to the tenant and stays: %d", r.Status)
		}
	})
}

// TestAdminBadInput: bad input to the applications API is a 400 naming the field, and changes
// nothing.
func TestAdminBadInput(t *testing.T) {
	ts := sqliteServer(t)
	admin := ts.AdminToken(t)
	a := "/cis/v1/applications/" + ts.App.ID
	c := a + "/clients/" + ts.ClientID
	before := ts.Do(t, "GET", a, admin, nil)
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/cis/v1/applications", map[string]any{}, "app_name"},
		{"POST", "/cis/v1/applications", map[string]any{"app_name": 5}, "app_name"},
		{"POST", "/cis/v1/applications", map[string]any{"app_name": "x", "redirect_uris": []string{"not a url"}}, "redirect_uris"},
		{"POST", "/cis/v1/applications", map[string]any{"app_name": "x", "redirect_uris": "https://x"}, "redirect_uris"},
		{"POST", "/cis/v1/applications", map[string]any{"app_name": "x", "allow_public_signup": "yes"}, "allow_public_signup"},
		{"POST", "/cis/v1/applications", map[string]any{"app_name": "x", "settings": map[string]any{"otp_length": 3}}, "settings.otp_length"},
		{"PUT", a, map[string]any{"app_name": ""}, "app_name"},
		{"PUT", a, map[string]any{"app_name": strings.Repeat("n", 101)}, "app_name"},
		{"PUT", a, map[string]any{"settings": map[string]any{"no_such_setting": 1}}, "settings.no_such_setting"},
		{"PUT", a, map[string]any{"settings": map[string]any{"otp_length": "six"}}, "settings.otp_length"},
		{"PUT", a, map[string]any{"settings": map[string]any{"otp_length": 6.5}}, "settings.otp_length"},
		{"PUT", a, map[string]any{"settings": map[string]any{"otp_length": 11}}, "settings.otp_length"},
		{"PUT", a, map[string]any{"settings": map[string]any{"totp_digits": 7}}, "settings.totp_digits"},
		{"PUT", a, map[string]any{"settings": map[string]any{"totp_algorithm": "MD5"}}, "settings.totp_algorithm"},
		{"PUT", a, map[string]any{"settings": map[string]any{"users": "some"}}, "settings.users"},
		{"PUT", a, map[string]any{"settings": map[string]any{"require_mfa": "yes"}}, "settings.require_mfa"},
		{"PUT", a, map[string]any{"settings": map[string]any{"brand_primary_color": "red"}}, "settings.brand_primary_color"},
		{"PUT", a, map[string]any{"settings": []int{1}}, "settings"},
		{"PUT", a, map[string]any{"logo": "javascript:alert(1)"}, "logo"},
		{"PUT", a, map[string]any{"login_preferences": map[string]any{"auth_methods": map[string]any{"sms": map[string]any{"codeLength": 12}}}}, "login_preferences.auth_methods.sms.codeLength"},
		{"PUT", a, map[string]any{"login_preferences": map[string]any{"auth_methods": map[string]any{"email_otp": map[string]any{"expiresIn": "5"}}}}, "login_preferences.auth_methods.email_otp.expiresIn"},
		{"PUT", a, map[string]any{"login_preferences": map[string]any{"auth_methods": map[string]any{"totp": map[string]any{"algorithm": "md5"}}}}, "login_preferences.auth_methods.totp.algorithm"},
		{"PUT", a, map[string]any{"login_preferences": map[string]any{"auth_methods": map[string]any{"email": map[string]any{"message": map[string]any{"primaryColor": "blue"}}}}}, "login_preferences.auth_methods.email.message.primaryColor"},
		{"PUT", a + "/resources", map[string]any{}, "resource_ids"},
		{"PUT", a + "/resources", map[string]any{"resource_ids": []string{""}}, "resources"},
		{"POST", a + "/clients", map[string]any{"name": 1}, "name"},
		{"POST", a + "/clients", map[string]any{"redirect_uris": []string{"ftp://x"}}, "redirect_uris"},
		{"PUT", c, map[string]any{"description": strings.Repeat("d", 1001)}, "description"},
		{"POST", c + "/secret", map[string]any{"grace_period_seconds": -1}, "grace_period_seconds"},
		{"POST", c + "/secret", map[string]any{"grace_period_seconds": 31 * 24 * 3600}, "grace_period_seconds"},
		{"POST", c + "/secret", map[string]any{"grace_period_seconds": "60"}, "grace_period_seconds"},
		{"POST", "/cis/v1/applications/signing-keys", map[string]any{"name": 1}, "name"},
	} {
		t.Run(fmt.Sprintf("%s_%s_%s", tc.method, strings.ReplaceAll(strings.TrimPrefix(tc.path, "/cis/v1/"), "/", "_"), tc.field), func(t *testing.T) {
			assertInvalid(t, ts.Do(t, tc.method, tc.path, admin, tc.body), tc.field)
		})
	}
	after := ts.Do(t, "GET", a, admin, nil)
	if !bytes.Equal(before.Body, after.Body) {
		t.Errorf("refused requests changed the app:\nbefore %s\nafter  %s", before.Body, after.Body)
	}
	if s := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.ClientID}, "client_secret": {ts.ClientSecret}}, "", "").Status; s != 200 {
		t.Errorf("a refused rotation changed the secret: grant %d", s)
	}
	t.Run("name_taken_is_409", func(t *testing.T) {
		r := ts.Do(t, "POST", "/cis/v1/applications", admin, map[string]any{"app_name": ts.App.Name})
		if r.Status != 409 || r.String("ts_error_code") != "app_name_taken" {
			t.Fatalf("%d %s, want 409 app_name_taken", r.Status, r.Body)
		}
	})
	t.Run("unknown_ids_are_404", func(t *testing.T) {
		for _, p := range []string{"/cis/v1/applications/nope", "/cis/v1/applications/nope/clients", a + "/clients/nope"} {
			if r := ts.Do(t, "GET", p, admin, nil); r.Status != 404 {
				t.Errorf("GET %s: %d, want 404", p, r.Status)
			}
		}
		// a client of another application is not found under this one
		other := ts.Do(t, "POST", "/cis/v1/applications", admin, map[string]any{"app_name": "other"}).Object(t)["result"].(map[string]any)
		if r := ts.Do(t, "GET", "/cis/v1/applications/"+other["app_id"].(string)+"/clients/"+ts.ClientID, admin, nil); r.Status != 404 {
			t.Errorf("a client under another app: %d, want 404", r.Status)
		}
	})
}

// TestUsersPermission: an application's users setting limits its client tokens (none: no users
// route; read: no change) and never an admin token.
func TestUsersPermission(t *testing.T) {
	ts := sqliteServer(t)
	admin, client := ts.AdminToken(t), ts.ClientToken(t)
	uid := ts.createUser(t, client, map[string]any{"email": "perm@example.com"})["user_id"].(string)
	set := func(v string) {
		if r := ts.Do(t, "PUT", "/cis/v1/applications/"+ts.App.ID, admin, map[string]any{"settings": map[string]any{"users": v}}); r.Status != 200 {
			t.Fatalf("set users=%s: %d %s", v, r.Status, r.Body)
		}
	}
	read := func(tok string) int { return ts.Do(t, "GET", "/cis/v1/users/"+uid, tok, nil).Status }
	write := func(tok string) int {
		return ts.Do(t, "PUT", "/cis/v1/users/"+uid, tok, map[string]any{"language": "fr"}).Status
	}
	for _, tc := range []struct {
		setting     string
		read, write int
	}{{"none", 403, 403}, {"read", 200, 403}, {"full", 200, 200}} {
		set(tc.setting)
		if got := read(client); got != tc.read {
			t.Errorf("users=%s: client token read %d, want %d", tc.setting, got, tc.read)
		}
		if got := write(client); got != tc.write {
			t.Errorf("users=%s: client token write %d, want %d", tc.setting, got, tc.write)
		}
		if read(admin) != 200 || write(admin) != 200 {
			t.Errorf("users=%s: the admin token was refused", tc.setting)
		}
	}
}

// TestConcurrentSettingChangesAreAllKept: changes to different settings of one application made
// at the same moment are all kept (a change read before another is redone, never lost).
func TestConcurrentSettingChangesAreAllKept(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		admin := ts.AdminToken(t)
		changes := map[string]float64{"otp_length": 7, "lockout_minutes": 20, "send_limit": 6, "totp_period": 60, "send_hour_limit": 11}
		var reqs []*http.Request
		for name, v := range changes {
			body, _ := json.Marshal(map[string]any{"settings": map[string]any{name: v}})
			req, err := http.NewRequest("PUT", ts.URL+"/cis/v1/applications/"+ts.App.ID, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+admin)
			reqs = append(reqs, req)
		}
		for i, st := range latchtest.Concurrently(ts.Client, reqs) {
			if st != 200 {
				t.Errorf("change %d: %d, want 200", i, st)
			}
		}
		got := ts.Do(t, "GET", "/cis/v1/applications/"+ts.App.ID, admin, nil).Object(t)["result"].(map[string]any)["settings"].(map[string]any)
		for name, v := range changes {
			if got[name] != v {
				t.Errorf("%s = %v, want %v (a concurrent change was lost)", name, got[name], v)
			}
		}
	})
}
