package sqlstore

import (
	"context"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

// AddSigningKey inserts k and retires every key still signing, in one transaction.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	return db.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at = 0`, ms(k.CreatedAt)); err != nil {
			return fmt.Errorf("retire keys: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, retired_at) VALUES (?, ?, ?, ?, 0)`,
			k.KID, k.Alg, k.Private, ms(k.CreatedAt)); err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		return nil
	})
}

// ListSigningKeys returns every key, newest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return scanAll(func(s scanner) (store.SigningKey, error) {
		var k store.SigningKey
		var c, r int64
		err := s.Scan(&k.KID, &k.Alg, &k.Private, &c, &r)
		k.CreatedAt, k.RetiredAt = fromMS(c), fromMS(r)
		return k, err
	})(db.query(ctx, `SELECT kid, alg, private, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid`))
}
