package store

import (
	"context"
	"errors"
	"time"
)

// TOTPAuthenticator is one TOTP secret of a user in an application: registered (active at once)
// or a device being paired (pending until its first code activates it).
type TOTPAuthenticator struct {
	ID        string
	AppID     string
	UserID    string
	Name      string // the label or device name shown to the user
	DeviceID  string // register's device_id, "" when none
	Secret    string // sealed with the encryption key; associated data binds it to ID
	Algorithm string // the RFC 6238 parameters the key URI carried; they never change
	Digits    int
	Period    int
	// LastStep is the latest time step accepted; a step at or below it is never accepted again.
	LastStep    int64
	CreatedAt   time.Time
	ActivatedAt time.Time // zero while pending
	LastUsedAt  time.Time // zero when never used
	RevokedAt   time.Time // zero while not revoked
}

// Active reports whether the authenticator may be used to log in.
func (a TOTPAuthenticator) Active() bool { return !a.ActivatedAt.IsZero() && a.RevokedAt.IsZero() }

// TOTPLimit is how many active authenticators a user may have in an application.
type TOTPLimit struct {
	// Max active authenticators of the user in the app; adding one more returns ErrLimit.
	Max int
	// Replace revokes the user's active authenticators in the app before adding an active one,
	// in the same transaction (register with allow_override).
	Replace bool
	// PendingSince: pending authenticators created before it have expired; adding one deletes
	// the expired pending authenticators of that user in that app.
	PendingSince time.Time
}

// TOTPChallenge is a transaction-signing challenge: approval data bound to a user, live until
// it expires or is consumed once.
type TOTPChallenge struct {
	ID            string
	AppID         string
	UserID        string
	ChallengeHash string // keyed hash of the challenge shown to the user
	ApprovalData  []byte // JSON object
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time // zero while unused
}

// RecoveryCode is one of a user's recovery codes in an application, stored as a keyed hash.
type RecoveryCode struct {
	ID        string
	AppID     string
	UserID    string
	CodeHash  string
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// RecoveryCodes stores users' recovery codes; a login uses one up with UseRecoveryCode.
type RecoveryCodes interface {
	// ReplaceRecoveryCodes deletes the user's recovery codes in the app and inserts codes, in
	// one transaction.
	ReplaceRecoveryCodes(ctx context.Context, appID, userID string, codes []RecoveryCode) error
	// DeleteRecoveryCodes deletes the user's recovery codes in the app and returns how many.
	DeleteRecoveryCodes(ctx context.Context, appID, userID string) (int, error)
	// CountRecoveryCodes counts the user's unused recovery codes in the app.
	CountRecoveryCodes(ctx context.Context, appID, userID string) (int, error)
	// FindRecoveryCode returns the user's recovery code in the app with hash, used or not (a
	// used one has UsedAt set); ErrNotFound when there is none.
	FindRecoveryCode(ctx context.Context, appID, userID, hash string) (RecoveryCode, error)
}

// ErrLimit is returned when a user already has the maximum number of active authenticators.
var ErrLimit = errors.New("limit reached")

// ErrChallengeGone is returned when a challenge was consumed or has expired (or lost a race).
var ErrChallengeGone = errors.New("challenge used or expired")

// TOTPs stores TOTP authenticators (secrets sealed), their replay guard, devices and
// transaction-signing challenges.
type TOTPs interface {
	// AddTOTP inserts a. Pending (zero ActivatedAt) or active, it is refused with ErrLimit when
	// the user already has l.Max active authenticators in the app, unless a is active and
	// l.Replace is set: then those are revoked at a.CreatedAt first and their number returned.
	// It runs in one transaction serialized per (app, user) across nodes.
	AddTOTP(ctx context.Context, a TOTPAuthenticator, l TOTPLimit) (replaced int, err error)
	// GetTOTP returns an authenticator by id, revoked or not.
	GetTOTP(ctx context.Context, id string) (TOTPAuthenticator, error)
	// ListTOTPs returns the user's unrevoked authenticators in the app (active and pending,
	// expired pending ones included), oldest first.
	ListTOTPs(ctx context.Context, appID, userID string) ([]TOTPAuthenticator, error)
	// UserLoginTOTPs finds the user whose `by` column equals value and, in the same read, their
	// ListTOTPs(appID, user.ID) and the failure state of (appID, method, keyPrefix+user.ID) as
	// GetLockout gives it: what a TOTP login checks. ErrNotFound when no user matches.
	UserLoginTOTPs(ctx context.Context, by UserBy, value, appID, method, keyPrefix string) (User, []TOTPAuthenticator, Lockout, error)
	// ActivateTOTP makes pending authenticator id active at now and records step as its last
	// accepted step, if it is pending, unrevoked and created after l.PendingSince (ErrNotFound
	// otherwise) and the user has fewer than l.Max active ones (ErrLimit otherwise), in one
	// transaction serialized per (app, user).
	ActivateTOTP(ctx context.Context, id string, step int64, now time.Time, l TOTPLimit) error
	// RevokeTOTPs revokes at now the user's authenticators in the app (only authenticator id
	// when id is not empty) that are active or pending since pendingSince (an expired pending
	// one counts for nothing), and returns how many it revoked.
	RevokeTOTPs(ctx context.Context, appID, userID, id string, now, pendingSince time.Time) (int, error)
	// AddTOTPChallenge inserts a challenge and deletes the user's dead challenges in the app.
	AddTOTPChallenge(ctx context.Context, c TOTPChallenge) error
	// LiveTOTPChallenge returns the newest challenge of the user in the app that is unused and
	// unexpired at now, with the given hash when hash is not empty; ErrNotFound when none.
	LiveTOTPChallenge(ctx context.Context, appID, userID, hash string, now time.Time) (TOTPChallenge, error)
}
