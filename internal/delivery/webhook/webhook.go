// Package webhook delivers login messages by POSTing signed JSON to an
// operator-run HTTPS endpoint, which then forwards them (e.g. to an SMS
// gateway).
//
// It owns the request format and its HMAC signature. It must never log a
// message body, and its errors and String output must never contain the
// secret, the body, or the webhook URL's path and query (which often embed
// tokens).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

// Header names set on every webhook request.
const (
	HeaderTimestamp = "X-Latch-Timestamp"
	HeaderSignature = "X-Latch-Signature"
)

// DefaultTimeout bounds one request when the context has no deadline.
const DefaultTimeout = 10 * time.Second

// Config holds the endpoint and signing secret.
type Config struct {
	URL        string       // https://, or http:// only for localhost/127.0.0.1/::1
	Secret     string       // HMAC-SHA256 key
	HTTPClient *http.Client // default: 10s timeout, no redirects
}

// String describes the configuration with only the URL's scheme and host.
func (c Config) String() string {
	target := "(invalid)"
	if u, err := url.Parse(c.URL); err == nil {
		target = u.Scheme + "://" + u.Host
	}
	return "webhook url=" + target
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// payload is the JSON request body.
type payload struct {
	To      string `json:"to"`
	Message string `json:"message"`
}

// Sign returns the X-Latch-Signature value, "sha256=" followed by the hex
// HMAC-SHA256 of timestamp + "." + body under secret.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Sender delivers messages to one webhook endpoint.
type Sender struct {
	url    string
	host   string
	secret string
	client *http.Client
	now    func() time.Time
}

var _ delivery.Sender = (*Sender)(nil)

// New validates cfg and returns a Sender for it.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, errors.New("webhook: URL must be an absolute URL without credentials")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, errors.New("webhook: URL must use https (http only for localhost)")
	}
	if cfg.Secret == "" {
		return nil, errors.New("webhook: secret is required")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{url: u.String(), host: u.Host, secret: cfg.Secret, client: client, now: time.Now}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Send POSTs {"to": m.To, "message": m.Text} signed with the secret; any
// non-2xx answer is a failure carrying the HTTP status.
func (s *Sender) Send(ctx context.Context, m delivery.Message) error {
	if strings.TrimSpace(m.To) == "" {
		return fmt.Errorf("%w: webhook: recipient is empty", delivery.ErrDeliveryFailed)
	}
	body, err := json.Marshal(payload{To: m.To, Message: m.Text})
	if err != nil {
		return fmt.Errorf("%w: webhook: encode payload", delivery.ErrDeliveryFailed)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: webhook: build request", delivery.ErrDeliveryFailed)
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(s.secret, ts, body))

	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the full URL, which may hold a token; keep the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: webhook: POST to %s: %w", delivery.ErrDeliveryFailed, s.host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: webhook: POST to %s: HTTP %d", delivery.ErrDeliveryFailed, s.host, resp.StatusCode)
	}
	return nil
}
