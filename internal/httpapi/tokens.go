package httpapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
)

// grantFunc serves one grant type for an authenticated client.
type grantFunc func(ctx context.Context, c store.Client, a app.App, form url.Values) (any, error)

func (s *Server) grantTable() map[string]grantFunc {
	return map[string]grantFunc{
		"client_credentials": func(_ context.Context, c store.Client, a app.App, form url.Values) (any, error) {
			return s.Tokens.ClientCredentials(c, a, form.Get("resource"))
		},
		"authorization_code": s.authorizationCodeGrant,
		"refresh_token": func(ctx context.Context, c store.Client, a app.App, form url.Values) (any, error) {
			return s.Sessions.Refresh(ctx, a, c.ClientID, form.Get("refresh_token"))
		},
		"password": s.passwordGrant,
	}
}

// passwordGrant is grant_type=password (Mosaic's PasswordRequest): the rules of the backend
// password login; a refresh token only when scope asks for offline_access.
func (s *Server) passwordGrant(ctx context.Context, c store.Client, a app.App, form url.Values) (any, error) {
	scope := form.Get("scope")
	if scope == "" {
		scope = "openid"
	}
	tok, err := s.Passwords.Authenticate(ctx, a, c.ClientID, password.AuthenticateRequest{Username: form.Get("username"),
		Password: form.Get("password"), UsernameType: form.Get("username_type"), Resource: form.Get("resource"),
		NoRefresh: !slices.Contains(strings.Fields(scope), "offline_access")})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"access_token": tok.AccessToken, "id_token": tok.IDToken, "token_type": tok.TokenType,
		"expires_in": tok.ExpiresIn, "scope": scope, "session_id": tok.SessionID}
	if tok.RefreshToken != "" {
		out["refresh_token"] = tok.RefreshToken
	}
	return out, nil
}

// oauthError is a token-endpoint error: RFC 6749 fields for OAuth clients, and Mosaic's
// message/error_code for Mosaic clients.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="latch"`)
	}
	writeJSON(w, status, map[string]any{"error": code, "error_description": description, "message": description, "error_code": status})
}

// token serves POST /oidc/token. The client is authenticated before anything else is read, so a
// failed attempt consumes no code or refresh token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	c, a, form, ok := s.clientForm(w, r, false)
	if !ok {
		return
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type: is required")
		return
	}
	grant, ok := s.grants[grantType]
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type: "+grantType+" is not supported")
		return
	}
	resp, err := grant(r.Context(), c, a, form)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.ResetToken != "" {
			// A right password that must be replaced: Mosaic's 403 with its reset token.
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "invalid_grant", "error_description": ae.Message,
				"message": ae.Message, "error_code": http.StatusForbidden, "reset_token": ae.ResetToken})
			return
		}
		if errors.As(err, &ae) && ae.Status < 500 {
			// RFC 6749 §5.2: a grant the server refuses (unknown, used, or whose user may no longer
			// log in) is a 400 invalid_grant; a malformed request is invalid_request.
			code, status := "invalid_grant", http.StatusBadRequest
			if ae.Code == "system_invalid_input" {
				code = "invalid_request"
			}
			writeOAuthError(w, status, code, ae.Message)
			return
		}
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientForm reads the form body of an OAuth endpoint that authenticates its client (token,
// revocation, introspection) and authenticates the client by HTTP Basic (URL-decoded) or the form
// fields client_id and client_secret. needSecret refuses a client that names no secret (a public
// client) before it is looked up. On any failure it has written the answer and returns false.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request, needSecret bool) (store.Client, app.App, url.Values, bool) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type: must be application/x-www-form-urlencoded")
		return store.Client{}, app.App{}, nil, false
	}
	form, ok := readForm(w, r)
	if !ok {
		return store.Client{}, app.App{}, nil, false
	}
	clientID, clientSecret, ok := basicAuth(r)
	if !ok {
		clientID, clientSecret = form.Get("client_id"), form.Get("client_secret")
	}
	if clientID == "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client_id: is required")
		return store.Client{}, app.App{}, nil, false
	}
	if needSecret && clientSecret == "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client_secret: is required")
		return store.Client{}, app.App{}, nil, false
	}
	c, a, err := s.Apps.Authenticate(r.Context(), clientID, clientSecret)
	if errors.Is(err, app.ErrBadClient) && clientSecret == "" && !needSecret {
		// A public client (no secret) may exchange its codes, with PKCE, refresh, and revoke
		// its tokens (RFC 7009 §2.1: a request without grant_type, naming the token).
		publicOK := form.Get("grant_type") == "" && form.Get("token") != ""
		switch form.Get("grant_type") {
		case "authorization_code", "refresh_token":
			publicOK = true
		}
		if publicOK {
			if pc, pa, perr := s.Apps.Lookup(r.Context(), clientID); perr == nil && app.IsPublic(pc) {
				c, a, err = pc, pa, nil
			}
		}
	}
	if errors.Is(err, app.ErrBadClient) {
		logger(r).Info("client authentication failed", "client_id", truncate(clientID, 64))
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client credentials")
		return store.Client{}, app.App{}, nil, false
	}
	if err != nil {
		writeError(w, r, err)
		return store.Client{}, app.App{}, nil, false
	}
	return c, a, form, true
}

// readForm reads a form-encoded body whose every name and value the database can store. On
// failure it has written a 400 (or 413) and returns false.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "body: malformed form encoding")
		return nil, false
	}
	for k, vs := range form {
		for _, v := range vs {
			if !storable(k) || !storable(v) {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", k+": must be valid UTF-8 without NUL characters")
				return nil, false
			}
		}
	}
	return form, true
}

// basicAuth reads HTTP Basic client credentials, URL-decoding both parts (RFC 6749 §2.3.1).
func basicAuth(r *http.Request) (string, string, bool) {
	id, sec, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	uid, err1 := url.QueryUnescape(id)
	usec, err2 := url.QueryUnescape(sec)
	if err1 != nil || err2 != nil {
		return id, sec, true
	}
	return uid, usec, true
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	jsonHeaders(w)
	w.Write(s.Keys.JWKS())
}

// idTokenClaims are the claims Latch puts in ID tokens and UserInfo answers.
var idTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "jti", "auth_time", "amr", "acr", "tid", "sid", "nonce", "at_hash",
	"email", "email_verified", "phone_number", "phone_number_verified", "username", "roles", "name", "given_name", "family_name",
	"fname", "lname", "approval_data", "new_user"}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	grants := make([]string, 0, len(s.grants))
	for g := range s.grants {
		grants = append(grants, g)
	}
	slices.Sort(grants)
	writeJSON(w, http.StatusOK, token.Discovery(strings.TrimSuffix(s.Issuer, "/"), grants, idTokenClaims, s.Keys.Algorithms()))
}

// truncate bounds a caller-supplied value before it is logged.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
