package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latch-auth/latch/internal/store"
)

// memOutbox is an in-memory store.Outbox.
type memOutbox struct {
	mu   sync.Mutex
	msgs []store.OutboxMessage
}

func (o *memOutbox) AddOutboxMessage(_ context.Context, m store.OutboxMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *memOutbox) ListOutbox(_ context.Context, to string, limit int) ([]store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []store.OutboxMessage
	for i := len(o.msgs) - 1; i >= 0 && len(out) < limit; i-- {
		if to == "" || o.msgs[i].To == to {
			out = append(out, o.msgs[i])
		}
	}
	return out, nil
}

// fakeLatch answers the few API calls the demo makes, like Latch would, and counts them.
type fakeLatch struct {
	t       *testing.T
	srv     *httptest.Server
	key     *ecdsa.PrivateKey // publishes this one in the JWKS
	signKey *ecdsa.PrivateKey // signs ID tokens with this one (a forger sets another)

	mu          sync.Mutex
	users       map[string]bool
	grants      int // client_credentials grants
	calls       map[string]int
	lastSend    map[string]any
	authBodies  []map[string]any
	clientToken string

	now      func() time.Time
	amr      []string             // amr of the ID tokens it issues (default eotp)
	fail     map[string]fakeError // call ("POST /path") → the refusal it answers instead
	devices  []map[string]any     // GET /cis/v1/users/me/totp/devices
	totpBody map[string]any       // the last totp/authenticate body
	revokes  int
}

// fakeError is a refusal the fake answers: status, error_code and Retry-After seconds.
type fakeError struct {
	status     int
	code       string
	retryAfter int
}

// failWith makes call answer e until cleared with a zero fakeError.
func (f *fakeLatch) failWith(call string, e fakeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.status == 0 {
		delete(f.fail, call)
		return
	}
	f.fail[call] = e
}

const (
	fakeClientID     = "demo-client"
	fakeClientSecret = "demo-secret"
	fakePasscode     = "123456"
)

func newFakeLatch(t *testing.T) *fakeLatch {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLatch{t: t, key: key, signKey: key, users: map[string]bool{}, calls: map[string]int{}, clientToken: "client-token-1",
		now: time.Now, amr: []string{"eotp"}, fail: map[string]fakeError{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oidc/token", f.token)
	mux.HandleFunc("GET /cis/oidc/jwks", f.jwks)
	mux.HandleFunc("GET /cis/v1/users/email/{email}", f.client(f.getUser))
	mux.HandleFunc("POST /cis/v1/users", f.client(f.createUser))
	mux.HandleFunc("POST /cis/v1/auth/otp/send", f.client(f.otpSend))
	mux.HandleFunc("POST /cis/v1/auth/otp/authenticate", f.client(f.otpAuthenticate))
	mux.HandleFunc("POST /cis/v1/auth/session/logout", f.client(func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /cis/v1/auth/totp/authenticate", f.client(f.totpAuthenticate))
	mux.HandleFunc("GET /cis/v1/users/me/totp/devices", f.user(func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		list := append([]map[string]any{}, f.devices...)
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"result": list})
	}))
	mux.HandleFunc("POST /cis/v1/users/me/totp/revoke", f.user(func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		n := len(f.devices)
		f.devices, f.revokes = nil, f.revokes+1
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"message": "TOTP revoked", "revoked_count": n})
	}))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + r.URL.Path
		f.mu.Lock()
		f.calls[call]++
		e, refuse := f.fail[call]
		f.mu.Unlock()
		if refuse {
			if e.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
			}
			writeJSON(w, e.status, map[string]any{"error_code": e.code, "message": "refused"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLatch) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeLatch) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("client_id") != fakeClientID || r.PostForm.Get("client_secret") != fakeClientSecret {
		writeJSON(w, 401, map[string]any{"error_code": "invalid_client", "message": "Invalid client credentials"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		f.mu.Lock()
		f.grants++
		tok := f.clientToken
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	default:
		writeJSON(w, 400, map[string]any{"error_code": "unsupported_grant_type", "message": "unsupported"})
	}
}

func (f *fakeLatch) jwks(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	writeJSON(w, 200, set)
}

// client checks the client access token and decodes the JSON body.
func (f *fakeLatch) client(next func(http.ResponseWriter, *http.Request, map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		want := "Bearer " + f.clientToken
		f.mu.Unlock()
		if r.Header.Get("Authorization") != want {
			writeJSON(w, 401, map[string]any{"message": "Invalid token", "error_code": 401})
			return
		}
		body := map[string]any{}
		if r.Body != nil && r.ContentLength != 0 {
			json.NewDecoder(r.Body).Decode(&body)
		}
		next(w, r, body)
	}
}

func (f *fakeLatch) getUser(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	f.mu.Lock()
	ok := f.users[r.PathValue("email")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 404, map[string]any{"error_code": "user_not_found", "message": "User not found"})
		return
	}
	writeJSON(w, 200, map[string]any{"result": map[string]any{"user_id": "u1"}})
}

func (f *fakeLatch) createUser(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	email, _ := body["email"].(string)
	f.mu.Lock()
	f.users[email] = true
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"result": map[string]any{"user_id": "u1"}})
}

func (f *fakeLatch) otpSend(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	f.mu.Lock()
	f.lastSend = body
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"message": "ok"})
}

func (f *fakeLatch) otpAuthenticate(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	f.mu.Lock()
	f.authBodies = append(f.authBodies, body)
	f.mu.Unlock()
	if body["passcode"] != fakePasscode {
		writeJSON(w, 400, map[string]any{"error_code": "auth_invalid_credentials", "message": "Invalid passcode"})
		return
	}
	f.mu.Lock()
	f.amr = []string{"eotp"}
	f.mu.Unlock()
	email, _ := body["identifier"].(string)
	writeJSON(w, 200, map[string]any{"access_token": "user-access-token", "id_token": f.idToken(email), "refresh_token": "r",
		"token_type": "Bearer", "expires_in": 3600, "session_id": "s1"})
}

// user checks a user access token (the one the fake's logins issue).
func (f *fakeLatch) user(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer user-access-token") {
			writeJSON(w, 401, map[string]any{"message": "Invalid token", "error_code": 401})
			return
		}
		next(w, r)
	}
}

// totpAuthenticate accepts fakePasscode; with a session_id it joins that session (amr gains
// totp and mfa).
func (f *fakeLatch) totpAuthenticate(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	f.mu.Lock()
	f.totpBody = body
	f.mu.Unlock()
	if body["token"] != fakePasscode {
		writeJSON(w, 400, map[string]any{"error_code": "auth_invalid_credentials", "message": "Invalid code"})
		return
	}
	f.mu.Lock()
	if body["session_id"] != nil {
		f.amr = append(f.amr, "totp", "mfa")
	} else {
		f.amr = []string{"totp"}
	}
	f.mu.Unlock()
	email, _ := body["identifier"].(string)
	writeJSON(w, 200, map[string]any{"access_token": "user-access-token-2", "id_token": f.idToken(email), "refresh_token": "r",
		"token_type": "Bearer", "expires_in": 3600, "session_id": "s1"})
}

func (f *fakeLatch) idToken(email string) string {
	f.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.signKey, KeyID: "k1"}}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	now, amr := f.now().Unix(), append([]string{}, f.amr...)
	f.mu.Unlock()
	payload, _ := json.Marshal(map[string]any{"iss": f.srv.URL, "sub": "u1", "aud": fakeClientID, "email": email,
		"amr": amr, "iat": now, "exp": now + 3600, "auth_time": now, "sid": "s1"})
	obj, err := signer.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// browser is a tiny cookie-keeping client for the handler under test; it never follows redirects.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]string
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]string{}}
}

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, "http://latch.test"+path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for n, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder { return b.do(http.MethodGet, path, nil) }

// post submits a form with the browser's CSRF token.
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, b.cookies[csrfCookie])
	return b.do(http.MethodPost, path, form)
}
