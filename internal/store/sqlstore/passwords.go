package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

const passwordColumns = `user_id, hash, temporary, created_at, updated_at, expires_at`

func scanPassword(s scanner) (store.PasswordCredential, error) {
	var c store.PasswordCredential
	var created, updated, expires int64
	err := s.Scan(&c.UserID, &c.Hash, &c.Temporary, &created, &updated, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt = fromMS(created), fromMS(updated), fromMS(expires)
	return c, err
}

// GetPassword returns a user's password credential.
func (db *DB) GetPassword(ctx context.Context, userID string) (store.PasswordCredential, error) {
	return scanPassword(db.queryRow(ctx, `SELECT `+passwordColumns+` FROM passwords WHERE user_id = ?`, userID))
}

// userPasswordQueries are the login reads of a password: the user by a column, their password
// and their failure state, each table sought by its primary key (joined per user row,
// dialect.joinOne, so that each seek names the user whatever the plan).
func userPasswordQueries(d dialect) map[store.UserBy]string {
	return userByQueries(`SELECT ` + prefixed("u.", userColumns) + `,
		COALESCE(p.user_id, ''), COALESCE(p.hash, ''), COALESCE(p.temporary, FALSE), COALESCE(p.created_at, 0),
		COALESCE(p.updated_at, 0), COALESCE(p.expires_at, 0), COALESCE(l.failures, 0), COALESCE(l.locked_until, 0)
	FROM users u
	` + d.joinOne("passwords", "p", prefixed("p.", passwordColumns), "p.user_id = u.id", "") + `
	` + d.joinOne("lockouts", "l", "l.failures, l.locked_until", "l.app_id = ? AND l.method = ? AND l.identifier = ? || u.id", "") + `
	WHERE u.%s = ?`)
}

// UserPassword is the user found by `by`, their password and their failure state, in one read.
func (db *DB) UserPassword(ctx context.Context, by store.UserBy, value, appID, method, keyPrefix string) (store.User, store.PasswordCredential, store.Lockout, error) {
	q, ok := db.queries.userPassword[by]
	if !ok {
		return store.User{}, store.PasswordCredential{}, store.Lockout{}, fmt.Errorf("find user by %q: unknown column", by)
	}
	var c store.PasswordCredential
	var l store.Lockout
	var until int64
	u, err := scanUserAnd(db.queryRow(ctx, q, appID, method, keyPrefix, value),
		func(s scanner) (err error) { c, err = scanPassword(s); return err }, &l.Failures, &until)
	if err != nil {
		return store.User{}, store.PasswordCredential{}, store.Lockout{}, err
	}
	if c.UserID == "" {
		c = store.PasswordCredential{}
	}
	l.LockedUntil = fromMS(until)
	return u, c, l, nil
}

func insertPasswordOp(c store.PasswordCredential) op {
	return exec("insert password", `INSERT INTO passwords (`+passwordColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.UserID, c.Hash, c.Temporary, ms(c.CreatedAt), ms(c.UpdatedAt), ms(c.ExpiresAt))
}

// CreateUserWithPassword inserts a user and their password in one transaction.
func (db *DB) CreateUserWithPassword(ctx context.Context, u store.User, c store.PasswordCredential) error {
	return db.write(ctx,
		exec("insert user", `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.TenantID, nullable(u.Email), u.EmailVerified, nullable(u.Phone), u.PhoneVerified, nullable(u.Username),
			u.Status, profileText(u.Profile), ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.StatusChangeAt), ms(u.LastAuth)),
		insertPasswordOp(c))
}

// SavePassword writes a password as w.Mode allows, with what uses use up, the user's new username
// and the ending of the user's sessions, in one transaction.
func (db *DB) SavePassword(ctx context.Context, c store.PasswordCredential, w store.PasswordWrite, uses ...store.Use) error {
	ops := make([]op, 0, len(uses)+3)
	now := c.UpdatedAt
	for _, u := range uses {
		o, err := useOp(u, now)
		if err != nil {
			return err
		}
		ops = append(ops, o)
	}
	update := `UPDATE passwords SET hash = ?, temporary = ?, updated_at = ?, expires_at = ? WHERE user_id = ?`
	args := []any{c.Hash, c.Temporary, ms(c.UpdatedAt), ms(c.ExpiresAt), c.UserID}
	if w.Username != "" {
		ops = append(ops, must("set username", store.ErrNotFound, `UPDATE users SET username = ?, updated_at = ? WHERE id = ?`,
			w.Username, ms(c.UpdatedAt), c.UserID))
	}
	switch w.Mode {
	case store.PasswordAdd:
		o := insertPasswordOp(c)
		o.what = "add password"
		ops = append(ops, o)
	case store.PasswordReplace:
		ops = append(ops, must("replace password", store.ErrNotFound, update, args...))
	case store.PasswordSet:
		ops = append(ops, exec("set password", `INSERT INTO passwords (`+passwordColumns+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, temporary = excluded.temporary,
			updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
			c.UserID, c.Hash, c.Temporary, ms(c.CreatedAt), ms(c.UpdatedAt), ms(c.ExpiresAt)))
	default:
		return fmt.Errorf("save password: unknown mode %d", w.Mode)
	}
	if !w.EndSessions.IsZero() {
		n := ms(w.EndSessions)
		ops = append(ops, exec("end sessions", `UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at = 0 AND expires_at > ?`, n, c.UserID, n))
	}
	return db.write(ctx, ops...)
}
