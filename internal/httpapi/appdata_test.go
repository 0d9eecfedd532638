package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// TestAppDataBelongsToItsApp: custom_app_data and external_account_id belong to the application
// that wrote them: another application's client token neither sees nor changes them, while the
// user's shared attributes are the same for both.
func TestAppDataBelongsToItsApp(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := latchtest.Start(t, e.DSN(t), latchtest.Options{})
			tokA := s.ClientToken(t)
			creds, err := s.Apps.CreateApp(context.Background(), app.NewApp{Name: "other"})
			if err != nil {
				t.Fatal(err)
			}
			r := s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, creds.ClientID, creds.ClientSecret)
			tokB := r.String("access_token")
			if tokB == "" {
				t.Fatalf("app B token: %d %s", r.Status, r.Body)
			}
			created := s.Do(t, http.MethodPost, "/cis/v1/users", tokA, map[string]any{"email": "shared@example.com",
				"custom_data": map[string]any{"plan": "gold"}, "external_account_id": "acct-A", "custom_app_data": map[string]any{"a": 1}})
			if created.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", created.Status, created.Body)
			}
			id := created.Object(t)["result"].(map[string]any)["user_id"].(string)
			get := func(tok string) map[string]any {
				t.Helper()
				r := s.Do(t, http.MethodGet, "/cis/v1/users/"+id, tok, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("get: %d %s", r.Status, r.Body)
				}
				return r.Object(t)["result"].(map[string]any)
			}
			a, b := get(tokA), get(tokB)
			if a["external_account_id"] != "acct-A" || a["custom_app_data"].(map[string]any)["a"] != float64(1) {
				t.Fatalf("app A's own data: %v", a)
			}
			if _, ok := b["custom_app_data"]; ok {
				t.Fatalf("app B sees app A's custom_app_data: %v", b)
			}
			if _, ok := b["external_account_id"]; ok {
				t.Fatalf("app B sees app A's external_account_id: %v", b)
			}
			if _, ok := b["app_data"]; ok {
				t.Fatalf("the per-app store leaks: %v", b)
			}
			if b["custom_data"].(map[string]any)["plan"] != "gold" {
				t.Fatalf("shared custom_data: %v", b)
			}
			// B writes its own; A's is untouched.
			if r := s.Do(t, http.MethodPut, "/cis/v1/users/"+id, tokB, map[string]any{"custom_app_data": map[string]any{"b": 2}, "external_account_id": "acct-B"}); r.Status != http.StatusOK {
				t.Fatalf("update by B: %d %s", r.Status, r.Body)
			}
			a, b = get(tokA), get(tokB)
			if a["external_account_id"] != "acct-A" || a["custom_app_data"].(map[string]any)["b"] != nil {
				t.Fatalf("app B changed app A's data: %v", a)
			}
			if b["external_account_id"] != "acct-B" || b["custom_app_data"].(map[string]any)["b"] != float64(2) {
				t.Fatalf("app B's own data: %v", b)
			}
			list := s.Do(t, http.MethodGet, "/cis/v1/users", tokB, nil).Object(t)["result"].([]any)
			for _, u := range list {
				if u.(map[string]any)["external_account_id"] == "acct-A" {
					t.Fatal("app B's listing shows app A's data")
				}
			}
		})
	}
}
