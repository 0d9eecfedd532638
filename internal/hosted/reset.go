package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// The starts of a password reset (the hosted "Passwords" spec): each proves the user some way —
// an emailed link, an emailed or texted code, the current password — and ends in a reset token
// for POST /cis/v1/auth/password/reset. Codes are the otp package's: hashed, single use, the
// app's send limits and lockout, in code spaces of their own (a reset code never logs anyone in,
// and a login code never resets a password).
const (
	methodResetOTP  = "pw_reset_otp"  // numeric, per app and email or phone number
	methodResetLink = "pw_reset_link" // 256 bits, found by its hash
)

// ResetRedirectPath is where an emailed reset link points: a GET there uses the link up and
// sends the browser to the request's redirect_uri with the reset token as code.
const ResetRedirectPath = "/cis/v1/auth/password/reset/redirect"

// DefaultResetValidity is how long a reset link or code lives when the app sets nothing
// (Mosaic's resetValidityMinutes default).
const DefaultResetValidity = 5 * time.Minute

// ResetStartRequest is the union of the reset starts' bodies (ApiSendResetEmailInput,
// ApiResetLinkInput, ApiSendResetEmailOtpInput, ApiSendResetSmsOtpInput).
type ResetStartRequest struct {
	Username       string                 `json:"username"`
	Email          string                 `json:"email"`
	PhoneNumber    string                 `json:"phone_number"`
	RedirectURI    string                 `json:"redirect_uri"`
	PrevResetToken string                 `json:"prev_reset_token"`
	IgnoreMFA      bool                   `json:"ignore_mfa"`
	EmailContent   *delivery.EmailContent `json:"email_content"`
}

// ResetValidateRequest is ApiValidateResetEmailOtpInput / ApiValidateResetSmsOtpInput.
type ResetValidateRequest struct {
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
	Passcode    string `json:"passcode"`
}

// ResetPasswordValidateRequest is ApiValidateOldPasswordInput: the current password proves the user.
type ResetPasswordValidateRequest struct {
	Username       string `json:"username"`
	Email          string `json:"email"`
	PhoneNumber    string `json:"phone_number"`
	Password       string `json:"password"`
	ClientID       string `json:"client_id"`
	PrevResetToken string `json:"prev_reset_token"`
}

// resetGrant is what a reset link or code remembers.
type resetGrant struct {
	ClientID    string `json:"client_id"`
	UserID      string `json:"user_id"`
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// Message is a start's answer.
type Message struct {
	Message string `json:"message"`
}

// ResetLink is ApiResetLinkResponse.
type ResetLink struct {
	ResetLink string `json:"reset_link"`
}

// ResetToken is the validations' answer: {result: reset_token}.
type ResetToken struct {
	Result string `json:"result"`
}

// resetValidity is how long the app's reset links and codes live (password_reset_validity_minutes).
func (f *Flow) resetValidity(a app.App) time.Duration {
	if m := a.Settings.PasswordResetValidityMinutes; m > 0 {
		return time.Duration(m) * time.Minute
	}
	return DefaultResetValidity
}

// checkResetCommon checks what every start may carry and that the app has passwords.
func (f *Flow) checkResetCommon(a app.App, req ResetStartRequest) error {
	if err := f.passwordsOn(a); err != nil {
		return err
	}
	if req.EmailContent != nil {
		if field, problem := req.EmailContent.Validate(); field != "" {
			return apierr.Invalid(field, problem)
		}
	}
	if len(req.PrevResetToken) > 4096 {
		return apierr.Invalid("prev_reset_token", "must be at most 4096 characters")
	}
	return nil
}

// resetEmailUser finds the user of a link start by username or email (exactly one).
func (f *Flow) resetEmailUser(ctx context.Context, req ResetStartRequest) (store.User, error) {
	switch {
	case req.Username != "" && req.Email != "":
		return store.User{}, apierr.Invalid("username", "pass either username or email, not both")
	case req.Username != "":
		if len(req.Username) > 256 {
			return store.User{}, apierr.Invalid("username", "must be at most 256 characters")
		}
		return f.Users.Lookup(ctx, user.IDUsername, req.Username, "username")
	case req.Email != "":
		return f.Users.Lookup(ctx, user.IDEmail, req.Email, "email")
	}
	return store.User{}, apierr.Invalid("email", "username or email is required")
}

// quietly turns "no such user" into nothing to do: the starts that send something answer the same
// 200 whether or not the account exists (see ResetEmailLink).
func quietly(u store.User, err error) (store.User, bool, error) {
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Code == "user_not_found" {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	return u, true, nil
}

// ResetEmailLink emails the user a reset link (POST /cis/v1/auth/password/reset/email/link).
//
// No account enumeration: an unknown user, one without a verified email, or an inactive one gets
// the same 200 and nothing is sent (Mosaic documents a 404 and a 403 here; they would let anyone
// holding the app's client token — a public "forgot password" form — test which accounts exist).
// Only a verified email receives a reset: an unverified address may not be the user's.
func (f *Flow) ResetEmailLink(ctx context.Context, a app.App, clientID string, req ResetStartRequest) (Message, error) {
	if err := f.checkResetCommon(a, req); err != nil {
		return Message{}, err
	}
	if err := checkRedirect(a, req.RedirectURI); err != nil {
		return Message{}, err
	}
	u, found, err := quietly(f.resetEmailUser(ctx, req))
	if err != nil {
		return Message{}, err
	}
	sent := Message{Message: "Reset password email sent"}
	if !found || u.Email == "" || !u.EmailVerified || u.Status != user.StatusActive {
		f.Log.Info("password reset email not sent: no active user with a verified email", "app_id", a.ID)
		return sent, nil
	}
	link, issued, err := f.issueResetLink(ctx, a, clientID, u, req.RedirectURI, "email")
	if err != nil {
		return Message{}, err
	}
	content := resetEmailContent(a.Settings.EmailContent(req.EmailContent), a.Name)
	msg := delivery.RenderEmail(content, delivery.EmailData{AppName: a.Name, Link: link, ExpiresInMinutes: int(f.resetValidity(a).Minutes())})
	msg.To = u.Email
	if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
		return Message{}, err
	}
	return sent, nil
}

// ResetLink returns a reset link for the app to deliver itself (POST
// /cis/v1/auth/password/reset/link). The caller must get a link, so an unknown user is the 404.
func (f *Flow) ResetLink(ctx context.Context, a app.App, clientID string, req ResetStartRequest) (ResetLink, error) {
	if err := f.checkResetCommon(a, req); err != nil {
		return ResetLink{}, err
	}
	if err := checkRedirect(a, req.RedirectURI); err != nil {
		return ResetLink{}, err
	}
	u, err := f.resetEmailUser(ctx, req)
	if err != nil {
		return ResetLink{}, err
	}
	if u.Status != user.StatusActive {
		return ResetLink{}, apierr.UserNotActive()
	}
	link, _, err := f.issueResetLink(ctx, a, clientID, u, req.RedirectURI, "direct")
	if err != nil {
		return ResetLink{}, err
	}
	return ResetLink{ResetLink: link}, nil
}

func checkRedirect(a app.App, uri string) error {
	if uri == "" {
		return apierr.Invalid("redirect_uri", "is required")
	}
	if !a.AllowsRedirect(uri) {
		return magiclink.ErrRedirectNotAllowed()
	}
	return nil
}

func (f *Flow) issueResetLink(ctx context.Context, a app.App, clientID string, u store.User, redirectURI, channel string) (string, otp.Issued, error) {
	payload, _ := json.Marshal(resetGrant{ClientID: clientID, UserID: u.ID, RedirectURI: redirectURI})
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: methodResetLink, Channel: channel,
		Identifier: user.StateKey(u.ID), LimitKey: user.StateKey(u.ID), TTL: f.resetValidity(a), Payload: payload})
	if err != nil {
		return "", otp.Issued{}, err
	}
	return magiclink.AppendQuery(f.Issuer+ResetRedirectPath, "code", issued.Code), issued, nil
}

// ResetRedirect answers a GET on an emailed reset link: the link is used up (once: a reset link
// is a credential) and the browser goes to the start's redirect_uri with a new reset token as
// code. OK is false for an unknown, used or expired link.
func (f *Flow) ResetRedirect(ctx context.Context, apps func(ctx context.Context, id string) (app.App, error), code string) (Redirection, error) {
	if f.Passwords == nil || code == "" || len(code) > 256 {
		return Redirection{}, nil
	}
	row, err := f.Codes.ConsumeByHash(ctx, methodResetLink, code)
	if errors.Is(err, store.ErrNotFound) {
		return Redirection{}, nil
	}
	if err != nil {
		return Redirection{}, err
	}
	var g resetGrant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return Redirection{}, fmt.Errorf("reset payload: %w", err)
	}
	a, err := apps(ctx, row.AppID)
	if err != nil {
		return Redirection{}, err
	}
	tok, err := f.Passwords.IssueResetToken(ctx, a, g.UserID, password.ReasonEmailLink)
	if errors.As(err, new(*apierr.Error)) {
		return Redirection{}, nil
	}
	if err != nil {
		return Redirection{}, err
	}
	return Redirection{Target: magiclink.AppendQuery(g.RedirectURI, "code", tok), OK: true}, nil
}

// resetKey is where a reset code is kept: per email or phone number (and per app, by the store).
func resetKey(kind, v string) string {
	if kind == kindSMSOTP {
		return "phone:" + v
	}
	return "email:" + v
}

// ResetOTP sends a reset code by email (POST /cis/v1/auth/password/reset/email/otp) or SMS
// (/reset/sms/otp) to the user's verified primary email or phone number. As for the link, an
// unknown or unverified address answers the same 200 and nothing is sent.
func (f *Flow) ResetOTP(ctx context.Context, a app.App, clientID, kind string, req ResetStartRequest) (Message, error) {
	if err := f.checkResetCommon(a, req); err != nil {
		return Message{}, err
	}
	var u store.User
	var found bool
	var addr string
	var err error
	if kind == kindSMSOTP {
		p, problem := user.NormalizePhone(req.PhoneNumber)
		if problem != "" {
			return Message{}, apierr.Invalid("phone_number", problem)
		}
		addr = p
		u, found, err = quietly(f.Users.Lookup(ctx, user.IDPhone, p, "phone_number"))
		found = found && u.PhoneVerified
	} else {
		e, problem := user.NormalizeEmail(req.Email)
		if problem != "" {
			return Message{}, apierr.Invalid("email", problem)
		}
		addr = e
		u, found, err = quietly(f.Users.Lookup(ctx, user.IDEmail, e, "email"))
		found = found && u.EmailVerified
	}
	if err != nil {
		return Message{}, err
	}
	sent := Message{Message: "Email Sent"}
	if kind == kindSMSOTP {
		sent.Message = "SMS Sent"
	}
	if !found || u.Status != user.StatusActive {
		f.Log.Info("password reset code not sent: no active user with this verified address", "app_id", a.ID, "channel", kind)
		return sent, nil
	}
	ttl := f.resetValidity(a)
	payload, _ := json.Marshal(resetGrant{ClientID: clientID, UserID: u.ID})
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: methodResetOTP, Numeric: true, Channel: kind,
		Identifier: resetKey(kind, addr), LimitKey: user.StateKey(u.ID), TTL: ttl, Payload: payload})
	if err != nil {
		return Message{}, err
	}
	minutes := int(ttl.Minutes())
	var msg delivery.Message
	if kind == kindSMSOTP {
		msg = delivery.Message{Channel: delivery.ChannelSMS,
			Text: fmt.Sprintf("%s is your %s password reset code. It expires in %d minutes. If you did not ask to reset your password, ignore this message.", issued.Code, smsAppName(a.Name), minutes)}
	} else {
		content := resetEmailContent(a.Settings.EmailContent(req.EmailContent), a.Name)
		msg = delivery.RenderEmail(content, delivery.EmailData{AppName: a.Name, Code: issued.Code, ExpiresInMinutes: minutes})
	}
	msg.To = addr
	if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
		return Message{}, err
	}
	return sent, nil
}

// ResetOTPValidate checks a reset code and answers a reset token ({result}). A wrong, expired or
// unknown code is the spec's 403 (and counts toward the address's lockout).
func (f *Flow) ResetOTPValidate(ctx context.Context, a app.App, clientID, kind string, req ResetValidateRequest) (ResetToken, error) {
	if err := f.passwordsOn(a); err != nil {
		return ResetToken{}, err
	}
	var key string
	if kind == kindSMSOTP {
		p, problem := user.NormalizePhone(req.PhoneNumber)
		if problem != "" {
			return ResetToken{}, apierr.Invalid("phone_number", problem)
		}
		key = resetKey(kind, p)
	} else {
		e, problem := user.NormalizeEmail(req.Email)
		if problem != "" {
			return ResetToken{}, apierr.Invalid("email", problem)
		}
		key = resetKey(kind, e)
	}
	if req.Passcode == "" || len(req.Passcode) > 64 {
		return ResetToken{}, apierr.Invalid("passcode", "is required")
	}
	row, err := f.Codes.Verify(ctx, otp.Check{App: a, Method: methodResetOTP, Identifier: key, Code: req.Passcode})
	if err != nil {
		return ResetToken{}, resetCodeError(err)
	}
	var g resetGrant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return ResetToken{}, fmt.Errorf("reset payload: %w", err)
	}
	if g.ClientID != clientID {
		// Another client's code: used up now, and refused like a wrong one.
		return ResetToken{}, errInvalidResetCode()
	}
	reason := password.ReasonEmailOTP
	if kind == kindSMSOTP {
		reason = password.ReasonSMSOTP
	}
	tok, err := f.Passwords.IssueResetToken(ctx, a, g.UserID, reason)
	if err != nil {
		return ResetToken{}, err
	}
	return ResetToken{Result: tok}, nil
}

func errInvalidResetCode() *apierr.Error {
	return apierr.New(http.StatusForbidden, "auth_invalid_credentials", "Invalid or expired passcode")
}

// resetCodeError is the spec's 403 for a code that is wrong, expired or unknown; a lockout
// (already a 403) and any other error pass through.
func resetCodeError(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) && (ae.Code == "auth_invalid_credentials" || ae.Code == "auth_otp_passcode_expired") {
		return errInvalidResetCode()
	}
	return err
}

// ResetPasswordValidate trades the current password for a reset token (POST
// /cis/v1/auth/password/reset/password/validate): a change of password that proves the old one.
// A wrong password and an unknown user are the same 403, counted toward the lockout. A temporary
// or expired password is accepted here: proving it is what a reset needs.
func (f *Flow) ResetPasswordValidate(ctx context.Context, a app.App, clientID string, req ResetPasswordValidateRequest) (ResetToken, error) {
	if err := f.passwordsOn(a); err != nil {
		return ResetToken{}, err
	}
	typ, identifier, err := PasswordIdentifier(req.Username, req.Email, req.PhoneNumber)
	if err != nil {
		return ResetToken{}, err
	}
	if req.Password == "" {
		return ResetToken{}, apierr.Invalid("password", "is required")
	}
	if len(req.PrevResetToken) > 4096 {
		return ResetToken{}, apierr.Invalid("prev_reset_token", "must be at most 4096 characters")
	}
	v, err := f.Passwords.Check(ctx, a, typ, identifier, req.Password)
	var ae *apierr.Error
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return ResetToken{}, apierr.New(http.StatusForbidden, ae.Code, ae.Message)
	case errors.As(err, &ae) && ae.ResetToken != "":
		// A temporary or expired password: its reset token is the answer.
		return ResetToken{Result: ae.ResetToken}, nil
	default:
		return ResetToken{}, err
	}
	// The password was right: the user's earlier failures are forgotten, as a login would.
	for _, use := range v.Uses {
		if uf, ok := use.(store.UseFailures); ok {
			if err := f.Codes.Succeeded(ctx, otp.Check{App: a, Method: uf.Method, Identifier: uf.Identifier}, store.Lockout{Failures: 1}); err != nil {
				return ResetToken{}, err
			}
		}
	}
	tok, err := f.Passwords.IssueResetToken(ctx, a, v.User.ID, password.ReasonCurrentPassword)
	if err != nil {
		return ResetToken{}, err
	}
	return ResetToken{Result: tok}, nil
}

// resetEmailContent fills in reset wording where the request and the app set none (the
// defaults of a login email would say "Sign in").
func resetEmailContent(c delivery.EmailContent, appName string) delivery.EmailContent {
	if appName == "" {
		appName = "Latch"
	}
	if c.Subject == "" {
		c.Subject = "Reset your password for " + appName
	}
	if c.HeaderText == "" {
		c.HeaderText = "Reset your password"
	}
	if c.BodyText == "" {
		c.BodyText = "Someone asked to reset the password of your " + appName + " account. If it was you, use this to choose a new password. If not, ignore this email: your password stays as it is."
	}
	if c.LinkText == "" {
		c.LinkText = "Reset password"
	}
	return c
}

// smsAppName keeps an SMS short and on one line.
func smsAppName(name string) string {
	if name == "" {
		return "Latch"
	}
	r := []rune(name)
	if len(r) > 40 {
		r = r[:40]
	}
	for i, c := range r {
		if c == '\n' || c == '\r' {
			r = r[:i]
			break
		}
	}
	return string(r)
}
