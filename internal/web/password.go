package web

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The demo's password sign-in: Latch's hosted password login with require_mfa, then a hosted
// email OTP as the second factor, the two tied by Latch's own cookie in this browser.
//
//  1. POST /demo/password: POST /cis/v1/auth/password/login (require_mfa) → the browser is sent
//     to its result URL, where Latch starts a session that yields no token, sets its tie cookie
//     and redirects to /demo/callback?error=mfa_required&state=….
//  2. /demo/callback (passwordCallback): POST /cis/v1/auth/otp/email (require_mfa) → the code
//     page.
//  3. POST /demo/password/code: POST /cis/v1/auth/otp/email/validation → the browser is sent to
//     the result URL, where Latch (seeing its tie cookie) completes the session and redirects to
//     /demo/callback?code=…, exchanged here for tokens whose amr holds pwd, eotp and mfa.
//
// What the flow must remember between the steps (the state against forged callbacks, the nonce
// bound into the ID token, and the email) lives in the cookie passwordCookie of this browser.

const passwordCookie = "latch_demo_pw"

// passwordView is the password page: the password form, or (Step "code") the code form.
type passwordView struct {
	Step      string
	Email     string
	OutboxURL string
	Notice    *notice
}

type passwordFlow struct{ state, nonce, email string }

func (h *handler) passwordFlowOf(r *http.Request) (passwordFlow, bool) {
	c, err := r.Cookie(passwordCookie)
	if err != nil {
		return passwordFlow{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return passwordFlow{}, false
	}
	email, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || parts[0] == "" {
		return passwordFlow{}, false
	}
	return passwordFlow{state: parts[0], nonce: parts[1], email: string(email)}, true
}

func (h *handler) setPasswordFlow(w http.ResponseWriter, f *passwordFlow) {
	c := &http.Cookie{Name: passwordCookie, Path: "/demo", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode}
	if f == nil {
		c.MaxAge = -1
	} else {
		c.Value, c.MaxAge = f.state+"."+f.nonce+"."+base64.RawURLEncoding.EncodeToString([]byte(f.email)), 15*60
	}
	http.SetCookie(w, c)
}

// passwordForm serves GET /demo/password.
func (h *handler) passwordForm(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if ok && d.user != nil {
		seeOther(w, r, "/demo/account")
		return
	}
	p := page{Title: "Sign in with a password", Nav: "demo"}
	var n *notice
	if ok {
		p.Flash, n = h.sessions.takeMessages(id)
	}
	p.Data = passwordView{Step: "password", Notice: n}
	h.render(w, r, http.StatusOK, "password", p)
}

// passwordSignIn serves POST /demo/password: the first factor.
func (h *handler) passwordSignIn(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	id := h.ensureSession(w, r)
	fail := func(field, msg string) {
		h.refuse(w, r, id, "/demo/password", notice{Form: "password", Field: field, Message: msg, Values: map[string]string{"email": email}})
	}
	switch {
	case email == "":
		fail("email", "Enter your email address.")
		return
	case pw == "":
		fail("password", "Enter your password.")
		return
	}
	f := passwordFlow{state: randomToken(), nonce: randomToken(), email: email}
	var out struct {
		Result struct {
			URL string `json:"url"`
		} `json:"result"`
	}
	req := map[string]any{"email": email, "password": pw, "client_id": h.latch.clientID, "redirect_uri": h.callback,
		"require_mfa": true, "state": f.state, "nonce": f.nonce}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/password/login", req, &out); err != nil {
		fail(passwordRefusal(err))
		return
	}
	if !strings.HasPrefix(out.Result.URL, h.latch.base+"/") {
		h.message(w, r, http.StatusBadGateway, "Sign-in failed", "Latch answered a sign-in URL on another server, so the demo did not follow it.")
		return
	}
	h.setPasswordFlow(w, &f)
	seeOther(w, r, out.Result.URL)
}

// passwordRefusal is what the password form says for a refused login. A wrong password and an
// unknown email read the same, as Latch answers them the same.
func passwordRefusal(err error) (field, msg string) {
	var le *latchError
	if !errors.As(err, &le) {
		_, msg := friendly(err)
		return "", msg
	}
	switch {
	case le.Status == http.StatusUnauthorized || le.Code == "auth_invalid_credentials" || le.Code == "user_not_found":
		return "password", "That email address and password do not match. Check them and try again."
	case le.Message == "temporary_password" || le.Message == "password_expired":
		return "", "This password must be changed before it can be used to sign in. Ask the app's administrator for a password reset."
	case le.Code == "auth_locked":
		return "", "Too many wrong passwords: signing in with a password is paused for this account. Try again later."
	case le.Status == http.StatusForbidden:
		return "", "Passwords are not enabled for this app. Enable them in the app's settings (password_enabled) to try this page."
	}
	_, msg = friendly(err)
	return "", msg
}

// passwordCallback handles /demo/callback when it ends a step of this browser's password
// sign-in (its state matches the flow's cookie); false leaves the request to the link callback.
func (h *handler) passwordCallback(w http.ResponseWriter, r *http.Request) bool {
	f, ok := h.passwordFlowOf(r)
	q := r.URL.Query()
	if !ok || !equal(f.state, q.Get("state")) {
		return false
	}
	id := h.ensureSession(w, r)
	switch {
	case q.Get("error") == "mfa_required":
		send := map[string]any{"email": f.email, "redirect_uri": h.callback, "require_mfa": true,
			"state": f.state, "nonce": f.nonce, "expires_in": codeMinutes}
		if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/otp/email", send, nil); err != nil {
			h.setPasswordFlow(w, nil)
			h.refuse(w, r, id, "/demo/password", notice{Form: "password", Message: "Your password was right, but the code could not be emailed: " +
				func() string { _, m := friendly(err); return m }()})
			return true
		}
		seeOther(w, r, "/demo/password/code")
	case q.Get("code") != "":
		h.setPasswordFlow(w, nil)
		tok, err := h.latch.exchange(r.Context(), q.Get("code"), h.callback)
		if err != nil {
			_, msg := friendly(err)
			h.message(w, r, http.StatusBadRequest, "Sign-in not completed", msg)
			return true
		}
		if h.signIn(w, r, id, tok, "email", f.email, f.nonce, "You are signed in with your password and a code sent by email.") {
			seeOther(w, r, "/demo/account")
		}
	default:
		h.setPasswordFlow(w, nil)
		h.message(w, r, http.StatusBadRequest, "Sign-in not completed", "Latch did not complete the sign-in. Start again from the password page.")
	}
	return true
}

// passwordCodeForm serves GET /demo/password/code: the second factor.
func (h *handler) passwordCodeForm(w http.ResponseWriter, r *http.Request) {
	f, ok := h.passwordFlowOf(r)
	if !ok {
		seeOther(w, r, "/demo/password")
		return
	}
	p := page{Title: "Enter your code", Nav: "demo"}
	var n *notice
	if id, _, ok := h.session(r); ok {
		p.Flash, n = h.sessions.takeMessages(id)
	}
	p.Data = passwordView{Step: "code", Email: f.email, OutboxURL: "/dev/outbox?to=" + url.QueryEscape(f.email), Notice: n}
	h.render(w, r, http.StatusOK, "password", p)
}

// passwordCode serves POST /demo/password/code: validate the emailed code, and send the browser
// to the result URL that completes the sign-in.
func (h *handler) passwordCode(w http.ResponseWriter, r *http.Request) {
	f, ok := h.passwordFlowOf(r)
	if !ok {
		seeOther(w, r, "/demo/password")
		return
	}
	id := h.ensureSession(w, r)
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.refuse(w, r, id, "/demo/password/code", notice{Form: "code", Field: "code", Message: "Enter the code from the email."})
		return
	}
	var out struct {
		Result string `json:"result"`
	}
	req := map[string]string{"email": f.email, "passcode": code}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/otp/email/validation", req, &out); err != nil {
		field, msg := h.explain(id, actCode, "otp:"+f.email, err)
		h.refuse(w, r, id, "/demo/password/code", notice{Form: "code", Field: field, Message: msg})
		return
	}
	if !strings.HasPrefix(out.Result, h.latch.base+"/") {
		h.message(w, r, http.StatusBadGateway, "Sign-in failed", "Latch answered a sign-in URL on another server, so the demo did not follow it.")
		return
	}
	seeOther(w, r, out.Result)
}
