package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/token"
)

type loggerKey struct{}
type principalKey struct{}

// requestID gives every request an id (X-Request-Id), a logger carrying it, and a body limit.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		// No answer is to be sniffed into another type than it says (a JSON error that echoes a
		// path must never run as HTML): pages, metrics and the mux's own answers included.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ctx := context.WithValue(r.Context(), loggerKey{}, s.Log.With("request_id", id))
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		if field, ok := storableURL(r); !ok {
			writeError(w, r, apierr.Invalid(field, "must be valid UTF-8 without NUL characters"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 without detail.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times requests by route pattern, and logs each at debug level (method,
// route, status, duration — never a body, query string or header value).
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	var latency = s.Metrics.Latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		latency.Observe(d.Seconds())
		s.Metrics.Requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		// A 503 is logged where its cause is (writeError logs the database error; a shed request
		// is counted in latch_http_shed_total): under overload a line per request would add load.
		if sw.status >= 500 && sw.status != http.StatusServiceUnavailable {
			logger(r).Error("request", "route", route, "status", sw.status, "duration_ms", d.Milliseconds())
		} else {
			logger(r).Debug("request", "route", route, "status", sw.status, "duration_ms", d.Milliseconds())
		}
	})
}

// authKind is the kind of Bearer token a route requires.
type authKind int

const (
	authNone   authKind = iota
	authClient          // a client access token of an app's client; an admin token is refused (403)
	authUser            // a user access token of a live session
	authAdmin           // an admin token (a management app's client token); a client token is refused (403)
	authUsers           // the users API: a client token (as its app's users setting allows) or an admin token
)

// Principal is who a verified Bearer token speaks for.
type Principal struct {
	Claims token.Claims
}

// AppID is the application the token was issued to.
func (p Principal) AppID() string { return p.Claims.AppID }

func principal(r *http.Request) Principal {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return p
}

// authenticate is the one bearer middleware: it checks that the token is of the kind the route
// declares and still live (checkToken).
func (s *Server) authenticate(kind authKind, next http.Handler) http.Handler {
	if kind == authNone {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			writeError(w, r, apierr.InvalidToken())
			return
		}
		c, err := s.checkToken(r.Context(), kind, raw)
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, Principal{Claims: c})))
	})
}

// checkToken verifies a Bearer token for a route of kind: signature, issuer, expiry and audience
// in memory; its kind; its client and application not deleted (cached: on every node within the
// app cache's TTL, on the node that deleted it at once); and not revoked — a user token's session
// live and its jti not revoked, in the one read of its session; a client token's jti not among the
// node's copy of revoked client tokens (at most a second old). Refusals are *apierr.Error.
func (s *Server) checkToken(ctx context.Context, kind authKind, raw string) (token.Claims, error) {
	c, err := s.Tokens.Verify(raw, token.APIAudience)
	if err != nil {
		return token.Claims{}, apierr.InvalidToken()
	}
	if refusal := kindRefusal(kind, c); refusal != nil {
		return token.Claims{}, refusal
	}
	if live, err := s.Apps.ClientLive(ctx, c.ClientID, c.AppID); err != nil {
		return token.Claims{}, err
	} else if !live {
		return token.Claims{}, apierr.InvalidToken()
	}
	if live, err := s.Sessions.AccessTokenLive(ctx, c); err != nil {
		return token.Claims{}, err
	} else if !live {
		return token.Claims{}, apierr.InvalidToken()
	}
	return c, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}

// kindRefusal says why a verified token may not call a route of kind: nil when it may, the 401
// when it is not a token of the route's family (a user token on a client or admin route, and
// the reverse), a 403 when it is a client token of the wrong role (an admin token on a login
// route, an app's client token on an admin route).
func kindRefusal(kind authKind, c token.Claims) *apierr.Error {
	isClient := c.SessionID == "" && c.Subject != "" && c.Subject == c.ClientID
	isAdmin := isClient && slices.Contains(c.Roles, token.AdminRole)
	switch kind {
	case authUser:
		if c.SessionID != "" && c.Subject != c.ClientID {
			return nil
		}
	case authClient:
		if isAdmin {
			return apierr.Forbidden("An admin token cannot call the login APIs; use a client token of the application")
		}
		if isClient {
			return nil
		}
	case authAdmin:
		if isAdmin {
			return nil
		}
		if isClient {
			return apierr.Forbidden("This route needs an admin token (the client_credentials token of a management application)")
		}
	case authUsers:
		if isClient {
			return nil
		}
	}
	return apierr.InvalidToken()
}

// isAdmin reports whether the request's verified token is an admin token.
func isAdmin(r *http.Request) bool {
	return slices.Contains(principal(r).Claims.Roles, token.AdminRole)
}

// storableURL checks that the path and query values are valid UTF-8 without NUL characters —
// text every database can store — and names the offending part when they are not.
func storableURL(r *http.Request) (string, bool) {
	if !storable(r.URL.Path) {
		return "path", false
	}
	for k, vs := range r.URL.Query() {
		if !storable(k) {
			return "query", false
		}
		for _, v := range vs {
			if !storable(v) {
				return k, false
			}
		}
	}
	return "", true
}

// storable reports whether s is valid UTF-8 without NUL characters.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
