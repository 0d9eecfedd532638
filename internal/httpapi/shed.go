package httpapi

import (
	"net/http"
	"sync/atomic"

	"github.com/latch-auth/latch/internal/apierr"
)

// Load shedding. Past the rate it can serve, a server that queues every request makes every
// request late: latency grows without bound and clients time out on work that was done anyway.
// Latch instead lets at most MaxInFlight requests run at once and answers the next ones at once
// with 503 service_unavailable and Retry-After: 1, before any work (not even the token check).
//
// A login is two requests (send, then authenticate): shedding the second wastes the first. So a
// request that starts a flow (startsFlow) is admitted only while fewer than 3/4 of the limit are
// in flight; the rest of the room is kept for requests that finish a login already begun. Under
// overload the new logins are the ones refused, and those that got their code complete.
//
// Health, readiness and metrics are never shed (an orchestrator must see an overloaded node as
// alive and ready), and neither is the landing page nor anything not in the route table.

// startsFlow are the routes that begin a login (or create what one needs).
var startsFlow = map[string]bool{
	"POST /cis/v1/auth/otp/send":               true,
	"POST /cis/v1/auth/link/email/send":        true,
	"POST /cis/v1/auth/links/email":            true,
	"POST /cis/v1/auth/otp/email":              true,
	"POST /cis/v1/auth/otp/sms":                true,
	"POST /cis/v1/auth/totp/transaction/start": true,
	"POST /cis/v1/users":                       true,
	// hosted passwords: the login (its URL and code exchange follow) and the starts of a reset
	"POST /cis/v1/auth/password/login":                   true,
	"POST /cis/v1/auth/password/reset/email/link":        true,
	"POST /cis/v1/auth/password/reset/link":              true,
	"POST /cis/v1/auth/password/reset/email/otp":         true,
	"POST /cis/v1/auth/password/reset/sms/otp":           true,
	"POST /cis/v1/auth/password/reset/password/validate": true,
}

// neverShed are the routes every request of which runs, however busy the server is.
var neverShed = map[string]bool{
	"GET /healthz": true,
	"GET /readyz":  true,
	"GET /metrics": true,
	"/{$}":         true,
}

// admission counts the requests in flight across every shed route.
type admission struct {
	inFlight atomic.Int64
}

// admit wraps a route's handler with the in-flight limit (none when MaxInFlight is 0).
func (s *Server) admit(route string, next http.Handler) http.Handler {
	if s.MaxInFlight <= 0 || neverShed[route] {
		return next
	}
	limit := int64(s.MaxInFlight)
	if startsFlow[route] {
		limit = max(1, limit*3/4)
	}
	shed := s.Metrics.Shed.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.admission.inFlight.Add(1); n > limit {
			s.admission.inFlight.Add(-1)
			shed.Inc()
			writeError(w, r, apierr.Overloaded())
			return
		}
		defer s.admission.inFlight.Add(-1)
		next.ServeHTTP(w, r)
	})
}
