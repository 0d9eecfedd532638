package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// isAccessToken reports whether verified claims are those of a Latch access token (user or
// client): an ID token has no client_id or app_id.
func isAccessToken(c token.Claims) bool {
	return c.ID != "" && c.ClientID != "" && c.AppID != ""
}

// isClientToken reports whether an access token is a client token (client_credentials).
func isClientToken(c token.Claims) bool {
	return c.SessionID == "" && c.Subject == c.ClientID
}

// AccessTokenLive reports whether a verified access token may still be used: for a user token,
// its session is live and its jti not revoked, in the one read the session check always made; for
// a client token, its jti is not among the revocations this node knows (refreshed from the
// database at most every revokedRefresh, and at once for revocations made on this node).
func (s *Service) AccessTokenLive(ctx context.Context, c token.Claims) (bool, error) {
	if isClientToken(c) {
		revoked, err := s.revoked.contains(ctx, c.ID, func(ctx context.Context) ([]string, error) {
			return s.store.RevokedClientTokens(ctx, s.clock.Now())
		})
		return !revoked && err == nil, err
	}
	if c.SessionID == "" {
		return false, nil
	}
	return s.store.AccessTokenLive(ctx, c.SessionID, c.ID, s.clock.Now())
}

// revokedRefresh is how stale a node's copy of the revoked client tokens may grow.
const revokedRefresh = time.Second

// revokedSet is a node's copy of the revoked, unexpired client-token jtis. A request that finds
// it older than revokedRefresh reloads it while the others go on with the copy they have; until
// the first load succeeds, every request waits for it. Revocations made on this node count at
// once, and stay in local until a load that started after them has them from the database.
type revokedSet struct {
	load   sync.Mutex // held by the one request reloading
	mu     sync.RWMutex
	jtis   map[string]struct{}
	local  map[string]time.Time
	loaded time.Time // monotonic: the start of the last successful load
}

func (r *revokedSet) contains(ctx context.Context, jti string, fetch func(context.Context) ([]string, error)) (bool, error) {
	r.mu.RLock()
	fresh, ever := time.Since(r.loaded) < revokedRefresh, !r.loaded.IsZero()
	r.mu.RUnlock()
	switch {
	case fresh:
	case ever:
		if r.load.TryLock() {
			r.reload(ctx, fetch) // on failure the previous copy serves until the next try
			r.load.Unlock()
		}
	default:
		r.load.Lock()
		err := r.reload(ctx, fetch)
		r.load.Unlock()
		if err != nil {
			return false, err
		}
	}
	r.mu.RLock()
	_, revoked := r.jtis[jti]
	_, here := r.local[jti]
	r.mu.RUnlock()
	return revoked || here, nil
}

func (r *revokedSet) reload(ctx context.Context, fetch func(context.Context) ([]string, error)) error {
	r.mu.RLock()
	fresh := time.Since(r.loaded) < revokedRefresh
	r.mu.RUnlock()
	if fresh {
		return nil // loaded by another request meanwhile
	}
	start := time.Now()
	list, err := fetch(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]struct{}, len(list))
	for _, j := range list {
		m[j] = struct{}{}
	}
	r.mu.Lock()
	for j, at := range r.local {
		if at.Before(start) {
			delete(r.local, j) // committed before this load began: in list
		}
	}
	r.jtis, r.loaded = m, start
	r.mu.Unlock()
	return nil
}

// add records a revocation made (and committed) on this node.
func (r *revokedSet) add(jti string) {
	r.mu.Lock()
	if r.local == nil {
		r.local = map[string]time.Time{}
	}
	r.local[jti] = time.Now()
	r.mu.Unlock()
}

// Revoke serves RFC 7009 for an authenticated client of application a: an access token of the
// application is revoked by jti until it expires; a refresh token of the application ends its
// session (and with it the session's access tokens). Anything else — unknown, expired, another
// application's — changes nothing, and is no error (RFC 7009 §2.2). hint only picks which kind
// is tried first.
func (s *Service) Revoke(ctx context.Context, a app.App, tok, hint string) error {
	tryAccess := func() (bool, error) {
		c, err := s.signer.VerifyAnyAudience(tok)
		if err != nil || !isAccessToken(c) {
			return false, nil
		}
		if c.AppID != a.ID {
			return true, nil // another application's: nothing happens
		}
		if err := s.store.RevokeAccessToken(ctx, c.ID, c.SessionID, c.Expiry.Time(), s.clock.Now()); err != nil {
			return true, err
		}
		if isClientToken(c) {
			s.revoked.add(c.ID)
		}
		s.log.Info("access token revoked", "app_id", a.ID, "client_id", c.ClientID, "jti", c.ID, "session_id", c.SessionID)
		return true, nil
	}
	tryRefresh := func() (bool, error) {
		err := s.store.EndRefreshTokenSession(ctx, s.box.Hash(refreshPurpose, tok), a.ID, s.clock.Now())
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return true, fmt.Errorf("revoke refresh token: %w", err)
		}
		s.log.Info("refresh token revoked: session ended", "app_id", a.ID)
		return true, nil
	}
	order := []func() (bool, error){tryAccess, tryRefresh}
	if hint == "refresh_token" {
		order = []func() (bool, error){tryRefresh, tryAccess}
	}
	for _, try := range order {
		if done, err := try(); done || err != nil {
			return err
		}
	}
	return nil
}

// Introspection is RFC 7662's answer; the zero value is {"active": false}.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  any    `json:"aud,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	SID       string `json:"sid,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	JTI       string `json:"jti,omitempty"`
	TenantID  string `json:"tid,omitempty"`
	// AppID is the token's application, for the caller's check that the client is still live.
	AppID string `json:"-"`
}

// Introspect serves RFC 7662 for an authenticated client of application a: a live access or
// refresh token of the application is active; anything else (expired, revoked, of an ended
// session or a user no longer active, another application's, unknown) is not.
func (s *Service) Introspect(ctx context.Context, a app.App, tok, hint string) (Introspection, error) {
	access := func() (Introspection, bool, error) {
		c, err := s.signer.VerifyAnyAudience(tok)
		if err != nil || !isAccessToken(c) {
			return Introspection{}, false, nil
		}
		if c.AppID != a.ID {
			return Introspection{}, true, nil
		}
		live, err := s.store.AccessTokenLive(ctx, c.SessionID, c.ID, s.clock.Now())
		if err != nil || !live {
			return Introspection{}, true, err
		}
		var aud any = []string(c.Audience)
		if len(c.Audience) == 1 {
			aud = c.Audience[0]
		}
		out := Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject, Expiry: c.Expiry.Time().Unix(),
			Issuer: c.Issuer, Audience: aud, TokenType: "Bearer", SID: c.SessionID, SessionID: c.SessionID, JTI: c.ID,
			TenantID: c.TenantID, AppID: c.AppID}
		if c.IssuedAt != nil {
			out.IssuedAt = c.IssuedAt.Time().Unix()
		}
		return out, true, nil
	}
	refresh := func() (Introspection, bool, error) {
		rt, sess, u, err := s.store.RefreshTokenInfo(ctx, s.box.Hash(refreshPurpose, tok))
		if errors.Is(err, store.ErrNotFound) {
			return Introspection{}, false, nil
		}
		if err != nil {
			return Introspection{}, true, fmt.Errorf("introspect refresh token: %w", err)
		}
		now := s.clock.Now()
		if sess.AppID != a.ID || !rt.UsedAt.IsZero() || !now.Before(rt.ExpiresAt) || !live(sess, now) || u.Status != user.StatusActive {
			return Introspection{}, true, nil
		}
		var p refreshPayload
		json.Unmarshal(rt.Payload, &p)
		scope := p.Scope
		if scope == "" {
			scope = DefaultScope(u)
		}
		return Introspection{Active: true, Scope: scope, ClientID: rt.ClientID, Subject: u.ID, Expiry: rt.ExpiresAt.Unix(),
			IssuedAt: rt.CreatedAt.Unix(), Issuer: s.signer.Issuer, TokenType: "refresh_token", SID: sess.ID, SessionID: sess.ID,
			TenantID: u.TenantID, AppID: sess.AppID}, true, nil
	}
	order := []func() (Introspection, bool, error){access, refresh}
	if hint == "refresh_token" {
		order = []func() (Introspection, bool, error){refresh, access}
	}
	for _, try := range order {
		if out, done, err := try(); done || err != nil {
			return out, err
		}
	}
	return Introspection{}, nil
}
