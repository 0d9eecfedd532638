package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// SaveSSO creates or refreshes a browser session and records an app session it signed into.
func (db *DB) SaveSSO(ctx context.Context, s store.SSOSession, sessionID string) error {
	amr, err := json.Marshal(s.AMR)
	if err != nil {
		return err
	}
	ops := []op{must("save sso session", store.ErrNotFound, `INSERT INTO sso_sessions (id, user_id, amr, auth_time, created_at, expires_at, ended_at)
		VALUES (?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT (id) DO UPDATE SET amr = excluded.amr, auth_time = excluded.auth_time, expires_at = excluded.expires_at
		WHERE sso_sessions.ended_at = 0 AND sso_sessions.user_id = excluded.user_id`,
		s.ID, s.UserID, string(amr), ms(s.AuthTime), ms(s.CreatedAt), ms(s.ExpiresAt))}
	if sessionID != "" {
		ops = append(ops, exec("add sso member", `INSERT INTO sso_members (sso_id, session_id, user_id, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (sso_id, session_id) DO NOTHING`, s.ID, sessionID, s.UserID, ms(s.ExpiresAt)))
	}
	return db.write(ctx, ops...)
}

// GetSSO returns a browser session by id.
func (db *DB) GetSSO(ctx context.Context, id string) (store.SSOSession, error) {
	s := store.SSOSession{ID: id}
	var amr string
	var auth, created, expires, ended int64
	err := db.queryRow(ctx, `SELECT user_id, amr, auth_time, created_at, expires_at, ended_at FROM sso_sessions WHERE id = ?`, id).
		Scan(&s.UserID, &amr, &auth, &created, &expires, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SSOSession{}, store.ErrNotFound
	}
	if err != nil {
		return store.SSOSession{}, fmt.Errorf("get sso session: %w", err)
	}
	if err := json.Unmarshal([]byte(amr), &s.AMR); err != nil {
		return store.SSOSession{}, fmt.Errorf("sso session amr: %w", err)
	}
	s.AuthTime, s.CreatedAt, s.ExpiresAt, s.EndedAt = fromMS(auth), fromMS(created), fromMS(expires), fromMS(ended)
	return s, nil
}

// EndSSO ends a browser session and, with sessions, the app sessions it signed into.
func (db *DB) EndSSO(ctx context.Context, id string, now time.Time, sessions bool) error {
	n := ms(now)
	ops := []op{exec("end sso session", `UPDATE sso_sessions SET ended_at = ? WHERE id = ? AND ended_at = 0`, n, id)}
	if sessions {
		ops = append(ops, exec("end sso member sessions", `UPDATE sessions SET ended_at = ?
			WHERE ended_at = 0 AND id IN (SELECT session_id FROM sso_members WHERE sso_id = ?)`, n, id),
			exec("forget sso members", `DELETE FROM sso_members WHERE sso_id = ?`, id))
	}
	return db.write(ctx, ops...)
}

// SaveGrant records the scope a user granted a client.
func (db *DB) SaveGrant(ctx context.Context, userID, clientID, scope string, now time.Time) error {
	return db.write(ctx, exec("save grant", `INSERT INTO oidc_grants (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at`,
		userID, clientID, scope, ms(now)))
}

// GetGrant returns the scope a user granted a client.
func (db *DB) GetGrant(ctx context.Context, userID, clientID string) (string, error) {
	var scope string
	err := db.queryRow(ctx, `SELECT scope FROM oidc_grants WHERE user_id = ? AND client_id = ?`, userID, clientID).Scan(&scope)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get grant: %w", err)
	}
	return scope, nil
}
