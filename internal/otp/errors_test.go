package otp_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// person is a user created for one test case, with identifiers no other case uses.
type person struct {
	id, email, phone, username string
}

var personSeq atomic.Int64

// newPerson creates a user with an email, a phone number and a username.
func (a *api) newPerson(t testing.TB) person {
	t.Helper()
	n := personSeq.Add(1)
	p := person{email: fmt.Sprintf("user%d@example.com", n), phone: fmt.Sprintf("+1555%07d", n), username: fmt.Sprintf("user%d", n)}
	p.id = a.newUser(t, map[string]any{"email": p.email, "phone_number": p.phone, "username": p.username})
	return p
}

// otherCode returns a code of the same length that differs from code in every digit.
func otherCode(code string) string {
	b := []byte(code)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}

func sendBody(channel string, p person, extra map[string]any) map[string]any {
	body := map[string]any{"channel": channel, "identifier_type": "email", "identifier": p.email}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

func authBody(p person, code string, extra map[string]any) map[string]any {
	body := map[string]any{"identifier_type": "email", "identifier": p.email, "passcode": code}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// TestOTPErrors produces every error of the backend OTP flow and checks its exact status and body.
// Each case has its own user, so limits and lockouts of one case never touch another.
func TestOTPErrors(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, a *api, p person)
	}{
		{"wrong_code_is_invalid_credentials", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			wantError(t, a.post(t, pathAuth, authBody(p, otherCode(code), nil)), 400, "auth_invalid_credentials", "Invalid passcode")
			a.login(t, p.email, code, nil) // one wrong attempt does not burn the code
		}},
		{"code_works_until_the_end_of_its_lifetime", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			a.Clock.Advance(5*time.Minute - time.Millisecond)
			a.login(t, p.email, code, nil)
		}},
		{"expired_code", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			a.Clock.Advance(5 * time.Minute)
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 400, "auth_otp_passcode_expired", "Passcode expired")
		}},
		{"reused_code", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			a.login(t, p.email, code, nil)
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 400, "auth_invalid_credentials", "Invalid passcode")
		}},
		{"five_failures_lock_the_identifier_for_15_minutes", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			for i := 1; i <= 4; i++ {
				wantError(t, a.post(t, pathAuth, authBody(p, otherCode(code), nil)), 400, "auth_invalid_credentials", "Invalid passcode")
			}
			locked := "One time code invalid due to multiple failed attempts"
			wantError(t, a.post(t, pathAuth, authBody(p, otherCode(code), nil)), 403, "auth_locked", locked)
			// Locked: the right code, another identifier of the same user and a new send are all refused.
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 403, "auth_locked", locked)
			wantError(t, a.post(t, pathAuth, map[string]any{"identifier_type": "phone_number", "identifier": p.phone, "passcode": code}), 403, "auth_locked", locked)
			wantError(t, a.post(t, pathSend, sendBody("direct", p, nil)), 403, "auth_locked", locked)
			// The lock is per method: a magic link can still be sent.
			if r := a.post(t, pathLinkSend, map[string]any{"identifier": p.email, "redirect_uri": a.URL + "/demo/callback", "channel": "direct"}); r.Status != 200 {
				t.Fatalf("magic link while OTP is locked: %d %s", r.Status, r.Body)
			}
			a.Clock.Advance(15*time.Minute - time.Millisecond)
			wantError(t, a.post(t, pathSend, sendBody("direct", p, nil)), 403, "auth_locked", locked)
			a.Clock.Advance(time.Millisecond)
			a.token = a.ClientToken(t)
			next := a.directCode(t, p.email)
			a.login(t, p.email, next, nil)
			// The failures were forgotten: four more wrong codes do not lock again.
			next = a.directCode(t, p.email)
			for i := 1; i <= 4; i++ {
				wantError(t, a.post(t, pathAuth, authBody(p, otherCode(next), nil)), 400, "auth_invalid_credentials", "Invalid passcode")
			}
			a.login(t, p.email, next, nil)
		}},
		{"unknown_user", func(t *testing.T, a *api, p person) {
			ghost := person{email: "nobody-" + p.username + "@example.com"}
			wantError(t, a.post(t, pathSend, sendBody("email", ghost, nil)), 404, "user_not_found", "User not found")
			wantError(t, a.post(t, pathAuth, authBody(ghost, "123456", nil)), 404, "user_not_found", "User not found")
			wantError(t, a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "user_id", "identifier": "no-such-id"}), 404, "user_not_found", "User not found")
		}},
		{"user_without_email", func(t *testing.T, a *api, p person) {
			phone := "+1666" + p.phone[5:]
			a.newUser(t, map[string]any{"phone_number": phone})
			r := a.post(t, pathSend, map[string]any{"channel": "email", "identifier_type": "phone_number", "identifier": phone})
			wantError(t, r, 404, "user_email_address_missing", "User has no email address")
			// custom_email gives the code somewhere to go.
			r = a.post(t, pathSend, map[string]any{"channel": "email", "identifier_type": "phone_number", "identifier": phone, "custom_email": "Other-" + p.email})
			if r.Status != 200 || len(a.Outbox(t, "other-"+p.email)) != 1 {
				t.Fatalf("custom_email: %d %s", r.Status, r.Body)
			}
		}},
		{"user_without_phone", func(t *testing.T, a *api, p person) {
			email := "nophone-" + p.email
			a.newUser(t, map[string]any{"email": email})
			r := a.post(t, pathSend, map[string]any{"channel": "sms", "identifier_type": "email", "identifier": email})
			wantError(t, r, 404, "user_phone_number_missing", "User has no phone number")
			r = a.post(t, pathSend, map[string]any{"channel": "sms", "identifier": email, "custom_phone_number": "+1777" + p.phone[5:]})
			if r.Status != 200 || len(a.Outbox(t, "+1777"+p.phone[5:])) != 1 {
				t.Fatalf("custom_phone_number: %d %s", r.Status, r.Body)
			}
		}},
		{"disabled_user", func(t *testing.T, a *api, p person) {
			code := a.directCode(t, p.email)
			if r := a.Do(t, http.MethodPut, pathUsers+"/"+p.id, a.token, map[string]any{"status": "Disabled"}); r.Status != 200 {
				t.Fatalf("disable: %d %s", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathSend, sendBody("email", p, nil)), 403, "user_not_active", "User is not active")
			// A code sent before the user was disabled does not log them in.
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 403, "user_not_active", "User is not active")
		}},
		{"send_rate_limit_slides_over_15_minutes", func(t *testing.T, a *api, p person) {
			for i := 1; i <= 5; i++ {
				if r := a.post(t, pathSend, sendBody("direct", p, nil)); r.Status != 200 {
					t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
				}
				if i == 1 {
					a.Clock.Advance(time.Minute)
				}
			}
			r := a.post(t, pathSend, sendBody("direct", p, nil))
			wantError(t, r, 429, "rate_limit_exceeded", "Too many requests, retry in 840 seconds")
			if got := r.Header.Get("Retry-After"); got != "840" {
				t.Fatalf("Retry-After = %q, want 840 (the first send leaves the 15-minute window in 14 minutes)", got)
			}
			// The limit counts per user, whatever the channel: an email is refused too.
			wantError(t, a.post(t, pathSend, sendBody("email", p, nil)), 429, "rate_limit_exceeded", "Too many requests, retry in 840 seconds")
			a.Clock.Advance(14*time.Minute - time.Millisecond)
			r = a.post(t, pathSend, sendBody("direct", p, nil))
			if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != 429 || n < 1 {
				t.Fatalf("just before the window slides: %d Retry-After %q", r.Status, r.Header.Get("Retry-After"))
			}
			a.Clock.Advance(time.Millisecond)
			a.token = a.ClientToken(t)
			code := a.directCode(t, p.email)
			a.login(t, p.email, code, nil)
		}},
		{"new_send_replaces_the_previous_code", func(t *testing.T, a *api, p person) {
			first := a.directCode(t, p.email)
			second := a.directCode(t, p.email)
			for second == first { // one chance in a million
				second = a.directCode(t, p.email)
			}
			wantError(t, a.post(t, pathAuth, authBody(p, first, nil)), 400, "auth_invalid_credentials", "Invalid passcode")
			a.login(t, p.email, second, nil)
		}},
		{"request_id_is_required_when_generated", func(t *testing.T, a *api, p person) {
			if r := a.post(t, pathSend, sendBody("direct", p, nil)); r.JSON()["request_id"] != nil {
				t.Fatalf("request_id returned without generate_request_id: %s", r.Body)
			}
			r := a.post(t, pathSend, sendBody("direct", p, map[string]any{"generate_request_id": true}))
			rid, code := r.String("request_id"), r.String("code")
			if r.Status != 200 || rid == "" || code == "" {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathAuth, authBody(p, code, nil)), 400, "system_invalid_input", "request_id: *")
			wantError(t, a.post(t, pathAuth, authBody(p, code, map[string]any{"request_id": rid + "x"})), 400, "system_invalid_input", "request_id: *")
			a.login(t, p.email, code, map[string]any{"request_id": rid})
		}},
		{"expires_in_sets_the_lifetime", func(t *testing.T, a *api, p person) {
			r := a.post(t, pathSend, sendBody("direct", p, map[string]any{"expires_in": 10}))
			a.Clock.Advance(10*time.Minute - time.Millisecond)
			a.login(t, p.email, r.String("code"), nil)
			r = a.post(t, pathSend, sendBody("direct", p, map[string]any{"expires_in": 1}))
			a.Clock.Advance(time.Minute)
			wantError(t, a.post(t, pathAuth, authBody(p, r.String("code"), nil)), 400, "auth_otp_passcode_expired", "Passcode expired")
			for _, bad := range []any{0, 1.5, 61, -1} {
				wantError(t, a.post(t, pathSend, sendBody("direct", p, map[string]any{"expires_in": bad})), 400, "system_invalid_input", "expires_in: *")
			}
			wantError(t, a.post(t, pathSend, sendBody("direct", p, map[string]any{"expires_in": "5"})), 400, "system_invalid_input", "expires_in: *")
		}},
		{"approval_data_is_validated_echoed_and_signed", func(t *testing.T, a *api, p person) {
			eleven := map[string]any{}
			for i := range 11 {
				eleven[fmt.Sprintf("k%d", i)] = "v"
			}
			for name, bad := range map[string]any{
				"eleven_keys":  eleven,
				"nested":       map[string]any{"sum": map[string]any{"amount": "1"}},
				"array":        map[string]any{"sum": []any{"1"}},
				"space_in_key": map[string]any{"bad key": "1"},
				"slash_in_key": map[string]any{"a/b": "1"},
				"empty_key":    map[string]any{"": "1"},
			} {
				r := a.post(t, pathSend, sendBody("direct", p, map[string]any{"approval_data": bad}))
				if r.Status != 400 || r.String("error_code") != "system_invalid_input" || !strings.HasPrefix(r.String("message"), "approval_data") {
					t.Fatalf("%s: %d %s", name, r.Status, r.Body)
				}
			}
			wantError(t, a.post(t, pathSend, sendBody("direct", p, map[string]any{"approval_data": "x"})), 400, "system_invalid_input", "approval_data: *")
			data := map[string]any{"transaction_id": "eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT", "sum": "200", "ok.flag-1": true, "n": 3.5}
			r := a.post(t, pathSend, sendBody("direct", p, map[string]any{"approval_data": data}))
			if r.Status != 200 || !reflect.DeepEqual(r.JSON()["approval_data"], data) {
				t.Fatalf("send must echo approval_data: %d %s", r.Status, r.Body)
			}
			tok := a.login(t, p.email, r.String("code"), nil)
			var c idClaims
			a.verifyJWT(t, tok["id_token"].(string), &c)
			if !reflect.DeepEqual(c.ApprovalData, data) {
				t.Fatalf("id token approval_data = %v, want %v", c.ApprovalData, data)
			}
			// A login without approval data has none in its ID token.
			tok = a.login(t, p.email, a.directCode(t, p.email), nil)
			c = idClaims{}
			a.verifyJWT(t, tok["id_token"].(string), &c)
			if c.ApprovalData != nil {
				t.Fatalf("approval_data leaked into a later login: %v", c.ApprovalData)
			}
		}},
		{"custom_sms_input", func(t *testing.T, a *api, p person) {
			sms := func(in map[string]any) latchtest.Response {
				return a.post(t, pathSend, sendBody("sms", p, map[string]any{"custom_sms_input": in}))
			}
			field := "custom_sms_input.custom_message: "
			wantError(t, sms(map[string]any{"custom_message": "Your {app} code"}), 400, "system_invalid_input", field+"must contain {otp}")
			wantError(t, sms(map[string]any{"custom_message": "Your code {otp}"}), 400, "system_invalid_input", field+"must contain {app}")
			wantError(t, sms(map[string]any{"custom_message": "{otp} {app} " + strings.Repeat("x", 130)}), 400, "system_invalid_input", field+"must be at most 140 characters")
			wantError(t, sms(map[string]any{"custom_message": "{otp} {app}", "sender_id": "ABCDEFGHIJKL"}), 400, "system_invalid_input", "custom_sms_input.sender_id: must be at most 11 characters")
			if len(a.Outbox(t, p.phone)) != 0 {
				t.Fatal("a refused send delivered a message")
			}
			if r := sms(map[string]any{"custom_message": "{app}: use {otp}", "sender_id": "ABCDEFGHIJK"}); r.Status != 200 || r.JSON()["code"] != nil {
				t.Fatalf("valid custom sms: %d %s", r.Status, r.Body)
			}
			msgs := a.Outbox(t, p.phone)
			if len(msgs) != 1 || msgs[0].Channel != "sms" {
				t.Fatalf("outbox: %+v", msgs)
			}
			code := sixDigits.FindString(msgs[0].Text)
			if msgs[0].Text != "default: use "+code {
				t.Fatalf("sms text = %q", msgs[0].Text)
			}
			a.login(t, p.email, code, nil)
		}},
		{"identifier_types", func(t *testing.T, a *api, p person) {
			// Each type sends; the next one in the list authenticates (a code belongs to the user,
			// not to the identifier it was sent by). "" is the default type, email.
			ids := []struct{ typ, value string }{
				{"email", p.email}, {"phone_number", p.phone}, {"user_id", p.id}, {"username", p.username}, {"", p.email},
			}
			for i, tc := range ids {
				by := ids[(i+1)%len(ids)]
				send := map[string]any{"channel": "direct", "identifier": tc.value}
				auth := map[string]any{"identifier": by.value}
				if tc.typ != "" {
					send["identifier_type"] = tc.typ
				}
				if by.typ != "" {
					auth["identifier_type"] = by.typ
				}
				r := a.post(t, pathSend, send)
				if r.Status != 200 {
					t.Fatalf("send by %q: %d %s", tc.typ, r.Status, r.Body)
				}
				auth["passcode"] = r.String("code")
				r = a.post(t, pathAuth, auth)
				if r.Status != 200 {
					t.Fatalf("sent by %q, authenticate by %q: %d %s", tc.typ, by.typ, r.Status, r.Body)
				}
				var c idClaims
				a.verifyJWT(t, r.String("id_token"), &c)
				if c.Subject != p.id {
					t.Fatalf("by %q: sub = %q, want %q", tc.typ, c.Subject, p.id)
				}
			}
			// An identifier of the wrong type names nobody.
			wantError(t, a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "username", "identifier": p.id}), 404, "user_not_found", "User not found")
			wantError(t, a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "fax", "identifier": p.email}), 400, "system_invalid_input", "identifier_type: *")
			wantError(t, a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "phone_number", "identifier": "12345"}), 400, "system_invalid_input", "identifier: *")
			wantError(t, a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email"}), 400, "system_invalid_input", "identifier: is required")
		}},
		{"email_is_case_insensitive", func(t *testing.T, a *api, p person) {
			r := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": strings.ToUpper(p.email)})
			if r.Status != 200 {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			r = a.post(t, pathAuth, map[string]any{"identifier_type": "email", "identifier": "User" + strings.TrimPrefix(p.email, "user"), "passcode": r.String("code")})
			if r.Status != 200 {
				t.Fatalf("authenticate: %d %s", r.Status, r.Body)
			}
		}},
		{"channels", func(t *testing.T, a *api, p person) {
			before := len(a.Outbox(t, ""))
			r := a.post(t, pathSend, sendBody("direct", p, nil))
			if r.Status != 200 || len(r.String("code")) != 6 || r.String("message") != "OTP sent" {
				t.Fatalf("direct: %d %s", r.Status, r.Body)
			}
			if n := len(a.Outbox(t, "")); n != before {
				t.Fatalf("direct channel sent %d messages", n-before)
			}
			for _, ch := range []struct{ channel, to string }{{"email", p.email}, {"sms", p.phone}} {
				r := a.post(t, pathSend, sendBody(ch.channel, p, nil))
				if r.Status != 200 || r.String("message") != "OTP sent" {
					t.Fatalf("%s: %d %s", ch.channel, r.Status, r.Body)
				}
				if _, has := r.JSON()["code"]; has {
					t.Fatalf("%s channel returned the code: %s", ch.channel, r.Body)
				}
				msgs := a.Outbox(t, ch.to)
				if len(msgs) != 1 || msgs[0].Channel != ch.channel {
					t.Fatalf("%s: outbox %+v", ch.channel, msgs)
				}
				a.login(t, p.email, sixDigits.FindString(msgs[0].Text), nil)
			}
			wantError(t, a.post(t, pathSend, sendBody("", p, nil)), 400, "system_invalid_input", "channel: is required")
			wantError(t, a.post(t, pathSend, sendBody("fax", p, nil)), 400, "system_invalid_input", "channel: must be one of email, sms, direct")
			wantError(t, a.post(t, pathAuth, authBody(p, "", nil)), 400, "system_invalid_input", "passcode: is required")
		}},
	}
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a.token = a.ClientToken(t) // earlier cases may have moved the clock past its expiry
				tc.fn(t, a, a.newPerson(t))
			})
		}
	})
}
