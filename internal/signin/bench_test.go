package signin_test

import (
	"testing"

	"github.com/latch-auth/latch/internal/store/storetest"
)

// BenchmarkSSOSignIn measures what an already signed-in browser costs a second app: the
// authorization request answered at once with a code (single sign-on), and the code's exchange at
// the token endpoint (PKCE, ID and access tokens, refresh token). One op is both requests.
func BenchmarkSSOSignIn(b *testing.B) {
	for _, eng := range storetest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			e := newEnv(b, eng.DSN(b))
			email := uniqueEmail("bench")
			e.CreateUser(b, e.token, map[string]any{"email": email})
			br := e.browser(b)
			e.signInByEmailCode(b, br, e.request(e.ClientID), email)
			for b.Loop() {
				q := e.request(e.ClientID, "prompt", "none")
				back := e.callback(b, br.authorize(q))
				if r := e.exchange(b, e.ClientID, e.ClientSecret, back.Get("code"), q.verifier); r.Status != 200 {
					b.Fatalf("exchange: %d %s", r.Status, r.Body)
				}
			}
		})
	}
}
