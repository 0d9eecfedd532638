package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// BenchmarkBearerCheck is the bearer middleware alone (no network, a handler that does nothing)
// for a user token — signature cached, client cached, then its session's (and jti's) database
// read — and for a client token, which reads nothing from the database. Run in parallel, as
// requests are.
func BenchmarkBearerCheck(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			ts := newTestServer(b, e.DSN(b))
			uid := ts.CreateUser(b, ts.ClientToken(b), map[string]any{"email": "bench@example.com"})
			userTok, _ := ts.userLogin(b, uid)
			for _, kind := range []struct {
				name string
				auth httpapi.AuthKind
				tok  string
			}{{"user", httpapi.AuthUser, userTok}, {"client", httpapi.AuthClient, ts.ClientToken(b)}} {
				b.Run(kind.name, func(b *testing.B) {
					h := ts.API.Authenticate(kind.auth, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							req := httptest.NewRequest(http.MethodGet, "/x", nil)
							req.Header.Set("Authorization", "Bearer "+kind.tok)
							w := httptest.NewRecorder()
							h.ServeHTTP(w, req)
							if w.Code != http.StatusNoContent {
								b.Fatalf("status %d: %s", w.Code, w.Body)
							}
						}
					})
				})
			}
		})
	}
}
