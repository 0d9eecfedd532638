package totp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// DeviceType is the only deviceType of seed 001.
const DeviceType = "TOTP"

// defaultDeviceName names a device created without deviceName.
const defaultDeviceName = "Authenticator app"

// Device statuses in a listing.
const (
	StatusActive  = "active"
	StatusPending = "pending"
)

// CreateDeviceRequest is the body of POST /v1/users/me/totp/devices (seed 001).
type CreateDeviceRequest struct {
	DeviceType string `json:"deviceType"`
	DeviceName string `json:"deviceName"`
}

// DeviceCreated is the 201 body of device creation: seed 001's reply plus what pairing needs.
type DeviceCreated struct {
	AuthID          string `json:"authId"`
	Status          string `json:"status"`
	Message         string `json:"message"`
	Secret          string `json:"secret"`
	RegistrationURI string `json:"registrationUri"`
	QRCode          string `json:"qr_code"`
}

// ActivateDeviceRequest is the body of POST /v1/users/me/totp/devices/{authId}/activate.
type ActivateDeviceRequest struct {
	OTP string `json:"otp"`
}

// DeviceActivated is the 200 body of activation.
type DeviceActivated struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Device is one of the user's TOTP authenticators as listed (never its secret).
type Device struct {
	AuthID     string `json:"authId"`
	DeviceName string `json:"deviceName"`
	Status     string `json:"status"`       // active or pending
	CreatedAt  int64  `json:"created_at"`   // Unix milliseconds
	LastUsedAt *int64 `json:"last_used_at"` // Unix milliseconds, null when never used
}

// DeviceList is the body of GET /v1/users/me/totp/devices.
type DeviceList struct {
	Result []Device `json:"result"`
}

func errDeviceNotFound() *apierr.Error {
	return apierr.NotFound("device_not_found", "Device not found")
}

func errDeviceExpired() *apierr.Error {
	return apierr.NotFound("device_not_found", "Device pairing expired (devices must be activated within 10 minutes): create the device again")
}

// CreateDevice creates a pending TOTP device for the user of a user access token (only the user
// enrols their own device) and returns its secret, key URI and QR code for pairing. The device
// cannot log in until ActivateDevice; it expires after PendingTTL. A user already at the app's
// maximum of active TOTPs gets 409 totp_limit_reached.
func (s *Service) CreateDevice(ctx context.Context, a app.App, userID string, actor Actor, req CreateDeviceRequest) (DeviceCreated, error) {
	if !strings.EqualFold(req.DeviceType, DeviceType) {
		return DeviceCreated{}, apierr.Invalid("deviceType", `must be "TOTP"`)
	}
	if err := validName("deviceName", req.DeviceName); err != nil {
		return DeviceCreated{}, err
	}
	name := strings.TrimSpace(req.DeviceName)
	if name == "" {
		name = defaultDeviceName
	}
	u, err := s.activeUser(ctx, userID)
	if err != nil {
		return DeviceCreated{}, err
	}
	if err := s.requireSecondFactor(ctx, a, u.ID, actor); err != nil {
		return DeviceCreated{}, err
	}
	p, err := appParams(a)
	if err != nil {
		return DeviceCreated{}, err
	}
	e, err := s.newEnrolment(a, p, label("", u))
	if err != nil {
		return DeviceCreated{}, err
	}
	now := s.clock.Now()
	row := store.TOTPAuthenticator{ID: secret.NewID(), AppID: a.ID, UserID: u.ID, Name: name,
		Algorithm: string(p.Algorithm), Digits: p.Digits, Period: p.Period, CreatedAt: now}
	if row.Secret, err = s.seal(row.ID, e.raw); err != nil {
		return DeviceCreated{}, err
	}
	limit := maxPerUser(a)
	if _, err := s.store.AddTOTP(ctx, row, store.TOTPLimit{Max: limit, PendingSince: pendingSince(now)}); err != nil {
		if errors.Is(err, store.ErrLimit) {
			return DeviceCreated{}, errLimitReached(limit)
		}
		return DeviceCreated{}, fmt.Errorf("add device: %w", err)
	}
	s.log.Info("totp device created", "app_id", a.ID, "user_id", u.ID, "authenticator_id", row.ID)
	return DeviceCreated{AuthID: row.ID, Status: "SUCCESS", Message: "Please get the OTP from registered device to authenticate",
		Secret: e.secret, RegistrationURI: e.uri, QRCode: e.qr}, nil
}

// ownDevice returns the user's unrevoked authenticator authID in the app, or the 404.
func (s *Service) ownDevice(ctx context.Context, a app.App, userID, authID string) (store.TOTPAuthenticator, error) {
	if authID == "" || len(authID) > 200 {
		return store.TOTPAuthenticator{}, errDeviceNotFound()
	}
	d, err := s.store.GetTOTP(ctx, authID)
	if err != nil {
		return d, notFoundAs(err, errDeviceNotFound())
	}
	if d.AppID != a.ID || d.UserID != userID || !d.RevokedAt.IsZero() {
		return store.TOTPAuthenticator{}, errDeviceNotFound()
	}
	return d, nil
}

// ActivateDevice activates the user's pending device with the first code its authenticator app
// shows. A wrong code is 400 auth_invalid_credentials (the caller knows the secret, so failures
// are not counted toward the login lockout); the code's step is recorded, so it cannot log in
// afterwards. Activation counts against the app's maximum of TOTPs (409 totp_limit_reached).
func (s *Service) ActivateDevice(ctx context.Context, a app.App, userID string, actor Actor, authID string, req ActivateDeviceRequest) (DeviceActivated, error) {
	if req.OTP == "" {
		return DeviceActivated{}, apierr.Invalid("otp", "is required")
	}
	if len(req.OTP) > maxTokenLen {
		return DeviceActivated{}, apierr.Invalid("otp", "is too long")
	}
	if _, err := s.activeUser(ctx, userID); err != nil {
		return DeviceActivated{}, err
	}
	if err := s.requireSecondFactor(ctx, a, userID, actor); err != nil {
		return DeviceActivated{}, err
	}
	d, err := s.ownDevice(ctx, a, userID, authID)
	if err != nil {
		return DeviceActivated{}, err
	}
	now := s.clock.Now()
	if d.Active() {
		return DeviceActivated{}, apierr.Conflict("device_already_active", "Device is already active")
	}
	if d.CreatedAt.Before(pendingSince(now)) {
		return DeviceActivated{}, errDeviceExpired()
	}
	raw, err := s.open(d)
	if err != nil {
		return DeviceActivated{}, err
	}
	step, ok := authParams(d).Match(raw, req.OTP, now, Skew)
	if !ok {
		s.log.Info("totp device activation failed", "app_id", a.ID, "user_id", userID, "authenticator_id", d.ID)
		return DeviceActivated{}, apierr.InvalidCredentials("Invalid OTP")
	}
	limit := maxPerUser(a)
	err = s.store.ActivateTOTP(ctx, d.ID, step, now, store.TOTPLimit{Max: limit, PendingSince: pendingSince(now)})
	switch {
	case errors.Is(err, store.ErrLimit):
		return DeviceActivated{}, errLimitReached(limit)
	case errors.Is(err, store.ErrNotFound):
		return DeviceActivated{}, errDeviceExpired()
	case err != nil:
		return DeviceActivated{}, fmt.Errorf("activate device: %w", err)
	}
	s.log.Info("totp device activated", "app_id", a.ID, "user_id", userID, "authenticator_id", d.ID)
	return DeviceActivated{Status: "SUCCESS", Message: "OTP has been validated successfully"}, nil
}

// ListDevices lists the user's TOTP authenticators in the app, registered and paired, active
// and pending (expired pending ones left out), oldest first, without secrets.
func (s *Service) ListDevices(ctx context.Context, a app.App, userID string) (DeviceList, error) {
	all, err := s.store.ListTOTPs(ctx, a.ID, userID)
	if err != nil {
		return DeviceList{}, fmt.Errorf("list devices: %w", err)
	}
	since := pendingSince(s.clock.Now())
	out := DeviceList{Result: []Device{}}
	for _, d := range all {
		status := StatusActive
		if !d.Active() {
			if d.CreatedAt.Before(since) {
				continue
			}
			status = StatusPending
		}
		dev := Device{AuthID: d.ID, DeviceName: d.Name, Status: status, CreatedAt: d.CreatedAt.UnixMilli()}
		if !d.LastUsedAt.IsZero() {
			used := d.LastUsedAt.UnixMilli()
			dev.LastUsedAt = &used
		}
		out.Result = append(out.Result, dev)
	}
	return out, nil
}

// DeleteDevice revokes one of the user's TOTP authenticators (404 device_not_found when it is
// not theirs, already revoked or an expired pending device).
func (s *Service) DeleteDevice(ctx context.Context, a app.App, userID string, actor Actor, authID string) error {
	if authID == "" || len(authID) > 200 {
		return errDeviceNotFound()
	}
	if err := s.requireSecondFactor(ctx, a, userID, actor); err != nil {
		return err
	}
	now := s.clock.Now()
	n, err := s.store.RevokeTOTPs(ctx, a.ID, userID, authID, now, pendingSince(now))
	if err != nil {
		return fmt.Errorf("delete device: %w", err)
	}
	if n == 0 {
		return errDeviceNotFound()
	}
	s.log.Info("totp device deleted", "app_id", a.ID, "user_id", userID, "authenticator_id", authID)
	return s.dropRecoveryCodesWithoutTOTP(ctx, a, userID)
}
