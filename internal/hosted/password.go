package hosted

import (
	"context"
	"encoding/json"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// AMRPassword is the amr of a password factor (Mosaic's "pwd").
const AMRPassword = "pwd"

// Passwords is what the hosted password flows need of the password service.
type Passwords interface {
	// CheckLogin verifies a password login of a's user named by idType and identifier, counting a
	// failure toward the lockout and clearing them on success. A wrong password and an unknown user
	// are the same 401 in the same time; a temporary or expired password is the 403 that carries a
	// reset token; a locked user is refused.
	CheckLogin(ctx context.Context, a app.App, idType, identifier, password string) (store.User, error)
	// IssueResetToken returns a new single-use reset token for the user; reason says what proved
	// the user (email_link, email_otp, sms_otp, password).
	IssueResetToken(ctx context.Context, a app.App, userID, reason string) (string, error)
	// Enabled reports whether a allows password logins (the 403 to answer when not).
	Enabled(a app.App) error
}

// PasswordLoginRequest is ApiPasswordLoginInput.
type PasswordLoginRequest struct {
	Username    string          `json:"username"`
	Email       string          `json:"email"`
	PhoneNumber string          `json:"phone_number"`
	Password    string          `json:"password"`
	ClientID    string          `json:"client_id"`
	RedirectURI string          `json:"redirect_uri"`
	Resource    string          `json:"resource"`
	RequireMFA  bool            `json:"require_mfa"`
	Claims      json.RawMessage `json:"claims"`
	OrgID       string          `json:"org_id"`
	State       string          `json:"state"`
	Nonce       string          `json:"nonce"`
}

// URLResult is ApiPasswordLoginResponse's result.
type URLResult struct {
	URL string `json:"url"`
}

// PasswordIdentifier is the one identifier of a password request: its type and value, or the
// 400 when none or more than one is given.
func PasswordIdentifier(username, email, phone string) (string, string, error) {
	n := 0
	typ, v := "", ""
	for _, c := range []struct{ typ, v string }{{user.IDUsername, username}, {user.IDEmail, email}, {user.IDPhone, phone}} {
		if c.v != "" {
			n++
			typ, v = c.typ, c.v
		}
	}
	if n != 1 {
		return "", "", apierr.Invalid("username", "exactly one of username, email or phone_number is required")
	}
	return typ, v, nil
}

// PasswordLogin is the hosted password login (POST /cis/v1/auth/password/login): the password is
// checked now, and the answer is the URL the browser follows. Without require_mfa (the request's
// or the app's) that URL ends at redirect_uri?code=…, a code exchanged like any hosted code (amr
// pwd). With it, the browser's GET starts a session waiting for its second factor and ends at
// redirect_uri?error=mfa_required with the tie cookie set (see mfaStep), and a hosted SMS or email
// OTP (or link) with require_mfa, validated in the same browser, completes that session.
func (f *Flow) PasswordLogin(ctx context.Context, a app.App, clientID string, req PasswordLoginRequest) (map[string]URLResult, error) {
	if f.Passwords == nil {
		return nil, apierr.New(501, "not_implemented", "Passwords are not available")
	}
	typ, identifier, err := PasswordIdentifier(req.Username, req.Email, req.PhoneNumber)
	if err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, apierr.Invalid("password", "is required")
	}
	if req.RedirectURI == "" {
		return nil, apierr.Invalid("redirect_uri", "is required")
	}
	if !a.AllowsRedirect(req.RedirectURI) {
		return nil, magiclink.ErrRedirectNotAllowed()
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return nil, apierr.Invalid("resource", "is not a resource of this application")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return nil, err
	}
	if len(req.State) > 2048 || len(req.Nonce) > 512 {
		return nil, apierr.Invalid("state", "state must be at most 2048 and nonce at most 512 characters")
	}
	if len(req.OrgID) > 256 {
		return nil, apierr.Invalid("org_id", "must be at most 256 characters")
	}
	if err := f.Passwords.Enabled(a); err != nil {
		return nil, err
	}
	u, err := f.Passwords.CheckLogin(ctx, a, typ, identifier, req.Password)
	if err != nil {
		return nil, err
	}
	g := grant{ClientID: clientID, RedirectURI: req.RedirectURI, UserID: u.ID, Resource: req.Resource, Claims: req.Claims,
		RequireMFA: req.RequireMFA || a.Settings.RequireMFA, State: req.State, Nonce: req.Nonce, AMR: AMRPassword}
	payload, _ := json.Marshal(g)
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: MethodAuthCode, Channel: "redirect",
		Identifier: "code:" + secret.NewID(), TTL: CodeTTL, Payload: payload})
	if err != nil {
		return nil, err
	}
	return map[string]URLResult{"result": {URL: f.resultURI(issued.Code)}}, nil
}
