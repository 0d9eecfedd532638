package bench

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// fakeLatch is a minimal, strict stand-in for Latch's HTTP API, enough to run every flow: it checks
// the bodies the bench sends, one-time codes, TOTP replay protection and refresh-token rotation.
type fakeLatch struct {
	mu       sync.Mutex
	users    map[string]bool
	pwds     map[string]string // email -> password (the password flow's users)
	codes    map[string]string // email -> pending otp
	links    map[string]string // link code -> email
	hosted   map[string]string // email -> hosted otp
	outbox   map[string]string // email -> last message text
	authz    map[string]string // authorization code -> redirect_uri
	lastStep map[string]int64  // email -> last TOTP step used
	refresh  map[string]bool   // live refresh tokens
	seq      int
	failures []string
}

func newFakeLatch() *fakeLatch {
	return &fakeLatch{users: map[string]bool{}, pwds: map[string]string{}, codes: map[string]string{}, links: map[string]string{}, hosted: map[string]string{},
		outbox: map[string]string{}, authz: map[string]string{}, lastStep: map[string]int64{}, refresh: map[string]bool{}}
}

func fakeTOTPKey(email string) []byte { s := sha256.Sum256([]byte(email)); return s[:20] }

var fakeTOTPParams = totpParams{Algorithm: "SHA256", Digits: 8, Period: 30}

func (f *fakeLatch) next() string { f.seq++; return fmt.Sprintf("%06d", f.seq%1000000) }

func (f *fakeLatch) tokens(w http.ResponseWriter, email string) {
	rt := "rt-" + f.next() + "-" + email
	f.refresh[rt] = true
	writeFake(w, 200, map[string]any{"access_token": "user:" + email, "id_token": "x", "refresh_token": rt, "token_type": "Bearer", "expires_in": 3600, "session_id": "s"})
}

func writeFake(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code string) {
	writeFake(w, status, map[string]any{"error_code": code, "message": code})
}

func (f *fakeLatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(w, 400, "system_invalid_input")
			return
		}
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	path := r.Method + " " + r.URL.Path
	if r.URL.Path != "/oidc/token" && !strings.HasPrefix(r.URL.Path, "/dev/") && !strings.HasPrefix(r.URL.Path, "/hosted/") {
		auth := r.Header.Get("Authorization")
		if path == "POST /cis/v1/users/me/totp" {
			if !strings.HasPrefix(auth, "Bearer user:") {
				writeFake(w, 401, map[string]any{"message": "Invalid token", "error_code": 401})
				return
			}
		} else if auth != "Bearer client-token" {
			writeFake(w, 401, map[string]any{"message": "Invalid token", "error_code": 401})
			return
		}
	}
	switch {
	case path == "POST /oidc/token":
		r.ParseForm()
		if r.PostForm.Get("client_id") != "c" || r.PostForm.Get("client_secret") != "s" {
			writeFake(w, 401, map[string]any{"error": "invalid_client", "error_code": 401})
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "client_credentials":
			writeFake(w, 200, map[string]any{"access_token": "client-token", "token_type": "Bearer", "expires_in": 3600})
		case "authorization_code":
			code := r.PostForm.Get("code")
			if ru, ok := f.authz[code]; !ok || ru != r.PostForm.Get("redirect_uri") {
				writeFake(w, 400, map[string]any{"error": "invalid_grant", "error_code": 400})
				return
			}
			delete(f.authz, code)
			f.tokens(w, "hosted")
		default:
			writeFake(w, 400, map[string]any{"error": "unsupported_grant_type", "error_code": 400})
		}
	case path == "POST /cis/v1/users":
		if f.users[str("email")] {
			fail(w, 409, "user_already_exists")
			return
		}
		f.users[str("email")] = true
		if cred, ok := body["credentials"].(map[string]any); ok {
			pw, _ := cred["password"].(string)
			if len(pw) < 15 || cred["force_replace"] != false {
				fail(w, 400, "auth_password_weak")
				return
			}
			f.pwds[str("email")] = pw
		}
		writeFake(w, 201, map[string]any{"result": map[string]any{"email": str("email")}})
	case path == "POST /cis/v1/auth/otp/send":
		if str("channel") != "direct" || str("identifier_type") != "email" || !f.users[str("identifier")] {
			fail(w, 404, "user_not_found")
			return
		}
		c := f.next()
		f.codes[str("identifier")] = c
		writeFake(w, 200, map[string]any{"message": "OTP sent", "code": c})
	case path == "POST /cis/v1/auth/password/authenticate":
		if pw, ok := f.pwds[str("username")]; !ok || str("username_type") != "email" || pw != str("password") {
			fail(w, 401, "auth_invalid_credentials")
			return
		}
		f.tokens(w, str("username"))
	case path == "POST /cis/v1/auth/otp/authenticate":
		e := str("identifier")
		if c, ok := f.codes[e]; !ok || c != str("passcode") {
			fail(w, 400, "auth_invalid_credentials")
			return
		}
		delete(f.codes, e)
		f.tokens(w, e)
	case path == "POST /cis/v1/auth/link/email/send":
		if str("redirect_uri") != "http://app.example/cb" || !f.users[str("identifier")] {
			fail(w, 400, "400")
			return
		}
		c := "L" + f.next()
		f.links[c] = str("identifier")
		writeFake(w, 200, map[string]any{"message": "Email sent successfully", "code": c})
	case path == "POST /cis/v1/auth/link/email/authenticate":
		e, ok := f.links[str("code")]
		if !ok {
			fail(w, 400, "400")
			return
		}
		delete(f.links, str("code"))
		f.tokens(w, e)
	case path == "POST /cis/v1/users/me/totp":
		e := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer user:")
		secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(fakeTOTPKey(e))
		writeFake(w, 201, map[string]any{"secret": secret, "authenticator_id": "a",
			"uri": "otpauth://totp/Fake:" + e + "?secret=" + secret + "&issuer=Fake&algorithm=SHA256&digits=8&period=30"})
	case path == "POST /cis/v1/auth/totp/authenticate":
		e := str("identifier")
		now := fakeTOTPParams.step(time.Now())
		for _, s := range []int64{now - 1, now, now + 1} {
			if totpCode(fakeTOTPKey(e), s, fakeTOTPParams) == str("token") {
				if last, ok := f.lastStep[e]; ok && s <= last {
					f.failures = append(f.failures, "totp replay for "+e)
					break
				}
				f.lastStep[e] = s
				f.tokens(w, e)
				return
			}
		}
		fail(w, 400, "auth_invalid_credentials")
	case path == "POST /cis/v1/auth/token/refresh":
		rt := str("refresh_token")
		if !f.refresh[rt] {
			f.failures = append(f.failures, "stale refresh token")
			fail(w, 400, "auth_invalid_credentials")
			return
		}
		delete(f.refresh, rt)
		f.tokens(w, "refresh")
	case path == "POST /cis/v1/auth/otp/email":
		if str("redirect_uri") != "http://app.example/cb" || !f.users[str("email")] {
			fail(w, 400, "system_invalid_input")
			return
		}
		c := f.next()
		f.hosted[str("email")] = c
		f.outbox[str("email")] = "Your code for 2025 Fake is " + c + ". It expires in 5 minutes."
		writeFake(w, 200, map[string]any{"message": "OTP email sent"})
	case path == "GET /dev/outbox.json":
		if r.URL.Query().Get("limit") != "1" { // the newest message is all the bench needs
			fail(w, 400, "system_invalid_input")
			return
		}
		writeFake(w, 200, []map[string]any{{"channel": "email", "to": r.URL.Query().Get("to"), "text": f.outbox[r.URL.Query().Get("to")]}})
	case path == "POST /cis/v1/auth/otp/email/validation":
		if c, ok := f.hosted[str("email")]; !ok || c != str("passcode") {
			fail(w, 400, "auth_invalid_credentials")
			return
		}
		delete(f.hosted, str("email"))
		ac := "AC" + f.next()
		f.authz[ac] = "http://app.example/cb"
		writeFake(w, 200, map[string]any{"result": "/hosted/complete?c=" + ac})
	case path == "GET /hosted/complete":
		http.Redirect(w, r, "http://app.example/cb?code="+r.URL.Query().Get("c"), http.StatusFound)
	default:
		fail(w, 404, "not_found")
	}
}
