package store

import (
	"context"
	"time"
)

// PasswordCredential is a user's password: an argon2id PHC string, never the password.
type PasswordCredential struct {
	UserID string
	Hash   string
	// Temporary marks a password set for the user by someone else (force_replace): its first
	// login answers with a reset token instead of tokens.
	Temporary bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt is when a temporary password stops working (zero: never).
	ExpiresAt time.Time
}

// PasswordMode says what SavePassword may find.
type PasswordMode int

// The modes of SavePassword.
const (
	// PasswordAdd adds a first password: ErrConflict when the user has one.
	PasswordAdd PasswordMode = iota
	// PasswordReplace replaces the user's password: ErrNotFound when they have none.
	PasswordReplace
	// PasswordSet adds or replaces.
	PasswordSet
)

// UsePasswordRehash replaces a password's hash made with older parameters by one made with the
// current ones, if the stored hash is still Old (a change of password meanwhile wins). It never
// refuses the login.
type UsePasswordRehash struct {
	UserID   string
	Old, New string
}

func (UsePasswordRehash) isUse() {}

// Passwords stores password credentials, one per user.
type Passwords interface {
	// GetPassword returns the user's password; ErrNotFound when they have none.
	GetPassword(ctx context.Context, userID string) (PasswordCredential, error)
	// UserPassword finds the user whose `by` column equals value and, in the same read, their
	// password (zero, with Hash "", when none) and the failure state of (appID, method,
	// keyPrefix+user.ID). ErrNotFound when no user matches.
	UserPassword(ctx context.Context, by UserBy, value, appID, method, keyPrefix string) (User, PasswordCredential, Lockout, error)
	// CreateUserWithPassword inserts the user and their password in one transaction;
	// ErrConflict when an identifier is taken (nothing is written).
	CreateUserWithPassword(ctx context.Context, u User, c PasswordCredential) error
	// SavePassword writes c as w.Mode allows after using up uses (a reset token: UseCode), sets
	// w.Username on the user when it is not "", and, when w.EndSessions is not zero, ends every
	// live session of the user at that time — all in one transaction: a refused Use (ErrUsed),
	// mode (ErrConflict, ErrNotFound) or username (ErrConflict) writes nothing.
	SavePassword(ctx context.Context, c PasswordCredential, w PasswordWrite, uses ...Use) error
}

// PasswordWrite is how SavePassword writes a password.
type PasswordWrite struct {
	Mode        PasswordMode
	EndSessions time.Time // zero: the user's sessions stay
	Username    string    // set on the user in the same transaction; "" leaves it
}
