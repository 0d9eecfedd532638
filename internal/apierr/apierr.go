// Package apierr owns the one error type that reaches API callers: an HTTP status, a Mosaic
// error_code and a message. It must never carry a secret, code or token in its message.
package apierr

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is an error a caller is meant to see. Code is the symbolic Mosaic error_code; when it is
// empty the numeric HTTP status is written as error_code (Mosaic's InvalidTokenHttpError shape).
type Error struct {
	Status     int
	Code       string
	Message    string
	TSCode     string // ts_error_code, used by the users API's 409
	RetryAfter int    // seconds; sets the Retry-After header when > 0
	// ResetToken is the reset_token of a password that must be replaced (ResetRequired); it is
	// written to the body only, never to Error()'s text.
	ResetToken string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// MarshalJSON writes the Mosaic error body.
func (e *Error) MarshalJSON() ([]byte, error) {
	body := map[string]any{"message": e.Message}
	if e.Code == "" {
		body["error_code"] = e.Status
	} else {
		body["error_code"] = e.Code
	}
	if e.TSCode != "" {
		body["ts_error_code"] = e.TSCode
	}
	if e.ResetToken != "" {
		body["reset_token"] = e.ResetToken
	}
	return json.Marshal(body)
}

// New returns an Error with the given status, code and message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Invalid is the 400 for bad input; the message always starts with the field's name.
func Invalid(field, problem string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "system_invalid_input", Message: field + ": " + problem}
}

// InvalidToken is the exact 401 for a missing or bad Bearer token.
func InvalidToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Message: "Invalid token"}
}

// Forbidden is a 403 for a valid token of the wrong kind or scope.
func Forbidden(message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: message}
}

// NotFound is a 404 with a symbolic code.
func NotFound(code, message string) *Error {
	return &Error{Status: http.StatusNotFound, Code: code, Message: message}
}

// Conflict is a 409 with a symbolic code.
func Conflict(code, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: message}
}

// InvalidCredentials is the 400 for a wrong, expired or used code.
func InvalidCredentials(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "auth_invalid_credentials", Message: message}
}

// Locked is the 403 for an identifier locked after too many failures.
func Locked(message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "auth_locked", Message: message}
}

// RateLimited is the 429 with a Retry-After in seconds.
func RateLimited(retryAfter int) *Error {
	if retryAfter < 1 {
		retryAfter = 1
	}
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded",
		Message: fmt.Sprintf("Too many requests, retry in %d seconds", retryAfter), RetryAfter: retryAfter}
}

// ResetRequired is Mosaic's 403 for a right password that must be replaced before it logs in:
// reason is "temporary_password" or "password_expired", and token the reset_token that replaces it.
func ResetRequired(reason, token string) *Error {
	return &Error{Status: http.StatusForbidden, Message: reason, ResetToken: token}
}

// UserNotFound is the 404 for an unknown user.
func UserNotFound() *Error { return NotFound("user_not_found", "User not found") }

// MFARequired is the 403 for what needs a second factor the session does not hold.
func MFARequired(message string) *Error { return New(403, "auth_mfa_required", message) }

// UserNotActive is the 403 for a user whose status does not let them log in.
func UserNotActive() *Error { return New(403, "user_not_active", "User is not active") }

// Unavailable is the 503 for a request that could not reach the database (a restart, a failover,
// a full disk): nothing was done, and the same request may succeed in a second.
func Unavailable() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
		Message: "The service is unavailable for a moment, retry in 1 second", RetryAfter: 1}
}

// Overloaded is the 503 for a request shed because the server has as many in flight as it may
// take: it was not started.
func Overloaded() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
		Message: "The server is busy, retry in 1 second", RetryAfter: 1}
}

// Internal is the 500 body; it never carries detail.
func Internal() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Internal server error"}
}
