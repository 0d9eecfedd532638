package httpapi

import (
	"errors"
	"net/http"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/totp"
)

// serveUser decodes a JSON body into req, calls fn with the app and user of the bearer's user
// access token, and writes the result with status.
func serveUser[Req any, Resp any](s *Server, w http.ResponseWriter, r *http.Request, status int, fn func(a app.App, userID string, req Req) (Resp, error)) {
	serveStatus(s, w, r, status, func(a app.App, _ string, req Req) (Resp, error) { return fn(a, principal(r).Claims.Subject, req) })
}

// actor is the user of the bearer's user access token, as the TOTP service's second-factor rule
// knows them: by the token's session.
func actor(r *http.Request) totp.Actor { return totp.UserActor(principal(r).Claims.SessionID) }

func (s *Server) totpRegister(w http.ResponseWriter, r *http.Request) {
	serveUser(s, w, r, http.StatusCreated, func(a app.App, userID string, req totp.RegisterRequest) (totp.Registration, error) {
		return s.TOTP.Register(r.Context(), a, userID, actor(r), req)
	})
}

// recoveryRequest is the (empty) body of recovery code generation.
type recoveryRequest struct{}

func (s *Server) recoveryGenerate(w http.ResponseWriter, r *http.Request) {
	serveUser(s, w, r, http.StatusCreated, func(a app.App, userID string, _ recoveryRequest) (totp.RecoveryCodes, error) {
		return s.TOTP.GenerateRecoveryCodes(r.Context(), a, userID, actor(r))
	})
}

func (s *Server) recoveryRemaining(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.callerApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	n, err := s.TOTP.RemainingRecoveryCodes(r.Context(), a, principal(r).Claims.Subject)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) recoveryAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req totp.RecoveryAuthenticateRequest) (any, error) {
		return s.TOTP.AuthenticateRecovery(r.Context(), a, clientID, req)
	})
}

func (s *Server) totpAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req totp.AuthenticateRequest) (any, error) {
		req.Challenge = "" // not a field of this endpoint
		return s.TOTP.Authenticate(r.Context(), a, clientID, req)
	})
}

func (s *Server) totpTransactionStart(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req totp.StartTransactionRequest) (any, error) {
		return s.TOTP.StartTransaction(r.Context(), a, req)
	})
}

func (s *Server) totpTransactionAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req totp.AuthenticateRequest) (any, error) {
		return s.TOTP.AuthenticateTransaction(r.Context(), a, clientID, req)
	})
}

func (s *Server) totpRevokeMine(w http.ResponseWriter, r *http.Request) {
	serveUser(s, w, r, http.StatusOK, func(a app.App, userID string, req totp.RevokeRequest) (totp.Revoked, error) {
		return s.TOTP.Revoke(r.Context(), a, userID, actor(r), req)
	})
}

// totpRevokeUser is the management revoke: a client token revokes a user's TOTPs in its app.
func (s *Server) totpRevokeUser(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req totp.RevokeRequest) (any, error) {
		return s.TOTP.Revoke(r.Context(), a, r.PathValue("userId"), totp.OperatorActor(), req)
	})
}

func (s *Server) totpCreateDevice(w http.ResponseWriter, r *http.Request) {
	serveUser(s, w, r, http.StatusCreated, func(a app.App, userID string, req totp.CreateDeviceRequest) (totp.DeviceCreated, error) {
		return s.TOTP.CreateDevice(r.Context(), a, userID, actor(r), req)
	})
}

func (s *Server) totpListDevices(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.callerApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := s.TOTP.ListDevices(r.Context(), a, principal(r).Claims.Subject)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// totpActivateDevice answers errors the service meant for the caller with seed 001's
// {status:"FAILED", error_code, message}; the reference puts a top-level status in this reply.
func (s *Server) totpActivateDevice(w http.ResponseWriter, r *http.Request) {
	var req totp.ActivateDeviceRequest
	err := decode(r, &req)
	var a app.App
	if err == nil {
		a, _, err = s.callerApp(r)
	}
	var resp totp.DeviceActivated
	if err == nil {
		resp, err = s.TOTP.ActivateDevice(r.Context(), a, principal(r).Claims.Subject, actor(r), r.PathValue("authId"), req)
	}
	var ae *apierr.Error
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, resp)
	case errors.As(err, &ae) && ae.Status < 500 && ae.Code != "":
		writeJSON(w, ae.Status, map[string]any{"status": "FAILED", "error_code": ae.Code, "message": ae.Message})
	default:
		writeError(w, r, err)
	}
}

func (s *Server) totpDeleteDevice(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.callerApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.TOTP.DeleteDevice(r.Context(), a, principal(r).Claims.Subject, actor(r), r.PathValue("authId")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
