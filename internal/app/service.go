package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// DefaultAppName is the application created on first start.
const DefaultAppName = "default"

// clientSecretPurpose separates client-secret hashes from every other keyed hash.
const clientSecretPurpose = "client-secret"

// cacheTTL bounds how stale a cached app or client may be on one node: an entry expires
// cacheTTL after it was read from the store, and the node that changes or deletes an app or
// client drops its own entries at once. So every change made through any node (or the CLI,
// which only writes the store) applies on every node within cacheTTL. A client whose cached
// secret does not match is re-read, so a new secret works everywhere at once.
const cacheTTL = 30 * time.Second

// App is an application with its parsed settings.
type App struct {
	store.App
	Settings Settings
}

// AllowsRedirect reports whether uri is one of the app's redirect URIs (exact match).
func (a App) AllowsRedirect(uri string) bool { return slices.Contains(a.RedirectURIs, uri) }

// HasResource reports whether uri is one of the app's resources.
func (a App) HasResource(uri string) bool { return slices.Contains(a.Resources, uri) }

// Credentials are a newly created client's id and secret, shown once.
type Credentials struct {
	AppID        string `json:"app_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// Service manages applications and clients.
type Service struct {
	store store.Store
	box   *secret.Box
	clock clock.Clock

	mu      sync.Mutex
	apps    map[string]cached[App]
	clients map[string]cached[store.Client]
	tenant  string
}

type cached[T any] struct {
	v       T
	expires time.Time
}

// NewService returns a Service.
func NewService(s store.Store, box *secret.Box, c clock.Clock) *Service {
	return &Service{store: s, box: box, clock: c, apps: map[string]cached[App]{}, clients: map[string]cached[store.Client]{}}
}

// NewApp describes an application to create.
type NewApp struct {
	// ID is the new application's id; "" makes a random one.
	ID           string
	Name         string
	Description  string
	ClientName   string // the first client's name and description
	ClientDesc   string
	RedirectURIs []string
	AllowSignup  bool
	Resources    []string
	Admin        bool // its first client is a management (admin) client
	Settings     Settings
}

// Bootstrap ensures the tenant and its default application exist. On the start that creates the
// application (named name, DefaultAppName when "") it returns the credentials of its client; on
// every later start creds is nil. The tenant knows its default application by id, so renaming it
// does not make the next start create another.
func (s *Service) Bootstrap(ctx context.Context, redirectURI, name string) (tenantID string, def App, creds *Credentials, err error) {
	now := s.clock.Now()
	tn, _, err := s.store.EnsureTenant(ctx, store.Tenant{ID: secret.NewID(), CreatedAt: now})
	if err != nil {
		return "", App{}, nil, err
	}
	s.setTenant(tn.ID)
	if tn.DefaultAppID != "" {
		a, err := s.store.GetApp(ctx, tn.DefaultAppID)
		if err == nil {
			parsed, perr := parse(a)
			return tn.ID, parsed, nil, perr
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", App{}, nil, fmt.Errorf("find default app: %w", err)
		}
		// Deleted (admin API): a new one is made below.
	}
	// Its id is the tenant's, so nodes starting at the same moment make one app, not two.
	id := "default-" + tn.ID
	c, err := s.CreateApp(ctx, NewApp{ID: id, Name: cmp.Or(strings.TrimSpace(name), DefaultAppName), RedirectURIs: []string{redirectURI}, AllowSignup: true})
	switch {
	case errors.Is(err, store.ErrConflict):
		if _, gerr := s.store.GetApp(ctx, id); gerr != nil { // not a race: the name is taken
			return "", App{}, nil, fmt.Errorf("create the default application %q: an application of that name exists (choose another with --app-name)", name)
		}
		if err := s.store.SetDefaultApp(ctx, tn.ID, id); err != nil {
			return "", App{}, nil, fmt.Errorf("record default app: %w", err)
		}
		return s.Bootstrap(ctx, redirectURI, name) // another node made it
	case err != nil:
		return "", App{}, nil, err
	}
	if err := s.store.SetDefaultApp(ctx, tn.ID, id); err != nil {
		return "", App{}, nil, fmt.Errorf("record default app: %w", err)
	}
	def, err = s.App(ctx, c.AppID)
	return tn.ID, def, &c, err
}

func (s *Service) setTenant(id string) { s.mu.Lock(); s.tenant = id; s.mu.Unlock() }

// TenantID returns the tenant id, creating the tenant when the database is empty.
func (s *Service) TenantID(ctx context.Context) (string, error) {
	s.mu.Lock()
	id := s.tenant
	s.mu.Unlock()
	if id != "" {
		return id, nil
	}
	tn, _, err := s.store.EnsureTenant(ctx, store.Tenant{ID: secret.NewID(), CreatedAt: s.clock.Now()})
	if err != nil {
		return "", err
	}
	s.setTenant(tn.ID)
	return tn.ID, nil
}

// ValidateRedirectURI checks that uri is an absolute http(s) URL without a fragment.
func ValidateRedirectURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return errors.New("must be an absolute http or https URL without a fragment")
	}
	return nil
}

// CreateApp creates an application and its first client and returns the client's credentials.
func (s *Service) CreateApp(ctx context.Context, n NewApp) (Credentials, error) {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || len(n.Name) > 100 {
		return Credentials{}, apierr.Invalid("app_name", "is required and at most 100 characters")
	}
	if err := validateRedirectURIs(n.RedirectURIs); err != nil {
		return Credentials{}, err
	}
	if err := validateResources("resources", n.Resources); err != nil {
		return Credentials{}, err
	}
	if len(n.Description) > 1000 {
		return Credentials{}, apierr.Invalid("app_description", "must be at most 1000 characters")
	}
	settings := n.Settings.withDefaults()
	if field, problem := settings.Validate(); field != "" {
		return Credentials{}, apierr.Invalid("settings."+field, problem)
	}
	tenantID, err := s.TenantID(ctx)
	if err != nil {
		return Credentials{}, err
	}
	raw, err := jsonMarshal(settings)
	if err != nil {
		return Credentials{}, err
	}
	now := s.clock.Now()
	a := store.App{ID: cmp.Or(n.ID, secret.NewID()), TenantID: tenantID, Name: n.Name, Description: n.Description, RedirectURIs: n.RedirectURIs,
		AllowSignup: n.AllowSignup, Resources: n.Resources, Settings: raw, CreatedAt: now}
	creds, c := s.newClient(a.ID, n.Admin, now)
	c.Name, c.Description = n.ClientName, n.ClientDesc
	if err := s.store.CreateApp(ctx, a, c); errors.Is(err, store.ErrConflict) {
		return Credentials{}, errors.Join(errNameTaken(), err) // errors.Is(err, store.ErrConflict) still holds
	} else if err != nil {
		return Credentials{}, err
	}
	return creds, nil
}

func (s *Service) newClient(appID string, admin bool, now time.Time) (Credentials, store.Client) {
	id, sec := secret.NewID(), secret.NewToken()
	return Credentials{AppID: appID, ClientID: id, ClientSecret: sec},
		store.Client{ClientID: id, AppID: appID, SecretHash: s.box.Hash(clientSecretPurpose, sec), Admin: admin, CreatedAt: now}
}

// CreateClient adds a client to an existing application.
func (s *Service) CreateClient(ctx context.Context, appID string, admin bool) (Credentials, error) {
	creds, c := s.newClient(appID, admin, s.clock.Now())
	if err := s.store.CreateClient(ctx, c); err != nil {
		return Credentials{}, err
	}
	return creds, nil
}

// IsPublic reports whether a client is public: created without a secret (latch client create
// --public), it authenticates at the token endpoint by its id and a PKCE verifier only.
func IsPublic(c store.Client) bool { return c.SecretHash == "" }

// CreatePublicClient adds a public client (no secret) to an existing application.
func (s *Service) CreatePublicClient(ctx context.Context, appID string) (Credentials, error) {
	id := secret.NewID()
	c := store.Client{ClientID: id, AppID: appID, CreatedAt: s.clock.Now()}
	if err := s.store.CreateClient(ctx, c); err != nil {
		return Credentials{}, err
	}
	return Credentials{AppID: appID, ClientID: id}, nil
}

// Lookup returns a client and its app by client_id without authenticating it (the OIDC
// authorization endpoint, where the client is named, not authenticated); ErrBadClient when
// it is unknown.
func (s *Service) Lookup(ctx context.Context, clientID string) (store.Client, App, error) {
	if clientID == "" || len(clientID) > 256 {
		return store.Client{}, App{}, ErrBadClient
	}
	c, err := s.client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, App{}, ErrBadClient
	}
	if err != nil {
		return store.Client{}, App{}, err
	}
	a, err := s.App(ctx, c.AppID)
	if err != nil {
		return store.Client{}, App{}, err
	}
	return c, a, nil
}

const derivedPrefix = "derived-"

// IsDerivedClient reports whether a client id was made by EnsureDerivedClient.
func IsDerivedClient(clientID string) bool { return strings.HasPrefix(clientID, derivedPrefix) }

// EnsureDerivedClient makes sure the application has the client whose id and secret are derived
// from the encryption key and name, and returns its credentials. The dev-mode demo uses it: the
// credentials are stable across restarts and nodes, and nothing but the key can produce them.
func (s *Service) EnsureDerivedClient(ctx context.Context, appID, name string) (Credentials, error) {
	id := derivedPrefix + s.box.Hash("derived-client-id", appID+"/"+name)[:22]
	sec := s.box.Hash("derived-client-secret", appID+"/"+name)
	creds := Credentials{AppID: appID, ClientID: id, ClientSecret: sec}
	_, err := s.store.GetClient(ctx, id)
	if err == nil {
		return creds, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Credentials{}, err
	}
	err = s.store.CreateClient(ctx, store.Client{ClientID: id, AppID: appID, SecretHash: s.box.Hash(clientSecretPurpose, sec), CreatedAt: s.clock.Now()})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return Credentials{}, err
	}
	return creds, nil
}

// App returns an application by id, from the cache when fresh.
func (s *Service) App(ctx context.Context, id string) (App, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.apps[id]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.v, nil
	}
	raw, err := s.store.GetApp(ctx, id)
	if err != nil {
		return App{}, err
	}
	a, err := parse(raw)
	if err != nil {
		return App{}, err
	}
	s.mu.Lock()
	s.apps[id] = cached[App]{v: a, expires: now.Add(cacheTTL)}
	s.mu.Unlock()
	return a, nil
}

func parse(a store.App) (App, error) {
	st, err := ParseSettings(a.Settings)
	if err != nil {
		return App{}, err
	}
	return App{App: a, Settings: st}, nil
}

// ErrBadClient means the client id is unknown or the secret is wrong; callers must not say which.
var ErrBadClient = errors.New("invalid client credentials")

// Authenticate checks a client's credentials in constant time and returns the client and its app.
func (s *Service) Authenticate(ctx context.Context, clientID, clientSecret string) (store.Client, App, error) {
	if clientID == "" || clientSecret == "" {
		return store.Client{}, App{}, ErrBadClient
	}
	c, err := s.client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, App{}, ErrBadClient
	}
	if err != nil {
		return store.Client{}, App{}, err
	}
	hash := s.box.Hash(clientSecretPurpose, clientSecret)
	if !s.secretMatches(c, hash) {
		// The cached client may predate a rotation made on another node: a new secret works
		// everywhere at once (an old one, refused here, works until the cache entry expires).
		if c, err = s.reloadClient(ctx, clientID); errors.Is(err, store.ErrNotFound) {
			return store.Client{}, App{}, ErrBadClient
		} else if err != nil {
			return store.Client{}, App{}, err
		}
		if !s.secretMatches(c, hash) {
			return store.Client{}, App{}, ErrBadClient
		}
	}
	a, err := s.App(ctx, c.AppID)
	if err != nil {
		return store.Client{}, App{}, err
	}
	return c, a, nil
}

// secretMatches checks a secret's hash against the client's secret, or against the secret a
// rotation replaced while its grace period lasts (never without one), in constant time.
func (s *Service) secretMatches(c store.Client, hash string) bool {
	current := secret.Equal(c.SecretHash, hash)
	previous := c.PrevSecretHash != "" && s.clock.Now().Before(c.PrevSecretExpires) && secret.Equal(c.PrevSecretHash, hash)
	return current || previous
}

// reloadClient reads a client from the store and caches it afresh.
func (s *Service) reloadClient(ctx context.Context, id string) (store.Client, error) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
	return s.client(ctx, id)
}

func (s *Service) client(ctx context.Context, id string) (store.Client, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.v, nil
	}
	cl, err := s.store.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, err
	}
	s.mu.Lock()
	s.clients[id] = cached[store.Client]{v: cl, expires: now.Add(cacheTTL)}
	s.mu.Unlock()
	return cl, nil
}
