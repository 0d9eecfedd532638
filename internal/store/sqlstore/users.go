package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

const userColumns = `id, tenant_id, email, email_verified, phone, phone_verified, username, status, profile, created_at, updated_at, status_changed_at, last_auth`

// CreateUser inserts a user; ErrConflict when its email, phone or username is taken.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := db.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.TenantID, nullable(u.Email), u.EmailVerified, nullable(u.Phone), u.PhoneVerified, nullable(u.Username),
		u.Status, profileText(u.Profile), ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.StatusChangeAt), ms(u.LastAuth))
	return err
}

func profileText(p []byte) string {
	if len(p) == 0 {
		return "{}"
	}
	return string(p)
}

func scanUser(s scanner) (store.User, error) {
	var u store.User
	var email, phone, username sql.NullString
	var profile string
	var c, up, sc, la int64
	err := s.Scan(&u.ID, &u.TenantID, &email, &u.EmailVerified, &phone, &u.PhoneVerified, &username, &u.Status, &profile, &c, &up, &sc, &la)
	if errors.Is(err, sql.ErrNoRows) {
		return u, store.ErrNotFound
	}
	if err != nil {
		return u, err
	}
	u.Email, u.Phone, u.Username = email.String, phone.String, username.String
	u.Profile = []byte(profile)
	u.CreatedAt, u.UpdatedAt, u.StatusChangeAt, u.LastAuth = fromMS(c), fromMS(up), fromMS(sc), fromMS(la)
	return u, nil
}

// GetUser returns a user by id.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// GetUserByEmail returns a user by lower-cased email.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// GetUserByPhone returns a user by E.164 phone number.
func (db *DB) GetUserByPhone(ctx context.Context, phone string) (store.User, error) {
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE phone = ?`, phone))
}

// GetUserByUsername returns a user by username.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
}

// UpdateUser replaces a user's stored fields.
func (db *DB) UpdateUser(ctx context.Context, u store.User) error {
	return changedSome(db.exec(ctx, `UPDATE users SET email = ?, email_verified = ?, phone = ?, phone_verified = ?, username = ?,
		status = ?, profile = ?, updated_at = ?, status_changed_at = ? WHERE id = ?`,
		nullable(u.Email), u.EmailVerified, nullable(u.Phone), u.PhoneVerified, nullable(u.Username),
		u.Status, profileText(u.Profile), ms(u.UpdatedAt), ms(u.StatusChangeAt), u.ID))
}

// userDependents lists the tables whose rows belong to a user, deleted with it. Later migrations
// add theirs here.
var userDependents = []string{"codes", "sessions", "recovery_codes", "sso_members", "sso_sessions", "oidc_grants", "passwords"}

// DeleteUser deletes the user and every row that belongs to them, in one transaction.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *txn) error {
		for _, table := range userDependents {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, id); err != nil {
				return fmt.Errorf("delete %s: %w", table, err)
			}
		}
		return changedSome(tx.exec(ctx, `DELETE FROM users WHERE id = ?`, id))
	})
}

func userWhere(q store.UserQuery) (string, []any) {
	var conds []string
	var args []any
	if q.Search != "" {
		like := "%" + escapeLike(strings.ToLower(q.Search)) + "%"
		conds = append(conds, `(email LIKE ? ESCAPE '\' OR phone LIKE ? ESCAPE '\' OR LOWER(username) LIKE ? ESCAPE '\' OR id = ?)`)
		args = append(args, like, like, like, q.Search)
	}
	if q.Prefix != "" {
		like := escapeLike(strings.ToLower(q.Prefix)) + "%"
		conds = append(conds, `(email LIKE ? ESCAPE '\' OR phone LIKE ? ESCAPE '\')`)
		args = append(args, like, like)
	}
	if q.Status != "" {
		conds = append(conds, `status = ?`)
		args = append(args, q.Status)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// GetUserByExternalID finds the oldest user whose profile JSON has external_user_id = id. The
// profile is JSON text with no portable index, so a LIKE on the encoded pair narrows the scan
// (both engines) and the decoded profile decides; it is an operator's lookup, not a login path.
func (db *DB) GetUserByExternalID(ctx context.Context, id string) (store.User, error) {
	enc, err := json.Marshal(id)
	if err != nil {
		return store.User{}, err
	}
	pattern := "%" + escapeLike(`"external_user_id":`+string(enc)) + "%"
	users, err := scanAll(scanUser)(db.query(ctx, `SELECT `+userColumns+` FROM users WHERE profile LIKE ? ESCAPE '\' ORDER BY created_at, id`, pattern))
	if err != nil {
		return store.User{}, err
	}
	for _, u := range users {
		var p struct {
			ExternalUserID *string `json:"external_user_id"`
		}
		if json.Unmarshal(u.Profile, &p) == nil && p.ExternalUserID != nil && *p.ExternalUserID == id {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

var userSortColumns = map[string]string{"": "created_at", "created_at": "created_at", "email": "email", "phone_number": "phone", "last_auth": "last_auth"}

// ListUsers returns one page of users matching q.
func (db *DB) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	where, args := userWhere(q)
	col, ok := userSortColumns[q.SortField]
	if !ok {
		return nil, fmt.Errorf("unknown sort field %q", q.SortField)
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit, q.Offset)
	out, err := scanAll(scanUser)(db.query(ctx, `SELECT `+userColumns+` FROM users`+where+` ORDER BY `+col+` `+dir+`, id `+dir+` LIMIT ? OFFSET ?`, args...))
	if out == nil && err == nil {
		out = []store.User{}
	}
	return out, err
}

// CountUsers counts the users matching q (paging ignored).
func (db *DB) CountUsers(ctx context.Context, q store.UserQuery) (int, error) {
	where, args := userWhere(q)
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM users`+where, args...).Scan(&n)
	return n, err
}

// TouchUserLastAuth records the time of a successful login.
func (db *DB) TouchUserLastAuth(ctx context.Context, id string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE users SET last_auth = ? WHERE id = ?`, ms(at), id)
	return err
}
