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

// Redirect answers a GET on a result URI or emailed link: where to send the browser. For
// response_type code it consumes nothing (the code is consumed at exchange, and mail scanners
// prefetch links); for response_type id_token it consumes the code and logs the user in.
func (f *Flow) Redirect(ctx context.Context, a func(ctx context.Context, id string) (app.App, error), code string) (string, bool, error) {
	row, err := f.Codes.Find(ctx, MethodAuthCode, code)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var g grant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return "", false, fmt.Errorf("hosted payload: %w", err)
	}
	if g.ResponseType != "id_token" {
		return magiclink.AppendQuery(g.RedirectURI, "code", code, "state", g.State), true, nil
	}
	application, err := a(ctx, row.AppID)
	if err != nil {
		return "", false, err
	}
	tok, _, err := f.complete(ctx, application, g.ClientID, row, g)
	if errors.As(err, new(*apierr.Error)) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return magiclink.AppendQuery(g.RedirectURI, "id_token", tok.IDToken, "state", g.State), true, nil
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
	if g.ClientID != clientID || row.AppID != a.ID || (checkRedirect && g.RedirectURI != redirectURI) {
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
		Claims: g.Claims, ApprovalData: g.ApprovalData, Nonce: g.Nonce, NewUser: created, Uses: f.Codes.UsesHighEntropy(row),
		IDTokenOnly: g.ResponseType == "id_token"})
	if errors.Is(err, store.ErrUsed) {
		return session.Tokens{}, false, errInvalidCode()
	}
	if err != nil {
		return session.Tokens{}, false, err
	}
	f.Metrics.Login("hosted_"+g.AMR, "ok")
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
