package user

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/store"
)

// FindByExternalID returns the user whose external_user_id is id, or the 404.
func (s *Service) FindByExternalID(ctx context.Context, id string) (store.User, error) {
	if id == "" || len(id) > 256 {
		return store.User{}, apierr.Invalid("external_user_id", "must be 1 to 256 characters")
	}
	return notFound(s.store.GetUserByExternalID(ctx, id))
}

// RemoveFromApp removes a user from an application: what the application keeps of them
// (external_account_id, custom_app_data) is deleted and their sessions in it end, so its tokens
// and refresh tokens of theirs are refused from the next request. The user stays in the tenant.
func (s *Service) RemoveFromApp(ctx context.Context, userID, appID string) error {
	u, err := s.Get(ctx, userID)
	if err != nil {
		return err
	}
	var p map[string]json.RawMessage
	if len(u.Profile) > 0 {
		if err := json.Unmarshal(u.Profile, &p); err != nil {
			return fmt.Errorf("user %s profile: %w", u.ID, err)
		}
	}
	if raw, ok := p["app_data"]; ok {
		var apps map[string]json.RawMessage
		if err := json.Unmarshal(raw, &apps); err != nil {
			return fmt.Errorf("user %s app data: %w", u.ID, err)
		}
		if _, mine := apps[appID]; mine {
			delete(apps, appID)
			if len(apps) == 0 {
				delete(p, "app_data")
			} else if p["app_data"], err = json.Marshal(apps); err != nil {
				return err
			}
			if u.Profile, err = json.Marshal(p); err != nil {
				return err
			}
			u.UpdatedAt = s.clock.Now()
			if err := s.store.UpdateUser(ctx, u); err != nil {
				return NotFound(err)
			}
		}
	}
	if _, err := s.store.EndUserAppSessions(ctx, u.ID, appID, s.clock.Now()); err != nil {
		return fmt.Errorf("end the user's sessions in the app: %w", err)
	}
	return nil
}

// errNotSecondary is the 404 for an address Latch does not hold as a secondary one: Latch keeps
// one email and one phone number per user, so it has no secondary ones to remove or verify.
func errNotSecondary(field string) *apierr.Error {
	return apierr.NotFound("not_found", field+": is not an identifier of this user (Latch keeps one email and one phone number per user)")
}

// Verify marks the user's email (typ IDEmail) or phone number (IDPhone) verified, as if proven
// by a code. change_to_primary has nothing to do: the address must already be the user's.
func (s *Service) Verify(ctx context.Context, userID, typ, value string) error {
	field := map[string]string{IDEmail: "email", IDPhone: "phone_number"}[typ]
	_, v, err := Key(typ, value, field)
	if err != nil {
		return err
	}
	u, err := s.Get(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case typ == IDEmail && u.Email == v:
		if u.EmailVerified {
			return nil
		}
		u.EmailVerified = true
	case typ == IDPhone && u.Phone == v:
		if u.PhoneVerified {
			return nil
		}
		u.PhoneVerified = true
	default:
		return errNotSecondary(field)
	}
	u.UpdatedAt = s.clock.Now()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.UserNotFound()
		}
		return err
	}
	return nil
}

// RemoveSecondary answers the removal of a secondary email or phone number: Latch has none, so
// the user's own (primary) one is a 400 saying how to change it and any other is the 404.
func (s *Service) RemoveSecondary(ctx context.Context, userID, typ, value string) error {
	field := map[string]string{IDEmail: "email", IDPhone: "phone_number"}[typ]
	_, v, err := Key(typ, value, field)
	if err != nil {
		return err
	}
	u, err := s.Get(ctx, userID)
	if err != nil {
		return err
	}
	if (typ == IDEmail && u.Email == v) || (typ == IDPhone && u.Phone == v) {
		return apierr.Invalid(field, "is the user's primary "+field+"; change or clear it with PUT /cis/v1/users/{user_id}")
	}
	return errNotSecondary(field)
}
