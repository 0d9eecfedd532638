package hosted_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latch-auth/latch/internal/hosted"
)

// browser is a cookie jar for one browser: the tie cookie a require_mfa login sets.
type browser struct{ cookies []*http.Cookie }

// get GETs a result URI as this browser, keeps the cookies it sets, and returns the redirect.
func (b *browser) get(t *testing.T, e *env, uri string) *url.URL {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %d, want 302", uri, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == hosted.TieCookie {
			if !c.HttpOnly || c.Path != hosted.TiePath || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("tie cookie %+v: want HttpOnly, SameSite=Lax, Path %s", c, hosted.TiePath)
			}
			b.cookies = []*http.Cookie{c}
		}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// amrOf reads the amr claim of an ID token issued by the stack under test.
func amrOf(t *testing.T, idToken string) []string {
	t.Helper()
	tok, err := jwt.ParseSigned(idToken, []jose.SignatureAlgorithm{jose.ES256})
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

// wantMFARequired checks a first factor's redirect and returns its session id.
func wantMFARequired(t *testing.T, loc *url.URL) string {
	t.Helper()
	q := loc.Query()
	if q.Get("error") != "mfa_required" || q.Get("code") != "" || q.Get("session_id") == "" ||
		!strings.HasPrefix(q.Get("error_description"), "A second factor is required: ") {
		t.Fatalf("first factor redirected to %s, want error=mfa_required with a session_id and no code", loc)
	}
	return q.Get("session_id")
}

// TestRequireMFABackendSecondFactor: a require_mfa magic link completes a session but yields no
// token — its code cannot be exchanged and session authenticate refuses — until a backend joins
// a second factor with the session_id; then both give tokens whose amr has mfa.
func TestRequireMFABackendSecondFactor(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email, phone := strings.ToLower(uniqueEmail("mfa")), uniquePhone()
		e.CreateUser(t, e.token, map[string]any{"email": email, "phone_number": phone})
		link := e.begin(t, flowNamed("links_email"), "email", email, map[string]any{"require_mfa": true}, nil)
		var b browser
		sid := wantMFARequired(t, b.get(t, e, link))
		code, _ := url.Parse(link)
		if r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code.Query().Get("code"), e.redirect); r.Status != http.StatusBadRequest {
			t.Fatalf("exchanging the first factor's code: %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", e.token, map[string]any{"session_id": sid}); r.Status != http.StatusForbidden || r.String("error_code") != "auth_mfa_required" {
			t.Fatalf("session authenticate with one factor: %d %s", r.Status, r.Body)
		}
		// A backend SMS OTP joined with the session_id is the second factor.
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", e.token, map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": phone}); r.Status != http.StatusOK {
			t.Fatalf("sms send: %d %s", r.Status, r.Body)
		}
		joined := e.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", e.token, map[string]any{
			"passcode": e.passcodeFor(t, phone), "identifier_type": "phone_number", "identifier": phone, "session_id": sid})
		if joined.Status != http.StatusOK || joined.String("session_id") != sid {
			t.Fatalf("second factor: %d %s", joined.Status, joined.Body)
		}
		if got := amrOf(t, joined.String("id_token")); !slices.Contains(got, "eml") || !slices.Contains(got, "mfa") {
			t.Fatalf("amr after the second factor: %v", got)
		}
		r := e.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", e.token, map[string]any{"session_id": sid})
		if r.Status != http.StatusOK || !slices.Contains(amrOf(t, r.String("id_token")), "mfa") {
			t.Fatalf("session authenticate after two factors: %d %s", r.Status, r.Body)
		}
	})
}

// TestRequireMFATOTPJoin: a require_mfa email OTP login is refused tokens until the user's TOTP
// joins its session from a backend; then session authenticate yields tokens with mfa.
func TestRequireMFATOTPJoin(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email := strings.ToLower(uniqueEmail("totp"))
		e.CreateUser(t, e.token, map[string]any{"email": email})
		// The user enrols a TOTP (one factor is enough for the first one).
		code := e.Do(t, http.MethodPost, "/cis/v1/auth/otp/send", e.token, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email}).String("code")
		login := e.Do(t, http.MethodPost, "/cis/v1/auth/otp/authenticate", e.token, map[string]any{"passcode": code, "identifier_type": "email", "identifier": email})
		reg := e.Do(t, http.MethodPost, "/cis/v1/users/me/totp", login.String("access_token"), map[string]any{})
		if reg.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", reg.Status, reg.Body)
		}
		e.Clock.Advance(time.Second)
		var b browser
		sid := wantMFARequired(t, b.get(t, e, e.begin(t, flowNamed("otp_email"), "email", email, map[string]any{"require_mfa": true}, nil)))
		if r := e.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", e.token, map[string]any{"session_id": sid}); r.Status != http.StatusForbidden {
			t.Fatalf("session authenticate before the TOTP: %d %s", r.Status, r.Body)
		}
		totpCode, err := pqtotp.GenerateCode(reg.String("secret"), e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		joined := e.Do(t, http.MethodPost, "/cis/v1/auth/totp/authenticate", e.token, map[string]any{
			"token": totpCode, "identifier_type": "email", "identifier": email, "session_id": sid})
		if joined.Status != http.StatusOK || !slices.Contains(amrOf(t, joined.String("id_token")), "mfa") {
			t.Fatalf("TOTP joined: %d %s", joined.Status, joined.Body)
		}
		r := e.Do(t, http.MethodPost, "/cis/v1/auth/session/authenticate", e.token, map[string]any{"session_id": sid})
		if got := amrOf(t, r.String("id_token")); r.Status != http.StatusOK || !slices.Equal(got, []string{"eotp", "totp", "mfa"}) {
			t.Fatalf("session authenticate after the TOTP: %d amr %v", r.Status, got)
		}
	})
}

// TestRequireMFASameBrowser: Mosaic's pattern — a require_mfa email OTP, then a require_mfa SMS
// OTP whose result URI is followed by the same browser — yields a code whose tokens have mfa.
// Another browser (no tie cookie) gets a first factor again, as does the same factor twice.
func TestRequireMFASameBrowser(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		email, phone := strings.ToLower(uniqueEmail("mfa")), uniquePhone()
		e.CreateUser(t, e.token, map[string]any{"email": email, "phone_number": phone})
		mfa := map[string]any{"require_mfa": true}
		var b browser
		first := wantMFARequired(t, b.get(t, e, e.begin(t, flowNamed("otp_email"), "email", email, mfa, nil)))
		if len(b.cookies) != 1 {
			t.Fatal("the first factor set no tie cookie")
		}

		// Another browser following the SMS result starts over.
		var other browser
		if sid := wantMFARequired(t, other.get(t, e, e.begin(t, flowNamed("otp_sms"), "phone_number", phone, mfa, nil))); sid == first {
			t.Fatal("an untied browser joined the first session")
		}
		// The tied browser: the SMS completes the first session and brings back a code. (A second
		// later, so that the newest SMS in the outbox is this one's.)
		e.Clock.Advance(time.Second)
		loc := b.get(t, e, e.begin(t, flowNamed("otp_sms"), "phone_number", phone, mfa, nil))
		code := loc.Query().Get("code")
		if code == "" || loc.Query().Get("error") != "" {
			t.Fatalf("second factor redirected to %s, want a code", loc)
		}
		r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		if got := amrOf(t, r.String("id_token")); !slices.Contains(got, "eotp") || !slices.Contains(got, "sms") || !slices.Contains(got, "mfa") || r.String("session_id") != first {
			t.Fatalf("tokens: amr %v session %s, want eotp, sms and mfa in session %s", got, r.String("session_id"), first)
		}
		if r := e.exchangeOIDC(t, e.ClientID, e.ClientSecret, code, e.redirect); r.Status != http.StatusBadRequest {
			t.Fatalf("the code worked twice: %d", r.Status)
		}

		// The same factor twice is not two factors: it starts a new session. (Another user, whose
		// send limit is untouched; a second apart, so the newest message is the second code.)
		email, phone = strings.ToLower(uniqueEmail("mfa")), uniquePhone()
		e.CreateUser(t, e.token, map[string]any{"email": email, "phone_number": phone})
		var twice browser
		one := wantMFARequired(t, twice.get(t, e, e.begin(t, flowNamed("otp_email"), "email", email, mfa, nil)))
		e.Clock.Advance(time.Second)
		if again := wantMFARequired(t, twice.get(t, e, e.begin(t, flowNamed("otp_email"), "email", email, mfa, nil))); again == one {
			t.Fatal("the same factor twice completed the session")
		}
		// A forged tie cookie ties nothing.
		forged := browser{cookies: []*http.Cookie{{Name: hosted.TieCookie, Value: one + ".forged"}}}
		wantMFARequired(t, forged.get(t, e, e.begin(t, flowNamed("otp_sms"), "phone_number", phone, mfa, nil)))
	})
}
