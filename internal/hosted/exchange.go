package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

func errInvalidCode() *apierr.Error {
	return apierr.New(400, "invalid_grant", "Invalid or expired authorization code")
}

// Redirection is where a GET on a result URI or emailed link sends the browser.
type Redirection struct {
	Target string
	// OK is false when the code is unknown, used or expired (or its login was refused).
	OK bool
	// Tie, when not "", is the value of the cookie that ties this browser to a session waiting
	// for its second factor (require_mfa), for the result URI of that second factor.
	Tie string
}

// Redirect answers a GET on a result URI or emailed link: where to send the browser. For
// response_type code it consumes nothing (the code is consumed at exchange, and mail scanners
// prefetch links); for response_type id_token it consumes the code and logs the user in. A
// require_mfa login is the exception (see mfaStep): tie is the browser's tie cookie, "" when it
// has none.
func (f *Flow) Redirect(ctx context.Context, a func(ctx context.Context, id string) (app.App, error), code, tie string) (Redirection, error) {
	row, err := f.Codes.Find(ctx, MethodAuthCode, code)
	if errors.Is(err, store.ErrNotFound) {
		return Redirection{}, nil
	}
	if err != nil {
		return Redirection{}, err
	}
	var g grant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return Redirection{}, fmt.Errorf("hosted payload: %w", err)
	}
	if g.ResponseType != "id_token" && !g.RequireMFA {
		return Redirection{Target: magiclink.AppendQuery(g.RedirectURI, "code", code, "state", g.State), OK: true}, nil
	}
	application, err := a(ctx, row.AppID)
	if err != nil {
		return Redirection{}, err
	}
	var r Redirection
	if g.RequireMFA {
		r, err = f.mfaStep(ctx, application, row, g, tie)
	} else {
		var tok session.Tokens
		tok, _, err = f.complete(ctx, application, g.ClientID, row, g)
		r = Redirection{Target: magiclink.AppendQuery(g.RedirectURI, "id_token", tok.IDToken, "state", g.State), OK: true}
	}
	if errors.As(err, new(*apierr.Error)) {
		return Redirection{}, nil
	}
	return r, err
}

// Exchange trades an authorization code for tokens. The code must have been issued to clientID
// and, when checkRedirect is set (the OIDC grant), for redirectURI; a mismatch consumes nothing.
func (f *Flow) Exchange(ctx context.Context, a app.App, clientID, code, redirectURI string, checkRedirect bool) (session.Tokens, bool, error) {
	if code == "" {
		return session.Tokens{}, false, apierr.Invalid("code", "is required")
	}
	row, err := f.Codes.Find(ctx, MethodAuthCode, code)
	if errors.Is(err, store.ErrNotFound) {
		return session.Tokens{}, false, errInvalidCode()
	}
	if err != nil {
		return session.Tokens{}, false, err
	}
	var g grant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return session.Tokens{}, false, fmt.Errorf("hosted payload: %w", err)
	}
	if g.RequireMFA {
		// A require_mfa login's first code is never exchanged: its GET starts the session
		// that a second factor completes (mfaStep).
		f.Log.Warn("authorization code refused: it needs a second factor first", "client_id", clientID)
		return session.Tokens{}, false, errInvalidCode()
	}
	// A code without a client (the login URL of a password reset, which names none) is for any
	// client of its app.
	if (g.ClientID != "" && g.ClientID != clientID) || row.AppID != a.ID || (checkRedirect && g.RedirectURI != redirectURI) {
		f.Log.Warn("authorization code refused: wrong client or redirect_uri", "client_id", clientID)
		return session.Tokens{}, false, errInvalidCode()
	}
	return f.complete(ctx, a, clientID, row, g)
}

// complete creates the user if the flow allows it and logs them in, using the code up in the
// transaction that saves the login: of concurrent exchanges exactly one wins, and a login refused
// for another reason (a disabled user) leaves the code usable.
func (f *Flow) complete(ctx context.Context, a app.App, clientID string, row store.Code, g grant) (session.Tokens, bool, error) {
	u, created, err := f.user(ctx, g)
	if err != nil {
		return session.Tokens{}, false, err
	}
	tok, err := f.Sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: u, Method: g.AMR, Resource: g.Resource,
		Claims: g.Claims, ApprovalData: g.ApprovalData, Nonce: g.Nonce, NewUser: created, Uses: g.uses(f.Codes.UsesHighEntropy(row)),
		IDTokenOnly: g.ResponseType == "id_token", SessionID: g.SessionID})
	if errors.Is(err, store.ErrUsed) {
		return session.Tokens{}, false, errInvalidCode()
	}
	if errors.Is(err, store.ErrLocked) { // a password login's user got locked since its password step
		return session.Tokens{}, false, apierr.Locked("Password login locked due to multiple failed attempts; try again later")
	}
	if err != nil {
		return session.Tokens{}, false, err
	}
	if g.AMR != "" {
		f.Metrics.Login("hosted_"+g.AMR, "ok")
	}
	return tok, created, nil
}

// user returns the flow's user, creating it when the flow started without one.
func (f *Flow) user(ctx context.Context, g grant) (store.User, bool, error) {
	if g.UserID != "" {
		u, err := f.Users.Get(ctx, g.UserID)
		return u, false, err
	}
	if !g.CreateUser {
		return store.User{}, false, apierr.UserNotFound()
	}
	in := user.Input{}
	typ, identifier := user.IDEmail, g.Email
	if g.Email != "" {
		in.Email = &g.Email
	} else {
		in.PhoneNumber = &g.Phone
		typ, identifier = user.IDPhone, g.Phone
	}
	u, err := f.Users.Create(ctx, in)
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Status == 409 { // created meanwhile by another flow
		u, err = f.Users.Find(ctx, typ, identifier)
		return u, false, err
	}
	if err != nil {
		return store.User{}, false, err
	}
	f.Log.Info("user created by hosted login", "user_id", u.ID)
	return u, true, nil
}
