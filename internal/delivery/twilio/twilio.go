// Package twilio delivers login SMS through Twilio's Messages REST API.
//
// It owns the Twilio configuration and the HTTP request it makes. It must
// never log a message body, and its errors and String output must never
// contain the auth token or the body.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

// DefaultBaseURL is Twilio's API root.
const DefaultBaseURL = "https://api.twilio.com"

// DefaultTimeout bounds one request when the context has no deadline.
const DefaultTimeout = 10 * time.Second

// Config holds the Twilio account and sender settings.
type Config struct {
	AccountSID          string
	AuthToken           string
	From                string // sender number or alphanumeric id; ignored when MessagingServiceSID is set
	MessagingServiceSID string
	BaseURL             string       // default DefaultBaseURL
	HTTPClient          *http.Client // default: 10s timeout, no redirects
}

// String describes the configuration without the auth token.
func (c Config) String() string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	return fmt.Sprintf("twilio account=%s from=%s messaging_service=%s base_url=%s",
		c.AccountSID, c.From, c.MessagingServiceSID, base)
}

// GoString keeps %#v from printing the auth token.
func (c Config) GoString() string { return c.String() }

// Sender delivers SMS messages through one Twilio account.
type Sender struct {
	cfg      Config
	endpoint string
	host     string
	client   *http.Client
}

var _ delivery.Sender = (*Sender)(nil)

// New validates cfg and returns a Sender for it.
func New(cfg Config) (*Sender, error) {
	switch {
	case cfg.AccountSID == "" || strings.ContainsAny(cfg.AccountSID, "/?#% \t\r\n"):
		return nil, errors.New("twilio: account SID is required")
	case cfg.AuthToken == "":
		return nil, errors.New("twilio: auth token is required")
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, errors.New("twilio: from or messaging service SID is required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, errors.New("twilio: base URL must be an http(s) URL without credentials")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{
		cfg:      cfg,
		endpoint: base + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json",
		host:     u.Host,
		client:   client,
	}, nil
}

// Send posts m.Text to m.To (m.SenderID is ignored); any non-2xx answer is a
// failure carrying the HTTP status and Twilio's error code.
func (s *Sender) Send(ctx context.Context, m delivery.Message) error {
	if strings.TrimSpace(m.To) == "" {
		return fmt.Errorf("%w: twilio: recipient is empty", delivery.ErrDeliveryFailed)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: twilio: empty message", delivery.ErrDeliveryFailed)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if s.cfg.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", s.cfg.MessagingServiceSID)
	} else {
		form.Set("From", s.cfg.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%w: twilio: build request", delivery.ErrDeliveryFailed)
	}
	req.SetBasicAuth(s.cfg.AccountSID, s.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the request URL; report the host and the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: twilio: POST to %s: %w", delivery.ErrDeliveryFailed, s.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	var apiErr struct {
		Code int `json:"code"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&apiErr)
	if apiErr.Code != 0 {
		return fmt.Errorf("%w: twilio: HTTP %d, error code %d", delivery.ErrDeliveryFailed, resp.StatusCode, apiErr.Code)
	}
	return fmt.Errorf("%w: twilio: HTTP %d", delivery.ErrDeliveryFailed, resp.StatusCode)
}
