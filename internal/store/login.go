package store

import (
	"context"
	"errors"
	"time"
)

// Code is one issued one-time code (OTP, magic-link code or authorization code).
type Code struct {
	ID          string
	AppID       string
	UserID      string // "" when the flow may create the user
	Method      string // otp, link, authcode
	Channel     string // email, sms, direct
	Identifier  string // normalized "type:value" the code was sent to
	CodeHash    string
	ByHash      bool // found by its hash alone (high-entropy codes); a numeric code is found by identifier
	RequestID   string
	Payload     []byte // JSON owned by the issuing service
	Attempts    int
	MaxAttempts int
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time
}

// UserBy names the column a user is found by.
type UserBy string

// The columns a user is found by.
const (
	UserByID       UserBy = "id"
	UserByEmail    UserBy = "email"
	UserByPhone    UserBy = "phone"
	UserByUsername UserBy = "username"
)

// RateLimit is at most Max sends within a window; Max 0 counts nothing.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// SendLimits are what issuing a code must fit. Sends are counted under Key (the user, or the
// recipient of a sign-up), whatever method, channel or client asked: at most each PerKey limit
// within any window of its length. PerApp counts the application's sends in fixed windows of its
// length (a code that is delivered by email or SMS; the caller leaves it zero otherwise). A zero
// SendLimits counts nothing (a code that is not sent, such as an authorization code).
type SendLimits struct {
	Key    string
	PerKey []RateLimit
	PerApp RateLimit
}

// RateLimitedError is returned by IssueCode when a send limit is reached: the oldest counted
// send of the limit that refused (or the start of the app's window) and the limit's window, so
// the caller can tell when the next send may go.
type RateLimitedError struct {
	Oldest time.Time
	Window time.Duration
	// PerApp reports that the application's ceiling refused, not the key's limit.
	PerApp bool
}

// Error implements error.
func (e *RateLimitedError) Error() string { return "rate limited" }

// ErrUsed is returned when a code or refresh token was already consumed (or lost the race).
var ErrUsed = errors.New("already used")

// Lockout is the failure state of one identifier for one method.
type Lockout struct {
	Failures    int
	LockedUntil time.Time
}

// FailurePolicy says when failures lock an identifier.
type FailurePolicy struct {
	Max     int
	Window  time.Duration
	LockFor time.Duration
}

// Codes stores one-time codes and the lockouts of identifiers.
type Codes interface {
	// IssueCode inserts c after checking that (app, method, identifier) is not locked at
	// c.CreatedAt (else ErrLocked) and that the send fits l (else *RateLimitedError), counts the
	// send, and retires every unused code of (app, method, identifier), all in one transaction
	// that holds across nodes. A refused send changes nothing: the current code stays usable.
	IssueCode(ctx context.Context, c Code, l SendLimits) error
	// DeleteCode removes a code whose delivery failed, withdraws its send from the send limits,
	// and makes usable again the codes that issuing it retired.
	DeleteCode(ctx context.Context, id string) error
	// LatestCode returns the newest code of (app, method, identifier) that is not used, and the
	// identifier's failure state (as GetLockout), in one read. With no such code it returns
	// ErrNotFound and still the failure state.
	LatestCode(ctx context.Context, appID, method, identifier string) (Code, Lockout, error)
	// UserLatestCode finds the user whose `by` column equals value and, in the same read, what
	// LatestCode(appID, method, keyPrefix+user.ID) returns: the newest unused code (zero, with
	// ID "", when there is none) and the identifier's failure state. ErrNotFound when no user
	// matches. A login by code sent to a user's key makes one read where it made two.
	UserLatestCode(ctx context.Context, by UserBy, value, appID, method, keyPrefix string) (User, Code, Lockout, error)
	// ConsumeCode marks code id used at now — if it is unused, unexpired and under its attempt
	// limit — in one conditional statement, and returns it; ErrUsed when another request won.
	ConsumeCode(ctx context.Context, id string, now time.Time) (Code, error)
	// ConsumeCodeByHash is ConsumeCode for codes looked up by their keyed hash (link and
	// authorization codes, which have 256 bits of entropy). Only codes issued with ByHash are
	// found by hash: the others answer ErrUsed, as an unknown hash does.
	ConsumeCodeByHash(ctx context.Context, method, hash string, now time.Time) (Code, error)
	// FindCodeByHash returns a code issued with ByHash by its hash, without consuming it.
	FindCodeByHash(ctx context.Context, method, hash string) (Code, error)
	// FindCodeByHashWithUser is FindCodeByHash with the code's user read in the same statement;
	// the user is zero (ID "") when the code has none or the user no longer exists.
	FindCodeByHashWithUser(ctx context.Context, method, hash string) (Code, User, error)
	// RecordCodeFailure counts one wrong attempt against code id and returns the new count.
	RecordCodeFailure(ctx context.Context, id string) (int, error)
	// GetLockout returns the failure state of an identifier (zero when none).
	GetLockout(ctx context.Context, appID, method, identifier string) (Lockout, error)
	// RecordFailure counts one failure for an identifier in one atomic statement and locks it
	// when the policy's maximum is reached within its window.
	RecordFailure(ctx context.Context, appID, method, identifier string, now time.Time, p FailurePolicy) (Lockout, error)
	// ClearFailures forgets an identifier's failures after a successful login.
	ClearFailures(ctx context.Context, appID, method, identifier string) error
}

// Session is a login session of one user with one application.
type Session struct {
	ID        string
	AppID     string
	UserID    string
	ClientID  string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
	// MFARequired marks a session whose login requires MFA: it yields no token until a second
	// factor joins it (set when the session is created, kept after).
	MFARequired bool
	// PrevAMR (not stored) is the amr an update of the session was computed from: SaveLogin
	// applies the update only if the stored amr still equals it, and returns ErrStale otherwise.
	PrevAMR []string
}

// ErrStale is returned by SaveLogin when the session changed since it was read, and by
// UpdateApp and UpdateClient when the row did.
var ErrStale = errors.New("session changed meanwhile")

// RefreshToken is a stored (hashed) refresh token.
type RefreshToken struct {
	Hash      string
	SessionID string
	ClientID  string
	Payload   []byte // JSON: what the refreshed tokens keep (resource, claims, approval data)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// ErrReused is returned by RotateRefreshToken when the token was already rotated.
var ErrReused = errors.New("refresh token reused")

// Use is something a login uses up in the transaction that saves it (SaveLogin): a one-time
// code, a TOTP time step, a transaction-signing challenge, the identifier's failures. Each is one
// conditional statement; if one cannot be used (another request won it, it expired, the
// identifier got locked) nothing of the login is written and SaveLogin returns that Use's error.
// A new login factor adds a Use type (and its statement in the SQL store).
type Use interface{ isUse() }

// UseCode uses up an unused, unexpired one-time code under its attempt limit; else ErrUsed.
type UseCode struct{ ID string }

// UseTOTPStep records Step as the last accepted step of an active authenticator if it is newer
// than the last one; else ErrUsed (of concurrent logins with one step exactly one succeeds).
type UseTOTPStep struct {
	AuthenticatorID string
	Step            int64
}

// UseChallenge uses up a live transaction-signing challenge; else ErrChallengeGone.
type UseChallenge struct{ ID string }

// UseFailures forgets the failures of an identifier, unless it is locked or has reached Max
// failures within its Window by the time the login commits: then ErrLocked. A right guess racing many
// wrong ones thus wins only if it commits before the limit, as if they had come one by one.
type UseFailures struct {
	AppID, Method, Identifier string
	Policy                    FailurePolicy
}

// UseRecoveryCode uses up an unused recovery code; else ErrUsed.
type UseRecoveryCode struct{ ID string }

func (UseCode) isUse()         {}
func (UseRecoveryCode) isUse() {}
func (UseTOTPStep) isUse()     {}
func (UseChallenge) isUse()    {}
func (UseFailures) isUse()     {}

// ErrLocked is returned when an identifier is locked.
var ErrLocked = errors.New("locked")

// Sessions stores sessions and their refresh tokens.
type Sessions interface {
	// SaveLogin writes a login at now in one transaction: what uses use up, the new or updated
	// session, its refresh token (when rt.Hash is set), and the user's last_auth.
	SaveLogin(ctx context.Context, s Session, isNew bool, rt RefreshToken, now time.Time, uses ...Use) error
	GetSession(ctx context.Context, id string) (Session, error)
	// EndSession ends a live session at now; ErrNotFound when it is unknown or already ended.
	EndSession(ctx context.Context, id string, now time.Time) error
	// SessionLive reports whether the session exists, is not ended and not expired at now.
	SessionLive(ctx context.Context, id string, now time.Time) (bool, error)
	// RotateRefreshToken marks the token with oldHash (issued to next.ClientID) used and stores
	// next in one transaction, if the token is unused, unexpired and its session live, extending
	// the session to next.ExpiresAt; it returns the old token, the session and its user. A token
	// already used returns ErrReused and the old token (its SessionID says whose); unknown or
	// expired tokens, and those of an ended session, return ErrNotFound. Refused rotations change
	// nothing.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (RefreshToken, Session, User, error)
	// EndUserSessions ends every live session of a user at now and returns how many.
	EndUserSessions(ctx context.Context, userID string, now time.Time) (int, error)
	// EndUserAppSessions ends every live session of a user in one application at now.
	EndUserAppSessions(ctx context.Context, userID, appID string, now time.Time) (int, error)

	// AccessTokenLive reports whether an access token may still be used at now: its jti is not
	// revoked and, for a user token (sessionID set), its session is live — in one read.
	AccessTokenLive(ctx context.Context, sessionID, jti string, now time.Time) (bool, error)
	// RevokeAccessToken records the access token jti (of session sessionID, "" for a client
	// token) as revoked until expiresAt, when it would have expired anyway. Revoking it again
	// changes nothing.
	RevokeAccessToken(ctx context.Context, jti, sessionID string, expiresAt, now time.Time) error
	// RevokedClientTokens lists the jtis of client tokens (no session) revoked and not yet
	// expired at now.
	RevokedClientTokens(ctx context.Context, now time.Time) ([]string, error)
	// RefreshTokenInfo returns a refresh token by hash whoever it was issued to, with its
	// session and the session's user; ErrNotFound when there is none.
	RefreshTokenInfo(ctx context.Context, hash string) (RefreshToken, Session, User, error)
	// EndRefreshTokenSession ends, in one conditional statement, the live session of the refresh
	// token with hash if that session belongs to application appID; ErrNotFound otherwise.
	EndRefreshTokenSession(ctx context.Context, hash, appID string, now time.Time) error
}

// SSOSession is a browser's sign-in at the OpenID Connect provider (single sign-on). ID is the
// keyed hash of the browser's cookie.
type SSOSession struct {
	ID        string
	UserID    string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
}

// SSO stores the OpenID Connect provider's browser sessions and the grants users gave clients.
type SSO interface {
	// SaveSSO creates the browser session s, or updates its amr, auth_time and expiry when it
	// exists and is live (ErrNotFound when it is ended), and records sessionID (when not "") as
	// one of the app sessions it signed into — in one transaction.
	SaveSSO(ctx context.Context, s SSOSession, sessionID string) error
	// GetSSO returns a browser session by id, ended or not; ErrNotFound when unknown.
	GetSSO(ctx context.Context, id string) (SSOSession, error)
	// EndSSO ends a browser session at now and, with sessions set, every live app session it
	// signed into, in one transaction. Ending an unknown or ended browser session changes
	// nothing.
	EndSSO(ctx context.Context, id string, now time.Time, sessions bool) error
	// SaveGrant records that the user granted the client scope at now (replacing an older grant).
	SaveGrant(ctx context.Context, userID, clientID, scope string, now time.Time) error
	// GetGrant returns the scope the user granted the client; ErrNotFound when none.
	GetGrant(ctx context.Context, userID, clientID string) (string, error)
}
