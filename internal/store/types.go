package store

import "time"

// Tenant is the one tenant of a Latch database.
type Tenant struct {
	ID        string
	CreatedAt time.Time
	// DefaultAppID is the application the first start created ("" until then).
	DefaultAppID string
}

// App is an application: its settings are JSON owned by package app.
type App struct {
	ID           string
	TenantID     string
	Name         string
	RedirectURIs []string
	AllowSignup  bool
	Resources    []string
	Settings     []byte // JSON of app.Settings
	Description  string
	CreatedAt    time.Time
	UpdatedAt    time.Time // zero until the first change
}

// Client is a set of credentials of an application; only the keyed hash of its secret is stored.
type Client struct {
	ClientID   string
	AppID      string
	SecretHash string
	Admin      bool
	CreatedAt  time.Time

	Name        string
	Description string
	UpdatedAt   time.Time // zero until the first change
	// PrevSecretHash is the hash of the secret a rotation replaced; it authenticates the client
	// until PrevSecretExpires (a grace period), and never when that is zero.
	PrevSecretHash    string
	PrevSecretExpires time.Time
}

// User is a user in the shape of Mosaic's ApiUser. Email is stored lower-cased.
type User struct {
	ID             string
	TenantID       string
	Email          string // "" when none
	EmailVerified  bool
	Phone          string // E.164, "" when none
	PhoneVerified  bool
	Username       string // "" when none
	Status         string // Active, Disabled, Pending
	Profile        []byte // JSON: name, birthday, picture, language, custom_data, ...
	CreatedAt      time.Time
	UpdatedAt      time.Time
	StatusChangeAt time.Time
	LastAuth       time.Time // zero when never
}

// UserQuery filters and pages a user listing.
type UserQuery struct {
	Search    string // case-insensitive substring of email, phone or username
	Prefix    string // prefix of email or phone
	Status    string
	Offset    int
	Limit     int
	SortField string // created_at (default), email, phone_number, last_auth
	Desc      bool
}

// SigningKey is one JWT signing key; Private is sealed with the encryption key.
type SigningKey struct {
	KID       string
	Alg       string
	Private   string // sealed PKCS#8 DER
	CreatedAt time.Time
	RetiredAt time.Time // zero while it is the signing key
}

// OutboxMessage is one message kept by the dev outbox.
type OutboxMessage struct {
	ID        string
	Channel   string
	To        string
	Subject   string
	Text      string
	HTML      string
	CreatedAt time.Time
}
