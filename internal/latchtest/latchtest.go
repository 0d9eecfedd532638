// Package latchtest starts the whole Latch HTTP stack for tests in any package: a real store (SQLite
// file or PostgreSQL schema), real services wired as cmd/latch wires them, a fixed clock the test
// controls, and a real HTTP server. It is test support only; production code never imports it.
package latchtest

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/delivery/outbox"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// Epoch is where every stack's clock starts.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Options change how a stack is built.
type Options struct {
	// Sender delivers messages; nil means the dev outbox in the stack's store (Router with both
	// channels on the outbox).
	Sender delivery.Sender
	// Store reuses an existing store (another "node" on the same database) instead of opening dsn.
	Store *sqlstore.DB
	// Key is the encryption key; nil generates one. Nodes sharing a store must share the key.
	Key []byte
	// Configure, when set, runs on the API server before it starts (to add services).
	Configure func(s *Stack)
}

// Stack is one running Latch node.
type Stack struct {
	URL          string // base URL and issuer
	ClientID     string // the default app's first client
	ClientSecret string
	App          app.App
	Clock        *clock.Fixed
	Store        *sqlstore.DB
	Box          *secret.Box
	Key          []byte
	Keys         *token.KeyRing
	Signer       *token.Signer
	Apps         *app.Service
	Users        *user.Service
	Sessions     *session.Service
	Codes        *otp.Codes
	Metrics      *metrics.Metrics
	Log          *slog.Logger
	Sender       delivery.Sender
	API          *httpapi.Server
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
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(Epoch)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := token.NewKeyRing(db, box, clk, time.Duration(app.MaxTokenTTLSeconds)*time.Second, log)
	if err := keys.EnsureKey(ctx); err != nil {
		t.Fatalf("keys: %v", err)
	}
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	apps := app.NewService(db, box, clk)
	_, def, creds, err := apps.Bootstrap(ctx, issuer+"/demo/callback")
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	s := &Stack{URL: issuer, App: def, Clock: clk, Store: db, Box: box, Key: key, Keys: keys, Apps: apps, Log: log}
	if creds != nil {
		s.ClientID, s.ClientSecret = creds.ClientID, creds.ClientSecret
	} else { // a second node on the same store: give it its own client of the default app
		c, err := apps.CreateClient(ctx, def.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		s.ClientID, s.ClientSecret = c.ClientID, c.ClientSecret
	}
	s.Sender = opts.Sender
	if s.Sender == nil {
		box := outbox.New(outbox.Rows{Outbox: db}, clk.Now)
		s.Sender = delivery.Router{Email: box, SMS: box}
	}
	s.Metrics = metrics.New()
	s.Signer = &token.Signer{Ring: keys, Issuer: issuer, Clock: clk}
	s.Users = user.NewService(db, clk, apps.TenantID)
	s.Sessions = session.NewService(db, s.Signer, box, clk, log)
	s.Codes = otp.NewCodes(db, box, clk, rand.Reader, log, s.Metrics)
	s.API = &httpapi.Server{Log: log, Metrics: s.Metrics, Store: db, Apps: apps, Users: s.Users, Tokens: s.Signer, Keys: keys,
		Issuer: issuer, Sessions: s.Sessions, Dev: true,
		OTP:    &otp.Flow{Codes: s.Codes, Users: s.Users, Sessions: s.Sessions, Sender: s.Sender, Metrics: s.Metrics, Log: log},
		Links:  &magiclink.Flow{Codes: s.Codes, Users: s.Users, Sessions: s.Sessions, Sender: s.Sender, Metrics: s.Metrics, Log: log, Issuer: issuer},
		Hosted: &hosted.Flow{Codes: s.Codes, Users: s.Users, Sessions: s.Sessions, Sender: s.Sender, Metrics: s.Metrics, Log: log, Issuer: issuer},
	}
	if opts.Configure != nil {
		opts.Configure(s)
	}
	hs.Config.Handler = s.API.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
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

// String returns a JSON field as a string ("" when absent).
func (r Response) String(field string) string {
	s, _ := r.JSON()[field].(string)
	return s
}

// Do sends a request with an optional bearer token and JSON body (any value, or a string/[]byte sent raw).
func (s *Stack) Do(t testing.TB, method, path, bearer string, body any) Response {
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
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Form posts a form to path with optional HTTP Basic credentials.
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
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
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
