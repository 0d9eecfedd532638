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

// SaveLogin writes the session, its refresh token and the user's last_auth in one transaction,
// with what uses use up (see unit.go for how each engine carries it out).
func (db *DB) SaveLogin(ctx context.Context, s store.Session, isNew bool, rt store.RefreshToken, now time.Time, uses ...store.Use) error {
	ops := make([]op, 0, len(uses)+3)
	for _, u := range uses {
		o, err := useOp(u, now)
		if err != nil {
			return err
		}
		ops = append(ops, o)
	}
	amr, err := json.Marshal(s.AMR)
	if err != nil {
		return err
	}
	if isNew {
		ops = append(ops, exec("insert session", `INSERT INTO sessions (id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at, mfa_required)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`, s.ID, s.AppID, s.UserID, s.ClientID, string(amr), ms(s.AuthTime), ms(s.CreatedAt), ms(s.ExpiresAt), s.MFARequired))
	} else {
		prev, err := json.Marshal(s.PrevAMR)
		if err != nil {
			return err
		}
		o := must("update session", store.ErrNotFound, `UPDATE sessions SET amr = ?, auth_time = ?, expires_at = ? WHERE id = ? AND ended_at = 0 AND amr = ?`,
			string(amr), ms(s.AuthTime), ms(s.ExpiresAt), s.ID, string(prev))
		o.miss = func(ctx context.Context, queryRow func(string, ...any) scanner) error {
			// Gone, ended, or joined by another login meanwhile: tell which.
			var ended int64
			if err := queryRow(`SELECT ended_at FROM sessions WHERE id = ?`, s.ID).Scan(&ended); err == nil && ended == 0 {
				return store.ErrStale
			}
			return store.ErrNotFound
		}
		ops = append(ops, o)
	}
	if rt.Hash != "" {
		ops = append(ops, exec("insert refresh token", insertRefreshSQL,
			rt.Hash, rt.SessionID, rt.ClientID, string(rt.Payload), ms(rt.CreatedAt), ms(rt.ExpiresAt)))
	}
	ops = append(ops, exec("touch user", `UPDATE users SET last_auth = ? WHERE id = ?`, ms(s.AuthTime), s.UserID))
	return db.write(ctx, ops...)
}

// useOp is the statement that uses u up at now.
func useOp(u store.Use, now time.Time) (op, error) {
	n := ms(now)
	switch u := u.(type) {
	case store.UseCode:
		return must("use code", store.ErrUsed, `UPDATE codes SET used_at = ?
			WHERE id = ? AND used_at = 0 AND expires_at > ? AND attempts < max_attempts`, n, u.ID, n), nil
	case store.UseRecoveryCode:
		return must("use recovery code", store.ErrUsed, `UPDATE recovery_codes SET used_at = ? WHERE id = ? AND used_at = 0`, n, u.ID), nil
	case store.UseChallenge:
		return must("use challenge", store.ErrChallengeGone,
			`UPDATE totp_challenges SET used_at = ? WHERE id = ? AND used_at = 0 AND expires_at > ?`, n, u.ID, n), nil
	case store.UseTOTPStep:
		return must("accept step", store.ErrUsed, `UPDATE totp_authenticators SET last_step = ?, last_used_at = ?
			WHERE id = ? AND last_step < ? AND activated_at > 0 AND revoked_at = 0`, u.Step, n, u.AuthenticatorID, u.Step), nil
	case store.UsePasswordRehash:
		// A change of password since the login read the hash wins: then nothing changes.
		return exec("rehash password", `UPDATE passwords SET hash = ? WHERE user_id = ? AND hash = ?`, u.New, u.UserID, u.Old), nil
	case store.UseFailures:
		// The DELETE locks the row and returns its newest state; it is undone with everything
		// else when the login is refused.
		return refuseIf("lockout", store.ErrLocked, `DELETE FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?
			RETURNING locked_until > ? OR (window_start > ? AND failures >= ?)`,
			u.AppID, u.Method, u.Identifier, n, n-u.Policy.Window.Milliseconds(), u.Policy.Max), nil
	}
	return op{}, fmt.Errorf("save login: unknown use %T", u)
}

const insertRefreshSQL = `INSERT INTO refresh_tokens (token_hash, session_id, client_id, payload, created_at, expires_at, used_at)
	VALUES (?, ?, ?, ?, ?, ?, 0)`

const sessionColumns = `id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at, mfa_required`

// tokenSessionUser joins a refresh token (t, selected by token_hash and client_id) to its session
// (s) and the session's user (u); the foreign keys make both exist.
const tokenSessionUser = ` FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
	WHERE t.token_hash = ? AND t.client_id = ?`

// sessionUserColumns are the columns scanSessionUser reads after its head: s's, then u's.
var sessionUserColumns = prefixed("s.", sessionColumns) + ", " + prefixed("u.", userColumns)

// scanSessionUser scans a row of head's columns, then sessionColumns, then userColumns.
func scanSessionUser(scan func(...any) error, head ...any) (store.Session, store.User, error) {
	var u store.User
	sess, err := scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return scan(append(append(head, sd...), ud...)...)
		}))
		return err
	}))
	return sess, u, err
}

func scanSession(s scanner) (store.Session, error) {
	var out store.Session
	var amr string
	var auth, created, expires, ended int64
	err := s.Scan(&out.ID, &out.AppID, &out.UserID, &out.ClientID, &amr, &auth, &created, &expires, &ended, &out.MFARequired)
	if errors.Is(err, sql.ErrNoRows) {
		return out, store.ErrNotFound
	}
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal([]byte(amr), &out.AMR); err != nil {
		return out, fmt.Errorf("session amr: %w", err)
	}
	out.AuthTime, out.CreatedAt, out.ExpiresAt, out.EndedAt = fromMS(auth), fromMS(created), fromMS(expires), fromMS(ended)
	return out, nil
}

// GetSession returns a session by id.
func (db *DB) GetSession(ctx context.Context, id string) (store.Session, error) {
	return scanSession(db.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
}

// EndSession ends a live session.
func (db *DB) EndSession(ctx context.Context, id string, now time.Time) error {
	return changedSome(db.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0 AND expires_at > ?`, ms(now), id, ms(now)))
}

// SessionLive reports whether a session is live at now.
func (db *DB) SessionLive(ctx context.Context, id string, now time.Time) (bool, error) {
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM sessions WHERE id = ? AND ended_at = 0 AND expires_at > ?`, id, ms(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// EndUserSessions ends every live session of a user in one UPDATE.
func (db *DB) EndUserSessions(ctx context.Context, userID string, now time.Time) (int, error) {
	res, err := db.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at = 0 AND expires_at > ?`, ms(now), userID, ms(now))
	if err != nil {
		return 0, fmt.Errorf("end user sessions: %w", err)
	}
	n, err := rowsAffected(res)
	return int(n), err
}

// EndUserAppSessions ends every live session of a user in one application in one UPDATE.
func (db *DB) EndUserAppSessions(ctx context.Context, userID, appID string, now time.Time) (int, error) {
	res, err := db.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE user_id = ? AND app_id = ? AND ended_at = 0 AND expires_at > ?`, ms(now), userID, appID, ms(now))
	if err != nil {
		return 0, fmt.Errorf("end user app sessions: %w", err)
	}
	n, err := rowsAffected(res)
	return int(n), err
}

// RotateRefreshToken marks old used and inserts next in one transaction. The conditional UPDATE
// decides the race: of two concurrent rotations of one token exactly one succeeds. The session's
// slide, the new token (inheriting the old payload in SQL unless next has one) and the read of
// the token, session and user follow in the same transaction: on PostgreSQL one round trip. A
// refused rotation rolls back and then asks why.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) (store.RefreshToken, store.Session, store.User, error) {
	n := ms(now)
	var payload any // NULL: the new token inherits the old one's payload
	if next.Payload != nil {
		payload = string(next.Payload)
	}
	for attempt := 0; ; attempt++ {
		var old store.RefreshToken
		var sess store.Session
		var u store.User
		rotate := must("rotate refresh token", nil, rotateRefreshSQL, n, oldHash, next.ClientID, n, n)
		rotate.miss = func(ctx context.Context, queryRow func(string, ...any) scanner) error {
			var err error
			old, err = rotationRefused(queryRow, oldHash, next.ClientID, n)
			return err
		}
		err := db.write(ctx, rotate,
			// Sliding: the session lives as long as its newest refresh token.
			exec("slide session", `UPDATE sessions SET expires_at = `+db.dialect.greatest+`(expires_at, ?)
				WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ? AND client_id = ?)`,
				ms(next.ExpiresAt), oldHash, next.ClientID),
			exec("insert refresh token", `INSERT INTO refresh_tokens (token_hash, session_id, client_id, payload, created_at, expires_at, used_at)
				SELECT ?, session_id, client_id, COALESCE(CAST(? AS TEXT), payload), ?, ?, 0 FROM refresh_tokens WHERE token_hash = ? AND client_id = ?`,
				next.Hash, payload, ms(next.CreatedAt), ms(next.ExpiresAt), oldHash, next.ClientID),
			op{what: "rotated", q: `SELECT t.token_hash, t.session_id, t.client_id, t.payload, t.created_at, t.expires_at, t.used_at, ` +
				sessionUserColumns + tokenSessionUser, args: []any{oldHash, next.ClientID},
				fetch: func(scan func(...any) error) error {
					var payload string
					var created, expires, used int64
					var err error
					sess, u, err = scanSessionUser(scan, &old.Hash, &old.SessionID, &old.ClientID, &payload, &created, &expires, &used)
					old.Payload, old.CreatedAt, old.ExpiresAt, old.UsedAt = []byte(payload), fromMS(created), fromMS(expires), fromMS(used)
					return err
				}},
		)
		switch {
		case errors.Is(err, errStateChanged) && attempt == 0:
			continue // refused, but for a reason gone by the time it was asked: once more
		case errors.Is(err, store.ErrReused):
			return old, store.Session{}, store.User{}, err
		case err != nil:
			return store.RefreshToken{}, store.Session{}, store.User{}, err
		}
		return old, sess, u, nil
	}
}

// rotateRefreshSQL uses a refresh token up if it is unused, unexpired and its session live. The
// session is read by a correlated scalar subquery, which both engines run per token row as a
// lookup by primary key: as "session_id IN (SELECT id FROM sessions WHERE …)" SQLite built the
// list of every live session for each rotation (7 refreshes/s with a few thousand sessions), and
// as EXISTS PostgreSQL flattened it into a join whose generic plan, made on empty tables, scans
// sessions (TestLoginReadPlans checks this statement's plan on both).
const rotateRefreshSQL = `UPDATE refresh_tokens SET used_at = ?
	WHERE token_hash = ? AND client_id = ? AND used_at = 0 AND expires_at > ?
	AND COALESCE((SELECT s.ended_at = 0 AND s.expires_at > ? FROM sessions s WHERE s.id = refresh_tokens.session_id), FALSE)`

// errStateChanged is a refused rotation whose reason was gone when it was asked for.
var errStateChanged = errors.New("refresh token changed meanwhile")

// rotationRefused tells why a rotation was refused: an unknown or expired token or an ended
// session (ErrNotFound), or a token used before (ErrReused, with the token's session).
func rotationRefused(queryRow func(string, ...any) scanner, oldHash, clientID string, n int64) (store.RefreshToken, error) {
	var used, expires, ended, sessExpires int64
	var old store.RefreshToken
	err := queryRow(`SELECT t.used_at, t.expires_at, s.id, s.ended_at, s.expires_at`+tokenSessionUser, oldHash, clientID).
		Scan(&used, &expires, &old.SessionID, &ended, &sessExpires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return old, store.ErrNotFound
	case err != nil:
		return old, fmt.Errorf("rotate refresh token: %w", err)
	case used != 0:
		old.Hash, old.ClientID, old.UsedAt = oldHash, clientID, fromMS(used)
		return old, store.ErrReused
	case expires <= n, ended != 0, sessExpires <= n:
		return store.RefreshToken{}, store.ErrNotFound
	}
	return store.RefreshToken{}, errStateChanged
}
