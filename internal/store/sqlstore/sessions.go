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

// SaveLogin writes the session, its refresh token and the user's last_auth in one transaction.
func (db *DB) SaveLogin(ctx context.Context, s store.Session, isNew bool, rt store.RefreshToken, guard store.LoginGuard) error {
	amr, err := json.Marshal(s.AMR)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *txn) error {
		if err := useGuard(ctx, tx, guard); err != nil {
			return err
		}
		if isNew {
			if _, err := tx.exec(ctx, `INSERT INTO sessions (id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`, s.ID, s.AppID, s.UserID, s.ClientID, string(amr), ms(s.AuthTime), ms(s.CreatedAt), ms(s.ExpiresAt)); err != nil {
				return fmt.Errorf("insert session: %w", err)
			}
		} else {
			prev, err := json.Marshal(s.PrevAMR)
			if err != nil {
				return err
			}
			res, err := tx.exec(ctx, `UPDATE sessions SET amr = ?, auth_time = ?, expires_at = ? WHERE id = ? AND ended_at = 0 AND amr = ?`,
				string(amr), ms(s.AuthTime), ms(s.ExpiresAt), s.ID, string(prev))
			if err != nil {
				return fmt.Errorf("update session: %w", err)
			}
			if n, err := rowsAffected(res); err != nil || n == 0 {
				// Gone, ended, or joined by another login meanwhile: tell which.
				var ended int64
				switch qerr := tx.queryRow(ctx, `SELECT ended_at FROM sessions WHERE id = ?`, s.ID).Scan(&ended); {
				case qerr == nil && ended == 0:
					return store.ErrStale
				default:
					return errors.Join(store.ErrNotFound, err)
				}
			}
		}
		if rt.Hash != "" {
			if err := insertRefresh(ctx, tx, rt); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `UPDATE users SET last_auth = ? WHERE id = ?`, ms(s.AuthTime), s.UserID); err != nil {
			return fmt.Errorf("touch user: %w", err)
		}
		return nil
	})
}

// useGuard runs the guard's conditional UPDATEs; each must change exactly one row.
func useGuard(ctx context.Context, tx *txn, g store.LoginGuard) error {
	now := ms(g.Now)
	one := func(sentinel error, q string, args ...any) error {
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n != 1 {
			return errors.Join(sentinel, err)
		}
		return nil
	}
	if g.CodeID != "" {
		if err := one(store.ErrUsed, `UPDATE codes SET used_at = ?
			WHERE id = ? AND used_at = 0 AND expires_at > ? AND attempts < max_attempts`, now, g.CodeID, now); err != nil {
			return err
		}
	}
	if g.ChallengeID != "" {
		if err := one(store.ErrChallengeGone, `UPDATE totp_challenges SET used_at = ? WHERE id = ? AND used_at = 0 AND expires_at > ?`,
			now, g.ChallengeID, now); err != nil {
			return err
		}
	}
	if g.TOTPID != "" {
		if err := one(store.ErrUsed, acceptStep, g.TOTPStep, now, g.TOTPID, g.TOTPStep); err != nil {
			return err
		}
	}
	if l := g.Lockout; l != nil {
		var failures int
		var windowStart, lockedUntil int64
		err := tx.queryRow(ctx, `SELECT failures, window_start, locked_until FROM lockouts
			WHERE app_id = ? AND method = ? AND identifier = ?`+tx.d.forUpdate, l.AppID, l.Method, l.Identifier).
			Scan(&failures, &windowStart, &lockedUntil)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lockout: %w", err)
		}
		if lockedUntil > now || (windowStart > now-l.Window.Milliseconds() && failures >= l.Max) {
			return store.ErrLocked
		}
		if _, err := tx.exec(ctx, `DELETE FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?`,
			l.AppID, l.Method, l.Identifier); err != nil {
			return fmt.Errorf("clear failures: %w", err)
		}
	}
	return nil
}

func insertRefresh(ctx context.Context, tx *txn, rt store.RefreshToken) error {
	_, err := tx.exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, client_id, payload, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, 0)`, rt.Hash, rt.SessionID, rt.ClientID, string(rt.Payload), ms(rt.CreatedAt), ms(rt.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

const sessionColumns = `id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at`

func scanSession(s scanner) (store.Session, error) {
	var out store.Session
	var amr string
	var auth, created, expires, ended int64
	err := s.Scan(&out.ID, &out.AppID, &out.UserID, &out.ClientID, &amr, &auth, &created, &expires, &ended)
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
	res, err := db.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0 AND expires_at > ?`, ms(now), id, ms(now))
	if err != nil {
		return err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
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

// RotateRefreshToken marks old used and inserts next in one transaction. The conditional UPDATE
// decides the race: of two concurrent rotations of one token exactly one succeeds. A token that
// was already rotated ends its session (reuse detection). next without a payload inherits old's,
// so what a refresh token renews survives any number of rotations.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) (store.RefreshToken, store.Session, error) {
	var old store.RefreshToken
	var sess store.Session
	reused := false
	err := db.tx(ctx, func(tx *txn) error {
		var payload string
		var created, expires, used int64
		err := tx.queryRow(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND client_id = ? AND used_at = 0 AND expires_at > ?
			RETURNING token_hash, session_id, client_id, payload, created_at, expires_at, used_at`, ms(now), oldHash, next.ClientID, ms(now)).
			Scan(&old.Hash, &old.SessionID, &old.ClientID, &payload, &created, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			var sid string
			var usedAt int64
			err := tx.queryRow(ctx, `SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = ? AND client_id = ?`, oldHash, next.ClientID).Scan(&sid, &usedAt)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			if usedAt == 0 { // expired, not reused
				return store.ErrNotFound
			}
			reused = true
			if _, err := tx.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0`, ms(now), sid); err != nil {
				return err
			}
			return nil // commit the revocation
		}
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		old.Payload, old.CreatedAt, old.ExpiresAt, old.UsedAt = []byte(payload), fromMS(created), fromMS(expires), fromMS(used)
		sess, err = scanSession(tx.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ? AND ended_at = 0 AND expires_at > ?`,
			old.SessionID, ms(now)))
		if err != nil {
			return err // ErrNotFound: the session ended; the rollback keeps the token as it was
		}
		var status string
		if err := tx.queryRow(ctx, `SELECT status FROM users WHERE id = ?`, sess.UserID).Scan(&status); err != nil {
			return fmt.Errorf("session user: %w", err)
		}
		if status != store.UserActive {
			return store.ErrUserNotActive // the rollback keeps the token as it was
		}
		if next.ExpiresAt.After(sess.ExpiresAt) { // sliding: the session lives as long as its newest refresh token
			sess.ExpiresAt = next.ExpiresAt
		}
		if _, err := tx.exec(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, ms(sess.ExpiresAt), sess.ID); err != nil {
			return err
		}
		next.SessionID = old.SessionID
		if next.Payload == nil { // the new token renews what the old one did (resource, claims, nonce)
			next.Payload = old.Payload
		}
		return insertRefresh(ctx, tx, next)
	})
	if err != nil {
		return store.RefreshToken{}, store.Session{}, err
	}
	if reused {
		return store.RefreshToken{}, store.Session{}, store.ErrReused
	}
	return old, sess, nil
}
