package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/delivery"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok-3f9a1c5e7b"
	testBody  = "482913 is your Acme login code."
)

// capturedRequest is what the fake Twilio saw.
type capturedRequest struct {
	method, path, contentType string
	user, pass                string
	basicOK                   bool
	form                      url.Values
}

func fakeTwilio(t *testing.T, status int, body string) (*httptest.Server, *[]capturedRequest) {
	t.Helper()
	var got []capturedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			t.Errorf("body is not a form: %v", err)
		}
		user, pass, ok := r.BasicAuth()
		got = append(got, capturedRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), user, pass, ok, form})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		status    int
		respBody  string
		wantForm  url.Values
		wantErrIn []string // substrings of the error; nil means success
	}{
		{
			name:     "from number",
			cfg:      Config{From: "+15005550006"},
			status:   201,
			respBody: `{"sid":"SM123","status":"queued"}`,
			wantForm: url.Values{"To": {"+14155552671"}, "Body": {testBody}, "From": {"+15005550006"}},
		},
		{
			name:     "messaging service wins over from",
			cfg:      Config{From: "+15005550006", MessagingServiceSID: "MG0123"},
			status:   200,
			respBody: `{}`,
			wantForm: url.Values{"To": {"+14155552671"}, "Body": {testBody}, "MessagingServiceSid": {"MG0123"}},
		},
		{
			name:      "400 with twilio error code",
			cfg:       Config{From: "+15005550006"},
			status:    400,
			respBody:  `{"code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			wantForm:  url.Values{"To": {"+14155552671"}, "Body": {testBody}, "From": {"+15005550006"}},
			wantErrIn: []string{"HTTP 400", "21211"},
		},
		{
			name:      "500 without json",
			cfg:       Config{From: "+15005550006"},
			status:    500,
			respBody:  `upstream exploded`,
			wantForm:  url.Values{"To": {"+14155552671"}, "Body": {testBody}, "From": {"+15005550006"}},
			wantErrIn: []string{"HTTP 500"},
		},
		{
			name:      "401 bad credentials",
			cfg:       Config{From: "+15005550006"},
			status:    401,
			respBody:  `{"code": 20003, "message": "Authenticate"}`,
			wantForm:  url.Values{"To": {"+14155552671"}, "Body": {testBody}, "From": {"+15005550006"}},
			wantErrIn: []string{"HTTP 401", "20003"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeTwilio(t, tt.status, tt.respBody)
			cfg := tt.cfg
			cfg.AccountSID, cfg.AuthToken, cfg.BaseURL = testSID, testToken, srv.URL+"/"
			s, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			err = s.Send(context.Background(), delivery.Message{Channel: delivery.ChannelSMS, To: "+14155552671", Text: testBody, SenderID: "ACME"})

			if len(*got) != 1 {
				t.Fatalf("server got %d requests, want 1", len(*got))
			}
			r := (*got)[0]
			if r.method != http.MethodPost || r.path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" {
				t.Errorf("request = %s %s", r.method, r.path)
			}
			if r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", r.contentType)
			}
			if !r.basicOK || r.user != testSID || r.pass != testToken {
				t.Errorf("basic auth = %v %q:%q", r.basicOK, r.user, r.pass)
			}
			if r.form.Encode() != tt.wantForm.Encode() {
				t.Errorf("form = %v, want %v", r.form, tt.wantForm)
			}

			if tt.wantErrIn == nil {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if !errors.Is(err, delivery.ErrDeliveryFailed) {
				t.Fatalf("error %v does not wrap ErrDeliveryFailed", err)
			}
			for _, want := range tt.wantErrIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			for _, secret := range []string{testToken, testBody, "482913"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestSendTransportErrors(t *testing.T) {
	srv, _ := fakeTwilio(t, 201, `{}`)
	closedURL := srv.URL
	srv.Close() // nothing listens there any more

	live, got := fakeTwilio(t, 201, `{}`)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		baseURL string
		ctx     context.Context
		msg     delivery.Message
		want    error
	}{
		{"connection refused", closedURL, context.Background(), delivery.Message{To: "+14155552671", Text: testBody}, nil},
		{"cancelled context", live.URL, cancelled, delivery.Message{To: "+14155552671", Text: testBody}, context.Canceled},
		{"empty recipient", live.URL, context.Background(), delivery.Message{Text: testBody}, nil},
		{"empty body", live.URL, context.Background(), delivery.Message{To: "+14155552671"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: "+15005550006", BaseURL: tt.baseURL})
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
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testBody) {
				t.Errorf("error %q leaks a secret or the body", err)
			}
		})
	}
	if len(*got) != 0 {
		t.Errorf("live server got %d requests, want 0", len(*got))
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		wantURL string
	}{
		{name: "default base url", cfg: Config{AccountSID: testSID, AuthToken: testToken, From: "+1"},
			wantURL: "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages.json"},
		{name: "messaging service only", cfg: Config{AccountSID: testSID, AuthToken: testToken, MessagingServiceSID: "MG1"},
			wantURL: "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages.json"},
		{name: "missing sid", cfg: Config{AuthToken: testToken, From: "+1"}, wantErr: true},
		{name: "sid with slash", cfg: Config{AccountSID: "AC/../x", AuthToken: testToken, From: "+1"}, wantErr: true},
		{name: "missing token", cfg: Config{AccountSID: testSID, From: "+1"}, wantErr: true},
		{name: "missing sender", cfg: Config{AccountSID: testSID, AuthToken: testToken}, wantErr: true},
		{name: "bad base url", cfg: Config{AccountSID: testSID, AuthToken: testToken, From: "+1", BaseURL: "ftp://x"}, wantErr: true},
		{name: "base url with credentials", cfg: Config{AccountSID: testSID, AuthToken: testToken, From: "+1", BaseURL: "https://u:p@x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error leaks token: %v", err)
				}
				return
			}
			if s.endpoint != tt.wantURL {
				t.Errorf("endpoint = %q, want %q", s.endpoint, tt.wantURL)
			}
		})
	}
}

func TestConfigStringHidesToken(t *testing.T) {
	cfg := Config{AccountSID: testSID, AuthToken: testToken, From: "+15005550006"}
	want := "twilio account=" + testSID + " from=+15005550006 messaging_service= base_url=https://api.twilio.com"
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if s != want || strings.Contains(s, testToken) {
			t.Errorf("formatted config = %q, want %q", s, want)
		}
	}
}
