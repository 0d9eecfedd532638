package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// opError is a failed operation, keyed the way Result.ErrorsByCode counts it.
type opError struct {
	key    string // "429 rate_limit_exceeded", "transport", ...
	detail string
}

func (e *opError) Error() string {
	if e.detail == "" {
		return e.key
	}
	return e.key + ": " + e.detail
}

// errorKey is the key of err in Result.ErrorsByCode.
func errorKey(err error) string {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.key
	}
	return "transport"
}

// statusError builds the opError of an unexpected HTTP answer from its body: Mosaic's
// {"error_code": "x" | 400, "message"} or OAuth's {"error": "x"}.
func statusError(status int, body []byte) *opError {
	var e struct {
		ErrorCode json.RawMessage `json:"error_code"`
		Error     string          `json:"error"`
		Message   json.RawMessage `json:"message"`
	}
	code := ""
	if json.Unmarshal(body, &e) == nil {
		var s string
		if json.Unmarshal(e.ErrorCode, &s) == nil && s != "" {
			code = s
		} else if e.Error != "" {
			code = e.Error
		} else if len(e.ErrorCode) > 0 && string(e.ErrorCode) != "null" {
			code = string(e.ErrorCode) // numeric error_code
		}
	}
	key := strconv.Itoa(status)
	if code != "" {
		key += " " + code
	}
	detail := string(body)
	if len(detail) > 300 {
		detail = detail[:300]
	}
	return &opError{key: key, detail: detail}
}

// api calls Latch over HTTP. It is shared by all workers; per-call buffers belong to a conn.
type api struct {
	base         string
	hc           *http.Client
	noRedirect   *http.Client
	clientID     string
	clientSecret string
	credsForm    string // client_credentials grant, form-encoded once
	tok          clientToken
	ownsClient   bool // hc was made by the bench: close its idle connections at the end
}

// close releases the connections of a client the bench made. Go's http.Server.Shutdown waits up
// to 5 s for a connection that never sent a request, so spare keep-alive dials must not linger.
func (a *api) close() {
	if a.ownsClient {
		a.hc.CloseIdleConnections()
	}
}

func newAPI(cfg Config) *api {
	hc := cfg.HTTPClient
	owned := hc == nil
	if owned {
		hc = newHTTPClient(cfg.Concurrency)
	}
	nr := *hc
	nr.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	nr.Jar = nil
	a := &api{base: cfg.URL, hc: hc, noRedirect: &nr, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, ownsClient: owned}
	a.credsForm = url.Values{"grant_type": {"client_credentials"}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}}.Encode()
	return a
}

// newHTTPClient is a keep-alive client with an idle connection for every worker.
func newHTTPClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2*concurrency + 32
	tr.MaxIdleConnsPerHost = concurrency + 16
	tr.IdleConnTimeout = 90 * time.Second
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// conn is one worker's view of the api: it owns the buffers its requests and responses use.
type conn struct {
	*api
	req  bytes.Buffer
	resp bytes.Buffer
}

// do sends one request and reads the whole answer into c.resp (so the connection is reused). A
// status other than want is an *opError; when out is not nil a wanted answer is decoded into it.
func (c *conn) do(ctx context.Context, hc *http.Client, method, path, contentType, bearer string, body []byte, want int, out any) (*http.Response, error) {
	target := path
	if len(path) > 0 && path[0] == '/' {
		target = c.base + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &opError{key: "transport", detail: err.Error()}
	}
	c.resp.Reset()
	_, err = c.resp.ReadFrom(io.LimitReader(resp.Body, 4<<20))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, &opError{key: "transport", detail: err.Error()}
	}
	if resp.StatusCode != want {
		return nil, statusError(resp.StatusCode, c.resp.Bytes())
	}
	if out != nil {
		if err := json.Unmarshal(c.resp.Bytes(), out); err != nil {
			return nil, &opError{key: strconv.Itoa(resp.StatusCode) + " bad_json", detail: err.Error()}
		}
	}
	return resp, nil
}

// postJSON posts c.req (built by the caller) with the client access token.
func (c *conn) postJSON(ctx context.Context, path string, want int, out any) error {
	bearer, err := c.tok.header(ctx, c.api)
	if err != nil {
		return err
	}
	return c.postJSONAs(ctx, bearer, path, want, out)
}

// postJSONAs posts c.req with the given Authorization header value.
func (c *conn) postJSONAs(ctx context.Context, bearer, path string, want int, out any) error {
	_, err := c.do(ctx, c.hc, http.MethodPost, path, "application/json", bearer, c.req.Bytes(), want, out)
	return err
}

// postForm posts an urlencoded form (the token endpoint).
func (c *conn) postForm(ctx context.Context, path, form string, want int, out any) error {
	_, err := c.do(ctx, c.hc, http.MethodPost, path, "application/x-www-form-urlencoded", "", []byte(form), want, out)
	return err
}

// tokenResponse is the part of a token answer the bench reads.
type tokenResponse struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	ExpiresIn    float64 `json:"expires_in"`
}

func (t *tokenResponse) check(needRefresh bool) error {
	if t.AccessToken == "" {
		return &opError{key: "200 no_access_token"}
	}
	if needRefresh && t.RefreshToken == "" {
		return &opError{key: "200 no_refresh_token"}
	}
	return nil
}

// clientToken is the client access token shared by all workers, renewed before it expires.
type clientToken struct {
	mu  sync.Mutex
	cur atomic.Pointer[heldToken]
}

type heldToken struct {
	header    string // "Bearer ..."
	renewAt   time.Time
	expiresAt time.Time
}

// header returns the Authorization header value, fetching a token when there is none or the current
// one is about to expire (the background renewer normally gets there first).
func (t *clientToken) header(ctx context.Context, a *api) (string, error) {
	if h := t.cur.Load(); h != nil && time.Until(h.expiresAt) > 5*time.Second {
		return h.header, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.cur.Load(); h != nil && time.Until(h.expiresAt) > 5*time.Second {
		return h.header, nil
	}
	h, err := t.fetch(ctx, a)
	if err != nil {
		return "", err
	}
	return h.header, nil
}

func (t *clientToken) fetch(ctx context.Context, a *api) (*heldToken, error) {
	c := &conn{api: a}
	var tr tokenResponse
	now := time.Now()
	if err := c.postForm(ctx, "/oidc/token", a.credsForm, http.StatusOK, &tr); err != nil {
		return nil, fmt.Errorf("client access token: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("client access token: answer has no access_token")
	}
	ttl := time.Duration(tr.ExpiresIn * float64(time.Second))
	if ttl <= 0 {
		ttl = time.Hour
	}
	margin := max(ttl/5, min(30*time.Second, ttl/2))
	h := &heldToken{header: "Bearer " + tr.AccessToken, expiresAt: now.Add(ttl), renewAt: now.Add(ttl - margin)}
	t.cur.Store(h)
	return h, nil
}

// renew keeps the token fresh until ctx ends, so no timed operation waits for a renewal.
func (t *clientToken) renew(ctx context.Context, a *api) {
	for {
		h := t.cur.Load()
		wait := time.Second
		if h != nil {
			wait = max(time.Until(h.renewAt), time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if h := t.cur.Load(); h != nil && time.Now().Before(h.renewAt) {
			continue
		}
		t.mu.Lock()
		t.fetch(ctx, a) // on failure, retried in a second; header() fetches itself at expiry
		t.mu.Unlock()
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// jsonBody builds c.req as a flat JSON object of string fields from key/value pairs.
func (c *conn) jsonBody(kv ...string) {
	c.req.Reset()
	c.req.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			c.req.WriteByte(',')
		}
		appendJSONString(&c.req, kv[i])
		c.req.WriteByte(':')
		appendJSONString(&c.req, kv[i+1])
	}
	c.req.WriteByte('}')
}
