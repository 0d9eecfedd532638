package magiclink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/delivery/smtp"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/store/storetest"
)

const (
	pathSend    = "/cis/v1/auth/link/email/send"
	pathAuth    = "/cis/v1/auth/link/email/authenticate"
	pathOTPSend = "/cis/v1/auth/otp/send"
	pathOTPAuth = "/cis/v1/auth/otp/authenticate"
)

// api is one running Latch stack and a client access token for its default app.
type api struct {
	*latchtest.Stack
	token string
}

func start(t testing.TB, e storetest.Engine, opts latchtest.Options) *api {
	t.Helper()
	s := latchtest.Start(t, e.DSN(t), opts)
	return &api{Stack: s, token: s.ClientToken(t)}
}

func (a *api) post(t testing.TB, path string, body any) latchtest.Response {
	t.Helper()
	return a.Do(t, http.MethodPost, path, a.token, body)
}

// callback is the default app's allowed redirect URI.
func (a *api) callback() string { return a.URL + "/demo/callback" }

var seq atomic.Int64

// person is a user of one test case.
type person struct{ id, email, phone string }

func (a *api) newPerson(t testing.TB) person {
	t.Helper()
	n := seq.Add(1)
	p := person{email: fmt.Sprintf("link%d@example.com", n), phone: fmt.Sprintf("+1444%07d", n)}
	p.id = a.CreateUser(t, a.token, map[string]any{"email": p.email, "phone_number": p.phone})
	return p
}

// directLink sends a direct-channel link and returns its code.
func (a *api) directLink(t testing.TB, p person, extra map[string]any) latchtest.Response {
	t.Helper()
	body := map[string]any{"identifier_type": "email", "identifier": p.email, "redirect_uri": a.callback(), "channel": "direct"}
	for k, v := range extra {
		body[k] = v
	}
	r := a.post(t, pathSend, body)
	if r.Status != 200 || r.String("code") == "" {
		t.Fatalf("direct link: %d %s", r.Status, r.Body)
	}
	return r
}

// wantError checks an error answer: exact status and a body of exactly error_code and message
// (a message ending in "*" is a prefix).
func wantError(t testing.TB, r latchtest.Response, status int, code, message string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body) != 2 {
		t.Fatalf("body must be exactly {error_code, message}: %s", r.Body)
	}
	if got := fmt.Sprint(body["error_code"]); got != code {
		t.Fatalf("error_code = %q, want %q; body %s", got, code, r.Body)
	}
	msg, _ := body["message"].(string)
	if p, ok := strings.CutSuffix(message, "*"); ok {
		if !strings.HasPrefix(msg, p) {
			t.Fatalf("message = %q, want it to start with %q", msg, p)
		}
	} else if msg != message {
		t.Fatalf("message = %q, want %q", msg, message)
	}
}

const invalidCode = "Invalid magic link code"

// claims verifies a JWT against the stack's JWKS and returns its claims.
func (a *api) claims(t testing.TB, raw string) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(a.Do(t, http.MethodGet, "/cis/oidc/jwks", "", nil).Body, &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", tok.Headers[0].KeyID)
	}
	var c map[string]any
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var linkRE = regexp.MustCompile(`https?://\S+` + regexp.QuoteMeta(magiclink.RedirectPath) + `\?code=\S+`)

// TestMagicLinkBySMTP emails a magic link through the real SMTP sender to an in-process SMTP
// server, follows the link from the received message like a browser (and a mail scanner) would,
// and logs in with the code it lands with.
func TestMagicLinkBySMTP(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			mb := latchtest.StartMailbox(t)
			sender, err := smtp.New(smtp.Config{Host: mb.Host, Port: mb.Port, From: "login@latch.test", TLS: smtp.TLSNone})
			if err != nil {
				t.Fatal(err)
			}
			a := start(t, e, latchtest.Options{Sender: delivery.Router{Email: sender}})
			p := a.newPerson(t)
			state := "csrf 1&2=3"
			r := a.post(t, pathSend, map[string]any{"identifier_type": "email", "identifier": p.email, "redirect_uri": a.callback(), "state": state,
				"email_content": map[string]any{"subject": "Sign in to Acme", "linkText": "Open Acme"}})
			if r.Status != 200 || string(r.Body) != "{\"message\":\"Email sent successfully\"}\n" {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			msgs := mb.Messages()
			if len(msgs) != 1 || !reflect.DeepEqual(msgs[0].To, []string{p.email}) {
				t.Fatalf("received %d messages: %+v", len(msgs), msgs)
			}
			m := latchtest.ParseMail(t, msgs[0].Data)
			if m.Header.Get("Subject") != "Sign in to Acme" {
				t.Fatalf("Subject = %q", m.Header.Get("Subject"))
			}
			links := linkRE.FindAllString(m.Text, -1)
			if len(links) != 1 || !strings.HasPrefix(links[0], a.URL+magiclink.RedirectPath+"?code=") || !strings.Contains(m.Text, "Open Acme: "+links[0]) {
				t.Fatalf("text part must carry the one link to Latch: %q", m.Text)
			}
			link, _ := url.Parse(links[0])
			code := link.Query().Get("code")
			if !strings.Contains(m.HTML, code) {
				t.Fatal("HTML part lacks the link")
			}
			// GET consumes nothing: a mail scanner's prefetch leaves the link usable.
			for i := range 2 {
				r := a.Do(t, http.MethodGet, links[0], "", nil)
				if r.Status != http.StatusFound || r.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("GET %d: %d %s", i+1, r.Status, r.Body)
				}
				loc, err := url.Parse(r.Header.Get("Location"))
				if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != a.callback() ||
					!reflect.DeepEqual(loc.Query(), url.Values{"code": {code}, "state": {state}}) {
					t.Fatalf("GET %d: Location %q", i+1, r.Header.Get("Location"))
				}
			}
			r = a.post(t, pathAuth, map[string]any{"code": code})
			if r.Status != 200 || r.String("session_id") == "" || r.String("refresh_token") == "" || r.String("token_type") != "Bearer" {
				t.Fatalf("authenticate: %d %s", r.Status, r.Body)
			}
			c := a.claims(t, r.String("id_token"))
			if c["sub"] != p.id || !reflect.DeepEqual(c["amr"], []any{"eml"}) || c["email"] != p.email || c["sid"] != r.String("session_id") {
				t.Fatalf("id token claims %v", c)
			}
			wantError(t, a.post(t, pathAuth, map[string]any{"code": code}), 400, "400", invalidCode)
			wantError(t, a.Do(t, http.MethodGet, links[0], "", nil), 400, "400", "This link is invalid or has expired")
		})
	}
}

// TestMagicLink covers the rules and every error of the magic-link endpoints.
func TestMagicLink(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, a *api, p person)
	}{
		{"redirect_uri_must_be_allowed", func(t *testing.T, a *api, p person) {
			for _, uri := range []string{"https://evil.example/cb", a.callback() + "/", a.callback() + "?x=1", strings.ToUpper(a.callback())} {
				r := a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": uri})
				wantError(t, r, 400, "400", "redirect_uri is not one of the allowed redirect URIs configured for this app")
			}
			wantError(t, a.post(t, pathSend, map[string]any{"identifier": p.email}), 400, "system_invalid_input", "redirect_uri: is required")
			if n := len(a.Outbox(t, p.email)); n != 0 {
				t.Fatalf("a refused send delivered %d messages", n)
			}
		}},
		{"unknown_user", func(t *testing.T, a *api, p person) {
			wantError(t, a.post(t, pathSend, map[string]any{"identifier": "nobody@example.com", "redirect_uri": a.callback()}), 404, "404", "User not found")
			wantError(t, a.post(t, pathSend, map[string]any{"email": "nobody@example.com", "redirect_uri": a.callback()}), 404, "404", "User not found")
		}},
		{"disabled_user", func(t *testing.T, a *api, p person) {
			code := a.directLink(t, p, nil).String("code")
			if r := a.Do(t, http.MethodPut, "/cis/v1/users/"+p.id, a.token, map[string]any{"status": "Disabled"}); r.Status != 200 {
				t.Fatalf("disable: %d %s", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": a.callback()}), 403, "403", "User is not active")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": code}), 403, "user_not_active", "User is not active")
		}},
		{"user_without_email", func(t *testing.T, a *api, p person) {
			phone := "+1333" + p.phone[5:]
			a.CreateUser(t, a.token, map[string]any{"phone_number": phone})
			body := map[string]any{"identifier_type": "phone_number", "identifier": phone, "redirect_uri": a.callback()}
			wantError(t, a.post(t, pathSend, body), 404, "user_email_address_missing", "User has no email address")
			body["channel"] = "direct" // a link returned to the caller needs no address
			if r := a.post(t, pathSend, body); r.Status != 200 || r.String("code") == "" {
				t.Fatalf("direct: %d %s", r.Status, r.Body)
			}
		}},
		{"deprecated_email_shape", func(t *testing.T, a *api, p person) {
			r := a.post(t, pathSend, map[string]any{"email": strings.ToUpper(p.email), "redirect_uri": a.callback()})
			if r.Status != 200 {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			msgs := a.Outbox(t, p.email)
			if len(msgs) != 1 {
				t.Fatalf("outbox: %d messages", len(msgs))
			}
			link, _ := url.Parse(linkRE.FindString(msgs[0].Text))
			if r := a.post(t, pathAuth, map[string]any{"code": link.Query().Get("code")}); r.Status != 200 {
				t.Fatalf("authenticate: %d %s", r.Status, r.Body)
			}
		}},
		{"identifier_types", func(t *testing.T, a *api, p person) {
			for _, id := range []map[string]any{
				{"identifier_type": "phone_number", "identifier": p.phone},
				{"identifier_type": "user_id", "identifier": p.id},
				{"identifier": p.email},
			} {
				id["redirect_uri"], id["channel"] = a.callback(), "direct"
				r := a.post(t, pathSend, id)
				if r.Status != 200 {
					t.Fatalf("send %v: %d %s", id, r.Status, r.Body)
				}
				r = a.post(t, pathAuth, map[string]any{"code": r.String("code")})
				if r.Status != 200 || a.claims(t, r.String("id_token"))["sub"] != p.id {
					t.Fatalf("authenticate %v: %d %s", id, r.Status, r.Body)
				}
			}
		}},
		{"link_expires_after_10_minutes", func(t *testing.T, a *api, p person) {
			live := a.directLink(t, p, nil).String("code")
			a.Clock.Advance(10*time.Minute - time.Millisecond)
			if r := a.Do(t, http.MethodGet, magiclink.RedirectPath+"?code="+url.QueryEscape(live), "", nil); r.Status != http.StatusFound {
				t.Fatalf("GET just before expiry: %d %s", r.Status, r.Body)
			}
			a.Clock.Advance(time.Millisecond)
			wantError(t, a.Do(t, http.MethodGet, magiclink.RedirectPath+"?code="+url.QueryEscape(live), "", nil), 400, "400", "This link is invalid or has expired")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": live}), 400, "400", invalidCode)
		}},
		{"email_expiration_sets_the_lifetime", func(t *testing.T, a *api, p person) {
			code := a.directLink(t, p, map[string]any{"email_expiration": 30}).String("code")
			a.Clock.Advance(30*time.Minute - time.Millisecond)
			if r := a.post(t, pathAuth, map[string]any{"code": code}); r.Status != 200 {
				t.Fatalf("authenticate within 30 minutes: %d %s", r.Status, r.Body)
			}
			code = a.directLink(t, p, map[string]any{"email_expiration": 1}).String("code")
			a.Clock.Advance(time.Minute)
			wantError(t, a.post(t, pathAuth, map[string]any{"code": code}), 400, "400", invalidCode)
			for _, bad := range []any{0, 2.5, 24*60 + 1} {
				r := a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": a.callback(), "email_expiration": bad})
				wantError(t, r, 400, "system_invalid_input", "email_expiration: *")
			}
		}},
		{"new_send_replaces_the_previous_link", func(t *testing.T, a *api, p person) {
			first := a.directLink(t, p, nil).String("code")
			second := a.directLink(t, p, nil).String("code")
			wantError(t, a.Do(t, http.MethodGet, magiclink.RedirectPath+"?code="+url.QueryEscape(first), "", nil), 400, "400", "This link is invalid or has expired")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": first}), 400, "400", invalidCode)
			if r := a.post(t, pathAuth, map[string]any{"code": second}); r.Status != 200 {
				t.Fatalf("newest link: %d %s", r.Status, r.Body)
			}
		}},
		{"request_id_is_required_when_generated", func(t *testing.T, a *api, p person) {
			if r := a.directLink(t, p, nil); r.JSON()["request_id"] != nil {
				t.Fatalf("request_id without generate_request_id: %s", r.Body)
			}
			r := a.directLink(t, p, map[string]any{"generate_request_id": true})
			rid, code := r.String("request_id"), r.String("code")
			if rid == "" {
				t.Fatalf("no request_id: %s", r.Body)
			}
			wantError(t, a.post(t, pathAuth, map[string]any{"code": code}), 400, "system_invalid_input", "request_id: *")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": code, "request_id": "x" + rid}), 400, "system_invalid_input", "request_id: *")
			if r := a.post(t, pathAuth, map[string]any{"code": code, "request_id": rid}); r.Status != 200 {
				t.Fatalf("with request_id: %d %s", r.Status, r.Body)
			}
		}},
		{"channels", func(t *testing.T, a *api, p person) {
			before := len(a.Outbox(t, ""))
			r := a.directLink(t, p, nil)
			if r.String("message") != "Email sent successfully" || len(a.Outbox(t, "")) != before {
				t.Fatalf("direct: %s, outbox grew by %d", r.Body, len(a.Outbox(t, ""))-before)
			}
			r = a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": a.callback(), "channel": "email"})
			if r.Status != 200 || r.JSON()["code"] != nil || len(a.Outbox(t, p.email)) != 1 {
				t.Fatalf("email: %d %s", r.Status, r.Body)
			}
			wantError(t, a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": a.callback(), "channel": "sms"}), 400, "system_invalid_input", "channel: *")
			wantError(t, a.post(t, pathAuth, map[string]any{}), 400, "system_invalid_input", "code: is required")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": "no-such-code"}), 400, "400", invalidCode)
		}},
		{"redirect_without_state", func(t *testing.T, a *api, p person) {
			code := a.directLink(t, p, nil).String("code")
			r := a.Do(t, http.MethodGet, magiclink.RedirectPath+"?code="+url.QueryEscape(code), "", nil)
			if r.Status != http.StatusFound || r.Header.Get("Location") != a.callback()+"?code="+url.QueryEscape(code) {
				t.Fatalf("%d Location %q", r.Status, r.Header.Get("Location"))
			}
			wantError(t, a.Do(t, http.MethodGet, magiclink.RedirectPath, "", nil), 400, "400", "This link is invalid or has expired")
		}},
		{"send_rate_limit", func(t *testing.T, a *api, p person) {
			for range 5 {
				a.directLink(t, p, nil)
			}
			r := a.post(t, pathSend, map[string]any{"identifier": p.email, "redirect_uri": a.callback(), "channel": "direct"})
			wantError(t, r, 429, "rate_limit_exceeded", "Too many requests, retry in 900 seconds")
			if r.Header.Get("Retry-After") != "900" {
				t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
			}
			a.Clock.Advance(15 * time.Minute)
			a.token = a.ClientToken(t)
			a.directLink(t, p, nil)
		}},
		{"code_of_another_app_is_refused_and_kept", func(t *testing.T, a *api, p person) {
			creds, err := a.Apps.CreateApp(context.Background(), app.NewApp{Name: "other-" + p.id, RedirectURIs: []string{a.callback()}})
			if err != nil {
				t.Fatal(err)
			}
			other := *a.Stack
			other.ClientID, other.ClientSecret = creds.ClientID, creds.ClientSecret
			code := a.directLink(t, p, nil).String("code")
			wantError(t, other.Do(t, http.MethodPost, pathAuth, other.ClientToken(t), map[string]any{"code": code}), 400, "400", invalidCode)
			if r := a.post(t, pathAuth, map[string]any{"code": code}); r.Status != 200 {
				t.Fatalf("own app after another app tried: %d %s", r.Status, r.Body)
			}
		}},
		{"second_factor_joins_the_session", func(t *testing.T, a *api, p person) {
			sent := a.post(t, pathOTPSend, map[string]any{"channel": "direct", "identifier": p.email})
			first := a.post(t, pathOTPAuth, map[string]any{"identifier": p.email, "passcode": sent.String("code")})
			sid := first.String("session_id")
			r := a.post(t, pathAuth, map[string]any{"code": a.directLink(t, p, nil).String("code"), "session_id": sid})
			if r.Status != 200 || r.String("session_id") != sid {
				t.Fatalf("join: %d %s", r.Status, r.Body)
			}
			if amr := a.claims(t, r.String("id_token"))["amr"]; !reflect.DeepEqual(amr, []any{"otp", "eml", "mfa"}) {
				t.Fatalf("amr = %v", amr)
			}
			// The reference's answer for a session that is not the user's (or does not exist).
			other := a.newPerson(t)
			theirs := a.post(t, pathAuth, map[string]any{"code": a.directLink(t, other, nil).String("code")}).String("session_id")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": a.directLink(t, p, nil).String("code"), "session_id": theirs}), 400, "400", "Session not found")
			wantError(t, a.post(t, pathAuth, map[string]any{"code": a.directLink(t, p, nil).String("code"), "session_id": "nope"}), 400, "400", "Session not found")
		}},
	}
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			a := start(t, e, latchtest.Options{})
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					a.token = a.ClientToken(t)
					tc.fn(t, a, a.newPerson(t))
				})
			}
		})
	}
}
