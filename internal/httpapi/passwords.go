package httpapi

import (
	"net/http"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/store"
)

// passwordCaller is who sets a password through the users API: the token's application, and
// whether it is an admin token.
func (s *Server) passwordCaller(r *http.Request) (password.Caller, error) {
	a, _, err := s.callerApp(r)
	if err != nil {
		return password.Caller{}, err
	}
	return password.Caller{App: a, Admin: isAdmin(r)}, nil
}

func (s *Server) setUserPassword(w http.ResponseWriter, r *http.Request, userID string, mode store.PasswordMode, self bool, status int) {
	var in password.CredentialInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.passwordCaller(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	msg, err := s.Passwords.SetCredential(r.Context(), c, userID, in, mode, self)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, map[string]any{"result": msg})
}

func (s *Server) addUserPassword(w http.ResponseWriter, r *http.Request) {
	s.setUserPassword(w, r, r.PathValue("user_id"), store.PasswordAdd, false, http.StatusCreated)
}

func (s *Server) updateUserPassword(w http.ResponseWriter, r *http.Request) {
	s.setUserPassword(w, r, r.PathValue("user_id"), store.PasswordReplace, false, http.StatusOK)
}

// addMyPassword registers a first password for the user of the bearer's user token.
func (s *Server) addMyPassword(w http.ResponseWriter, r *http.Request) {
	s.setUserPassword(w, r, principal(r).Claims.Subject, store.PasswordAdd, true, http.StatusOK)
}

func (s *Server) passwordAuthenticate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, clientID string, req password.AuthenticateRequest) (any, error) {
		return s.Passwords.Authenticate(r.Context(), a, clientID, req)
	})
}

// passwordReset needs no token: the reset token is the credential.
func (s *Server) passwordReset(w http.ResponseWriter, r *http.Request) {
	var req password.ResetRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := s.Passwords.Reset(r.Context(), req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) passwordValidate(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req password.ValidateRequest) (any, error) {
		return s.Passwords.Validate(r.Context(), a, req)
	})
}

func (s *Server) passwordRegister(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, func(a app.App, _ string, req password.RegisterRequest) (any, error) {
		return s.Passwords.Register(r.Context(), a, req)
	})
}
