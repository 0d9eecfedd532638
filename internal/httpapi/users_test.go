package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store/storetest"
)

// usersAPI bundles a test server and a client token for the users tests.
type usersAPI struct {
	*testServer
	tok string
}

func newUsersAPI(t *testing.T, ts *testServer) usersAPI {
	return usersAPI{ts, ts.ClientToken(t)}
}

func (u usersAPI) call(t *testing.T, method, path string, body any) response {
	t.Helper()
	return u.Do(t, method, path, u.tok, body)
}

// result returns the "result" object of a 200/201 answer, failing on any other status.
func (u usersAPI) result(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (body %s)", r.Status, status, r.Body)
	}
	assertContentTypeJSON(t, r)
	res, ok := r.Object(t)["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result object: %s", r.Body)
	}
	return res
}

// path returns m[a][b]... for nested JSON objects.
func jsonPath(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func assertUserNotFound(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusNotFound {
		t.Fatalf("status %d, want 404 (body %s)", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	b := r.Object(t)
	if b["error_code"] != "user_not_found" {
		t.Errorf("error_code = %v, want user_not_found", b["error_code"])
	}
	if msg, _ := b["message"].(string); msg == "" {
		t.Errorf("no message: %s", r.Body)
	}
}

func TestUsersAPI(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, u usersAPI)
	}{
		{"create_returns_the_api_user", testCreateUser},
		{"create_refuses_taken_identifiers", testCreateConflicts},
		{"create_refuses_bad_identifiers", testCreateBadIdentifiers},
		{"get_by_every_identifier", testGetUser},
		{"unknown_users_are_404", testUnknownUsers},
		{"update_merges_given_fields", testUpdateUser},
		{"update_refuses_taken_and_bad_identifiers", testUpdateRefusals},
		{"list_searches_and_pages", testListUsers},
		{"count_counts_matches", testCountUsers},
		{"delete_then_404", testDeleteUser},
	}
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			for _, tc := range tests {
				// A fresh database per behaviour, so no behaviour sees another's users.
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, newUsersAPI(t, newTestServer(t, e.DSN(t)))) })
			}
		})
	}
}

func testCreateUser(t *testing.T, u usersAPI) {
	before := u.userCount(t)
	r := u.call(t, "POST", "/cis/v1/users", map[string]any{
		"email": "Alice.Smith@Example.COM", "phone_number": "+14155550100", "username": "alice",
		"name": map[string]any{"first_name": "Alice", "last_name": "Smith"}, "custom_data": map[string]any{"plan": "pro"},
		"birthday": "1990-12-31", "language": "en-GB", "external_user_id": "ext-1",
	})
	res := u.result(t, r, http.StatusCreated)
	id, _ := res["user_id"].(string)
	if id == "" {
		t.Fatalf("no user_id: %s", r.Body)
	}
	want := map[string]any{
		"email":            map[string]any{"value": "alice.smith@example.com", "email_verified": false},
		"phone_number":     map[string]any{"value": "+14155550100", "phone_number_verified": false},
		"username":         "alice",
		"status":           "Active",
		"name":             map[string]any{"first_name": "Alice", "last_name": "Smith"},
		"custom_data":      map[string]any{"plan": "pro"},
		"birthday":         "1990-12-31",
		"language":         "en-GB",
		"external_user_id": "ext-1",
		"created_at":       float64(u.Clock.Now().UnixMilli()),
		"updated_at":       float64(u.Clock.Now().UnixMilli()),
	}
	for k, v := range want {
		if !jsonEqual(res[k], v) {
			t.Errorf("result.%s = %#v, want %#v", k, res[k], v)
		}
	}
	if _, ok := res["status"]; !ok {
		t.Error("no status")
	}
	if n := u.userCount(t); n != before+1 {
		t.Errorf("user count %d → %d, want one more", before, n)
	}
	stored := u.storedUser(t, id)
	if stored.Email != "alice.smith@example.com" || stored.Phone != "+14155550100" || stored.Username != "alice" {
		t.Errorf("stored user = %+v", stored)
	}
	// The body has no top-level status field (the samples would read it as an HTTP status).
	if _, ok := r.Object(t)["status"]; ok {
		t.Errorf("top-level status in %s", r.Body)
	}

	t.Run("phone_only", func(t *testing.T) {
		res := u.result(t, u.call(t, "POST", "/cis/v1/users", map[string]any{"phone_number": "+447700900123"}), http.StatusCreated)
		if _, ok := res["email"]; ok {
			t.Errorf("a phone-only user has an email: %v", res)
		}
		if jsonPath(res, "phone_number", "value") != "+447700900123" {
			t.Errorf("phone = %v", res["phone_number"])
		}
	})
}

func assertConflict(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusConflict {
		t.Fatalf("status %d, want 409 (body %s)", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	b := r.Object(t)
	if len(b) != 3 {
		t.Errorf("409 body %s, want exactly {message, error_code, ts_error_code}", r.Body)
	}
	if b["error_code"] != float64(409) {
		t.Errorf("error_code = %#v, want the number 409", b["error_code"])
	}
	if s, _ := b["message"].(string); s == "" {
		t.Errorf("message missing: %s", r.Body)
	}
	if s, _ := b["ts_error_code"].(string); s == "" {
		t.Errorf("ts_error_code missing: %s", r.Body)
	}
}

func testCreateConflicts(t *testing.T, u usersAPI) {
	u.createUser(t, u.tok, map[string]any{"email": "taken@example.com", "phone_number": "+14155550111", "username": "taken"})
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"same_email", map[string]any{"email": "taken@example.com"}},
		{"same_email_other_case", map[string]any{"email": "TAKEN@Example.com"}},
		{"same_phone", map[string]any{"phone_number": "+14155550111"}},
		{"same_username", map[string]any{"email": "other@example.com", "username": "taken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := u.userCount(t)
			assertConflict(t, u.call(t, "POST", "/cis/v1/users", tc.body))
			if n := u.userCount(t); n != before {
				t.Errorf("user count %d → %d after a 409", before, n)
			}
		})
	}
}

func testCreateBadIdentifiers(t *testing.T, u usersAPI) {
	for _, tc := range []struct {
		name, field string
		body        map[string]any
	}{
		{"email_without_at", "email", map[string]any{"email": "alice.example.com"}},
		{"email_without_domain_dot", "email", map[string]any{"email": "alice@localhost"}},
		{"email_with_display_name", "email", map[string]any{"email": "Alice <alice@example.com>"}},
		{"phone_without_plus", "phone_number", map[string]any{"phone_number": "14155550100"}},
		{"phone_with_spaces", "phone_number", map[string]any{"phone_number": "+1 415 555 0100"}},
		{"phone_too_short", "phone_number", map[string]any{"phone_number": "+1234567"}},
		{"phone_too_long", "phone_number", map[string]any{"phone_number": "+1234567890123456"}},
		{"phone_leading_zero", "phone_number", map[string]any{"phone_number": "+0415555010"}},
		{"neither_email_nor_phone", "email", map[string]any{"username": "lonely"}},
		{"bad_status", "status", map[string]any{"email": "s@example.com", "status": "active"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertInvalid(t, u.call(t, "POST", "/cis/v1/users", tc.body), tc.field)
			if n := u.userCount(t); n != 0 {
				t.Fatalf("user count %d after refused creates", n)
			}
		})
	}
}

func testGetUser(t *testing.T, u usersAPI) {
	created := u.createUser(t, u.tok, map[string]any{"email": "bob@example.com", "phone_number": "+14155550122", "username": "Bob.B"})
	other := u.createUser(t, u.tok, map[string]any{"email": "carol@example.com"})
	id := created["user_id"].(string)
	for _, p := range []string{
		"/cis/v1/users/" + id,
		"/cis/v1/users/email/bob@example.com",
		"/cis/v1/users/email/BOB@Example.com",
		"/cis/v1/users/email/" + url.PathEscape("bob@example.com"),
		"/cis/v1/users/phone-number/+14155550122",
		"/cis/v1/users/phone-number/%2B14155550122",
		"/cis/v1/users/phone/+14155550122",
		"/cis/v1/users/username/Bob.B",
		"/cis/v1/users/identifier?identifier_name=email&identifier_value=Bob%40Example.com",
		"/cis/v1/users/identifier?identifier_name=phoneNumber&identifier_value=%2B14155550122",
		"/cis/v1/users/identifier?identifier_name=phone_number&identifier_value=%2B14155550122",
		"/cis/v1/users/identifier?identifier_name=username&identifier_value=Bob.B",
		"/cis/v1/users/identifier?identifier_name=user_id&identifier_value=" + id,
		"/cis/v1/users/identifier?identifier_name=userId&identifier_value=" + id,
	} {
		t.Run(p, func(t *testing.T) {
			res := u.result(t, u.call(t, "GET", p, nil), http.StatusOK)
			if res["user_id"] != id {
				t.Fatalf("user_id = %v, want %s (the other user is %v)", res["user_id"], id, other["user_id"])
			}
			if !jsonEqual(res, created) {
				t.Errorf("GET result differs from the create result:\n got  %v\n want %v", res, created)
			}
		})
	}
}

func testUnknownUsers(t *testing.T, u usersAPI) {
	u.createUser(t, u.tok, map[string]any{"email": "dave@example.com", "phone_number": "+14155550133", "username": "dave"})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/cis/v1/users/no-such-user"},
		{"GET", "/cis/v1/users/email/nobody@example.com"},
		{"GET", "/cis/v1/users/phone-number/+14155550199"},
		{"GET", "/cis/v1/users/phone/+14155550199"},
		{"GET", "/cis/v1/users/username/nobody"},
		{"GET", "/cis/v1/users/identifier?identifier_name=email&identifier_value=nobody%40example.com"},
		{"PUT", "/cis/v1/users/no-such-user"},
		{"DELETE", "/cis/v1/manage/users/no-such-user"},
	} {
		t.Run(tc.method+"_"+tc.path, func(t *testing.T) {
			var body any
			if tc.method == "PUT" {
				body = map[string]any{"language": "fr"}
			}
			assertUserNotFound(t, u.call(t, tc.method, tc.path, body))
		})
	}
	if n := u.userCount(t); n != 1 {
		t.Errorf("user count %d, want 1", n)
	}
}

func testUpdateUser(t *testing.T, u usersAPI) {
	created := u.createUser(t, u.tok, map[string]any{
		"email": "erin@example.com", "phone_number": "+14155550144", "username": "erin", "language": "en",
		"name":        map[string]any{"first_name": "Erin", "last_name": "Old"},
		"custom_data": map[string]any{"a": 1, "nested": map[string]any{"x": 1}},
	})
	id := created["user_id"].(string)
	p := "/cis/v1/users/" + id
	createdAt := created["created_at"]

	u.Clock.Advance(time.Minute)
	res := u.result(t, u.call(t, "PUT", p, map[string]any{"language": "fr", "custom_data": map[string]any{"b": 2, "nested": map[string]any{"y": 2}}}), http.StatusOK)
	t.Run("only_given_fields_change", func(t *testing.T) {
		for _, k := range []string{"email", "phone_number", "username", "status", "name", "status_changed_at", "created_at"} {
			if !jsonEqual(res[k], created[k]) {
				t.Errorf("%s changed: %v → %v", k, created[k], res[k])
			}
		}
		if res["language"] != "fr" {
			t.Errorf("language = %v, want fr", res["language"])
		}
		if res["created_at"] != createdAt {
			t.Errorf("created_at changed")
		}
		if res["updated_at"] != float64(u.Clock.Now().UnixMilli()) {
			t.Errorf("updated_at = %v, want %d", res["updated_at"], u.Clock.Now().UnixMilli())
		}
	})
	t.Run("custom_data_is_shallow_merged", func(t *testing.T) {
		want := map[string]any{"a": 1, "b": 2, "nested": map[string]any{"y": 2}}
		if !jsonEqual(res["custom_data"], want) {
			t.Errorf("custom_data = %v, want %v", res["custom_data"], want)
		}
	})
	t.Run("update_is_persisted", func(t *testing.T) {
		got := u.result(t, u.call(t, "GET", p, nil), http.StatusOK)
		if !jsonEqual(got, res) {
			t.Errorf("GET after PUT:\n got  %v\n want %v", got, res)
		}
	})
	t.Run("empty_body_changes_nothing_but_updated_at", func(t *testing.T) {
		got := u.result(t, u.call(t, "PUT", p, map[string]any{}), http.StatusOK)
		for _, k := range []string{"email", "phone_number", "username", "status", "name", "custom_data", "language"} {
			if !jsonEqual(got[k], res[k]) {
				t.Errorf("%s changed: %v → %v", k, res[k], got[k])
			}
		}
	})
	t.Run("status_change", func(t *testing.T) {
		u.Clock.Advance(time.Minute)
		got := u.result(t, u.call(t, "PUT", p, map[string]any{"status": "Disabled"}), http.StatusOK)
		if got["status"] != "Disabled" {
			t.Errorf("status = %v", got["status"])
		}
		wantChanged := u.Clock.Now().UTC().Format(time.RFC3339)
		if got["status_changed_at"] != wantChanged {
			t.Errorf("status_changed_at = %v, want %s", got["status_changed_at"], wantChanged)
		}
		if u.storedUser(t, id).Status != "Disabled" {
			t.Errorf("stored status not Disabled")
		}
	})
	t.Run("email_change_is_normalized_and_reindexed", func(t *testing.T) {
		got := u.result(t, u.call(t, "PUT", p, map[string]any{"email": "Erin.New@Example.com"}), http.StatusOK)
		if !jsonEqual(got["email"], map[string]any{"value": "erin.new@example.com", "email_verified": false}) {
			t.Errorf("email = %v", got["email"])
		}
		assertUserNotFound(t, u.call(t, "GET", "/cis/v1/users/email/erin@example.com", nil))
		if r := u.result(t, u.call(t, "GET", "/cis/v1/users/email/erin.new@example.com", nil), http.StatusOK); r["user_id"] != id {
			t.Errorf("new email finds %v", r["user_id"])
		}
	})
	t.Run("name_is_replaced", func(t *testing.T) {
		got := u.result(t, u.call(t, "PUT", p, map[string]any{"name": map[string]any{"first_name": "E"}}), http.StatusOK)
		if !jsonEqual(got["name"], map[string]any{"first_name": "E"}) {
			t.Errorf("name = %v", got["name"])
		}
	})
	t.Run("phone_can_be_removed_while_email_remains", func(t *testing.T) {
		got := u.result(t, u.call(t, "PUT", p, map[string]any{"phone_number": ""}), http.StatusOK)
		if _, ok := got["phone_number"]; ok {
			t.Errorf("phone_number still present: %v", got["phone_number"])
		}
		assertUserNotFound(t, u.call(t, "GET", "/cis/v1/users/phone-number/+14155550144", nil))
	})
}

func testUpdateRefusals(t *testing.T, u usersAPI) {
	a := u.createUser(t, u.tok, map[string]any{"email": "frank@example.com", "phone_number": "+14155550155", "username": "frank"})
	u.createUser(t, u.tok, map[string]any{"email": "grace@example.com", "phone_number": "+14155550166", "username": "grace"})
	id := a["user_id"].(string)
	before := u.storedUser(t, id)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		check func(t *testing.T, r response)
	}{
		{"taken_email", map[string]any{"email": "GRACE@example.com"}, assertConflict},
		{"taken_phone", map[string]any{"phone_number": "+14155550166"}, assertConflict},
		{"taken_username", map[string]any{"username": "grace"}, assertConflict},
		{"bad_email", map[string]any{"email": "nope"}, func(t *testing.T, r response) { assertInvalid(t, r, "email") }},
		{"bad_phone", map[string]any{"phone_number": "555-0100"}, func(t *testing.T, r response) { assertInvalid(t, r, "phone_number") }},
		{"bad_status", map[string]any{"status": "Gone"}, func(t *testing.T, r response) { assertInvalid(t, r, "status") }},
		{"removing_both_identifiers", map[string]any{"email": "", "phone_number": ""}, func(t *testing.T, r response) { assertInvalid(t, r, "email") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u.Clock.Advance(time.Second)
			tc.check(t, u.call(t, "PUT", "/cis/v1/users/"+id, merge(map[string]any{"language": "xx"}, tc.body)))
			if after := u.storedUser(t, id); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("refused update changed the user:\n before %+v\n after  %+v", before, after)
			}
		})
	}
}

// listed is a decoded GET /cis/v1/users answer.
type listed struct {
	emails  []string
	total   float64
	hasNext bool
	hasPrev bool
}

func (u usersAPI) list(t *testing.T, query string) listed {
	t.Helper()
	r := u.call(t, "GET", "/cis/v1/users"+query, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list %s: %d %s", query, r.Status, r.Body)
	}
	b := r.Object(t)
	var out listed
	res, ok := b["result"].([]any)
	if !ok {
		t.Fatalf("list %s: result is not an array: %s", query, r.Body)
	}
	for _, x := range res {
		e, _ := jsonPath(x.(map[string]any), "email", "value").(string)
		out.emails = append(out.emails, e)
	}
	var okT, okN, okP bool
	out.total, okT = b["total_count"].(float64)
	out.hasNext, okN = jsonPath(b, "page_info", "has_next_page").(bool)
	out.hasPrev, okP = jsonPath(b, "page_info", "has_previous_page").(bool)
	if !okT || !okN || !okP {
		t.Fatalf("list %s: total_count or page_info missing: %s", query, r.Body)
	}
	return out
}

func testListUsers(t *testing.T, u usersAPI) {
	if got := u.list(t, ""); len(got.emails) != 0 || got.total != 0 || got.hasNext || got.hasPrev {
		t.Fatalf("empty list = %+v", got)
	}
	people := []struct{ email, phone, username string }{
		{"anna@example.com", "+14155550001", "anna"},
		{"ben@example.org", "+14155550002", "benji"},
		{"cara@example.com", "+442070000003", "cara_c"},
		{"dan@sample.net", "+14155550004", "dan"},
		{"eve@example.com", "+33100000005", "eve"},
	}
	for _, p := range people { // created a second apart: created_at order is creation order
		u.Clock.Advance(time.Second)
		u.createUser(t, u.tok, map[string]any{"email": p.email, "phone_number": p.phone, "username": p.username})
	}
	all := []string{"anna@example.com", "ben@example.org", "cara@example.com", "dan@sample.net", "eve@example.com"}
	for _, tc := range []struct {
		name, query      string
		want             []string
		total            int
		hasNext, hasPrev bool
	}{
		{"all_oldest_first", "", all, 5, false, false},
		{"desc", "?sort_order=desc", []string{all[4], all[3], all[2], all[1], all[0]}, 5, false, false},
		{"by_email", "?sort_field=email&sort_order=desc", []string{"eve@example.com", "dan@sample.net", "cara@example.com", "ben@example.org", "anna@example.com"}, 5, false, false},
		{"first_page", "?page_limit=2", all[:2], 5, true, false},
		{"middle_page", "?page_limit=2&page_offset=2", all[2:4], 5, true, true},
		{"last_page", "?page_limit=2&page_offset=4", all[4:], 5, false, true},
		{"last_page_exactly_full", "?page_limit=2&page_offset=3", all[3:], 5, false, true},
		{"one_page_exactly_full", "?page_limit=5", all, 5, false, false},
		{"past_the_end", "?page_offset=10", nil, 5, false, true},
		{"search_substring_case_insensitive", "?search=EXAMPLE.COM", []string{all[0], all[2], all[4]}, 3, false, false},
		{"search_username", "?search=benj", []string{all[1]}, 1, false, false},
		{"search_phone", "?search=" + url.QueryEscape("+4420"), []string{all[2]}, 1, false, false},
		{"search_paged", "?search=example.com&page_limit=1&page_offset=1", []string{all[2]}, 3, true, true},
		{"search_like_wildcards_are_literal", "?search=%25", nil, 0, false, false},
		{"search_underscore_is_literal", "?search=_c", []string{all[2]}, 1, false, false},
		{"prefix_email", "?search_prefix=da", []string{all[3]}, 1, false, false},
		{"prefix_phone", "?search_prefix=" + url.QueryEscape("+1415"), []string{all[0], all[1], all[3]}, 3, false, false},
		{"prefix_is_not_substring", "?search_prefix=example", nil, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := u.list(t, tc.query)
			if strings.Join(got.emails, ",") != strings.Join(tc.want, ",") {
				t.Errorf("emails = %v, want %v", got.emails, tc.want)
			}
			if got.total != float64(tc.total) || got.hasNext != tc.hasNext || got.hasPrev != tc.hasPrev {
				t.Errorf("total %v next %v prev %v, want %d %v %v", got.total, got.hasNext, got.hasPrev, tc.total, tc.hasNext, tc.hasPrev)
			}
		})
	}
	t.Run("search_by_user_id", func(t *testing.T) {
		id := u.createUser(t, u.tok, map[string]any{"email": "zed@example.net"})["user_id"].(string)
		if got := u.list(t, "?search="+url.QueryEscape(id)); len(got.emails) != 1 || got.emails[0] != "zed@example.net" {
			t.Errorf("search by id = %v", got.emails)
		}
	})
}

func testCountUsers(t *testing.T, u usersAPI) {
	count := func(t *testing.T, query string) response {
		return u.call(t, "GET", "/cis/v1/users/count"+query, nil)
	}
	assertJSONBody(t, count(t, ""), `{"result":{"user_count":0}}`)
	for i, e := range []string{"h1@example.com", "h2@example.com", "h3@example.org"} {
		u.createUser(t, u.tok, map[string]any{"email": e, "phone_number": fmt.Sprintf("+1415555020%d", i)})
	}
	r := count(t, "")
	assertContentTypeJSON(t, r)
	assertJSONBody(t, r, `{"result":{"user_count":3}}`)
	assertJSONBody(t, count(t, "?search=example.org"), `{"result":{"user_count":1}}`)
	assertJSONBody(t, count(t, "?search_prefix=h"), `{"result":{"user_count":3}}`)
	assertJSONBody(t, count(t, "?search=nomatch"), `{"result":{"user_count":0}}`)
}

func testDeleteUser(t *testing.T, u usersAPI) {
	a := u.createUser(t, u.tok, map[string]any{"email": "ivan@example.com", "phone_number": "+14155550177", "username": "ivan"})
	keep := u.createUser(t, u.tok, map[string]any{"email": "judy@example.com"})
	id := a["user_id"].(string)
	r := u.call(t, "DELETE", "/cis/v1/manage/users/"+id, nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %q, want 204 with no body", r.Status, r.Body)
	}
	assertUserNotFound(t, u.call(t, "GET", "/cis/v1/users/"+id, nil))
	assertUserNotFound(t, u.call(t, "GET", "/cis/v1/users/email/ivan@example.com", nil))
	assertUserNotFound(t, u.call(t, "DELETE", "/cis/v1/manage/users/"+id, nil))
	if n := u.userCount(t); n != 1 {
		t.Errorf("user count %d, want 1", n)
	}
	if got := u.result(t, u.call(t, "GET", "/cis/v1/users/"+keep["user_id"].(string), nil), http.StatusOK); got["user_id"] != keep["user_id"] {
		t.Errorf("the other user is gone")
	}
	// The identifiers are free again.
	again := u.createUser(t, u.tok, map[string]any{"email": "ivan@example.com", "phone_number": "+14155550177", "username": "ivan"})
	if again["user_id"] == id {
		t.Errorf("a re-created user reused the deleted id")
	}
}
