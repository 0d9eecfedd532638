package totp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
)

// RecoveryMethod is the amr of a login with a recovery code.
const RecoveryMethod = "rc"

// Recovery code sets: RecoveryCount codes of RecoveryLength characters from recoveryAlphabet
// (Crockford's base32 in lower case: no i, l, o or u to misread), 50 bits each.
const (
	RecoveryCount    = 10
	RecoveryLength   = 10
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryPurpose  = "recovery-code"
)

// RecoveryCodes is a new set of recovery codes, shown once.
type RecoveryCodes struct {
	Codes []string `json:"recovery_codes"`
}

// RecoveryRemaining says how many of the user's recovery codes are unused.
type RecoveryRemaining struct {
	Remaining int `json:"remaining"`
}

// RecoveryAuthenticateRequest is the body of the recovery code login.
type RecoveryAuthenticateRequest struct {
	Code             string             `json:"code"`
	IdentifierType   string             `json:"identifier_type"`
	Identifier       string             `json:"identifier"`
	SessionID        string             `json:"session_id"`
	Resource         string             `json:"resource"`
	Claims           json.RawMessage    `json:"claims"`
	DeviceID         string             `json:"device_id"`
	ClientAttributes *device.Attributes `json:"client_attributes"`
	// SaveOnly (not part of the API): see AuthenticateRequest.SaveOnly.
	SaveOnly bool `json:"-"`
}

// recoveryHash is the keyed hash a code of userID in app appID is stored under.
func (s *Service) recoveryHash(appID, userID, code string) string {
	return s.box.Hash(recoveryPurpose, appID+"\x00"+userID+"\x00"+code)
}

// normalizeRecoveryCode lower-cases a presented code and drops the spaces and dashes people type
// into it; "" when what remains cannot be a recovery code.
func normalizeRecoveryCode(code string) string {
	code = strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(code))
	if len(code) != RecoveryLength {
		return ""
	}
	for _, c := range code {
		if !strings.ContainsRune(recoveryAlphabet, c) {
			return ""
		}
	}
	return code
}

// GenerateRecoveryCodes makes a new set of recovery codes for a user with an active TOTP in the
// app (404 totp_not_registered otherwise) and retires the old set. The actor's session must hold
// a second factor (403 auth_mfa_required).
func (s *Service) GenerateRecoveryCodes(ctx context.Context, a app.App, userID string, actor Actor) (RecoveryCodes, error) {
	u, err := s.activeUser(ctx, userID)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if _, err := s.activeAuthenticators(ctx, a, u.ID); err != nil {
		return RecoveryCodes{}, err
	}
	if err := s.requireSecondFactor(ctx, a, u.ID, actor); err != nil {
		return RecoveryCodes{}, err
	}
	now := s.clock.Now()
	out := RecoveryCodes{Codes: make([]string, RecoveryCount)}
	rows := make([]store.RecoveryCode, RecoveryCount)
	for i := range out.Codes {
		code, err := secret.RandomString(s.rand, recoveryAlphabet, RecoveryLength)
		if err != nil {
			return RecoveryCodes{}, fmt.Errorf("generate recovery code: %w", err)
		}
		out.Codes[i] = code
		rows[i] = store.RecoveryCode{ID: secret.NewID(), AppID: a.ID, UserID: u.ID, CodeHash: s.recoveryHash(a.ID, u.ID, code), CreatedAt: now}
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, a.ID, u.ID, rows); err != nil {
		return RecoveryCodes{}, fmt.Errorf("replace recovery codes: %w", err)
	}
	s.log.Info("recovery codes generated", "app_id", a.ID, "user_id", u.ID)
	return out, nil
}

// RemainingRecoveryCodes counts the user's unused recovery codes in the app, never showing one.
func (s *Service) RemainingRecoveryCodes(ctx context.Context, a app.App, userID string) (RecoveryRemaining, error) {
	if _, err := s.users.Get(ctx, userID); err != nil {
		return RecoveryRemaining{}, err
	}
	n, err := s.store.CountRecoveryCodes(ctx, a.ID, userID)
	if err != nil {
		return RecoveryRemaining{}, fmt.Errorf("count recovery codes: %w", err)
	}
	return RecoveryRemaining{Remaining: n}, nil
}

// AuthenticateRecovery logs a user in with a recovery code, as a TOTP login does (amr "rc";
// joining a session adds "mfa"). The code is used up in the transaction that saves the login, once
// across nodes; a wrong code counts toward the user's TOTP lockout.
func (s *Service) AuthenticateRecovery(ctx context.Context, a app.App, clientID string, req RecoveryAuthenticateRequest) (session.Tokens, error) {
	if req.Code == "" {
		return session.Tokens{}, apierr.Invalid("code", "is required")
	}
	if len(req.Code) > maxTokenLen {
		return session.Tokens{}, apierr.Invalid("code", "is too long")
	}
	if err := session.ValidateClaims(req.Claims); err != nil {
		return session.Tokens{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return session.Tokens{}, err
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return session.Tokens{}, apierr.Invalid("resource", "is not a resource of this application")
	}
	u, _, now, err := s.loginUser(ctx, a, req.IdentifierType, req.Identifier)
	if err != nil {
		return session.Tokens{}, err
	}
	invalid := apierr.InvalidCredentials("Invalid recovery code")
	code := normalizeRecoveryCode(req.Code)
	if code == "" {
		return session.Tokens{}, s.fail(ctx, a, u.ID, now, invalid)
	}
	rc, err := s.store.FindRecoveryCode(ctx, a.ID, u.ID, s.recoveryHash(a.ID, u.ID, code))
	if errors.Is(err, store.ErrNotFound) {
		return session.Tokens{}, s.fail(ctx, a, u.ID, now, invalid)
	}
	if err != nil {
		return session.Tokens{}, fmt.Errorf("find recovery code: %w", err)
	}
	if !rc.UsedAt.IsZero() {
		// A replay, or the loser of a race for one code: nothing was guessed, so it does not
		// count toward the lockout (counting it would let a replay lock the user out).
		s.metrics.Login(RecoveryMethod, "failed")
		return session.Tokens{}, invalid
	}
	tok, err := s.sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: u, Method: RecoveryMethod,
		SessionID: req.SessionID, Resource: req.Resource, Claims: req.Claims,
		Uses: []store.Use{store.UseRecoveryCode{ID: rc.ID},
			store.UseFailures{AppID: a.ID, Method: Method, Identifier: lockKey(u.ID), Policy: a.Settings.Lockout()}}, SaveOnly: req.SaveOnly})
	switch {
	case errors.Is(err, store.ErrUsed): // another request used it first
		s.metrics.Login(RecoveryMethod, "failed")
		return session.Tokens{}, invalid
	case errors.Is(err, store.ErrLocked):
		s.metrics.Login(RecoveryMethod, "locked")
		return session.Tokens{}, errLocked()
	case err != nil:
		return session.Tokens{}, err
	}
	s.metrics.Login(RecoveryMethod, "ok")
	s.log.Info("recovery code used", "app_id", a.ID, "user_id", u.ID)
	return tok, nil
}
