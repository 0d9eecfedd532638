package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// homeView is the sign-in page.
type homeView struct {
	Notice *notice
}

// home serves GET /demo: the sign-in choices, or the account page for a signed-in browser.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if ok && d.user != nil {
		seeOther(w, r, "/demo/account")
		return
	}
	p := page{Title: "Latch demo", Nav: "demo"}
	var n *notice
	if ok {
		p.Flash, n = h.sessions.takeMessages(id)
	}
	p.Data = homeView{Notice: n}
	h.render(w, r, http.StatusOK, "home", p)
}

// refuse remembers what was wrong with a form and sends the browser back to the page that shows
// it (post/redirect/get: reloading that page never submits the form again).
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, id, to string, n notice) {
	if id == "" {
		id = h.ensureSession(w, r)
	}
	h.sessions.update(id, func(d *demoSession) { d.notice = &n })
	seeOther(w, r, to)
}

// startOTP serves POST /demo/email and /demo/sms: make sure the user exists, then send a code.
func (h *handler) startOTP(channel string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := pendingLogin{Channel: channel, IdentifierType: "email", Identifier: strings.TrimSpace(r.PostForm.Get("email"))}
		field, missing, invalid := "email", "Enter your email address.", "Enter an email address such as ada@example.com."
		if channel == "sms" {
			p.IdentifierType, p.Identifier = "phone_number", strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("phone")), " ", "")
			field, missing = "phone", "Enter your phone number in international format: + and the country code, such as +15551234567."
			invalid = "Enter the phone number in international format: + and the country code, such as +15551234567."
		}
		id := h.ensureSession(w, r)
		fail := func(field, msg string) {
			h.refuse(w, r, id, "/demo", notice{Form: channel, Field: field, Message: msg, Values: map[string]string{field: p.Identifier}})
		}
		if p.Identifier == "" {
			fail(field, missing)
			return
		}
		err := h.ensureUser(r.Context(), p.IdentifierType, p.Identifier)
		if err == nil {
			err = h.sendCode(r.Context(), p)
		}
		if err != nil && !accountRefused(err) {
			f, msg := h.explain(id, actSend, "otp:"+p.Identifier, err)
			if invalidInput(err) { // whatever Latch calls the field, it is the one this form has
				f, msg = field, invalid
			}
			fail(f, msg)
			return
		}
		// A disabled account is told nothing: the page says a code was sent, as for anyone.
		now := h.now()
		p.SentAt, p.ExpiresAt = now, now.Add(codeMinutes*time.Minute)
		h.sessions.update(id, func(d *demoSession) { d.pending = &p })
		seeOther(w, r, "/demo/code")
	}
}

// sendCode asks Latch to send a one-time code for p.
func (h *handler) sendCode(ctx context.Context, p pendingLogin) error {
	send := map[string]any{"channel": p.Channel, "identifier_type": p.IdentifierType, "identifier": p.Identifier,
		"expires_in": codeMinutes}
	return h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/otp/send", send, nil)
}

// accountRefused reports whether Latch refused because of the account itself (unknown or not
// active): a signed-out visitor must not be able to tell that from a sent code.
func accountRefused(err error) bool {
	var le *latchError
	return errors.As(err, &le) && (le.Code == "user_not_found" || le.Code == "user_not_active")
}

// invalidInput reports whether Latch refused the input itself (400 system_invalid_input).
func invalidInput(err error) bool {
	var le *latchError
	return errors.As(err, &le) && le.Code == "system_invalid_input"
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
	Expiry     string // "The code expires in 5 minutes." or "The code has expired."
	Expired    bool
	Wait       string // how long before a new code may be asked for; "" when it may now
	Notice     *notice
}

// codeForm serves GET /demo/code: where to type the code that was sent.
func (h *handler) codeForm(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if !ok || d.pending == nil || d.pending.Channel == "link" {
		seeOther(w, r, "/demo")
		return
	}
	flash, n := h.sessions.takeMessages(id)
	h.render(w, r, http.StatusOK, "code", page{Title: "Enter your code", Nav: "demo", Flash: flash, Data: h.codeView(d.pending, n)})
}

func (h *handler) codeView(p *pendingLogin, n *notice) codeView {
	now := h.now()
	v := codeView{Channel: p.Channel, Identifier: p.Identifier, OutboxURL: "/dev/outbox?to=" + url.QueryEscape(p.Identifier), Notice: n}
	what := "code"
	if p.Channel == "link" {
		what = "link"
	}
	if left := p.ExpiresAt.Sub(now); left > 0 {
		v.Expiry = "The " + what + " expires in " + waitWords(left) + "."
	} else {
		v.Expiry, v.Expired = "The "+what+" has expired.", true
	}
	if wait := p.SentAt.Add(resendWait).Sub(now); wait > 0 {
		v.Wait = waitWords(wait)
	}
	return v
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
	if code == "" {
		h.refuse(w, r, id, "/demo/code", notice{Form: "code", Field: "code", Message: "Enter the code from the message."})
		return
	}
	var tok userTokens
	req := map[string]string{"passcode": code, "identifier_type": p.IdentifierType, "identifier": p.Identifier}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/otp/authenticate", req, &tok); err != nil {
		field, msg := h.explain(id, actCode, "otp:"+p.Identifier, err)
		h.refuse(w, r, id, "/demo/code", notice{Form: "code", Field: field, Message: msg})
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

// resendCode serves POST /demo/code/resend: a new code, once resendWait has passed since the last.
func (h *handler) resendCode(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if !ok || d.pending == nil || d.pending.Channel == "link" {
		seeOther(w, r, "/demo")
		return
	}
	p := *d.pending
	now := h.now()
	if wait := p.SentAt.Add(resendWait).Sub(now); wait > 0 {
		h.refuse(w, r, id, "/demo/code", notice{Form: "resend", Message: "You can ask for a new code in " + waitWords(wait) + "."})
		return
	}
	if err := h.sendCode(r.Context(), p); err != nil && !accountRefused(err) {
		_, msg := h.explain(id, actSend, "otp:"+p.Identifier, err)
		h.refuse(w, r, id, "/demo/code", notice{Form: "resend", Message: msg})
		return
	}
	p.SentAt, p.ExpiresAt = now, now.Add(codeMinutes*time.Minute)
	h.sessions.update(id, func(d *demoSession) {
		d.pending = &p
		d.flash = "We sent a new code to " + p.Identifier + ". The previous code no longer works."
	})
	seeOther(w, r, "/demo/code")
}

// signIn verifies the ID token and keeps the tokens in a new session of the browser (a new id,
// so that an id known before the sign-in is never a signed-in one). It writes an error page and
// returns false when the token does not verify.
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
	old, _ := h.sessions.get(id)
	h.sessions.delete(id)
	h.sessions.update(h.newSession(w), func(d *demoSession) {
		d.locks = old.locks
		if old.user != nil && old.user.Identifier == identifier {
			d.approval = old.approval // someone else's approval is not for this person
		}
		d.user = &signedIn{tokens: tok, Claims: claims, IdentifierType: idType, Identifier: identifier}
		d.flash = flash
	})
	return true
}

// startLink serves POST /demo/link: the hosted magic link flow. The state (against forged
// callbacks) and the nonce (bound into the ID token) live in a cookie of this browser.
func (h *handler) startLink(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	id := h.ensureSession(w, r)
	fail := func(field, msg string) {
		h.refuse(w, r, id, "/demo", notice{Form: "link", Field: field, Message: msg, Values: map[string]string{"email": email}})
	}
	if email == "" {
		fail("email", "Enter your email address.")
		return
	}
	state, nonce := randomToken(), randomToken()
	req := map[string]any{"email": email, "redirect_uri": h.callback, "create_new_user": true, "state": state, "nonce": nonce,
		"email_expiration": linkMinutes}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/links/email", req, nil); err != nil && !accountRefused(err) {
		field, msg := h.explain(id, actSend, "link:"+email, err)
		fail(field, msg)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state + "." + nonce, Path: "/demo", MaxAge: 15 * 60,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	now := h.now()
	h.sessions.update(id, func(d *demoSession) {
		d.pending = &pendingLogin{Channel: "link", IdentifierType: "email", Identifier: email, SentAt: now,
			ExpiresAt: now.Add(linkMinutes * time.Minute)}
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
	h.render(w, r, http.StatusOK, "link", page{Title: "Check your email", Nav: "demo", Data: h.codeView(d.pending, nil)})
}

// linkCallback serves GET /demo/callback: Latch's redirect with ?code=&state=. The code is
// exchanged here, server-side, with the client secret.
func (h *handler) linkCallback(w http.ResponseWriter, r *http.Request) {
	if h.oidcCallback(w, r) || h.passwordCallback(w, r) { // the OIDC sign-in (oidc.go) or a step of the password sign-in (password.go)
		return
	}
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
// Every refusal that concerns the account reads the same (totpSignInFailed).
func (h *handler) totpSignIn(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	code := strings.TrimSpace(r.PostForm.Get("code"))
	id := h.ensureSession(w, r)
	fail := func(field, msg string) {
		h.refuse(w, r, id, "/demo", notice{Form: "totp", Field: field, Message: msg, Values: map[string]string{"email": email}})
	}
	switch {
	case email == "":
		fail("email", "Enter your email address.")
		return
	case code == "":
		fail("code", "Enter the code your authenticator app shows.")
		return
	}
	var tok userTokens
	req := map[string]string{"token": code, "identifier": email, "identifier_type": "email"}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/totp/authenticate", req, &tok); err != nil {
		fail(h.explain(id, actTOTPSignIn, "totp:"+email, err))
		return
	}
	if !h.signIn(w, r, id, tok, "email", email, "", "You are signed in with your authenticator app.") {
		return
	}
	seeOther(w, r, "/demo/account")
}

// equal compares two non-empty secrets in constant time.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
