package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// csrfCookie holds the per-browser CSRF token; every form echoes it in the csrfField hidden field
// (double submit). A cross-site page can make the browser send the cookie but cannot read it to
// fill the field.
const (
	csrfCookie = "latch_csrf"
	csrfField  = "csrf"
	maxForm    = 16 << 10
)

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfToken returns the browser's CSRF token, setting the cookie when it has none.
func (h *handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode})
	// A page rendered in this same response must carry the new token.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	return tok
}

// csrf refuses a POST whose form field does not match the browser's CSRF cookie.
func (h *handler) csrf(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			h.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		c, err := r.Cookie(csrfCookie)
		sent := r.PostForm.Get(csrfField)
		if err != nil || len(c.Value) < 32 || subtle.ConstantTimeCompare([]byte(c.Value), []byte(sent)) != 1 {
			h.message(w, r, http.StatusForbidden, "Form expired",
				"This form could not be accepted (its security token is missing or out of date). Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}
