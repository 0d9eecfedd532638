package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// Scopes Latch grants (product.md): openid always, email and phone for the claims they name,
// offline_access for a refresh token.
const (
	ScopeOpenID        = "openid"
	ScopeEmail         = "email"
	ScopePhone         = "phone"
	ScopeOfflineAccess = "offline_access"
)

// DefaultScope is the scope a login grants when its caller names none (the API-driven logins):
// openid, and email and phone when the user has them.
func DefaultScope(u store.User) string {
	s := []string{ScopeOpenID}
	if u.Email != "" {
		s = append(s, ScopeEmail)
	}
	if u.Phone != "" {
		s = append(s, ScopePhone)
	}
	return strings.Join(s, " ")
}

// HasScope reports whether the space-separated scope list holds want.
func HasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

// UserInfo answers OIDC UserInfo for a live user access token (checked by the caller): sub, and
// the claims its granted scope allows — email and email_verified with email, phone_number and
// phone_number_verified with phone.
func (s *Service) UserInfo(ctx context.Context, c token.Claims) (map[string]any, error) {
	u, err := s.store.GetUser(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.InvalidToken() // deleted or disabled meanwhile (either ends the sessions)
	}
	if err != nil {
		return nil, fmt.Errorf("userinfo user: %w", err)
	}
	if u.Status != user.StatusActive {
		return nil, apierr.InvalidToken() // deleted or disabled meanwhile (either ends the sessions)
	}
	out := map[string]any{"sub": u.ID}
	if HasScope(c.Scope, ScopeEmail) && u.Email != "" {
		out["email"], out["email_verified"] = u.Email, u.EmailVerified
	}
	if HasScope(c.Scope, ScopePhone) && u.Phone != "" {
		out["phone_number"], out["phone_number_verified"] = u.Phone, u.PhoneVerified
	}
	return out, nil
}
