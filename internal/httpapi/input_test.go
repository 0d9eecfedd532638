package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/store"
)

// jsonRoute is a route that reads a JSON body, with what it accepts and the fields it reads.
type jsonRoute struct {
	pattern string
	auth    httpapi.AuthKind // the token the requests carry
	method  string
	path    string
	valid   func() map[string]any // a fresh body the route accepts; nil: only the body-shape checks
	okCode  int
	fields  []fieldCase // one wrong-typed value per field the route reads
}

// bodyShapeOnly is a JSON route whose service is not wired in the test server: it gets the
// checks that the shared decoder answers before any service is called (malformed, non-object,
// oversize). Its field-level checks belong to the tests of its own area.
func bodyShapeOnly(auth httpapi.AuthKind, pattern, path string) jsonRoute {
	method, _, _ := strings.Cut(pattern, " ")
	return jsonRoute{pattern: pattern, auth: auth, method: method, path: path}
}

func bodyShapeOnlyPOST(auth httpapi.AuthKind, path string) jsonRoute {
	return bodyShapeOnly(auth, "POST "+path, path)
}

type fieldCase struct {
	field string         // the field the 400 must name
	patch map[string]any // merged into a valid body
}

// userInputWrongTypes covers every field of user.Input (create and update).
var userInputWrongTypes = []fieldCase{
	{"email", map[string]any{"email": 5, "phone_number": "+14155550999"}},
	{"phone_number", map[string]any{"phone_number": true}},
	{"username", map[string]any{"username": []int{1}}},
	{"status", map[string]any{"status": 1}},
	{"name", map[string]any{"name": "x"}},
	{"name.first_name", map[string]any{"name": map[string]any{"first_name": 5}}},
	{"name.last_name", map[string]any{"name": map[string]any{"last_name": false}}},
	{"birthday", map[string]any{"birthday": 19901231}},
	{"picture", map[string]any{"picture": map[string]any{}}},
	{"language", map[string]any{"language": false}},
	{"external_user_id", map[string]any{"external_user_id": 12}},
	{"external_account_id", map[string]any{"external_account_id": []string{"a"}}},
	{"custom_data", map[string]any{"custom_data": []int{1}}},
	{"custom_data", map[string]any{"custom_data": "x"}},
	{"custom_app_data", map[string]any{"custom_app_data": []int{1}}},
}

// userInputBadValues are well-typed values the user service must refuse, naming the field.
var userInputBadValues = []fieldCase{
	{"email", map[string]any{"email": "not-an-email"}},
	{"email", map[string]any{"email": "Someone <someone@example.com>"}},
	{"phone_number", map[string]any{"phone_number": "4155550100"}},
	{"phone_number", map[string]any{"phone_number": "+1 415 555 0100"}},
	{"username", map[string]any{"username": "has space"}},
	{"status", map[string]any{"status": "Deleted"}},
	{"birthday", map[string]any{"birthday": "31/12/1990"}},
	{"language", map[string]any{"language": strings.Repeat("x", 36)}},
	{"name.first_name", map[string]any{"name": map[string]any{"first_name": strings.Repeat("x", 101)}}},
}

func jsonRoutes(userID string) []jsonRoute {
	n := 0
	return []jsonRoute{
		{
			pattern: "POST /cis/v1/users", auth: httpapi.AuthClient, method: "POST", path: "/cis/v1/users", okCode: 201,
			valid: func() map[string]any {
				n++
				return map[string]any{"email": fmt.Sprintf("new%d@example.com", n)}
			},
			fields: userInputWrongTypes,
		},
		{
			pattern: "PUT /cis/v1/users/{user_id}", auth: httpapi.AuthClient, method: "PUT", path: "/cis/v1/users/" + userID, okCode: 200,
			valid:  func() map[string]any { return map[string]any{"language": "de"} },
			fields: userInputWrongTypes,
		},
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/send"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/link/email/send"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/link/email/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/links/email"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/email"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/email/validation"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/sms"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/otp/sms/validation"),
		bodyShapeOnlyPOST(httpapi.AuthNone, "/cis/v1/token"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/session/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/session/logout"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/token/refresh"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/users/me/totp"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/auth/totp/register"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/totp/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/totp/transaction/start"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/totp/transaction/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/users/me/totp/revoke"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/users/me/totp/recovery-codes"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/totp/recovery/authenticate"),
		bodyShapeOnly(httpapi.AuthClient, "POST /cis/v1/users/{userId}/totp/revoke", "/cis/v1/users/"+userID+"/totp/revoke"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/users/me/totp/devices"),
		bodyShapeOnly(httpapi.AuthUser, "POST /cis/v1/users/me/totp/devices/{authId}/activate", "/cis/v1/users/me/totp/devices/dev1/activate"),
		bodyShapeOnly(httpapi.AuthUsers, "POST /cis/v1/users/{user_id}/emails/{email}/verify", "/cis/v1/users/"+userID+"/emails/a@example.com/verify"),
		bodyShapeOnly(httpapi.AuthUsers, "POST /cis/v1/users/{user_id}/phone-numbers/{phone_number}/verify", "/cis/v1/users/"+userID+"/phone-numbers/+14155550100/verify"),
		// the applications API (its field-level checks: TestAdminBadInput); the decoder answers
		// before the application is looked up, so any id will do
		bodyShapeOnlyPOST(httpapi.AuthAdmin, "/cis/v1/applications"),
		bodyShapeOnly(httpapi.AuthAdmin, "PUT /cis/v1/applications/{appId}", "/cis/v1/applications/app1"),
		bodyShapeOnly(httpapi.AuthAdmin, "PUT /cis/v1/applications/{appId}/resources", "/cis/v1/applications/app1/resources"),
		bodyShapeOnly(httpapi.AuthAdmin, "POST /cis/v1/applications/{appId}/clients", "/cis/v1/applications/app1/clients"),
		bodyShapeOnly(httpapi.AuthAdmin, "PUT /cis/v1/applications/{appId}/clients/{clientId}", "/cis/v1/applications/app1/clients/c1"),
		bodyShapeOnly(httpapi.AuthAdmin, "PUT /cis/v1/applications/{appId}/clients/{clientId}/resources", "/cis/v1/applications/app1/clients/c1/resources"),
		bodyShapeOnly(httpapi.AuthAdmin, "POST /cis/v1/applications/{appId}/clients/{clientId}/secret", "/cis/v1/applications/app1/clients/c1/secret"),
		bodyShapeOnlyPOST(httpapi.AuthAdmin, "/cis/v1/applications/signing-keys"),
		// passwords (their field-level checks: internal/password's HTTP tests)
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/authenticate"),
		bodyShapeOnlyPOST(httpapi.AuthNone, "/cis/v1/auth/password/reset"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/validate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/register"),
		bodyShapeOnly(httpapi.AuthUsers, "POST /cis/v1/users/{user_id}/password", "/cis/v1/users/"+userID+"/password"),
		bodyShapeOnly(httpapi.AuthUsers, "PUT /cis/v1/users/{user_id}/password", "/cis/v1/users/"+userID+"/password"),
		bodyShapeOnlyPOST(httpapi.AuthUser, "/cis/v1/users/me/password-credentials"),
		// hosted passwords (their field-level checks: internal/hosted's password tests)
		bodyShapeOnlyPOST(httpapi.AuthNone, "/cis/v1/auth/password/login"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/email/link"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/link"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/email/otp"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/email/otp/validate"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/sms/otp"),
		bodyShapeOnlyPOST(httpapi.AuthClient, "/cis/v1/auth/password/reset/sms/otp/validate"),
		bodyShapeOnlyPOST(httpapi.AuthNone, "/cis/v1/auth/password/reset/password/validate"),
	}
}

// TestJSONRoutesCoverEveryBodyRoute keeps jsonRoutes complete: every POST and PUT of the route
// table reads a JSON body except the form-encoded OAuth endpoints.
func TestJSONRoutesCoverEveryBodyRoute(t *testing.T) {
	ts := sqliteServer(t)
	// The token endpoint reads a form; logout reads nothing but its Bearer token.
	// The not-implemented key-upload route reads nothing either.
	// UserInfo, revocation and introspection read forms too (oidc_test.go checks their input).
	formRoutes := map[string]bool{"POST /oidc/token": true, "POST /cis/v1/auth/logout": true,
		"POST /cis/oidc/me": true, "POST /oidc/me": true, "POST /oidc/token/revocation": true, "POST /cis/oidc/token/revocation": true,
		"POST /oidc/token/introspection": true, "POST /cis/oidc/token/introspection": true,
		"POST /cis/v1/applications/signing-keys/upload": true,
		// the OIDC provider's browser endpoints read forms
		"POST /cis/oidc/auth": true, "POST /oidc/auth": true, "POST /cis/oidc/login": true,
		"POST /cis/oidc/session/end": true, "POST /oidc/session/end": true}
	listed := map[string]bool{}
	for _, r := range jsonRoutes("u1") {
		listed[r.pattern] = true
	}
	var want []string
	for _, r := range ts.API.Routes() {
		method, _, _ := strings.Cut(r.Pattern, " ")
		if (method == "POST" || method == "PUT" || method == "PATCH") && !formRoutes[r.Pattern] {
			want = append(want, r.Pattern)
			if !listed[r.Pattern] {
				t.Errorf("route %q reads a body but is missing from jsonRoutes", r.Pattern)
			}
		}
	}
	for p := range listed {
		if !slices.Contains(want, p) {
			t.Errorf("jsonRoutes lists %q, which is not a body route of routes()", p)
		}
	}
}

func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// allUsers snapshots every stored user, to prove a refused request wrote nothing.
func allUsers(t *testing.T, ts *testServer) []store.User {
	t.Helper()
	us, err := ts.Store.ListUsers(context.Background(), store.UserQuery{Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// assertInvalid checks a 400 system_invalid_input whose message starts with "field:".
func assertInvalid(t *testing.T, r response, field string) {
	t.Helper()
	if r.Status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400 naming %q (body %s)", r.Status, field, r.Body)
	}
	assertContentTypeJSON(t, r)
	b := r.Object(t)
	if b["error_code"] != "system_invalid_input" {
		t.Errorf("error_code = %v, want system_invalid_input (body %s)", b["error_code"], r.Body)
	}
	if msg, _ := b["message"].(string); !strings.HasPrefix(msg, field+":") {
		t.Errorf("message = %q, want it to start with %q", msg, field+":")
	}
}

func TestJSONBodyInput(t *testing.T) {
	ts := sqliteServer(t) // dev mode: every route is served
	tok := ts.ClientToken(t)
	u := ts.createUser(t, tok, map[string]any{"email": "existing@example.com", "custom_data": map[string]any{"k": "v"}})
	userID := u["user_id"].(string)

	for _, rt := range jsonRoutes(userID) {
		t.Run(rt.method+"_"+strings.ReplaceAll(strings.TrimPrefix(rt.path, "/"), "/", "_"), func(t *testing.T) {
			tok := ts.tokenFor(t, rt.auth, userID)
			send := func(t *testing.T, body any) response {
				t.Helper()
				return ts.Do(t, rt.method, rt.path, tok, body)
			}
			refused := func(t *testing.T, name string, body any, check func(t *testing.T, r response)) {
				t.Run(name, func(t *testing.T) {
					before := allUsers(t, ts)
					r := send(t, body)
					check(t, r)
					if after := allUsers(t, ts); !reflect.DeepEqual(before, after) {
						t.Errorf("a refused request changed the stored users")
					}
				})
			}
			for _, tc := range []struct{ name, body string }{
				{"malformed_json", `{"email":`},
				{"trailing_garbage", `{"email":"a@example.com"} x`},
				{"two_objects", `{}{}`},
				{"json_array", `[{"email":"a@example.com"}]`},
				{"json_string", `"a@example.com"`},
				{"json_number", `5`},
				{"json_null", `null`},
				{"not_json", `email=a@example.com`},
			} {
				refused(t, tc.name, tc.body, func(t *testing.T, r response) { assertInvalid(t, r, "body") })
			}
			if rt.valid == nil {
				refused(t, "oversize_body", `{"pad":"`+strings.Repeat("a", httpapi.MaxBody)+`"}`, assertTooLarge)
				return
			}
			for _, fc := range rt.fields {
				refused(t, "wrong_type_"+fc.field, merge(rt.valid(), fc.patch), func(t *testing.T, r response) { assertInvalid(t, r, fc.field) })
			}
			for _, fc := range userInputBadValues {
				refused(t, "bad_value_"+fc.field, merge(rt.valid(), fc.patch), func(t *testing.T, r response) { assertInvalid(t, r, fc.field) })
			}
			pad := func(n int) map[string]any {
				return merge(rt.valid(), map[string]any{"custom_data": map[string]any{"pad": strings.Repeat("a", n)}})
			}
			refused(t, "oversize_body", pad(httpapi.MaxBody), assertTooLarge)
			t.Run("body_just_under_the_limit_is_accepted", func(t *testing.T) {
				if r := send(t, pad(httpapi.MaxBody-1024)); r.Status != rt.okCode {
					t.Fatalf("status %d, want %d (body %.200s)", r.Status, rt.okCode, r.Body)
				}
			})
			t.Run("unknown_fields_are_tolerated", func(t *testing.T) {
				body := merge(rt.valid(), map[string]any{"favourite_colour": "blue", "nested": map[string]any{"x": []int{1, 2}}, "email_verified": "yes"})
				r := send(t, body)
				if r.Status != rt.okCode {
					t.Fatalf("status %d, want %d (body %s)", r.Status, rt.okCode, r.Body)
				}
				res, _ := r.Object(t)["result"].(map[string]any)
				for _, k := range []string{"favourite_colour", "nested"} {
					if _, ok := res[k]; ok {
						t.Errorf("unknown field %q was stored and echoed: %s", k, r.Body)
					}
				}
			})
		})
	}
}

func assertTooLarge(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 (body %.200s)", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	b := r.Object(t)
	if b["error_code"] != "payload_too_large" {
		t.Errorf("error_code = %v, want payload_too_large", b["error_code"])
	}
	if msg, _ := b["message"].(string); !strings.HasPrefix(msg, "body:") {
		t.Errorf("message = %q, want it to start with body:", msg)
	}
}

func TestCreateUserRequiresEmailOrPhone(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	for name, body := range map[string]string{
		"empty_body":    ``,
		"empty_object":  `{}`,
		"empty_email":   `{"email":""}`,
		"only_username": `{"username":"solo"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.Do(t, http.MethodPost, "/cis/v1/users", tok, body)
			assertInvalid(t, r, "email")
			if n := ts.userCount(t); n != 0 {
				t.Fatalf("user count %d after a refused create", n)
			}
		})
	}
}

func TestUserQueryParams(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	ts.createUser(t, tok, map[string]any{"email": "q@example.com"})
	for _, tc := range []struct{ path, param string }{
		{"/cis/v1/users?page_limit=abc", "page_limit"},
		{"/cis/v1/users?page_limit=6000", "page_limit"},
		{"/cis/v1/users?page_limit=-1", "page_limit"},
		{"/cis/v1/users?page_limit=1.5", "page_limit"},
		{"/cis/v1/users?page_offset=x", "page_offset"},
		{"/cis/v1/users?page_offset=-5", "page_offset"},
		{"/cis/v1/users?sort_order=up", "sort_order"},
		{"/cis/v1/users?sort_field=name", "sort_field"},
		{"/cis/v1/users/count?page_limit=abc", "page_limit"},
		{"/cis/v1/users/identifier?identifier_name=shoe_size&identifier_value=42", "identifier_name"},
		{"/cis/v1/users/identifier?identifier_value=q@example.com", "identifier_name"},
		{"/cis/v1/users/identifier?identifier_name=email&identifier_value=not-an-email", "identifier_value"},
		{"/cis/v1/users/identifier?identifier_name=email", "identifier_value"},
		{"/cis/v1/users/identifier?identifier_name=phoneNumber&identifier_value=12345", "identifier_value"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			assertInvalid(t, ts.Do(t, http.MethodGet, tc.path, tok, nil), tc.param)
		})
	}
	t.Run("control_good_params_are_accepted", func(t *testing.T) {
		r := ts.Do(t, http.MethodGet, "/cis/v1/users?page_limit=5000&page_offset=0&sort_order=desc&sort_field=email", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

// TestUserPathParams: a malformed identifier in a lookup path is a 400 naming that path
// parameter (product.md: bad email or phone syntax is a 400 that says which field is wrong).
func TestUserPathParams(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	for _, tc := range []struct{ path, param string }{
		{"/cis/v1/users/email/not-an-email", "email"},
		{"/cis/v1/users/phone-number/4155550100", "phone_number"},
		{"/cis/v1/users/phone/+1-415-555", "phone_number"},
		{"/cis/v1/users/username/has%20space", "username"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			assertInvalid(t, ts.Do(t, http.MethodGet, tc.path, tok, nil), tc.param)
		})
	}
}

// TestEveryAPIPathAnswersJSON: unknown paths and methods under the API prefixes get a JSON
// error body, never the mux's text/plain.
func TestEveryAPIPathAnswersJSON(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/cis/"},
		{"GET", "/cis/v1/nothing-here"},
		{"POST", "/cis/v1/auth/unknown"},
		{"GET", "/cis/v2/users"},
		{"GET", "/oidc/"},
		{"GET", "/oidc/nothing-here"},
		{"GET", "/oidc/token"},
		{"GET", "/.well-known/"},
		{"GET", "/.well-known/jwks.json"},
		{"DELETE", "/cis/v1/users"},
		{"PATCH", "/cis/v1/users/abc"},
		{"POST", "/cis/oidc/jwks"},
	} {
		t.Run(tc.method+"_"+tc.path, func(t *testing.T) {
			r := ts.Do(t, tc.method, tc.path, tok, nil)
			if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 404 or 405 (body %s)", r.Status, r.Body)
			}
			assertContentTypeJSON(t, r)
			b := r.Object(t)
			if _, ok := b["error_code"]; !ok {
				t.Errorf("no error_code: %s", r.Body)
			}
			if _, ok := b["message"].(string); !ok {
				t.Errorf("no message: %s", r.Body)
			}
			if _, ok := b["status"]; ok {
				t.Errorf("top-level status field: %s", r.Body)
			}
		})
	}
}
