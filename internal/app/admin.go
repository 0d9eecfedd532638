package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/store"
)

// MaxSecretGrace bounds how long a rotated client secret may keep working.
const MaxSecretGrace = 30 * 24 * time.Hour

// errAppNotFound and errClientNotFound are the 404s of the applications API.
func errAppNotFound() *apierr.Error { return apierr.NotFound("app_not_found", "Application not found") }
func errClientNotFound() *apierr.Error {
	return apierr.NotFound("client_not_found", "Client not found")
}

// errNameTaken is the 409 of a taken application name (IdentifierIsTakenHttpError).
func errNameTaken() *apierr.Error {
	return &apierr.Error{Status: 409, Message: "An application with this name already exists", TSCode: "app_name_taken"}
}

// forget drops an application and its clients from this node's cache, so a change made here
// applies here from the next request; other nodes see it when their entry expires (cacheTTL).
func (s *Service) forget(appID string, clientIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.apps, appID)
	for _, id := range clientIDs {
		delete(s.clients, id)
	}
}

// fresh reads an application from the store, not the cache: what the admin API shows and
// changes is what is stored.
func (s *Service) fresh(ctx context.Context, id string) (App, error) {
	raw, err := s.store.GetApp(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, errAppNotFound()
	}
	if err != nil {
		return App{}, err
	}
	return parse(raw)
}

// Get returns an application as stored (404 app_not_found when there is none).
func (s *Service) Get(ctx context.Context, id string) (App, error) { return s.fresh(ctx, id) }

// List returns every application, oldest first.
func (s *Service) List(ctx context.Context) ([]App, error) {
	raws, err := s.store.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]App, 0, len(raws))
	for _, r := range raws {
		a, err := parse(r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Update is a change to an application; a nil field is left as it is. Settings names settings
// by their JSON names (a partial object: the others keep their values); LoginPreferences are
// Mosaic's auth_methods, mapped onto the same settings.
type Update struct {
	Name             *string
	Description      *string
	RedirectURIs     *[]string
	AllowSignup      *bool
	Resources        *[]string
	Logo             *string
	Settings         json.RawMessage
	LoginPreferences *LoginPreferences
}

// UpdateApp applies u to the application and returns it as stored. Bad input is a 400 naming
// the field and changes nothing.
func (s *Service) UpdateApp(ctx context.Context, id string, u Update) (App, error) {
	var a App
	err := retryStale(func() error {
		var err error
		a, err = s.updateApp(ctx, id, u)
		return err
	})
	return a, err
}

// maxStaleRetries bounds how often a change read-modified-written over a concurrent one is
// redone before the caller gets a 409.
const maxStaleRetries = 5

// retryStale runs change again while the store refuses it as stale (another change came first).
func retryStale(change func() error) error {
	for attempt := 0; ; attempt++ {
		err := change()
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		if attempt == maxStaleRetries {
			return apierr.Conflict("changed_meanwhile", "The application or client changed meanwhile; try again")
		}
	}
}

// nextUpdate is the update time of a change to a row last updated at prev: now, and always
// after prev at the store's millisecond precision, so the conditional update tells them apart.
func (s *Service) nextUpdate(prev time.Time) time.Time {
	next := s.clock.Now().Truncate(time.Millisecond)
	if !next.After(prev) {
		next = prev.Add(time.Millisecond)
	}
	return next
}

func (s *Service) updateApp(ctx context.Context, id string, u Update) (App, error) {
	a, err := s.fresh(ctx, id)
	if err != nil {
		return App{}, err
	}
	if u.Name != nil {
		name := strings.TrimSpace(*u.Name)
		if name == "" || len(name) > 100 {
			return App{}, apierr.Invalid("app_name", "is required and at most 100 characters")
		}
		a.Name = name
	}
	if u.Description != nil {
		if len(*u.Description) > 1000 {
			return App{}, apierr.Invalid("app_description", "must be at most 1000 characters")
		}
		a.Description = *u.Description
	}
	if u.RedirectURIs != nil {
		if err := validateRedirectURIs(*u.RedirectURIs); err != nil {
			return App{}, err
		}
		a.RedirectURIs = slices.Clone(*u.RedirectURIs)
	}
	if u.AllowSignup != nil {
		a.AllowSignup = *u.AllowSignup
	}
	if u.Resources != nil {
		if err := validateResources("resources", *u.Resources); err != nil {
			return App{}, err
		}
		a.Resources = slices.Clone(*u.Resources)
	}
	st, err := a.Settings.Change(u.Settings, u.LoginPreferences, u.Logo)
	if err != nil {
		return App{}, err
	}
	return s.save(ctx, a, st)
}

// Change returns s changed by a settings patch (JSON names), Mosaic's login preferences and a
// logo, each optional, validated: bad input is a 400 naming the field as the request named it.
func (s Settings) Change(patch json.RawMessage, lp *LoginPreferences, logo *string) (Settings, error) {
	st := s
	if len(patch) > 0 && string(bytes.TrimSpace(patch)) != "null" {
		var err error
		if st, err = st.Patch(patch); err != nil {
			return s, err
		}
	}
	seen := applied{}
	if lp != nil {
		seen = lp.apply(&st)
	}
	if logo != nil {
		st.BrandLogoURL = *logo
		seen["brand_logo_url"] = "logo"
	}
	if field, problem := st.Validate(); field != "" {
		if named, ok := seen[field]; ok {
			return s, apierr.Invalid(named, problem)
		}
		return s, apierr.Invalid("settings."+field, problem)
	}
	return st, nil
}

func (s *Service) save(ctx context.Context, a App, st Settings) (App, error) {
	raw, err := jsonMarshal(st)
	if err != nil {
		return App{}, err
	}
	prev := a.UpdatedAt
	a.App.Settings, a.Settings, a.UpdatedAt = raw, st, s.nextUpdate(prev)
	err = s.store.UpdateApp(ctx, a.App, prev)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return App{}, errAppNotFound()
	case errors.Is(err, store.ErrConflict):
		return App{}, errNameTaken()
	case err != nil:
		return App{}, err
	}
	s.forget(a.ID)
	return a, nil
}

func validateRedirectURIs(uris []string) error {
	if len(uris) > 100 {
		return apierr.Invalid("redirect_uris", "must hold at most 100 URIs")
	}
	for _, u := range uris {
		if err := ValidateRedirectURI(u); err != nil {
			return apierr.Invalid("redirect_uris", fmt.Sprintf("%q %v", u, err))
		}
	}
	return nil
}

func validateResources(field string, rs []string) error {
	if len(rs) > 100 {
		return apierr.Invalid(field, "must hold at most 100 resources")
	}
	for _, r := range rs {
		if r == "" || len(r) > 2048 {
			return apierr.Invalid(field, "each resource must be 1 to 2048 characters")
		}
	}
	return nil
}

// Patch returns s with the settings named in raw (a JSON object, by JSON name) replaced. An
// unknown name or a value of the wrong type is a 400 naming settings.<name>; ranges are checked
// by Validate.
func (s Settings) Patch(raw json.RawMessage) (Settings, error) {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(raw, &patch); err != nil || patch == nil {
		return s, apierr.Invalid("settings", "must be an object of settings")
	}
	cur, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil {
		return s, err
	}
	for _, name := range slices.Sorted(maps.Keys(patch)) {
		old, ok := m[name]
		if !ok {
			return s, apierr.Invalid("settings."+name, "not a setting (see GET /cis/v1/applications/{appId} for their names)")
		}
		v := patch[name]
		if jsonKind(old) != jsonKind(v) {
			return s, apierr.Invalid("settings."+name, "must be "+jsonKind(old))
		}
		m[name] = v
	}
	merged, err := json.Marshal(m)
	if err != nil {
		return s, err
	}
	var out Settings
	if err := json.Unmarshal(merged, &out); err != nil {
		// Only a number that is not whole gets here.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return s, apierr.Invalid("settings."+te.Field, "must be a whole number")
		}
		return s, apierr.Invalid("settings", "malformed")
	}
	return out.withDefaults(), nil
}

// jsonKind names the kind of a JSON value as a 400 says it.
func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "a value"
	}
	switch v[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	}
	return "a number"
}

// DeleteApp deletes an application and everything it holds: its clients' and users' tokens are
// refused from the next request on this node, and on every node within cacheTTL.
func (s *Service) DeleteApp(ctx context.Context, id string) error {
	clients, err := s.store.ListClients(ctx, id)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(clients))
	for _, c := range clients {
		ids = append(ids, c.ClientID)
	}
	err = s.store.DeleteApp(ctx, id)
	s.forget(id, ids...)
	if errors.Is(err, store.ErrNotFound) {
		return errAppNotFound()
	}
	return err
}

// Clients returns an application's clients, oldest first (404 when the app does not exist).
func (s *Service) Clients(ctx context.Context, appID string) ([]store.Client, error) {
	if _, err := s.fresh(ctx, appID); err != nil {
		return nil, err
	}
	return s.store.ListClients(ctx, appID)
}

// Client returns a client of an application, as stored.
func (s *Service) Client(ctx context.Context, appID, clientID string) (store.Client, error) {
	c, err := s.store.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AppID != appID) {
		if _, aerr := s.fresh(ctx, appID); aerr != nil {
			return store.Client{}, aerr
		}
		return store.Client{}, errClientNotFound()
	}
	return c, err
}

// NewClient describes a client to add to an application. RedirectURIs are added to the
// application's: redirect URIs belong to the application and every client of it shares them.
type NewClient struct {
	Name         string
	Description  string
	Admin        bool
	Public       bool // no secret: PKCE at the token endpoint (not with Admin)
	RedirectURIs []string
}

// AddClient adds a client to an application and returns its credentials (the only time its
// secret is shown) and the stored client.
func (s *Service) AddClient(ctx context.Context, appID string, n NewClient) (Credentials, store.Client, error) {
	if len(n.Name) > 100 {
		return Credentials{}, store.Client{}, apierr.Invalid("name", "must be at most 100 characters")
	}
	if len(n.Description) > 1000 {
		return Credentials{}, store.Client{}, apierr.Invalid("description", "must be at most 1000 characters")
	}
	if err := validateRedirectURIs(n.RedirectURIs); err != nil {
		return Credentials{}, store.Client{}, err
	}
	if n.Public && n.Admin {
		return Credentials{}, store.Client{}, apierr.Invalid("public", "an admin client cannot be public")
	}
	a, err := s.fresh(ctx, appID)
	if err != nil {
		return Credentials{}, store.Client{}, err
	}
	if missing := without(n.RedirectURIs, a.RedirectURIs); len(missing) > 0 {
		uris := append(slices.Clone(a.RedirectURIs), missing...)
		if _, err := s.UpdateApp(ctx, appID, Update{RedirectURIs: &uris}); err != nil {
			return Credentials{}, store.Client{}, err
		}
	}
	creds, c := s.newClient(appID, n.Admin, s.clock.Now())
	if n.Public {
		creds.ClientSecret, c.SecretHash = "", ""
	}
	c.Name, c.Description = n.Name, n.Description
	if err := s.store.CreateClient(ctx, c); errors.Is(err, store.ErrNotFound) {
		return Credentials{}, store.Client{}, errAppNotFound()
	} else if err != nil {
		return Credentials{}, store.Client{}, err
	}
	return creds, c, nil
}

// without returns the items of add that are not in have, once each.
func without(add, have []string) []string {
	var out []string
	for _, u := range add {
		if !slices.Contains(have, u) && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// ClientUpdate is a change to a client; a nil field is left as it is.
type ClientUpdate struct {
	Name        *string
	Description *string
}

// UpdateClient applies u to a client of an application.
func (s *Service) UpdateClient(ctx context.Context, appID, clientID string, u ClientUpdate) (store.Client, error) {
	if u.Name != nil && len(*u.Name) > 100 {
		return store.Client{}, apierr.Invalid("name", "must be at most 100 characters")
	}
	if u.Description != nil && len(*u.Description) > 1000 {
		return store.Client{}, apierr.Invalid("description", "must be at most 1000 characters")
	}
	var c store.Client
	err := retryStale(func() error {
		var err error
		if c, err = s.Client(ctx, appID, clientID); err != nil {
			return err
		}
		set(&c.Name, u.Name)
		set(&c.Description, u.Description)
		c, err = s.storeClient(ctx, c)
		return err
	})
	return c, err
}

// storeClient writes a client read from the store (its UpdatedAt is the one it was read with).
func (s *Service) storeClient(ctx context.Context, c store.Client) (store.Client, error) {
	prev := c.UpdatedAt
	c.UpdatedAt = s.nextUpdate(prev)
	err := s.store.UpdateClient(ctx, c, prev)
	s.forget("", c.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, errClientNotFound()
	}
	return c, err
}

// RotateSecret gives a client a new secret and returns it (shown this once). The old secret
// keeps working for grace (0: it is refused at once on this node, and on every node within
// cacheTTL); a secret replaced by an earlier rotation stops working now.
func (s *Service) RotateSecret(ctx context.Context, appID, clientID string, grace time.Duration) (Credentials, store.Client, error) {
	if grace < 0 || grace > MaxSecretGrace {
		return Credentials{}, store.Client{}, apierr.Invalid("grace_period_seconds", fmt.Sprintf("must be between 0 and %d", int(MaxSecretGrace.Seconds())))
	}
	if IsDerivedClient(clientID) {
		return Credentials{}, store.Client{}, apierr.Invalid("clientId", "the demo's client has a secret derived from the encryption key; it cannot be rotated")
	}
	var creds Credentials
	var c store.Client
	err := retryStale(func() error {
		var err error
		if c, err = s.Client(ctx, appID, clientID); err != nil {
			return err
		}
		if IsPublic(c) {
			return apierr.Invalid("clientId", "a public client has no secret to rotate")
		}
		now := s.clock.Now()
		fresh, next := s.newClient(appID, c.Admin, now)
		c.PrevSecretHash, c.PrevSecretExpires = "", time.Time{}
		if grace > 0 {
			c.PrevSecretHash, c.PrevSecretExpires = c.SecretHash, now.Add(grace)
		}
		c.SecretHash = next.SecretHash
		if c, err = s.storeClient(ctx, c); err != nil {
			return err
		}
		creds = Credentials{AppID: appID, ClientID: clientID, ClientSecret: fresh.ClientSecret}
		return nil
	})
	if err != nil {
		return Credentials{}, store.Client{}, err
	}
	return creds, c, nil
}

// DeleteClient deletes a client of an application; its tokens are refused from the next request.
func (s *Service) DeleteClient(ctx context.Context, appID, clientID string) error {
	if _, err := s.Client(ctx, appID, clientID); err != nil {
		return err
	}
	err := s.store.DeleteClient(ctx, clientID)
	s.forget("", clientID)
	if errors.Is(err, store.ErrNotFound) {
		return errClientNotFound()
	}
	return err
}

// ClientLive reports whether the client and its application still exist (from the cache when
// fresh): a token of a deleted client or application is refused.
func (s *Service) ClientLive(ctx context.Context, clientID, appID string) (bool, error) {
	c, err := s.client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.AppID != appID {
		return false, nil
	}
	if _, err := s.App(ctx, appID); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// UsersAccess refuses (403) what the application's users setting does not allow its client
// tokens: any users route with "none", a change with "read".
func (a App) UsersAccess(write bool) error {
	switch {
	case a.Settings.Users == UsersNone:
		return apierr.Forbidden("This application's client tokens may not access users (settings.users is none)")
	case write && a.Settings.Users == UsersRead:
		return apierr.Forbidden("This application's client tokens may only read users (settings.users is read)")
	}
	return nil
}

// set copies *v into *dst when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
