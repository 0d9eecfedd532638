package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// errInvalidRefresh is the answer for an unknown, expired, revoked or reused refresh token.
func errInvalidRefresh() *apierr.Error {
	return apierr.New(400, "invalid_grant", "Invalid refresh token")
}

// Refresh rotates a refresh token issued to clientID and returns new tokens, the new refresh
// token among them. Presenting a token that was already rotated ends its whole session.
func (s *Service) Refresh(ctx context.Context, a app.App, clientID, refreshToken string) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, apierr.Invalid("refresh_token", "is required")
	}
	now := s.clock.Now()
	next := secret.NewToken()
	rt := store.RefreshToken{Hash: s.box.Hash(refreshPurpose, next), ClientID: clientID, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(a.Settings.RefreshTokenTTLSeconds) * time.Second)}
	old, sess, u, err := s.store.RotateRefreshToken(ctx, s.box.Hash(refreshPurpose, refreshToken), rt, now)
	switch {
	case errors.Is(err, store.ErrReused):
		// A rotated token presented again was stolen or replayed: its whole session ends.
		if err := s.store.EndSession(ctx, old.SessionID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Tokens{}, fmt.Errorf("end session of a reused refresh token: %w", err)
		}
		s.log.Warn("refresh token reuse: session revoked", "client_id", clientID, "session_id", old.SessionID)
		return Tokens{}, errInvalidRefresh()
	case errors.Is(err, store.ErrNotFound):
		return Tokens{}, errInvalidRefresh()
	case err != nil:
		return Tokens{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if u.Status != user.StatusActive {
		// Disabling a user ends their sessions; this is a refresh that raced it. The presented
		// token is used up, and no new one is handed out.
		return Tokens{}, apierr.UserNotActive()
	}
	var p refreshPayload
	json.Unmarshal(old.Payload, &p)
	if sess.AppID != a.ID {
		return Tokens{}, errInvalidRefresh()
	}
	tok, err := s.mint(Login{App: a, ClientID: clientID, User: u, Resource: p.Resource, Claims: p.Claims, Scope: p.Scope}, sess) // no nonce: OIDC says a refreshed ID token SHOULD NOT repeat it
	if err != nil {
		return Tokens{}, err
	}
	tok.RefreshToken = next
	return tok, nil
}

// Logout ends a session of application appID: afterwards its refresh tokens and access tokens
// are refused.
func (s *Service) Logout(ctx context.Context, appID, sessionID string) error {
	if sessionID == "" {
		return apierr.Invalid("session_id", "is required")
	}
	sess, err := s.store.GetSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sess.AppID != appID) {
		return errSessionNotFound()
	}
	if err != nil {
		return err
	}
	err = s.store.EndSession(ctx, sessionID, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return errSessionNotFound()
	}
	if err == nil {
		s.log.Info("logout", "session_id", sessionID)
	}
	return err
}

// secondFactors are the amr values that show a session holds a second factor.
var secondFactors = []string{"totp", "rc", "mfa"}

// HasSecondFactor reports whether a session is live and was signed in with a second factor (its
// amr has totp, rc or mfa): what changing a user's second factors asks of a user token.
func (s *Service) HasSecondFactor(ctx context.Context, sessionID string) (bool, error) {
	if sessionID == "" {
		return false, nil
	}
	sess, err := s.store.GetSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get session: %w", err)
	}
	if !live(sess, s.clock.Now()) {
		return false, nil
	}
	for _, m := range sess.AMR {
		if slices.Contains(secondFactors, m) {
			return true, nil
		}
	}
	return false, nil
}

// SessionActive reports whether a session is live (the bearer middleware asks AccessTokenLive,
// which also checks the token's jti).
func (s *Service) SessionActive(ctx context.Context, sessionID string) (bool, error) {
	return s.store.SessionLive(ctx, sessionID, s.clock.Now())
}

// Authenticate issues new tokens for a live session without a new factor (silent login).
func (s *Service) Authenticate(ctx context.Context, a app.App, clientID, sessionID, resource string, claims json.RawMessage) (Tokens, error) {
	if sessionID == "" {
		return Tokens{}, apierr.Invalid("session_id", "is required")
	}
	if err := ValidateClaims(claims); err != nil {
		return Tokens{}, err
	}
	sess, err := s.store.GetSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!live(sess, s.clock.Now()) || sess.AppID != a.ID)) {
		return Tokens{}, errSessionNotFound()
	}
	if err != nil {
		return Tokens{}, err
	}
	u, err := s.store.GetUser(ctx, sess.UserID)
	if err != nil {
		return Tokens{}, fmt.Errorf("session user: %w", err)
	}
	return s.Complete(ctx, Login{App: a, ClientID: clientID, User: u, SessionID: sessionID, Resource: resource, Claims: claims})
}
