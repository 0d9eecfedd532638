package otp_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/delivery/smtp"
	"github.com/latch-auth/latch/internal/delivery/twilio"
	"github.com/latch-auth/latch/internal/delivery/webhook"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// smtpSender is the real SMTP sender pointed at a mailbox, without TLS.
func smtpSender(t testing.TB, host string, port int) *smtp.Sender {
	t.Helper()
	s, err := smtp.New(smtp.Config{Host: host, Port: port, From: "Latch <login@latch.test>", TLS: smtp.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOTPBySMTP sends an email OTP through the real SMTP sender to an in-process SMTP server,
// reads the code out of the received MIME message and logs in with it.
func TestOTPBySMTP(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		mb := latchtest.StartMailbox(t)
		sms := &recorder{}
		a := start(t, e, latchtest.Options{Sender: delivery.Router{Email: smtpSender(t, mb.Host, mb.Port), SMS: sms}})
		p := a.newPerson(t)

		r := a.post(t, pathSend, sendBody("email", p, map[string]any{
			"email_content": map[string]any{"subject": "Your Acme code", "senderName": "Acme Security"},
		}))
		if r.Status != 200 || string(r.Body) != "{\"message\":\"OTP sent\"}\n" {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		msgs := mb.Messages()
		if len(msgs) != 1 {
			t.Fatalf("the SMTP server received %d messages, want 1", len(msgs))
		}
		if msgs[0].From != "login@latch.test" || !reflect.DeepEqual(msgs[0].To, []string{p.email}) {
			t.Fatalf("envelope from %q to %v", msgs[0].From, msgs[0].To)
		}
		m := latchtest.ParseMail(t, msgs[0].Data)
		if got := m.Header.Get("Subject"); got != "Your Acme code" {
			t.Fatalf("Subject = %q", got)
		}
		from, err := m.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != "Acme Security" || from[0].Address != "login@latch.test" {
			t.Fatalf("From = %v, %v", from, err)
		}
		to, err := m.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != p.email {
			t.Fatalf("To = %v, %v", to, err)
		}
		codes := sixDigits.FindAllString(m.Text, -1)
		if len(codes) != 1 || !strings.Contains(m.Text, "Your code: "+codes[0]) {
			t.Fatalf("text part must carry exactly one code: %q", m.Text)
		}
		if !strings.Contains(m.HTML, codes[0]) {
			t.Fatalf("HTML part lacks the code: %q", m.HTML)
		}
		tok := a.login(t, p.email, codes[0], nil)
		if tok["token_type"] != "Bearer" || tok["expires_in"] != 3600.0 || tok["session_id"] == "" || tok["refresh_token"] == "" {
			t.Fatalf("token response: %v", tok)
		}
		var c idClaims
		a.verifyJWT(t, tok["id_token"].(string), &c)
		if !reflect.DeepEqual(c.AMR, []string{"eotp"}) {
			t.Fatalf("amr = %v, want [eotp]", c.AMR)
		}
		if sms.count() != 0 {
			t.Fatal("an email OTP went to the SMS provider")
		}
	})
}

// captured is one request a fake provider received.
type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

// fakeProvider is an httptest server that records requests and answers status.
type fakeProvider struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []captured
}

func newFakeProvider(t testing.TB, status int, answer string) *fakeProvider {
	t.Helper()
	f := &fakeProvider{status: status}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := readAll(t, r.Body)
		f.mu.Lock()
		f.got = append(f.got, captured{r.Method, r.URL.Path, r.Header.Clone(), body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProvider) requests() []captured {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]captured(nil), f.got...)
}

const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "tok-3f9a1c5e7b"
	twilioFrom  = "+15005550006"
	hookSecret  = "whsec-8c1d2e"
)

func twilioSender(t testing.TB, baseURL string) *twilio.Sender {
	t.Helper()
	s, err := twilio.New(twilio.Config{AccountSID: twilioSID, AuthToken: twilioToken, From: twilioFrom, BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func webhookSender(t testing.TB, u string) *webhook.Sender {
	t.Helper()
	s, err := webhook.New(webhook.Config{URL: u, Secret: hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// smsText is the default SMS of the default app.
func smsText(code string) string {
	return code + " is your default login code. It expires in 5 minutes."
}

// TestOTPBySMSProviders sends an SMS OTP through Twilio's REST API and through the signed webhook,
// each faked by an httptest server, checks the exact request the provider gets, and logs in with
// the code it carried.
func TestOTPBySMSProviders(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		t.Run("twilio", func(t *testing.T) {
			fake := newFakeProvider(t, http.StatusCreated, `{"sid":"SM123","status":"queued"}`)
			a := start(t, e, latchtest.Options{Sender: delivery.Router{Email: &recorder{}, SMS: twilioSender(t, fake.URL)}})
			p := a.newPerson(t)
			if r := a.post(t, pathSend, sendBody("sms", p, nil)); r.Status != 200 || r.JSON()["code"] != nil {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("twilio got %d requests", len(reqs))
			}
			req := reqs[0]
			if req.method != http.MethodPost || req.path != "/2010-04-01/Accounts/"+twilioSID+"/Messages.json" {
				t.Fatalf("request %s %s", req.method, req.path)
			}
			hr := &http.Request{Header: req.header}
			user, pass, ok := hr.BasicAuth()
			if !ok || user != twilioSID || pass != twilioToken {
				t.Fatalf("basic auth %q %q %v", user, pass, ok)
			}
			if ct := req.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Fatalf("Content-Type = %q", ct)
			}
			form, err := url.ParseQuery(string(req.body))
			if err != nil {
				t.Fatal(err)
			}
			code := sixDigits.FindString(form.Get("Body"))
			want := url.Values{"To": {p.phone}, "From": {twilioFrom}, "Body": {smsText(code)}}
			if !reflect.DeepEqual(form, want) {
				t.Fatalf("form = %v, want %v", form, want)
			}
			a.login(t, p.email, code, nil)
		})
		t.Run("webhook", func(t *testing.T) {
			fake := newFakeProvider(t, http.StatusOK, `{}`)
			a := start(t, e, latchtest.Options{Sender: delivery.Router{Email: &recorder{}, SMS: webhookSender(t, fake.URL+"/hooks/sms?token=abc")}})
			p := a.newPerson(t)
			if r := a.post(t, pathSend, sendBody("sms", p, map[string]any{"custom_sms_input": map[string]any{"custom_message": "{app} code {otp}"}})); r.Status != 200 {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("webhook got %d requests", len(reqs))
			}
			req := reqs[0]
			if req.method != http.MethodPost || req.path != "/hooks/sms" || req.header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %s %s %q", req.method, req.path, req.header.Get("Content-Type"))
			}
			var body map[string]any
			if err := json.Unmarshal(req.body, &body); err != nil {
				t.Fatalf("body %q: %v", req.body, err)
			}
			code := sixDigits.FindString(body["message"].(string))
			if want := map[string]any{"to": p.phone, "message": "default code " + code}; !reflect.DeepEqual(body, want) {
				t.Fatalf("body = %v, want %v", body, want)
			}
			ts, err := strconv.ParseInt(req.header.Get(webhook.HeaderTimestamp), 10, 64)
			if err != nil {
				t.Fatalf("timestamp header: %v", err)
			}
			sig := req.header.Get(webhook.HeaderSignature)
			if sig != webhook.Sign(hookSecret, ts, req.body) || sig == webhook.Sign("other-secret", ts, req.body) {
				t.Fatalf("signature %q does not verify", sig)
			}
			a.login(t, p.email, code, nil)
		})
	})
}

// TestOTPDeliveryFailures: a provider that fails is a 502 delivery_failed, a channel without a
// provider is a 400 external_provider_configuration_error.
func TestOTPDeliveryFailures(t *testing.T) {
	// An address where nothing listens: a port just released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		down := newFakeProvider(t, http.StatusInternalServerError, `{"code":20500,"message":"Internal Server Error"}`)
		cases := []struct {
			name    string
			router  delivery.Router
			channel string
			status  int
			code    string
			message string
		}{
			{"twilio_down", delivery.Router{SMS: twilioSender(t, down.URL)}, "sms", 502, "delivery_failed", "The sms provider failed to deliver the message; nothing was sent"},
			{"webhook_down", delivery.Router{SMS: webhookSender(t, down.URL)}, "sms", 502, "delivery_failed", "The sms provider failed to deliver the message; nothing was sent"},
			{"smtp_down", delivery.Router{Email: smtpSender(t, "127.0.0.1", deadPort)}, "email", 502, "delivery_failed", "The email provider failed to deliver the message; nothing was sent"},
			{"no_sms_provider", delivery.Router{Email: &recorder{}}, "sms", 400, "external_provider_configuration_error", "channel: no sms provider is configured"},
			{"no_email_provider", delivery.Router{SMS: &recorder{}}, "email", 400, "external_provider_configuration_error", "channel: no email provider is configured"},
		}
		dsn := e.DSN(t)
		first := latchtest.Start(t, dsn, latchtest.Options{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				// Every case is a node with its own sender on one shared database.
				s := latchtest.Start(t, "", latchtest.Options{Store: first.Store, Key: first.Key, Sender: tc.router})
				a := &api{Stack: s, token: s.ClientToken(t)}
				p := a.newPerson(t)
				before := len(down.requests())
				wantError(t, a.post(t, pathSend, sendBody(tc.channel, p, nil)), tc.status, tc.code, tc.message)
				if tc.status == 502 && tc.channel == "sms" && len(down.requests()) != before+1 {
					t.Fatalf("the provider was called %d times", len(down.requests())-before)
				}
				// The direct channel needs no provider.
				if r := a.post(t, pathSend, sendBody("direct", p, nil)); r.Status != 200 {
					t.Fatalf("direct: %d %s", r.Status, r.Body)
				}
			})
		}
	})
}
