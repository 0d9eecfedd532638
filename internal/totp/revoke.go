package totp

import (
	"context"
	"fmt"
	"slices"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/store"
)

// RevokeRequest is the body of the revoke endpoints.
type RevokeRequest struct {
	AuthenticatorID string `json:"authenticator_id"`
}

// Revoked is the 200 body of revoke.
type Revoked struct {
	Message      string `json:"message"`
	RevokedCount int    `json:"revoked_count"`
}

// Revoke revokes the user's TOTP authenticator named by req (none: all of the user's
// authenticators in the app, pending devices included) and says how many it revoked; nothing to
// revoke is 404 totp_not_registered, an unknown user 404 user_not_found. It serves both the
// user's own revoke (whose session must hold a second factor while the user has an active TOTP:
// 403 auth_mfa_required) and the operator's. Revoking the last active TOTP retires the user's
// recovery codes: they are a way back to a TOTP, not a factor of their own.
func (s *Service) Revoke(ctx context.Context, a app.App, userID string, actor Actor, req RevokeRequest) (Revoked, error) {
	if len(req.AuthenticatorID) > 200 {
		return Revoked{}, errNotRegistered()
	}
	if _, err := s.users.Get(ctx, userID); err != nil {
		return Revoked{}, err
	}
	if err := s.requireSecondFactor(ctx, a, userID, actor); err != nil {
		return Revoked{}, err
	}
	now := s.clock.Now()
	n, err := s.store.RevokeTOTPs(ctx, a.ID, userID, req.AuthenticatorID, now, pendingSince(now))
	if err != nil {
		return Revoked{}, fmt.Errorf("revoke: %w", err)
	}
	if n == 0 {
		return Revoked{}, errNotRegistered()
	}
	s.log.Info("totp revoked", "app_id", a.ID, "user_id", userID, "authenticator_id", req.AuthenticatorID, "revoked_count", n)
	if err := s.dropRecoveryCodesWithoutTOTP(ctx, a, userID); err != nil {
		return Revoked{}, err
	}
	return Revoked{Message: "TOTP revoked", RevokedCount: n}, nil
}

// dropRecoveryCodesWithoutTOTP deletes the user's recovery codes in the app once no active TOTP is
// left for them to recover.
func (s *Service) dropRecoveryCodesWithoutTOTP(ctx context.Context, a app.App, userID string) error {
	all, err := s.store.ListTOTPs(ctx, a.ID, userID)
	if err != nil {
		return fmt.Errorf("list authenticators: %w", err)
	}
	if slices.ContainsFunc(all, store.TOTPAuthenticator.Active) {
		return nil
	}
	if _, err := s.store.DeleteRecoveryCodes(ctx, a.ID, userID); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	return nil
}
