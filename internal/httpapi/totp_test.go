package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

// totpTS is a test server (node.New's assembly behind httptest, latchtest) whose clock starts at
// latchtest.Epoch, a multiple of every TOTP period used, so step boundaries are exact.
type totpTS struct {
	*latchtest.Stack
	def totpApp // the default application
}

// totpApp is an application with its client and a client access token.
type totpApp struct {
	app         app.App
	clientID    string
	clientToken string
}

// totpUser is a user with a user access token of a live session in one app.
type totpUser struct {
	user      store.User
	token     string
	sessionID string
}

// totpResp is a finished exchange.
type totpResp struct {
	status int
	body   []byte
}

func (r totpResp) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %q", r.status, r.body)
	}
	return v
}

// expect fails unless the status is want and, for errors, error_code is code.
func (r totpResp) expect(t testing.TB, want int, code string) map[string]any {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	if want == http.StatusNoContent {
		return nil
	}
	v := r.json(t)
	if code != "" && v["error_code"] != code {
		t.Fatalf("error_code %v, want %s: %s", v["error_code"], code, r.body)
	}
	return v
}

// newTOTPTestServer starts a node on dsn (a fresh database of storetest.Engine.DSN).
func newTOTPTestServer(t testing.TB, dsn string) *totpTS {
	t.Helper()
	ts := &totpTS{Stack: latchtest.Start(t, dsn, latchtest.Options{})}
	ts.def = ts.appFor(t, ts.App.ID, ts.ClientID, ts.ClientSecret)
	return ts
}

func totpSQLite(t testing.TB) *totpTS {
	t.Helper()
	return newTOTPTestServer(t, storetest.Engines()[0].DSN(t))
}

// appFor gets a client token for an application's client.
func (ts *totpTS) appFor(t testing.TB, appID, clientID, clientSecret string) totpApp {
	t.Helper()
	a, err := ts.Apps.App(context.Background(), appID)
	if err != nil {
		t.Fatal(err)
	}
	r := ts.Form(t, "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}, "", "")
	if r.Status != http.StatusOK || r.String("access_token") == "" {
		t.Fatalf("client_credentials: %d %s", r.Status, r.Body)
	}
	return totpApp{app: a, clientID: clientID, clientToken: r.String("access_token")}
}

// newApp creates an application with settings (zero fields take the defaults).
func (ts *totpTS) newApp(t testing.TB, name string, s app.Settings) totpApp {
	t.Helper()
	creds, err := ts.Apps.CreateApp(context.Background(), app.NewApp{Name: name, Settings: s})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return ts.appFor(t, creds.AppID, creds.ClientID, creds.ClientSecret)
}

// newUser creates a user and logs them in to a with two factors (an email code, then a second
// factor joined to that session, as the OTP and TOTP flows would) to get a user access token
// that may change the user's second factors (product.md: a second factor is protected by a
// second factor; internal/totp's TestSecondFactorIsProtectedByASecondFactor tests that rule).
func (ts *totpTS) newUser(t testing.TB, a totpApp, in user.Input) totpUser {
	t.Helper()
	ctx := context.Background()
	u, err := ts.Users.Create(ctx, in)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	tok, err := ts.Sessions.Complete(ctx, session.Login{App: a.app, ClientID: a.clientID, User: u, Method: "eotp"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	tok, err = ts.Sessions.Complete(ctx, session.Login{App: a.app, ClientID: a.clientID, User: u, Method: "totp", SessionID: tok.SessionID})
	if err != nil {
		t.Fatalf("second factor: %v", err)
	}
	return totpUser{user: u, token: tok.AccessToken, sessionID: tok.SessionID}
}

func (ts *totpTS) emailUser(t testing.TB, a totpApp, email string) totpUser {
	t.Helper()
	return ts.newUser(t, a, user.Input{Email: &email})
}

func (ts *totpTS) call(t testing.TB, tok, method, path string, body any) totpResp {
	t.Helper()
	r := ts.Do(t, method, path, tok, body)
	return totpResp{status: r.Status, body: r.Body}
}

// registration is a register reply, decoded.
type registration struct {
	Secret          string `json:"secret"`
	URI             string `json:"uri"`
	QRCode          string `json:"qr_code"`
	AuthenticatorID string `json:"authenticator_id"`
}

func (ts *totpTS) register(t testing.TB, u totpUser, body map[string]any) registration {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp", body)
	r.expect(t, http.StatusCreated, "")
	var reg registration
	if err := json.Unmarshal(r.body, &reg); err != nil || reg.Secret == "" || reg.URI == "" || reg.AuthenticatorID == "" {
		t.Fatalf("register reply %s: %v", r.body, err)
	}
	return reg
}

// codeFromURI computes the code for at from a key URI with pquerna/otp, independently of Latch.
func codeFromURI(t testing.TB, uri string, at time.Time) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("pquerna/otp cannot parse %q: %v", uri, err)
	}
	code, err := pqtotp.GenerateCodeCustom(key.Secret(), at, pqtotp.ValidateOpts{
		Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm()})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (ts *totpTS) authenticate(t testing.TB, a totpApp, email, code string, extra map[string]any) totpResp {
	t.Helper()
	body := map[string]any{"identifier": email, "token": code}
	for k, v := range extra {
		body[k] = v
	}
	return ts.call(t, a.clientToken, "POST", "/cis/v1/auth/totp/authenticate", body)
}

// idClaims decodes the payload of the ID token of a token reply (its signature is the
// session package's business, tested there).
func idClaims(t testing.TB, r totpResp) map[string]any {
	t.Helper()
	idt, _ := r.expect(t, http.StatusOK, "")["id_token"].(string)
	return latchtest.Claims(t, idt)
}

func amr(c map[string]any) []string {
	var out []string
	list, _ := c["amr"].([]any)
	for _, m := range list {
		s, _ := m.(string)
		out = append(out, s)
	}
	return out
}

func TestTOTPRegisterAndLogin(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "Alice@Example.com")
	for _, path := range []string{"/cis/v1/users/me/totp", "/cis/v1/auth/totp/register"} {
		t.Run(path, func(t *testing.T) {
			r := ts.call(t, u.token, "POST", path, map[string]any{"allow_override": true})
			v := r.expect(t, http.StatusCreated, "")
			sec, _ := v["secret"].(string)
			if len(sec) != 32 || strings.ContainsAny(sec, "=abcdefghijklmnopqrstuvwxyz") {
				t.Errorf("secret %q: want 160 bits as 32 upper-case base32 characters, no padding", sec)
			}
			raw, err := totp.DecodeSecret(sec)
			if err != nil || len(raw) != 20 {
				t.Errorf("secret decodes to %d bytes, %v", len(raw), err)
			}
			key, err := otp.NewKeyFromURL(v["uri"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if key.Issuer() != "default" || key.AccountName() != "alice@example.com" || key.Secret() != sec ||
				key.Algorithm() != otp.AlgorithmSHA1 || key.Digits() != otp.DigitsSix || key.Period() != 30 {
				t.Errorf("uri %s: issuer %q account %q", v["uri"], key.Issuer(), key.AccountName())
			}
			if qr, _ := v["qr_code"].(string); !strings.HasPrefix(qr, "data:image/png;base64,") {
				t.Errorf("qr_code %.40q", qr)
			}
			for _, k := range []string{"secret", "uri", "qr_code", "authenticator_id"} {
				if _, ok := v[k]; !ok {
					t.Errorf("register reply lacks %s", k)
				}
			}
		})
	}
	// The authenticator registered last (the override replaced the first) logs in with a code
	// pquerna/otp computes from the uri.
	reg := ts.register(t, u, map[string]any{"allow_override": true})
	code := codeFromURI(t, reg.URI, ts.Clock.Now())
	c := idClaims(t, ts.authenticate(t, ts.def, "alice@example.com", code, nil))
	if got := amr(c); !slices.Equal(got, []string{"totp"}) {
		t.Errorf("amr of a TOTP login = %v, want [totp]", got)
	}
	if c["sub"] != u.user.ID {
		t.Errorf("sub %v, want %s", c["sub"], u.user.ID)
	}

	// Joining the user's email-code session makes it MFA.
	ts.Clock.Advance(30 * time.Second)
	r := ts.authenticate(t, ts.def, "alice@example.com", codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"session_id": u.sessionID})
	c = idClaims(t, r)
	if got := amr(c); !slices.Contains(got, "eotp") || !slices.Contains(got, "totp") || !slices.Contains(got, "mfa") {
		t.Errorf("amr after joining an eotp session = %v, want eotp, totp and mfa", got)
	}
	if sid := r.json(t)["session_id"]; sid != u.sessionID {
		t.Errorf("session_id %v, want the joined %s", sid, u.sessionID)
	}

	// The secret is sealed at rest, bound to its row.
	row, err := ts.Store.GetTOTP(context.Background(), reg.AuthenticatorID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.Secret, reg.Secret) || !strings.HasPrefix(row.Secret, "v1:") {
		t.Errorf("stored secret is not sealed: %q", row.Secret)
	}
	plain, err := ts.Box.Open(row.Secret, []byte("totp:"+row.ID))
	if err != nil || totp.EncodeSecret(plain) != reg.Secret {
		t.Errorf("sealed secret does not open to the registered one: %v", err)
	}
	if _, err := ts.Box.Open(row.Secret, []byte("totp:another-row")); err == nil {
		t.Error("sealed secret opens with another row's associated data")
	}
}

func TestTOTPOathtoolCodeLogsIn(t *testing.T) {
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Skip("oathtool not installed; .ci/run installs it")
	}
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "oath@example.com")
	reg := ts.register(t, u, nil)
	now := ts.Clock.Now()
	out, err := exec.Command("oathtool", "--totp", "-b", reg.Secret, "-N", fmt.Sprintf("@%d", now.Unix())).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if code != codeFromURI(t, reg.URI, now) {
		t.Errorf("oathtool %s and pquerna/otp %s disagree", code, codeFromURI(t, reg.URI, now))
	}
	ts.authenticate(t, ts.def, "oath@example.com", code, nil).expect(t, http.StatusOK, "")
}

func TestTOTPAppParameters(t *testing.T) {
	ts := totpSQLite(t)
	a := ts.newApp(t, "Acme: Bank", app.Settings{TOTPAlgorithm: "sha256", TOTPDigits: 8, TOTPPeriod: 60})
	u := ts.emailUser(t, a, "p@example.com")
	reg := ts.register(t, u, map[string]any{"label": "my account"})
	key, err := otp.NewKeyFromURL(reg.URI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Algorithm() != otp.AlgorithmSHA256 || key.Digits() != otp.DigitsEight || key.Period() != 60 ||
		key.Issuer() != "Acme Bank" || key.AccountName() != "my account" {
		t.Fatalf("uri %s", reg.URI)
	}
	code := codeFromURI(t, reg.URI, ts.Clock.Now())
	if len(code) != 8 {
		t.Fatalf("code %s", code)
	}
	ts.authenticate(t, a, "p@example.com", code, nil).expect(t, http.StatusOK, "")
	// A 6-digit code of the same secret is wrong for this app.
	ts.Clock.Advance(time.Minute)
	ts.authenticate(t, a, "p@example.com", codeFromURI(t, reg.URI, ts.Clock.Now())[2:], nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
}

func TestTOTPLabelDefaults(t *testing.T) {
	ts := totpSQLite(t)
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		in   user.Input
		want string
	}{
		{"email first", user.Input{Email: s("e@example.com"), Username: s("eddie"), PhoneNumber: s("+14155550101")}, "e@example.com"},
		{"then username", user.Input{Username: s("uma"), PhoneNumber: s("+14155550102")}, "uma"},
		{"then phone", user.Input{PhoneNumber: s("+14155550103")}, "+14155550103"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := ts.newUser(t, ts.def, tc.in)
			key, err := otp.NewKeyFromURL(ts.register(t, u, nil).URI)
			if err != nil {
				t.Fatal(err)
			}
			if key.AccountName() != tc.want {
				t.Errorf("label %q, want %q", key.AccountName(), tc.want)
			}
		})
	}
}

func TestTOTPSkew(t *testing.T) {
	ts := totpSQLite(t)
	period := 30 * time.Second
	for _, tc := range []struct {
		name   string
		offset time.Duration // of the code's time from the server's
		status int
	}{
		{"previous step accepted", -period, http.StatusOK},
		{"current step accepted", 0, http.StatusOK},
		{"next step accepted", period, http.StatusOK},
		{"two steps back refused", -2 * period, http.StatusBadRequest},
		{"two steps ahead refused", 2 * period, http.StatusBadRequest},
		{"an hour off refused", time.Hour, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
			reg := ts.register(t, ts.emailUser(t, ts.def, email), nil)
			// The last second of a step: the window is about steps, not seconds.
			now := ts.Clock.Now().Add(period - time.Second)
			code := codeFromURI(t, reg.URI, now.Add(tc.offset))
			for _, near := range []time.Duration{-period, 0, period} {
				if tc.status != http.StatusOK && code == codeFromURI(t, reg.URI, now.Add(near)) {
					t.Skip("chance collision with an accepted step")
				}
			}
			ts.Clock.Set(now)
			defer ts.Clock.Set(latchtest.Epoch)
			r := ts.authenticate(t, ts.def, email, code, nil)
			if tc.status == http.StatusOK {
				r.expect(t, http.StatusOK, "")
			} else {
				r.expect(t, tc.status, "auth_invalid_credentials")
			}
		})
	}
}

func TestTOTPReplay(t *testing.T) {
	ts := totpSQLite(t)
	reg := ts.register(t, ts.emailUser(t, ts.def, "r@example.com"), nil)
	code := codeFromURI(t, reg.URI, ts.Clock.Now())
	ts.authenticate(t, ts.def, "r@example.com", code, nil).expect(t, http.StatusOK, "")
	ts.authenticate(t, ts.def, "r@example.com", code, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	// Still refused later in the window (the code stays valid for ±1 step).
	ts.Clock.Advance(40 * time.Second)
	ts.authenticate(t, ts.def, "r@example.com", code, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	// The next step's code works once, and then the older step cannot come back.
	next := codeFromURI(t, reg.URI, ts.Clock.Now())
	ts.authenticate(t, ts.def, "r@example.com", next, nil).expect(t, http.StatusOK, "")
	prev := codeFromURI(t, reg.URI, ts.Clock.Now().Add(-30*time.Second))
	if prev != next {
		ts.authenticate(t, ts.def, "r@example.com", prev, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	}
	// Replays are not failures: they do not lock the user.
	for range 6 {
		ts.authenticate(t, ts.def, "r@example.com", next, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	}
	ts.Clock.Advance(30 * time.Second)
	ts.authenticate(t, ts.def, "r@example.com", codeFromURI(t, reg.URI, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")
}

func TestTOTPAuthenticateErrors(t *testing.T) {
	ts := totpSQLite(t)
	reg := ts.register(t, ts.emailUser(t, ts.def, "w@example.com"), nil)
	ts.emailUser(t, ts.def, "none@example.com")
	good := codeFromURI(t, reg.URI, ts.Clock.Now())
	wrong := wrongCodeFor(t, reg.URI, ts.Clock.Now())
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{"wrong code", map[string]any{"identifier": "w@example.com", "token": wrong}, 400, "auth_invalid_credentials", ""},
		{"not digits", map[string]any{"identifier": "w@example.com", "token": "abcdef"}, 400, "auth_invalid_credentials", ""},
		{"too short", map[string]any{"identifier": "w@example.com", "token": good[:5]}, 400, "auth_invalid_credentials", ""},
		{"token missing", map[string]any{"identifier": "w@example.com"}, 400, "system_invalid_input", "token"},
		{"token not a string", map[string]any{"identifier": "w@example.com", "token": 123456}, 400, "system_invalid_input", "token"},
		{"token too long", map[string]any{"identifier": "w@example.com", "token": strings.Repeat("1", 65)}, 400, "system_invalid_input", "token"},
		{"identifier missing", map[string]any{"token": good}, 400, "system_invalid_input", "identifier"},
		{"bad identifier type", map[string]any{"identifier": "w@example.com", "identifier_type": "fax", "token": good}, 400, "system_invalid_input", "identifier_type"},
		{"bad claims", map[string]any{"identifier": "w@example.com", "token": good, "claims": "x"}, 400, "system_invalid_input", "claims"},
		{"unknown resource", map[string]any{"identifier": "w@example.com", "token": good, "resource": "https://nope"}, 400, "system_invalid_input", "resource"},
		{"unknown user", map[string]any{"identifier": "ghost@example.com", "token": good}, 404, "user_not_found", ""},
		{"no TOTP", map[string]any{"identifier": "none@example.com", "token": good}, 404, "totp_not_registered", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/authenticate", tc.body).expect(t, tc.status, tc.code)
			if msg, _ := v["message"].(string); tc.field != "" && !strings.HasPrefix(msg, tc.field+":") {
				t.Errorf("message %q does not name %s", msg, tc.field)
			}
		})
	}
	// None of the bad requests burned the step: the good code still logs in, by user_id too.
	ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/authenticate",
		map[string]any{"identifier": reg.userID(t, ts), "identifier_type": "user_id", "token": good}).expect(t, http.StatusOK, "")
}

func (reg registration) userID(t testing.TB, ts *totpTS) string {
	t.Helper()
	row, err := ts.Store.GetTOTP(context.Background(), reg.AuthenticatorID)
	if err != nil {
		t.Fatal(err)
	}
	return row.UserID
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// wrongCodeFor returns a code of the right length that is none of the window's codes.
func wrongCodeFor(t testing.TB, uri string, now time.Time) string {
	t.Helper()
	window := []string{codeFromURI(t, uri, now.Add(-30*time.Second)), codeFromURI(t, uri, now), codeFromURI(t, uri, now.Add(30*time.Second))}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if !slices.Contains(window, c) {
			return c
		}
	}
}

func TestTOTPLockout(t *testing.T) {
	ts := totpSQLite(t)
	a := ts.newApp(t, "lockout", app.Settings{OTPMaxAttempts: 3, LockoutMinutes: 10})
	reg := ts.register(t, ts.emailUser(t, a, "l@example.com"), nil)
	wrong := wrongCodeFor(t, reg.URI, ts.Clock.Now())
	for i := 1; i <= 2; i++ {
		ts.authenticate(t, a, "l@example.com", wrong, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	}
	ts.authenticate(t, a, "l@example.com", wrong, nil).expect(t, http.StatusForbidden, "auth_locked")
	// Locked: even the right code is refused.
	good := codeFromURI(t, reg.URI, ts.Clock.Now())
	ts.authenticate(t, a, "l@example.com", good, nil).expect(t, http.StatusForbidden, "auth_locked")
	// The lock is per app: the same user's TOTP of another app is not locked.
	u2 := ts.emailUser(t, ts.def, "other@example.com")
	reg2 := ts.register(t, u2, nil)
	ts.authenticate(t, ts.def, "other@example.com", codeFromURI(t, reg2.URI, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")

	// The lock lasts LockoutMinutes.
	ts.Clock.Advance(10*time.Minute + time.Second)
	good = codeFromURI(t, reg.URI, ts.Clock.Now())
	ts.authenticate(t, a, "l@example.com", good, nil).expect(t, http.StatusOK, "")
	// Success cleared the failures: two more wrong codes do not lock.
	ts.Clock.Advance(30 * time.Second)
	wrong = wrongCodeFor(t, reg.URI, ts.Clock.Now())
	for range 2 {
		ts.authenticate(t, a, "l@example.com", wrong, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	}
	ts.authenticate(t, a, "l@example.com", codeFromURI(t, reg.URI, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")
}

func TestTOTPOverride(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "o@example.com")
	first := ts.register(t, u, nil)
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp", map[string]any{}).expect(t, http.StatusConflict, "totp_already_registered")
	ts.call(t, u.token, "POST", "/cis/v1/auth/totp/register", map[string]any{"allow_override": false}).expect(t, http.StatusConflict, "totp_already_registered")
	second := ts.register(t, u, map[string]any{"allow_override": true})
	if second.Secret == first.Secret || second.AuthenticatorID == first.AuthenticatorID {
		t.Fatal("override returned the same secret")
	}
	now := ts.Clock.Now()
	if codeFromURI(t, first.URI, now) != codeFromURI(t, second.URI, now) {
		ts.authenticate(t, ts.def, "o@example.com", codeFromURI(t, first.URI, now), nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	}
	ts.authenticate(t, ts.def, "o@example.com", codeFromURI(t, second.URI, now), nil).expect(t, http.StatusOK, "")
	if row, _ := ts.Store.GetTOTP(context.Background(), first.AuthenticatorID); row.RevokedAt.IsZero() {
		t.Error("the overridden authenticator is not revoked")
	}
}

func TestTOTPLimit(t *testing.T) {
	ts := totpSQLite(t)
	a := ts.newApp(t, "two", app.Settings{TOTPMaxPerUser: 2})
	u := ts.emailUser(t, a, "m@example.com")
	one := ts.register(t, u, map[string]any{"label": "phone"})
	// A pending device is created while there is room; it will not fit once the limit is reached.
	dev := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP", "deviceName": "tablet"}).
		expect(t, http.StatusCreated, "")
	two := ts.register(t, u, map[string]any{"label": "laptop"})
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp", map[string]any{}).expect(t, http.StatusConflict, "totp_limit_reached")
	// With a maximum above 1, allow_override replaces nothing.
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp", map[string]any{"allow_override": true}).expect(t, http.StatusConflict, "totp_limit_reached")
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP"}).expect(t, http.StatusConflict, "totp_limit_reached")
	r := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices/"+dev["authId"].(string)+"/activate",
		map[string]any{"otp": codeFromURI(t, dev["registrationUri"].(string), ts.Clock.Now())})
	v := r.expect(t, http.StatusConflict, "totp_limit_reached")
	if v["status"] != "FAILED" {
		t.Errorf("activation error without status FAILED: %s", r.body)
	}
	// The code is checked against every active authenticator.
	ts.authenticate(t, a, "m@example.com", codeFromURI(t, one.URI, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")
	ts.authenticate(t, a, "m@example.com", codeFromURI(t, two.URI, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")
	// Revoking one makes room again.
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/revoke", map[string]any{"authenticator_id": one.AuthenticatorID}).expect(t, http.StatusOK, "")
	ts.register(t, u, nil)
}

func TestTOTPRevoke(t *testing.T) {
	ts := totpSQLite(t)
	a := ts.newApp(t, "revoke", app.Settings{TOTPMaxPerUser: 3})
	u := ts.emailUser(t, a, "rv@example.com")
	other := ts.emailUser(t, a, "rv2@example.com")

	t.Run("mine, all", func(t *testing.T) {
		ts.register(t, u, nil)
		ts.register(t, u, nil)
		r := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/revoke", nil)
		r.expect(t, http.StatusOK, "")
		if !jsonEqual(r.json(t), map[string]any{"message": "TOTP revoked", "revoked_count": float64(2)}) {
			t.Errorf("body %s", r.body)
		}
		ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/revoke", map[string]any{}).expect(t, http.StatusNotFound, "totp_not_registered")
		ts.authenticate(t, a, "rv@example.com", "123456", nil).expect(t, http.StatusNotFound, "totp_not_registered")
	})
	t.Run("admin, by id", func(t *testing.T) {
		keep := ts.register(t, u, nil)
		drop := ts.register(t, u, nil)
		path := "/cis/v1/users/" + u.user.ID + "/totp/revoke"
		r := ts.call(t, a.clientToken, "POST", path, map[string]any{"authenticator_id": drop.AuthenticatorID})
		if v := r.expect(t, http.StatusOK, ""); v["revoked_count"] != float64(1) {
			t.Errorf("body %s", r.body)
		}
		ts.call(t, a.clientToken, "POST", path, map[string]any{"authenticator_id": drop.AuthenticatorID}).expect(t, http.StatusNotFound, "totp_not_registered")
		now := ts.Clock.Now()
		if codeFromURI(t, drop.URI, now) != codeFromURI(t, keep.URI, now) {
			ts.authenticate(t, a, "rv@example.com", codeFromURI(t, drop.URI, now), nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
		}
		ts.authenticate(t, a, "rv@example.com", codeFromURI(t, keep.URI, now), nil).expect(t, http.StatusOK, "")
		// Another user's authenticator id does not revoke it.
		theirs := ts.register(t, other, nil)
		ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/revoke", map[string]any{"authenticator_id": theirs.AuthenticatorID}).expect(t, http.StatusNotFound, "totp_not_registered")
		// Another app's client cannot reach this app's TOTPs.
		ts.call(t, ts.def.clientToken, "POST", "/cis/v1/users/"+other.user.ID+"/totp/revoke", nil).expect(t, http.StatusNotFound, "totp_not_registered")
		// Admin, all.
		r = ts.call(t, a.clientToken, "POST", path, nil)
		if v := r.expect(t, http.StatusOK, ""); v["revoked_count"] != float64(1) || v["message"] != "TOTP revoked" {
			t.Errorf("body %s", r.body)
		}
	})
	t.Run("errors", func(t *testing.T) {
		ts.call(t, a.clientToken, "POST", "/cis/v1/users/nobody/totp/revoke", nil).expect(t, http.StatusNotFound, "user_not_found")
		ts.call(t, a.clientToken, "POST", "/cis/v1/users/"+u.user.ID+"/totp/revoke", map[string]any{"authenticator_id": 5}).expect(t, http.StatusBadRequest, "system_invalid_input")
		// A user token is not a client token, and the other way round.
		ts.call(t, u.token, "POST", "/cis/v1/users/"+u.user.ID+"/totp/revoke", nil).expect(t, http.StatusUnauthorized, "")
		ts.call(t, a.clientToken, "POST", "/cis/v1/users/me/totp/revoke", nil).expect(t, http.StatusUnauthorized, "")
	})
}

func TestTOTPDevices(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "d@example.com")
	r := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP", "deviceName": "Mydevice"})
	dev := r.expect(t, http.StatusCreated, "")
	for _, k := range []string{"authId", "status", "message", "secret", "registrationUri", "qr_code"} {
		if _, ok := dev[k]; !ok {
			t.Errorf("device reply lacks %s: %s", k, r.body)
		}
	}
	if dev["status"] != "SUCCESS" {
		t.Errorf("status %v", dev["status"])
	}
	authID, uri := dev["authId"].(string), dev["registrationUri"].(string)
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || key.Secret() != dev["secret"] || key.AccountName() != "d@example.com" {
		t.Fatalf("registrationUri %s: %v", uri, err)
	}

	// Pending: cannot log in.
	code := codeFromURI(t, uri, ts.Clock.Now())
	ts.authenticate(t, ts.def, "d@example.com", code, nil).expect(t, http.StatusNotFound, "totp_not_registered")
	list := ts.call(t, u.token, "GET", "/cis/v1/users/me/totp/devices", nil)
	if !strings.Contains(string(list.body), `"status":"pending"`) || strings.Contains(string(list.body), dev["secret"].(string)) {
		t.Errorf("listing of a pending device: %s", list.body)
	}

	activate := "/cis/v1/users/me/totp/devices/" + authID + "/activate"
	wrong := ts.call(t, u.token, "POST", activate, map[string]any{"otp": wrongCodeFor(t, uri, ts.Clock.Now())})
	if v := wrong.expect(t, http.StatusBadRequest, "auth_invalid_credentials"); v["status"] != "FAILED" || v["message"] == "" {
		t.Errorf("wrong code body: %s", wrong.body)
	}
	ts.call(t, u.token, "POST", activate, map[string]any{}).expect(t, http.StatusBadRequest, "system_invalid_input")
	ok := ts.call(t, u.token, "POST", activate, map[string]any{"otp": code})
	ok.expect(t, http.StatusOK, "")
	if !jsonEqual(ok.json(t), map[string]any{"status": "SUCCESS", "message": "OTP has been validated successfully"}) {
		t.Errorf("activation body %s", ok.body)
	}
	ts.call(t, u.token, "POST", activate, map[string]any{"otp": code}).expect(t, http.StatusConflict, "device_already_active")
	// The activating code's step is spent; the next step logs in.
	ts.authenticate(t, ts.def, "d@example.com", code, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	ts.Clock.Advance(30 * time.Second)
	ts.authenticate(t, ts.def, "d@example.com", codeFromURI(t, uri, ts.Clock.Now()), nil).expect(t, http.StatusOK, "")

	// The listing: active, with last use, no secret.
	list = ts.call(t, u.token, "GET", "/cis/v1/users/me/totp/devices", nil)
	var got struct {
		Result []map[string]any `json:"result"`
	}
	if err := json.Unmarshal(list.body, &got); err != nil || len(got.Result) != 1 {
		t.Fatalf("listing %s: %v", list.body, err)
	}
	d := got.Result[0]
	if d["authId"] != authID || d["deviceName"] != "Mydevice" || d["status"] != "active" ||
		d["created_at"] != float64(latchtest.Epoch.UnixMilli()) || d["last_used_at"] != float64(ts.Clock.Now().UnixMilli()) {
		t.Errorf("device %v", d)
	}
	for k := range d {
		if !slices.Contains([]string{"authId", "deviceName", "status", "created_at", "last_used_at"}, k) {
			t.Errorf("listing has field %s", k)
		}
	}

	// Only the user's own devices: another user cannot activate, list or delete this one.
	other := ts.emailUser(t, ts.def, "d2@example.com")
	ts.call(t, other.token, "DELETE", "/cis/v1/users/me/totp/devices/"+authID, nil).expect(t, http.StatusNotFound, "device_not_found")
	ts.call(t, other.token, "POST", activate, map[string]any{"otp": code}).expect(t, http.StatusNotFound, "device_not_found")
	if l := ts.call(t, other.token, "GET", "/cis/v1/users/me/totp/devices", nil); string(bytes.TrimSpace(l.body)) != `{"result":[]}` {
		t.Errorf("other user's listing %s", l.body)
	}
	// A client token cannot enrol a device (only the user can).
	ts.call(t, ts.def.clientToken, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP"}).expect(t, http.StatusUnauthorized, "")

	ts.call(t, u.token, "DELETE", "/cis/v1/users/me/totp/devices/"+authID, nil).expect(t, http.StatusNoContent, "")
	ts.call(t, u.token, "DELETE", "/cis/v1/users/me/totp/devices/"+authID, nil).expect(t, http.StatusNotFound, "device_not_found")
	ts.authenticate(t, ts.def, "d@example.com", codeFromURI(t, uri, ts.Clock.Now().Add(30*time.Second)), nil).expect(t, http.StatusNotFound, "totp_not_registered")

	// Bad input names its field.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"deviceType": "SMS"}, "deviceType"},
		{map[string]any{}, "deviceType"},
		{map[string]any{"deviceType": 1}, "deviceType"},
		{map[string]any{"deviceType": "TOTP", "deviceName": strings.Repeat("x", 101)}, "deviceName"},
	} {
		v := ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices", tc.body).expect(t, http.StatusBadRequest, "system_invalid_input")
		if msg, _ := v["message"].(string); !strings.HasPrefix(msg, tc.field+":") {
			t.Errorf("%v: message %q does not name %s", tc.body, msg, tc.field)
		}
	}
}

func TestTOTPDeviceExpires(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "x@example.com")
	create := func(name string) map[string]any {
		return ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices", map[string]any{"deviceType": "TOTP", "deviceName": name}).
			expect(t, http.StatusCreated, "")
	}
	late := create("late")
	ts.Clock.Advance(time.Minute)
	onTime := create("on time")
	ts.Clock.Set(latchtest.Epoch.Add(10*time.Minute + time.Second)) // late's 10 minutes are over; onTime has 59 s left
	activate := func(dev map[string]any) totpResp {
		return ts.call(t, u.token, "POST", "/cis/v1/users/me/totp/devices/"+dev["authId"].(string)+"/activate",
			map[string]any{"otp": codeFromURI(t, dev["registrationUri"].(string), ts.Clock.Now())})
	}
	r := activate(late)
	if v := r.expect(t, http.StatusNotFound, "device_not_found"); !strings.Contains(v["message"].(string), "expired") || v["status"] != "FAILED" {
		t.Errorf("expired activation body %s", r.body)
	}
	l := ts.call(t, u.token, "GET", "/cis/v1/users/me/totp/devices", nil)
	if strings.Contains(string(l.body), late["authId"].(string)) || !strings.Contains(string(l.body), onTime["authId"].(string)) {
		t.Errorf("listing shows the expired device or hides the live one: %s", l.body)
	}
	activate(onTime).expect(t, http.StatusOK, "")
	// An expired device cannot be deleted either: there is nothing left of it to revoke.
	ts.call(t, u.token, "DELETE", "/cis/v1/users/me/totp/devices/"+late["authId"].(string), nil).expect(t, http.StatusNotFound, "device_not_found")
}

func TestTOTPTransaction(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "tx@example.com")
	reg := ts.register(t, u, nil)
	ts.emailUser(t, ts.def, "nototp@example.com")
	start := func(data map[string]any) totpResp {
		return ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/transaction/start",
			map[string]any{"identifier_type": "email", "identifier": "tx@example.com", "approval_data": data})
	}
	sign := func(code string, extra map[string]any) totpResp {
		body := map[string]any{"identifier": "tx@example.com", "token": code}
		for k, v := range extra {
			body[k] = v
		}
		return ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/transaction/authenticate", body)
	}
	data := map[string]any{"transaction_id": "eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT", "sum": "200"}

	t.Run("start validates", func(t *testing.T) {
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"identifier": "tx@example.com"}, "approval_data"},
			{map[string]any{"identifier": "tx@example.com", "approval_data": "x"}, "approval_data"},
			{map[string]any{"identifier": "tx@example.com", "approval_data": map[string]any{"a": map[string]any{"nested": 1}}}, "approval_data.a"},
			{map[string]any{"identifier": "tx@example.com", "approval_data": map[string]any{"bad key!": "1"}}, "approval_data"},
			{map[string]any{"approval_data": data}, "identifier"},
		} {
			v := ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/transaction/start", tc.body).expect(t, http.StatusBadRequest, "system_invalid_input")
			if msg, _ := v["message"].(string); !strings.HasPrefix(msg, tc.field+":") {
				t.Errorf("%v: message %q does not name %s", tc.body, msg, tc.field)
			}
		}
		ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/transaction/start",
			map[string]any{"identifier": "nototp@example.com", "approval_data": data}).expect(t, http.StatusNotFound, "totp_not_registered")
		ts.call(t, ts.def.clientToken, "POST", "/cis/v1/auth/totp/transaction/start",
			map[string]any{"identifier": "ghost@example.com", "approval_data": data}).expect(t, http.StatusNotFound, "user_not_found")
	})

	t.Run("sign once", func(t *testing.T) {
		r := start(data)
		v := r.expect(t, http.StatusOK, "")
		ch, _ := v["challenge"].(string)
		if len(ch) != 6 || strings.Trim(ch, "0123456789") != "" || !jsonEqual(v["approval_data"], data) {
			t.Fatalf("start reply %s", r.body)
		}
		// A wrong code neither signs nor consumes the challenge.
		sign(wrongCodeFor(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": ch}).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
		// A wrong challenge is refused without spending the code.
		wrongCh := fmt.Sprintf("%06d", (atoi(ch)+1)%1_000_000)
		msg := sign(codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": wrongCh}).expect(t, http.StatusBadRequest, "auth_invalid_credentials")["message"].(string)
		if !strings.Contains(msg, "expired or was not started") {
			t.Errorf("message %q", msg)
		}
		c := idClaims(t, sign(codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": ch}))
		if !jsonEqual(c["approval_data"], data) {
			t.Errorf("ID token approval_data %v, want %v", c["approval_data"], data)
		}
		if !slices.Contains(amr(c), "totp") {
			t.Errorf("amr %v", amr(c))
		}
		// The challenge is consumed: a fresh code cannot sign it again.
		ts.Clock.Advance(30 * time.Second)
		sign(codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": ch}).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
		sign(codeFromURI(t, reg.URI, ts.Clock.Now()), nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
	})

	t.Run("newest challenge without the field", func(t *testing.T) {
		ts.Clock.Advance(30 * time.Second)
		start(map[string]any{"n": 1.0}).expect(t, http.StatusOK, "")
		start(map[string]any{"n": 2.0}).expect(t, http.StatusOK, "")
		c := idClaims(t, sign(codeFromURI(t, reg.URI, ts.Clock.Now()), nil))
		if !jsonEqual(c["approval_data"], map[string]any{"n": 2.0}) {
			t.Errorf("approval_data %v, want the newest transaction's", c["approval_data"])
		}
	})

	t.Run("replayed code", func(t *testing.T) {
		ts.Clock.Advance(30 * time.Second)
		code := codeFromURI(t, reg.URI, ts.Clock.Now())
		ts.authenticate(t, ts.def, "tx@example.com", code, nil).expect(t, http.StatusOK, "")
		start(data).expect(t, http.StatusOK, "")
		sign(code, nil).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
		// The refused replay left the challenge live.
		ts.Clock.Advance(30 * time.Second)
		idClaims(t, sign(codeFromURI(t, reg.URI, ts.Clock.Now()), nil))
	})

	t.Run("expired challenge", func(t *testing.T) {
		ts.Clock.Advance(30 * time.Second)
		ch := start(data).expect(t, http.StatusOK, "")["challenge"].(string)
		ts.Clock.Advance(5*time.Minute + time.Second)
		v := sign(codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": ch}).expect(t, http.StatusBadRequest, "auth_invalid_credentials")
		if !strings.Contains(v["message"].(string), "expired") {
			t.Errorf("message %v", v["message"])
		}
	})

	t.Run("plain authenticate carries no approval data", func(t *testing.T) {
		ts.Clock.Advance(30 * time.Second)
		start(data).expect(t, http.StatusOK, "")
		c := idClaims(t, ts.authenticate(t, ts.def, "tx@example.com", codeFromURI(t, reg.URI, ts.Clock.Now()), map[string]any{"challenge": "123456"}))
		if _, ok := c["approval_data"]; ok {
			t.Errorf("plain TOTP login has approval_data: %v", c)
		}
	})
}

// TestTOTPConcurrentAuthenticate: 20 concurrent authenticates with one code → exactly one 200,
// on both engines, through the HTTP stack.
func TestTOTPConcurrentAuthenticate(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ts := newTOTPTestServer(t, e.DSN(t))
			reg := ts.register(t, ts.emailUser(t, ts.def, "c@example.com"), nil)
			for round := range 3 {
				code := codeFromURI(t, reg.URI, ts.Clock.Now())
				statuses := make([]int, 20)
				var wg sync.WaitGroup
				for i := range statuses {
					wg.Add(1)
					go func() {
						defer wg.Done()
						statuses[i] = ts.authenticate(t, ts.def, "c@example.com", code, nil).status
					}()
				}
				wg.Wait()
				ok, refused := 0, 0
				for _, s := range statuses {
					switch s {
					case http.StatusOK:
						ok++
					case http.StatusBadRequest:
						refused++
					}
				}
				if ok != 1 || refused != 19 {
					t.Fatalf("round %d: %d × 200 and %d × 400 (all: %v); want exactly one 200", round, ok, refused, statuses)
				}
				ts.Clock.Advance(30 * time.Second)
			}
		})
	}
}

func TestTOTPRoutesNeedTheirToken(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "k@example.com")
	for _, tc := range []struct {
		tok          string
		method, path string
	}{
		{ts.def.clientToken, "POST", "/cis/v1/users/me/totp"},
		{ts.def.clientToken, "POST", "/cis/v1/auth/totp/register"},
		{ts.def.clientToken, "GET", "/cis/v1/users/me/totp/devices"},
		{ts.def.clientToken, "DELETE", "/cis/v1/users/me/totp/devices/x"},
		{ts.def.clientToken, "POST", "/cis/v1/users/me/totp/devices/x/activate"},
		{u.token, "POST", "/cis/v1/auth/totp/authenticate"},
		{u.token, "POST", "/cis/v1/auth/totp/transaction/start"},
		{u.token, "POST", "/cis/v1/auth/totp/transaction/authenticate"},
		{"", "POST", "/cis/v1/users/me/totp"},
		{"", "POST", "/cis/v1/auth/totp/authenticate"},
	} {
		r := ts.call(t, tc.tok, tc.method, tc.path, map[string]any{})
		if r.status != http.StatusUnauthorized || !jsonEqual(r.json(t), map[string]any{"message": "Invalid token", "error_code": float64(401)}) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	// A user token of an ended session is refused.
	if err := ts.Sessions.Logout(context.Background(), ts.def.app.ID, u.sessionID); err != nil {
		t.Fatal(err)
	}
	ts.call(t, u.token, "POST", "/cis/v1/users/me/totp", map[string]any{}).expect(t, http.StatusUnauthorized, "")
}

func TestTOTPBadBodies(t *testing.T) {
	ts := totpSQLite(t)
	u := ts.emailUser(t, ts.def, "b@example.com")
	for _, tc := range []struct {
		tok, path string
		body      any
		field     string
	}{
		{u.token, "/cis/v1/users/me/totp", `{"label": 5}`, "label"},
		{u.token, "/cis/v1/users/me/totp", `{"allow_override": "yes"}`, "allow_override"},
		{u.token, "/cis/v1/users/me/totp", `{"device_id": "` + strings.Repeat("d", 81) + `"}`, "device_id"},
		{u.token, "/cis/v1/users/me/totp", `{"label": "` + strings.Repeat("l", 101) + `"}`, "label"},
		{u.token, "/cis/v1/auth/totp/register", `[1]`, "body"},
		{u.token, "/cis/v1/auth/totp/register", `{"label":`, "body"},
		{ts.def.clientToken, "/cis/v1/auth/totp/authenticate", `{"token": "123456", "identifier": ["x"]}`, "identifier"},
		{ts.def.clientToken, "/cis/v1/auth/totp/transaction/start", `{"approval_data": [1]}`, "approval_data"},
		{ts.def.clientToken, "/cis/v1/auth/totp/transaction/authenticate", `{"token": "123456", "identifier": "b@example.com", "challenge": 5}`, "challenge"},
		{u.token, "/cis/v1/users/me/totp/devices/x/activate", `{"otp": 123456}`, "otp"},
	} {
		v := ts.call(t, tc.tok, "POST", tc.path, tc.body).expect(t, http.StatusBadRequest, "system_invalid_input")
		if msg, _ := v["message"].(string); !strings.HasPrefix(msg, tc.field+":") {
			t.Errorf("%s %s: message %q does not name %s", tc.path, tc.body, msg, tc.field)
		}
	}
	// Nothing was registered by any of them.
	if list, _ := ts.Store.ListTOTPs(context.Background(), ts.def.app.ID, u.user.ID); len(list) != 0 {
		t.Errorf("bad requests registered %d authenticators", len(list))
	}
}
