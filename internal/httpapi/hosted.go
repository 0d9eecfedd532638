package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/signin"
	"github.com/latch-auth/latch/internal/store"
)

func (s *Server) hostedStart(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveJSON(s, w, r, func(a app.App, clientID string, req hosted.StartRequest) (any, error) {
			return s.Hosted.Start(r.Context(), a, clientID, kind, req)
		})
	}
}

func (s *Server) hostedValidate(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveJSON(s, w, r, func(a app.App, clientID string, req hosted.ValidateRequest) (any, error) {
			uri, err := s.Hosted.Validate(r.Context(), a, clientID, kind, req)
			if err != nil {
				return nil, err
			}
			return map[string]string{"result": uri}, nil
		})
	}
}

// hostedRedirect serves result URIs and emailed links: 302 to the app's redirect_uri.
// A require_mfa login ties the browser to its session with a cookie (see hosted.mfaStep).
func (s *Server) hostedRedirect(w http.ResponseWriter, r *http.Request) {
	var tie string
	if c, err := r.Cookie(hosted.TieCookie); err == nil {
		tie = c.Value
	}
	res, err := s.Hosted.Redirect(r.Context(), s.Apps.App, r.URL.Query().Get("code"), tie)
	if err == nil && res.Tie != "" {
		http.SetCookie(w, &http.Cookie{Name: hosted.TieCookie, Value: res.Tie, Path: hosted.TiePath, MaxAge: int(tieLifetime.Seconds()),
			HttpOnly: true, Secure: strings.HasPrefix(s.Issuer, "https://"), SameSite: http.SameSiteLaxMode})
	}
	redirect(w, r, res.Target, res.OK, err, "invalid_code")
}

// tieLifetime is how long a browser stays tied to a session waiting for its second factor.
const tieLifetime = 15 * time.Minute

// exchangeRequest is ApiTokenExchangeRequestInput.
type exchangeRequest struct {
	Code         string `json:"code"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// tokenExchange serves the deprecated POST /cis/v1/token. The client is authenticated before the
// code is looked at.
func (s *Server) tokenExchange(w http.ResponseWriter, r *http.Request) {
	var req exchangeRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.ClientID == "" {
		writeError(w, r, apierr.Invalid("client_id", "is required"))
		return
	}
	c, a, err := s.Apps.Authenticate(r.Context(), req.ClientID, req.ClientSecret)
	if err != nil {
		writeError(w, r, clientError(err))
		return
	}
	tok, created, err := s.Hosted.Exchange(r.Context(), a, c.ClientID, req.Code, "", false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id_token": tok.IDToken, "access_token": tok.AccessToken,
		"refresh_token": tok.RefreshToken, "is_user_created": created, "session_id": tok.SessionID,
		"token_type": tok.TokenType, "expires_in": tok.ExpiresIn})
}

// clientError maps a failed client authentication to a 401 without saying which part was wrong.
func clientError(err error) error {
	if err == app.ErrBadClient {
		return &apierr.Error{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "Invalid client credentials"}
	}
	return err
}

// authorizationCodeGrant serves grant_type=authorization_code at /oidc/token.
func (s *Server) authorizationCodeGrant(ctx context.Context, c store.Client, a app.App, form url.Values) (any, error) {
	if form.Get("code") == "" {
		return nil, apierr.Invalid("code", "is required")
	}
	if form.Get("redirect_uri") == "" {
		return nil, apierr.Invalid("redirect_uri", "is required")
	}
	tok, err := s.OIDC.Exchange(ctx, c, a, form)
	if !errors.Is(err, signin.ErrNotMine) {
		if err != nil {
			return nil, err
		}
		return tok, nil
	}
	if app.IsPublic(c) { // a public client has only the provider's codes, exchanged with PKCE
		return nil, apierr.New(http.StatusBadRequest, "invalid_grant", "Invalid or expired authorization code")
	}
	htok, _, err := s.Hosted.Exchange(ctx, a, c.ClientID, form.Get("code"), form.Get("redirect_uri"), true)
	if err != nil {
		return nil, err
	}
	return htok, nil
}
