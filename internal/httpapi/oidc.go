package httpapi

import (
	"errors"
	"mime"
	"net/http"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/session"
)

// userinfo serves OIDC UserInfo (GET and POST /cis/oidc/me): the user access token comes as a
// Bearer header (GET or POST) or, on a POST, as the form field access_token (RFC 6750 §2.2) — one
// of the two, never both. Refusals follow RFC 6750 §3: a 401 with WWW-Authenticate naming
// invalid_token (no error code when no token was sent at all), a 400 invalid_request for a
// malformed request, a 403 insufficient_scope for a token without openid; the bodies are Latch's.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, inHeader := bearer(r)
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" {
			bearerError(w, r, http.StatusBadRequest, "invalid_request", apierr.Invalid("Content-Type", "must be application/x-www-form-urlencoded"))
			return
		}
		form, ok := readForm(w, r)
		if !ok {
			return
		}
		if vs, sent := form["access_token"]; sent {
			if inHeader || len(vs) != 1 {
				bearerError(w, r, http.StatusBadRequest, "invalid_request", apierr.Invalid("access_token", "must be sent once, in the Authorization header or the form, not both"))
				return
			}
			raw = vs[0]
		}
	}
	if raw == "" {
		if r.Header.Get("Authorization") != "" {
			bearerError(w, r, http.StatusUnauthorized, "invalid_token", apierr.InvalidToken())
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="latch"`)
		writeError(w, r, apierr.InvalidToken())
		return
	}
	c, err := s.checkToken(r.Context(), authUser, raw)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			// A client token, an expired, revoked or foreign one: all just not a usable user token.
			bearerError(w, r, http.StatusUnauthorized, "invalid_token", apierr.InvalidToken())
			return
		}
		writeError(w, r, err)
		return
	}
	if !session.HasScope(c.Scope, session.ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latch", error="insufficient_scope", scope="openid"`)
		writeError(w, r, apierr.Forbidden("The access token was not granted the openid scope"))
		return
	}
	claims, err := s.Sessions.UserInfo(r.Context(), c)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			bearerError(w, r, http.StatusUnauthorized, "invalid_token", ae)
			return
		}
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// bearerError answers a refused Bearer request with RFC 6750's WWW-Authenticate error and the
// API's body.
func bearerError(w http.ResponseWriter, r *http.Request, status int, code string, body *apierr.Error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="latch", error="`+code+`"`)
	body.Status = status
	writeError(w, r, body)
}

// tokenTypeHint reads RFC 7009/7662's token_type_hint. The hint only orders the search, and an
// unknown value is ignored (RFC 7662 §2.1: the server searches every type it knows anyway).
func tokenTypeHint(v string) string {
	if v == "refresh_token" {
		return v
	}
	return "access_token"
}

// revocation serves RFC 7009 (POST /oidc/token/revocation). The client authenticates as at the
// token endpoint; an access token of its application is revoked by jti until it expires (refused on
// every node at once for a user token, within a second for a client token), a refresh token of its
// application ends its session. Any other token — unknown, expired, another application's — gets
// the same 200 and changes nothing (§2.2).
func (s *Server) revocation(w http.ResponseWriter, r *http.Request) {
	_, a, form, ok := s.clientForm(w, r, false)
	if !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token: is required")
		return
	}
	if err := s.Sessions.Revoke(r.Context(), a, tok, tokenTypeHint(form.Get("token_type_hint"))); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// introspection serves RFC 7662 (POST /oidc/token/introspection) for an authenticated client: a
// live token of the client's application is {"active": true, …}; anything else is
// {"active": false} and nothing more. A public client (no secret) may not introspect: anyone can
// name its client_id (RFC 7662 §4 asks for real authorization).
func (s *Server) introspection(w http.ResponseWriter, r *http.Request) {
	_, a, form, ok := s.clientForm(w, r, true)
	if !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token: is required")
		return
	}
	out, err := s.Sessions.Introspect(r.Context(), a, tok, tokenTypeHint(form.Get("token_type_hint")))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if out.Active {
		// The token's client and application must still exist (a deleted client's tokens die).
		live, err := s.Apps.ClientLive(r.Context(), out.ClientID, out.AppID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !live {
			out = session.Introspection{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}
