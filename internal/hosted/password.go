package hosted

import (
	"context"
	"encoding/json"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// errPasswordsDisabled is the password service's answer for an app without passwords.
func errPasswordsDisabled() *apierr.Error {
	return apierr.New(403, "auth_password_policy_disabled", "Passwords are not enabled for this application")
}

// passwordsOn refuses the password routes of an app that has not enabled passwords (and of a
// node without the password service).
func (f *Flow) passwordsOn(a app.App) error {
	if f.Passwords == nil {
		return apierr.New(501, "not_implemented", "Passwords are not available")
	}
	if !a.Settings.PasswordEnabled {
		return errPasswordsDisabled()
	}
	return nil
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
	if err := f.passwordsOn(a); err != nil {
		return nil, err
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
	v, err := f.Passwords.Check(ctx, a, typ, identifier, req.Password)
	if err != nil {
		return nil, err
	}
	g := grant{ClientID: clientID, RedirectURI: req.RedirectURI, UserID: v.User.ID, Resource: req.Resource, Claims: req.Claims,
		RequireMFA: req.RequireMFA || a.Settings.RequireMFA, State: req.State, Nonce: req.Nonce, AMR: password.AMR}
	g.carry(v.Uses)
	uri, err := f.issueResult(ctx, a, g)
	if err != nil {
		return nil, err
	}
	return map[string]URLResult{"result": {URL: uri}}, nil
}

// issueResult stores g under a new authorization code and returns its result URI.
func (f *Flow) issueResult(ctx context.Context, a app.App, g grant) (string, error) {
	payload, _ := json.Marshal(g)
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: g.UserID, Method: MethodAuthCode, Channel: "redirect",
		Identifier: "code:" + secret.NewID(), TTL: CodeTTL, Payload: payload})
	if err != nil {
		return "", err
	}
	return f.resultURI(issued.Code), nil
}

// carry keeps what a password check's login must use up (the user's failures, forgotten — or the
// login refused if they got locked meanwhile — and a rehash) for the transaction that completes
// the login with this code.
func (g *grant) carry(uses []store.Use) {
	for _, u := range uses {
		switch u := u.(type) {
		case store.UseFailures:
			g.PwFailures = &u
		case store.UsePasswordRehash:
			g.PwRehash = &u
		}
	}
}

// uses is what completing g's login uses up: the code's own uses and what a password step carried.
func (g grant) uses(codeUses []store.Use) []store.Use {
	if g.PwFailures != nil {
		codeUses = append(codeUses, *g.PwFailures)
	}
	if g.PwRehash != nil {
		codeUses = append(codeUses, *g.PwRehash)
	}
	return codeUses
}

// ResetURL is the password service's hook for POST /cis/v1/auth/password/reset with a
// redirect_uri: the URL of a hosted login with the new password (Mosaic's "url starts the auth
// flow with the new password"), ending at redirect_uri?code=… — or, with require_mfa (the
// request's or the app's), at error=mfa_required with the tie cookie, like the hosted password
// login. The reset request names no client, so the code may be exchanged by any client of the app.
func (f *Flow) ResetURL(ctx context.Context, a app.App, u store.User, req password.ResetRequest) (string, error) {
	g := grant{RedirectURI: req.RedirectURI, UserID: u.ID, Resource: req.Resource,
		RequireMFA: req.RequireMFA || a.Settings.RequireMFA, AMR: password.AMR}
	return f.issueResult(ctx, a, g)
}
