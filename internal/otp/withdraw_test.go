package otp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// flakySender fails while down is set, and delivers nowhere otherwise.
type flakySender struct{ down atomic.Bool }

func (f *flakySender) Send(context.Context, delivery.Message) error {
	if f.down.Load() {
		return errors.Join(delivery.ErrDeliveryFailed, errors.New("provider down"))
	}
	return nil
}

// TestFailedDeliveryWithdrawsTheCode: a code whose delivery failed is removed, so failures do not
// use up the send rate limit and no undeliverable code is left behind.
func TestFailedDeliveryWithdrawsTheCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		sender := &flakySender{}
		a := start(t, e, latchtest.Options{Sender: sender})
		uid := a.newUser(t, map[string]any{"email": "down@example.com"})
		sender.down.Store(true)
		for i := range 6 { // more than the send limit of 5
			r := a.post(t, pathSend, map[string]any{"channel": "email", "identifier_type": "email", "identifier": "down@example.com"})
			if r.Status != http.StatusBadGateway || r.String("error_code") != "delivery_failed" {
				t.Fatalf("send %d while the provider is down: %d %s", i, r.Status, r.Body)
			}
		}
		if _, _, err := a.Store.LatestCode(context.Background(), a.App.ID, "otp", "user:"+uid); err == nil {
			t.Fatal("an undelivered code was left in the store")
		}
		sender.down.Store(false)
		r := a.post(t, pathSend, map[string]any{"channel": "email", "identifier_type": "email", "identifier": "down@example.com"})
		if r.Status != http.StatusOK {
			t.Fatalf("failed deliveries used up the rate limit: %d %s", r.Status, r.Body)
		}
	})
}

// TestRefusedLoginKeepsTheCode: the code is used up in the transaction that saves the login, so
// a login refused after the code checked out (an unknown session to join) leaves it usable.
func TestRefusedLoginKeepsTheCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		a.newUser(t, map[string]any{"email": "keep@example.com"})
		r := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": "keep@example.com"})
		code := r.String("code")
		if r.Status != http.StatusOK || code == "" {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		auth := map[string]any{"passcode": code, "identifier_type": "email", "identifier": "keep@example.com", "session_id": "no-such-session"}
		if r := a.post(t, pathAuth, auth); r.Status != http.StatusNotFound || r.String("error_code") != "session_not_found" {
			t.Fatalf("unknown session: %d %s", r.Status, r.Body)
		}
		delete(auth, "session_id")
		if r := a.post(t, pathAuth, auth); r.Status != http.StatusOK {
			t.Fatalf("the code was used up by a refused login: %d %s", r.Status, r.Body)
		}
		if r := a.post(t, pathAuth, auth); r.Status != http.StatusBadRequest {
			t.Fatalf("the code worked twice: %d %s", r.Status, r.Body)
		}
	})
}

// TestRefusedLinkLoginKeepsTheLink: a magic-link login refused after the code checked out (a
// resource the app does not have) leaves the link usable, and it still works only once.
func TestRefusedLinkLoginKeepsTheLink(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		a.newUser(t, map[string]any{"email": "link@example.com"})
		r := a.post(t, pathLinkSend, map[string]any{"identifier_type": "email", "identifier": "link@example.com",
			"redirect_uri": a.URL + "/demo/callback", "channel": "direct"})
		code := r.String("code")
		if r.Status != http.StatusOK || code == "" {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		const pathLinkAuth = "/cis/v1/auth/link/email/authenticate"
		if r := a.post(t, pathLinkAuth, map[string]any{"code": code, "resource": "https://not-a-resource.example"}); r.Status != http.StatusBadRequest {
			t.Fatalf("bad resource: %d %s", r.Status, r.Body)
		}
		if r := a.post(t, pathLinkAuth, map[string]any{"code": code}); r.Status != http.StatusOK {
			t.Fatalf("the link was used up by a refused login: %d %s", r.Status, r.Body)
		}
		if r := a.post(t, pathLinkAuth, map[string]any{"code": code}); r.Status != http.StatusBadRequest {
			t.Fatalf("the link worked twice: %d %s", r.Status, r.Body)
		}
	})
}

// TestDisablingAUserEndsTheirSessionsEverywhere: disabling a user on one node ends every session
// of theirs at once: on the other node their refresh token and user access token are refused
// from the next request on, and re-enabling the user does not bring the sessions back.
func TestDisablingAUserEndsTheirSessionsEverywhere(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a, b := nodes(t, e)
		uid := a.newUser(t, map[string]any{"email": "pause@example.com"})
		code := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": "pause@example.com"}).String("code")
		login := a.post(t, pathAuth, map[string]any{"passcode": code, "identifier_type": "email", "identifier": "pause@example.com"})
		rt, access := login.String("refresh_token"), login.String("access_token")
		if login.Status != http.StatusOK || rt == "" || access == "" {
			t.Fatalf("login: %d %s", login.Status, login.Body)
		}
		setStatus := func(status string) {
			if r := b.Do(t, http.MethodPut, "/cis/v1/users/"+uid, b.token, map[string]any{"status": status}); r.Status != http.StatusOK {
				t.Fatalf("set %s on node B: %d %s", status, r.Status, r.Body)
			}
		}
		setStatus("Disabled")
		// (The logout test in session_test.go shows a live session's token accepted there.)
		if r := a.Do(t, http.MethodPost, "/cis/v1/auth/logout", access, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("disabled user's access token on node A: %d %s, want 401", r.Status, r.Body)
		}
		if r := a.post(t, pathRefresh, map[string]any{"refresh_token": rt}); r.Status != http.StatusBadRequest || r.String("error_code") != "invalid_grant" {
			t.Fatalf("disabled user's refresh on node A: %d %s", r.Status, r.Body)
		}
		setStatus("Active")
		if r := b.post(t, pathRefresh, map[string]any{"refresh_token": rt}); r.Status != http.StatusBadRequest {
			t.Fatalf("re-enabling brought the ended session back: %d %s", r.Status, r.Body)
		}
	})
}

// TestFailedSendKeepsTheDeliveredCode: a send that fails does not cancel the code the user
// already received.
func TestFailedSendKeepsTheDeliveredCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		sender := &flakySender{}
		a := start(t, e, latchtest.Options{Sender: sender})
		a.newUser(t, map[string]any{"email": "first@example.com"})
		// The code the user holds (a direct send follows the same code rules as an email one).
		first := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": "first@example.com"})
		code := first.String("code")
		if first.Status != http.StatusOK || code == "" {
			t.Fatalf("first send: %d %s", first.Status, first.Body)
		}
		sender.down.Store(true)
		if r := a.post(t, pathSend, map[string]any{"channel": "email", "identifier_type": "email", "identifier": "first@example.com"}); r.Status != http.StatusBadGateway {
			t.Fatalf("failing send: %d %s", r.Status, r.Body)
		}
		r := a.post(t, pathAuth, map[string]any{"passcode": code, "identifier_type": "email", "identifier": "first@example.com"})
		if r.Status != http.StatusOK {
			t.Fatalf("the failed send cancelled the code already sent: %d %s", r.Status, r.Body)
		}
	})
}

// unverifiedClaims decodes a JWT's payload (signatures are checked by other tests).
func unverifiedClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConcurrentSecondFactorsKeepBothMethods: two logins joining one session at the same moment
// (an SMS code and a magic link) both end up in its amr; neither overwrites the other.
func TestConcurrentSecondFactorsKeepBothMethods(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		for round := range 5 {
			email := fmt.Sprintf("both%d@example.com", round)
			a.newUser(t, map[string]any{"email": email, "phone_number": fmt.Sprintf("+1555000100%d", round)})
			first := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email}).String("code")
			login := a.post(t, pathAuth, map[string]any{"passcode": first, "identifier_type": "email", "identifier": email})
			sid := login.String("session_id")
			if login.Status != http.StatusOK || sid == "" {
				t.Fatalf("first factor: %d %s", login.Status, login.Body)
			}
			sms := a.post(t, pathSend, map[string]any{"channel": "sms", "identifier_type": "email", "identifier": email})
			if sms.Status != http.StatusOK {
				t.Fatalf("sms send: %d %s", sms.Status, sms.Body)
			}
			msgs := a.Outbox(t, fmt.Sprintf("+1555000100%d", round))
			smsCode := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(msgs[0].Text)
			link := a.post(t, pathLinkSend, map[string]any{"identifier_type": "email", "identifier": email,
				"redirect_uri": a.URL + "/demo/callback", "channel": "direct"}).String("code")
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			wg.Add(2)
			go func() {
				defer wg.Done()
				statuses[0] = a.post(t, pathAuth, map[string]any{"passcode": smsCode, "identifier_type": "email", "identifier": email, "session_id": sid}).Status
			}()
			go func() {
				defer wg.Done()
				statuses[1] = a.post(t, "/cis/v1/auth/link/email/authenticate", map[string]any{"code": link, "session_id": sid}).Status
			}()
			wg.Wait()
			if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
				t.Fatalf("round %d: second factors answered %v", round, statuses)
			}
			r := a.post(t, "/cis/v1/auth/session/authenticate", map[string]any{"session_id": sid})
			if r.Status != http.StatusOK {
				t.Fatalf("session authenticate: %d %s", r.Status, r.Body)
			}
			amr := fmt.Sprint(unverifiedClaims(t, r.String("id_token"))["amr"])
			for _, m := range []string{"otp", "sms", "eml", "mfa"} {
				if !strings.Contains(amr, m) {
					t.Fatalf("round %d: amr %s lacks %s", round, amr, m)
				}
			}
		}
	})
}
