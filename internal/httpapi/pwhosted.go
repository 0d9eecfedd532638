package httpapi

import (
	"net/http"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/token"
)

// namedClientApp resolves the client_id a hosted request names (Mosaic declares no token on
// these routes; its samples send their client token anyway). A Bearer token, when sent, must be a
// valid client token of the same application: a request is never half authenticated.
func (s *Server) namedClientApp(r *http.Request, clientID string) (app.App, error) {
	if clientID == "" {
		return app.App{}, apierr.Invalid("client_id", "is required")
	}
	c, a, err := s.Apps.ClientApp(r.Context(), clientID)
	if err == app.ErrBadClient {
		return app.App{}, apierr.Invalid("client_id", "is not a client of an application")
	}
	if err != nil {
		return app.App{}, err
	}
	if _, sent := r.Header["Authorization"]; sent {
		raw, ok := bearer(r)
		if !ok {
			return app.App{}, apierr.InvalidToken()
		}
		claims, err := s.Tokens.Verify(raw, token.APIAudience)
		if err != nil {
			return app.App{}, apierr.InvalidToken()
		}
		if refusal := kindRefusal(authClient, claims); refusal != nil {
			return app.App{}, refusal
		}
		if live, err := s.Apps.ClientLive(r.Context(), claims.ClientID, claims.AppID); err != nil {
			return app.App{}, err
		} else if !live {
			return app.App{}, apierr.InvalidToken()
		}
		if claims.AppID != c.AppID {
			return app.App{}, apierr.Invalid("client_id", "is not a client of the token's application")
		}
	}
	return a, nil
}

// passwordLogin serves POST /cis/v1/auth/password/login (hosted): {result:{url}}.
func (s *Server) passwordLogin(w http.ResponseWriter, r *http.Request) {
	var req hosted.PasswordLoginRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.namedClientApp(r, req.ClientID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := s.Hosted.PasswordLogin(r.Context(), a, req.ClientID, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// resetEmailLink serves POST /cis/v1/auth/password/reset/email/link.
func (s *Server) resetEmailLink(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req hosted.ResetStartRequest) (any, error) {
		return s.Hosted.ResetEmailLink(r.Context(), a, clientID, req)
	})
}

// resetLink serves POST /cis/v1/auth/password/reset/link.
func (s *Server) resetLink(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req hosted.ResetStartRequest) (any, error) {
		return s.Hosted.ResetLink(r.Context(), a, clientID, req)
	})
}

// resetOTP serves POST /cis/v1/auth/password/reset/email/otp and /reset/sms/otp.
func (s *Server) resetOTP(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveJSON(s, w, r, func(a app.App, clientID string, req hosted.ResetStartRequest) (any, error) {
			return s.Hosted.ResetOTP(r.Context(), a, clientID, kind, req)
		})
	}
}

// resetOTPValidate serves POST /cis/v1/auth/password/reset/{email,sms}/otp/validate.
func (s *Server) resetOTPValidate(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveJSON(s, w, r, func(a app.App, clientID string, req hosted.ResetValidateRequest) (any, error) {
			return s.Hosted.ResetOTPValidate(r.Context(), a, clientID, kind, req)
		})
	}
}

// resetPasswordValidate serves POST /cis/v1/auth/password/reset/password/validate (no token
// declared; client_id names the app, and a Bearer, when sent, must agree).
func (s *Server) resetPasswordValidate(w http.ResponseWriter, r *http.Request) {
	var req hosted.ResetPasswordValidateRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.namedClientApp(r, req.ClientID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := s.Hosted.ResetPasswordValidate(r.Context(), a, req.ClientID, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// resetRedirect serves an emailed reset link: 302 to the start's redirect_uri?code=<reset token>.
// A browser opening a link that cannot be used reads a page that says so in a reset's words.
func (s *Server) resetRedirect(w http.ResponseWriter, r *http.Request) {
	res, err := s.Hosted.ResetRedirect(r.Context(), s.Apps.App, r.URL.Query().Get("code"))
	if wantsHTML(r) && (err != nil || !res.OK) {
		if err != nil {
			logger(r).Error("reset link", "err", err)
			s.renderPage(w, r, http.StatusServiceUnavailable, "problem", pageData{Title: "Password reset is unavailable",
				Heading: "Password reset is unavailable for a moment",
				Lines:   []string{"Latch could not check this link just now. Wait a few seconds, then open the link again; if it no longer works, ask for a new one."}})
			return
		}
		s.renderPage(w, r, http.StatusBadRequest, "problem", pageData{Title: "This password reset link cannot be used",
			Heading: "This password reset link cannot be used",
			Lines: []string{"A reset link works once, for a few minutes. This one has already been used, has expired, or was changed when it was copied.",
				"Your password has not changed."},
			Next: &pageSection{Heading: "How to get a new link", Lines: []string{
				"Go back to the app or website where you asked to reset your password and ask again. Open the newest email you receive."}}})
		return
	}
	redirect(w, r, res.Target, res.OK, err, "invalid_code")
}
