package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latch-auth/latch/internal/store"
)

const appColumns = `id, tenant_id, name, redirect_uris, allow_signup, resources, settings, created_at`

// CreateApp inserts the application and its first client in one transaction.
func (db *DB) CreateApp(ctx context.Context, a store.App, c store.Client) error {
	uris, _ := json.Marshal(nonNil(a.RedirectURIs))
	res, _ := json.Marshal(nonNil(a.Resources))
	return db.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.TenantID, a.Name, string(uris), a.AllowSignup, string(res), string(a.Settings), ms(a.CreatedAt)); err != nil {
			return fmt.Errorf("insert app: %w", err)
		}
		return insertClient(ctx, tx, c)
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func insertClient(ctx context.Context, tx *txn, c store.Client) error {
	_, err := tx.exec(ctx, `INSERT INTO clients (client_id, app_id, secret_hash, admin, created_at) VALUES (?, ?, ?, ?, ?)`,
		c.ClientID, c.AppID, c.SecretHash, c.Admin, ms(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert client: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanApp(s scanner) (store.App, error) {
	var a store.App
	var uris, res, settings string
	var at int64
	if err := s.Scan(&a.ID, &a.TenantID, &a.Name, &uris, &a.AllowSignup, &res, &settings, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a, store.ErrNotFound
		}
		return a, err
	}
	if err := json.Unmarshal([]byte(uris), &a.RedirectURIs); err != nil {
		return a, fmt.Errorf("app %s redirect uris: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(res), &a.Resources); err != nil {
		return a, fmt.Errorf("app %s resources: %w", a.ID, err)
	}
	a.Settings = []byte(settings)
	a.CreatedAt = fromMS(at)
	return a, nil
}

// GetApp returns an application by id.
func (db *DB) GetApp(ctx context.Context, id string) (store.App, error) {
	return scanApp(db.queryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
}

// GetAppByName returns an application by its unique name.
func (db *DB) GetAppByName(ctx context.Context, name string) (store.App, error) {
	return scanApp(db.queryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE name = ?`, name))
}

// ListApps returns every application, oldest first.
func (db *DB) ListApps(ctx context.Context) ([]store.App, error) {
	return scanAll(scanApp)(db.query(ctx, `SELECT `+appColumns+` FROM apps ORDER BY created_at, id`))
}

// CreateClient adds a client to an existing application.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	return db.tx(ctx, func(tx *txn) error {
		var one int
		if err := tx.queryRow(ctx, `SELECT 1 FROM apps WHERE id = ?`, c.AppID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		return insertClient(ctx, tx, c)
	})
}

func scanClient(s scanner) (store.Client, error) {
	var c store.Client
	var at int64
	if err := s.Scan(&c.ClientID, &c.AppID, &c.SecretHash, &c.Admin, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, store.ErrNotFound
		}
		return c, err
	}
	c.CreatedAt = fromMS(at)
	return c, nil
}

// GetClient returns a client by client_id.
func (db *DB) GetClient(ctx context.Context, clientID string) (store.Client, error) {
	return scanClient(db.queryRow(ctx, `SELECT client_id, app_id, secret_hash, admin, created_at FROM clients WHERE client_id = ?`, clientID))
}

// ListClients returns an application's clients, oldest first.
func (db *DB) ListClients(ctx context.Context, appID string) ([]store.Client, error) {
	return scanAll(scanClient)(db.query(ctx, `SELECT client_id, app_id, secret_hash, admin, created_at FROM clients WHERE app_id = ? ORDER BY created_at, client_id`, appID))
}
