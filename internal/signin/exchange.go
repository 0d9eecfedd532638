package signin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
)

func errInvalidGrant(msg string) *apierr.Error {
	return apierr.New(http.StatusBadRequest, "invalid_grant", msg)
}

// ErrNotMine is returned by Exchange for a code that is not one of the provider's (the hosted
// flow's codes go to their own exchange).
var ErrNotMine = errors.New("not an oidc authorization code")

// Exchange serves grant_type=authorization_code for the provider's codes: the code works once,
// within CodeTTL, for the client and redirect URI it was issued to and (when the request had a
// code_challenge) the PKCE verifier. A mismatch uses nothing up. A code presented again after it
// was exchanged ends the session its first exchange issued tokens for (RFC 6749 §4.1.2).
func (p *Provider) Exchange(ctx context.Context, c store.Client, a app.App, form url.Values) (session.Tokens, error) {
	code := form.Get("code")
	row, err := p.Codes.FindAny(ctx, methodCode, code)
	if errors.Is(err, store.ErrNotFound) {
		return session.Tokens{}, ErrNotMine
	}
	if err != nil {
		return session.Tokens{}, err
	}
	var g codeGrant
	if err := json.Unmarshal(row.Payload, &g); err != nil {
		return session.Tokens{}, fmt.Errorf("oidc code payload: %w", err)
	}
	invalid := errInvalidGrant("Invalid or expired authorization code")
	if g.ClientID != c.ClientID || row.AppID != a.ID {
		p.Log.Warn("authorization code refused: another client's", "client_id", c.ClientID)
		return session.Tokens{}, invalid
	}
	if !row.UsedAt.IsZero() {
		if err := p.Store.EndSession(ctx, g.SessionID, p.Clock.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return session.Tokens{}, err
		}
		p.Log.Warn("authorization code replayed: its session is revoked", "client_id", c.ClientID, "session_id", g.SessionID)
		return session.Tokens{}, invalid
	}
	if !p.Clock.Now().Before(row.ExpiresAt) {
		return session.Tokens{}, invalid
	}
	if form.Get("redirect_uri") != g.RedirectURI {
		p.Log.Warn("authorization code refused: redirect_uri differs", "client_id", c.ClientID)
		return session.Tokens{}, errInvalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	if g.CodeChallenge != "" {
		if verifier == "" {
			return session.Tokens{}, errInvalidGrant("code_verifier is required (the authorization request had a code_challenge)")
		}
		if !pkceValue.MatchString(verifier) || subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(g.CodeChallenge)) != 1 {
			p.Log.Warn("authorization code refused: PKCE verifier does not match", "client_id", c.ClientID)
			return session.Tokens{}, errInvalidGrant("code_verifier does not match the code_challenge")
		}
	} else if app.IsPublic(c) {
		return session.Tokens{}, invalid
	}
	u, err := p.Users.Get(ctx, g.UserID)
	if err != nil {
		return session.Tokens{}, invalid
	}
	tok, err := p.Sessions.Complete(ctx, session.Login{App: a, ClientID: c.ClientID, User: u, SessionID: g.SessionID,
		Nonce: g.Nonce, Scope: g.Scope, NewUser: g.NewUser, Resource: g.Resource, Claims: claimsOf(g.Claims), IDTokenOnly: !authRequest{Scope: g.Scope}.offline(), Uses: p.Codes.UsesHighEntropy(row)})
	if errors.Is(err, store.ErrUsed) {
		return session.Tokens{}, invalid
	}
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Status < 500 {
		return session.Tokens{}, errInvalidGrant(ae.Message)
	}
	if err != nil {
		return session.Tokens{}, err
	}
	return tok, nil
}

func claimsOf(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
