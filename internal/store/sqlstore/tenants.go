package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

// EnsureTenant returns the tenant, creating it when the database has none.
func (db *DB) EnsureTenant(ctx context.Context, t store.Tenant) (store.Tenant, bool, error) {
	var out store.Tenant
	created := false
	err := db.tx(ctx, func(tx *txn) error {
		var id, def string
		var at int64
		err := tx.queryRow(ctx, `SELECT id, created_at, default_app_id FROM tenants ORDER BY created_at LIMIT 1`).Scan(&id, &at, &def)
		if err == nil {
			out = store.Tenant{ID: id, CreatedAt: fromMS(at), DefaultAppID: def}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO tenants (id, created_at) VALUES (?, ?)`, t.ID, ms(t.CreatedAt)); err != nil {
			return err
		}
		out, created = t, true
		return nil
	})
	if err != nil {
		return store.Tenant{}, false, fmt.Errorf("ensure tenant: %w", err)
	}
	return out, created, nil
}

// SetDefaultApp records the tenant's default application.
func (db *DB) SetDefaultApp(ctx context.Context, tenantID, appID string) error {
	return changedSome(db.exec(ctx, `UPDATE tenants SET default_app_id = ? WHERE id = ?`, appID, tenantID))
}
