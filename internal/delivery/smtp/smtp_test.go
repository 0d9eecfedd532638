package smtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

const (
	testUser = "mailer"
	testPass = "hunter2-Secret!"
	testCode = "730194"
)

func renderedEmail(to string) delivery.Message {
	m := delivery.RenderEmail(
		delivery.EmailContent{SenderName: "Acme Security"},
		delivery.EmailData{AppName: "Acme", Code: testCode, ExpiresInMinutes: 10},
	)
	m.To = to
	return m
}

func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		server   testServerOptions
		starttls bool // server offers STARTTLS with a self-signed cert
		implicit bool // server speaks TLS from the first byte
		cfg      Config
		wantErr  bool
		wantTLS  bool
		wantAuth string
	}{
		{name: "plain relay", cfg: Config{TLS: "none"}},
		{name: "auth plain", server: testServerOptions{user: testUser, pass: testPass},
			cfg: Config{TLS: "none", Username: testUser, Password: testPass}, wantAuth: testUser},
		{name: "auth wrong password", server: testServerOptions{user: testUser, pass: testPass},
			cfg: Config{TLS: "none", Username: testUser, Password: "not-the-Password-42"}, wantErr: true},
		{name: "auth required but no username", server: testServerOptions{user: testUser, pass: testPass},
			cfg: Config{TLS: "none"}, wantErr: true},
		{name: "recipient rejected", server: testServerOptions{rejectRcpt: true},
			cfg: Config{TLS: "none", Username: "", Password: ""}, wantErr: true},
		{name: "recipient rejected with auth", server: testServerOptions{user: testUser, pass: testPass, rejectRcpt: true},
			cfg: Config{TLS: "none", Username: testUser, Password: testPass}, wantErr: true},
		{name: "starttls", starttls: true,
			cfg: Config{TLS: "starttls", InsecureSkipVerify: true}, wantTLS: true},
		{name: "starttls with auth", starttls: true, server: testServerOptions{user: testUser, pass: testPass},
			cfg: Config{TLS: "starttls", InsecureSkipVerify: true, Username: testUser, Password: testPass}, wantTLS: true, wantAuth: testUser},
		{name: "starttls default mode", starttls: true,
			cfg: Config{InsecureSkipVerify: true}, wantTLS: true},
		{name: "starttls untrusted certificate", starttls: true,
			cfg: Config{TLS: "starttls", Username: testUser, Password: testPass}, wantErr: true},
		{name: "starttls mandatory but not offered",
			cfg: Config{TLS: "starttls", InsecureSkipVerify: true, Username: testUser, Password: testPass}, wantErr: true},
		{name: "implicit tls", implicit: true,
			cfg: Config{TLS: "tls", InsecureSkipVerify: true}, wantTLS: true},
		{name: "implicit tls with auth", implicit: true, server: testServerOptions{user: testUser, pass: testPass},
			cfg: Config{TLS: "tls", InsecureSkipVerify: true, Username: testUser, Password: testPass}, wantTLS: true, wantAuth: testUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.server
			if tt.starttls || tt.implicit {
				opts.tlsConfig = selfSignedTLS(t)
				opts.implicitTLS = tt.implicit
			}
			srv := startServer(t, opts)
			cfg := tt.cfg
			cfg.Host, cfg.Port, cfg.From = srv.host, srv.port, "login@example.com"
			cfg.Timeout = 5 * time.Second
			s, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			msg := renderedEmail("user@example.net")
			err = s.Send(context.Background(), msg)

			if tt.wantErr {
				if err == nil {
					t.Fatal("Send succeeded, want error")
				}
				if !errors.Is(err, delivery.ErrDeliveryFailed) {
					t.Errorf("error %v does not wrap ErrDeliveryFailed", err)
				}
				for _, secret := range []string{cfg.Password, testPass, testCode} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("error %q leaks %q", err, secret)
					}
				}
				if n := len(srv.messages()); n != 0 {
					t.Errorf("server accepted %d messages, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.messages()
			if len(got) != 1 {
				t.Fatalf("server got %d messages, want 1", len(got))
			}
			r := got[0]
			if r.from != "login@example.com" || r.to != "user@example.net" {
				t.Errorf("envelope = %q -> %q", r.from, r.to)
			}
			if r.tls != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", r.tls, tt.wantTLS)
			}
			if r.authUser != tt.wantAuth {
				t.Errorf("authenticated as %q, want %q", r.authUser, tt.wantAuth)
			}
			checkMessage(t, r.data, msg)
		})
	}
}

// checkMessage parses raw DATA and checks headers and both MIME parts.
func checkMessage(t *testing.T, raw []byte, want delivery.Message) {
	t.Helper()
	pm, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(pm.Header.Get("Subject"))
	if err != nil || subject != want.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, want.Subject)
	}
	from, err := netmail.ParseAddress(pm.Header.Get("From"))
	if err != nil || from.Name != "Acme Security" || from.Address != "login@example.com" {
		t.Errorf("From = %q (%v)", pm.Header.Get("From"), err)
	}
	to, err := netmail.ParseAddress(pm.Header.Get("To"))
	if err != nil || to.Address != "user@example.net" {
		t.Errorf("To = %q (%v)", pm.Header.Get("To"), err)
	}
	if d, err := pm.Header.Date(); err != nil || time.Since(d).Abs() > time.Hour {
		t.Errorf("Date = %q (%v)", pm.Header.Get("Date"), err)
	}
	if id := pm.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	mediaType, params, err := mime.ParseMediaType(pm.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", pm.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(pm.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	if len(parts) != 2 {
		t.Fatalf("got parts %v, want text/plain and text/html", keys(parts))
	}
	if text := parts["text/plain"]; !strings.Contains(text, "Your code: "+testCode) {
		t.Errorf("text/plain part lacks the code:\n%s", text)
	}
	if html := parts["text/html"]; !strings.Contains(html, ">"+testCode+"</td>") || !strings.Contains(html, "<!DOCTYPE html>") {
		t.Errorf("text/html part lacks the code box")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSendRejectsBadMessages(t *testing.T) {
	srv := startServer(t, testServerOptions{})
	s, err := New(Config{Host: srv.host, Port: srv.port, From: "Acme <login@example.com>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		msg  delivery.Message
		want error
	}{
		{"empty recipient", context.Background(), delivery.Message{Text: "x " + testCode}, nil},
		{"bad recipient", context.Background(), delivery.Message{To: "not an address", Text: "x " + testCode}, nil},
		{"header injection recipient", context.Background(), delivery.Message{To: "a@example.com\r\nBcc: b@example.com", Text: "x"}, nil},
		{"empty body", context.Background(), delivery.Message{To: "user@example.net"}, nil},
		{"cancelled context", cancelled, renderedEmail("user@example.net"), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(tt.ctx, tt.msg)
			if !errors.Is(err, delivery.ErrDeliveryFailed) {
				t.Fatalf("Send error = %v, want ErrDeliveryFailed", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Send error = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), testCode) {
				t.Errorf("error %q leaks the body", err)
			}
		})
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("server accepted %d messages, want 0", n)
	}
}

func TestSendUsesFromDisplayNameFallback(t *testing.T) {
	srv := startServer(t, testServerOptions{})
	s, err := New(Config{Host: srv.host, Port: srv.port, From: "Acme Mailer <login@example.com>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), delivery.Message{To: "user@example.net", Subject: "Hi\r\nBcc: x@example.org", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	pm, err := netmail.ReadMessage(strings.NewReader(string(got[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	if from, err := netmail.ParseAddress(pm.Header.Get("From")); err != nil || from.Name != "Acme Mailer" {
		t.Errorf("From = %q, want display name from config", pm.Header.Get("From"))
	}
	if pm.Header.Get("Bcc") != "" || pm.Header.Get("Subject") != "Hi Bcc: x@example.org" {
		t.Errorf("subject line break was not neutralised: Subject=%q Bcc=%q", pm.Header.Get("Subject"), pm.Header.Get("Bcc"))
	}
	if ct, _, _ := mime.ParseMediaType(pm.Header.Get("Content-Type")); ct != "text/plain" {
		t.Errorf("text-only message Content-Type = %q", ct)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		port    int
	}{
		{name: "defaults to starttls on 587", cfg: Config{Host: "smtp.example.com", From: "a@example.com"}, port: 587},
		{name: "implicit tls on 465", cfg: Config{Host: "smtp.example.com", From: "a@example.com", TLS: "TLS"}, port: 465},
		{name: "none on 25", cfg: Config{Host: "relay", From: "a@example.com", TLS: "none"}, port: 25},
		{name: "explicit port", cfg: Config{Host: "relay", Port: 2525, From: "a@example.com"}, port: 2525},
		{name: "missing host", cfg: Config{From: "a@example.com"}, wantErr: true},
		{name: "host with path", cfg: Config{Host: "smtp.example.com/x", From: "a@example.com"}, wantErr: true},
		{name: "bad port", cfg: Config{Host: "h", Port: 70000, From: "a@example.com"}, wantErr: true},
		{name: "bad tls mode", cfg: Config{Host: "h", From: "a@example.com", TLS: "opportunistic"}, wantErr: true},
		{name: "missing from", cfg: Config{Host: "h"}, wantErr: true},
		{name: "bad from", cfg: Config{Host: "h", From: "nope"}, wantErr: true},
		{name: "password without user", cfg: Config{Host: "h", From: "a@example.com", Password: testPass}, wantErr: true},
		{name: "negative timeout", cfg: Config{Host: "h", From: "a@example.com", Timeout: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), testPass) {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if s.cfg.Port != tt.port {
				t.Errorf("port = %d, want %d", s.cfg.Port, tt.port)
			}
		})
	}
}

func TestConfigStringHidesPassword(t *testing.T) {
	cfg := Config{Host: "smtp.example.com", Port: 587, Username: "mailer", Password: testPass, From: "login@example.com", TLS: "starttls"}
	want := "smtp host=smtp.example.com:587 user=mailer from=login@example.com tls=starttls"
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if s != want {
			t.Errorf("formatted config = %q, want %q", s, want)
		}
		if strings.Contains(s, testPass) {
			t.Errorf("formatted config leaks the password: %q", s)
		}
	}
}

func TestSendErrorRedactsPasswordAndUnwraps(t *testing.T) {
	s := &Sender{cfg: Config{Password: testPass}}
	cause := context.DeadlineExceeded
	err := error(&sendError{msg: s.redact("server said: bad password " + testPass), err: cause})
	if strings.Contains(err.Error(), testPass) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q was not redacted", err)
	}
	if !errors.Is(err, delivery.ErrDeliveryFailed) || !errors.Is(err, cause) {
		t.Errorf("error %v does not unwrap to ErrDeliveryFailed and its cause", err)
	}
}
