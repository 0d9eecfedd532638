package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

const totpColumns = `id, app_id, user_id, name, device_id, secret, algorithm, digits, period, last_step, created_at, activated_at, last_used_at, revoked_at`

func scanTOTP(s scanner) (store.TOTPAuthenticator, error) {
	var a store.TOTPAuthenticator
	var created, activated, used, revoked int64
	err := s.Scan(&a.ID, &a.AppID, &a.UserID, &a.Name, &a.DeviceID, &a.Secret, &a.Algorithm, &a.Digits, &a.Period,
		&a.LastStep, &created, &activated, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return a, store.ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.CreatedAt, a.ActivatedAt, a.LastUsedAt, a.RevokedAt = fromMS(created), fromMS(activated), fromMS(used), fromMS(revoked)
	return a, nil
}

// lockUser serializes transactions that count a user's authenticators or challenges (SQLite:
// the single writer already does; PostgreSQL: the user's row, locked until the transaction
// ends — a row lock, which CockroachDB and YugabyteDB keep as PostgreSQL does).
func (db *DB) lockUser(ctx context.Context, tx *txn, userID string) error {
	if !db.dialect.rowLocks {
		return nil
	}
	if _, err := tx.exec(ctx, `SELECT 1 FROM users WHERE id = ? FOR UPDATE`, userID); err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	return nil
}

func countActiveTOTPs(ctx context.Context, tx *txn, appID, userID string) (int, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM totp_authenticators
		WHERE app_id = ? AND user_id = ? AND revoked_at = 0 AND activated_at > 0`, appID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count authenticators: %w", err)
	}
	return n, nil
}

// AddTOTP checks the limit (or replaces the active authenticators) and inserts a, in one
// transaction serialized per (app, user).
func (db *DB) AddTOTP(ctx context.Context, a store.TOTPAuthenticator, l store.TOTPLimit) (int, error) {
	replaced := 0
	err := db.tx(ctx, func(tx *txn) error {
		replaced = 0
		if err := db.lockUser(ctx, tx, a.UserID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM totp_authenticators
			WHERE app_id = ? AND user_id = ? AND activated_at = 0 AND revoked_at = 0 AND created_at < ?`,
			a.AppID, a.UserID, ms(l.PendingSince)); err != nil {
			return fmt.Errorf("prune pending authenticators: %w", err)
		}
		if l.Replace && !a.ActivatedAt.IsZero() {
			res, err := tx.exec(ctx, `UPDATE totp_authenticators SET revoked_at = ?
				WHERE app_id = ? AND user_id = ? AND revoked_at = 0 AND activated_at > 0`, ms(a.CreatedAt), a.AppID, a.UserID)
			if err != nil {
				return fmt.Errorf("replace authenticators: %w", err)
			}
			n, err := rowsAffected(res)
			if err != nil {
				return err
			}
			replaced = int(n)
		}
		if l.Max > 0 {
			n, err := countActiveTOTPs(ctx, tx, a.AppID, a.UserID)
			if err != nil {
				return err
			}
			if n >= l.Max {
				return store.ErrLimit
			}
		}
		_, err := tx.exec(ctx, `INSERT INTO totp_authenticators (`+totpColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
			a.ID, a.AppID, a.UserID, a.Name, a.DeviceID, a.Secret, a.Algorithm, a.Digits, a.Period, a.LastStep,
			ms(a.CreatedAt), ms(a.ActivatedAt), ms(a.LastUsedAt))
		if err != nil {
			return fmt.Errorf("insert authenticator: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return replaced, nil
}

// GetTOTP returns an authenticator by id.
func (db *DB) GetTOTP(ctx context.Context, id string) (store.TOTPAuthenticator, error) {
	return scanTOTP(db.queryRow(ctx, `SELECT `+totpColumns+` FROM totp_authenticators WHERE id = ?`, id))
}

// ListTOTPs returns a user's unrevoked authenticators in an app, oldest first.
func (db *DB) ListTOTPs(ctx context.Context, appID, userID string) ([]store.TOTPAuthenticator, error) {
	list, err := scanAll(scanTOTP)(db.query(ctx, `SELECT `+totpColumns+` FROM totp_authenticators
		WHERE app_id = ? AND user_id = ? AND revoked_at = 0 ORDER BY created_at, id`, appID, userID))
	if err != nil {
		return nil, fmt.Errorf("list authenticators: %w", err)
	}
	return list, nil
}

// userLoginTOTPsQueries join a user (found by each column, as userLatestCodeQueries) to their
// unrevoked authenticators, oldest first, and the failure state of ? || u.id; a user without
// authenticators is one row whose authenticator columns are NULL, read as zero values.
func userLoginTOTPsQueries(d dialect) map[store.UserBy]string {
	return userByQueries(userLoginTOTPsSelect + `
	FROM users u
	` + d.joinAll("totp_authenticators", "t", prefixed("t.", totpColumns), "t.app_id = ? AND t.user_id = u.id AND t.revoked_at = 0") + `
	` + d.joinOne("lockouts", "l", "l.failures, l.locked_until", "l.app_id = ? AND l.method = ? AND l.identifier = ? || u.id", "") + `
	WHERE u.%s = ? ORDER BY t.created_at, t.id`)
}

var userLoginTOTPsSelect = `SELECT ` + prefixed("u.", userColumns) + `,
		COALESCE(t.id, ''), COALESCE(t.app_id, ''), COALESCE(t.user_id, ''), COALESCE(t.name, ''), COALESCE(t.device_id, ''),
		COALESCE(t.secret, ''), COALESCE(t.algorithm, ''), COALESCE(t.digits, 0), COALESCE(t.period, 0), COALESCE(t.last_step, 0),
		COALESCE(t.created_at, 0), COALESCE(t.activated_at, 0), COALESCE(t.last_used_at, 0), COALESCE(t.revoked_at, 0),
		COALESCE(l.failures, 0), COALESCE(l.locked_until, 0)`

// UserLoginTOTPs is the user found by `by`, their unrevoked authenticators and the failure state
// of keyPrefix+user.ID, in one read.
func (db *DB) UserLoginTOTPs(ctx context.Context, by store.UserBy, value, appID, method, keyPrefix string) (store.User, []store.TOTPAuthenticator, store.Lockout, error) {
	var u store.User
	var l store.Lockout
	q, ok := db.queries.userLoginTOTPs[by]
	if !ok {
		return u, nil, l, fmt.Errorf("find user by %q: unknown column", by)
	}
	rows, err := db.query(ctx, q, appID, appID, method, keyPrefix, value)
	if err != nil {
		return u, nil, l, fmt.Errorf("user and authenticators: %w", err)
	}
	defer rows.Close()
	var list []store.TOTPAuthenticator
	var until int64
	found := false
	for rows.Next() {
		var a store.TOTPAuthenticator
		var err error
		u, err = scanUserAnd(rows, func(s scanner) (err error) { a, err = scanTOTP(s); return err }, &l.Failures, &until)
		if err != nil {
			return store.User{}, nil, store.Lockout{}, err
		}
		found = true
		if a.ID != "" {
			list = append(list, a)
		}
	}
	if err := rows.Err(); err != nil {
		return store.User{}, nil, store.Lockout{}, fmt.Errorf("user and authenticators: %w", err)
	}
	if !found {
		return store.User{}, nil, store.Lockout{}, store.ErrNotFound
	}
	l.LockedUntil = fromMS(until)
	return u, list, l, nil
}

// ActivateTOTP makes a live pending authenticator active under the limit, in one transaction.
func (db *DB) ActivateTOTP(ctx context.Context, id string, step int64, now time.Time, l store.TOTPLimit) error {
	return db.tx(ctx, func(tx *txn) error {
		var appID, userID string
		err := tx.queryRow(ctx, `SELECT app_id, user_id FROM totp_authenticators
			WHERE id = ? AND activated_at = 0 AND revoked_at = 0 AND created_at >= ?`, id, ms(l.PendingSince)).Scan(&appID, &userID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("get pending authenticator: %w", err)
		}
		if err := db.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		if l.Max > 0 {
			n, err := countActiveTOTPs(ctx, tx, appID, userID)
			if err != nil {
				return err
			}
			if n >= l.Max {
				return store.ErrLimit
			}
		}
		// Conditional again: a concurrent activation or revoke may have won while we waited
		// for the lock.
		res, err := tx.exec(ctx, `UPDATE totp_authenticators SET activated_at = ?, last_step = ?, last_used_at = ?
			WHERE id = ? AND activated_at = 0 AND revoked_at = 0`, ms(now), step, ms(now), id)
		if err != nil {
			return fmt.Errorf("activate authenticator: %w", err)
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return errors.Join(store.ErrNotFound, err)
		}
		return nil
	})
}

// RevokeTOTPs revokes a user's live authenticators in an app (or one of them) in one UPDATE.
func (db *DB) RevokeTOTPs(ctx context.Context, appID, userID, id string, now, pendingSince time.Time) (int, error) {
	q := `UPDATE totp_authenticators SET revoked_at = ?
		WHERE app_id = ? AND user_id = ? AND revoked_at = 0 AND (activated_at > 0 OR created_at >= ?)`
	args := []any{ms(now), appID, userID, ms(pendingSince)}
	if id != "" {
		q += ` AND id = ?`
		args = append(args, id)
	}
	res, err := db.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke authenticators: %w", err)
	}
	n, err := rowsAffected(res)
	return int(n), err
}

const challengeColumns = `id, app_id, user_id, challenge_hash, approval_data, created_at, expires_at, used_at`

// AddTOTPChallenge deletes the user's dead challenges in the app and inserts c after the user's
// last one, in one transaction serialized per (app, user).
func (db *DB) AddTOTPChallenge(ctx context.Context, c store.TOTPChallenge) error {
	return db.tx(ctx, func(tx *txn) error {
		if err := db.lockUser(ctx, tx, c.UserID); err != nil {
			return err
		}
		var seq int64
		if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM totp_challenges WHERE app_id = ? AND user_id = ?`,
			c.AppID, c.UserID).Scan(&seq); err != nil {
			return fmt.Errorf("challenge sequence: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM totp_challenges WHERE app_id = ? AND user_id = ? AND (used_at > 0 OR expires_at <= ?)`,
			c.AppID, c.UserID, ms(c.CreatedAt)); err != nil {
			return fmt.Errorf("prune challenges: %w", err)
		}
		data := string(c.ApprovalData)
		if data == "" {
			data = "{}"
		}
		if _, err := tx.exec(ctx, `INSERT INTO totp_challenges (seq, `+challengeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
			seq, c.ID, c.AppID, c.UserID, c.ChallengeHash, data, ms(c.CreatedAt), ms(c.ExpiresAt)); err != nil {
			return fmt.Errorf("insert challenge: %w", err)
		}
		return nil
	})
}

// LiveTOTPChallenge returns the newest live challenge of a user (with hash, when given).
func (db *DB) LiveTOTPChallenge(ctx context.Context, appID, userID, hash string, now time.Time) (store.TOTPChallenge, error) {
	q := `SELECT ` + challengeColumns + ` FROM totp_challenges
		WHERE app_id = ? AND user_id = ? AND used_at = 0 AND expires_at > ?`
	args := []any{appID, userID, ms(now)}
	if hash != "" {
		q += ` AND challenge_hash = ?`
		args = append(args, hash)
	}
	q += ` ORDER BY seq DESC LIMIT 1`
	var c store.TOTPChallenge
	var data string
	var created, expires, used int64
	err := db.queryRow(ctx, q, args...).Scan(&c.ID, &c.AppID, &c.UserID, &c.ChallengeHash, &data, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("live challenge: %w", err)
	}
	c.ApprovalData = []byte(data)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return c, nil
}
