package totp

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// maxLabelLen bounds label and device names (characters).
const maxLabelLen = 100

// RegisterRequest is the body of POST /v1/users/me/totp and /v1/auth/totp/register.
type RegisterRequest struct {
	Label         string `json:"label"`
	AllowOverride bool   `json:"allow_override"`
	DeviceID      string `json:"device_id"`
}

// Registration is the 201 body of register: the secret in every form an app needs.
type Registration struct {
	Secret          string `json:"secret"`
	URI             string `json:"uri"`
	QRCode          string `json:"qr_code"`
	AuthenticatorID string `json:"authenticator_id"`
}

func validName(field, v string) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxLabelLen {
		return apierr.Invalid(field, fmt.Sprintf("must be at most %d characters of valid UTF-8", maxLabelLen))
	}
	return nil
}

// Register creates an active TOTP authenticator for the user of a user access token. It is
// usable at once (there is no confirm step, as in Mosaic). With the app's maximum of 1 and one
// registered, it fails with 409 totp_already_registered unless allow_override is set, which
// replaces the registered one in the same transaction. With a maximum above 1, reaching it is 409
// totp_limit_reached and allow_override does not replace anything (it is ignored).
//
// Once the user has an active TOTP, registering another (or replacing it) needs the actor's
// session to hold a second factor (403 auth_mfa_required).
func (s *Service) Register(ctx context.Context, a app.App, userID string, actor Actor, req RegisterRequest) (Registration, error) {
	if err := validName("label", req.Label); err != nil {
		return Registration{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return Registration{}, err
	}
	u, err := s.activeUser(ctx, userID)
	if err != nil {
		return Registration{}, err
	}
	if err := s.requireSecondFactor(ctx, a, u.ID, actor); err != nil {
		return Registration{}, err
	}
	p, err := appParams(a)
	if err != nil {
		return Registration{}, err
	}
	name := label(req.Label, u)
	e, err := s.newEnrolment(a, p, name)
	if err != nil {
		return Registration{}, err
	}
	now := s.clock.Now()
	row := store.TOTPAuthenticator{ID: secret.NewID(), AppID: a.ID, UserID: u.ID, Name: name, DeviceID: req.DeviceID,
		Algorithm: string(p.Algorithm), Digits: p.Digits, Period: p.Period, CreatedAt: now, ActivatedAt: now}
	if row.Secret, err = s.seal(row.ID, e.raw); err != nil {
		return Registration{}, err
	}
	limit := maxPerUser(a)
	replaced, err := s.store.AddTOTP(ctx, row, store.TOTPLimit{Max: limit, Replace: req.AllowOverride && limit == 1,
		PendingSince: pendingSince(now)})
	if errors.Is(err, store.ErrLimit) {
		if limit == 1 {
			return Registration{}, errAlreadyRegistered()
		}
		return Registration{}, errLimitReached(limit)
	}
	if err != nil {
		return Registration{}, fmt.Errorf("add authenticator: %w", err)
	}
	s.log.Info("totp registered", "app_id", a.ID, "user_id", u.ID, "authenticator_id", row.ID, "replaced", replaced)
	return Registration{Secret: e.secret, URI: e.uri, QRCode: e.qr, AuthenticatorID: row.ID}, nil
}
