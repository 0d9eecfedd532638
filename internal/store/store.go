// Package store owns the persistence interface of Latch: small interfaces grouped by aggregate,
// the row types they carry, and the errors every implementation returns. It knows nothing of
// HTTP or of login rules, and it never holds a plaintext code, token or client secret.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a unique value (email, phone, username, id) is already taken.
var ErrConflict = errors.New("conflict")

// ErrUnstorableText is returned when the database refuses a text value it cannot store (NUL
// bytes or invalid UTF-8 on PostgreSQL): bad input, not a server fault.
var ErrUnstorableText = errors.New("text cannot be stored")

// ErrUnavailable is returned when the database could not be reached or could not take the write
// (a PostgreSQL restart or failover, a refused connection, a full disk, an I/O error): nothing was
// done that the caller may count on, and the same request may succeed a second later.
var ErrUnavailable = errors.New("database unavailable")

// Store is everything Latch persists. Services depend on the small interfaces it embeds.
type Store interface {
	Tenants
	Apps
	Users
	Keys
	Outbox
	Codes
	Sessions
	TOTPs
	RecoveryCodes
	SSO
	Passwords
	// Prune deletes codes, challenges, refresh tokens and sessions expired more than grace before
	// now, finished lockouts, and dev-outbox messages older than outboxAge; it returns how many
	// rows went.
	Prune(ctx context.Context, now time.Time, grace, outboxAge time.Duration) (int64, error)
	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
	// Engine names the database engine: "sqlite" or "postgres".
	Engine() string
}

// Tenants stores the tenant; Latch serves one tenant per database.
type Tenants interface {
	// EnsureTenant returns the tenant, creating it with t's values if none exists.
	EnsureTenant(ctx context.Context, t Tenant) (Tenant, bool, error)
	// SetDefaultApp records appID as the tenant's default application.
	SetDefaultApp(ctx context.Context, tenantID, appID string) error
}

// Apps stores applications and their clients.
type Apps interface {
	// CreateApp creates an application and its first client in one transaction.
	CreateApp(ctx context.Context, a App, c Client) error
	GetApp(ctx context.Context, id string) (App, error)
	GetAppByName(ctx context.Context, name string) (App, error)
	ListApps(ctx context.Context) ([]App, error)
	CreateClient(ctx context.Context, c Client) error
	// GetClient looks a client up by its client_id.
	GetClient(ctx context.Context, clientID string) (Client, error)
	ListClients(ctx context.Context, appID string) ([]Client, error)
	// UpdateApp replaces the stored application (matched by ID) with a if its update time is
	// still prev (the one it was read with): ErrStale when another change came first,
	// ErrNotFound when it does not exist, ErrConflict when its name is taken.
	UpdateApp(ctx context.Context, a App, prev time.Time) error
	// DeleteApp removes the application, its clients, its sessions and their refresh tokens,
	// and every code, lockout, send count, TOTP and recovery code it holds, in one transaction;
	// ErrNotFound when it does not exist.
	DeleteApp(ctx context.Context, id string) error
	// UpdateClient replaces the stored client (matched by ClientID; its app and admin flag never
	// change) with c if its update time is still prev: ErrStale when another change came first,
	// ErrNotFound when it does not exist.
	UpdateClient(ctx context.Context, c Client, prev time.Time) error
	// DeleteClient removes a client; ErrNotFound when it does not exist.
	DeleteClient(ctx context.Context, clientID string) error
}

// Users stores users, unique per tenant by email, phone number and username.
type Users interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	GetUserByPhone(ctx context.Context, phone string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// GetUserByExternalID returns the oldest user whose profile's external_user_id is id.
	GetUserByExternalID(ctx context.Context, id string) (User, error)
	// UpdateUser replaces the stored user with u (matched by ID); ErrConflict when an identifier is taken.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user and everything that belongs to them in one transaction.
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, q UserQuery) ([]User, error)
	CountUsers(ctx context.Context, q UserQuery) (int, error)
	// TouchUserLastAuth records a successful login.
	TouchUserLastAuth(ctx context.Context, id string, at time.Time) error
}

// Keys stores the token signing keys, private parts encrypted.
type Keys interface {
	// AddSigningKey inserts k and marks every older key retired at k.CreatedAt, in one transaction.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
}

// Outbox stores messages "sent" in dev mode.
type Outbox interface {
	AddOutboxMessage(ctx context.Context, m OutboxMessage) error
	// ListOutbox returns messages newest first, only those to `to` when it is not empty.
	ListOutbox(ctx context.Context, to string, limit int) ([]OutboxMessage, error)
}
