package web

import (
	"net/http"
	"slices"
	"strings"
)

// recoveryView is the page that shows a new set of recovery codes, once.
type recoveryView struct {
	Codes []string
}

// recoveryCodes asks Latch for a new set of recovery codes with the user's access token (the
// session must hold a second factor) and keeps them for the one page that shows them.
func (h *handler) recoveryCodes(w http.ResponseWriter, r *http.Request, id string, u *signedIn, form string, d demoSession) bool {
	var out struct {
		Codes []string `json:"recovery_codes"`
	}
	if err := h.latch.call(r.Context(), http.MethodPost, "/cis/v1/users/me/totp/recovery-codes", u.tokens.AccessToken, map[string]any{}, &out); err != nil {
		d.user = u
		h.accountError(w, r, id, "/demo/account", form, actTOTP, d, err)
		return false
	}
	h.sessions.update(id, func(d *demoSession) { d.user, d.recovery, d.enrolment = u, out.Codes, nil })
	return true
}

// totpConfirm serves POST /demo/totp/confirm from the set-up page: the first code from the new
// app joins this session (it becomes two-factor), and the user gets recovery codes to save.
func (h *handler) totpConfirm(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.refuse(w, r, id, "/demo/totp", notice{Form: "confirm", Field: "code", Message: "Enter the code your authenticator app shows."})
		return
	}
	u, err := h.addTOTP(r.Context(), d.user, code)
	if err != nil {
		h.accountError(w, r, id, "/demo/totp", "confirm", actTOTP, d, err)
		return
	}
	if h.recoveryCodes(w, r, id, u, "totp", d) {
		seeOther(w, r, "/demo/recovery")
	}
}

// recoveryNew serves POST /demo/recovery: a new set of recovery codes, retiring the old one.
// A session that has not used the authenticator app yet joins a code from it first.
func (h *handler) recoveryNew(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	u, ok := h.withAppFactor(w, r, id, d, "/demo/account", "recovery")
	if !ok {
		return
	}
	if h.recoveryCodes(w, r, id, u, "recovery", d) {
		seeOther(w, r, "/demo/recovery")
	}
}

// recoveryShow serves GET /demo/recovery: the new codes, shown once.
func (h *handler) recoveryShow(w http.ResponseWriter, r *http.Request) {
	id, d, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if len(d.recovery) == 0 {
		seeOther(w, r, "/demo/account")
		return
	}
	h.sessions.update(id, func(d *demoSession) { d.recovery = nil }) // shown once
	h.render(w, r, http.StatusOK, "recovery", page{Title: "Save your recovery codes", Nav: "demo", Data: recoveryView{Codes: d.recovery}})
}

// withAppFactor is the signed-in user whose session has used the authenticator app, as Latch
// asks of a change to a second factor: the session as it is when it has, else the session joined
// with the code the form carries (which the person is asked for on form's page to when it is
// missing or refused; ok is then false).
func (h *handler) withAppFactor(w http.ResponseWriter, r *http.Request, id string, d demoSession, to, form string) (*signedIn, bool) {
	u := d.user
	if slices.Contains(stringList(u.Claims["amr"]), "totp") {
		return u, true
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if code == "" {
		h.refuse(w, r, id, to, notice{Form: form, Field: "code", Message: "Enter the code your authenticator app shows, to confirm that it is yours."})
		return nil, false
	}
	joined, err := h.addTOTP(r.Context(), u, code)
	if err != nil {
		h.accountError(w, r, id, to, form, actTOTP, d, err)
		return nil, false
	}
	h.sessions.update(id, func(d *demoSession) { d.user = joined })
	return joined, true
}
