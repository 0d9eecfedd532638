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

const appColumns = `id, tenant_id, name, redirect_uris, allow_signup, resources, settings, created_at, description, updated_at`

const clientColumns = `client_id, app_id, secret_hash, admin, created_at, name, description, updated_at, prev_secret_hash, prev_secret_expires_at`

// CreateApp inserts the application and its first client in one transaction.
func (db *DB) CreateApp(ctx context.Context, a store.App, c store.Client) error {
	uris, _ := json.Marshal(nonNil(a.RedirectURIs))
	res, _ := json.Marshal(nonNil(a.Resources))
	return db.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.TenantID, a.Name, string(uris), a.AllowSignup, string(res), string(a.Settings), ms(a.CreatedAt),
			a.Description, ms(a.UpdatedAt)); err != nil {
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
	_, err := tx.exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ClientID, c.AppID, c.SecretHash, c.Admin, ms(c.CreatedAt), c.Name, c.Description, ms(c.UpdatedAt),
		c.PrevSecretHash, ms(c.PrevSecretExpires))
	if err != nil {
		return fmt.Errorf("insert client: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanApp(s scanner) (store.App, error) {
	var a store.App
	var uris, res, settings string
	var at, up int64
	if err := s.Scan(&a.ID, &a.TenantID, &a.Name, &uris, &a.AllowSignup, &res, &settings, &at, &a.Description, &up); err != nil {
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
	a.CreatedAt, a.UpdatedAt = fromMS(at), fromMS(up)
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
	var at, up, prev int64
	if err := s.Scan(&c.ClientID, &c.AppID, &c.SecretHash, &c.Admin, &at, &c.Name, &c.Description, &up, &c.PrevSecretHash, &prev); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, store.ErrNotFound
		}
		return c, err
	}
	c.CreatedAt, c.UpdatedAt, c.PrevSecretExpires = fromMS(at), fromMS(up), fromMS(prev)
	return c, nil
}

// GetClient returns a client by client_id.
func (db *DB) GetClient(ctx context.Context, clientID string) (store.Client, error) {
	return scanClient(db.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE client_id = ?`, clientID))
}

// ListClients returns an application's clients, oldest first.
func (db *DB) ListClients(ctx context.Context, appID string) ([]store.Client, error) {
	return scanAll(scanClient)(db.query(ctx, `SELECT `+clientColumns+` FROM clients WHERE app_id = ? ORDER BY created_at, client_id`, appID))
}

// UpdateApp replaces the stored application's name, description, redirect URIs, sign-up flag,
// resources, settings and update time, if its update time is still prev: one conditional
// UPDATE, so of two concurrent changes read from the same state the second is refused
// (ErrStale) and its caller reads again, and neither is lost.
func (db *DB) UpdateApp(ctx context.Context, a store.App, prev time.Time) error {
	uris, _ := json.Marshal(nonNil(a.RedirectURIs))
	res, _ := json.Marshal(nonNil(a.Resources))
	o := must("update app", store.ErrNotFound,
		`UPDATE apps SET name = ?, description = ?, redirect_uris = ?, allow_signup = ?, resources = ?, settings = ?, updated_at = ? WHERE id = ? AND updated_at = ?`,
		a.Name, a.Description, string(uris), a.AllowSignup, string(res), string(a.Settings), ms(a.UpdatedAt), a.ID, ms(prev))
	o.miss = staleOrGone(`SELECT 1 FROM apps WHERE id = ?`, a.ID)
	return db.write(ctx, o)
}

// staleOrGone tells a refused conditional update's two causes apart: the row changed meanwhile
// (ErrStale), or it does not exist (ErrNotFound).
func staleOrGone(q string, id string) func(context.Context, func(string, ...any) scanner) error {
	return func(ctx context.Context, queryRow func(string, ...any) scanner) error {
		var one int
		if err := queryRow(q, id).Scan(&one); err == nil {
			return store.ErrStale
		}
		return store.ErrNotFound
	}
}

// DeleteApp removes the application and everything it holds in one transaction. Sessions go
// with their refresh tokens, so every user token of the app is refused from the next request.
func (db *DB) DeleteApp(ctx context.Context, id string) error {
	ops := []op{
		exec("delete refresh tokens", `DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE app_id = ?)`, id),
		exec("delete sessions", `DELETE FROM sessions WHERE app_id = ?`, id),
	}
	for _, table := range []string{"codes", "lockouts", "totp_challenges", "totp_authenticators", "recovery_codes", "sends", "send_keys", "app_sends", "clients"} {
		ops = append(ops, exec("delete "+table, `DELETE FROM `+table+` WHERE app_id = ?`, id))
	}
	ops = append(ops, must("delete app", store.ErrNotFound, `DELETE FROM apps WHERE id = ?`, id))
	return db.write(ctx, ops...)
}

// UpdateClient replaces the stored client's name, description, secret hashes and update time if
// its update time is still prev (one conditional UPDATE, as UpdateApp).
func (db *DB) UpdateClient(ctx context.Context, c store.Client, prev time.Time) error {
	o := must("update client", store.ErrNotFound,
		`UPDATE clients SET name = ?, description = ?, secret_hash = ?, prev_secret_hash = ?, prev_secret_expires_at = ?, updated_at = ? WHERE client_id = ? AND updated_at = ?`,
		c.Name, c.Description, c.SecretHash, c.PrevSecretHash, ms(c.PrevSecretExpires), ms(c.UpdatedAt), c.ClientID, ms(prev))
	o.miss = staleOrGone(`SELECT 1 FROM clients WHERE client_id = ?`, c.ClientID)
	return db.write(ctx, o)
}

// DeleteClient removes a client.
func (db *DB) DeleteClient(ctx context.Context, clientID string) error {
	return db.write(ctx, must("delete client", store.ErrNotFound, `DELETE FROM clients WHERE client_id = ?`, clientID))
}
