package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// The demo is a relying party of Latch's OpenID Connect provider: "Sign in" sends the browser to
// /cis/oidc/auth (authorization code flow with PKCE, as a confidential client with the demo's own
// client), and /demo/callback exchanges the code server-side. The state, nonce and PKCE verifier
// live in a cookie of this browser for the length of one sign-in.

const oidcCookie = "latch_demo_oidc"

// signInOIDC serves GET /demo/signin: off to Latch's sign-in pages.
func (h *handler) signInOIDC(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomToken(), randomToken(), randomToken()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {h.latch.clientID}, "redirect_uri": {h.callback}, "response_type": {"code"},
		"scope": {"openid email phone offline_access"}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if r.URL.Query().Get("mfa") == "1" {
		q.Set("acr_values", "mfa")
	}
	if hint := strings.TrimSpace(r.URL.Query().Get("login_hint")); hint != "" && len(hint) <= 320 {
		q.Set("login_hint", hint)
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state + "." + nonce + "." + verifier, Path: "/demo", MaxAge: 15 * 60,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.latch.base+"/cis/oidc/auth?"+q.Encode(), http.StatusSeeOther)
}

// oidcCallback handles /demo/callback when it answers a sign-in started by signInOIDC (it
// reports false when the browser has no such sign-in in progress).
func (h *handler) oidcCallback(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Get("state") == signedOutState && q.Get("code") == "" {
		id := h.ensureSession(w, r)
		h.sessions.update(id, func(d *demoSession) { d.flash = "You are signed out of the demo and of Latch in this browser." })
		seeOther(w, r, "/demo")
		return true
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || !equal(parts[0], q.Get("state")) {
		return false // perhaps a hosted magic link's callback
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/demo", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	nonce, verifier := parts[1], parts[2]
	if e := q.Get("error"); e != "" {
		msg := "Latch answered " + e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		h.message(w, r, http.StatusBadRequest, "Not signed in", msg+".")
		return true
	}
	if q.Get("code") == "" {
		h.message(w, r, http.StatusBadRequest, "Not signed in", "Latch came back without a code. Start again from the demo's home page.")
		return true
	}
	tok, err := h.latch.exchangePKCE(r.Context(), q.Get("code"), h.callback, verifier)
	if err != nil {
		_, msg := friendly(err)
		h.message(w, r, http.StatusBadRequest, "Not signed in", msg)
		return true
	}
	tok.viaOIDC = true
	id := h.ensureSession(w, r)
	if !h.signIn(w, r, id, tok, "email", "", nonce, "You are signed in through Latch's sign-in pages (OpenID Connect).") {
		return true
	}
	seeOther(w, r, "/demo/account")
	return true
}

// signedOutState marks the return from Latch's logout (post_logout_redirect_uri is the callback).
const signedOutState = "signed-out"

// endSessionURL is where the demo sends the browser after signing out of a sign-in made through
// Latch's pages: Latch ends its browser session too and comes back to the callback.
func (h *handler) endSessionURL(idToken string) string {
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {h.callback}, "state": {signedOutState}}
	return h.latch.base + "/cis/oidc/session/end?" + q.Encode()
}
