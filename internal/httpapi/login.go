package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
)

// callerApp returns the application and client id of the client token on the request.
func (s *Server) callerApp(r *http.Request) (app.App, string, error) {
	p := principal(r)
	a, err := s.Apps.App(r.Context(), p.AppID())
	if err != nil {
		return app.App{}, "", apierr.InvalidToken() // the app was deleted after the token was issued
	}
	return a, p.Claims.ClientID, nil
}

// serveJSON decodes a JSON body into req, calls fn with the caller's app and client id, and
// writes the result with 200.
func serveJSON[Req any, Resp any](s *Server, w http.ResponseWriter, r *http.Request, fn func(a app.App, clientID string, req Req) (Resp, error)) {
	serveStatus(s, w, r, http.StatusOK, fn)
}

// serveStatus decodes a JSON body into req, calls fn with the caller's app and client id, and
// writes the result with status.
func serveStatus[Req any, Resp any](s *Server, w http.ResponseWriter, r *http.Request, status int, fn func(a app.App, clientID string, req Req) (Resp, error)) {
	var req Req
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	a, clientID, err := s.callerApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := fn(a, clientID, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, resp)
}

func (s *Server) otpSend(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req otp.SendRequest) (any, error) { return s.OTP.Send(r.Context(), a, req) })
}

func (s *Server) otpAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req otp.AuthenticateRequest) (any, error) {
		return s.OTP.Authenticate(r.Context(), a, clientID, req)
	})
}

func (s *Server) linkSend(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req magiclink.SendRequest) (any, error) {
		return s.Links.Send(r.Context(), a, req)
	})
}

func (s *Server) linkAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req magiclink.AuthenticateRequest) (any, error) {
		return s.Links.Authenticate(r.Context(), a, clientID, req)
	})
}

// linkRedirect serves the emailed link: a 302 to the app's redirect_uri with the code. It
// consumes nothing, so a mail scanner's prefetch does not burn the link.
func (s *Server) linkRedirect(w http.ResponseWriter, r *http.Request) {
	target, ok, err := s.Links.Redirect(r.Context(), r.URL.Query().Get("code"))
	redirect(w, r, target, ok, err, "400")
}

// redirect answers a GET of a sign-in link or result URI: 302 to target, cached nowhere and with
// no Referer to carry the code on; or, when the code cannot be used (!ok), a 400 with code.
func redirect(w http.ResponseWriter, r *http.Request, target string, ok bool, err error, code string) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ok {
		writeError(w, r, apierr.New(http.StatusBadRequest, code, "This link is invalid or has expired"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
}

type sessionRequest struct {
	SessionID string          `json:"session_id"`
	Resource  string          `json:"resource"`
	Claims    json.RawMessage `json:"claims"`
	OrgID     string          `json:"org_id"`
}

func (s *Server) sessionAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req sessionRequest) (any, error) {
		return s.Sessions.Authenticate(r.Context(), a, clientID, req.SessionID, req.Resource, req.Claims)
	})
}

func (s *Server) sessionLogout(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	a, _, err := s.callerApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Sessions.Logout(r.Context(), a.ID, req.SessionID); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) tokenRefresh(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req refreshRequest) (any, error) {
		return s.Sessions.Refresh(r.Context(), a, clientID, req.RefreshToken)
	})
}

// logout ends the session of the bearer's user access token.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if err := s.Sessions.Logout(r.Context(), p.AppID(), p.Claims.SessionID); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"sessions_count": 1})
}
