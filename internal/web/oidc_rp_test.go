package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

type resp struct {
	status int
	loc    string
	body   string
}

// TestDemoIsARelyingParty: the demo signs in through Latch's authorization endpoint with PKCE
// and its own client, exchanges the code at /demo/callback, and signing out ends Latch's browser
// session too (RP-initiated logout) — without a browser, on both engines.
func TestDemoIsARelyingParty(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := latchtest.Start(t, eng.DSN(t), latchtest.Options{})
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			do := func(method, path string, form url.Values) resp {
				t.Helper()
				if !strings.HasPrefix(path, "http") {
					path = s.URL + path
				}
				var body io.Reader
				if form != nil {
					body = strings.NewReader(form.Encode())
				}
				req, _ := http.NewRequest(method, path, body)
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				req.Header.Set("Accept", "text/html")
				r, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Body.Close()
				b, _ := io.ReadAll(r.Body)
				return resp{r.StatusCode, r.Header.Get("Location"), string(b)}
			}
			field := func(body, name string) string {
				m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no %s field in %s", name, body)
				}
				return html.UnescapeString(m[1])
			}
			const email = "ada@example.com"

			r := do("GET", "/demo/signin", nil)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.loc, s.URL+"/cis/oidc/auth?") {
				t.Fatalf("sign in: %d %q", r.status, r.loc)
			}
			auth, _ := url.Parse(r.loc)
			if q := auth.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") != s.URL+"/demo/callback" || q.Get("nonce") == "" {
				t.Fatalf("authorization request: %v", q)
			}
			page := do("GET", r.loc, nil)
			page = do("POST", "/cis/oidc/login", url.Values{"flow": {field(page.body, "flow")}, "action": {"send_email_otp"}, "email": {email}})
			msgs := s.Outbox(t, email)
			if len(msgs) == 0 {
				t.Fatalf("no code sent: %s", page.body)
			}
			code := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(msgs[0].Text)[1]
			back := do("POST", "/cis/oidc/login", url.Values{"flow": {field(page.body, "flow")}, "action": {"verify"}, "code": {code}})
			if back.status != http.StatusFound || !strings.HasPrefix(back.loc, s.URL+"/demo/callback?") {
				t.Fatalf("verify: %d %q", back.status, back.loc)
			}
			cb := do("GET", back.loc, nil)
			if cb.status != http.StatusSeeOther || cb.loc != "/demo/account" {
				t.Fatalf("callback: %d %q %s", cb.status, cb.loc, cb.body)
			}
			account := do("GET", "/demo/account", nil)
			if account.status != 200 || !strings.Contains(account.body, email) || !strings.Contains(account.body, "sign-in pages (OpenID Connect)") {
				t.Fatalf("account: %d %s", account.status, account.body)
			}
			// The code came back once: a replay of the callback is refused.
			if again := do("GET", back.loc, nil); again.status == http.StatusSeeOther {
				t.Fatalf("callback replayed: %d %q", again.status, again.loc)
			}

			// Sign out: through Latch's end_session, back to the demo.
			out := do("POST", "/demo/signout", url.Values{"csrf": {field(account.body, "csrf")}})
			if out.status != http.StatusSeeOther || !strings.HasPrefix(out.loc, s.URL+"/cis/oidc/session/end?") {
				t.Fatalf("sign out: %d %q", out.status, out.loc)
			}
			end := do("GET", out.loc, nil)
			if end.status != http.StatusFound || end.loc != s.URL+"/demo/callback?state=signed-out" {
				t.Fatalf("end session: %d %q %s", end.status, end.loc, end.body)
			}
			if home := do("GET", end.loc, nil); home.status != http.StatusSeeOther || home.loc != "/demo" {
				t.Fatalf("back from logout: %d %q", home.status, home.loc)
			}
			// Latch's browser session is gone: the next sign-in shows the pages again.
			r = do("GET", "/demo/signin", nil)
			if p := do("GET", r.loc, nil); p.status != 200 || !strings.Contains(p.body, "Sign in to") {
				t.Fatalf("after logout: %d %q", p.status, p.loc)
			}
		})
	}
}
