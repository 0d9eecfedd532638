package totp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stack is the TOTP service on a real store, with the collaborators it needs.
type stack struct {
	svc      *totp.Service
	store    *sqlstore.DB
	users    *user.Service
	apps     *app.Service
	clock    *clock.Fixed
	app      app.App
	clientID string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newStack builds the service on a fresh SQLite store; logs go to logs (nil: discarded) and
// randomness comes from r (nil: crypto/rand).
func newStack(t testing.TB, settings app.Settings, logs io.Writer, r io.Reader) *stack {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	if r == nil {
		r = rand.Reader
	}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	clk := clock.NewFixed(epoch)
	keys := token.NewKeyRing(db, box, clk, 24*time.Hour, log)
	if err := keys.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	apps := app.NewService(db, box, clk)
	if _, _, _, err := apps.Bootstrap(ctx, "http://latch.test/demo/callback", app.DefaultAppName); err != nil {
		t.Fatal(err)
	}
	creds, err := apps.CreateApp(ctx, app.NewApp{Name: "Bench Bank", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	a, err := apps.App(ctx, creds.AppID)
	if err != nil {
		t.Fatal(err)
	}
	signer := &token.Signer{Ring: keys, Issuer: "http://latch.test", Clock: clk}
	users := user.NewService(db, clk, apps.TenantID)
	sessions := session.NewService(db, signer, box, clk, log)
	svc := totp.NewService(totp.Deps{Store: db, Users: users, Sessions: sessions, Box: box, Clock: clk, Rand: r, Log: log})
	return &stack{svc: svc, store: db, users: users, apps: apps, clock: clk, app: a, clientID: creds.ClientID}
}

// enrol creates a user with email and registers a TOTP for them.
func (s *stack) enrol(t testing.TB, email string) (store.User, totp.Registration) {
	t.Helper()
	u, err := s.users.Create(context.Background(), user.Input{Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := s.svc.Register(context.Background(), s.app, u.ID, totp.UserActor(""), totp.RegisterRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return u, reg
}

func codeNow(t testing.TB, reg totp.Registration, p totp.Params, now time.Time) string {
	t.Helper()
	raw, err := totp.DecodeSecret(reg.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return p.CodeAt(raw, p.Step(now))
}

func (s *stack) login(email, code string) error {
	_, err := s.svc.Authenticate(context.Background(), s.app, s.clientID, totp.AuthenticateRequest{Identifier: email, Token: code})
	return err
}

func apiCode(err error) string {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return fmt.Sprint(err)
}

// sequence yields 0, 1, 2, … (a deterministic "random" source).
type sequence struct{ n byte }

func (s *sequence) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = s.n
		s.n++
	}
	return len(b), nil
}

func TestTOTPRegisterUsesInjectedRandomness(t *testing.T) {
	s := newStack(t, app.Settings{}, nil, &sequence{})
	_, reg := s.enrol(t, "seq@example.com")
	want := make([]byte, totp.SecretSize)
	for i := range want {
		want[i] = byte(i)
	}
	if reg.Secret != totp.EncodeSecret(want) {
		t.Errorf("secret %s, want the injected bytes %s", reg.Secret, totp.EncodeSecret(want))
	}
}

// TestTOTPAuthenticatorKeepsItsParameters: changing the app's TOTP settings later does not break
// authenticator apps enrolled with the old ones (their key URIs are fixed).
func TestTOTPAuthenticatorKeepsItsParameters(t *testing.T) {
	s := newStack(t, app.Settings{TOTPAlgorithm: "SHA256", TOTPDigits: 8, TOTPPeriod: 60}, nil, nil)
	_, reg := s.enrol(t, "keep@example.com")
	enrolled := totp.Params{Algorithm: totp.SHA256, Digits: 8, Period: 60}
	changed := s.app
	changed.Settings.TOTPAlgorithm, changed.Settings.TOTPDigits, changed.Settings.TOTPPeriod = "SHA1", 6, 30
	_, err := s.svc.Authenticate(context.Background(), changed, s.clientID,
		totp.AuthenticateRequest{Identifier: "keep@example.com", Token: codeNow(t, reg, enrolled, s.clock.Now())})
	if err != nil {
		t.Fatalf("code of the enrolled parameters refused after a settings change: %v", err)
	}
}

// TestTOTPSecurityEventsAreLoggedWithoutSecrets: one line per security event, with the user id,
// never a secret or a code.
func TestTOTPSecurityEventsAreLoggedWithoutSecrets(t *testing.T) {
	var logs lockedBuffer
	s := newStack(t, app.Settings{OTPMaxAttempts: 2}, &logs, nil)
	u, reg := s.enrol(t, "log@example.com")
	p := totp.DefaultParams()
	good := codeNow(t, reg, p, s.clock.Now())
	if err := s.login("log@example.com", good); err != nil {
		t.Fatal(err)
	}
	if err := s.login("log@example.com", good); apiCode(err) != "auth_invalid_credentials" {
		t.Fatalf("replay: %v", err)
	}
	s.clock.Advance(30 * time.Second)
	var codes []string
	for i := 0; len(codes) < 2; i++ {
		c := fmt.Sprintf("%06d", i)
		if c != codeNow(t, reg, p, s.clock.Now()) && c != codeNow(t, reg, p, s.clock.Now().Add(30*time.Second)) &&
			c != codeNow(t, reg, p, s.clock.Now().Add(-30*time.Second)) {
			codes = append(codes, c)
		}
	}
	if err := s.login("log@example.com", codes[0]); apiCode(err) != "auth_invalid_credentials" {
		t.Fatalf("wrong code: %v", err)
	}
	if err := s.login("log@example.com", codes[1]); apiCode(err) != "auth_locked" {
		t.Fatalf("second wrong code at max 2: %v", err)
	}
	out := logs.String()
	for _, event := range []string{"totp registered", `"msg":"login"`, "totp replay refused", "totp login failed", "totp user locked"} {
		if !strings.Contains(out, event) {
			t.Errorf("no %q line in the log:\n%s", event, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, "totp") && !strings.Contains(line, u.ID) && !strings.Contains(line, "signing key") {
			t.Errorf("security event without the user id: %s", line)
		}
	}
	for _, leak := range append([]string{reg.Secret, good, reg.URI}, codes...) {
		if strings.Contains(out, leak) {
			t.Errorf("log contains a secret or code %q", leak)
		}
	}
}

// BenchmarkTOTPAuthenticate measures in-process TOTP logins (code check, replay guard write,
// session and token minting) on SQLite: users enrolled up front each log in once per time step;
// when every user has logged in, the fixed clock moves on by one period.
func BenchmarkTOTPAuthenticate(b *testing.B) {
	const users = 256
	s := newStack(b, app.Settings{}, nil, nil)
	p := totp.DefaultParams()
	emails := make([]string, users)
	regs := make([]totp.Registration, users)
	for i := range users {
		emails[i] = fmt.Sprintf("bench%d@example.com", i)
		_, regs[i] = s.enrol(b, emails[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % users
		if k == 0 && i > 0 {
			s.clock.Advance(30 * time.Second)
		}
		if err := s.login(emails[k], codeNow(b, regs[k], p, s.clock.Now())); err != nil {
			b.Fatalf("login %d: %v", i, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkTOTPAuthenticateParallel is BenchmarkTOTPAuthenticate with concurrent callers,
// each on its own users.
func BenchmarkTOTPAuthenticateParallel(b *testing.B) {
	const users = 512
	s := newStack(b, app.Settings{}, nil, nil)
	p := totp.DefaultParams()
	type enrolled struct {
		email string
		raw   []byte
		step  int64 // last step used
	}
	pool := make(chan *enrolled, users)
	for i := range users {
		email := fmt.Sprintf("pbench%d@example.com", i)
		_, reg := s.enrol(b, email)
		raw, _ := totp.DecodeSecret(reg.Secret)
		pool <- &enrolled{email: email, raw: raw, step: -1}
	}
	var mu sync.Mutex
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := <-pool
			mu.Lock()
			now := s.clock.Now()
			if p.Step(now) <= e.step {
				s.clock.Advance(30 * time.Second) // every user has used this step
				now = s.clock.Now()
			}
			mu.Unlock()
			e.step = p.Step(now)
			err := s.login(e.email, p.CodeAt(e.raw, e.step))
			pool <- e
			if err != nil {
				b.Errorf("login: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// TestTOTPRightCodeLosesToRacingWrongOnes: failures recorded by wrong guesses that raced a right
// one (they reached the limit after it passed the lock check, before it committed) refuse the
// login when it commits, so a burst of concurrent guesses gets no more tries than guesses made
// one by one; a right code with fewer failures logs in and clears them.
func TestTOTPRightCodeLosesToRacingWrongOnes(t *testing.T) {
	s := newStack(t, app.Settings{}, nil, nil)
	u, reg := s.enrol(t, "race@example.com")
	p := totp.DefaultParams()
	ctx := context.Background()
	// Failures recorded under a policy that never locks stand for racing wrong guesses: the
	// lock check before the code is verified lets the right one through.
	record := func(n int) {
		for range n {
			if _, err := s.store.RecordFailure(ctx, s.app.ID, totp.Method, "user:"+u.ID, s.clock.Now(),
				store.FailurePolicy{Max: 1000, Window: 15 * time.Minute, LockFor: 15 * time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(s.app.Settings.OTPMaxAttempts)
	if err := s.login("race@example.com", codeNow(t, reg, p, s.clock.Now())); apiCode(err) != "auth_locked" {
		t.Fatalf("right code after %d racing failures: %v, want auth_locked", s.app.Settings.OTPMaxAttempts, err)
	}
	// The refused login used nothing up: once the failures are gone the same step logs in.
	if err := s.store.ClearFailures(ctx, s.app.ID, totp.Method, "user:"+u.ID); err != nil {
		t.Fatal(err)
	}
	record(s.app.Settings.OTPMaxAttempts - 1)
	if err := s.login("race@example.com", codeNow(t, reg, p, s.clock.Now())); err != nil {
		t.Fatalf("right code under the limit: %v", err)
	}
	if l, err := s.store.GetLockout(ctx, s.app.ID, totp.Method, "user:"+u.ID); err != nil || l.Failures != 0 {
		t.Fatalf("a success did not clear the failures: %+v %v", l, err)
	}
}
