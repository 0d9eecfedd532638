package totp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// Method is the amr value of a TOTP login and the lockout method of TOTP failures.
const Method = "totp"

// Skew is how many steps either side of the current one a code may be from: ±1, as product.md
// decides.
const Skew = 1

// PendingTTL is how long a created device may wait for its activating code.
const PendingTTL = 10 * time.Minute

// ChallengeTTL is the lifetime of a transaction-signing challenge.
const ChallengeTTL = 5 * time.Minute

// ChallengeDigits is the length of a transaction-signing challenge.
const ChallengeDigits = 6

// Store is what the TOTP service persists: authenticators, challenges, and the lockouts it
// shares with the one-time codes.
type Store interface {
	store.TOTPs
	store.RecoveryCodes
	RecordFailure(ctx context.Context, appID, method, identifier string, now time.Time, p store.FailurePolicy) (store.Lockout, error)
	ClearFailures(ctx context.Context, appID, method, identifier string) error
}

// Deps are the collaborators of a Service.
type Deps struct {
	Store    Store
	Users    *user.Service
	Sessions *session.Service
	Box      *secret.Box // seals secrets at rest (the key ring of the signing keys)
	Clock    clock.Clock
	Rand     io.Reader // secrets and challenges (crypto/rand.Reader in production)
	Log      *slog.Logger
	Metrics  *metrics.Metrics // may be nil
}

// Service registers TOTP authenticators, pairs devices, logs users in with TOTP codes (replay
// refused across nodes), signs transactions and revokes authenticators.
type Service struct {
	store    Store
	users    *user.Service
	sessions *session.Service
	box      *secret.Box
	clock    clock.Clock
	rand     io.Reader
	log      *slog.Logger
	metrics  *metrics.Metrics
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: d.Store, users: d.Users, sessions: d.Sessions, box: d.Box, clock: d.Clock,
		rand: d.Rand, log: log, metrics: d.Metrics}
}

// Errors of the TOTP API (product.md, "TOTP errors").
func errNotRegistered() *apierr.Error {
	return apierr.NotFound("totp_not_registered", "User has no TOTP registered")
}

func errAlreadyRegistered() *apierr.Error {
	return apierr.Conflict("totp_already_registered", "User already has a TOTP registered; revoke it or set allow_override")
}

func errLimitReached(max int) *apierr.Error {
	return apierr.Conflict("totp_limit_reached", fmt.Sprintf("User already has the maximum number of TOTPs for this application (%d)", max))
}

func errInvalidCode() *apierr.Error { return apierr.InvalidCredentials("Invalid TOTP code") }

func errLocked() *apierr.Error {
	return apierr.Locked("TOTP is locked due to multiple failed attempts")
}

// appParams returns the RFC 6238 parameters new authenticators of a get.
func appParams(a app.App) (Params, error) {
	alg, err := ParseAlgorithm(a.Settings.TOTPAlgorithm)
	if err != nil {
		return Params{}, fmt.Errorf("app %s: %w", a.ID, err)
	}
	p := Params{Algorithm: alg, Digits: a.Settings.TOTPDigits, Period: a.Settings.TOTPPeriod}
	if err := p.Validate(); err != nil {
		return Params{}, fmt.Errorf("app %s: %w", a.ID, err)
	}
	return p, nil
}

// maxPerUser is the app's limit of active TOTPs per user (at least 1).
func maxPerUser(a app.App) int { return max(a.Settings.TOTPMaxPerUser, 1) }

// authParams returns the parameters an authenticator was registered with.
func authParams(a store.TOTPAuthenticator) Params {
	return Params{Algorithm: Algorithm(a.Algorithm), Digits: a.Digits, Period: a.Period}
}

// secretAD binds a sealed secret to its row, so a sealed value cannot be moved to another one.
func secretAD(id string) []byte { return []byte("totp:" + id) }

func (s *Service) seal(id string, raw []byte) (string, error) {
	sealed, err := s.box.Seal(raw, secretAD(id))
	if err != nil {
		return "", fmt.Errorf("seal totp secret: %w", err)
	}
	return sealed, nil
}

func (s *Service) open(a store.TOTPAuthenticator) ([]byte, error) {
	raw, err := s.box.Open(a.Secret, secretAD(a.ID))
	if err != nil {
		return nil, fmt.Errorf("open totp secret %s: %w", a.ID, err)
	}
	return raw, nil
}

// label is the account name of a key URI: the given label, else the user's email, username or
// phone number, in that order (Mosaic's preference).
func label(given string, u store.User) string {
	for _, l := range []string{given, u.Email, u.Username, u.Phone} {
		if l != "" {
			return l
		}
	}
	return u.ID
}

// enrolment is a new secret as an authenticator app receives it.
type enrolment struct {
	raw    []byte
	secret string // base32, no padding
	uri    string
	qr     string
}

// newEnrolment draws a secret and renders its key URI and QR code.
func (s *Service) newEnrolment(a app.App, p Params, accountName string) (enrolment, error) {
	raw, err := NewSecret(s.rand)
	if err != nil {
		return enrolment{}, err
	}
	uri := KeyURI(a.Name, accountName, raw, p)
	qr, err := QRCodeDataURL(uri)
	if err != nil {
		return enrolment{}, err
	}
	return enrolment{raw: raw, secret: EncodeSecret(raw), uri: uri, qr: qr}, nil
}

// activeUser returns the user of a user access token (or an admin's path), refusing a user
// who is no longer active.
func (s *Service) activeUser(ctx context.Context, userID string) (store.User, error) {
	u, err := s.users.Get(ctx, userID)
	if err != nil {
		return store.User{}, err
	}
	if u.Status != user.StatusActive {
		return store.User{}, apierr.UserNotActive()
	}
	return u, nil
}

// lockKey is the identifier TOTP failures are counted under: the user, like OTP's.
func lockKey(userID string) string { return user.StateKey(userID) }

// refuseLocked refuses a user whose failure state l is locked at now.
func (s *Service) refuseLocked(a app.App, userID string, l store.Lockout, now time.Time) error {
	if l.LockedUntil.After(now) {
		s.metrics.Login(Method, "locked")
		s.log.Warn("totp login refused: locked", "app_id", a.ID, "user_id", userID, "method", Method)
		return errLocked()
	}
	return nil
}

// fail counts a wrong code (a TOTP or recovery code) toward the user's TOTP lockout (same policy
// as OTP) and returns the caller's error: invalid, or the lock once it is reached.
func (s *Service) fail(ctx context.Context, a app.App, userID string, now time.Time, invalid *apierr.Error) error {
	l, err := s.store.RecordFailure(ctx, a.ID, Method, lockKey(userID), now, a.Settings.Lockout())
	if err != nil {
		return fmt.Errorf("record failure: %w", err)
	}
	s.metrics.Login(Method, "failed")
	if l.LockedUntil.After(now) {
		s.log.Warn("totp user locked", "app_id", a.ID, "user_id", userID, "method", Method, "failures", l.Failures)
		return errLocked()
	}
	s.log.Info("totp login failed", "app_id", a.ID, "user_id", userID, "method", Method, "failures", l.Failures)
	return invalid
}

// notFoundAs maps store.ErrNotFound to the API error e.
func notFoundAs(err error, e *apierr.Error) error {
	if errors.Is(err, store.ErrNotFound) {
		return e
	}
	return err
}
