// Package session owns what every login method ends with: the session (joined for MFA, amr
// accumulated), the user tokens (access, ID, refresh) and their rotation, and logout. Login
// methods call Complete; nothing else mints user tokens. It never logs a token.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// TTL is the session lifetime; it slides with every refresh.
const TTL = 14 * 24 * time.Hour

// refreshPurpose separates refresh-token hashes from other keyed hashes.
const refreshPurpose = "refresh-token"

// Store is what the session service persists.
type Store interface {
	store.Sessions
	GetUser(ctx context.Context, id string) (store.User, error)
}

// Service completes logins and manages sessions.
type Service struct {
	store  Store
	signer *token.Signer
	box    *secret.Box
	clock  clock.Clock
	log    *slog.Logger

	revoked revokedSet // this node's copy of the revoked client tokens
}

// NewService returns a Service.
func NewService(s Store, signer *token.Signer, box *secret.Box, c clock.Clock, log *slog.Logger) *Service {
	return &Service{store: s, signer: signer, box: box, clock: c, log: log}
}

// Login is one successful authentication to turn into tokens.
type Login struct {
	App          app.App
	ClientID     string
	User         store.User
	Method       string // amr value: eotp, sms, eml, totp; "" for session authenticate (no new factor)
	SessionID    string // join this session (MFA) when set
	Resource     string
	Claims       json.RawMessage // OIDC claims request: {"id_token": {...}, "access_token": {...}}
	ApprovalData map[string]any
	Nonce        string
	NewUser      bool
	// MFAPending is the first factor of a login that requires MFA (the hosted flow's
	// require_mfa): Complete saves a new session marked MFARequired and mints nothing; it returns
	// only the session id, for a second factor to join.
	MFAPending bool
	// SaveOnly saves the login and mints nothing (a later exchange of a code bound to the
	// session mints); Complete returns only the session id. MFAPending implies it.
	SaveOnly bool
	// IDTokenOnly issues no refresh token (the hosted flow's response_type id_token hands the
	// browser an ID token only; a refresh token nobody receives would just linger).
	IDTokenOnly bool
	// Scope is the space-separated OAuth scope the tokens are granted: the access token's scope
	// claim (RFC 9068), and with "email" or "phone" the ID token carries the address and whether
	// it is verified. A refresh keeps it. "" (the API-driven logins) grants DefaultScope of the
	// user in the access token, and the ID token carries every claim as before.
	Scope string
	// Inherit, for a login with no new factor and no session to join (the OIDC provider's single
	// sign-on), starts a new session of this app that carries the amr and auth_time of the
	// browser's earlier sign-in.
	Inherit *Inherited
	// Uses are what the login uses up (a code, a TOTP step, a challenge, the identifier's
	// failures) in the transaction that saves it, so that a login refused for any reason uses up
	// nothing. Complete then returns the refused Use's error (store.ErrUsed,
	// store.ErrChallengeGone, store.ErrLocked) for the caller to map.
	Uses []store.Use
}

// Inherited is what a session started by single sign-on carries over from the browser's sign-in.
type Inherited struct {
	AMR      []string
	AuthTime time.Time
}

// Tokens is Mosaic's ApiTokenResponse.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	SessionID    string `json:"session_id"`
}

// refreshPayload is what a refresh token remembers for the tokens it renews.
type refreshPayload struct {
	Resource string          `json:"resource,omitempty"`
	Claims   json.RawMessage `json:"claims,omitempty"`
	Nonce    string          `json:"nonce,omitempty"`
	Scope    string          `json:"scope,omitempty"`
}

// errSecondFactorRequired is the answer for a token asked of a session that requires MFA and has
// one factor.
func errSecondFactorRequired() *apierr.Error {
	return apierr.MFARequired("This login requires a second factor: authenticate one with this session_id first")
}

// errSessionNotFound is the answer for a session that is unknown, ended, expired or not the user's.
func errSessionNotFound() *apierr.Error {
	return apierr.NotFound("session_not_found", "Session not found")
}

// ValidateClaims checks the shape of an OIDC claims request.
func ValidateClaims(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var c map[string]map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return apierr.Invalid("claims", `must be an object like {"id_token": {"email": null}}`)
	}
	for k := range c {
		if k != "id_token" && k != "access_token" && k != "userinfo" {
			return apierr.Invalid("claims", "may only contain id_token, access_token and userinfo")
		}
	}
	return nil
}

// Complete turns a successful authentication into a session and tokens, in one write transaction.
func (s *Service) Complete(ctx context.Context, l Login) (Tokens, error) {
	if l.User.Status != user.StatusActive {
		return Tokens{}, apierr.UserNotActive()
	}
	if l.Resource != "" && !l.App.HasResource(l.Resource) {
		return Tokens{}, apierr.Invalid("resource", "is not a resource of this application")
	}
	if err := ValidateClaims(l.Claims); err != nil {
		return Tokens{}, err
	}
	now := s.clock.Now()
	rtTTL := time.Duration(l.App.Settings.RefreshTokenTTLSeconds) * time.Second
	refresh := secret.NewToken()
	payload, _ := json.Marshal(refreshPayload{Resource: l.Resource, Claims: l.Claims, Nonce: l.Nonce, Scope: l.Scope})
	var sess store.Session
	// Joining a session is an optimistic update: if another login of the same session commits
	// first (two second factors at once), the amr it added is re-read and kept.
	for attempt := 0; ; attempt++ {
		var err error
		var isNew bool
		if sess, isNew, err = s.sessionFor(ctx, l, now); err != nil {
			return Tokens{}, err
		}
		if sess.MFARequired && !l.MFAPending && !slices.Contains(sess.AMR, "mfa") {
			// Without a second factor this session never yields a token.
			return Tokens{}, errSecondFactorRequired()
		}
		rt := store.RefreshToken{Hash: s.box.Hash(refreshPurpose, refresh), SessionID: sess.ID, ClientID: l.ClientID,
			Payload: payload, CreatedAt: now, ExpiresAt: now.Add(rtTTL)}
		if l.IDTokenOnly || l.MFAPending || l.SaveOnly {
			rt = store.RefreshToken{}
		}
		err = s.store.SaveLogin(ctx, sess, isNew, rt, now, l.Uses...)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrStale) && attempt < 5:
			continue
		case errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrChallengeGone) || errors.Is(err, store.ErrLocked):
			return Tokens{}, err
		case errors.Is(err, store.ErrNotFound):
			return Tokens{}, errSessionNotFound()
		default:
			return Tokens{}, fmt.Errorf("save login: %w", err)
		}
		break
	}
	if l.MFAPending {
		s.log.Info("login needs a second factor", "user_id", l.User.ID, "app_id", l.App.ID, "method", l.Method, "session_id", sess.ID)
		return Tokens{SessionID: sess.ID}, nil
	}
	if l.SaveOnly {
		s.log.Info("login", "user_id", l.User.ID, "app_id", l.App.ID, "method", l.Method, "session_id", sess.ID, "amr", sess.AMR)
		return Tokens{SessionID: sess.ID}, nil
	}
	tok, err := s.mint(l, sess)
	if err != nil {
		return Tokens{}, err
	}
	if !l.IDTokenOnly {
		tok.RefreshToken = refresh
	}
	if l.Method != "" {
		s.log.Info("login", "user_id", l.User.ID, "app_id", l.App.ID, "method", l.Method, "session_id", sess.ID, "amr", sess.AMR)
	}
	return tok, nil
}

// sessionFor returns the session the login goes into — the joined one (checked to be live and
// the user's) or a new one — with this login's method added to its amr.
func (s *Service) sessionFor(ctx context.Context, l Login, now time.Time) (store.Session, bool, error) {
	sess := store.Session{ID: secret.NewTimeID(now), AppID: l.App.ID, UserID: l.User.ID, ClientID: l.ClientID, CreatedAt: now, MFARequired: l.MFAPending}
	isNew := true
	if l.SessionID != "" {
		existing, err := s.store.GetSession(ctx, l.SessionID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !live(existing, now)) ||
			(err == nil && (existing.UserID != l.User.ID || existing.AppID != l.App.ID)) {
			return sess, false, errSessionNotFound()
		}
		if err != nil {
			return sess, false, fmt.Errorf("get session: %w", err)
		}
		sess, isNew = existing, false
		sess.PrevAMR = existing.AMR
	} else if l.Inherit != nil {
		sess.AMR, sess.AuthTime = slices.Clone(l.Inherit.AMR), l.Inherit.AuthTime
	} else if l.Method == "" {
		return sess, false, apierr.Invalid("session_id", "is required")
	}
	if l.Method != "" {
		sess.AMR = AddMethod(sess.AMR, l.Method)
		sess.AuthTime = now
	}
	sess.ExpiresAt = now.Add(TTL)
	return sess, isNew, nil
}

func live(s store.Session, now time.Time) bool {
	return s.EndedAt.IsZero() && now.Before(s.ExpiresAt)
}

// AddMethod adds method to amr once, and "mfa" once two different methods have succeeded.
func AddMethod(amr []string, method string) []string {
	out := slices.Clone(amr)
	if !slices.Contains(out, method) {
		out = append(out, method)
	}
	factors := 0
	for _, m := range out {
		if m != "mfa" {
			factors++
		}
	}
	if factors >= 2 && !slices.Contains(out, "mfa") {
		out = append(out, "mfa")
	}
	return out
}

// mint signs the access and ID tokens of a session.
func (s *Service) mint(l Login, sess store.Session) (Tokens, error) {
	a := l.App
	aud := token.APIAudience
	if l.Resource != "" {
		aud = l.Resource
	}
	accessTTL := a.Settings.AccessTokenTTLSeconds
	iat, exp := s.signer.Lifetime(time.Duration(accessTTL) * time.Second)
	requested := requestedClaims(l.Claims)
	scope := l.Scope
	if scope == "" {
		scope = DefaultScope(l.User)
	}
	access := map[string]any{
		"iss": s.signer.Issuer, "sub": l.User.ID, "aud": aud, "iat": iat, "exp": exp, "jti": secret.NewID(),
		"tid": a.TenantID, "client_id": l.ClientID, "app_id": a.ID, "app_name": a.Name, "scope": scope, "roles": []string{}, "sid": sess.ID,
	}
	userClaims(access, l.User, requested["access_token"], false)
	at, err := s.signer.Sign(access)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign access token: %w", err)
	}
	_, idExp := s.signer.Lifetime(time.Duration(a.Settings.IDTokenTTLSeconds) * time.Second)
	id := map[string]any{
		"iss": s.signer.Issuer, "sub": l.User.ID, "aud": l.ClientID, "iat": iat, "exp": idExp, "jti": secret.NewID(),
		"auth_time": sess.AuthTime.Unix(), "amr": sess.AMR, "tid": a.TenantID, "sid": sess.ID, "at_hash": token.AtHash(at),
	}
	userClaims(id, l.User, scopeClaims(l.Scope, requested["id_token"]), l.Scope == "") // an OIDC scope says which claims
	if slices.Contains(sess.AMR, "mfa") {
		id["acr"] = "mfa"
	}
	if len(l.ApprovalData) > 0 {
		id["approval_data"] = l.ApprovalData
	}
	if l.NewUser {
		id["new_user"] = true
	}
	if l.Nonce != "" {
		id["nonce"] = l.Nonce
	}
	it, err := s.signer.Sign(id)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign id token: %w", err)
	}
	return Tokens{AccessToken: at, IDToken: it, TokenType: "Bearer", ExpiresIn: accessTTL, SessionID: sess.ID}, nil
}

// scopeClaims adds to requested the claims an OIDC scope grants: email and email_verified for
// "email", phone_number and phone_number_verified for "phone".
func scopeClaims(scope string, requested map[string]any) map[string]any {
	if scope == "" {
		return requested
	}
	out := map[string]any{}
	for k, v := range requested {
		out[k] = v
	}
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "email":
			out["email"], out["email_verified"] = nil, nil
		case "phone":
			out["phone_number"], out["phone_number_verified"] = nil, nil
		}
	}
	return out
}

func requestedClaims(raw json.RawMessage) map[string]map[string]any {
	var c map[string]map[string]any
	if len(raw) > 0 {
		json.Unmarshal(raw, &c) // validated by ValidateClaims
	}
	return c
}

// userClaims adds the user's claims: email and phone by default in ID tokens, and whatever the
// claims request names among those Latch knows.
func userClaims(dst map[string]any, u store.User, requested map[string]any, defaults bool) {
	want := func(name string) bool {
		_, ok := requested[name]
		return ok
	}
	if u.Email != "" && (defaults || want("email")) {
		dst["email"] = u.Email
	}
	if u.Email != "" && want("email_verified") {
		dst["email_verified"] = u.EmailVerified
	}
	if u.Phone != "" && (defaults || want("phone_number")) {
		dst["phone_number"] = u.Phone
	}
	if u.Phone != "" && want("phone_number_verified") {
		dst["phone_number_verified"] = u.PhoneVerified
	}
	if u.Username != "" && want("username") {
		dst["username"] = u.Username
	}
	if want("roles") {
		dst["roles"] = []string{}
	}
	if want("name") || want("fname") || want("lname") || want("given_name") || want("family_name") {
		var p user.Profile
		if json.Unmarshal(u.Profile, &p) == nil && p.Name != nil {
			set := func(claim, v string) {
				if v != "" && want(claim) {
					dst[claim] = v
				}
			}
			set("fname", p.Name.FirstName)
			set("given_name", p.Name.FirstName)
			set("lname", p.Name.LastName)
			set("family_name", p.Name.LastName)
			if want("name") {
				dst["name"] = p.Name
			}
		}
	}
}
