// Package httpapi owns Latch's HTTP surface: the route table, middleware (request id, logging,
// metrics, body limit, bearer auth), strict JSON decoding with field-named 400s, and the mapping of
// errors to Mosaic bodies. Handlers are thin: they decode, call one service method, and encode.
// It never logs a request body, a code or a token.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/signin"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// Server holds the services the handlers call. node.New builds it with every one of them (and Web
// whenever Dev is set): none is optional, so no check is skipped for a missing one.
type Server struct {
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	Store    store.Store
	Apps     *app.Service
	Users    *user.Service
	Tokens   *token.Signer
	Keys     *token.KeyRing
	Issuer   string
	Sessions *session.Service
	OTP      *otp.Flow
	Links    *magiclink.Flow
	TOTP     *totp.Service
	Hosted   *hosted.Flow
	OIDC     *signin.Provider // Latch as an OpenID Connect provider: authorization, sign-in pages, logout
	// Passwords keeps password credentials and serves password logins and resets.
	Passwords *password.Service
	Dev       bool         // serve the dev outbox and demo
	Web       http.Handler // the dev outbox pages and the demo app (set when Dev is)
	// MaxInFlight is how many requests may run at once before new ones are shed with a 503
	// (see shed.go); 0: no limit.
	MaxInFlight int

	admission admission

	grants map[string]grantFunc
}

// Handler builds the route table and middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.grants = s.grantTable()
	for _, r := range s.routes() {
		mux.Handle(r.pattern, s.instrument(r.pattern, s.admit(r.pattern, s.authenticate(r.auth, r.handler))))
	}
	mux.Handle("/", s.instrument("unmatched", http.HandlerFunc(s.notFound)))
	return s.requestID(s.recoverPanics(mux))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, &apiError{status: http.StatusNotFound, code: "not_found", message: "No route for " + r.Method + " " + r.URL.Path})
}
