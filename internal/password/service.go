package password

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// Method is the lockout and metrics name of password logins; AMR is their amr value.
const (
	Method = "password"
	AMR    = "pwd"
	// MethodReset is the code space of reset tokens (high-entropy codes of the codes table).
	MethodReset = "password_reset"
)

// Reasons a reset token is issued for (IssueResetToken).
const (
	ReasonTemporary       = "temporary_password"
	ReasonExpired         = "password_expired"
	ReasonEmailLink       = "email_link"
	ReasonEmailOTP        = "email_otp"
	ReasonSMSOTP          = "sms_otp"
	ReasonCurrentPassword = "current_password"
)

// unknownKeyPrefix is where the failures of an identifier that names no user are counted, so
// that an unknown user locks like a known one (no enumeration by lockout).
const unknownKeyPrefix = "unknown|"

// Store is what the password service persists.
type Store interface {
	store.Passwords
	GetLockout(ctx context.Context, appID, method, identifier string) (store.Lockout, error)
	RecordFailure(ctx context.Context, appID, method, identifier string, now time.Time, p store.FailurePolicy) (store.Lockout, error)
	ClearFailures(ctx context.Context, appID, method, identifier string) error
}

// Service keeps password credentials, logs users in with them and resets them by token.
type Service struct {
	Store    Store
	Hasher   *Hasher
	Apps     *app.Service
	Users    *user.Service
	Sessions *session.Service
	Codes    *otp.Codes
	Clock    clock.Clock
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// ResetURL, when set, is the url a reset answers for its redirect_uri (the hosted flow that
	// logs the user in with the new password); unset, the url is the redirect_uri itself.
	ResetURL func(ctx context.Context, a app.App, u store.User, req ResetRequest) (string, error)
}

// errDisabled is the answer of a login API of an app that has not enabled passwords.
func errDisabled() *apierr.Error {
	return apierr.New(403, "auth_password_policy_disabled", "Passwords are not enabled for this application")
}

// errInvalidCredentials is the one answer for a wrong password, an unknown user and a user without
// a password: the same status and body, after the same work.
func errInvalidCredentials() *apierr.Error {
	return apierr.New(401, "auth_invalid_credentials", "Invalid username or password")
}

func errLocked() *apierr.Error {
	return apierr.Locked("Password login locked due to multiple failed attempts; try again later")
}

func errInvalidResetToken() *apierr.Error {
	return apierr.New(403, "auth_password_invalid_reset_token", "The reset token is invalid, used or expired")
}

// AppPolicy is the password policy of an application.
func AppPolicy(a app.App) Policy { return Policy{MinLength: a.Settings.PasswordMinLength} }

// contextWords are the words a user's new password must not be made of: the application's
// name, the username and the local part of the email address.
func contextWords(a app.App, u store.User) []string {
	words := []string{a.Name, u.Username}
	if local, _, ok := strings.Cut(u.Email, "@"); ok {
		words = append(words, local, u.Email)
	}
	return words
}

// CheckNew normalizes a new password and checks it against the app's policy for user u: the
// normalized password, or the 400 (auth_password_weak or auth_password_breached) whose message
// starts with field.
func (s *Service) CheckNew(a app.App, field, pw string, u store.User) (string, error) {
	if pw == "" {
		return "", apierr.Invalid(field, "is required")
	}
	pw = Normalize(pw)
	if v := AppPolicy(a).Check(pw, contextWords(a, u)...); v != nil {
		return "", apierr.New(400, v.Code, field+": "+v.Problem)
	}
	return pw, nil
}

// credential is a new credential of u with hash, temporary or not, made at now.
func credential(a app.App, userID, hash string, temporary bool, now time.Time) store.PasswordCredential {
	c := store.PasswordCredential{UserID: userID, Hash: hash, Temporary: temporary, CreatedAt: now, UpdatedAt: now}
	if temporary {
		c.ExpiresAt = now.Add(time.Duration(a.Settings.PasswordTempValidityHours) * time.Hour)
	}
	return c
}

// CredentialInput is ApiUserPasswordInput / ApiAddPassword / ApiUpdatePassword / ApiMeAddPassword.
// ForceReplace defaults to true (Mosaic's default): the password is temporary.
type CredentialInput struct {
	Password          string  `json:"password"`
	ForceReplace      *bool   `json:"force_replace"`
	Username          *string `json:"username"`
	EnforceComplexity *bool   `json:"enforce_complexity"`
}

func (in CredentialInput) temporary() bool { return in.ForceReplace == nil || *in.ForceReplace }

// Caller is who sets a credential through the users API: the application of the token, and
// whether it is an admin token (which may set passwords whatever the application's setting).
type Caller struct {
	App   app.App
	Admin bool
}

func (c Caller) enabled() error {
	if !c.Admin && !c.App.Settings.PasswordEnabled {
		return apierr.New(400, "auth_password_policy_disabled", "credentials: passwords are not enabled for this application")
	}
	return nil
}

// CreateUser creates a user with a password credential in one transaction (POST /v1/users with
// credentials): a weak password, a taken identifier or any other refusal creates nothing.
func (s *Service) CreateUser(ctx context.Context, c Caller, in user.Input, cred CredentialInput) (store.User, error) {
	if err := c.enabled(); err != nil {
		return store.User{}, err
	}
	u, err := s.Users.Prepare(ctx, in, true)
	if err != nil {
		return store.User{}, err
	}
	pw, err := s.CheckNew(c.App, "credentials.password", cred.Password, u)
	if err != nil {
		return store.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return store.User{}, err
	}
	if err := s.Store.CreateUserWithPassword(ctx, u, credential(c.App, u.ID, hash, cred.temporary(), u.CreatedAt)); err != nil {
		return store.User{}, user.Conflict(err)
	}
	s.Log.Info("user created with a password", "user_id", u.ID, "app_id", c.App.ID, "temporary", cred.temporary())
	return u, nil
}

// Message is {"message": …}, the result of the credential APIs.
type Message struct {
	Message string `json:"message"`
}

// SetCredential adds (POST /v1/users/{id}/password, mode PasswordAdd; self — the user's own
// token — makes it permanent) or replaces (PUT, PasswordReplace) a user's password. A username
// given with a new password is set on the user in the same transaction.
func (s *Service) SetCredential(ctx context.Context, c Caller, userID string, in CredentialInput, mode store.PasswordMode, self bool) (Message, error) {
	if err := c.enabled(); err != nil {
		return Message{}, err
	}
	u, err := s.Users.Get(ctx, userID)
	if err != nil {
		return Message{}, err
	}
	username := ""
	if in.Username != nil && mode != store.PasswordReplace {
		n, problem := user.NormalizeUsername(*in.Username)
		if problem != "" {
			return Message{}, apierr.Invalid("username", problem)
		}
		if n != u.Username {
			u.Username, username = n, n
		}
	}
	pw, err := s.CheckNew(c.App, "password", in.Password, u)
	if err != nil {
		return Message{}, err
	}
	// Before the hash, what the mode forbids (the write checks it again, atomically).
	_, err = s.Store.GetPassword(ctx, u.ID)
	switch {
	case err == nil && mode == store.PasswordAdd:
		return Message{}, errAlreadyConfigured()
	case errors.Is(err, store.ErrNotFound) && mode == store.PasswordReplace:
		return Message{}, errNotConfigured()
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return Message{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return Message{}, err
	}
	now := s.Clock.Now()
	temporary := in.temporary() && !self
	err = s.Store.SavePassword(ctx, credential(c.App, u.ID, hash, temporary, now), store.PasswordWrite{Mode: mode, Username: username})
	switch {
	case errors.Is(err, store.ErrConflict) && username != "":
		// The password or the username: tell which.
		if _, gerr := s.Store.GetPassword(ctx, u.ID); gerr == nil {
			return Message{}, errAlreadyConfigured()
		}
		return Message{}, user.Conflict(err)
	case errors.Is(err, store.ErrConflict):
		return Message{}, errAlreadyConfigured()
	case errors.Is(err, store.ErrNotFound) && mode == store.PasswordReplace:
		return Message{}, errNotConfigured()
	case errors.Is(err, store.ErrNotFound):
		return Message{}, apierr.UserNotFound() // deleted meanwhile
	case err != nil:
		return Message{}, err
	}
	s.Log.Info("password set", "user_id", u.ID, "app_id", c.App.ID, "temporary", temporary, "replace", mode == store.PasswordReplace)
	if mode == store.PasswordReplace {
		return Message{Message: "Password updated"}, nil
	}
	return Message{Message: "Password registered"}, nil
}

func errNotConfigured() *apierr.Error {
	return apierr.Conflict("auth_password_not_configured", "The user has no password: add one with POST /v1/users/{user_id}/password")
}

func errAlreadyConfigured() *apierr.Error {
	return apierr.Conflict("auth_password_already_configured", "The user already has a password: replace it with PUT /v1/users/{user_id}/password")
}

// Information is Mosaic's ApiPasswordInformation of a user as application a sees it, or nil when
// the user has no password.
func (s *Service) Information(ctx context.Context, a app.App, userID string) (map[string]any, error) {
	c, err := s.Store.GetPassword(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	expires := c.ExpiresAt
	if !c.Temporary {
		expires = time.Time{}
		if days := a.Settings.PasswordExpiresInDays; days > 0 {
			expires = c.UpdatedAt.Add(time.Duration(days) * 24 * time.Hour)
		}
	}
	out := map[string]any{"temporary": c.Temporary, "updated_at": c.UpdatedAt.UnixMilli(),
		"expired": !expires.IsZero() && !s.Clock.Now().Before(expires)}
	if !expires.IsZero() {
		out["expires_in"] = expires.UTC().Format(time.RFC3339)
	}
	return out, nil
}

// AuthenticateRequest is ApiPasswordTokenRequestDto.
type AuthenticateRequest struct {
	Username         string             `json:"username"`
	Password         string             `json:"password"`
	UsernameType     string             `json:"username_type"`
	SessionID        string             `json:"session_id"`
	Resource         string             `json:"resource"`
	Claims           json.RawMessage    `json:"claims"`
	OrgID            string             `json:"org_id"`
	DeviceID         string             `json:"device_id"`
	ClientAttributes *device.Attributes `json:"client_attributes"`
	// NoRefresh (not a field): the password grant without offline_access issues no refresh token.
	NoRefresh bool `json:"-"`
}

// usernameTypes maps username_type to the identifier types of package user.
var usernameTypes = map[string]string{"": user.IDUsername, "username": user.IDUsername, "email": user.IDEmail, "phone_number": user.IDPhone}

// Verified is a user whose password was checked: what a login completes with.
type Verified struct {
	User store.User
	Uses []store.Use
}

// Check checks a username and password for app a: the user and what their login uses up (the
// failures of the user, and a new hash when the stored one was made with older parameters).
// A wrong password, an unknown user and a user without a password answer the same 401 after
// the same work (a dummy hash); each counts a failure toward the app's lockout (403 auth_locked),
// an unknown identifier under its own key. A right temporary password answers Mosaic's 403
// temporary_password with a reset token, a right password past the app's expiry 403
// password_expired.
func (s *Service) Check(ctx context.Context, a app.App, usernameType, username, password string) (Verified, error) {
	if !a.Settings.PasswordEnabled {
		return Verified{}, errDisabled()
	}
	typ, ok := usernameTypes[usernameType]
	if !ok {
		return Verified{}, apierr.Invalid("username_type", "must be one of username, email, phone_number")
	}
	if username == "" {
		return Verified{}, apierr.Invalid("username", "is required")
	}
	if password == "" {
		return Verified{}, apierr.Invalid("password", "is required")
	}
	if len(password) > MaxBytes {
		return Verified{}, apierr.Invalid("password", fmt.Sprintf("must be at most %d bytes", MaxBytes))
	}
	by, value, err := user.Key(typ, username, "username")
	if err != nil {
		return Verified{}, err
	}
	pw := Normalize(password)
	now := s.Clock.Now()
	policy := a.Settings.Lockout()
	u, cred, lock, err := s.Store.UserPassword(ctx, by, value, a.ID, Method, user.StateKey(""))
	key := user.StateKey(u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		key = unknownKeyPrefix + string(by) + ":" + value
		if lock, err = s.Store.GetLockout(ctx, a.ID, Method, key); err != nil {
			return Verified{}, err
		}
	case err != nil:
		return Verified{}, err
	}
	if lock.LockedUntil.After(now) {
		s.Metrics.Login(Method, "locked")
		return Verified{}, errLocked()
	}
	var right, rehash bool
	if cred.Hash == "" {
		err = s.Hasher.VerifyDummy(ctx, pw)
	} else {
		right, rehash, err = s.Hasher.Verify(ctx, cred.Hash, pw)
	}
	if err != nil {
		return Verified{}, fmt.Errorf("verify password: %w", err)
	}
	if !right || (cred.Temporary && !cred.ExpiresAt.IsZero() && !now.Before(cred.ExpiresAt)) {
		// A temporary password past its validity is as good as a wrong one.
		l, err := s.Store.RecordFailure(ctx, a.ID, Method, key, now, policy)
		if err != nil {
			return Verified{}, err
		}
		s.Metrics.Login(Method, "failed")
		if l.LockedUntil.After(now) {
			s.Log.Warn("password login locked", "app_id", a.ID, "failures", l.Failures)
			return Verified{}, errLocked()
		}
		return Verified{}, errInvalidCredentials()
	}
	if u.Status != user.StatusActive {
		return Verified{}, apierr.UserNotActive()
	}
	reason := ""
	switch {
	case cred.Temporary:
		reason = ReasonTemporary
	case a.Settings.PasswordExpiresInDays > 0 && !now.Before(cred.UpdatedAt.Add(time.Duration(a.Settings.PasswordExpiresInDays)*24*time.Hour)):
		reason = ReasonExpired
	}
	if reason != "" {
		if lock.Failures > 0 {
			if err := s.Store.ClearFailures(ctx, a.ID, Method, key); err != nil {
				return Verified{}, err
			}
		}
		tok, err := s.IssueResetToken(ctx, a, u.ID, reason)
		if err != nil {
			return Verified{}, err
		}
		s.Metrics.Login(Method, "reset_required")
		return Verified{}, apierr.ResetRequired(reason, tok)
	}
	uses := []store.Use{store.UseFailures{AppID: a.ID, Method: Method, Identifier: key, Policy: policy}}
	if rehash {
		next, err := s.Hasher.Hash(ctx, pw)
		if err != nil {
			return Verified{}, err
		}
		uses = append(uses, store.UsePasswordRehash{UserID: u.ID, Old: cred.Hash, New: next})
	}
	return Verified{User: u, Uses: uses}, nil
}

// Authenticate is the backend password login (POST /v1/auth/password/authenticate): Check, then
// the login — a new session, or the one session_id names (amr gains pwd, and mfa with another
// factor) — and its tokens.
func (s *Service) Authenticate(ctx context.Context, a app.App, clientID string, req AuthenticateRequest) (session.Tokens, error) {
	if err := session.ValidateClaims(req.Claims); err != nil {
		return session.Tokens{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return session.Tokens{}, err
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return session.Tokens{}, apierr.Invalid("resource", "is not a resource of this application")
	}
	v, err := s.Check(ctx, a, req.UsernameType, req.Username, req.Password)
	if err != nil {
		return session.Tokens{}, err
	}
	tok, err := s.Sessions.Complete(ctx, session.Login{App: a, ClientID: clientID, User: v.User, Method: AMR,
		SessionID: req.SessionID, Resource: req.Resource, Claims: req.Claims, IDTokenOnly: req.NoRefresh, Uses: v.Uses})
	if errors.Is(err, store.ErrLocked) { // wrong guesses racing this one reached the limit first
		return session.Tokens{}, errLocked()
	}
	if err != nil {
		return session.Tokens{}, err
	}
	s.Metrics.Login(Method, "ok")
	return tok, nil
}

// resetPayload is what a reset token remembers.
type resetPayload struct {
	Reason string `json:"reason"`
}

// IssueResetToken issues a reset token for the user in app a: 256 random bits, stored as a
// keyed hash in the codes table, valid for the app's password_reset_validity_minutes, usable
// once (Reset), and replacing the user's earlier unused reset tokens of the app. reason is one
// of the Reason constants. The token is returned once and never logged.
func (s *Service) IssueResetToken(ctx context.Context, a app.App, userID, reason string) (string, error) {
	payload, _ := json.Marshal(resetPayload{Reason: reason})
	issued, err := s.Codes.Issue(ctx, otp.Issue{App: a, UserID: userID, Method: MethodReset, Channel: "redirect",
		Identifier: user.StateKey(userID), TTL: time.Duration(a.Settings.PasswordResetValidityMinutes) * time.Minute, Payload: payload})
	if err != nil {
		return "", err
	}
	s.Log.Info("password reset token issued", "user_id", userID, "app_id", a.ID, "reason", reason)
	return issued.Code, nil
}

// ResetToken is what a live reset token stands for.
type ResetToken struct {
	AppID, UserID, Reason string
	ExpiresAt             time.Time
}

// LookupResetToken returns what a live reset token stands for without using it (a later step's
// prev_reset_token), or the 403 for an unknown, used or expired one.
func (s *Service) LookupResetToken(ctx context.Context, token string) (ResetToken, error) {
	row, err := s.Codes.Find(ctx, MethodReset, token)
	if errors.Is(err, store.ErrNotFound) {
		return ResetToken{}, errInvalidResetToken()
	}
	if err != nil {
		return ResetToken{}, err
	}
	var p resetPayload
	json.Unmarshal(row.Payload, &p)
	return ResetToken{AppID: row.AppID, UserID: row.UserID, Reason: p.Reason, ExpiresAt: row.ExpiresAt}, nil
}

// ResetRequest is ApiResetPasswordInput.
type ResetRequest struct {
	ResetToken  string `json:"reset_token"`
	NewPassword string `json:"new_password"`
	RedirectURI string `json:"redirect_uri"`
	Resource    string `json:"resource"`
	RequireMFA  bool   `json:"require_mfa"`
}

// ResetResponse is ApiResetPasswordResponse.
type ResetResponse struct {
	Message string `json:"message"`
	URL     string `json:"url"`
	Email   string `json:"email"`
}

// Reset replaces the password of a reset token's user (POST /v1/auth/password/reset): the token
// is used up, the new password stored (permanent) and every session of the user ended, in one
// transaction, so of concurrent resets with one token exactly one succeeds.
func (s *Service) Reset(ctx context.Context, req ResetRequest) (ResetResponse, error) {
	if req.ResetToken == "" {
		return ResetResponse{}, apierr.Invalid("reset_token", "is required")
	}
	if req.NewPassword == "" {
		return ResetResponse{}, apierr.Invalid("new_password", "is required")
	}
	row, u, err := s.Codes.FindWithUser(ctx, MethodReset, req.ResetToken)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.ID == "") {
		return ResetResponse{}, errInvalidResetToken()
	}
	if err != nil {
		return ResetResponse{}, err
	}
	a, err := s.Apps.App(ctx, row.AppID)
	if err != nil {
		return ResetResponse{}, errInvalidResetToken() // the app was deleted since
	}
	if req.RedirectURI != "" && !a.AllowsRedirect(req.RedirectURI) {
		return ResetResponse{}, apierr.Invalid("redirect_uri", "is not a redirect URI of this application")
	}
	if req.Resource != "" && !a.HasResource(req.Resource) {
		return ResetResponse{}, apierr.Invalid("resource", "is not a resource of this application")
	}
	pw, err := s.CheckNew(a, "new_password", req.NewPassword, u)
	if err != nil {
		return ResetResponse{}, err
	}
	if cur, err := s.Store.GetPassword(ctx, u.ID); err == nil {
		if same, _, err := s.Hasher.Verify(ctx, cur.Hash, pw); err == nil && same {
			return ResetResponse{}, apierr.New(400, "auth_password_recently_used", "new_password: must differ from the current password")
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return ResetResponse{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return ResetResponse{}, err
	}
	now := s.Clock.Now()
	err = s.Store.SavePassword(ctx, credential(a, u.ID, hash, false, now), store.PasswordWrite{Mode: store.PasswordSet, EndSessions: now}, store.UseCode{ID: row.ID})
	if errors.Is(err, store.ErrUsed) {
		return ResetResponse{}, errInvalidResetToken()
	}
	if err != nil {
		return ResetResponse{}, fmt.Errorf("reset password: %w", err)
	}
	s.Log.Info("password reset", "user_id", u.ID, "app_id", a.ID)
	s.Metrics.Login("password_reset", "ok")
	out := ResetResponse{Message: "Password reset successfully", URL: req.RedirectURI, Email: u.Email}
	if s.ResetURL != nil && req.RedirectURI != "" {
		if out.URL, err = s.ResetURL(ctx, a, u, req); err != nil {
			return ResetResponse{}, err
		}
	}
	return out, nil
}

// ValidateRequest is ApiValidatePasswordInput.
type ValidateRequest struct {
	Password    string `json:"password"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
}

// ValidationError is one reason a password would be refused.
type ValidationError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidateResult is {valid_password, errors}.
type ValidateResult struct {
	ValidPassword bool              `json:"valid_password"`
	Errors        []ValidationError `json:"errors"`
}

// Validate checks a password against the app's policy without storing anything
// (POST /v1/auth/password/validate); the identifiers given are context words.
func (s *Service) Validate(ctx context.Context, a app.App, req ValidateRequest) (map[string]ValidateResult, error) {
	if !a.Settings.PasswordEnabled {
		return nil, errDisabled()
	}
	if req.Password == "" {
		return nil, apierr.Invalid("password", "is required")
	}
	u := store.User{Username: req.Username, Email: strings.ToLower(req.Email)}
	words := append(contextWords(a, u), req.PhoneNumber)
	res := ValidateResult{ValidPassword: true, Errors: []ValidationError{}}
	if v := AppPolicy(a).Check(Normalize(req.Password), words...); v != nil {
		res = ValidateResult{Errors: []ValidationError{{Code: v.Code, Message: "password: " + v.Problem}}}
	}
	return map[string]ValidateResult{"result": res}, nil
}

// RegisterRequest is ApiRegisterPasswordInput.
type RegisterRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Register creates a user with only a username and a temporary password, which must be reset
// at its first login (POST /v1/auth/password/register).
func (s *Service) Register(ctx context.Context, a app.App, req RegisterRequest) (Message, error) {
	if !a.Settings.PasswordEnabled {
		return Message{}, errDisabled()
	}
	if req.Username == "" {
		return Message{}, apierr.Invalid("username", "is required")
	}
	force := true
	if _, err := s.CreateUser(ctx, Caller{App: a}, user.Input{Username: &req.Username, AppID: a.ID},
		CredentialInput{Password: req.Password, ForceReplace: &force}); err != nil {
		return Message{}, renameField(err, "credentials.password", "password")
	}
	return Message{Message: "Password registered"}, nil
}

// renameField rewrites an API error's message that starts with from to start with to.
func renameField(err error, from, to string) error {
	var ae *apierr.Error
	if errors.As(err, &ae) && strings.HasPrefix(ae.Message, from+":") {
		cp := *ae
		cp.Message = to + strings.TrimPrefix(ae.Message, from)
		return &cp
	}
	return err
}
