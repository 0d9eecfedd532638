package web

import (
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// accountView is the signed-in page.
type accountView struct {
	Who      string
	AMR      []string
	MFA      bool
	TOTP     bool // the session already has a TOTP factor
	Claims   []claimRow
	Approval *approval
}

// account serves GET /demo/account: who is signed in, and what to try next.
func (h *handler) account(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment = nil }) // the secret is shown once
	h.renderAccount(w, r, http.StatusOK, h.sessions.takeFlash(id), "", d)
}

func (h *handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, flash, errMsg string, d demoSession) {
	u := d.user
	amr := stringList(u.Claims["amr"])
	v := accountView{Who: u.Identifier, AMR: amr, MFA: slices.Contains(amr, "mfa"), TOTP: slices.Contains(amr, "totp"),
		Claims: claimRows(u.Claims), Approval: d.approval}
	h.render(w, r, status, "account", page{Title: "Signed in", Nav: "demo", Flash: flash, Error: errMsg, Data: v})
}

// signedIn returns the browser's session when someone is signed in; otherwise it sends the
// browser to the sign-in page and returns false.
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request) (string, demoSession, bool) {
	id, d, ok := h.session(r)
	if !ok || d.user == nil {
		if ok {
			h.sessions.update(id, func(d *demoSession) { d.flash = "Sign in first." })
		}
		seeOther(w, r, "/demo")
		return "", demoSession{}, false
	}
	return id, d, true
}

// accountError shows the account page with what went wrong. A user token Latch refuses means
// the session ended: the demo forgets it and asks for a new sign-in.
func (h *handler) accountError(w http.ResponseWriter, r *http.Request, id string, d demoSession, err error) {
	status, msg := friendly(err)
	var le *latchError
	if errors.As(err, &le) && le.Status == http.StatusUnauthorized {
		h.sessions.update(id, func(d *demoSession) { *d = demoSession{expires: d.expires, flash: msg} })
		seeOther(w, r, "/demo")
		return
	}
	h.renderAccount(w, r, status, "", msg, d)
}

// totpEnrol serves POST /demo/totp: register an authenticator with the user's access token.
func (h *handler) totpEnrol(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var out struct {
		Secret string `json:"secret"`
		URI    string `json:"uri"`
		QRCode string `json:"qr_code"`
	}
	err := h.latch.call(r.Context(), http.MethodPost, "/cis/v1/users/me/totp", d.user.tokens.AccessToken, map[string]any{}, &out)
	if err != nil {
		h.accountError(w, r, id, d, err)
		return
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment = &enrolment{Secret: out.Secret, URI: out.URI, QRCode: out.QRCode} })
	seeOther(w, r, "/demo/totp")
}

type enrolView struct {
	Secret string
	URI    string
	QRCode template.URL
}

var pngDataURL = regexp.MustCompile(`^data:image/png;base64,[A-Za-z0-9+/]+={0,2}$`)

// totpShow serves GET /demo/totp: the new authenticator's QR code and secret.
func (h *handler) totpShow(w http.ResponseWriter, r *http.Request) {
	_, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if d.enrolment == nil {
		seeOther(w, r, "/demo/account")
		return
	}
	v := enrolView{Secret: d.enrolment.Secret, URI: d.enrolment.URI}
	if pngDataURL.MatchString(d.enrolment.QRCode) {
		v.QRCode = template.URL(d.enrolment.QRCode) // checked: a base64 PNG, safe in <img src>
	}
	h.render(w, r, http.StatusOK, "totp", page{Title: "Set up your authenticator app", Nav: "demo", Data: v})
}

// identifier is how the signed-in user is named to the TOTP endpoints.
func (u *signedIn) identifier() map[string]string {
	return map[string]string{"identifier_type": u.IdentifierType, "identifier": u.Identifier}
}

// mfa serves POST /demo/mfa: a TOTP code joined to the current session (amr gains mfa).
func (h *handler) mfa(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.renderAccount(w, r, http.StatusBadRequest, "", "Enter the code from your authenticator app.", d)
		return
	}
	req := d.user.identifier()
	req["token"], req["session_id"] = code, d.user.tokens.SessionID
	var tok userTokens
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/totp/authenticate", req, &tok); err != nil {
		h.accountError(w, r, id, d, err)
		return
	}
	if !h.signIn(w, r, id, tok, d.user.IdentifierType, d.user.Identifier, "", "Second factor added: your session now has two factors.") {
		return
	}
	seeOther(w, r, "/demo/account")
}

var (
	amountPattern   = regexp.MustCompile(`^[0-9]{1,7}(\.[0-9]{1,2})?$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// txnStart serves POST /demo/txn: start a transaction to approve with TOTP.
func (h *handler) txnStart(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	amount := strings.TrimSpace(r.PostForm.Get("amount"))
	currency := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("currency")))
	if !amountPattern.MatchString(amount) || !currencyPattern.MatchString(currency) {
		h.renderAccount(w, r, http.StatusBadRequest, "", "Enter an amount such as 42.50 and a three-letter currency such as EUR.", d)
		return
	}
	req := map[string]any{"approval_data": map[string]string{"amount": amount, "currency": currency},
		"identifier_type": d.user.IdentifierType, "identifier": d.user.Identifier}
	var out struct {
		Challenge string `json:"challenge"`
	}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/totp/transaction/start", req, &out); err != nil {
		h.accountError(w, r, id, d, err)
		return
	}
	h.sessions.update(id, func(d *demoSession) {
		d.txn = &transaction{Challenge: out.Challenge, Amount: amount, Currency: currency}
	})
	seeOther(w, r, "/demo/txn")
}

// txnShow serves GET /demo/txn: the transaction, its challenge and the code form.
func (h *handler) txnShow(w http.ResponseWriter, r *http.Request) {
	_, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if d.txn == nil {
		seeOther(w, r, "/demo/account")
		return
	}
	h.render(w, r, http.StatusOK, "txn", page{Title: "Approve a payment", Nav: "demo", Data: d.txn})
}

// txnApprove serves POST /demo/txn/approve: the TOTP code that signs the transaction. The new ID
// token carries approval_data, which the page then shows.
func (h *handler) txnApprove(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if d.txn == nil {
		seeOther(w, r, "/demo/account")
		return
	}
	fail := func(status int, msg string) {
		h.render(w, r, status, "txn", page{Title: "Approve a payment", Nav: "demo", Error: msg, Data: d.txn})
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		fail(http.StatusBadRequest, "Enter the code from your authenticator app.")
		return
	}
	req := d.user.identifier()
	req["token"], req["challenge"] = code, d.txn.Challenge
	var tok userTokens
	ctx := r.Context()
	if err := h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/totp/transaction/authenticate", req, &tok); err != nil {
		fail(friendly(err))
		return
	}
	claims, err := h.ids.verify(ctx, tok.IDToken)
	if err != nil {
		h.log.Warn("demo: ID token refused", "err", err)
		fail(http.StatusBadGateway, "Latch's ID token could not be verified against its JWKS.")
		return
	}
	if tok.SessionID != "" && tok.SessionID != d.user.tokens.SessionID {
		// The approval's tokens are single-purpose: end their session rather than leave it open.
		if err := h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/session/logout", map[string]string{"session_id": tok.SessionID}, nil); err != nil {
			h.log.Debug("demo: ending the approval session", "err", err)
		}
	}
	a := &approval{Data: objectRows(claims["approval_data"]), Claims: claimRows(claims)}
	h.sessions.update(id, func(d *demoSession) {
		d.txn, d.approval = nil, a
		d.flash = "Payment approved with your authenticator app."
		if len(a.Data) == 0 {
			d.flash = "Latch accepted the code, but its ID token carries no approval_data."
		}
	})
	seeOther(w, r, "/demo/account#approval")
}

// totpRevoke serves POST /demo/totp/revoke: remove the user's authenticators.
func (h *handler) totpRevoke(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var out struct {
		RevokedCount int `json:"revoked_count"`
	}
	if err := h.latch.call(r.Context(), http.MethodPost, "/cis/v1/users/me/totp/revoke", d.user.tokens.AccessToken, map[string]any{}, &out); err != nil {
		h.accountError(w, r, id, d, err)
		return
	}
	msg := "Your authenticator app was removed."
	if out.RevokedCount > 1 {
		msg = "Your " + strconv.Itoa(out.RevokedCount) + " authenticator apps were removed."
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment, d.flash = nil, msg })
	seeOther(w, r, "/demo/account")
}

// signOut serves POST /demo/signout: end the session at Latch, then forget it here.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.session(r)
	if !ok || d.user == nil {
		seeOther(w, r, "/demo")
		return
	}
	err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/session/logout", map[string]string{"session_id": d.user.tokens.SessionID}, nil)
	var le *latchError
	if err != nil && !(errors.As(err, &le) && le.Code == "session_not_found") {
		h.log.Warn("demo: session logout", "err", err)
		_, msg := friendly(err)
		h.renderAccount(w, r, http.StatusBadGateway, "", "Signing out at Latch failed: "+msg, d)
		return
	}
	h.sessions.update(id, func(d *demoSession) { *d = demoSession{expires: d.expires, flash: "You are signed out."} })
	seeOther(w, r, "/demo")
}
