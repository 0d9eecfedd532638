// Package otp owns one-time code rules shared by every code-based login: issuing (length, lifetime,
// send rate limit, a new code replacing the previous one), storing only a keyed hash, verifying
// in constant time, consuming atomically, counting failures and locking identifiers. It also serves
// the backend OTP flow (send, authenticate). It never logs or returns a code except to the caller
// that asked for channel "direct".
package otp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// Code methods: the code spaces that lock and rate-limit separately.
const (
	MethodOTP  = "otp"
	MethodLink = "link"
)

// Codes issues and checks one-time codes.
type Codes struct {
	store   store.Codes
	box     *secret.Box
	clock   clock.Clock
	rand    io.Reader
	log     *slog.Logger
	metrics *metrics.Metrics
}

// NewCodes returns a Codes; r is the randomness source (crypto/rand.Reader in production).
func NewCodes(s store.Codes, box *secret.Box, c clock.Clock, r io.Reader, log *slog.Logger, m *metrics.Metrics) *Codes {
	return &Codes{store: s, box: box, clock: c, rand: r, log: log, metrics: m}
}

// Issue describes a code to issue.
type Issue struct {
	App        app.App
	UserID     string
	Method     string // the code space: MethodOTP, MethodLink, or a flow's own
	Numeric    bool   // a short numeric code the user types (checked with Verify), else 256 random bits
	Channel    string // email, sms, direct; any other (redirect) is not a send
	Identifier string // normalized "type:value"
	// LimitKey is whose sends this one counts toward (product.md's per-identifier limits): the
	// user (user.StateKey), or the recipient of a sign-up; "" means Identifier.
	LimitKey  string
	TTL       time.Duration // 0: the app's setting for the method
	RequestID bool          // generate a request id that verification will require
	Payload   []byte        // what the flow needs back when the code is consumed
}

// Issued is a new code, shown once to the caller that delivers it.
type Issued struct {
	ID        string // the stored code's id, to withdraw it if delivery fails
	Code      string
	RequestID string
	ExpiresAt time.Time
}

// hash is the keyed hash a code is stored under. A numeric code is bound to its identifier (it is
// looked up by identifier, and short codes repeat across users); a high-entropy code is looked up
// by its hash alone (identifier "").
func (c *Codes) hash(method, identifier, code string) string {
	return c.box.Hash(method, identifier+"\x00"+code)
}

// Issue creates a code: numeric of the app's length for OTP, 256 random bits otherwise. It
// refuses a locked identifier (403) and one over the send rate limit (429), both checked in the
// store's issuing transaction.
func (c *Codes) Issue(ctx context.Context, in Issue) (Issued, error) {
	now := c.clock.Now()
	s := in.App.Settings
	var code string
	ttl := in.TTL
	hashIdentifier := ""
	if in.Numeric {
		hashIdentifier = in.Identifier
		var err error
		if code, err = secret.NumericCode(c.rand, s.OTPLength); err != nil {
			return Issued{}, fmt.Errorf("generate code: %w", err)
		}
		if ttl == 0 {
			ttl = time.Duration(s.OTPExpiryMinutes) * time.Minute
		}
	} else {
		code = secret.NewToken()
		if ttl == 0 {
			ttl = time.Duration(s.MagicLinkExpiryMinutes) * time.Minute
		}
	}
	out := Issued{ID: secret.NewTimeID(now), Code: code, ExpiresAt: now.Add(ttl)}
	if in.RequestID {
		out.RequestID = secret.NewID()
	}
	row := store.Code{ID: out.ID, AppID: in.App.ID, UserID: in.UserID, Method: in.Method, Channel: in.Channel,
		Identifier: in.Identifier, CodeHash: c.hash(in.Method, hashIdentifier, code), ByHash: !in.Numeric, RequestID: out.RequestID,
		Payload: in.Payload, MaxAttempts: s.OTPMaxAttempts, CreatedAt: now, ExpiresAt: out.ExpiresAt}
	if row.Payload == nil {
		row.Payload = []byte("{}")
	}
	var limits store.SendLimits
	switch in.Channel {
	case ChannelEmail, ChannelSMS, ChannelDirect:
		key := in.LimitKey
		if key == "" {
			key = in.Identifier
		}
		limits = s.SendLimits(key, in.Channel)
	}
	err := c.store.IssueCode(ctx, row, limits)
	var limited *store.RateLimitedError
	if errors.Is(err, store.ErrLocked) {
		return Issued{}, apierr.Locked("One time code invalid due to multiple failed attempts")
	}
	if errors.As(err, &limited) {
		c.log.Warn("send rate limited", "app_id", in.App.ID, "method", in.Method, "channel", in.Channel, "per_app", limited.PerApp)
		// The next send may go when the oldest counted send leaves the limit's window.
		retry := max(limited.Oldest.Add(limited.Window).Sub(now), time.Second)
		return Issued{}, apierr.RateLimited(int(math.Ceil(retry.Seconds())))
	}
	if err != nil {
		return Issued{}, fmt.Errorf("issue code: %w", err)
	}
	return out, nil
}

// Check is a code presented for verification.
type Check struct {
	App        app.App
	Method     string
	Identifier string
	Code       string
	RequestID  string
}

// Check checks a numeric code against the identifier's latest code in constant time without
// using it up: the caller uses it up (Uses) in the transaction that saves the
// login, so of concurrent requests with one code exactly one succeeds, and a login refused for
// another reason uses up nothing. A wrong code counts a failure against the code and the
// identifier; reaching the limit locks the identifier (403). The returned lockout state goes to
// Succeeded once the login is saved.
func (c *Codes) Check(ctx context.Context, in Check) (store.Code, store.Lockout, error) {
	row, lock, err := c.store.LatestCode(ctx, in.App.ID, in.Method, in.Identifier)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Code{}, lock, fmt.Errorf("latest code: %w", err)
	}
	return c.judge(ctx, in, row, lock, err == nil)
}

// CheckUser is Check for a code sent to a user's key (user.StateKey), with the user found in the same
// read by the column and value of user.Key: it returns the user and the Check it made (in with
// Identifier set), or the user API's 404 when there is no such user.
func (c *Codes) CheckUser(ctx context.Context, in Check, by store.UserBy, value string) (store.User, Check, store.Code, store.Lockout, error) {
	u, row, lock, err := c.store.UserLatestCode(ctx, by, value, in.App.ID, in.Method, user.StateKey(""))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, in, store.Code{}, lock, user.NotFound(err)
		}
		return store.User{}, in, store.Code{}, lock, fmt.Errorf("user and latest code: %w", err)
	}
	in.Identifier = user.StateKey(u.ID)
	row, lock, err = c.judge(ctx, in, row, lock, row.ID != "")
	return u, in, row, lock, err
}

// judge decides a check on the identifier's latest code (found false when it has none) and its
// failure state.
func (c *Codes) judge(ctx context.Context, in Check, row store.Code, lock store.Lockout, found bool) (store.Code, store.Lockout, error) {
	now := c.clock.Now()
	if lock.LockedUntil.After(now) {
		return store.Code{}, lock, apierr.Locked("One time code invalid due to multiple failed attempts")
	}
	if !found {
		// No live code: nothing can be guessed, so this is not counted as a failed attempt.
		// Counting it would let the losers of a race for one code, or a replay of a used code,
		// lock out the user who has just logged in.
		c.metrics.Login(in.Method, "failed")
		return store.Code{}, lock, apierr.InvalidCredentials("Invalid passcode")
	}
	if !secret.Equal(row.CodeHash, c.hash(in.Method, in.Identifier, in.Code)) {
		return store.Code{}, lock, c.fail(ctx, in, row.ID, now)
	}
	if !now.Before(row.ExpiresAt) {
		return store.Code{}, lock, apierr.New(400, "auth_otp_passcode_expired", "Passcode expired")
	}
	if row.RequestID != "" && !secret.Equal(row.RequestID, in.RequestID) {
		return store.Code{}, lock, apierr.Invalid("request_id", "does not match the request that sent the code")
	}
	return row, lock, nil
}

// Uses is what a login with a checked code uses up in its transaction: the code, and the
// identifier's failures (the login is refused if the identifier got locked meanwhile).
func (c *Codes) Uses(in Check, row store.Code) []store.Use {
	return []store.Use{store.UseCode{ID: row.ID},
		store.UseFailures{AppID: in.App.ID, Method: in.Method, Identifier: in.Identifier, Policy: in.App.Settings.Lockout()}}
}

// UsesHighEntropy is what a login with a high-entropy code found with Find (a magic link or an
// authorization code) uses up: the code; such codes cannot be guessed, so no lockout applies.
func (c *Codes) UsesHighEntropy(row store.Code) []store.Use {
	return []store.Use{store.UseCode{ID: row.ID}}
}

// MAC is the keyed hash of value for purpose, under the key that hashes codes: for values a flow
// hands out and must recognize later (the hosted flow's tie cookie).
func (c *Codes) MAC(purpose, value string) string { return c.box.Hash(purpose, value) }

// Succeeded forgets the identifier's failures after a successful login.
func (c *Codes) Succeeded(ctx context.Context, in Check, lock store.Lockout) error {
	if lock.Failures == 0 {
		return nil
	}
	if err := c.store.ClearFailures(ctx, in.App.ID, in.Method, in.Identifier); err != nil {
		return fmt.Errorf("clear failures: %w", err)
	}
	return nil
}

// Verify is Check followed by using the code up on its own, for flows whose next step is not a
// login (the hosted validation, which issues an authorization code).
func (c *Codes) Verify(ctx context.Context, in Check) (store.Code, error) {
	row, lock, err := c.Check(ctx, in)
	if err != nil {
		return store.Code{}, err
	}
	consumed, err := c.store.ConsumeCode(ctx, row.ID, c.clock.Now())
	if errors.Is(err, store.ErrUsed) {
		return store.Code{}, apierr.InvalidCredentials("Invalid passcode")
	}
	if err != nil {
		return store.Code{}, fmt.Errorf("consume code: %w", err)
	}
	return consumed, c.Succeeded(ctx, in, lock)
}

// fail records a failed attempt against a live code and returns the error the caller sees.
func (c *Codes) fail(ctx context.Context, in Check, codeID string, now time.Time) error {
	if _, err := c.store.RecordCodeFailure(ctx, codeID); err != nil {
		return fmt.Errorf("record code failure: %w", err)
	}
	l, err := c.store.RecordFailure(ctx, in.App.ID, in.Method, in.Identifier, now, in.App.Settings.Lockout())
	if err != nil {
		return err
	}
	c.metrics.Login(in.Method, "failed")
	if l.LockedUntil.After(now) {
		c.log.Warn("identifier locked", "app_id", in.App.ID, "method", in.Method, "failures", l.Failures)
		return apierr.Locked("One time code invalid due to multiple failed attempts")
	}
	c.log.Info("login failed", "app_id", in.App.ID, "method", in.Method, "failures", l.Failures)
	return apierr.InvalidCredentials("Invalid passcode")
}

// ConsumeByHash consumes a high-entropy code (magic link, authorization code) in one conditional
// statement. Unknown, used and expired codes all answer ErrUsed-like errors to the caller.
func (c *Codes) ConsumeByHash(ctx context.Context, method, code string) (store.Code, error) {
	if code == "" {
		return store.Code{}, store.ErrNotFound
	}
	row, err := c.store.ConsumeCodeByHash(ctx, method, c.hash(method, "", code), c.clock.Now())
	if errors.Is(err, store.ErrUsed) {
		return store.Code{}, store.ErrNotFound
	}
	return row, err
}

// Find returns a high-entropy code by value without consuming it (a GET on a magic link).
func (c *Codes) Find(ctx context.Context, method, code string) (store.Code, error) {
	if code == "" {
		return store.Code{}, store.ErrNotFound
	}
	row, err := c.store.FindCodeByHash(ctx, method, c.hash(method, "", code))
	if err != nil {
		return store.Code{}, err
	}
	return c.live(row)
}

// FindWithUser is Find with the code's user read in the same statement (zero when the code has
// none or the user is gone).
func (c *Codes) FindWithUser(ctx context.Context, method, code string) (store.Code, store.User, error) {
	if code == "" {
		return store.Code{}, store.User{}, store.ErrNotFound
	}
	row, u, err := c.store.FindCodeByHashWithUser(ctx, method, c.hash(method, "", code))
	if err != nil {
		return store.Code{}, store.User{}, err
	}
	row, err = c.live(row)
	if err != nil {
		return store.Code{}, store.User{}, err
	}
	return row, u, nil
}

// live is row, or ErrNotFound when it is used or expired.
func (c *Codes) live(row store.Code) (store.Code, error) {
	if !row.UsedAt.IsZero() || !c.clock.Now().Before(row.ExpiresAt) {
		return store.Code{}, store.ErrNotFound
	}
	return row, nil
}

// FindAny returns a high-entropy code by value, used or not (but not long expired, which the
// store has pruned): the OIDC token endpoint tells a replayed authorization code this way.
func (c *Codes) FindAny(ctx context.Context, method, code string) (store.Code, error) {
	if code == "" {
		return store.Code{}, store.ErrNotFound
	}
	return c.store.FindCodeByHash(ctx, method, c.hash(method, "", code))
}
