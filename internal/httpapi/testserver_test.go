package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// testEpoch is where every test server's clock starts: a fixed instant, so tokens, expiry and
// key retention are exact.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keyRetention is the retired-key retention serve.go uses.
const keyRetention = time.Duration(app.MaxTokenTTLSeconds) * time.Second

// testServer is the real Latch stack (store, key ring, services, handlers) behind an
// httptest server, wired the way cmd/latch/serve.go wires it, with a clock the test controls.
type testServer struct {
	URL          string // base URL
	Issuer       string // the token issuer: the base URL of the server newTestServer started
	ClientID     string // the default application's first client
	ClientSecret string
	AppID        string
	TenantID     string
	Clock        *clock.Fixed
	Store        *sqlstore.DB
	Box          *secret.Box
	Keys         *token.KeyRing
	Signer       *token.Signer
	Apps         *app.Service
	API          *Server
	HTTP         *httptest.Server
	Client       *http.Client
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestServer builds the real stack on dsn (a fresh database from storetest.Engine.DSN).
func newTestServer(t testing.TB, dsn string) *testServer {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	key := make([]byte, secret.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(testEpoch)
	log := quietLogger()
	keys := token.NewKeyRing(db, box, clk, keyRetention, log)
	if err := keys.EnsureKey(ctx); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}

	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	apps := app.NewService(db, box, clk)
	tenantID, def, creds, err := apps.Bootstrap(ctx, issuer+"/demo/callback")
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if creds == nil {
		t.Fatal("Bootstrap on an empty database returned no credentials")
	}
	signer := &token.Signer{Ring: keys, Issuer: issuer, Clock: clk}
	api := &Server{
		Log:     log,
		Metrics: metrics.New(),
		Store:   db,
		Apps:    apps,
		Users:   user.NewService(db, clk, apps.TenantID),
		Tokens:  signer,
		Keys:    keys,
		Issuer:  issuer,
	}
	hs.Config.Handler = api.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &testServer{
		URL: issuer, Issuer: issuer, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, AppID: def.ID, TenantID: tenantID,
		Clock: clk, Store: db, Box: box, Keys: keys, Signer: signer, Apps: apps, API: api, HTTP: hs, Client: hs.Client(),
	}
}

// withEveryRoute returns a copy of s in which every service left unwired is a zero value (and
// every switch such as Dev is on), so that routes() lists every route, the conditional ones
// included. Requests refused by the bearer middleware or by the JSON decoder never reach those
// zero services. Sessions stays as it is: the middleware calls it for user tokens, and nil means
// "signature and expiry only".
func withEveryRoute(s *Server) *Server {
	cp := &Server{}
	reflect.ValueOf(cp).Elem().Set(reflect.ValueOf(s).Elem())
	v := reflect.ValueOf(cp).Elem()
	handler := reflect.TypeOf(http.NotFoundHandler())
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if !f.CanSet() || name == "Sessions" {
			continue
		}
		switch f.Kind() {
		case reflect.Pointer:
			if f.IsNil() {
				f.Set(reflect.New(f.Type().Elem()))
			}
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Interface:
			if f.IsNil() && handler.Implements(f.Type()) {
				f.Set(reflect.ValueOf(http.NotFoundHandler()))
			}
		}
	}
	return cp
}

// everyRoute serves withEveryRoute(ts.API) on a server of its own and returns a testServer
// talking to it. It shares ts's store, keys, clock and client credentials, and its tokens'
// issuer stays ts.URL.
func (ts *testServer) everyRoute(t testing.TB) *testServer {
	t.Helper()
	full := withEveryRoute(ts.API)
	hs := httptest.NewServer(full.Handler())
	t.Cleanup(hs.Close)
	cp := *ts
	cp.URL, cp.API, cp.HTTP, cp.Client = hs.URL, full, hs, hs.Client()
	return &cp
}

// userToken mints a user access token (the kind a login returns) for userID, signed by the
// server's key: sub is the user, sid a session id.
func (ts *testServer) userToken(t testing.TB, userID string) string {
	t.Helper()
	c, a := ts.defaultClient(t)
	now := ts.Clock.Now()
	tok, err := ts.Signer.Sign(map[string]any{
		"iss": ts.Issuer, "sub": userID, "aud": token.APIAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": secret.NewID(), "tid": a.TenantID, "client_id": c.ClientID, "app_id": a.ID, "app_name": a.Name,
		"sid": "session-" + userID, "auth_time": now.Unix(), "amr": []string{"otp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenFor returns a valid token of kind (client or user; "" for none).
func (ts *testServer) tokenFor(t testing.TB, kind authKind, userID string) string {
	t.Helper()
	switch kind {
	case authClient, authAdmin:
		return ts.clientToken(t)
	case authUser:
		return ts.userToken(t, userID)
	}
	return ""
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

// response is a finished HTTP exchange with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value, failing the test when it is not JSON.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %v: %q", r.Status, err, r.Body)
	}
	return v
}

func (r response) String() string { return string(r.Body) }

// do sends a request; body is sent as-is when it is a string or []byte, otherwise JSON-encoded.
// Header pairs are name, value, ...
func (ts *testServer) do(t testing.TB, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return ts.send(t, req)
}

func (ts *testServer) send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// authed sends a JSON request with a Bearer token (none when tok is "").
func (ts *testServer) authed(t testing.TB, tok, method, path string, body any) response {
	t.Helper()
	if tok == "" {
		return ts.do(t, method, path, body)
	}
	return ts.do(t, method, path, body, "Authorization", "Bearer "+tok)
}

// postForm posts form to /oidc/token; when basic is true the client credentials go in an HTTP
// Basic header (id and secret as given, not encoded) instead of the form.
func (ts *testServer) postForm(t testing.TB, path string, form url.Values, basicID, basicSecret string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" || basicSecret != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	return ts.send(t, req)
}

// clientToken gets a client access token for the default client through POST /oidc/token.
func (ts *testServer) clientToken(t testing.TB) string {
	t.Helper()
	return ts.clientTokenFor(t, ts.ClientID, ts.ClientSecret)
}

func (ts *testServer) clientTokenFor(t testing.TB, id, sec string) string {
	t.Helper()
	r := ts.postForm(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec}}, "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", r.Status, r.Body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || out.AccessToken == "" {
		t.Fatalf("client_credentials body %s: %v", r.Body, err)
	}
	return out.AccessToken
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
	r := ts.authed(t, tok, http.MethodPost, "/cis/v1/users", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create user %v: %d %s", body, r.Status, r.Body)
	}
	res, ok := r.JSON(t)["result"].(map[string]any)
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
