package totp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// AuthenticateRequest is the body of POST /v1/auth/totp/authenticate (and, with Challenge, of
// the transaction-signing authenticate).
type AuthenticateRequest struct {
	Token            string             `json:"token"`
	IdentifierType   string             `json:"identifier_type"`
	Identifier       string             `json:"identifier"`
	Resource         string             `json:"resource"`
	Claims           json.RawMessage    `json:"claims"`
	OrgID            string             `json:"org_id"`
	SessionID        string             `json:"session_id"`
	DeviceID         string             `json:"device_id"`
	ClientAttributes *device.Attributes `json:"client_attributes"`
	// Challenge names the transaction being signed (transaction authenticate only); when it is
	// empty the user's newest live challenge is used.
	Challenge string `json:"challenge"`
	// SaveOnly (not part of the API) joins the session and mints nothing: the OIDC provider's
	// pages take a second factor this way and hand the app a code for the session.
	SaveOnly bool `json:"-"`
}

// maxTokenLen bounds the code field; longer input is a 400, not a failed attempt.
const maxTokenLen = 64

// validate checks what can be checked before the user is looked up, so that bad input never
// burns a time step or counts a failure.
func (req AuthenticateRequest) validate(a app.App) error {
	if req.Token == "" {
		return apierr.Invalid("token", "is required")
	}
	if len(req.Token) > maxTokenLen {
		return apierr.Invalid("token", "is too long")
	}
	if len(req.Challenge) > maxTokenLen {
		return apierr.Invalid("challenge", "is too long")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return err
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return apierr.Invalid("resource", "is not a resource of this application")
	}
	return nil
}

// Authenticate checks a TOTP code of the user against every active authenticator of the user in
// the app and returns user tokens (amr "totp"; joining a session adds "mfa").
func (s *Service) Authenticate(ctx context.Context, a app.App, clientID string, req AuthenticateRequest) (session.Tokens, error) {
	return s.login(ctx, a, clientID, req, false)
}

// login is the authenticate flow, for a plain login or (transaction) a signed transaction.
func (s *Service) login(ctx context.Context, a app.App, clientID string, req AuthenticateRequest, transaction bool) (session.Tokens, error) {
	if err := req.validate(a); err != nil {
		return session.Tokens{}, err
	}
	if !transaction {
		req.Challenge = ""
	}
	u, all, now, err := s.loginUser(ctx, a, req.IdentifierType, req.Identifier)
	if err != nil {
		return session.Tokens{}, err
	}
	auths, err := active(all)
	if err != nil {
		return session.Tokens{}, err
	}
	var ch store.TOTPChallenge
	if transaction {
		if ch, err = s.liveChallenge(ctx, a, u.ID, req.Challenge, now); err != nil {
			return session.Tokens{}, err
		}
	}
	ms, err := s.matches(auths, req.Token, now)
	if err != nil {
		return session.Tokens{}, err
	}
	if len(ms) == 0 {
		return session.Tokens{}, s.fail(ctx, a, u.ID, now, errInvalidCode())
	}
	var approval map[string]any
	if transaction {
		if err := json.Unmarshal(ch.ApprovalData, &approval); err != nil {
			return session.Tokens{}, fmt.Errorf("challenge approval data: %w", err)
		}
	}
	// The matched step is accepted (and the challenge consumed) in the transaction that saves the
	// login: one atomic conditional update decides among concurrent requests, on any number of
	// nodes, and a login refused for another reason uses nothing up.
	failures := store.UseFailures{AppID: a.ID, Method: Method, Identifier: lockKey(u.ID), Policy: a.Settings.Lockout()}
	for _, m := range ms {
		uses := []store.Use{store.UseTOTPStep{AuthenticatorID: m.auth.ID, Step: m.step}, failures}
		if transaction {
			uses = append([]store.Use{store.UseChallenge{ID: ch.ID}}, uses...)
		}
		tok, err := s.sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: u, Method: Method,
			SessionID: req.SessionID, Resource: req.Resource, Claims: req.Claims, ApprovalData: approval, Uses: uses, SaveOnly: req.SaveOnly})
		switch {
		case errors.Is(err, store.ErrUsed):
			continue // another authenticator may match the same code (a chance collision)
		case errors.Is(err, store.ErrChallengeGone):
			return session.Tokens{}, errTransactionGone()
		case errors.Is(err, store.ErrLocked): // wrong guesses racing this one reached the limit first
			s.metrics.Login(Method, "locked")
			return session.Tokens{}, errLocked()
		case err != nil:
			return session.Tokens{}, err
		}
		s.metrics.Login(Method, "ok")
		if transaction {
			s.log.Info("totp transaction signed", "app_id", a.ID, "user_id", u.ID, "authenticator_id", m.auth.ID)
		}
		return tok, nil
	}
	s.log.Warn("totp replay refused", "app_id", a.ID, "user_id", u.ID, "method", Method, "authenticator_id", ms[0].auth.ID)
	s.metrics.Login(Method, "replayed")
	return session.Tokens{}, errInvalidCode()
}

// loginUser finds the user a TOTP or recovery code login names, with their authenticators and
// failures in one read, and refuses an unknown (404), inactive or locked user; now is the
// moment the lock was judged at.
func (s *Service) loginUser(ctx context.Context, a app.App, identifierType, identifier string) (store.User, []store.TOTPAuthenticator, time.Time, error) {
	by, value, err := user.Key(identifierType, identifier, "identifier")
	if err != nil {
		return store.User{}, nil, time.Time{}, err
	}
	u, all, lock, err := s.store.UserLoginTOTPs(ctx, by, value, a.ID, Method, lockKey(""))
	if err != nil {
		return store.User{}, nil, time.Time{}, user.NotFound(err)
	}
	if u.Status != user.StatusActive {
		return store.User{}, nil, time.Time{}, apierr.UserNotActive()
	}
	now := s.clock.Now()
	if err := s.refuseLocked(a, u.ID, lock, now); err != nil {
		return store.User{}, nil, time.Time{}, err
	}
	return u, all, now, nil
}

// activeAuthenticators returns the user's active authenticators in the app, or the 404 when
// there are none (pending devices do not count).
func (s *Service) activeAuthenticators(ctx context.Context, a app.App, userID string) ([]store.TOTPAuthenticator, error) {
	all, err := s.store.ListTOTPs(ctx, a.ID, userID)
	if err != nil {
		return nil, fmt.Errorf("list authenticators: %w", err)
	}
	return active(all)
}

// active keeps the active authenticators of all, or is the 404 when there are none.
func active(all []store.TOTPAuthenticator) ([]store.TOTPAuthenticator, error) {
	active := all[:0]
	for _, t := range all {
		if t.Active() {
			active = append(active, t)
		}
	}
	if len(active) == 0 {
		return nil, errNotRegistered()
	}
	return active, nil
}

// pendingSince is the creation time before which a pending device has expired.
func pendingSince(now time.Time) time.Time { return now.Add(-PendingTTL) }

// Enrolled reports whether the user has an active TOTP authenticator in the app: the OIDC
// provider's pages ask for the second factor only of such a user.
func (s *Service) Enrolled(ctx context.Context, a app.App, userID string) (bool, error) {
	_, err := s.activeAuthenticators(ctx, a, userID)
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Status == 404 {
		return false, nil
	}
	return err == nil, err
}
