package totp

import (
	"context"
	"fmt"
	"slices"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/store"
)

// Actor is who asks to change a user's second factors: the user, with a user access token of a
// session, or an operator, with the application's client token. The zero Actor is a user with no
// session, whose changes are refused once the user has a TOTP: a missing session never lets a
// change through.
type Actor struct {
	sessionID string
	operator  bool
}

// UserActor is the user whose access token belongs to session sessionID.
func UserActor(sessionID string) Actor { return Actor{sessionID: sessionID} }

// OperatorActor is an operator acting with a client token (the admin revoke).
func OperatorActor() Actor { return Actor{operator: true} }

// errMFARequired is the 403 for a change to a second factor asked by a session without one.
func errMFARequired() *apierr.Error {
	return apierr.MFARequired("This change needs a session signed in with a second factor (TOTP or a recovery code)")
}

// requireSecondFactor is product.md's rule "a second factor is protected by a second factor":
// once the user has an active TOTP in the app, a user may add, replace or remove a TOTP or a
// device, or renew their recovery codes, only from a session that already holds a second factor
// (amr totp, rc or mfa). Otherwise one factor (an email code) could install the attacker's own
// authenticator and mint two-factor sessions. Operators are not asked.
func (s *Service) requireSecondFactor(ctx context.Context, a app.App, userID string, actor Actor) error {
	if actor.operator {
		return nil
	}
	all, err := s.store.ListTOTPs(ctx, a.ID, userID)
	if err != nil {
		return fmt.Errorf("list authenticators: %w", err)
	}
	if !slices.ContainsFunc(all, store.TOTPAuthenticator.Active) {
		return nil // nothing to protect yet: the first TOTP is enrolled with one factor
	}
	ok, err := s.sessions.HasSecondFactor(ctx, actor.sessionID)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Warn("second factor change refused: the session has one factor", "app_id", a.ID, "user_id", userID)
		return errMFARequired()
	}
	return nil
}
