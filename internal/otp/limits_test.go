package otp_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// clientToken creates another client of application appID and returns its access token.
func clientToken(t *testing.T, a *api, appID string) string {
	t.Helper()
	creds, err := a.Apps.CreateClient(context.Background(), appID, false)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}}, creds.ClientID, creds.ClientSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("client token: %d %s", r.Status, r.Body)
	}
	return r.String("access_token")
}

// TestSendLimitsCountTheUserAcrossMethodsAndClients: sends to one user — backend OTP by email
// and by SMS, a magic link, hosted email OTP and hosted link, from two clients — count together:
// 5 in any 15 minutes, then 429 with Retry-After and nothing sent, and the code the user holds
// still works; after the window, 10 in any hour.
func TestSendLimitsCountTheUserAcrossMethodsAndClients(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		a.newUser(t, map[string]any{"email": "victim@example.com", "phone_number": "+15550001111"})
		other := clientToken(t, a, a.App.ID)
		redirect := a.App.RedirectURIs[0]
		email := map[string]any{"identifier_type": "email", "identifier": "victim@example.com"}
		with := func(m map[string]any, kv ...any) map[string]any {
			out := map[string]any{}
			for k, v := range m {
				out[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				out[kv[i].(string)] = kv[i+1]
			}
			return out
		}
		sends := []struct {
			name, token, path string
			body              map[string]any
		}{
			{"otp email", a.token, pathSend, with(email, "channel", "email")},
			{"otp sms", other, pathSend, map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15550001111"}},
			{"magic link", other, "/cis/v1/auth/link/email/send", with(email, "redirect_uri", redirect)},
			{"hosted email otp", a.token, "/cis/v1/auth/otp/email", map[string]any{"email": "victim@example.com", "redirect_uri": redirect}},
			{"hosted link", other, "/cis/v1/auth/links/email", map[string]any{"email": "victim@example.com", "redirect_uri": redirect}},
		}
		for _, s := range sends {
			if r := a.Do(t, http.MethodPost, s.path, s.token, s.body); r.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", s.name, r.Status, r.Body)
			}
		}
		held := a.directCodeOr429(t, "victim@example.com")
		if held != "" {
			t.Fatal("a 6th send within 15 minutes went out")
		}
		for _, s := range sends {
			r := a.Do(t, http.MethodPost, s.path, s.token, s.body)
			if r.Status != http.StatusTooManyRequests || r.String("error_code") != "rate_limit_exceeded" {
				t.Fatalf("%s over the limit: %d %s", s.name, r.Status, r.Body)
			}
			if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); n < 1 || n > 15*60 {
				t.Fatalf("%s: Retry-After %q", s.name, r.Header.Get("Retry-After"))
			}
		}
		// The refused sends destroyed nothing: the last OTP emailed still logs the user in.
		msgs := a.Outbox(t, "victim@example.com")
		if len(msgs) != 4 { // otp email, magic link, hosted otp, hosted link; the SMS went to the phone
			t.Fatalf("%d emails, want the 4 sent before the limit", len(msgs))
		}
		// The SMS replaced the emailed OTP (same method, same user): it is the code the user holds.
		sms := a.Outbox(t, "+15550001111")
		if len(sms) != 1 {
			t.Fatalf("%d SMS, want 1", len(sms))
		}
		a.login(t, "victim@example.com", sixDigits.FindString(sms[0].Text), nil)

		// 15 minutes later 5 more may go, then the hour's 10 are used up.
		a.Clock.Advance(15 * time.Minute)
		a.token = a.ClientToken(t)
		for i := range 5 {
			if a.directCodeOr429(t, "victim@example.com") == "" {
				t.Fatalf("send %d of the second quarter hour refused", i+6)
			}
		}
		a.Clock.Advance(15 * time.Minute)
		a.token = a.ClientToken(t)
		if a.directCodeOr429(t, "victim@example.com") != "" {
			t.Fatal("an 11th send within the hour went out")
		}
		a.Clock.Advance(31 * time.Minute)
		a.token = a.ClientToken(t)
		if a.directCodeOr429(t, "victim@example.com") == "" {
			t.Fatal("the hour's window did not slide")
		}
	})
}

// TestAppSendCeiling: an application's delivered messages are capped per minute whatever the
// recipient (fresh sign-ups included); direct sends, which deliver nothing, do not count.
func TestAppSendCeiling(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a := start(t, e, latchtest.Options{})
		settings := app.DefaultSettings()
		settings.AppSendsPerMinute = 3
		creds, err := a.Apps.CreateApp(context.Background(), app.NewApp{Name: "capped", RedirectURIs: []string{"https://capped.example/cb"},
			AllowSignup: true, Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		tok := clientToken(t, a, creds.AppID)
		now := a.Clock.Now()
		a.Clock.Advance(now.Truncate(time.Minute).Add(time.Minute).Sub(now)) // the start of a minute
		hosted := func(i int) latchtest.Response {
			return a.Do(t, http.MethodPost, "/cis/v1/auth/otp/email", tok, map[string]any{
				"email": "new" + strconv.Itoa(i) + "@example.com", "redirect_uri": "https://capped.example/cb", "create_new_user": true})
		}
		for i := range 3 {
			if r := hosted(i); r.Status != http.StatusOK {
				t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
			}
		}
		r := hosted(3)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "60" {
			t.Fatalf("4th delivered message in the minute: %d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		if got := a.Outbox(t, "new3@example.com"); len(got) != 0 {
			t.Fatal("a refused send was delivered")
		}
		// Direct sends deliver nothing and are not counted.
		uid := a.CreateUser(t, tok, map[string]any{"email": "direct@example.com"})
		if uid == "" {
			t.Fatal("no user")
		}
		if r := a.Do(t, http.MethodPost, pathSend, tok, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": "direct@example.com"}); r.Status != http.StatusOK {
			t.Fatalf("direct send under a full ceiling: %d %s", r.Status, r.Body)
		}
		a.Clock.Advance(time.Minute)
		tok = clientToken(t, a, creds.AppID)
		if r := hosted(4); r.Status != http.StatusOK {
			t.Fatalf("the next minute: %d %s", r.Status, r.Body)
		}
	})
}

// directCodeOr429 sends a direct OTP to email and returns the code, or "" when the send was
// refused with 429.
func (a *api) directCodeOr429(t testing.TB, email string) string {
	t.Helper()
	r := a.post(t, pathSend, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email})
	switch {
	case r.Status == http.StatusTooManyRequests:
		return ""
	case r.Status != http.StatusOK || r.String("code") == "":
		t.Fatalf("direct send: %d %s", r.Status, r.Body)
	}
	return r.String("code")
}
