// Package hosted owns the frontend-integration one-time login (seed 003): sending an email link or
// an email/SMS OTP, validating the OTP into a result URI, the redirect that hands the browser an
// authorization code (or an ID token), and exchanging that code for tokens. It reuses otp's code
// rules and session's token issuance; it never logs a code or a token.
package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// Code methods of the hosted flow.
const (
	methodOTP      = "hosted_otp" // the OTP the user types
	MethodAuthCode = "authcode"   // what the browser carries to redirect_uri (also the emailed link's code)
)

// RedirectPath is the path of result URIs and emailed links on Latch.
const RedirectPath = "/cis/v1/auth/hosted/redirect"

// CodeTTL is the lifetime of an authorization code made by a validation.
const CodeTTL = 5 * time.Minute

// Flow is the hosted one-time login.
type Flow struct {
	Codes    *otp.Codes
	Users    *user.Service
	Sessions *session.Service
	Sender   delivery.Sender
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Issuer   string
	// Passwords checks passwords and issues reset tokens (nil: the password routes answer 501).
	Passwords *password.Service
}

// StartRequest is the union of ApiSendLoginEmailInput, ApiSendOtpEmailRequestInput and
// ApiSendAuthSmsOtpInput, plus state and nonce (carried to the redirect and the ID token).
type StartRequest struct {
	Email          string                 `json:"email"`
	PhoneNumber    string                 `json:"phone_number"`
	RedirectURI    string                 `json:"redirect_uri"`
	CreateNewUser  bool                   `json:"create_new_user"`
	Resource       string                 `json:"resource"`
	EmailContent   *delivery.EmailContent `json:"email_content"`
	CustomMessage  string                 `json:"custom_message"`
	SenderID       string                 `json:"sender_id"`
	RequireMFA     bool                   `json:"require_mfa"`
	Claims         json.RawMessage        `json:"claims"`
	ApprovalData   map[string]any         `json:"approval_data"`
	OrgID          string                 `json:"org_id"`
	State          string                 `json:"state"`
	Nonce          string                 `json:"nonce"`
	ResponseType   string                 `json:"response_type"`
	ClientAttrs    *device.Attributes     `json:"client_attributes"`
	DeviceID       string                 `json:"device_id"`
	ExpiresIn      *float64               `json:"expires_in"`
	EmailExpiresIn *float64               `json:"email_expiration"`
}

// StartResponse is ApiSendEmailResponse / ApiSendOtpEmailResponse.
type StartResponse struct {
	Message      string         `json:"message"`
	ApprovalData map[string]any `json:"approval_data,omitempty"`
}

// ValidateRequest is ApiValidateAuthEmailOtpInput / ApiValidateAuthSmsOtpInput.
type ValidateRequest struct {
	Email        string `json:"email"`
	PhoneNumber  string `json:"phone_number"`
	Passcode     string `json:"passcode"`
	ResponseType string `json:"response_type"`
	Nonce        string `json:"nonce"`
}

// grant is what a hosted code remembers: everything the token exchange needs.
type grant struct {
	ClientID     string          `json:"client_id"`
	RedirectURI  string          `json:"redirect_uri"`
	UserID       string          `json:"user_id,omitempty"`
	Email        string          `json:"email,omitempty"`
	Phone        string          `json:"phone_number,omitempty"`
	CreateUser   bool            `json:"create_new_user,omitempty"`
	Resource     string          `json:"resource,omitempty"`
	Claims       json.RawMessage `json:"claims,omitempty"`
	ApprovalData map[string]any  `json:"approval_data,omitempty"`
	RequireMFA   bool            `json:"require_mfa,omitempty"`
	State        string          `json:"state,omitempty"`
	Nonce        string          `json:"nonce,omitempty"`
	ResponseType string          `json:"response_type,omitempty"`
	AMR          string          `json:"amr"`
	// SessionID names the session a code made by the second factor of a require_mfa login
	// stands for: its exchange mints that session's tokens (AMR is then "").
	SessionID string `json:"session_id,omitempty"`
	// PwFailures and PwRehash are what the password step of a hosted password login uses up
	// when its code completes the login (see carry).
	PwFailures *store.UseFailures       `json:"pw_failures,omitempty"`
	PwRehash   *store.UsePasswordRehash `json:"pw_rehash,omitempty"`
}

// Channels of the hosted flow.
const (
	kindLink     = "link"
	kindEmailOTP = "email"
	kindSMSOTP   = "sms"
)

// identifierKey is where a hosted code is kept: per client, so a validation by another client
// finds nothing (and burns nothing), and per email or phone number, since the user may not exist yet.
func identifierKey(clientID, kind, email, phone string) string {
	if kind == kindSMSOTP {
		return "client:" + clientID + "|phone:" + phone
	}
	return "client:" + clientID + "|email:" + email
}

// limitKey is whose sends a hosted send counts toward: the user's, like every other method's, or
// for a sign-up (no user yet) the recipient's.
func limitKey(userID, recipient string) string {
	if userID != "" {
		return user.StateKey(userID)
	}
	return recipient
}

// Start sends an email link (kind "link") or an email or SMS OTP.
func (f *Flow) Start(ctx context.Context, a app.App, clientID, kind string, req StartRequest) (StartResponse, error) {
	g, err := f.validateStart(ctx, a, clientID, kind, req)
	if err != nil {
		return StartResponse{}, err
	}
	payload, _ := json.Marshal(g)
	to := g.Email
	if kind == kindSMSOTP {
		to = g.Phone
	}
	if kind == kindLink {
		ttl, err := otp.Minutes("email_expiration", req.EmailExpiresIn, 24*60)
		if err != nil {
			return StartResponse{}, err
		}
		issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: g.UserID, Method: MethodAuthCode, Channel: "email",
			Identifier: identifierKey(clientID, kind, g.Email, ""), LimitKey: limitKey(g.UserID, "email:"+g.Email), TTL: ttl, Payload: payload})
		if err != nil {
			return StartResponse{}, err
		}
		minutes := a.Settings.MagicLinkExpiryMinutes
		if ttl > 0 {
			minutes = int(ttl.Minutes())
		}
		msg := delivery.RenderEmail(a.Settings.EmailContent(req.EmailContent), delivery.EmailData{AppName: a.Name, Link: f.resultURI(issued.Code), ExpiresInMinutes: minutes})
		msg.To = to
		if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
			return StartResponse{}, err
		}
		return StartResponse{Message: "Email sent successfully"}, nil
	}
	ttl, err := otp.Minutes("expires_in", req.ExpiresIn, 60)
	if err != nil {
		return StartResponse{}, err
	}
	recipient := "email:" + g.Email
	if kind == kindSMSOTP {
		recipient = "phone:" + g.Phone
	}
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: g.UserID, Method: methodOTP, Numeric: true, Channel: kind,
		Identifier: identifierKey(clientID, kind, g.Email, g.Phone), LimitKey: limitKey(g.UserID, recipient), TTL: ttl, Payload: payload})
	if err != nil {
		return StartResponse{}, err
	}
	minutes := a.Settings.OTPExpiryMinutes
	if ttl > 0 {
		minutes = int(ttl.Minutes())
	}
	var msg delivery.Message
	if kind == kindEmailOTP {
		msg = delivery.RenderEmail(a.Settings.EmailContent(req.EmailContent), delivery.EmailData{AppName: a.Name, Code: issued.Code, ExpiresInMinutes: minutes})
	} else {
		msg = delivery.Message{Channel: delivery.ChannelSMS, Text: delivery.RenderSMS(req.CustomMessage, a.Name, issued.Code, minutes), SenderID: req.SenderID}
	}
	msg.To = to
	if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
		return StartResponse{}, err
	}
	msgText := "Email sent successfully"
	if kind == kindSMSOTP {
		msgText = "SMS sent successfully"
	}
	return StartResponse{Message: msgText, ApprovalData: req.ApprovalData}, nil
}

// validateStart checks the request and resolves (or plans to create) the user.
func (f *Flow) validateStart(ctx context.Context, a app.App, clientID, kind string, req StartRequest) (grant, error) {
	g := grant{ClientID: clientID, RedirectURI: req.RedirectURI, CreateUser: req.CreateNewUser, Resource: req.Resource,
		Claims: req.Claims, ApprovalData: req.ApprovalData, RequireMFA: req.RequireMFA || a.Settings.RequireMFA, State: req.State, Nonce: req.Nonce}
	switch kind {
	case kindLink:
		g.AMR = "eml"
	case kindEmailOTP:
		g.AMR = "eotp"
	default:
		g.AMR = "sms"
	}
	var typ, identifier string
	if kind == kindSMSOTP {
		p, problem := user.NormalizePhone(req.PhoneNumber)
		if problem != "" {
			return g, apierr.Invalid("phone_number", problem)
		}
		g.Phone, typ, identifier = p, user.IDPhone, p
	} else {
		e, problem := user.NormalizeEmail(req.Email)
		if problem != "" {
			return g, apierr.Invalid("email", problem)
		}
		g.Email, typ, identifier = e, user.IDEmail, e
	}
	if req.RedirectURI == "" {
		return g, apierr.Invalid("redirect_uri", "is required")
	}
	if !a.AllowsRedirect(req.RedirectURI) {
		return g, magiclink.ErrRedirectNotAllowed()
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return g, apierr.Invalid("resource", "is not a resource of this application")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return g, err
	}
	if err := session.ValidateApprovalData(req.ApprovalData); err != nil {
		return g, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return g, err
	}
	if len(req.State) > 2048 || len(req.Nonce) > 512 {
		return g, apierr.Invalid("state", "state must be at most 2048 and nonce at most 512 characters")
	}
	switch req.ResponseType {
	case "", "code":
	case "id_token":
		if kind == kindLink { // an emailed link must survive a mail scanner's prefetch: it carries a code
			return g, apierr.Invalid("response_type", "must be code for an email link")
		}
	default:
		return g, apierr.Invalid("response_type", "must be code or id_token")
	}
	g.ResponseType = req.ResponseType
	if req.EmailContent != nil {
		if field, problem := req.EmailContent.Validate(); field != "" {
			return g, apierr.Invalid(field, problem)
		}
	}
	if req.CustomMessage != "" {
		if problem := delivery.ValidateSMSTemplate(req.CustomMessage); problem != "" {
			return g, apierr.Invalid("custom_message", problem)
		}
	}
	if len(req.SenderID) > 11 {
		return g, apierr.Invalid("sender_id", "must be at most 11 characters")
	}
	if _, err := otp.Minutes("email_expiration", req.EmailExpiresIn, 24*60); err != nil {
		return g, err
	}
	if _, err := otp.Minutes("expires_in", req.ExpiresIn, 60); err != nil {
		return g, err
	}
	u, err := f.Users.Find(ctx, typ, identifier)
	var ae *apierr.Error
	switch {
	case err == nil:
		if u.Status != user.StatusActive {
			return g, apierr.UserNotActive()
		}
		g.UserID = u.ID
	case errors.As(err, &ae) && ae.Code == "user_not_found":
		if !req.CreateNewUser {
			return g, err
		}
		if !a.AllowSignup {
			return g, apierr.New(http.StatusForbidden, "signup_not_allowed", "Public signup is not allowed for this application")
		}
	default:
		return g, err
	}
	return g, nil
}

// Validate checks an email or SMS OTP and returns the result URI the browser is sent to.
func (f *Flow) Validate(ctx context.Context, a app.App, clientID, kind string, req ValidateRequest) (string, error) {
	var key string
	if kind == kindSMSOTP {
		p, problem := user.NormalizePhone(req.PhoneNumber)
		if problem != "" {
			return "", apierr.Invalid("phone_number", problem)
		}
		key = identifierKey(clientID, kind, "", p)
	} else {
		e, problem := user.NormalizeEmail(req.Email)
		if problem != "" {
			return "", apierr.Invalid("email", problem)
		}
		key = identifierKey(clientID, kind, e, "")
	}
	if req.Passcode == "" || len(req.Passcode) > 64 {
		return "", apierr.Invalid("passcode", "is required")
	}
	switch req.ResponseType {
	case "", "code", "id_token":
	default:
		return "", apierr.Invalid("response_type", "must be code or id_token")
	}
	if len(req.Nonce) > 512 {
		return "", apierr.Invalid("nonce", "must be at most 512 characters")
	}
	row, err := f.Codes.Verify(ctx, otp.Check{App: a, Method: methodOTP, Identifier: key, Code: req.Passcode})
	if err != nil {
		return "", err
	}
	var g grant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return "", fmt.Errorf("hosted payload: %w", err)
	}
	if g.ClientID != clientID {
		return "", apierr.InvalidCredentials("Invalid passcode")
	}
	if req.ResponseType != "" {
		g.ResponseType = req.ResponseType
	}
	if req.Nonce != "" {
		g.Nonce = req.Nonce
	}
	payload, _ := json.Marshal(g)
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: g.UserID, Method: MethodAuthCode, Channel: "redirect",
		Identifier: "code:" + secret.NewID(), TTL: CodeTTL, Payload: payload})
	if err != nil {
		return "", err
	}
	return f.resultURI(issued.Code), nil
}

func (f *Flow) resultURI(code string) string {
	return magiclink.AppendQuery(f.Issuer+RedirectPath, "code", code)
}
