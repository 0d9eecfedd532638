package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// accountView is the signed-in page.
type accountView struct {
	Who      string
	AMR      []string
	MFA      bool
	UsedTOTP bool // the session already has the authenticator app as one of its factors
	// Authenticators are the user's active authenticator apps; Known is false when Latch could
	// not be asked (the page then offers to set one up, which Latch refuses if there is one).
	Authenticators []authenticatorRow
	Known          bool
	// RecoveryLeft is how many unused recovery codes the user has; -1 when Latch could not say.
	RecoveryLeft int
	Claims       []claimRow
	Approval     *approval
	Notice       *notice
}

// HasTOTP reports whether the user has an active authenticator app.
func (v accountView) HasTOTP() bool { return len(v.Authenticators) > 0 }

type authenticatorRow struct {
	Name  string
	Added string
}

// account serves GET /demo/account: who is signed in, and what to try next.
func (h *handler) account(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment = nil }) // the secret is shown once
	list, err := h.authenticators(r.Context(), d.user)
	if h.sessionEnded(w, r, id, err) {
		return
	}
	flash, n := h.sessions.takeMessages(id)
	u := d.user
	amr := stringList(u.Claims["amr"])
	v := accountView{Who: u.Identifier, AMR: amr, MFA: slices.Contains(amr, "mfa"), UsedTOTP: slices.Contains(amr, "totp"),
		Authenticators: list, Known: err == nil, Claims: claimRows(u.Claims), Approval: d.approval, Notice: n}
	if err != nil {
		h.log.Warn("demo: listing authenticators", "err", err)
	}
	v.RecoveryLeft = -1
	if v.HasTOTP() {
		var rc struct {
			Remaining int `json:"remaining"`
		}
		if err := h.latch.call(r.Context(), http.MethodGet, "/cis/v1/users/me/totp/recovery-codes", u.tokens.AccessToken, nil, &rc); err == nil {
			v.RecoveryLeft = rc.Remaining
		}
	}
	h.render(w, r, http.StatusOK, "account", page{Title: "Signed in", Nav: "demo", Flash: flash, Data: v})
}

// authenticators lists the user's active authenticator apps (GET /cis/v1/users/me/totp/devices).
func (h *handler) authenticators(ctx context.Context, u *signedIn) ([]authenticatorRow, error) {
	var out struct {
		Result []struct {
			Name      string `json:"deviceName"`
			Status    string `json:"status"`
			CreatedAt int64  `json:"created_at"`
		} `json:"result"`
	}
	if err := h.latch.call(ctx, http.MethodGet, "/cis/v1/users/me/totp/devices", u.tokens.AccessToken, nil, &out); err != nil {
		return nil, err
	}
	var rows []authenticatorRow
	for _, d := range out.Result {
		if d.Status != "active" {
			continue
		}
		name := d.Name
		if name == "" {
			name = "Authenticator app"
		}
		rows = append(rows, authenticatorRow{Name: name, Added: time.UnixMilli(d.CreatedAt).UTC().Format("2 January 2006, 15:04 UTC")})
	}
	return rows, nil
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

// sessionEnded reports whether err says that Latch refused the user's token (the session ended
// at Latch): then the demo forgets the user, sends the browser to sign in, and returns true.
func (h *handler) sessionEnded(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	var le *latchError
	if !errors.As(err, &le) || le.Status != http.StatusUnauthorized {
		return false
	}
	_, msg := friendly(err)
	h.sessions.update(id, func(d *demoSession) { *d = demoSession{expires: d.expires, locks: d.locks, flash: msg} })
	seeOther(w, r, "/demo")
	return true
}

// accountError sends the browser back to a signed-in page with what went wrong on form.
func (h *handler) accountError(w http.ResponseWriter, r *http.Request, id, to, form string, act action, d demoSession, err error) {
	if h.sessionEnded(w, r, id, err) {
		return
	}
	field, msg := h.explain(id, act, "totp:"+d.user.Identifier, err)
	h.refuse(w, r, id, to, notice{Form: form, Field: field, Message: msg})
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
		h.accountError(w, r, id, "/demo/account", "totp", actTOTP, d, err)
		return
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment = &enrolment{Secret: out.Secret, URI: out.URI, QRCode: out.QRCode} })
	seeOther(w, r, "/demo/totp")
}

type enrolView struct {
	Secret string
	URI    string
	QRCode template.URL
	Notice *notice
}

var pngDataURL = regexp.MustCompile(`^data:image/png;base64,[A-Za-z0-9+/]+={0,2}$`)

// totpShow serves GET /demo/totp: the new authenticator's QR code and secret.
func (h *handler) totpShow(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if d.enrolment == nil {
		seeOther(w, r, "/demo/account")
		return
	}
	_, n := h.sessions.takeMessages(id)
	v := enrolView{Secret: d.enrolment.Secret, URI: d.enrolment.URI, Notice: n}
	if pngDataURL.MatchString(d.enrolment.QRCode) {
		v.QRCode = template.URL(d.enrolment.QRCode) // checked: a base64 PNG, safe in <img src>
	}
	h.render(w, r, http.StatusOK, "totp", page{Title: "Set up your authenticator app", Nav: "demo", Data: v})
}

// identifier is how the signed-in user is named to the TOTP endpoints.
func (u *signedIn) identifier() map[string]string {
	return map[string]string{"identifier_type": u.IdentifierType, "identifier": u.Identifier}
}

// addTOTP joins a code from the authenticator app to the user's session at Latch and returns the
// session's new tokens and claims (amr gains totp and mfa).
func (h *handler) addTOTP(ctx context.Context, u *signedIn, code string) (*signedIn, error) {
	req := u.identifier()
	req["token"], req["session_id"] = code, u.tokens.SessionID
	var tok userTokens
	if err := h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/totp/authenticate", req, &tok); err != nil {
		return nil, err
	}
	claims, err := h.ids.verify(ctx, tok.IDToken)
	if err != nil {
		return nil, err
	}
	return &signedIn{tokens: tok, Claims: claims, IdentifierType: u.IdentifierType, Identifier: u.Identifier}, nil
}

// mfa serves POST /demo/mfa: a TOTP code joined to the current session (amr gains mfa).
func (h *handler) mfa(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.refuse(w, r, id, "/demo/account", notice{Form: "mfa", Field: "code", Message: "Enter the code your authenticator app shows."})
		return
	}
	u, err := h.addTOTP(r.Context(), d.user, code)
	if err != nil {
		h.accountError(w, r, id, "/demo/account", "mfa", actTOTP, d, err)
		return
	}
	h.sessions.update(id, func(d *demoSession) {
		d.user, d.flash = u, "Second factor added: your session now has two factors."
	})
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
		h.refuse(w, r, id, "/demo/account", notice{Form: "txn", Field: "amount", Message: "Enter an amount such as 42.50: digits, and at most two after the point.",
			Values: map[string]string{"amount": amount}})
		return
	}
	req := map[string]any{"approval_data": map[string]string{"amount": amount, "currency": currency},
		"identifier_type": d.user.IdentifierType, "identifier": d.user.Identifier}
	var out struct {
		Challenge string `json:"challenge"`
	}
	if err := h.latch.asClient(r.Context(), http.MethodPost, "/cis/v1/auth/totp/transaction/start", req, &out); err != nil {
		h.accountError(w, r, id, "/demo/account", "txn", actTOTP, d, err)
		return
	}
	h.sessions.update(id, func(d *demoSession) {
		d.txn = &transaction{Challenge: out.Challenge, Amount: amount, Currency: currency}
	})
	seeOther(w, r, "/demo/txn")
}

type txnView struct {
	*transaction
	Notice *notice
}

// txnShow serves GET /demo/txn: the transaction, its challenge and the code form.
func (h *handler) txnShow(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if d.txn == nil {
		seeOther(w, r, "/demo/account")
		return
	}
	_, n := h.sessions.takeMessages(id)
	h.render(w, r, http.StatusOK, "txn", page{Title: "Approve a payment", Nav: "demo", Data: txnView{d.txn, n}})
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
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.refuse(w, r, id, "/demo/txn", notice{Form: "approve", Field: "code", Message: "Enter the code your authenticator app shows."})
		return
	}
	req := d.user.identifier()
	req["token"], req["challenge"] = code, d.txn.Challenge
	var tok userTokens
	ctx := r.Context()
	if err := h.latch.asClient(ctx, http.MethodPost, "/cis/v1/auth/totp/transaction/authenticate", req, &tok); err != nil {
		h.accountError(w, r, id, "/demo/txn", "approve", actTOTP, d, err)
		return
	}
	claims, err := h.ids.verify(ctx, tok.IDToken)
	if err != nil {
		h.log.Warn("demo: ID token refused", "err", err)
		h.refuse(w, r, id, "/demo/txn", notice{Form: "approve", Message: "Latch's ID token could not be verified against its JWKS."})
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

type removeView struct {
	NeedCode bool // the session has no authenticator factor yet: removing it asks for a code
	Notice   *notice
}

// totpRemoveForm serves GET /demo/totp/remove: are you sure? Removing a second factor is
// confirmed, and confirmed with that factor when the session has not used it yet.
func (h *handler) totpRemoveForm(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	_, n := h.sessions.takeMessages(id)
	v := removeView{NeedCode: !slices.Contains(stringList(d.user.Claims["amr"]), "totp"), Notice: n}
	h.render(w, r, http.StatusOK, "totp-remove", page{Title: "Remove your authenticator app", Nav: "demo", Data: v})
}

// totpRevoke serves POST /demo/totp/revoke from the confirmation page: remove the user's
// authenticators, after joining the code given to the session when it has no TOTP factor yet.
func (h *handler) totpRevoke(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		seeOther(w, r, "/demo/totp/remove")
		return
	}
	u, ok := h.withAppFactor(w, r, id, d, "/demo/totp/remove", "remove")
	if !ok {
		return
	}
	var out struct {
		RevokedCount int `json:"revoked_count"`
	}
	if err := h.latch.call(r.Context(), http.MethodPost, "/cis/v1/users/me/totp/revoke", u.tokens.AccessToken, map[string]any{}, &out); err != nil {
		d.user = u
		h.accountError(w, r, id, "/demo/totp/remove", "remove", actTOTP, d, err)
		return
	}
	msg := "Your authenticator app was removed."
	if out.RevokedCount > 1 {
		msg = "Your " + strconv.Itoa(out.RevokedCount) + " authenticator apps were removed."
	}
	h.sessions.update(id, func(d *demoSession) { d.enrolment, d.txn, d.flash = nil, nil, msg })
	seeOther(w, r, "/demo/account")
}

// signOut serves POST /demo/signout: end the session at Latch, then forget it here. The browser
// gets a new session id, so nothing of the signed-in session answers to its cookie any more.
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
		h.refuse(w, r, id, "/demo/account", notice{Form: "signout", Message: "Signing out at Latch failed: " + msg})
		return
	}
	locks := d.locks
	h.sessions.delete(id)
	h.sessions.update(h.newSession(w), func(d *demoSession) { d.locks, d.flash = locks, "You are signed out." })
	if d.user.tokens.viaOIDC {
		seeOther(w, r, h.endSessionURL(d.user.tokens.IDToken))
		return
	}
	seeOther(w, r, "/demo")
}
