package smtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/latch-auth/latch/internal/latchtest/smtptest"
)

// testServerOptions shapes the in-process SMTP server.
type testServerOptions struct {
	user, pass  string      // when set, AUTH PLAIN with these is required
	rejectRcpt  bool        // answer RCPT with 550
	tlsConfig   *tls.Config // offered via STARTTLS, or used for the listener when implicit
	implicitTLS bool
}

// received is one message the test server accepted.
type received struct {
	from, to string
	data     []byte
	tls      bool
	authUser string
}

// testServer is a go-smtp server on 127.0.0.1 that records what it receives.
type testServer struct {
	host string
	port int
	opts testServerOptions

	mu   sync.Mutex
	msgs []received
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

func startServer(t *testing.T, opts testServerOptions) *testServer {
	t.Helper()
	ts := &testServer{opts: opts}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{ts: ts, conn: c}, nil
	}))
	srv.AllowInsecureAuth = true
	srv.TLSConfig = opts.tlsConfig

	var l net.Listener
	var err error
	if opts.implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", opts.tlsConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts.host, ts.port = smtptest.Serve(t, srv, l)
	return ts
}

// session records one SMTP transaction.
type session struct {
	ts       *testServer
	conn     *gosmtp.Conn
	authUser string
	from, to string
}

func (s *session) AuthMechanisms() []string {
	if s.ts.opts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ts.opts.user || pass != s.ts.opts.pass {
			return errors.New("invalid credentials")
		}
		s.authUser = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.ts.opts.user != "" && s.authUser == "" {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.ts.opts.rejectRcpt {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, received{from: s.from, to: s.to, data: b, tls: isTLS, authUser: s.authUser})
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

// selfSignedTLS returns a server TLS config with a fresh certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "latch test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}
