package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// latchClient calls Latch's public HTTP API the way a customer backend does: with a client access
// token from POST /oidc/token, cached until shortly before it expires.
type latchClient struct {
	base         string
	clientID     string
	clientSecret string
	http         *http.Client
	log          *slog.Logger
	now          func() time.Time

	mu      sync.Mutex // held while fetching, so concurrent callers share one grant
	token   string
	expires time.Time
}

// userTokens is Latch's user token response.
type userTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	SessionID    string `json:"session_id"`
	// viaOIDC marks tokens of a sign-in through Latch's pages: signing out then also ends
	// Latch's browser session (RP-initiated logout).
	viaOIDC bool
}

// latchError is an error answer from Latch: its status, error_code, message and Retry-After.
type latchError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // 0 when Latch did not say
}

func (e *latchError) Error() string {
	return fmt.Sprintf("latch: %d %s: %s", e.Status, e.Code, e.Message)
}

// unreachable wraps a transport failure (Latch could not be asked or answered garbage).
type unreachable struct{ err error }

func (e *unreachable) Error() string { return "latch unreachable: " + e.err.Error() }
func (e *unreachable) Unwrap() error { return e.err }

// tokenMargin is how long before its expiry a cached client token is replaced.
const tokenMargin = time.Minute

// clientToken returns a client access token, from the cache while it has more than tokenMargin left.
func (c *latchClient) clientToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Add(tokenMargin).Before(c.expires) {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.clientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", &unreachable{err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := c.send(req, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", &unreachable{errors.New("token response without access_token")}
	}
	c.token, c.expires = out.AccessToken, c.now().Add(time.Duration(out.ExpiresIn)*time.Second)
	return c.token, nil
}

// forget drops the cached client token (after Latch refused it).
func (c *latchClient) forget(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// asClient calls path with the client access token, fetching a new one once if Latch refuses it
// (a restart with new keys, an early revocation).
func (c *latchClient) asClient(ctx context.Context, method, path string, in, out any) error {
	tok, err := c.clientToken(ctx)
	if err != nil {
		return err
	}
	err = c.call(ctx, method, path, tok, in, out)
	var le *latchError
	if errors.As(err, &le) && le.Status == http.StatusUnauthorized {
		c.forget(tok)
		if tok, err = c.clientToken(ctx); err != nil {
			return err
		}
		err = c.call(ctx, method, path, tok, in, out)
	}
	return err
}

// call sends in as JSON with bearer and decodes a 2xx answer into out (when not nil).
func (c *latchClient) call(ctx context.Context, method, path, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return &unreachable{err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return c.send(req, out)
}

// maxAnswer bounds what is read from Latch.
const maxAnswer = 1 << 20

func (c *latchClient) send(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL holds no secret (ids and emails at most), the body is not logged.
		c.log.Warn("demo: calling Latch failed", "method", req.Method, "path", req.URL.Path, "err", err)
		return &unreachable{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &unreachable{err}
	}
	if resp.StatusCode >= 400 {
		e := parseError(resp.StatusCode, raw)
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		c.log.Warn("demo: Latch answered something that is not the expected JSON", "path", req.URL.Path, "status", resp.StatusCode)
		return &unreachable{fmt.Errorf("decode %s answer: %w", req.URL.Path, err)}
	}
	return nil
}

// parseError reads Latch's {"error_code", "message"} body; error_code is a string or a number.
func parseError(status int, raw []byte) *latchError {
	var body struct {
		Code    json.RawMessage `json:"error_code"`
		Message string          `json:"message"`
		Error   string          `json:"error"` // OAuth errors at /oidc/token
		Desc    string          `json:"error_description"`
	}
	e := &latchError{Status: status}
	if json.Unmarshal(raw, &body) != nil {
		return e
	}
	var s string
	if json.Unmarshal(body.Code, &s) == nil {
		e.Code = s
	} else if n, err := strconv.Atoi(string(body.Code)); err == nil {
		e.Code = strconv.Itoa(n)
	}
	e.Message = body.Message
	if e.Code == "" {
		e.Code = body.Error
	}
	if e.Message == "" {
		e.Message = body.Desc
	}
	return e
}

// friendly turns an error from a Latch call into what the person reads, and the page's status.
func friendly(err error) (int, string) {
	var le *latchError
	if !errors.As(err, &le) {
		var u *unreachable
		if errors.As(err, &u) {
			return http.StatusBadGateway, "Latch could not be reached. Is the server still running? Try again in a moment."
		}
		return http.StatusInternalServerError, "Something went wrong in the demo. Try again."
	}
	status := le.Status
	if status >= 500 || status < 400 {
		status = http.StatusBadGateway
	}
	switch le.Code {
	case "auth_invalid_credentials":
		return status, codeWrong
	case "auth_otp_passcode_expired":
		return status, "That code has expired. Ask for a new one."
	case "auth_locked":
		return status, "Too many attempts. Try again later."
	case "rate_limit_exceeded":
		return status, "Too many codes were sent to this address. Try again later."
	case "user_not_found", "user_not_active":
		// Never "there is no account": the same words whatever the account's state.
		return status, "That did not work. Check what you entered and try again."
	case "totp_not_registered":
		return status, "No authenticator app is set up for this account."
	case "totp_already_registered":
		return status, "An authenticator app is already set up for this account. Remove it before setting up another."
	case "totp_limit_reached":
		return status, "This account already has as many authenticator apps as allowed. Remove one first."
	case "auth_mfa_required":
		return status, "Confirm with a code from your authenticator app first."
	case "session_not_found":
		return status, "Your session had already ended."
	case "delivery_failed":
		return status, "The message could not be sent. Try again in a moment."
	case "system_invalid_input":
		_, msg := inputProblem(le.Message)
		return status, msg
	case "not_found":
		return status, "This Latch server does not offer that feature yet."
	case "invalid_code", "invalid_grant":
		return status, "This sign-in link cannot be used: it was already used, replaced by a newer link, or it expired. Ask for a new one."
	}
	switch {
	case le.Status == http.StatusUnauthorized:
		return status, "Your session with Latch has ended. Sign in again."
	case le.Message != "" && le.Status < 500:
		return status, sentence(le.Message)
	}
	return status, fmt.Sprintf("Latch could not do that right now (HTTP %d). Try again.", le.Status)
}

// sentence makes sure a message ends with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// exchange trades a hosted-flow code for user tokens at POST /oidc/token, authenticating the
// client with its secret (the browser never sees it).
func (c *latchClient) exchange(ctx context.Context, code, redirectURI string) (userTokens, error) {
	return c.exchangePKCE(ctx, code, redirectURI, "")
}

// exchangePKCE is exchange with the PKCE code_verifier of the authorization request ("" none).
func (c *latchClient) exchangePKCE(ctx context.Context, code, redirectURI, verifier string) (userTokens, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {c.clientID}, "client_secret": {c.clientSecret}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return userTokens{}, &unreachable{err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok userTokens
	err = c.send(req, &tok)
	return tok, err
}
