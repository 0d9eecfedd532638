// Package smtp delivers login emails over SMTP with github.com/wneessen/go-mail.
//
// It owns the SMTP configuration, its validation and the MIME message it
// builds. It must never log a message body, and its errors and String output
// must never contain the password, the body or the code inside it.
package smtp

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/wneessen/go-mail"
)

// TLS modes accepted in Config.TLS.
const (
	TLSStartTLS = "starttls" // plain connect, then mandatory STARTTLS (default)
	TLSImplicit = "tls"      // TLS from the first byte, usually port 465
	TLSNone     = "none"     // no encryption: local relays and tests only
)

// DefaultTimeout is the connect and I/O timeout used when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config describes how to reach the SMTP server.
type Config struct {
	Host               string
	Port               int // 0 picks 587 (starttls), 465 (tls) or 25 (none)
	Username           string
	Password           string
	From               string        // sender address, optionally "Name <addr>"
	TLS                string        // "starttls" (default), "tls" or "none"
	InsecureSkipVerify bool          // tests only
	Timeout            time.Duration // connect and I/O timeout; 0 means DefaultTimeout
}

// String describes the configuration without the password.
func (c Config) String() string {
	user := c.Username
	if user == "" {
		user = "(none)"
	}
	return fmt.Sprintf("smtp host=%s user=%s from=%s tls=%s",
		net.JoinHostPort(c.Host, fmt.Sprint(c.port())), user, c.From, c.mode())
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

func (c Config) mode() string {
	m := strings.ToLower(strings.TrimSpace(c.TLS))
	if m == "" {
		return TLSStartTLS
	}
	return m
}

func (c Config) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.mode() {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	default:
		return 587
	}
}

// Sender delivers email messages through one SMTP server.
type Sender struct {
	cfg      Config
	from     string // bare address
	fromName string // display name from Config.From, if any
	domain   string // Message-ID domain
}

var _ delivery.Sender = (*Sender)(nil)

// New validates cfg and returns a Sender for it.
func New(cfg Config) (*Sender, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	cfg.TLS = cfg.mode()
	cfg.Port = cfg.port()
	switch {
	case cfg.Host == "" || strings.ContainsAny(cfg.Host, " \t\r\n/"):
		return nil, errors.New("smtp: host is required and must be a bare host name")
	case cfg.Port < 1 || cfg.Port > 65535:
		return nil, fmt.Errorf("smtp: port %d out of range", cfg.Port)
	case cfg.TLS != TLSStartTLS && cfg.TLS != TLSImplicit && cfg.TLS != TLSNone:
		return nil, fmt.Errorf("smtp: tls mode %q is not one of starttls, tls, none", cfg.TLS)
	case cfg.Password != "" && cfg.Username == "":
		return nil, errors.New("smtp: password set without username")
	case cfg.Timeout < 0:
		return nil, errors.New("smtp: timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, errors.New("smtp: from must be a valid email address")
	}
	s := &Sender{cfg: cfg, from: from.Address, fromName: from.Name}
	s.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	if _, err := s.client(cfg.Timeout); err != nil {
		return nil, fmt.Errorf("smtp: %s", s.redact(err.Error()))
	}
	return s, nil
}

// client builds a fresh go-mail client; one per send keeps Sender safe for
// concurrent use.
func (s *Sender) client(timeout time.Duration) (*mail.Client, error) {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(&tls.Config{
			ServerName:         s.cfg.Host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: s.cfg.InsecureSkipVerify, //nolint:gosec // opt-in, tests only
		}),
	}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		mechs := []mail.SMTPAuthType{mail.SMTPAuthPlain, mail.SMTPAuthLogin}
		if s.cfg.TLS == TLSNone {
			// The operator chose an unencrypted relay; allow PLAIN/LOGIN on it.
			mechs = []mail.SMTPAuthType{mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(mechs...),
			mail.WithUsername(s.cfg.Username),
			mail.WithPassword(s.cfg.Password))
	}
	return mail.NewClient(s.cfg.Host, opts...)
}

// Send delivers m as a multipart/alternative email (text and HTML parts).
func (s *Sender) Send(ctx context.Context, m delivery.Message) error {
	msg, err := s.build(m)
	if err != nil {
		return fmt.Errorf("%w: smtp: %w", delivery.ErrDeliveryFailed, err)
	}
	timeout := s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return fmt.Errorf("%w: smtp: %w", delivery.ErrDeliveryFailed, cmp.Or(err, context.DeadlineExceeded))
	}
	c, err := s.client(timeout)
	if err != nil {
		return &sendError{msg: "smtp: " + s.redact(err.Error()), err: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return &sendError{
			msg: fmt.Sprintf("smtp: send via %s: %s", net.JoinHostPort(s.cfg.Host, fmt.Sprint(s.cfg.Port)), s.redact(err.Error())),
			err: err,
		}
	}
	return nil
}

// build turns m into a go-mail message with From, To, Subject, Date and Message-ID.
func (s *Sender) build(m delivery.Message) (*mail.Msg, error) {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, errors.New("invalid recipient address")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("empty message")
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	name := oneLine(m.FromName)
	if name == "" {
		name = s.fromName
	}
	if name != "" {
		err = msg.FromFormat(name, s.from)
	} else {
		err = msg.From(s.from)
	}
	if err != nil {
		return nil, errors.New("invalid sender address")
	}
	if err := msg.To(to.Address); err != nil {
		return nil, errors.New("invalid recipient address")
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDate()
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.domain)
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// redact removes the password from a library or server error text.
func (s *Sender) redact(text string) string {
	if s.cfg.Password != "" {
		text = strings.ReplaceAll(text, s.cfg.Password, "[redacted]")
	}
	return text
}

// sendError carries a redacted message while still unwrapping to
// delivery.ErrDeliveryFailed and the underlying cause.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string   { return delivery.ErrDeliveryFailed.Error() + ": " + e.msg }
func (e *sendError) Unwrap() []error { return []error{delivery.ErrDeliveryFailed, e.err} }

// oneLine collapses line breaks so header values stay on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
