package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// What the person was doing when Latch refused: the same refusal reads differently on each
// form, and a signed-out visitor must never learn whether an account exists.
type action int

const (
	actSend       action = iota // asking for a code or a link
	actCode                     // typing a code sent by email or SMS
	actTOTPSignIn               // signing in, signed out, with an email and an authenticator code
	actTOTP                     // a code from the authenticator app, signed in
)

// lockFor is how long Latch locks a method after too many wrong codes (its default; Latch says
// when a lock ends only by Retry-After, when it sends one).
const lockFor = 15 * time.Minute

// resendWait is how long the demo makes a person wait before "send a new code" (product.md:
// Latch's own pages make the user wait 30 s).
const resendWait = 30 * time.Second

// Lifetimes the demo asks for, so that it can say them.
const (
	codeMinutes = 5
	linkMinutes = 10
)

// The one message of a failed sign-in with an authenticator app, whatever failed: a wrong code,
// an address without an account or without an authenticator, a disabled account, a lock.
const totpSignInFailed = "Those did not work. Check the email address and the current code in your authenticator app, and try again. " +
	"After 5 failed attempts, signing in with the app is paused for 15 minutes."

// Messages of a refused one-time code.
const (
	codeWrong   = "That code is wrong, or it has already been used. Check it and try again."
	codeExpired = "That code has expired. Ask for a new one below."
	totpWrong   = "That code is wrong or was already used. Wait for the next code in your authenticator app and try again."
)

// explain turns a refused Latch call into the field it concerns ("" for the form as a whole)
// and the words to show. lockKey names the method and identifier a lock would apply to, so that
// the wait can be told; id is the browser's session.
func (h *handler) explain(id string, act action, lockKey string, err error) (field, msg string) {
	var le *latchError
	if !errors.As(err, &le) {
		_, msg := friendly(err)
		return "", msg
	}
	switch le.Code {
	case "auth_locked":
		if act == actTOTPSignIn {
			return "code", totpSignInFailed // where and how every other failure is told
		}
		return "", "Too many attempts. Try again in " + waitWords(h.lockedFor(id, lockKey, le.RetryAfter)) + "."
	case "rate_limit_exceeded":
		wait := le.RetryAfter
		if wait <= 0 {
			wait = time.Minute
		}
		return "", "Too many codes were sent to this address. Try again in " + waitWords(wait) + "."
	case "system_invalid_input":
		return inputProblem(le.Message)
	}
	switch act {
	case actTOTPSignIn:
		if le.Status < 500 && le.Status != http.StatusUnauthorized {
			return "code", totpSignInFailed
		}
	case actCode:
		switch le.Code {
		case "auth_otp_passcode_expired":
			return "code", codeExpired
		case "auth_invalid_credentials", "user_not_found", "user_not_active":
			return "code", codeWrong
		}
	case actTOTP:
		if le.Code == "auth_invalid_credentials" {
			return "code", totpWrong
		}
	}
	_, msg = friendly(err)
	return "", msg
}

// inputProblem says in words what Latch's "field: problem" refusal means.
func inputProblem(message string) (field, msg string) {
	name, _, _ := strings.Cut(message, ":")
	switch strings.TrimSpace(name) {
	case "email", "identifier", "custom_email":
		return "email", "Enter an email address such as ada@example.com."
	case "phone_number", "custom_phone_number":
		return "phone", "Enter the phone number in international format: + and the country code, such as +15551234567."
	case "passcode":
		return "code", "Enter the code from the message: digits only."
	case "token":
		return "code", "Enter the code your authenticator app shows: digits only."
	}
	return "", "Check what you entered and try again."
}

// lockedFor is how long the lock on lockKey has left: Latch's Retry-After when it sent one, else
// what the demo remembers from the refusal that started the lock.
func (h *handler) lockedFor(id, lockKey string, retryAfter time.Duration) time.Duration {
	now := h.now()
	var until time.Time
	h.sessions.update(id, func(d *demoSession) {
		if d.locks == nil {
			d.locks = map[string]time.Time{}
		}
		until = d.locks[lockKey]
		switch {
		case retryAfter > 0:
			until = now.Add(retryAfter)
		case !until.After(now):
			until = now.Add(lockFor)
		}
		d.locks[lockKey] = until
	})
	return until.Sub(now)
}

// waitWords says a wait in whole seconds under a minute, else in whole minutes, rounded up.
func waitWords(d time.Duration) string {
	if d < time.Minute {
		return plural(int(math.Ceil(d.Seconds())), "second")
	}
	return plural(int(math.Ceil(d.Minutes())), "minute")
}

func plural(n int, unit string) string {
	if n <= 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
