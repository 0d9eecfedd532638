package httpapi

import "net/http"

// AuthKind is the kind of Bearer token a route requires, for the external tests.
type AuthKind = authKind

// The auth kinds of the route table.
const (
	AuthNone   = authNone
	AuthClient = authClient
	AuthUser   = authUser
	AuthAdmin  = authAdmin
	AuthUsers  = authUsers
)

// Route is one row of the route table without its handler.
type Route struct {
	Pattern string
	Auth    AuthKind
	// Described is the operation openapi.yaml describes the route as ("METHOD /path"):
	// Pattern unless describedAs says otherwise.
	Described string
}

// Routes lists the route table of s.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.routes() {
		d := r.pattern
		if as, ok := describedAs[r.pattern]; ok {
			d = as
		}
		out = append(out, Route{Pattern: r.pattern, Auth: r.auth, Described: d})
	}
	return out
}

// Authenticate is the bearer middleware for a route of kind.
func (s *Server) Authenticate(kind AuthKind, next http.Handler) http.Handler {
	return s.authenticate(kind, next)
}

// OpenAPIDoc is the embedded openapi.yaml.
var OpenAPIDoc = openapiDoc
