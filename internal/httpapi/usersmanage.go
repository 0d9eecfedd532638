package httpapi

import (
	"net/http"

	"github.com/latch-auth/latch/internal/user"
)

// usersAccess guards a users route (authUsers): an admin token may always manage users; a
// client token may do what its application's users setting allows (none, read, full).
func (s *Server) usersAccess(write bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAdmin(r) {
			a, err := s.Apps.App(r.Context(), principal(r).AppID())
			if err != nil {
				writeError(w, r, err)
				return
			}
			if err := a.UsersAccess(write); err != nil {
				writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) getUserByExternalID(w http.ResponseWriter, r *http.Request) {
	u, err := s.Users.FindByExternalID(r.Context(), r.PathValue("external_user_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": user.API(u, principal(r).AppID())})
}

// getUserGroups answers the user's groups: Latch has no groups, so a user has none.
func (s *Server) getUserGroups(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("list") != "groups" {
		s.notFound(w, r)
		return
	}
	if _, err := s.Users.Get(r.Context(), r.PathValue("user_id")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": []any{}})
}

func (s *Server) removeUserFromApp(w http.ResponseWriter, r *http.Request) {
	if err := s.Users.RemoveFromApp(r.Context(), r.PathValue("user_id"), principal(r).AppID()); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// verifyInput is UserVerifyEmailOrPhoneNumberInput.
type verifyInput struct {
	ChangeToPrimary bool `json:"change_to_primary"`
}

func (s *Server) verifyUser(typ, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in verifyInput
		if err := decode(r, &in); err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.Users.Verify(r.Context(), r.PathValue("user_id"), typ, r.PathValue(param)); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

func (s *Server) removeUserSecondary(typ, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.Users.RemoveSecondary(r.Context(), r.PathValue("user_id"), typ, r.PathValue(param)); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// getDeviceKeys answers the user's device keys: Latch registers none (no mobile SDK), so 404.
func (s *Server) getDeviceKeys(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, &apiError{status: http.StatusNotFound, code: "not_found", message: "No device key for this user"})
}
