// Package node assembles one Latch node from a Config: the store, the encryption box and the
// signing keys, every service, and the HTTP API over them (with the dev outbox and demo pages in
// dev mode). It is the only place that constructs services: `latch serve`, the admin commands,
// latchtest and every package's tests get their services here, so nothing runs on a partial
// wiring and no production check needs a nil guard.
//
// It owns the order things are built in and the first start (tenant, default application and
// its client). It must never hold a rule of its own (rules live in the services), listen on a
// socket or print anything (the caller does, with what the Node reports).
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/signin"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
	"github.com/latch-auth/latch/internal/web"
)

// KeyPropagation is how long a rotated signing key is published before it signs: two reload
// intervals of the key ring, so every node verifies its tokens from the first one.
const KeyPropagation = 60 * time.Second

// KeyRetention is how long a retired signing key stays published: the longest token lifetime,
// plus the time it may go on signing while its successor propagates, plus verification leeway
// and one reload interval.
const KeyRetention = time.Duration(app.MaxTokenTTLSeconds)*time.Second + KeyPropagation + 2*time.Minute

// Options change how a node is built; the zero value builds what `latch serve` runs, apart from
// BaseURL, which New needs.
type Options struct {
	// BaseURL is where this node's HTTP API answers from this machine ("http://127.0.0.1:8080"):
	// the issuer when the Config names none, the demo's API base and its callback's origin.
	BaseURL string
	// Log receives the node's logs; nil discards them.
	Log *slog.Logger
	// Clock is the time every service reads; nil is the system clock.
	Clock clock.Clock
	// Store is an open store used instead of opening the Config's database (another node on the
	// same database); whoever opened it closes it.
	Store *sqlstore.DB
	// Key is the encryption key for secrets at rest; nil takes the Config's (or, in dev mode,
	// the key file in the data directory).
	Key []byte
	// Sender delivers every message instead of the providers the Config names.
	Sender delivery.Sender
}

// Node is one assembled Latch node: its storage, its services and its HTTP API.
type Node struct {
	Clock   clock.Clock
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Store   *sqlstore.DB
	Box     *secret.Box
	Keys    *token.KeyRing
	Apps    *app.Service
	Users   *user.Service
	// KeyGenerated reports that the dev-mode encryption key was generated at this start.
	KeyGenerated bool

	// Set by New only.
	Issuer      string
	TenantID    string
	DefaultApp  app.App
	FirstClient *app.Credentials // the default application's first client, on the start that created it
	Signer      *token.Signer
	Sessions    *session.Service
	Codes       *otp.Codes
	OTP         *otp.Flow
	Links       *magiclink.Flow
	Hosted      *hosted.Flow
	TOTP        *totp.Service
	OIDC        *signin.Provider
	Passwords   *password.Service
	Sender      delivery.Sender
	Delivery    map[string]string // what delivers each channel ("email", "sms"), without secrets
	API         *httpapi.Server
	Handler     http.Handler // the API's routes and middleware

	ownsStore bool
}

// Open builds the storage half of a node — the store, the encryption box, the signing keys,
// applications and users — which is all the admin commands need. It does not run the first
// start. It fails when the encryption key cannot decrypt the database's secrets: it never
// re-keys or overwrites.
func Open(ctx context.Context, cfg *config.Config, opts Options) (*Node, error) {
	n := &Node{Clock: opts.Clock, Log: opts.Log, Store: opts.Store}
	if n.Clock == nil {
		n.Clock = clock.System{}
	}
	if n.Log == nil {
		n.Log = slog.New(slog.DiscardHandler)
	}
	if n.Store == nil {
		if err := cfg.ValidateStorage(); err != nil {
			return nil, err
		}
	}
	key := opts.Key
	if key == nil {
		var err error
		if key, n.KeyGenerated, err = cfg.Key(); err != nil {
			return nil, err
		}
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	n.Box = box
	if n.Store == nil {
		if n.Store, err = sqlstore.Open(ctx, cfg.DSN(), sqlstore.Options{SynchronousFull: cfg.SQLiteFull}); err != nil {
			return nil, databaseError(cfg, err)
		}
		n.ownsStore = true
	}
	n.Keys = token.NewKeyRing(n.Store, n.Box, n.Clock, KeyRetention, n.Log)
	n.Keys.Propagation = KeyPropagation
	if cfg.SigningAlg != "" {
		if n.Keys.Alg, err = token.ParseAlg(cfg.SigningAlg); err != nil {
			n.Close()
			return nil, err
		}
	}
	if err := n.Keys.EnsureKey(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	n.Apps = app.NewService(n.Store, n.Box, n.Clock)
	n.Users = user.NewService(n.Store, n.Clock, n.Apps.TenantID)
	return n, nil
}

// New builds a whole node: Open, then the first start (the tenant, and the default application
// with its first client when the database has none), the delivery providers, every login
// service, and the HTTP API — with the dev outbox and the demo in dev mode.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Node, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("node: Options.BaseURL is required")
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	n, err := Open(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := n.build(ctx, cfg, opts, base); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) build(ctx context.Context, cfg *config.Config, opts Options, base string) error {
	var err error
	n.TenantID, n.DefaultApp, n.FirstClient, err = n.Apps.Bootstrap(ctx, base+"/demo/callback", defaultAppName(cfg))
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	n.Issuer = base
	if cfg.Issuer != "" {
		n.Issuer = cfg.IssuerURL()
	}
	n.Metrics = metrics.New()
	if n.Store.Engine() == "sqlite" {
		n.Metrics.WriteBatches(n.Store.WriteBatches)
		n.Metrics.Checkpoints(n.Store.Checkpoints)
	}
	n.Sender, n.Delivery = opts.Sender, map[string]string{"email": "given by the caller", "sms": "given by the caller"}
	if n.Sender == nil {
		if n.Sender, n.Delivery, err = providers(cfg, n.Store, n.Clock); err != nil {
			return err
		}
	}

	n.Signer = &token.Signer{Ring: n.Keys, Issuer: n.Issuer, Clock: n.Clock}
	n.Sessions = session.NewService(n.Store, n.Signer, n.Box, n.Clock, n.Log)
	n.Codes = otp.NewCodes(n.Store, n.Box, n.Clock, rand.Reader, n.Log, n.Metrics)
	n.OTP = &otp.Flow{Codes: n.Codes, Users: n.Users, Sessions: n.Sessions, Sender: n.Sender, Metrics: n.Metrics, Log: n.Log}
	n.Links = &magiclink.Flow{Codes: n.Codes, Users: n.Users, Sessions: n.Sessions, Sender: n.Sender, Metrics: n.Metrics, Log: n.Log, Issuer: n.Issuer}
	n.Hosted = &hosted.Flow{Codes: n.Codes, Users: n.Users, Sessions: n.Sessions, Sender: n.Sender, Metrics: n.Metrics, Log: n.Log, Issuer: n.Issuer}
	// TOTP secrets are sealed with the box of the signing keys; lockouts share the store with the
	// one-time codes'.
	n.TOTP = totp.NewService(totp.Deps{Store: n.Store, Users: n.Users, Sessions: n.Sessions, Box: n.Box, Clock: n.Clock,
		Rand: rand.Reader, Log: n.Log, Metrics: n.Metrics})

	hasher, err := password.NewHasher(password.DefaultParams, 0)
	if err != nil {
		return err
	}
	n.Passwords = &password.Service{Store: n.Store, Hasher: hasher, Apps: n.Apps, Users: n.Users, Sessions: n.Sessions,
		Codes: n.Codes, Clock: n.Clock, Metrics: n.Metrics, Log: n.Log}
	// The hosted flow checks passwords and issues reset tokens with the password service, and
	// makes the login URL a reset with a redirect_uri answers.
	n.Hosted.Passwords, n.Passwords.ResetURL = n.Passwords, n.Hosted.ResetURL

	n.OIDC = &signin.Provider{Apps: n.Apps, Users: n.Users, Codes: n.Codes, Sessions: n.Sessions, TOTP: n.TOTP, Passwords: n.Passwords, Store: n.Store,
		Sender: n.Sender, Box: n.Box, Signer: n.Signer, Clock: n.Clock, Log: n.Log.With("component", "oidc"), Metrics: n.Metrics, Issuer: n.Issuer}

	n.API = &httpapi.Server{
		Log:       n.Log,
		Metrics:   n.Metrics,
		Store:     n.Store,
		Apps:      n.Apps,
		Users:     n.Users,
		Tokens:    n.Signer,
		Keys:      n.Keys,
		Issuer:    n.Issuer,
		Sessions:  n.Sessions,
		OTP:       n.OTP,
		Links:     n.Links,
		TOTP:      n.TOTP,
		Hosted:    n.Hosted,
		Passwords: n.Passwords,
		OIDC:      n.OIDC,
		Dev:       cfg.Dev(),
		// MaxInFlight: the node serves HTTP with the limit operators set (serve's --max-in-flight).
		MaxInFlight: cfg.MaxInFlight,
	}
	if cfg.Dev() {
		if n.API.Web, err = n.demo(ctx, base); err != nil {
			return err
		}
	}
	n.Handler = n.API.Handler()
	return nil
}

// demo builds the dev outbox pages and the demo app. The demo signs people in through Latch's
// public API over real HTTP at base, with a client of its own whose credentials are derived
// from the encryption key: stable across restarts, held server-side, never printed.
func (n *Node) demo(ctx context.Context, base string) (http.Handler, error) {
	creds, err := n.Apps.EnsureDerivedClient(ctx, n.DefaultApp.ID, "demo")
	if err != nil {
		return nil, fmt.Errorf("demo client: %w", err)
	}
	return web.New(web.Config{
		BaseURL:      base,
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret,
		Outbox:       n.Store,
		Log:          n.Log.With("component", "web"),
		HTTPClient:   &http.Client{Timeout: 15 * time.Second},
		Now:          n.Clock.Now, // the demo tells code lifetimes and waits on Latch's clock
	}), nil
}

// Close closes the store when the node opened it.
func (n *Node) Close() error {
	if n.ownsStore {
		return n.Store.Close()
	}
	return nil
}

// defaultAppName is what the first start names the default application: --app-name, else this
// host's name (what people will see in their emails and authenticator apps is then the
// deployment's, not "default"), else "default".
func defaultAppName(cfg *config.Config) string {
	if cfg.AppName != "" {
		return cfg.AppName
	}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		return h
	}
	return app.DefaultAppName
}
