package totp

import (
	"context"
	"fmt"

	"github.com/latch-auth/latch/internal/app"
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
// user's own revoke and the admin's.
func (s *Service) Revoke(ctx context.Context, a app.App, userID string, req RevokeRequest) (Revoked, error) {
	if len(req.AuthenticatorID) > 200 {
		return Revoked{}, errNotRegistered()
	}
	if _, err := s.users.Get(ctx, userID); err != nil {
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
	return Revoked{Message: "TOTP revoked", RevokedCount: n}, nil
}
