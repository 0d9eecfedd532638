package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

// Steps of a sign-in on the pages.
const (
	stepStart       = "start"        // choose a method, enter the email or phone number
	stepCode        = "code"         // enter the code that was sent
	stepLink        = "link"         // the link was emailed: open it
	stepTOTP        = "totp"         // the second factor: a code of the authenticator app
	stepRecovery    = "recovery"     // the second factor: a recovery code
	stepNewPassword = "new_password" // a temporary or expired password is replaced before signing in
)

// maxForm bounds a sign-in form.
const maxForm = 32 << 10

// flow is one sign-in on the pages. It travels sealed (encrypted and authenticated with the
// server's key) in the form's hidden field, bound to the browser's cookie, so the pages keep no
// server-side state of their own: every rule that must hold (single use, lockouts, send limits,
// the second factor) is kept by the services, whatever flow a browser presents.
type flow struct {
	Req      authRequest `json:"q"`
	Browser  string      `json:"b"`
	Step     string      `json:"s"`
	Method   string      `json:"m,omitempty"`  // app.SignInEmailOTP, SignInMagicLink, SignInSMS, SignInPassword
	Username string      `json:"un,omitempty"` // what was typed in the password form's username field
	Email    string      `json:"e,omitempty"`
	Phone    string      `json:"ph,omitempty"`
	UserID   string      `json:"u,omitempty"` // "" for an unknown address (sign-up, or nothing sent)
	Signup   bool        `json:"su,omitempty"`
	Sent     bool        `json:"sent,omitempty"` // a code or link was really sent (false for an unknown address)
	SentAt   int64       `json:"at,omitempty"`   // unix ms of the last send, for the 30 s resend wait
	Session  string      `json:"sid,omitempty"`  // the app session waiting for its second factor
	SSO      string      `json:"sso,omitempty"`  // the single sign-on session this sign-in steps up
	NewUser  bool        `json:"nu,omitempty"`   // the sign-in created the user
	// Second: the code step is the second factor of a password sign-in (a code sent to the
	// user's own email or phone), joining Session.
	Second bool `json:"2f,omitempty"`
	// Reset is the reset token of a right but temporary or expired password, used by the
	// new-password step (the flow is encrypted).
	Reset   string `json:"rt,omitempty"`
	Expires int64  `json:"x"`
}

const flowAD = "signin-flow"

func (p *Provider) seal(f flow) (string, error) {
	if f.Expires == 0 {
		f.Expires = p.Clock.Now().Add(flowTTL).UnixMilli()
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	return p.Box.Seal(raw, []byte(flowAD))
}

// open returns the flow a form carries, refusing one that is forged, expired or bound to another
// browser (ok false).
func (p *Provider) open(r *http.Request, sealed string) (flow, bool) {
	if sealed == "" || len(sealed) > 16<<10 {
		return flow{}, false
	}
	raw, err := p.Box.Open(sealed, []byte(flowAD))
	if err != nil {
		return flow{}, false
	}
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil {
		return flow{}, false
	}
	if p.Clock.Now().UnixMilli() > f.Expires {
		return flow{}, false
	}
	b := p.browserHash(r)
	if b == "" || b != f.Browser {
		return flow{}, false
	}
	return f, true
}

// Login serves POST /cis/oidc/login: every form of the pages posts here with its sealed flow and
// an action.
func (p *Provider) Login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		p.problem(w, r, http.StatusBadRequest, "This form cannot be read", "Go back to the app and start signing in again.")
		return
	}
	f, ok := p.open(r, r.PostForm.Get("flow"))
	if !ok {
		p.problem(w, r, http.StatusForbidden, "This sign-in page has expired",
			"The form was too old, was opened in another browser, or its security token did not match. Go back to the app and start signing in again.")
		return
	}
	ctx := r.Context()
	c, a, err := p.Apps.Lookup(ctx, f.Req.ClientID)
	if err != nil || c.AppID != a.ID || !a.AllowsRedirect(f.Req.RedirectURI) {
		p.problem(w, r, http.StatusBadRequest, "This app can no longer sign you in", "Its registration changed. Go back to the app and try again.")
		return
	}
	form := r.PostForm
	switch action := form.Get("action"); action {
	case "send_email_otp", "send_magic_link", "send_sms":
		p.send(w, r, a, f, action[len("send_"):], form)
	case "password":
		p.password(w, r, a, f, form)
	case "new_password":
		p.newPassword(w, r, a, f, form.Get("new_password"))
	case "resend":
		p.resend(w, r, a, f)
	case "verify":
		p.verify(w, r, a, f, form.Get("code"))
	case "totp":
		p.secondFactor(w, r, a, f, form.Get("totp"), false)
	case "recovery":
		p.secondFactor(w, r, a, f, form.Get("recovery_code"), true)
	case "use_recovery":
		if f.Session == "" {
			p.render(w, r, a, f, http.StatusBadRequest, pageData{})
			return
		}
		f.Step = stepRecovery
		p.render(w, r, a, f, http.StatusOK, pageData{})
	case "use_totp":
		if f.Session == "" {
			p.render(w, r, a, f, http.StatusBadRequest, pageData{})
			return
		}
		f.Step = stepTOTP
		p.render(w, r, a, f, http.StatusOK, pageData{})
	case "restart":
		if f.Session != "" { // a second factor cannot be skipped by starting over
			p.render(w, r, a, f, http.StatusOK, pageData{})
			return
		}
		p.render(w, r, a, flow{Req: f.Req, Browser: f.Browser, Step: stepStart, Email: f.Email, Phone: f.Phone, Username: f.Username}, http.StatusOK, pageData{})
	case "cancel":
		p.respondError(w, r, a, f.Req, &authError{"access_denied", "the user cancelled the sign-in"})
	default:
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Notice: "Choose one of the buttons on this page."})
	}
}

// send starts a method: it finds the user by the address typed and sends a code or link, or —
// for an address with no active user and no sign-up — sends nothing and shows the same page.
func (p *Provider) send(w http.ResponseWriter, r *http.Request, a app.App, f flow, method string, form url.Values) {
	if f.Session != "" || (f.Step != stepStart && f.Step != stepCode && f.Step != stepLink) {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	if !a.Settings.SignsInWith(method) {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Notice: "This app does not offer that way to sign in."})
		return
	}
	next := flow{Req: f.Req, Browser: f.Browser, Method: method, Email: f.Email, Phone: f.Phone, Username: f.Username}
	if method == app.SignInSMS {
		ph, problem := user.NormalizePhone(form.Get("phone"))
		if problem != "" {
			next.Phone, next.Step = form.Get("phone"), stepStart
			p.render(w, r, a, next, http.StatusBadRequest, pageData{Errors: map[string]string{"phone": "Enter a phone number in international format, such as +44 7700 900123."}})
			return
		}
		next.Phone = ph
	} else {
		e, problem := user.NormalizeEmail(form.Get("email"))
		if problem != "" {
			next.Email, next.Step = form.Get("email"), stepStart
			p.render(w, r, a, next, http.StatusBadRequest, pageData{Errors: map[string]string{"email": "Enter an email address, such as name@example.com."}})
			return
		}
		next.Email = e
	}
	ctx := r.Context()
	typ, identifier := user.IDEmail, next.Email
	if method == app.SignInSMS {
		typ, identifier = user.IDPhone, next.Phone
	}
	u, err := p.Users.Find(ctx, typ, identifier)
	var ae *apierr.Error
	switch {
	case err == nil && u.Status == user.StatusActive:
		next.UserID = u.ID
	case err == nil || (errors.As(err, &ae) && ae.Code == "user_not_found"):
		next.Signup = err != nil && a.AllowSignup && f.Req.Signup
	default:
		p.fail(w, r, err)
		return
	}
	next.Step = stepCode
	if method == app.SignInMagicLink {
		next.Step = stepLink
	}
	if wait, err := p.deliver(ctx, a, &next); err != nil {
		if wait > 0 {
			field := "email"
			if method == app.SignInSMS {
				field = "phone"
			}
			next.Step = stepStart
			p.render(w, r, a, next, http.StatusTooManyRequests, pageData{Errors: map[string]string{field: fmt.Sprintf("Too many attempts. Try again in %s.", seconds(wait))}})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.render(w, r, a, next, http.StatusOK, pageData{})
}

// resend sends a new code or link to the same address, at most once every ResendWait.
func (p *Provider) resend(w http.ResponseWriter, r *http.Request, a app.App, f flow) {
	if (f.Session != "" && !f.Second) || (f.Step != stepCode && f.Step != stepLink) {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	if left := p.resendWait(f); left > 0 {
		p.render(w, r, a, f, http.StatusTooManyRequests, pageData{Notice: fmt.Sprintf("You can ask for a new one in %s.", seconds(left))})
		return
	}
	if wait, err := p.deliver(r.Context(), a, &f); err != nil {
		if wait > 0 {
			p.render(w, r, a, f, http.StatusTooManyRequests, pageData{Notice: fmt.Sprintf("Too many attempts. Try again in %s.", seconds(wait))})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.render(w, r, a, f, http.StatusOK, pageData{Notice: "We sent a new one. Only the newest works."})
}

func (p *Provider) resendWait(f flow) time.Duration {
	return time.UnixMilli(f.SentAt).Add(ResendWait).Sub(p.Clock.Now())
}

func seconds(d time.Duration) string {
	n := int(math.Ceil(d.Seconds()))
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}

// linkPayload is what an emailed link remembers: the flow it finishes.
type linkPayload struct {
	Flow flow `json:"flow"`
}

// codeKey is the code space and identifier of a typed code: the user's own (shared with the
// backend OTP login, so lockouts and send limits are the same), or the address of a sign-up.
func codeKey(f flow) (method, identifier string) {
	if f.UserID != "" {
		return otp.MethodOTP, user.StateKey(f.UserID)
	}
	if f.Method == app.SignInSMS {
		return methodSignup, "phone:" + f.Phone
	}
	return methodSignup, "email:" + f.Email
}

// deliver issues and sends the flow's code or link (nothing for an address that may not sign
// in, so the pages look the same either way). On a send limit it returns the wait.
func (p *Provider) deliver(ctx context.Context, a app.App, f *flow) (time.Duration, error) {
	now := p.Clock.Now()
	f.SentAt, f.Sent = now.UnixMilli(), false
	if f.UserID == "" && !f.Signup {
		p.Log.Info("oidc sign-in: nothing sent to an address without an account", "app_id", a.ID)
		return 0, nil
	}
	to, channel, recipient := f.Email, otp.ChannelEmail, "email:"+f.Email
	if f.Method == app.SignInSMS {
		to, channel, recipient = f.Phone, otp.ChannelSMS, "phone:"+f.Phone
	}
	limitKey := recipient
	if f.UserID != "" {
		limitKey = user.StateKey(f.UserID)
	}
	var issued otp.Issued
	var err error
	var msg delivery.Message
	if f.Method == app.SignInMagicLink {
		payload, _ := json.Marshal(linkPayload{Flow: *f})
		issued, err = p.Codes.Issue(ctx, otp.Issue{App: a, UserID: f.UserID, Method: methodLink, Channel: channel,
			Identifier: "link:" + recipient, LimitKey: limitKey, Payload: payload})
		if err == nil {
			msg = delivery.RenderEmail(a.Settings.EmailContent(nil), delivery.EmailData{AppName: a.Name,
				Link: magiclink.AppendQuery(p.Issuer+LinkPath, "code", issued.Code), ExpiresInMinutes: a.Settings.MagicLinkExpiryMinutes})
		}
	} else {
		method, identifier := codeKey(*f)
		payload, _ := json.Marshal(map[string]string{"channel": channel})
		issued, err = p.Codes.Issue(ctx, otp.Issue{App: a, UserID: f.UserID, Method: method, Numeric: true, Channel: channel,
			Identifier: identifier, LimitKey: limitKey, Payload: payload})
		if err == nil {
			if channel == otp.ChannelSMS {
				msg = delivery.Message{Channel: delivery.ChannelSMS, Text: delivery.RenderSMS("", a.Name, issued.Code, a.Settings.OTPExpiryMinutes)}
			} else {
				msg = delivery.RenderEmail(a.Settings.EmailContent(nil), delivery.EmailData{AppName: a.Name, Code: issued.Code, ExpiresInMinutes: a.Settings.OTPExpiryMinutes})
			}
		}
	}
	var ae *apierr.Error
	if errors.As(err, &ae) && (ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusForbidden) {
		wait := time.Duration(ae.RetryAfter) * time.Second
		if wait <= 0 {
			wait = time.Duration(a.Settings.LockoutMinutes) * time.Minute
		}
		return wait, err
	}
	if err != nil {
		return 0, err
	}
	msg.To = to
	if err := p.Codes.Deliver(ctx, issued, p.Sender, msg); err != nil {
		return 0, err
	}
	f.Sent = true
	p.Log.Info("oidc sign-in: sent", "app_id", a.ID, "user_id", f.UserID, "method", f.Method)
	return 0, nil
}

// amrOf is the amr of a first factor by method.
func amrOf(method string) string {
	switch method {
	case app.SignInSMS:
		return "sms"
	case app.SignInMagicLink:
		return "eml"
	}
	return "eotp"
}

// verify checks a typed code and, when it is right, completes the first factor.
func (p *Provider) verify(w http.ResponseWriter, r *http.Request, a app.App, f flow, code string) {
	if f.Step != stepCode || (f.Session != "") != f.Second {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	wrong := pageData{Errors: map[string]string{"code": "That code is not right. Check the newest message and try again."}}
	if code == "" || len(code) > 64 {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{"code": "Enter the code we sent you."}})
		return
	}
	if !f.Sent { // nothing was sent, so nothing can be right (and no account is revealed)
		p.render(w, r, a, f, http.StatusBadRequest, wrong)
		return
	}
	ctx := r.Context()
	method, identifier := codeKey(f)
	check := otp.Check{App: a, Method: method, Identifier: identifier, Code: code}
	row, lock, err := p.Codes.Check(ctx, check)
	if err != nil {
		p.codeError(w, r, a, f, err)
		return
	}
	u, err := p.userFor(ctx, f)
	if err != nil {
		p.codeError(w, r, a, f, err)
		return
	}
	if f.Second {
		p.secondCode(w, r, a, f, u, p.Codes.Uses(check, row), func() { p.Codes.Succeeded(ctx, check, lock) })
		return
	}
	p.firstFactor(w, r, a, f, u, amrOf(f.Method), p.Codes.Uses(check, row), func() { p.Codes.Succeeded(ctx, check, lock) })
}

// codeError shows a code that was refused next to the code field.
func (p *Provider) codeError(w http.ResponseWriter, r *http.Request, a app.App, f flow, err error) {
	var ae *apierr.Error
	if !errors.As(err, &ae) && !errors.Is(err, store.ErrUsed) && !errors.Is(err, store.ErrLocked) {
		p.fail(w, r, err)
		return
	}
	field, msg, locked := "code", "That code is not right. Check the newest message and try again.", "then ask for a new code"
	switch f.Step {
	case stepTOTP:
		field, msg, locked = "totp", "That code is not right. Enter the code your authenticator app shows now.", "then try again"
	case stepRecovery:
		field, msg, locked = "recovery_code", "That recovery code is not right, or it was used already.", "then try again"
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, store.ErrLocked) || (ae != nil && ae.Code == "auth_locked") || (ae != nil && ae.Status == http.StatusForbidden && ae.Code != "user_not_active"):
		msg, status = fmt.Sprintf("Too many wrong codes. Wait %d minutes, %s.", a.Settings.LockoutMinutes, locked), http.StatusTooManyRequests
	case ae != nil && ae.Code == "auth_otp_passcode_expired":
		msg = "This code has expired. Ask for a new one."
	}
	p.render(w, r, a, f, status, pageData{Errors: map[string]string{field: msg}})
}

// userFor returns the flow's user, creating it for a sign-up.
func (p *Provider) userFor(ctx context.Context, f flow) (store.User, error) {
	if f.UserID != "" {
		return p.Users.Get(ctx, f.UserID)
	}
	if !f.Signup {
		return store.User{}, apierr.InvalidCredentials("Invalid passcode")
	}
	in := user.Input{}
	typ, identifier := user.IDEmail, f.Email
	if f.Method == app.SignInSMS {
		in.PhoneNumber, typ, identifier = &f.Phone, user.IDPhone, f.Phone
	} else {
		in.Email = &f.Email
	}
	u, err := p.Users.Create(ctx, in)
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict { // created meanwhile
		return p.Users.Find(ctx, typ, identifier)
	}
	if err == nil {
		p.Log.Info("user created by oidc sign-up", "user_id", u.ID)
	}
	return u, err
}

// firstFactor saves a proven first factor (using up what uses name, in the same transaction):
// the sign-in finishes, or waits for its second factor in a session that yields nothing until
// then.
func (p *Provider) firstFactor(w http.ResponseWriter, r *http.Request, a app.App, f flow, u store.User, amr string, uses []store.Use, succeeded func()) {
	ctx := r.Context()
	need, enrolled, err := p.needsMFA(ctx, a, f.Req, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	// A password sign-in of a user without an authenticator takes a code sent to the user's
	// own email (or phone) as its second factor, as Mosaic's password + OTP does.
	codeSecond := need && !enrolled && f.Method == app.SignInPassword && (u.Email != "" || u.Phone != "")
	if need && !enrolled && !codeSecond {
		p.noSecondFactor(w, r, a, f.Req)
		return
	}
	tok, err := p.Sessions.Complete(ctx, session.Login{App: a, ClientID: f.Req.ClientID, User: u, Method: amr, Uses: uses,
		MFAPending: need, SaveOnly: !need, Scope: f.Req.Scope, NewUser: f.UserID == "" && f.Signup})
	if err != nil {
		if f.Method == app.SignInPassword {
			// A right password refused after all (a lockout that began meanwhile, a user
			// disabled): said at the password field, as a wrong one is.
			p.passwordError(w, r, a, f, err)
			return
		}
		p.codeError(w, r, a, f, err)
		return
	}
	if succeeded != nil {
		succeeded()
	}
	p.Metrics.Login("oidc_"+amr, "ok")
	p.markVerified(ctx, f, u)
	f.NewUser = f.UserID == "" && f.Signup
	f.UserID = u.ID
	if codeSecond {
		p.sendSecondCode(w, r, a, f, u, tok.SessionID)
		return
	}
	if need {
		f.Step, f.Session = stepTOTP, tok.SessionID
		p.render(w, r, a, f, http.StatusOK, pageData{})
		return
	}
	p.finish(w, r, a, f, u, tok.SessionID)
}

// markVerified records that the user proved the address the code or link went to.
func (p *Provider) markVerified(ctx context.Context, f flow, u store.User) {
	var err error
	switch {
	case f.Method == app.SignInPassword: // a password proves no address
	case f.Method == app.SignInSMS && !u.PhoneVerified:
		err = p.Users.Verify(ctx, u.ID, user.IDPhone, f.Phone)
	case f.Method != app.SignInSMS && !u.EmailVerified:
		err = p.Users.Verify(ctx, u.ID, user.IDEmail, f.Email)
	}
	if err != nil {
		p.Log.Warn("could not mark the address verified", "user_id", u.ID, "err", err)
	}
}

// secondFactor checks a TOTP code (or a recovery code) with the TOTP service — its replay guard
// and lockout — joining the waiting session, then finishes the sign-in.
func (p *Provider) secondFactor(w http.ResponseWriter, r *http.Request, a app.App, f flow, code string, recovery bool) {
	if f.Session == "" || f.UserID == "" {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{})
		return
	}
	field := "totp"
	if recovery {
		field, f.Step = "recovery_code", stepRecovery
	} else {
		f.Step = stepTOTP
	}
	if code == "" || len(code) > 64 {
		p.render(w, r, a, f, http.StatusBadRequest, pageData{Errors: map[string]string{field: "Enter the code."}})
		return
	}
	ctx := r.Context()
	var err error
	if recovery {
		_, err = p.TOTP.AuthenticateRecovery(ctx, a, f.Req.ClientID, totp.RecoveryAuthenticateRequest{Code: code, IdentifierType: user.IDUserID,
			Identifier: f.UserID, SessionID: f.Session, SaveOnly: true})
	} else {
		_, err = p.TOTP.Authenticate(ctx, a, f.Req.ClientID, totp.AuthenticateRequest{Token: code, IdentifierType: user.IDUserID,
			Identifier: f.UserID, SessionID: f.Session, SaveOnly: true})
	}
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Code == "session_not_found" {
			p.problem(w, r, http.StatusBadRequest, "This sign-in has ended", "Go back to the app and sign in again.")
			return
		}
		p.codeError(w, r, a, f, err)
		return
	}
	u, err := p.Users.Get(ctx, f.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.finish(w, r, a, f, u, f.Session)
}

// Link serves GET /cis/oidc/login/link: an emailed sign-in link. In the browser that asked for
// it, it completes the first factor; anywhere else (another browser, a mail scanner) it uses
// nothing up and says what to do.
func (p *Provider) Link(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	row, err := p.Codes.Find(ctx, methodLink, r.URL.Query().Get("code"))
	if errors.Is(err, store.ErrNotFound) {
		p.problem(w, r, http.StatusBadRequest, "This sign-in link cannot be used",
			"A sign-in link works once, for a few minutes, and only until a newer one is sent. Go back to the app and ask for a new one.")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var lp linkPayload
	if err := json.Unmarshal(row.Payload, &lp); err != nil {
		p.fail(w, r, err)
		return
	}
	f := lp.Flow
	if b := p.browserHash(r); b == "" || b != f.Browser {
		p.problem(w, r, http.StatusOK, "Open this link in the browser you started in",
			"For your safety, a sign-in link only works in the browser where you asked for it. Copy the link and open it there, or go back to the app in this browser and sign in again.")
		return
	}
	_, a, err := p.Apps.Lookup(ctx, f.Req.ClientID)
	if err != nil || a.ID != row.AppID || !a.AllowsRedirect(f.Req.RedirectURI) {
		p.problem(w, r, http.StatusBadRequest, "This app can no longer sign you in", "Its registration changed. Go back to the app and try again.")
		return
	}
	f.Expires = 0 // the pages that follow get a fresh lifetime
	u, err := p.userFor(ctx, f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.firstFactor(w, r, a, f, u, "eml", p.Codes.UsesHighEntropy(row), nil)
}
