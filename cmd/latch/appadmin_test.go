package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
)

// TestAppAndClientAdminCommands: latch app list|get|update|delete and latch client
// list|rotate-secret|delete work on the same services as the API, print its shapes with --json,
// and name the field or id a refusal is about.
func TestAppAndClientAdminCommands(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			cliEnv(t)
			e := eng.setup(t)
			cli := func(t *testing.T, args ...string) (string, error) {
				t.Helper()
				return runCLI(t, append(args, e.storage...)...)
			}
			decode := func(t *testing.T, out string, v any) {
				t.Helper()
				if err := json.Unmarshal([]byte(out), v); err != nil {
					t.Fatalf("output is not JSON: %v: %q", err, out)
				}
			}
			authenticates := func(t *testing.T, clientID, secret string) bool {
				t.Helper()
				var ok bool
				err := withNode(&config.Config{DataDir: e.dataDir, Database: cmp.Or(e.dsn, "sqlite")}, func(ctx context.Context, n *node.Node) error {
					_, _, err := n.Apps.Authenticate(ctx, clientID, secret)
					ok = err == nil
					if errors.Is(err, app.ErrBadClient) {
						return nil
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}

			out, err := cli(t, "app", "create", "--name", "shop", "--json")
			if err != nil {
				t.Fatal(err)
			}
			shop := decodeExactly(t, out, "app_id", "client_id", "client_secret")

			out, err = cli(t, "app", "list", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var list []map[string]any
			decode(t, out, &list)
			if len(list) != 1 || list[0]["app_id"] != shop["app_id"] || list[0]["app_name"] != "shop" || list[0]["client_secret"] != nil {
				t.Fatalf("app list: %s", out)
			}

			out, err = cli(t, "app", "update", "--id", shop["app_id"], "--name", "shop2", "--setting", "otp_length=8",
				"--setting", "require_mfa=true", "--setting", "users=read", "--redirect-uri", "https://shop.example/cb", "--json")
			if err != nil {
				t.Fatalf("app update: %v", err)
			}
			var got map[string]any
			decode(t, out, &got)
			st, _ := got["settings"].(map[string]any)
			if got["app_name"] != "shop2" || st["otp_length"] != 8.0 || st["require_mfa"] != true || st["users"] != "read" || st["send_limit"] != 5.0 {
				t.Errorf("app update --json: %s", out)
			}
			out, err = cli(t, "app", "get", "--id", shop["app_id"], "--json")
			if err != nil {
				t.Fatal(err)
			}
			var again map[string]any
			decode(t, out, &again)
			if uris, _ := again["redirect_uris"].([]any); again["app_name"] != "shop2" || len(uris) != 1 {
				t.Errorf("app get after update: %s", out)
			}
			for _, tc := range []struct {
				args []string
				want string
			}{
				{[]string{"--setting", "otp_length=3"}, "otp_length"},
				{[]string{"--setting", "users=everyone"}, "users"},
				{[]string{"--setting", "require_mfa=maybe"}, "require_mfa"},
				{[]string{"--setting", "nope=1"}, "nope"},
				{[]string{"--redirect-uri", "ftp://x"}, "redirect_uris"},
				{[]string{"--name", ""}, "app_name"},
			} {
				if _, err := cli(t, append([]string{"app", "update", "--id", shop["app_id"], "--json"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("app update %v: err = %v, want one naming %s", tc.args, err, tc.want)
				}
			}
			if _, err := cli(t, "app", "get", "--id", "no-such-app"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "not found") {
				t.Errorf("app get of an unknown id: %v", err)
			}

			out, err = cli(t, "client", "list", "--app", shop["app_id"], "--json")
			if err != nil {
				t.Fatal(err)
			}
			var clients []map[string]any
			decode(t, out, &clients)
			if len(clients) != 1 || clients[0]["client_id"] != shop["client_id"] || clients[0]["client_secret"] != "" {
				t.Fatalf("client list: %s", out)
			}
			if strings.Contains(out, shop["client_secret"]) {
				t.Fatal("client list printed a secret")
			}

			// rotate without grace: the old secret is refused at once
			out, err = cli(t, "client", "rotate-secret", "--client", shop["client_id"], "--json")
			if err != nil {
				t.Fatal(err)
			}
			second := decodeExactly(t, out, "app_id", "client_id", "client_secret")
			if second["client_secret"] == shop["client_secret"] || second["client_id"] != shop["client_id"] {
				t.Fatalf("rotate-secret: %v", second)
			}
			if authenticates(t, shop["client_id"], shop["client_secret"]) || !authenticates(t, shop["client_id"], second["client_secret"]) {
				t.Error("after rotate-secret without --grace: the old secret must fail and the new one work")
			}
			// with grace: both work
			out, err = cli(t, "client", "rotate-secret", "--client", shop["client_id"], "--app", shop["app_id"], "--grace", "1h", "--json")
			if err != nil {
				t.Fatal(err)
			}
			third := decodeExactly(t, out, "app_id", "client_id", "client_secret")
			if !authenticates(t, shop["client_id"], second["client_secret"]) || !authenticates(t, shop["client_id"], third["client_secret"]) {
				t.Error("after rotate-secret --grace 1h: the previous and the new secret must both work")
			}
			if _, err := cli(t, "client", "rotate-secret", "--client", shop["client_id"], "--grace", "-1s"); err == nil || !strings.Contains(err.Error(), "grace") {
				t.Errorf("rotate-secret --grace -1s: %v", err)
			}
			if _, err := cli(t, "client", "rotate-secret", "--client", "no-such-client"); err == nil || !strings.Contains(err.Error(), "no-such-client") {
				t.Errorf("rotate-secret of an unknown client: %v", err)
			}

			if _, err := cli(t, "client", "delete", "--client", shop["client_id"], "--json"); err != nil {
				t.Fatal(err)
			}
			if authenticates(t, shop["client_id"], third["client_secret"]) {
				t.Error("a deleted client still authenticates")
			}
			if _, err := cli(t, "app", "delete", "--id", shop["app_id"], "--json"); err != nil {
				t.Fatal(err)
			}
			if _, err := cli(t, "app", "get", "--id", shop["app_id"]); err == nil {
				t.Error("app get after delete succeeded")
			}
			if _, err := cli(t, "app", "delete", "--id", shop["app_id"]); err == nil {
				t.Error("a second app delete succeeded")
			}
		})
	}
}
