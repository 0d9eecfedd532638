package totp_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// person is a user of a running stack, signed in or not.
type person struct {
	s     *latchtest.Stack
	token string // the app's client token
	email string
	id    string
}

func newPerson(t *testing.T, s *latchtest.Stack, email string) person {
	t.Helper()
	p := person{s: s, token: s.ClientToken(t), email: email}
	p.id = s.CreateUser(t, p.token, map[string]any{"email": email})
	return p
}

// emailLogin signs p in with a one-time code (one factor) and returns the token response.
func (p person) emailLogin(t *testing.T) latchtest.Response {
	t.Helper()
	code := p.s.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", p.token,
		map[string]any{"channel": "direct", "identifier_type": "email", "identifier": p.email}).String("code")
	r := p.s.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", p.token,
		map[string]any{"passcode": code, "identifier_type": "email", "identifier": p.email})
	if r.Status != http.StatusOK {
		t.Fatalf("email login: %d %s", r.Status, r.Body)
	}
	return r
}

// totpCode is the current code of a base32 secret at the stack's clock.
func totpCode(t *testing.T, s *latchtest.Stack, secret string) string {
	t.Helper()
	code, err := pqtotp.GenerateCodeCustom(secret, s.Clock.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// amr reads the amr claim of an ID token (the test trusts the stack that issued it).
func amr(t *testing.T, idToken string) []string {
	t.Helper()
	tok, err := jwt.ParseSigned(idToken, []jose.SignatureAlgorithm{"ES256"})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}

func wantStatus(t *testing.T, what string, r latchtest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.String("error_code") != code) {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// TestSecondFactorIsProtectedByASecondFactor: once a user has a TOTP, a session signed in with
// one factor can neither replace it, add another, revoke it, pair or delete a device, nor renew
// recovery codes (403 auth_mfa_required, nothing changed); a session that joined the TOTP can;
// an operator's client token can revoke.
func TestSecondFactorIsProtectedByASecondFactor(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := latchtest.Start(t, e.DSN(t), latchtest.Options{})
			p := newPerson(t, s, "ann@example.com")
			one := p.emailLogin(t)
			access := one.String("access_token")
			// The first TOTP is enrolled with one factor: there is nothing to protect yet.
			reg := s.Do(t, http.MethodPost, "/cis/v1/users/me/totp", access, map[string]any{})
			wantStatus(t, "first registration", reg, http.StatusCreated, "")
			secret := reg.String("secret")

			for _, c := range []struct {
				what, method, path string
				body               any
			}{
				{"replace", http.MethodPost, "/cis/v1/users/me/totp", map[string]any{"allow_override": true}},
				{"revoke", http.MethodPost, "/cis/v1/users/me/totp/revoke", map[string]any{}},
				{"pair a device", http.MethodPost, "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP", "deviceName": "x"}},
				{"delete the device", http.MethodDelete, "/cis/v1/users/me/totp/devices/" + reg.String("authenticator_id"), nil},
				{"recovery codes", http.MethodPost, "/cis/v1/users/me/totp/recovery-codes", map[string]any{}},
			} {
				wantStatus(t, c.what+" with one factor", s.Do(t, c.method, c.path, access, c.body), http.StatusForbidden, "auth_mfa_required")
			}
			// Nothing changed: the original secret still logs in, and there are no recovery codes.
			login := s.Do(t, http.MethodPost, "/cis/v1/auth/totp/authenticate", p.token, map[string]any{
				"token": totpCode(t, s, secret), "identifier_type": "email", "identifier": p.email, "session_id": one.String("session_id")})
			wantStatus(t, "TOTP joining the email session", login, http.StatusOK, "")
			if got := amr(t, login.String("id_token")); !slices.Contains(got, "mfa") {
				t.Fatalf("joined amr %v, want mfa", got)
			}
			strong := login.String("access_token")
			if r := s.Do(t, http.MethodGet, "/cis/v1/users/me/totp/recovery-codes", strong, nil); r.Status != 200 || r.JSON()["remaining"] != float64(0) {
				t.Fatalf("remaining: %d %s", r.Status, r.Body)
			}
			// The joined session may renew recovery codes and replace the TOTP.
			rc := s.Do(t, http.MethodPost, "/cis/v1/users/me/totp/recovery-codes", strong, map[string]any{})
			wantStatus(t, "recovery codes with two factors", rc, http.StatusCreated, "")
			codes, _ := rc.JSON()["recovery_codes"].([]any)
			if len(codes) != 10 || len(codes[0].(string)) != 10 {
				t.Fatalf("recovery codes: %s", rc.Body)
			}
			wantStatus(t, "replace with two factors", s.Do(t, http.MethodPost, "/cis/v1/users/me/totp", strong, map[string]any{"allow_override": true}), http.StatusCreated, "")
			// The operator's revoke needs no session; it retires the recovery codes with the last TOTP.
			wantStatus(t, "operator revoke", s.Do(t, http.MethodPost, "/cis/v1/users/"+p.id+"/totp/revoke", p.token, map[string]any{}), http.StatusOK, "")
			if r := s.Do(t, http.MethodGet, "/cis/v1/users/me/totp/recovery-codes", strong, nil); r.JSON()["remaining"] != float64(0) {
				t.Fatalf("recovery codes outlived the last TOTP: %s", r.Body)
			}
			// With no TOTP left, a one-factor session may enrol again.
			wantStatus(t, "enrol again", s.Do(t, http.MethodPost, "/cis/v1/users/me/totp", access, map[string]any{}), http.StatusCreated, "")
		})
	}
}

// enrolWithCodes gives p a TOTP and a set of recovery codes and returns the TOTP secret and the
// codes.
func enrolWithCodes(t *testing.T, s *latchtest.Stack, p person) (string, []string) {
	t.Helper()
	one := p.emailLogin(t)
	reg := s.Do(t, http.MethodPost, "/cis/v1/users/me/totp", one.String("access_token"), map[string]any{})
	wantStatus(t, "register", reg, http.StatusCreated, "")
	login := s.Do(t, http.MethodPost, "/cis/v1/auth/totp/authenticate", p.token, map[string]any{
		"token": totpCode(t, s, reg.String("secret")), "identifier_type": "email", "identifier": p.email, "session_id": one.String("session_id")})
	wantStatus(t, "join", login, http.StatusOK, "")
	rc := s.Do(t, http.MethodPost, "/cis/v1/users/me/totp/recovery-codes", login.String("access_token"), map[string]any{})
	wantStatus(t, "recovery codes", rc, http.StatusCreated, "")
	var codes []string
	for _, c := range rc.JSON()["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return reg.String("secret"), codes
}

// TestRecoveryCodeLogin: a recovery code logs in like a TOTP (amr rc; joined to an email session,
// mfa), works once — of 20 concurrent uses exactly one — counts wrong codes toward the TOTP
// lockout, and a new set retires the old one.
func TestRecoveryCodeLogin(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := latchtest.Start(t, e.DSN(t), latchtest.Options{})
			p := newPerson(t, s, "bob@example.com")
			_, codes := enrolWithCodes(t, s, p)
			rcLogin := func(code string, extra ...any) latchtest.Response {
				body := map[string]any{"code": code, "identifier_type": "email", "identifier": p.email}
				for i := 0; i < len(extra); i += 2 {
					body[extra[i].(string)] = extra[i+1]
				}
				return s.Do(t, http.MethodPost, "/cis/v1/auth/totp/recovery/authenticate", p.token, body)
			}
			// Typed the way people type: upper case, a dash in the middle.
			typed := strings.ToUpper(codes[0][:5] + "-" + codes[0][5:])
			r := rcLogin(typed)
			wantStatus(t, "recovery login", r, http.StatusOK, "")
			if got := amr(t, r.String("id_token")); !slices.Equal(got, []string{"rc"}) {
				t.Fatalf("amr %v, want [rc]", got)
			}
			wantStatus(t, "the same code again", rcLogin(codes[0]), http.StatusBadRequest, "auth_invalid_credentials")
			// Joined to an email session it is a second factor.
			one := p.emailLogin(t)
			joined := rcLogin(codes[1], "session_id", one.String("session_id"))
			wantStatus(t, "joined recovery login", joined, http.StatusOK, "")
			if got := amr(t, joined.String("id_token")); !slices.Contains(got, "mfa") || !slices.Contains(got, "rc") {
				t.Fatalf("joined amr %v, want rc and mfa", got)
			}
			if r := s.Do(t, http.MethodGet, "/cis/v1/users/me/totp/recovery-codes", joined.String("access_token"), nil); r.JSON()["remaining"] != float64(8) {
				t.Fatalf("remaining after two uses: %s", r.Body)
			}
			// 20 concurrent uses of one code: exactly one wins.
			var wg sync.WaitGroup
			statuses := make([]int, 20)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = rcLogin(codes[2]).Status
				}()
			}
			wg.Wait()
			if n := countOf(statuses, http.StatusOK); n != 1 || countOf(statuses, http.StatusBadRequest) != 19 {
				t.Fatalf("concurrent uses: %v, want exactly one 200 and 19 400", statuses)
			}
			// A new set retires the old one.
			fresh := s.Do(t, http.MethodPost, "/cis/v1/users/me/totp/recovery-codes", joined.String("access_token"), map[string]any{})
			wantStatus(t, "regenerate", fresh, http.StatusCreated, "")
			wantStatus(t, "an old code after regeneration", rcLogin(codes[3]), http.StatusBadRequest, "auth_invalid_credentials")
			// Wrong codes (the retired one above included) count toward the TOTP lockout (5
			// failures): then even a right one is refused.
			for i := range 2 {
				wantStatus(t, "wrong code", rcLogin("zzzzzzzzz"+string(rune('0'+i))), http.StatusBadRequest, "auth_invalid_credentials")
			}
			wantStatus(t, "malformed code", rcLogin("not a code"), http.StatusBadRequest, "auth_invalid_credentials")
			wantStatus(t, "fifth failure", rcLogin("0000000000"), http.StatusForbidden, "auth_locked")
			wantStatus(t, "a right code while locked", rcLogin(fresh.JSON()["recovery_codes"].([]any)[0].(string)), http.StatusForbidden, "auth_locked")
			wantStatus(t, "missing code", rcLogin(""), http.StatusBadRequest, "system_invalid_input")
		})
	}
}

func countOf(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}
