package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/store"
)

type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jsonHeaders(w)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonHeaders labels a JSON answer: no cache may keep it (tokens, codes, user data, and keys
// that rotate), and no browser may read it as anything but JSON.
func jsonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeError maps err to its Mosaic body. Anything that is not an *apierr.Error is a bug: it is
// logged with the request id and answered with a 500 that carries no detail.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apierr.Error
	var local *apiError
	var wrapped interface{ APIError() *apierr.Error }
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// The database could not be reached or could not take the write: not a bug, and the
		// client should come back in a second (product.md, "The database going away").
		logger(r).Warn("database unavailable", "err", err)
		ae = apierr.Unavailable()
	case errors.Is(err, store.ErrUnstorableText):
		// A value the database cannot store as text (PostgreSQL refuses NUL bytes and invalid
		// UTF-8): bad input, not a server fault. The edges reject most of these before.
		ae = apierr.Invalid("request", "contains characters that cannot be stored (NUL or invalid UTF-8)")
	case errors.As(err, &wrapped):
		// An error that maps to an API answer but whose cause belongs in the log (a provider failure).
		logger(r).Error("request failed", "err", err)
		ae = wrapped.APIError()
	case errors.As(err, &ae):
	case errors.As(err, &local):
		ae = &apierr.Error{Status: local.status, Code: local.code, Message: local.message}
	default:
		logger(r).Error("internal error", "err", err)
		ae = apierr.Internal()
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, ae)
}

// logger returns the request's logger (with its request id).
func logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
