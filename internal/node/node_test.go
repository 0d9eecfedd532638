package node_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/storetest"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secret.KeySize)
	rand.Read(k)
	return k
}

// status answers the status of a GET of path on n's handler.
func status(n *node.Node, path string) int {
	rec := httptest.NewRecorder()
	n.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

// TestNew: the first New on an empty database creates the default application and its first
// client; a second node on the same store finds them. Dev mode serves the outbox and demo; a
// configured provider turns them off.
func TestNew(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	k := key(t)
	first, err := node.New(ctx, &config.Config{}, node.Options{BaseURL: "http://127.0.0.1:1/", Store: db, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if first.FirstClient == nil || first.DefaultApp.ID == "" || first.TenantID == "" {
		t.Fatalf("first start: client %v, app %q, tenant %q", first.FirstClient, first.DefaultApp.ID, first.TenantID)
	}
	if first.Issuer != "http://127.0.0.1:1" {
		t.Errorf("issuer %q, want the base URL without its trailing slash", first.Issuer)
	}
	if !first.DefaultApp.AllowsRedirect("http://127.0.0.1:1/demo/callback") {
		t.Errorf("default app redirect URIs %v, want the demo callback", first.DefaultApp.RedirectURIs)
	}
	for _, p := range []string{"/dev/outbox", "/demo", "/dev/outbox.json"} {
		if got := status(first, p); got != http.StatusOK {
			t.Errorf("dev mode GET %s = %d, want 200", p, got)
		}
	}

	withSMTP := &config.Config{Issuer: "https://login.example.com", SMTP: config.SMTP{Host: "127.0.0.1", Port: 1, From: "l@example.com", TLS: "none"}}
	second, err := node.New(ctx, withSMTP, node.Options{BaseURL: "http://127.0.0.1:2", Store: db, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if second.FirstClient != nil || second.DefaultApp.ID != first.DefaultApp.ID {
		t.Errorf("second node: client %v, app %s, want no new client and app %s", second.FirstClient, second.DefaultApp.ID, first.DefaultApp.ID)
	}
	if second.Issuer != "https://login.example.com" {
		t.Errorf("configured issuer: %q", second.Issuer)
	}
	for _, p := range []string{"/dev/outbox", "/demo", "/dev/outbox.json"} {
		if got := status(second, p); got != http.StatusNotFound {
			t.Errorf("with a provider GET %s = %d, want 404", p, got)
		}
	}
	if second.Delivery["email"] == "dev outbox" || second.Delivery["sms"] != "none" {
		t.Errorf("delivery %v, want smtp and no SMS", second.Delivery)
	}
}

// TestNewNeedsABaseURL: the issuer, the demo and the default app's callback all derive from it.
func TestNewNeedsABaseURL(t *testing.T) {
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	if _, err := node.New(context.Background(), &config.Config{}, node.Options{Store: db, Key: key(t)}); err == nil {
		t.Fatal("New without a BaseURL succeeded")
	}
}

// TestOpenRunsNoFirstStart: the admin commands' half of a node creates no application, so the
// first `latch serve` still shows the default client's secret.
func TestOpenRunsNoFirstStart(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	k := key(t)
	n, err := node.Open(ctx, &config.Config{}, node.Options{Store: db, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if n.Keys.KID() == "" || n.Apps == nil || n.Users == nil {
		t.Fatalf("Open: keys %q, apps %v, users %v", n.Keys.KID(), n.Apps, n.Users)
	}
	full, err := node.New(ctx, &config.Config{}, node.Options{BaseURL: "http://127.0.0.1:1", Store: db, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if full.FirstClient == nil {
		t.Fatal("Open ran the first start: New found a default application")
	}
}

// TestDefaultAppName: the first start names the default application after --app-name (on both
// engines); renamed later, it stays the default: the next start creates no other app and shows
// no secret.
func TestDefaultAppName(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, e.DSN(t))
			k := key(t)
			first, err := node.New(ctx, &config.Config{AppName: "Acme Shop"}, node.Options{BaseURL: "http://127.0.0.1:1", Store: db, Key: k})
			if err != nil {
				t.Fatal(err)
			}
			if first.FirstClient == nil || first.DefaultApp.Name != "Acme Shop" {
				t.Fatalf("first start: app %q, client %v", first.DefaultApp.Name, first.FirstClient)
			}
			renamed := "Acme"
			if _, err := first.Apps.UpdateApp(ctx, first.DefaultApp.ID, app.Update{Name: &renamed}); err != nil {
				t.Fatal(err)
			}
			again, err := node.New(ctx, &config.Config{}, node.Options{BaseURL: "http://127.0.0.1:1", Store: db, Key: k})
			if err != nil {
				t.Fatal(err)
			}
			if again.FirstClient != nil || again.DefaultApp.ID != first.DefaultApp.ID || again.DefaultApp.Name != "Acme" {
				t.Fatalf("after a rename: app %q %q, new client %v; want the renamed app and no new secret", again.DefaultApp.ID, again.DefaultApp.Name, again.FirstClient)
			}
			if apps, _ := db.ListApps(ctx); len(apps) != 1 {
				t.Fatalf("%d applications after two starts, want 1", len(apps))
			}
		})
	}
}

// TestCheckpointMetrics: an SQLite node exports its background checkpoints at /metrics.
func TestCheckpointMetrics(t *testing.T) {
	db := storetest.Open(t, storetest.Engines()[0].DSN(t)) // SQLite
	n, err := node.New(context.Background(), &config.Config{}, node.Options{BaseURL: "http://127.0.0.1:1", Store: db, Key: key(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`latch_sqlite_checkpoints_total\{outcome="ok"\} [1-9]`)
	body := ""
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rec := httptest.NewRecorder()
		n.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if body = rec.Body.String(); want.MatchString(body) {
			if !strings.Contains(body, `latch_sqlite_checkpoints_total{outcome="failed"} 0`) {
				t.Fatalf("failed checkpoints on a healthy disk:\n%s", body)
			}
			return
		}
	}
	t.Fatalf("no background checkpoint counted at /metrics:\n%s", body)
}
