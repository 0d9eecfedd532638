package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// accessTokenLiveSQL is the bearer check of a user token: its session is live and its jti not
// revoked, in the one lookup by primary key the check made before revocation existed. The
// revocations are sought only for a session that has had one (both engines evaluate the OR from
// the left and skip the subquery when the flag is false): a session's read costs what it did.
const accessTokenLiveSQL = `SELECT 1 FROM sessions s WHERE s.id = ? AND s.ended_at = 0 AND s.expires_at > ?
	AND (NOT s.revoked_tokens OR NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = ?))`

// AccessTokenLive reports whether an access token may still be used at now.
func (db *DB) AccessTokenLive(ctx context.Context, sessionID, jti string, now time.Time) (bool, error) {
	var one int
	var err error
	if sessionID == "" {
		err = db.queryRow(ctx, `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)`, jti).Scan(&one)
	} else {
		err = db.queryRow(ctx, accessTokenLiveSQL, sessionID, ms(now), jti).Scan(&one)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// RevokeAccessToken records jti as revoked until expiresAt; revoking it again changes nothing.
func (db *DB) RevokeAccessToken(ctx context.Context, jti, sessionID string, expiresAt, now time.Time) error {
	ops := []op{exec("revoke access token", `INSERT INTO revoked_tokens (jti, session_id, revoked_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (jti) DO NOTHING`, jti, sessionID, ms(now), ms(expiresAt))}
	if sessionID != "" {
		ops = append(ops, exec("flag session", `UPDATE sessions SET revoked_tokens = TRUE WHERE id = ?`, sessionID))
	}
	if err := db.write(ctx, ops...); err != nil {
		return fmt.Errorf("revoke access token: %w", err)
	}
	return nil
}

// RevokedClientTokens lists the jtis of client tokens revoked and unexpired at now.
func (db *DB) RevokedClientTokens(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.query(ctx, `SELECT jti FROM revoked_tokens WHERE session_id = '' AND expires_at > ?`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("revoked client tokens: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var jti string
		if err := rows.Scan(&jti); err != nil {
			return nil, err
		}
		out = append(out, jti)
	}
	return out, db.dialect.mapErr(rows.Err())
}

// RefreshTokenInfo returns a refresh token by hash with its session and user.
func (db *DB) RefreshTokenInfo(ctx context.Context, hash string) (store.RefreshToken, store.Session, store.User, error) {
	var rt store.RefreshToken
	var payload string
	var created, expires, used int64
	sess, u, err := scanSessionUser(db.queryRow(ctx, `SELECT t.token_hash, t.session_id, t.client_id, t.payload, t.created_at, t.expires_at, t.used_at, `+
		sessionUserColumns+` FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
		WHERE t.token_hash = ?`, hash).Scan, &rt.Hash, &rt.SessionID, &rt.ClientID, &payload, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, store.ErrNotFound) {
		return rt, sess, u, store.ErrNotFound
	}
	if err != nil {
		return rt, sess, u, fmt.Errorf("refresh token info: %w", err)
	}
	rt.Payload, rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = []byte(payload), fromMS(created), fromMS(expires), fromMS(used)
	return rt, sess, u, nil
}

// EndRefreshTokenSession ends the live session of a refresh token if it is application appID's.
func (db *DB) EndRefreshTokenSession(ctx context.Context, hash, appID string, now time.Time) error {
	return changedSome(db.exec(ctx, `UPDATE sessions SET ended_at = ?
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?) AND app_id = ? AND ended_at = 0 AND expires_at > ?`,
		ms(now), hash, appID, ms(now)))
}
