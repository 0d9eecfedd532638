package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// response is a finished HTTP exchange with its body read.
type response = latchtest.Response

// testServer is a whole Latch node — node.New's assembly, as `latch serve` runs it, in dev mode
// so every route of the table is served — behind an httptest server, with a clock the test
// controls (latchtest), and the helpers the HTTP tests share.
type testServer struct{ *latchtest.Stack }

// newTestServer starts a node on dsn (a fresh database from storetest.Engine.DSN).
func newTestServer(t testing.TB, dsn string) *testServer {
	t.Helper()
	return &testServer{latchtest.Start(t, dsn, latchtest.Options{})}
}

// eachEngine runs fn once per store engine with a fresh test server (PostgreSQL skips without
// LATCH_TEST_POSTGRES).
func eachEngine(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, newTestServer(t, e.DSN(t))) })
	}
}

// sqliteServer is a test server on a fresh SQLite database, for tests that exercise HTTP
// rather than storage.
func sqliteServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServer(t, storetest.Engines()[0].DSN(t))
}

// userLogin logs a stored user in to the default application (as an email code would) and
// returns the user access token and its live session's id.
func (ts *testServer) userLogin(t testing.TB, userID string) (tok, sessionID string) {
	t.Helper()
	c, a := ts.defaultClient(t)
	tk, err := ts.Sessions.Complete(context.Background(), session.Login{App: a, ClientID: c.ClientID, User: ts.storedUser(t, userID), Method: "eotp"})
	if err != nil {
		t.Fatalf("login %s: %v", userID, err)
	}
	return tk.AccessToken, tk.SessionID
}

// tokenFor returns a valid token of kind (client or user; "" for none).
func (ts *testServer) tokenFor(t testing.TB, kind httpapi.AuthKind, userID string) string {
	t.Helper()
	switch kind {
	case httpapi.AuthClient, httpapi.AuthUsers:
		return ts.ClientToken(t)
	case httpapi.AuthAdmin:
		return ts.AdminToken(t)
	case httpapi.AuthUser:
		tok, _ := ts.userLogin(t, userID)
		return tok
	}
	return ""
}

// postForm posts form to path; the client credentials, when given, go in an HTTP Basic header
// as they are (not encoded), so the test controls their encoding.
func (ts *testServer) postForm(t testing.TB, path string, form url.Values, basicID, basicSecret string) response {
	t.Helper()
	headers := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if basicID != "" || basicSecret != "" {
		headers = append(headers, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basicID+":"+basicSecret)))
	}
	return ts.Do(t, http.MethodPost, path, "", form.Encode(), headers...)
}

// defaultClient returns the default client and its app as the services see them, for minting
// tokens of unusual shapes with token.Signer.
func (ts *testServer) defaultClient(t testing.TB) (store.Client, app.App) {
	t.Helper()
	c, a, err := ts.Apps.Authenticate(context.Background(), ts.ClientID, ts.ClientSecret)
	if err != nil {
		t.Fatalf("Authenticate default client: %v", err)
	}
	return c, a
}

// userCount counts every user in the store.
func (ts *testServer) userCount(t testing.TB) int {
	t.Helper()
	n, err := ts.Store.CountUsers(context.Background(), store.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// createUser creates a user through the API and returns its ApiUser.
func (ts *testServer) createUser(t testing.TB, tok string, body map[string]any) map[string]any {
	t.Helper()
	r := ts.Do(t, http.MethodPost, "/cis/v1/users", tok, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create user %v: %d %s", body, r.Status, r.Body)
	}
	res, ok := r.Object(t)["result"].(map[string]any)
	if !ok {
		t.Fatalf("create user: no result object: %s", r.Body)
	}
	return res
}

// storedUser reads a user straight from the store.
func (ts *testServer) storedUser(t testing.TB, id string) store.User {
	t.Helper()
	u, err := ts.Store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatalf("GetUser %s: %v", id, err)
	}
	return u
}

// assertJSONBody fails unless the body is exactly the JSON value want (compared as JSON).
func assertJSONBody(t testing.TB, r response, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("body is not JSON (status %d): %q", r.Status, r.Body)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expected JSON %q: %v", want, err)
	}
	if !jsonEqual(got, exp) {
		t.Fatalf("body = %s, want %s", bytes.TrimSpace(r.Body), want)
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb) // encoding/json sorts map keys, so equal values marshal equally
}

// assertContentTypeJSON fails unless the response is labelled application/json.
func assertContentTypeJSON(t testing.TB, r response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json (status %d, body %q)", ct, r.Status, r.Body)
	}
}
