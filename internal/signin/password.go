package signin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// The password method of the pages (issue 22): offered for apps with password_enabled (and
// "password" in signin_methods). The password service does every check — its lockout, the same
// answer and the same work for an unknown user and a wrong password, the transparent rehash —
// and the sign-in then goes on as any first factor: the second factor when one is needed (the
// authenticator when the user has one, otherwise a code sent to the user's own email or phone),
// then back to the app.

// wrongPassword is the one message for an unknown user, a wrong password, a user without a
// password and a disabled user: the pages never say which.
const wrongPassword = "That username or password is not right."

// usernameType is the username_type of what was typed in the username field: an email address,
// a phone number in international format, or a username (anything that is neither, such as a
// username "bob@corp" — decided by the text alone, so it tells nothing about who exists).
func usernameType(s string) string {
	if _, bad := user.NormalizeEmail(s); bad == "" {
		return "email"
	}
	if _, bad := user.NormalizePhone(s); bad == "" {
		return "phone_number"
	}
	return "username"
}

// password checks the password form and completes the first factor.
func (p *Provider) password(w http.ResponseWriter, r *http.Request, a app.App, f flow, form url.Values) {
	if f.Session != "" || (f.Step != stepStart && f.Step != "") {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	if p.Passwords == nil || !a.Settings.SignsInWith(app.SignInPassword) {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Notice: "This app does not offer that way to sign in."})
		return
	}
	username, pw := strings.TrimSpace(form.Get("username")), form.Get("password")
	next := flow{Req: f.Req, Browser: f.Browser, Step: stepStart, Method: app.SignInPassword, Email: f.Email, Phone: f.Phone, Username: username}
	errs := map[string]string{}
	if username == "" {
		errs["username"] = "Enter your email address or username."
	} else if len(username) > 320 {
		errs["username"] = "That is too long for an email address or username."
	}
	if pw == "" {
		errs["password"] = "Enter your password."
	}
	if len(errs) > 0 {
		p.render(w, r, a, next, http.StatusBadRequest, pageData{Errors: errs})
		return
	}
	ctx := r.Context()
	v, err := p.Passwords.Check(ctx, a, usernameType(username), username, pw)
	if err != nil {
		p.passwordError(w, r, a, next, err)
		return
	}
	p.firstFactor(w, r, a, next, v.User, password.AMR, v.Uses, nil)
}

// passwordError shows a refused password at its field, or the new-password step for a right
// password that is temporary or expired.
func (p *Provider) passwordError(w http.ResponseWriter, r *http.Request, a app.App, f flow, err error) {
	var ae *apierr.Error
	if !errors.As(err, &ae) && !errors.Is(err, store.ErrLocked) {
		p.fail(w, r, err)
		return
	}
	switch {
	case ae != nil && ae.ResetToken != "":
		// The password was right: it must be replaced before the user signs in with it.
		rt, err := p.Passwords.LookupResetToken(r.Context(), ae.ResetToken)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		f.Step, f.UserID, f.Reset = stepNewPassword, rt.UserID, ae.ResetToken
		notice := "Your password was set for one use only. Choose your own password to go on."
		if ae.Message == password.ReasonExpired {
			notice = "Your password has expired. Choose a new one to go on."
		}
		p.render(w, r, a, f, http.StatusOK, pageData{Notice: notice})
	case errors.Is(err, store.ErrLocked) || ae.Code == "auth_locked":
		p.render(w, r, a, f, http.StatusTooManyRequests, pageData{Errors: map[string]string{"password": fmt.Sprintf("Too many wrong passwords. Wait %d minutes, then try again.", a.Settings.LockoutMinutes)}})
	case ae.Code == "system_invalid_input" && strings.HasPrefix(ae.Message, "username"):
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"username": "Enter an email address, a username, or a phone number in international format such as +44 7700 900123."}})
	case ae.Code == "system_invalid_input" && strings.HasPrefix(ae.Message, "password"):
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"password": "That password is too long."}})
	case ae.Code == "auth_invalid_credentials" || ae.Code == "user_not_active":
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"password": wrongPassword}})
	default:
		p.fail(w, r, err)
	}
}

// newPassword replaces a temporary or expired password with the reset token the right password
// earned (used once; the user's other sessions end), then completes the first factor.
func (p *Provider) newPassword(w http.ResponseWriter, r *http.Request, a app.App, f flow, pw string) {
	if f.Step != stepNewPassword || f.Reset == "" || f.UserID == "" || f.Session != "" {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	if pw == "" {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"new_password": "Choose a new password."}})
		return
	}
	ctx := r.Context()
	_, err := p.Passwords.Reset(ctx, password.ResetRequest{ResetToken: f.Reset, NewPassword: pw})
	var ae *apierr.Error
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Code == "auth_password_invalid_reset_token":
		p.problem(w, r, http.StatusBadRequest, "This password change has expired",
			"Go back to the app and sign in again with your password.")
		return
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		// The policy's reasons ("new_password: must be at least 15 characters …") are about the
		// field and never contain the password.
		problem := strings.TrimPrefix(ae.Message, "new_password: ")
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"new_password": "Your new password " + problem + "."}})
		return
	default:
		p.fail(w, r, err)
		return
	}
	u, err := p.Users.Get(ctx, f.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.firstFactor(w, r, a, flow{Req: f.Req, Browser: f.Browser, Method: app.SignInPassword, Username: f.Username}, u, password.AMR, nil, nil)
}

// sendSecondCode sends a code to the user's own email (or phone) as the second factor of a
// password sign-in waiting in session sessionID, and shows the code page.
func (p *Provider) sendSecondCode(w http.ResponseWriter, r *http.Request, a app.App, f flow, u store.User, sessionID string) {
	f.Session, f.Second, f.Step = sessionID, true, stepCode
	if u.Email != "" {
		f.Method, f.Email = app.SignInEmailOTP, u.Email
	} else {
		f.Method, f.Phone = app.SignInSMS, u.Phone
	}
	if wait, err := p.deliver(r.Context(), a, &f); err != nil {
		if wait > 0 {
			p.render(w, r, a, f, http.StatusTooManyRequests, pageData{Notice: fmt.Sprintf("Too many codes were sent. Ask for a new one in %s.", seconds(wait))})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.render(w, r, a, f, http.StatusOK, pageData{})
}

// secondCode completes the second factor of a password sign-in with a right code: the waiting
// session gains the code's method (and mfa), using the code up in the same transaction.
func (p *Provider) secondCode(w http.ResponseWriter, r *http.Request, a app.App, f flow, u store.User, uses []store.Use, succeeded func()) {
	ctx := r.Context()
	method := amrOf(f.Method)
	_, err := p.Sessions.Complete(ctx, session.Login{App: a, ClientID: f.Req.ClientID, User: u, Method: method, SessionID: f.Session,
		SaveOnly: true, Scope: f.Req.Scope, Uses: uses})
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Code == "session_not_found" {
			p.problem(w, r, http.StatusBadRequest, "This sign-in has ended", "Go back to the app and sign in again.")
			return
		}
		p.codeError(w, r, a, f, err)
		return
	}
	if succeeded != nil {
		succeeded()
	}
	p.Metrics.Login("oidc_"+method, "ok")
	if f.Method == app.SignInSMS {
		f.Phone = u.Phone
	}
	p.markVerified(ctx, f, u)
	p.finish(w, r, a, f, u, f.Session)
}
