package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// homeView is the sign-in page; the fields refill a form after an error.
type homeView struct {
	Email     string
	Phone     string
	LinkEmail string
	TOTPEmail string
}

// home serves GET /demo: the sign-in choices, or the account page for a signed-in browser.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if ok && d.user != nil {
		seeOther(w, r, "/demo/account")
		return
	}
	p := page{Title: "Latch demo", Nav: "demo", Data: homeView{}}
	if ok {
		p.Flash = h.sessions.takeFlash(id)
	}
	h.render(w, r, http.StatusOK, "home", p)
}

// homeError shows the sign-in page again with what went wrong.
func (h *handler) homeError(w http.ResponseWriter, r *http.Request, status int, msg string, v homeView) {
	h.render(w, r, status, "home", page{Title: "Latch demo", Nav: "demo", Error: msg, Data: v})
}

func (h *handler) latchError(w http.ResponseWriter, r *http.Request, err error, v homeView) {
	status, msg := friendly(err)
	h.homeError(w, r, status, msg, v)
}

// startOTP serves POST /demo/email and /demo/sms: make sure the user exists, then send a code.
func (h *handler) startOTP(channel string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := pendingLogin{Channel: channel, IdentifierType: "email", Identifier: strings.TrimSpace(r.PostForm.Get("email"))}
		v := homeView{Email: p.Identifier}
		missing := "Enter your email address."
		if channel == "sms" {
			p.IdentifierType, p.Identifier = "phone_number", strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("phone")), " ", "")
			v = homeView{Phone: p.Identifier}
			missing = "Enter your phone number, in international format (+ and country code)."
		}
		if p.Identifier == "" {
			h.homeError(w, r, http.StatusBadRequest, missing, v)
			return
		}
		ctx := r.Context()
		if err := h.ensureUser(ctx, p.IdentifierType, p.Identifier); err != nil {
			h.latchError(w, r, err, v)
			return
		}
		send := map[string]string{"channel": channel, "identifier_type": p.IdentifierType, "identifier": p.Identifier}
		if err := h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/otp/send", send, nil); err != nil {
			h.latchError(w, r, err, v)
			return
		}
		id := h.ensureSession(w, r)
		h.sessions.update(id, func(d *demoSession) { d.pending = &p })
		seeOther(w, r, "/demo/code")
	}
}

// ensureUser creates the user when Latch does not know the identifier yet: backend one-time
// login needs an existing user, as it does on Mosaic.
func (h *handler) ensureUser(ctx context.Context, idType, identifier string) error {
	path := "/cis/v1/users/email/" + url.PathEscape(identifier)
	if idType == "phone_number" {
		path = "/cis/v1/users/phone-number/" + url.PathEscape(identifier)
	}
	err := h.latch.asClient(ctx, http.MethodGet, path, nil, nil)
	var le *latchError
	if err == nil || !errors.As(err, &le) || le.Status != http.StatusNotFound {
		return err
	}
	err = h.latch.asClient(ctx, http.MethodPost, "/cis/v1/users", map[string]string{idType: identifier}, nil)
	if errors.As(err, &le) && le.Status == http.StatusConflict {
		return nil // created meanwhile
	}
	return err
}

type codeView struct {
	Channel    string
	Identifier string
	OutboxURL  string
}

// codeForm serves GET /demo/code: where to type the code that was sent.
func (h *handler) codeForm(w http.ResponseWriter, r *http.Request) {
	_, d, ok := h.session(r)
	if !ok || d.pending == nil || d.pending.Channel == "link" {
		seeOther(w, r, "/demo")
		return
	}
	h.render(w, r, http.StatusOK, "code", page{Title: "Enter your code", Nav: "demo", Data: h.codeView(d.pending)})
}

func (h *handler) codeView(p *pendingLogin) codeView {
	return codeView{Channel: p.Channel, Identifier: p.Identifier, OutboxURL: "/dev/outbox?to=" + url.QueryEscape(p.Identifier)}
}

// submitCode serves POST /demo/code: authenticate with the one-time code.
func (h *handler) submitCode(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if !ok || d.pending == nil || d.pending.Channel == "link" {
		seeOther(w, r, "/demo")
		return
	}
	p := d.pending
	code := strings.TrimSpace(r.PostForm.Get("code"))
	fail := func(status int, msg string) {
		h.render(w, r, status, "code", page{Title: "Enter your code", Nav: "demo", Error: msg, Data: h.codeView(p)})
	}
	if code == "" {
		fail(http.StatusBadRequest, "Enter the code you received.")
		return
	}
	var tok userTokens
	req := map[string]string{"passcode": code, "identifier_type": p.IdentifierType, "identifier": p.Identifier}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/otp/authenticate", req, &tok); err != nil {
		fail(friendly(err))
		return
	}
	how := "a code sent by email"
	if p.Channel == "sms" {
		how = "a code sent by SMS"
	}
	if !h.signIn(w, r, id, tok, p.IdentifierType, p.Identifier, "", "You are signed in with "+how+".") {
		return
	}
	seeOther(w, r, "/demo/account")
}

// signIn verifies the ID token and keeps the tokens in the browser's session. It writes an error
// page and returns false when the token does not verify.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request, id string, tok userTokens, idType, identifier, nonce, flash string) bool {
	claims, err := h.ids.verify(r.Context(), tok.IDToken)
	if err == nil && nonce != "" && claimString(claims, "nonce") != nonce {
		err = errors.New("id token nonce does not match")
	}
	if err != nil {
		h.log.Warn("demo: ID token refused", "err", err)
		h.message(w, r, http.StatusBadGateway, "Sign-in failed", "Latch's ID token could not be verified against its JWKS, so the demo did not sign you in.")
		return false
	}
	if e := claimString(claims, "email"); e != "" {
		idType, identifier = "email", e
	}
	h.sessions.update(id, func(d *demoSession) {
		if d.user == nil || d.user.Identifier != identifier {
			d.approval = nil // someone else's approval is not for this person
		}
		d.pending, d.txn, d.enrolment = nil, nil, nil
		d.user = &signedIn{tokens: tok, Claims: claims, IdentifierType: idType, Identifier: identifier}
		d.flash = flash
	})
	return true
}

// startLink serves POST /demo/link: the hosted magic link flow. The state (against forged
// callbacks) and the nonce (bound into the ID token) live in a cookie of this browser.
func (h *handler) startLink(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	v := homeView{LinkEmail: email}
	if email == "" {
		h.homeError(w, r, http.StatusBadRequest, "Enter your email address.", v)
		return
	}
	state, nonce := randomToken(), randomToken()
	req := map[string]any{"email": email, "redirect_uri": h.callback, "create_new_user": true, "state": state, "nonce": nonce}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/links/email", req, nil); err != nil {
		h.latchError(w, r, err, v)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state + "." + nonce, Path: "/demo", MaxAge: 15 * 60,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	id := h.ensureSession(w, r)
	h.sessions.update(id, func(d *demoSession) {
		d.pending = &pendingLogin{Channel: "link", IdentifierType: "email", Identifier: email}
	})
	seeOther(w, r, "/demo/link")
}

// linkSent serves GET /demo/link: "check your email".
func (h *handler) linkSent(w http.ResponseWriter, r *http.Request) {
	_, d, ok := h.session(r)
	if !ok || d.pending == nil || d.pending.Channel != "link" {
		seeOther(w, r, "/demo")
		return
	}
	h.render(w, r, http.StatusOK, "link", page{Title: "Check your email", Nav: "demo", Data: h.codeView(d.pending)})
}

// linkCallback serves GET /demo/callback: Latch's redirect with ?code=&state=. The code is
// exchanged here, server-side, with the client secret.
func (h *handler) linkCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(stateCookie)
	state, nonce, _ := strings.Cut(func() string {
		if err != nil {
			return ""
		}
		return c.Value
	}(), ".")
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/demo", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	if state == "" || !equal(state, q.Get("state")) {
		h.message(w, r, http.StatusBadRequest, "Sign-in link not accepted",
			"This sign-in link was started in another browser, or more than 15 minutes ago. Ask for a new link from the demo's home page in this browser.")
		return
	}
	if q.Get("code") == "" {
		h.message(w, r, http.StatusBadRequest, "Sign-in link not accepted", "The sign-in link came back without a code. Ask for a new one.")
		return
	}
	tok, err := h.latch.exchange(r.Context(), q.Get("code"), h.callback)
	if err != nil {
		_, msg := friendly(err)
		h.message(w, r, http.StatusBadRequest, "Sign-in link not accepted", msg)
		return
	}
	id := h.ensureSession(w, r)
	if !h.signIn(w, r, id, tok, "email", "", nonce, "You are signed in with a magic link.") {
		return
	}
	seeOther(w, r, "/demo/account")
}

// totpSignIn serves POST /demo/totp/signin: email and authenticator code as the only factor.
func (h *handler) totpSignIn(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	code := strings.TrimSpace(r.PostForm.Get("code"))
	v := homeView{TOTPEmail: email}
	if email == "" || code == "" {
		h.homeError(w, r, http.StatusBadRequest, "Enter your email address and the code from your authenticator app.", v)
		return
	}
	var tok userTokens
	req := map[string]string{"token": code, "identifier": email, "identifier_type": "email"}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/totp/authenticate", req, &tok); err != nil {
		h.latchError(w, r, err, v)
		return
	}
	id := h.ensureSession(w, r)
	if !h.signIn(w, r, id, tok, "email", email, "", "You are signed in with your authenticator app.") {
		return
	}
	seeOther(w, r, "/demo/account")
}

// equal compares two non-empty secrets in constant time.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
