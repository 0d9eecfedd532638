// Package latchtest starts a whole Latch node for tests in any package: node.New's assembly —
// the one `latch serve` runs — on a real store (SQLite file or PostgreSQL schema), with a fixed
// clock the test controls, behind a real HTTP server; and the requests tests send it. It is
// test support only: production code never imports it, and it never wires a service itself.
package latchtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// Epoch is where every stack's clock starts.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Options change how a stack is built; each is an option of node.New.
type Options struct {
	// Sender delivers messages; nil means the dev outbox in the stack's store, as in dev mode.
	Sender delivery.Sender
	// Store reuses an existing store (another "node" on the same database) instead of opening dsn.
	Store *sqlstore.DB
	// Key is the encryption key; nil generates one. Nodes sharing a store must share the key.
	Key []byte
	// Issuer is the issuer of the stack's tokens; "" is its base URL.
	Issuer string
	// Clock is the stack's clock; nil starts a new one at Epoch. Nodes sharing a store may share
	// a clock.
	Clock *clock.Fixed
}

// Stack is one running Latch node (dev mode: the dev outbox and demo are served) and the
// default application's client that tests call it with.
type Stack struct {
	*node.Node
	URL          string // base URL
	ClientID     string // a client of the default app: its first on a fresh store, a new one on a shared store
	ClientSecret string
	App          app.App
	Clock        *clock.Fixed
	Key          []byte
	HTTP         *httptest.Server
	Client       *http.Client // does not follow redirects
}

// Start builds and starts a stack on dsn (from storetest.Engine.DSN), closed when the test ends.
func Start(t testing.TB, dsn string, opts Options) *Stack {
	t.Helper()
	ctx := context.Background()
	db := opts.Store
	if db == nil {
		db = storetest.Open(t, dsn)
	}
	key := opts.Key
	if key == nil {
		key = make([]byte, secret.KeySize)
		rand.Read(key)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.NewFixed(Epoch)
	}
	hs := httptest.NewUnstartedServer(nil)
	t.Cleanup(hs.Close)
	base := "http://" + hs.Listener.Addr().String()
	n, err := node.New(ctx, &config.Config{Issuer: opts.Issuer, AppName: app.DefaultAppName}, node.Options{BaseURL: base, Clock: clk, Store: db, Key: key, Sender: opts.Sender})
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	s := &Stack{Node: n, URL: base, App: n.DefaultApp, Clock: clk, Key: key}
	if n.FirstClient != nil {
		s.ClientID, s.ClientSecret = n.FirstClient.ClientID, n.FirstClient.ClientSecret
	} else { // a second node on the same store: give it its own client of the default app
		c, err := n.Apps.CreateClient(ctx, n.DefaultApp.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		s.ClientID, s.ClientSecret = c.ClientID, c.ClientSecret
	}
	hs.Config.Handler = n.Handler
	hs.Start()
	s.HTTP = hs
	s.Client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (nil when it is not a JSON object).
func (r Response) JSON() map[string]any {
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

// Object decodes the body as a JSON object, failing the test when it is not one.
func (r Response) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || m == nil {
		t.Fatalf("body is not a JSON object (status %d): %v: %q", r.Status, err, r.Body)
	}
	return m
}

// String returns a JSON field as a string ("" when absent).
func (r Response) String(field string) string {
	s, _ := r.JSON()[field].(string)
	return s
}

// Do sends a request with an optional bearer token and JSON body (any value, or a string/[]byte
// sent raw). Header pairs are name, value, ... A path that does not start with "/" is a full URL.
func (s *Stack) Do(t testing.TB, method, path, bearer string, body any, headers ...string) Response {
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
	target := path
	if strings.HasPrefix(path, "/") {
		target = s.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.Send(t, req)
}

// Form posts a form to path with optional HTTP Basic credentials (URL-encoded, as RFC 6749
// §2.3.1 and golang.org/x/oauth2 encode them).
func (s *Stack) Form(t testing.TB, path string, form url.Values, basicID, basicSecret string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return s.Send(t, req)
}

// Send sends req with the stack's client and reads the whole answer.
func (s *Stack) Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// ClientToken gets a client access token for the stack's default client.
func (s *Stack) ClientToken(t testing.TB) string {
	t.Helper()
	r := s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}, "", "")
	if r.Status != 200 {
		t.Fatalf("client token: %d %s", r.Status, r.Body)
	}
	return r.String("access_token")
}

// CreateUser creates a user through the API and returns its id.
func (s *Stack) CreateUser(t testing.TB, token string, fields map[string]any) string {
	t.Helper()
	r := s.Do(t, http.MethodPost, "/cis/v1/users", token, fields)
	if r.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	res, _ := r.JSON()["result"].(map[string]any)
	id, _ := res["user_id"].(string)
	return id
}

// Outbox returns the dev-outbox messages to `to`, newest first.
func (s *Stack) Outbox(t testing.TB, to string) []store.OutboxMessage {
	t.Helper()
	msgs, err := s.Store.ListOutbox(context.Background(), to, 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Claims decodes the payload of a compact JWT without checking its signature (the tests of the
// token package check signatures), failing the test when it is not a JWT.
func Claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return c
}

// Concurrently sends every request at once (released together) and returns their statuses; a
// transport error is status 0.
func Concurrently(c *http.Client, reqs []*http.Request) []int {
	statuses := make([]int, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			resp, err := c.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

// AdminToken creates a management application (`latch app create --admin`) on the stack's store
// and returns an admin token from its client's client_credentials grant.
func (s *Stack) AdminToken(t testing.TB) string {
	t.Helper()
	creds, err := s.Apps.CreateApp(context.Background(), app.NewApp{Name: "admin-" + secret.NewID(), Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}}, "", "")
	if r.Status != 200 {
		t.Fatalf("admin token: %d %s", r.Status, r.Body)
	}
	return r.String("access_token")
}
