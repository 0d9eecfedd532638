package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

// ReplaceRecoveryCodes deletes the user's recovery codes in the app and inserts the new set, in
// one transaction.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, appID, userID string, codes []store.RecoveryCode) error {
	ops := []op{exec("delete recovery codes", `DELETE FROM recovery_codes WHERE app_id = ? AND user_id = ?`, appID, userID)}
	for _, c := range codes {
		ops = append(ops, exec("insert recovery code", `INSERT INTO recovery_codes (id, app_id, user_id, code_hash, created_at, used_at)
			VALUES (?, ?, ?, ?, ?, 0)`, c.ID, appID, userID, c.CodeHash, ms(c.CreatedAt)))
	}
	return db.write(ctx, ops...)
}

// DeleteRecoveryCodes deletes the user's recovery codes in the app.
func (db *DB) DeleteRecoveryCodes(ctx context.Context, appID, userID string) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM recovery_codes WHERE app_id = ? AND user_id = ?`, appID, userID)
	if err != nil {
		return 0, fmt.Errorf("delete recovery codes: %w", err)
	}
	n, err := rowsAffected(res)
	return int(n), err
}

// CountRecoveryCodes counts the user's unused recovery codes in the app.
func (db *DB) CountRecoveryCodes(ctx context.Context, appID, userID string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE app_id = ? AND user_id = ? AND used_at = 0`, appID, userID).Scan(&n)
	return n, err
}

// FindRecoveryCode returns a recovery code of the user by its hash, used or not.
func (db *DB) FindRecoveryCode(ctx context.Context, appID, userID, hash string) (store.RecoveryCode, error) {
	c := store.RecoveryCode{AppID: appID, UserID: userID, CodeHash: hash}
	var created, used int64
	err := db.queryRow(ctx, `SELECT id, created_at, used_at FROM recovery_codes WHERE app_id = ? AND user_id = ? AND code_hash = ?`,
		appID, userID, hash).Scan(&c.ID, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RecoveryCode{}, store.ErrNotFound
	}
	if err != nil {
		return store.RecoveryCode{}, fmt.Errorf("find recovery code: %w", err)
	}
	c.CreatedAt, c.UsedAt = fromMS(created), fromMS(used)
	return c, nil
}
