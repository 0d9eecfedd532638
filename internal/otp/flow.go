package otp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// Channels of the backend OTP flow.
const (
	ChannelEmail  = "email"
	ChannelSMS    = "sms"
	ChannelDirect = "direct"
)

// AMR is the amr value of a code login by channel.
var AMR = map[string]string{ChannelEmail: "eotp", ChannelSMS: "sms", ChannelDirect: "otp"}

// Flow is the backend OTP login (seed 002): send a code, authenticate with it.
type Flow struct {
	Codes    *Codes
	Users    *user.Service
	Sessions *session.Service
	Sender   delivery.Sender
	Metrics  *metrics.Metrics
	Log      *slog.Logger
}

// SMSInput is custom_sms_input.
type SMSInput struct {
	CustomMessage string `json:"custom_message"`
	SenderID      string `json:"sender_id"`
}

// SendRequest is ApiOtpInitRequestDto.
type SendRequest struct {
	Channel           string                 `json:"channel"`
	IdentifierType    string                 `json:"identifier_type"`
	Identifier        string                 `json:"identifier"`
	EmailContent      *delivery.EmailContent `json:"email_content"`
	CustomSMSInput    *SMSInput              `json:"custom_sms_input"`
	CustomEmail       string                 `json:"custom_email"`
	CustomPhoneNumber string                 `json:"custom_phone_number"`
	ApprovalData      map[string]any         `json:"approval_data"`
	ExpiresIn         *float64               `json:"expires_in"`
	GenerateRequestID bool                   `json:"generate_request_id"`
	DeviceID          string                 `json:"device_id"`
	ClientAttributes  *device.Attributes     `json:"client_attributes"`
}

// SendResponse is ApiSendOtpResponse (plus request_id when one was generated).
type SendResponse struct {
	Message      string         `json:"message"`
	ApprovalData map[string]any `json:"approval_data,omitempty"`
	Code         string         `json:"code,omitempty"`
	RequestID    string         `json:"request_id,omitempty"`
}

// codePayload is what an OTP remembers until it is used.
type codePayload struct {
	Channel      string         `json:"channel"`
	ApprovalData map[string]any `json:"approval_data,omitempty"`
}

// Minutes validates an optional per-request lifetime in minutes (expires_in, email_expiration).
func Minutes(field string, v *float64, max int) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	if *v != math.Trunc(*v) || *v < 1 || *v > float64(max) {
		return 0, apierr.Invalid(field, fmt.Sprintf("must be a whole number of minutes between 1 and %d", max))
	}
	return time.Duration(*v) * time.Minute, nil
}

// Send issues a code for the user and delivers it by email or SMS, or returns it (direct).
func (f *Flow) Send(ctx context.Context, a app.App, req SendRequest) (SendResponse, error) {
	switch req.Channel {
	case ChannelEmail, ChannelSMS, ChannelDirect:
	case "":
		return SendResponse{}, apierr.Invalid("channel", "is required")
	default:
		return SendResponse{}, apierr.Invalid("channel", "must be one of email, sms, direct")
	}
	ttl, err := Minutes("expires_in", req.ExpiresIn, 60)
	if err != nil {
		return SendResponse{}, err
	}
	if err := session.ValidateApprovalData(req.ApprovalData); err != nil {
		return SendResponse{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return SendResponse{}, err
	}
	var content delivery.EmailContent
	if req.EmailContent != nil {
		content = *req.EmailContent
		if field, problem := content.Validate(); field != "" {
			return SendResponse{}, apierr.Invalid(field, problem)
		}
	}
	content = a.Settings.EmailContent(&content)
	var sms SMSInput
	if req.CustomSMSInput != nil {
		sms = *req.CustomSMSInput
		if sms.CustomMessage != "" {
			if problem := delivery.ValidateSMSTemplate(sms.CustomMessage); problem != "" {
				return SendResponse{}, apierr.Invalid("custom_sms_input.custom_message", problem)
			}
		}
		if len(sms.SenderID) > 11 {
			return SendResponse{}, apierr.Invalid("custom_sms_input.sender_id", "must be at most 11 characters")
		}
	}
	u, err := f.Users.Find(ctx, req.IdentifierType, req.Identifier)
	if err != nil {
		return SendResponse{}, err
	}
	if u.Status != user.StatusActive {
		return SendResponse{}, apierr.UserNotActive()
	}
	to, err := recipient(req, u)
	if err != nil {
		return SendResponse{}, err
	}
	payload, _ := json.Marshal(codePayload{Channel: req.Channel, ApprovalData: req.ApprovalData})
	issued, err := f.Codes.Issue(ctx, Issue{App: a, UserID: u.ID, Method: MethodOTP, Numeric: true, Channel: req.Channel,
		Identifier: user.StateKey(u.ID), TTL: ttl, RequestID: req.GenerateRequestID, Payload: payload})
	if err != nil {
		return SendResponse{}, err
	}
	resp := SendResponse{Message: "OTP sent", ApprovalData: req.ApprovalData, RequestID: issued.RequestID}
	minutes := a.Settings.OTPExpiryMinutes
	if ttl > 0 {
		minutes = int(ttl.Minutes())
	}
	switch req.Channel {
	case ChannelDirect:
		resp.Code = issued.Code
	case ChannelEmail:
		msg := delivery.RenderEmail(content, delivery.EmailData{AppName: a.Name, Code: issued.Code, ExpiresInMinutes: minutes})
		msg.To = to
		if err := f.Codes.Deliver(ctx, issued, f.Sender, msg); err != nil {
			return SendResponse{}, err
		}
	case ChannelSMS:
		body := delivery.RenderSMS(sms.CustomMessage, a.Name, issued.Code, minutes)
		if err := f.Codes.Deliver(ctx, issued, f.Sender, delivery.Message{Channel: delivery.ChannelSMS, To: to, Text: body, SenderID: sms.SenderID}); err != nil {
			return SendResponse{}, err
		}
	}
	f.Log.Info("otp sent", "app_id", a.ID, "user_id", u.ID, "channel", req.Channel)
	return resp, nil
}

// recipient picks the address the code goes to: the custom one if given, else the user's.
func recipient(req SendRequest, u store.User) (string, error) {
	switch req.Channel {
	case ChannelEmail:
		if req.CustomEmail != "" {
			e, problem := user.NormalizeEmail(req.CustomEmail)
			if problem != "" {
				return "", apierr.Invalid("custom_email", problem)
			}
			return e, nil
		}
		if u.Email == "" {
			return "", apierr.NotFound("user_email_address_missing", "User has no email address")
		}
		return u.Email, nil
	case ChannelSMS:
		if req.CustomPhoneNumber != "" {
			p, problem := user.NormalizePhone(req.CustomPhoneNumber)
			if problem != "" {
				return "", apierr.Invalid("custom_phone_number", problem)
			}
			return p, nil
		}
		if u.Phone == "" {
			return "", apierr.NotFound("user_phone_number_missing", "User has no phone number")
		}
		return u.Phone, nil
	}
	return "", nil
}

// AuthenticateRequest is ApiOtpTokenRequestDto.
type AuthenticateRequest struct {
	Passcode         string             `json:"passcode"`
	IdentifierType   string             `json:"identifier_type"`
	Identifier       string             `json:"identifier"`
	RequestID        string             `json:"request_id"`
	Resource         string             `json:"resource"`
	Claims           json.RawMessage    `json:"claims"`
	OrgID            string             `json:"org_id"`
	SessionID        string             `json:"session_id"`
	DeviceID         string             `json:"device_id"`
	ClientAttributes *device.Attributes `json:"client_attributes"`
}

// Authenticate verifies the passcode and returns user tokens.
func (f *Flow) Authenticate(ctx context.Context, a app.App, clientID string, req AuthenticateRequest) (session.Tokens, error) {
	if req.Passcode == "" {
		return session.Tokens{}, apierr.Invalid("passcode", "is required")
	}
	if len(req.Passcode) > 64 {
		return session.Tokens{}, apierr.Invalid("passcode", "is too long")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return session.Tokens{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return session.Tokens{}, err
	}
	by, value, err := user.Key(req.IdentifierType, req.Identifier, "identifier")
	if err != nil {
		return session.Tokens{}, err
	}
	// The user, their latest code and its identifier's failures: one read.
	u, check, code, _, err := f.Codes.CheckUser(ctx, Check{App: a, Method: MethodOTP, Code: req.Passcode, RequestID: req.RequestID}, by, value)
	if err != nil {
		return session.Tokens{}, err
	}
	var p codePayload
	json.Unmarshal(code.Payload, &p)
	tok, err := f.Sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: u, Method: AMR[p.Channel],
		SessionID: req.SessionID, Resource: req.Resource, Claims: req.Claims, ApprovalData: p.ApprovalData, Uses: f.Codes.Uses(check, code)})
	switch {
	case errors.Is(err, store.ErrUsed): // another request used the code first, or it just expired
		return session.Tokens{}, apierr.InvalidCredentials("Invalid passcode")
	case errors.Is(err, store.ErrLocked): // wrong guesses racing this one reached the limit first
		return session.Tokens{}, apierr.Locked("One time code invalid due to multiple failed attempts")
	case err != nil:
		return session.Tokens{}, err
	}
	f.Metrics.Login("otp_"+p.Channel, "ok")
	return tok, nil
}
