package latchtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/latch-auth/latch/internal/latchtest/smtptest"
)

// Mailbox is an in-process SMTP server on 127.0.0.1 (github.com/emersion/go-smtp) that keeps
// every message it accepts, for tests of real email delivery.
type Mailbox struct {
	Host string
	Port int

	mu   sync.Mutex
	msgs []Mail
}

// Mail is one accepted SMTP transaction.
type Mail struct {
	From string
	To   []string
	Data []byte
}

// StartMailbox starts a Mailbox, stopped when the test ends.
func StartMailbox(t testing.TB) *Mailbox {
	t.Helper()
	mb := &Mailbox{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{mb: mb}, nil
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	mb.Host, mb.Port = smtptest.Serve(t, srv, l)
	return mb
}

// Messages returns the accepted messages, oldest first.
func (mb *Mailbox) Messages() []Mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]Mail(nil), mb.msgs...)
}

type smtpSession struct {
	mb   *Mailbox
	from string
	to   []string
}

func (s *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, Mail{From: s.from, To: s.to, Data: b})
	s.mb.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// ParsedMail is a received message taken apart as a mail client would.
type ParsedMail struct {
	Header netmail.Header
	Text   string
	HTML   string
}

// ParseMail parses an RFC 5322 message with a multipart/alternative body (or a single part)
// and decodes its text and HTML parts (quoted-printable or base64).
func ParseMail(t testing.TB, raw []byte) ParsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, raw)
	}
	out := ParsedMail{Header: msg.Header}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	add := func(ct, cte string, body io.Reader) {
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		if strings.EqualFold(cte, "base64") {
			b, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatalf("base64 part: %v", err)
			}
		}
		pt, _, _ := mime.ParseMediaType(ct)
		switch pt {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		add(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return out
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		add(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
	}
	return out
}
