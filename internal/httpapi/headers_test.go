package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestJSONAnswersAreNeitherCachedNorSniffed: every JSON answer — tokens, keys, discovery, user
// data, the dev outbox, errors of every kind — carries Cache-Control: no-store and
// X-Content-Type-Options: nosniff.
func TestJSONAnswersAreNeitherCachedNorSniffed(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.ClientID}, "client_secret": {ts.ClientSecret}}
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.ClientID}, "client_secret": {"wrong"}}
	for name, r := range map[string]response{
		"token":           ts.Form(t, "/oidc/token", cc, "", ""),
		"token_error":     ts.Form(t, "/oidc/token", bad, "", ""),
		"jwks":            ts.Do(t, "GET", "/cis/oidc/jwks", "", nil),
		"discovery":       ts.Do(t, "GET", "/.well-known/openid-configuration", "", nil),
		"discovery_cis":   ts.Do(t, "GET", "/cis/oidc/.well-known/openid-configuration", "", nil),
		"user_created":    ts.Do(t, "POST", "/cis/v1/users", tok, map[string]any{"email": "h@example.com"}),
		"user_list":       ts.Do(t, "GET", "/cis/v1/users", tok, nil),
		"otp_direct":      ts.Do(t, "POST", "/cis/v1/auth/otp/send", tok, map[string]any{"channel": "direct", "identifier": "h@example.com"}),
		"invalid_token":   ts.Do(t, "GET", "/cis/v1/users", "not-a-token", nil),
		"invalid_body":    ts.Do(t, "POST", "/cis/v1/users", tok, "[1]"),
		"unknown_path":    ts.Do(t, "GET", "/cis/v1/nothing-here", "", nil),
		"healthz":         ts.Do(t, "GET", "/healthz", "", nil),
		"readyz":          ts.Do(t, "GET", "/readyz", "", nil),
		"dev_outbox_json": ts.Do(t, "GET", "/dev/outbox.json", "", nil),
	} {
		t.Run(name, func(t *testing.T) {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q (status %d): not a JSON answer", ct, r.Status)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store (status %d)", got, r.Status)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff (status %d)", got, r.Status)
			}
		})
	}
	t.Run("other_answers_are_not_sniffed_either", func(t *testing.T) {
		for _, p := range []string{"/metrics", "/openapi.yaml", "/dev/outbox"} {
			if r := ts.Do(t, http.MethodGet, p, "", nil); r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", p, r.Header.Get("X-Content-Type-Options"))
			}
		}
	})
}
