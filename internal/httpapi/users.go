package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// createUserBody is ApiCreateUserInput: the user and, optionally, a password credential.
type createUserBody struct {
	user.Input
	Credentials *password.CredentialInput
}

// UnmarshalJSON reads the user's fields and credentials separately, so that a field of the
// wrong type is named as the request names it ("name.first_name", "credentials.password").
func (b *createUserBody) UnmarshalJSON(raw []byte) error {
	if err := json.Unmarshal(raw, &b.Input); err != nil {
		return err
	}
	var c struct {
		Credentials *password.CredentialInput `json:"credentials"`
	}
	err := json.Unmarshal(raw, &c)
	b.Credentials = c.Credentials
	return err
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in createUserBody
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	in.AppID = principal(r).Claims.AppID
	var u store.User
	var err error
	if in.Credentials != nil {
		var caller password.Caller
		if caller, err = s.passwordCaller(r); err == nil {
			u, err = s.Passwords.CreateUser(r.Context(), caller, in.Input, *in.Credentials)
		}
	} else {
		u, err = s.Users.Create(r.Context(), in.Input)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeUserWithPassword(w, r, http.StatusCreated, u)
}

// writeUserWithPassword writes a single user, with password_information when they have a password.
func (s *Server) writeUserWithPassword(w http.ResponseWriter, r *http.Request, status int, u store.User) {
	out := user.API(u, principal(r).Claims.AppID)
	a, _, err := s.callerApp(r)
	if err == nil {
		var info map[string]any
		if info, err = s.Passwords.Information(r.Context(), a, u.ID); info != nil {
			out["password_information"] = info
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, map[string]any{"result": out})
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	var in user.Input
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	in.AppID = principal(r).Claims.AppID
	u, err := s.Users.Update(r.Context(), r.PathValue("user_id"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeUserWithPassword(w, r, http.StatusOK, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.writeUser(w, r, user.IDUserID, r.PathValue("user_id"), "user_id")
}

func (s *Server) getUserByEmail(w http.ResponseWriter, r *http.Request) {
	s.writeUser(w, r, user.IDEmail, r.PathValue("email"), "email")
}

func (s *Server) getUserByPhone(w http.ResponseWriter, r *http.Request) {
	s.writeUser(w, r, user.IDPhone, r.PathValue("phone_number"), "phone_number")
}

func (s *Server) getUserByUsername(w http.ResponseWriter, r *http.Request) {
	s.writeUser(w, r, user.IDUsername, r.PathValue("username"), "username")
}

// identifierNames maps users.yml's identifier_name values to Latch identifier types.
var identifierNames = map[string]string{"email": user.IDEmail, "phoneNumber": user.IDPhone, "phone_number": user.IDPhone, "username": user.IDUsername, "user_id": user.IDUserID, "userId": user.IDUserID}

func (s *Server) getUserByIdentifier(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("identifier_name")
	typ, ok := identifierNames[name]
	if !ok {
		writeError(w, r, apierr.Invalid("identifier_name", "must be one of email, phoneNumber, username, user_id"))
		return
	}
	s.writeUser(w, r, typ, r.URL.Query().Get("identifier_value"), "identifier_value")
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, typ, identifier, field string) {
	u, err := s.Users.Lookup(r.Context(), typ, identifier, field)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeUserWithPassword(w, r, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.Users.Delete(r.Context(), r.PathValue("user_id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userQuery reads the search and paging parameters of users.yml.
func userQuery(r *http.Request) (store.UserQuery, error) {
	v := r.URL.Query()
	q := store.UserQuery{Search: v.Get("search"), Prefix: v.Get("search_prefix"), Limit: 100}
	intParam := func(name string, dst *int, max int) error {
		raw := v.Get(name)
		if raw == "" {
			return nil
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > max {
			return apierr.Invalid(name, "must be an integer between 0 and "+strconv.Itoa(max))
		}
		*dst = n
		return nil
	}
	if err := intParam("page_offset", &q.Offset, 1<<30); err != nil {
		return q, err
	}
	if err := intParam("page_limit", &q.Limit, 5000); err != nil {
		return q, err
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	switch f := v.Get("sort_field"); f {
	case "", "created_at", "email", "phone_number", "last_auth":
		q.SortField = f
	default:
		return q, apierr.Invalid("sort_field", "must be one of created_at, email, phone_number, last_auth")
	}
	switch o := v.Get("sort_order"); o {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, apierr.Invalid("sort_order", "must be asc or desc")
	}
	return q, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q, err := userQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	users, total, err := s.Users.List(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(users))
	for _, u := range users {
		out = append(out, user.API(u, principal(r).Claims.AppID))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"result":      out,
		"total_count": total,
		"page_info":   map[string]bool{"has_next_page": q.Offset+len(users) < total, "has_previous_page": q.Offset > 0},
	})
}

func (s *Server) countUsers(w http.ResponseWriter, r *http.Request) {
	q, err := userQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	n, err := s.Users.Count(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": map[string]int{"user_count": n}})
}
