package otp_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// mailbox is an in-process SMTP server on 127.0.0.1 (github.com/emersion/go-smtp) that keeps
// every message it accepts. It is a trimmed copy of internal/delivery/smtp's test server.
type mailbox struct {
	host string
	port int

	mu   sync.Mutex
	msgs []mail
}

// mail is one accepted SMTP transaction.
type mail struct {
	from string
	to   []string
	data []byte
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{mb: mb}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	mb.host = host
	mb.port, _ = strconv.Atoi(port)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = l.Close()
		<-done
	})
	return mb
}

func (mb *mailbox) messages() []mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mail(nil), mb.msgs...)
}

type smtpSession struct {
	mb   *mailbox
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
	s.mb.msgs = append(s.mb.msgs, mail{from: s.from, to: s.to, data: b})
	s.mb.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// parsedMail is a received message taken apart as a mail client would.
type parsedMail struct {
	header netmail.Header
	text   string
	html   string
}

// parseMail parses an RFC 5322 message with a multipart/alternative body (or a single part)
// and decodes its text and HTML parts (quoted-printable or base64).
func parseMail(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, raw)
	}
	out := parsedMail{header: msg.Header}
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
			out.text = string(b)
		case "text/html":
			out.html = string(b)
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
