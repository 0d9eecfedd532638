package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// testAppsUpdate: an update replaces the application's fields and a client's name, secrets and
// grace, and refuses a taken name or an unknown id.
func testAppsUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	a := store.App{ID: "app1", TenantID: tn.ID, Name: "one", Settings: []byte(`{}`), CreatedAt: t0}
	if err := s.CreateApp(ctx, a, store.Client{ClientID: "c1", AppID: "app1", SecretHash: "h1", Name: "first", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateApp(ctx, store.App{ID: "app2", TenantID: tn.ID, Name: "two", Settings: []byte(`{}`), CreatedAt: t0},
		store.Client{ClientID: "c2", AppID: "app2", SecretHash: "h2", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	a.Name, a.Description, a.RedirectURIs, a.AllowSignup, a.Resources = "uno", "the first", []string{"https://x/cb"}, true, []string{"https://api"}
	a.Settings, a.UpdatedAt = []byte(`{"otp_length":8}`), later
	if err := s.UpdateApp(ctx, a, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetApp(ctx, "app1")
	if err != nil || got.Name != "uno" || got.Description != "the first" || !got.AllowSignup || len(got.RedirectURIs) != 1 ||
		got.Resources[0] != "https://api" || string(got.Settings) != `{"otp_length":8}` || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("after UpdateApp: %+v %v", got, err)
	}
	// A change read before the last one is refused and writes nothing.
	stale := a
	stale.Description, stale.UpdatedAt = "lost", later.Add(time.Second)
	if err := s.UpdateApp(ctx, stale, time.Time{}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("UpdateApp from a stale read: %v, want ErrStale", err)
	}
	if got, _ := s.GetApp(ctx, "app1"); got.Description != "the first" {
		t.Fatalf("a stale update was written: %+v", got)
	}
	a.Name = "two"
	if err := s.UpdateApp(ctx, a, later); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateApp to a taken name: %v, want ErrConflict", err)
	}
	if err := s.UpdateApp(ctx, store.App{ID: "ghost", Name: "ghost", Settings: []byte(`{}`)}, time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateApp of an unknown app: %v, want ErrNotFound", err)
	}

	c, err := s.GetClient(ctx, "c1")
	if err != nil || c.Name != "first" || c.PrevSecretHash != "" || !c.PrevSecretExpires.IsZero() || !c.UpdatedAt.IsZero() {
		t.Fatalf("GetClient before update: %+v %v", c, err)
	}
	grace := later.Add(time.Hour)
	c.Name, c.Description, c.SecretHash, c.PrevSecretHash, c.PrevSecretExpires, c.UpdatedAt = "renamed", "d", "h1b", "h1", grace, later
	c.AppID, c.Admin = "app2", true // neither may change
	if err := s.UpdateClient(ctx, c, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateClient(ctx, store.Client{ClientID: "c1", Name: "lost", SecretHash: "x"}, time.Time{}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("UpdateClient from a stale read: %v, want ErrStale", err)
	}
	c, err = s.GetClient(ctx, "c1")
	if err != nil || c.Name != "renamed" || c.Description != "d" || c.SecretHash != "h1b" || c.PrevSecretHash != "h1" ||
		!c.PrevSecretExpires.Equal(grace) || !c.UpdatedAt.Equal(later) || c.AppID != "app1" || c.Admin {
		t.Fatalf("after UpdateClient: %+v %v", c, err)
	}
	if err := s.UpdateClient(ctx, store.Client{ClientID: "ghost"}, time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateClient of an unknown client: %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetClient(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted client: %v", err)
	}
	if err := s.DeleteClient(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteClient: %v, want ErrNotFound", err)
	}
}

// testAppsDelete: deleting an application removes its clients, sessions and refresh tokens and
// leaves another application's alone.
func testAppsDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	for _, id := range []string{"app1", "app2"} {
		if err := s.CreateApp(ctx, store.App{ID: id, TenantID: "tenant1", Name: id, Settings: []byte(`{}`), CreatedAt: t0},
			store.Client{ClientID: "c-" + id, AppID: id, SecretHash: "h", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r1", "s1", t0))
	other := newSession("s2", "u2", t0)
	other.AppID = "app2"
	mustSaveLogin(t, s, other, true, newRefresh("r2", "s2", t0))

	if err := s.DeleteApp(ctx, "app1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetApp(ctx, "app1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted app: %v", err)
	}
	if _, err := s.GetClient(ctx, "c-app1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client of a deleted app: %v", err)
	}
	if live, err := s.SessionLive(ctx, "s1", t0); err != nil || live {
		t.Fatalf("session of a deleted app live = %v (%v)", live, err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r1", newRefresh("r1b", "s1", t0), t0); err == nil {
		t.Fatal("refresh token of a deleted app rotated")
	}
	if live, err := s.SessionLive(ctx, "s2", t0); err != nil || !live {
		t.Fatalf("another app's session live = %v (%v), want true", live, err)
	}
	if _, err := s.GetClient(ctx, "c-app2"); err != nil {
		t.Fatalf("another app's client: %v", err)
	}
	if u, err := s.GetUser(ctx, "u1"); err != nil || u.ID != "u1" {
		t.Fatalf("users are the tenant's, not the app's: %+v %v", u, err)
	}
	if err := s.DeleteApp(ctx, "app1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteApp: %v, want ErrNotFound", err)
	}
}

// testUserByExternalID: the lookup matches the profile's external_user_id exactly (no LIKE
// wildcard, no other field, no prefix), oldest first.
func testUserByExternalID(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	mk := func(id, profile string, at time.Time) {
		u := newUser(tn, id, id+"@example.com", "", "", at)
		u.Profile = []byte(profile)
		mustCreateUser(t, s, u)
	}
	mk("u1", `{"external_user_id":"ext_1"}`, t0)
	mk("u2", `{"external_user_id":"ext%1"}`, t0.Add(time.Second))
	mk("u3", `{"custom_data":{"external_user_id":"dup"},"external_user_id":"dup"}`, t0.Add(2*time.Second))
	mk("u4", `{"external_user_id":"dup"}`, t0.Add(3*time.Second))
	mk("u5", `{"custom_data":{"external_user_id":"nested"}}`, t0.Add(4*time.Second))
	for id, want := range map[string]string{"ext_1": "u1", "ext%1": "u2", "dup": "u3"} {
		if u, err := s.GetUserByExternalID(ctx, id); err != nil || u.ID != want {
			t.Errorf("GetUserByExternalID(%q) = %q, %v; want %q", id, u.ID, err, want)
		}
	}
	for _, id := range []string{"ext", "ext_", "extX1", "nested", "%", ""} {
		if u, err := s.GetUserByExternalID(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUserByExternalID(%q) = %q, %v; want ErrNotFound", id, u.ID, err)
		}
	}
}

// testEndUserAppSessions ends one user's sessions in one application only.
func testEndUserAppSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, store.RefreshToken{})
	other := newSession("s2", "u1", t0)
	other.AppID = "app2"
	mustSaveLogin(t, s, other, true, store.RefreshToken{})
	mustSaveLogin(t, s, newSession("s3", "u2", t0), true, store.RefreshToken{})
	n, err := s.EndUserAppSessions(ctx, "u1", "app1", t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("EndUserAppSessions = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]bool{"s1": false, "s2": true, "s3": true} {
		if live, err := s.SessionLive(ctx, id, t0.Add(time.Minute)); err != nil || live != want {
			t.Errorf("session %s live = %v (%v), want %v", id, live, err, want)
		}
	}
}
