package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

const (
	testSecret = "whsec-9b1f0c2e"
	testBody   = "Your Acme code is 551204"
)

// capturedRequest is what the fake receiver saw.
type capturedRequest struct {
	method, path, contentType string
	timestamp, signature      string
	body                      []byte
}

func fakeReceiver(t *testing.T, status int) (*httptest.Server, *[]capturedRequest) {
	t.Helper()
	var got []capturedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, capturedRequest{
			r.Method, r.URL.Path, r.Header.Get("Content-Type"),
			r.Header.Get("X-Latch-Timestamp"), r.Header.Get("X-Latch-Signature"), body,
		})
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSend(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr string
	}{
		{name: "200 ok", status: 200},
		{name: "204 ok", status: 204},
		{name: "400 fails", status: 400, wantErr: "HTTP 400"},
		{name: "500 fails", status: 500, wantErr: "HTTP 500"},
		{name: "redirect is not followed", status: 302, wantErr: "HTTP 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeReceiver(t, tt.status)
			s, err := New(Config{URL: srv.URL + "/hooks/sms?token=abc123", Secret: testSecret})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			before := time.Now().Unix()
			sendErr := s.Send(context.Background(), delivery.Message{Channel: delivery.ChannelSMS, To: "+14155552671", Text: testBody})
			after := time.Now().Unix()

			if len(*got) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(*got))
			}
			r := (*got)[0]
			if r.method != http.MethodPost || r.path != "/hooks/sms" || r.contentType != "application/json" {
				t.Errorf("request = %s %s (%s)", r.method, r.path, r.contentType)
			}
			var p map[string]string
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if len(p) != 2 || p["to"] != "+14155552671" || p["message"] != testBody {
				t.Errorf("payload = %v", p)
			}
			ts, err := strconv.ParseInt(r.timestamp, 10, 64)
			if err != nil || ts < before || ts > after {
				t.Errorf("timestamp %q not within [%d, %d]", r.timestamp, before, after)
			}
			if want := Sign(testSecret, ts, r.body); !hmac.Equal([]byte(r.signature), []byte(want)) {
				t.Errorf("signature = %q, want %q", r.signature, want)
			}
			if Sign("other-secret", ts, r.body) == r.signature {
				t.Errorf("signature verifies under a different secret")
			}

			if tt.wantErr == "" {
				if sendErr != nil {
					t.Fatalf("Send: %v", sendErr)
				}
				return
			}
			if !errors.Is(sendErr, delivery.ErrDeliveryFailed) || !strings.Contains(sendErr.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want ErrDeliveryFailed with %q", sendErr, tt.wantErr)
			}
			for _, leak := range []string{testSecret, testBody, "551204", "abc123"} {
				if strings.Contains(sendErr.Error(), leak) {
					t.Errorf("error %q leaks %q", sendErr, leak)
				}
			}
		})
	}
}

func TestSign(t *testing.T) {
	// Known answer: HMAC-SHA256("secret", "1700000000.{}"), computed independently
	// with: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
	const want = "sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
	got := Sign("secret", 1700000000, []byte("{}"))
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	tests := []struct {
		name   string
		secret string
		ts     int64
		body   string
	}{
		{"different secret", "secreT", 1700000000, "{}"},
		{"different timestamp", "secret", 1700000001, "{}"},
		{"different body", "secret", 1700000000, "{ }"},
		{"timestamp/body boundary moved", "secret", 170000000, "0.{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Sign(tt.secret, tt.ts, []byte(tt.body)) == got {
				t.Errorf("signature did not change")
			}
		})
	}
}

func TestSendTransportErrors(t *testing.T) {
	srv, _ := fakeReceiver(t, 200)
	closedURL := srv.URL + "/hook/s3cr3t-path-token"
	srv.Close()
	live, got := fakeReceiver(t, 200)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		url  string
		ctx  context.Context
		msg  delivery.Message
		want error
	}{
		{"connection refused", closedURL, context.Background(), delivery.Message{To: "+1", Text: testBody}, nil},
		{"cancelled context", live.URL, cancelled, delivery.Message{To: "+1", Text: testBody}, context.Canceled},
		{"empty recipient", live.URL, context.Background(), delivery.Message{Text: testBody}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{URL: tt.url, Secret: testSecret})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(tt.ctx, tt.msg)
			if !errors.Is(err, delivery.ErrDeliveryFailed) {
				t.Fatalf("error = %v, want ErrDeliveryFailed", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			for _, leak := range []string{testSecret, testBody, "s3cr3t-path-token"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
	if len(*got) != 0 {
		t.Errorf("live receiver got %d requests, want 0", len(*got))
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"https", Config{URL: "https://hooks.example.com/sms", Secret: "s"}, false},
		{"http localhost", Config{URL: "http://localhost:8080/sms", Secret: "s"}, false},
		{"http 127.0.0.1", Config{URL: "http://127.0.0.1:9/sms", Secret: "s"}, false},
		{"http ipv6 loopback", Config{URL: "http://[::1]:9/sms", Secret: "s"}, false},
		{"http remote", Config{URL: "http://hooks.example.com/sms", Secret: "s"}, true},
		{"http localhost lookalike", Config{URL: "http://localhost.evil.example/sms", Secret: "s"}, true},
		{"relative", Config{URL: "/sms", Secret: "s"}, true},
		{"other scheme", Config{URL: "ftp://hooks.example.com/sms", Secret: "s"}, true},
		{"credentials in url", Config{URL: "https://u:p@hooks.example.com/sms", Secret: "s"}, true},
		{"missing secret", Config{URL: "https://hooks.example.com/sms"}, true},
		{"empty", Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	cfg := Config{URL: "https://hooks.example.com/T0/B0/tokenXYZ?key=k1", Secret: testSecret}
	want := "webhook url=https://hooks.example.com"
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if s != want {
			t.Errorf("formatted config = %q, want %q", s, want)
		}
	}
}
