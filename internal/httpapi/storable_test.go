package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// TestUnstorableTextIs400: NUL characters and invalid UTF-8 — which PostgreSQL refuses to store —
// get a 400 naming where they were, on every engine, wherever they come in: JSON body, form body,
// path, query.
func TestUnstorableTextIs400(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := latchtest.Start(t, e.DSN(t), latchtest.Options{})
			tok := s.ClientToken(t)
			for _, tc := range []struct {
				name string
				do   func() latchtest.Response
			}{
				{"form_invalid_utf8", func() latchtest.Response {
					return s.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"\xff"}, "client_secret": {"x"}}, "", "")
				}},
				{"json_nul", func() latchtest.Response {
					return s.Do(t, http.MethodPost, "/cis/v1/token", "", `{"client_id":"\u0000","client_secret":"x","code":"c"}`)
				}},
				{"json_nul_in_identifier", func() latchtest.Response {
					return s.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", tok, `{"channel":"direct","identifier_type":"user_id","identifier":"a\u0000"}`)
				}},
				{"path_nul", func() latchtest.Response { return s.Do(t, http.MethodGet, "/cis/v1/users/a%00b", tok, nil) }},
				{"path_invalid_utf8", func() latchtest.Response { return s.Do(t, http.MethodGet, "/cis/v1/users/username/%ff", tok, nil) }},
				{"query_nul", func() latchtest.Response { return s.Do(t, http.MethodGet, "/cis/v1/users?search=a%00", tok, nil) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := tc.do()
					if r.Status != http.StatusBadRequest {
						t.Fatalf("%d %s, want 400", r.Status, r.Body)
					}
				})
			}
		})
	}
}
