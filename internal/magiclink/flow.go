// Package magiclink owns email magic-link login (seed 002): links built on otp's code rules (a
// 256-bit code stored as a keyed hash, single use, rate limited), the link that points at Latch
// and redirects without consuming anything, and authentication with the code. It never logs a code.
package magiclink

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// RedirectPath is the path of the emailed link on Latch.
const RedirectPath = "/cis/v1/auth/link/email/redirect"

// Flow is the backend magic-link login.
type Flow struct {
	Codes    *otp.Codes
	Users    *user.Service
	Sessions *session.Service
	Sender   delivery.Sender
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Issuer   string // links point at {Issuer}{RedirectPath}
}

// SendRequest is the union of ApiMagicLinkInitWithIdentifierRequestDto and the deprecated
// ApiMagicLinkInitWithEmailRequestDto.
type SendRequest struct {
	Identifier        string                 `json:"identifier"`
	IdentifierType    string                 `json:"identifier_type"`
	Email             string                 `json:"email"`
	RedirectURI       string                 `json:"redirect_uri"`
	EmailContent      *delivery.EmailContent `json:"email_content"`
	State             string                 `json:"state"`
	EmailExpiration   *float64               `json:"email_expiration"`
	Channel           string                 `json:"channel"`
	GenerateRequestID bool                   `json:"generate_request_id"`
	DeviceID          string                 `json:"device_id"`
	ClientAttributes  *device.Attributes     `json:"client_attributes"`
}

// SendResponse is ApiSendEmailResponse; code and request_id appear only when asked for.
type SendResponse struct {
	Message   string `json:"message"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Payload is what a link code remembers until it is used.
type Payload struct {
	RedirectURI string `json:"redirect_uri"`
	State       string `json:"state,omitempty"`
}

// mosaicError builds the magic-link errors, whose error_code is the status as a string.
func mosaicError(status int, message string) *apierr.Error {
	return apierr.New(status, strconv.Itoa(status), message)
}

// ErrRedirectNotAllowed is the reference's 400 for a redirect URI not configured for the app.
func ErrRedirectNotAllowed() *apierr.Error {
	return mosaicError(400, "redirect_uri is not one of the allowed redirect URIs configured for this app")
}

// Send issues a link code for the user and emails a link to Latch that redirects to redirect_uri.
func (f *Flow) Send(ctx context.Context, a app.App, req SendRequest) (SendResponse, error) {
	if req.RedirectURI == "" {
		return SendResponse{}, apierr.Invalid("redirect_uri", "is required")
	}
	if !a.AllowsRedirect(req.RedirectURI) {
		return SendResponse{}, ErrRedirectNotAllowed()
	}
	switch req.Channel {
	case "", "email", "direct":
	default:
		return SendResponse{}, apierr.Invalid("channel", "must be email or direct")
	}
	ttl, err := otp.Minutes("email_expiration", req.EmailExpiration, 24*60)
	if err != nil {
		return SendResponse{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return SendResponse{}, err
	}
	if len(req.State) > 2048 {
		return SendResponse{}, apierr.Invalid("state", "must be at most 2048 characters")
	}
	var content delivery.EmailContent
	if req.EmailContent != nil {
		content = *req.EmailContent
		if field, problem := content.Validate(); field != "" {
			return SendResponse{}, apierr.Invalid(field, problem)
		}
	}
	content = a.Settings.EmailContent(&content)
	typ, identifier := req.IdentifierType, req.Identifier
	if identifier == "" && req.Email != "" { // the deprecated shape
		typ, identifier = user.IDEmail, req.Email
	}
	u, err := f.Users.Find(ctx, typ, identifier)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Code == "user_not_found" {
			return SendResponse{}, mosaicError(404, "User not found")
		}
		return SendResponse{}, err
	}
	if u.Status != user.StatusActive {
		return SendResponse{}, mosaicError(403, "User is not active")
	}
	if u.Email == "" && req.Channel != "direct" {
		return SendResponse{}, apierr.NotFound("user_email_address_missing", "User has no email address")
	}
	channel := req.Channel
	if channel == "" {
		channel = "email"
	}
	payload, _ := json.Marshal(Payload{RedirectURI: req.RedirectURI, State: req.State})
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: otp.MethodLink, Channel: channel,
		Identifier: user.StateKey(u.ID), TTL: ttl, RequestID: req.GenerateRequestID, Payload: payload})
	if err != nil {
		return SendResponse{}, err
	}
	resp := SendResponse{Message: "Email sent successfully", RequestID: issued.RequestID}
	if channel == "direct" {
		resp.Code = issued.Code
		return resp, nil
	}
	minutes := a.Settings.MagicLinkExpiryMinutes
	if ttl > 0 {
		minutes = int(ttl.Minutes())
	}
	msg := delivery.RenderEmail(content, delivery.EmailData{AppName: a.Name, Link: f.Link(issued.Code), ExpiresInMinutes: minutes})
	msg.To = u.Email
	if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
		return SendResponse{}, err
	}
	f.Log.Info("magic link sent", "app_id", a.ID, "user_id", u.ID)
	return resp, nil
}

// Link is the URL emailed to the user.
func (f *Flow) Link(code string) string {
	return f.Issuer + RedirectPath + "?code=" + url.QueryEscape(code)
}

// Redirect answers a GET on the emailed link: where to send the browser, consuming nothing (mail
// scanners prefetch links). An unknown, used or expired code gets ok=false.
func (f *Flow) Redirect(ctx context.Context, code string) (string, bool, error) {
	row, err := f.Codes.Find(ctx, otp.MethodLink, code)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var p Payload
	if err := json.Unmarshal(row.Payload, &p); err != nil || p.RedirectURI == "" {
		return "", false, nil
	}
	return AppendQuery(p.RedirectURI, "code", code, "state", p.State), true, nil
}

// AppendQuery adds key/value pairs (skipping empty values) to a URI's query.
func AppendQuery(uri string, kv ...string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// AuthenticateRequest is ApiMagicLinkTokenRequestDto.
type AuthenticateRequest struct {
	Code             string             `json:"code"`
	RequestID        string             `json:"request_id"`
	Resource         string             `json:"resource"`
	Claims           json.RawMessage    `json:"claims"`
	OrgID            string             `json:"org_id"`
	SessionID        string             `json:"session_id"`
	DeviceID         string             `json:"device_id"`
	ClientAttributes *device.Attributes `json:"client_attributes"`
}

// Authenticate consumes the link code once and returns user tokens.
func (f *Flow) Authenticate(ctx context.Context, a app.App, clientID string, req AuthenticateRequest) (session.Tokens, error) {
	if req.Code == "" {
		return session.Tokens{}, apierr.Invalid("code", "is required")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return session.Tokens{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return session.Tokens{}, err
	}
	invalid := mosaicError(400, "Invalid magic link code")
	// The code and its user: one read.
	found, u, err := f.Codes.FindWithUser(ctx, otp.MethodLink, req.Code)
	if errors.Is(err, store.ErrNotFound) || (err == nil && found.AppID != a.ID) {
		f.Metrics.Login("magiclink", "failed")
		return session.Tokens{}, invalid
	}
	if err != nil {
		return session.Tokens{}, err
	}
	if found.RequestID != "" && !secret.Equal(found.RequestID, req.RequestID) {
		return session.Tokens{}, apierr.Invalid("request_id", "does not match the request that sent the link")
	}
	if u.ID == "" {
		return session.Tokens{}, mosaicError(400, "User not found")
	}
	// The link code is used up in the transaction that saves the login, so a login refused for
	// any other reason (an unknown session, a bad resource) leaves the link usable.
	tok, err := f.Sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: u, Method: "eml",
		SessionID: req.SessionID, Resource: req.Resource, Claims: req.Claims, Uses: f.Codes.UsesHighEntropy(found)})
	if errors.Is(err, store.ErrUsed) {
		f.Metrics.Login("magiclink", "failed")
		return session.Tokens{}, invalid
	}
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Code == "session_not_found" {
		return session.Tokens{}, mosaicError(400, "Session not found") // the reference's answer here
	}
	if err != nil {
		return session.Tokens{}, err
	}
	f.Metrics.Login("magiclink", "ok")
	return tok, nil
}
