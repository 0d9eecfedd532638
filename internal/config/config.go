// Package config owns Latch's configuration: one struct with defaults, read from flags with
// LATCH_* environment fallbacks, validated once, and printable without secrets.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/latch-auth/latch/internal/secret"
)

// Config is everything `latch` reads from flags and environment.
type Config struct {
	Addr string
	// AppName names the default application the first start creates ("" : the host name).
	AppName       string
	DataDir       string
	Database      string // "sqlite" or a postgres:// URL
	Issuer        string
	EncryptionKey secret.Value
	Prod          bool
	ForceDev      bool // --dev: dev mode on a non-loopback address too
	LogLevel      string
	SQLiteFull    bool   // synchronous=FULL
	SigningAlg    string // ES256 (serve's default), RS256 or EdDSA; "" keeps the current keys' algorithm
	Pprof         string
	MaxInFlight   int // requests served at once; more are shed with a 503 (0: no limit)

	SMTP    SMTP
	Twilio  Twilio
	Webhook Webhook
}

// SMTP configures email delivery.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password secret.Value
	From     string
	TLS      string // starttls, tls, none
}

// Twilio configures SMS delivery through Twilio's REST API.
type Twilio struct {
	AccountSID          string
	AuthToken           secret.Value
	From                string
	MessagingServiceSID string
}

// Webhook configures SMS delivery through a signed HTTPS webhook.
type Webhook struct {
	URL    string
	Secret secret.Value
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envBool(name string) bool {
	v := strings.ToLower(os.Getenv(name))
	return v == "1" || v == "true" || v == "yes"
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// secretFlag is a pflag.Value holding a secret, so flag defaults and help never print it.
type secretFlag struct{ v *secret.Value }

func (f secretFlag) String() string {
	if f.v == nil || *f.v == "" {
		return ""
	}
	return "[redacted]"
}
func (f secretFlag) Set(s string) error { *f.v = secret.Value(s); return nil }
func (f secretFlag) Type() string       { return "string" }

// shownFlag is a string flag that shows its value (as default in --help) through show, so a
// value taken from the environment — a database URL with a password, a webhook URL with a token
// in it — is never printed whole.
type shownFlag struct {
	v    *string
	show func(string) string
}

func (f shownFlag) String() string {
	if f.v == nil {
		return ""
	}
	return f.show(*f.v)
}
func (f shownFlag) Set(s string) error { *f.v = s; return nil }
func (f shownFlag) Type() string       { return "string" }

// RedactDatabase shows a database setting without its password (in the userinfo or the query).
func RedactDatabase(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// redactURL shows only a URL's scheme and host.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if raw == "" {
			return ""
		}
		return "[redacted]"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// DefaultMaxInFlight is --max-in-flight's default: above what a busy deployment keeps in flight
// (the documented benchmark, `latch bench --concurrency 64`, keeps 64 logins going plus its own
// setup, and must not be shed: at 64 it was, since a new login is shed from 3/4 of the limit),
// few enough that overload is answered with fast 503s rather than a queue. Measured open loop
// (docs/performance.md, "Open-loop latency, overload and outages"): under 2x overload SQLite
// TOTP kept 74% of its maximum as goodput at 256, 86% at 128 and 89% at 64, with the answers'
// p99 at 669, 195 and 130 ms.
const DefaultMaxInFlight = 128

// BindStorage registers the flags every command that opens the database needs.
func (c *Config) BindStorage(fs *pflag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", env("LATCH_DATA_DIR", "./latch-data"), "data directory: SQLite database and dev-mode key file (LATCH_DATA_DIR)")
	c.Database = env("LATCH_DATABASE", "sqlite")
	fs.Var(shownFlag{&c.Database, RedactDatabase}, "database", "database: sqlite, or a postgres:// URL (LATCH_DATABASE)")
	c.EncryptionKey = secret.Value(os.Getenv("LATCH_ENCRYPTION_KEY"))
	fs.Var(secretFlag{&c.EncryptionKey}, "encryption-key", "32-byte key for secrets at rest, hex or base64 (LATCH_ENCRYPTION_KEY); dev mode generates one in the data dir")
	fs.BoolVar(&c.Prod, "prod", envBool("LATCH_PROD"), "production mode: no dev outbox or demo, encryption key and a delivery provider required (LATCH_PROD=1)")
	fs.BoolVar(&c.SQLiteFull, "sqlite-synchronous-full", envBool("LATCH_SQLITE_SYNCHRONOUS_FULL"), "SQLite synchronous=FULL: survive power loss at some write cost (LATCH_SQLITE_SYNCHRONOUS_FULL)")
}

// BindServe registers the flags of `latch serve`.
func (c *Config) BindServe(fs *pflag.FlagSet) {
	c.BindStorage(fs)
	fs.StringVar(&c.SigningAlg, "signing-alg", env("LATCH_SIGNING_ALG", "ES256"), "token signing algorithm: ES256, RS256 or EdDSA; a change rotates the signing key at start (LATCH_SIGNING_ALG)")
	fs.StringVar(&c.Addr, "addr", env("LATCH_ADDR", "127.0.0.1:8080"), "listen address (LATCH_ADDR)")
	fs.StringVar(&c.Issuer, "issuer", env("LATCH_ISSUER", ""), "token issuer URL, shared by all nodes (LATCH_ISSUER; default http://<addr>)")
	fs.StringVar(&c.AppName, "app-name", env("LATCH_APP_NAME", ""), "name of the application the first start creates, shown in emails, SMS and authenticator apps (LATCH_APP_NAME; default: this host's name); rename it later with latch app update --name")
	fs.StringVar(&c.LogLevel, "log-level", env("LATCH_LOG_LEVEL", "info"), "log level: debug, info, warn, error (LATCH_LOG_LEVEL)")
	fs.BoolVar(&c.ForceDev, "dev", envBool("LATCH_DEV"), "serve dev mode (dev outbox and demo) on a non-loopback --addr too, with a warning: anyone who reaches it reads every code (LATCH_DEV=1)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", envInt("LATCH_MAX_IN_FLIGHT", DefaultMaxInFlight), "requests served at once; past it new requests get 503 service_unavailable with Retry-After: 1 at once instead of queueing (health, readiness and metrics never); 0: no limit (LATCH_MAX_IN_FLIGHT)")
	fs.StringVar(&c.Pprof, "pprof", env("LATCH_PPROF", ""), "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060 (LATCH_PPROF; off by default)")

	fs.StringVar(&c.SMTP.Host, "smtp-host", env("LATCH_SMTP_HOST", ""), "SMTP relay host; email goes to the dev outbox when empty (LATCH_SMTP_HOST)")
	fs.IntVar(&c.SMTP.Port, "smtp-port", envInt("LATCH_SMTP_PORT", 587), "SMTP port (LATCH_SMTP_PORT)")
	fs.StringVar(&c.SMTP.Username, "smtp-username", env("LATCH_SMTP_USERNAME", ""), "SMTP user (LATCH_SMTP_USERNAME)")
	c.SMTP.Password = secret.Value(os.Getenv("LATCH_SMTP_PASSWORD"))
	fs.Var(secretFlag{&c.SMTP.Password}, "smtp-password", "SMTP password (LATCH_SMTP_PASSWORD)")
	fs.StringVar(&c.SMTP.From, "smtp-from", env("LATCH_SMTP_FROM", ""), "sender address (LATCH_SMTP_FROM)")
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", env("LATCH_SMTP_TLS", "starttls"), "starttls, tls or none (LATCH_SMTP_TLS)")

	fs.StringVar(&c.Twilio.AccountSID, "twilio-account-sid", env("LATCH_TWILIO_ACCOUNT_SID", ""), "Twilio account SID (LATCH_TWILIO_ACCOUNT_SID)")
	c.Twilio.AuthToken = secret.Value(os.Getenv("LATCH_TWILIO_AUTH_TOKEN"))
	fs.Var(secretFlag{&c.Twilio.AuthToken}, "twilio-auth-token", "Twilio auth token (LATCH_TWILIO_AUTH_TOKEN)")
	fs.StringVar(&c.Twilio.From, "twilio-from", env("LATCH_TWILIO_FROM", ""), "Twilio sender number (LATCH_TWILIO_FROM)")
	fs.StringVar(&c.Twilio.MessagingServiceSID, "twilio-messaging-service-sid", env("LATCH_TWILIO_MESSAGING_SERVICE_SID", ""), "Twilio messaging service (LATCH_TWILIO_MESSAGING_SERVICE_SID)")

	c.Webhook.URL = env("LATCH_SMS_WEBHOOK_URL", "")
	fs.Var(shownFlag{&c.Webhook.URL, redactURL}, "sms-webhook-url", "HTTPS webhook that receives {to, message} for SMS (LATCH_SMS_WEBHOOK_URL)")
	c.Webhook.Secret = secret.Value(os.Getenv("LATCH_SMS_WEBHOOK_SECRET"))
	fs.Var(secretFlag{&c.Webhook.Secret}, "sms-webhook-secret", "HMAC key signing webhook calls (LATCH_SMS_WEBHOOK_SECRET)")
}

// Dev reports whether the dev outbox and demo are served: by default, while no SMTP or SMS
// provider is configured and --prod is not set (product.md).
func (c *Config) Dev() bool { return !c.Prod && !c.HasEmailProvider() && !c.HasSMSProvider() }

// HasEmailProvider reports whether SMTP is configured.
func (c *Config) HasEmailProvider() bool { return c.SMTP.Host != "" }

// HasSMSProvider reports whether Twilio or a webhook is configured.
func (c *Config) HasSMSProvider() bool { return c.Twilio.AccountSID != "" || c.Webhook.URL != "" }

// DSN returns the store dsn: the SQLite file in the data dir or the PostgreSQL URL.
func (c *Config) DSN() string {
	if c.IsPostgres() {
		return c.Database
	}
	return filepath.Join(c.DataDir, "latch.db")
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// DatabaseString describes the database without its password.
func (c *Config) DatabaseString() string {
	if c.IsPostgres() {
		return "postgres " + RedactDatabase(c.Database)
	}
	return "sqlite " + c.DSN()
}

// IssuerURL is the issuer: the configured one without a trailing slash, or BaseURL.
func (c *Config) IssuerURL() string {
	if c.Issuer != "" {
		return strings.TrimSuffix(c.Issuer, "/")
	}
	return c.BaseURL()
}

// BaseURL is where this machine reaches the server: http://<addr>, with localhost in place of a
// wildcard host (":8080", "0.0.0.0:8080" and "[::]:8080" give http://localhost:8080).
func (c *Config) BaseURL() string {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || !wildcard(host) {
		return "http://" + c.Addr
	}
	return "http://" + net.JoinHostPort("localhost", port)
}

// DevOnNetwork reports whether dev mode serves on an address other machines may reach, which
// only --dev allows.
func (c *Config) DevOnNetwork() bool { return c.Dev() && !loopback(c.Addr) }

// wildcard reports whether host listens on every interface.
func wildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// loopback reports whether the listen address addr (host:port) is reachable from this machine
// only: localhost or a loopback IP. A wildcard or any other host name is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateStorage checks the storage settings.
func (c *Config) ValidateStorage() error {
	if c.Database != "sqlite" && !c.IsPostgres() {
		return fmt.Errorf("--database must be sqlite or a postgres:// URL")
	}
	if c.Prod && c.EncryptionKey == "" {
		return errors.New("production mode needs an encryption key: set LATCH_ENCRYPTION_KEY (openssl rand -hex 32)")
	}
	switch strings.ToUpper(c.SigningAlg) {
	case "", "ES256", "RS256", "EDDSA":
	default:
		return fmt.Errorf("--signing-alg must be ES256, RS256 or EdDSA")
	}
	return nil
}

// ValidateServe checks everything `latch serve` needs.
func (c *Config) ValidateServe() error {
	if err := c.ValidateStorage(); err != nil {
		return err
	}
	if c.Issuer != "" {
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--issuer must be an http(s) URL")
		}
	}
	if c.Prod && !c.HasEmailProvider() && !c.HasSMSProvider() {
		return errors.New("production mode needs a delivery provider: configure SMTP (--smtp-host) and/or SMS (--twilio-account-sid or --sms-webhook-url)")
	}
	if c.Prod && c.ForceDev {
		return errors.New("--dev and --prod contradict each other: choose one")
	}
	if c.DevOnNetwork() && !c.ForceDev {
		return fmt.Errorf("dev mode serves every code at /dev/outbox, so it listens only on a loopback address, not %s: "+
			"use --addr 127.0.0.1:PORT, configure a delivery provider (with --prod), or force dev mode with --dev (LATCH_DEV=1)", c.Addr)
	}
	if c.MaxInFlight < 0 {
		return errors.New("--max-in-flight must be 0 (no limit) or more")
	}
	if c.Pprof != "" && !loopback(c.Pprof) {
		return errors.New("--pprof must listen on a loopback address such as 127.0.0.1:6060")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	return nil
}

// Key returns the encryption key: the configured one, or in dev mode the key file in the data dir.
func (c *Config) Key() (key []byte, generated bool, err error) {
	if c.EncryptionKey != "" {
		k, err := secret.ParseKey(c.EncryptionKey.Reveal())
		return k, false, err
	}
	if c.Prod {
		return nil, false, errors.New("production mode needs LATCH_ENCRYPTION_KEY")
	}
	return secret.LoadOrCreateKeyFile(c.DataDir)
}
