package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/secret"
)

// chromiumPath is Debian's chromium; the test never downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// The browser window's size.
const demoWidth, demoHeight = 1100, 900

// demoServe runs `latch serve` with cfg until the test ends and returns its base URL and banner.
func demoServe(t *testing.T, cfg *config.Config) (string, string) {
	t.Helper()
	rs := startServe(t, cfg)
	return rs.base(), rs.out
}

// TestProdHidesDevPages: with --prod the dev outbox and the demo do not exist; they answer the
// API's 404 JSON like any unknown path. In dev mode the same paths are pages.
func TestProdHidesDevPages(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there: the SMTP provider only has to be configured, not reachable

	paths := []string{"/dev/outbox", "/dev/outbox/x", "/dev/outbox.json", "/demo", "/demo/", "/demo/account",
		"/demo/callback?code=x&state=y", "/demo/static/style.css"}
	prod := &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Database: "sqlite", LogLevel: "warn", Prod: true,
		EncryptionKey: secret.Value(strings.Repeat("ab", 32)),
		SMTP:          config.SMTP{Host: "127.0.0.1", Port: closedPort, From: "latch@example.com", TLS: "none"}}
	base, banner := demoServe(t, prod)
	if strings.Contains(banner, "/demo") || strings.Contains(banner, "/dev/outbox") {
		t.Errorf("production banner mentions dev pages:\n%s", banner)
	}
	for _, p := range paths {
		status, ctype, body := demoGet(t, base+p)
		if status != http.StatusNotFound || !strings.HasPrefix(ctype, "application/json") {
			t.Errorf("prod GET %s = %d %s, want 404 JSON", p, status, ctype)
		}
		var e struct {
			Code any `json:"error_code"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code == nil {
			t.Errorf("prod GET %s body %q is not an error JSON", p, body)
		}
	}
	status, _, _ := demoGet(t, base+"/healthz")
	if status != http.StatusOK {
		t.Errorf("prod /healthz = %d", status)
	}

	dev := &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Database: "sqlite", LogLevel: "warn"}
	base, banner = demoServe(t, dev)
	if !strings.Contains(banner, base+"/demo\n") || !strings.Contains(banner, base+"/dev/outbox\n") {
		t.Errorf("dev banner lacks the demo or outbox URL:\n%s", banner)
	}
	for _, p := range []string{"/dev/outbox", "/demo"} {
		status, ctype, body := demoGet(t, base+p)
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "<form") {
			t.Errorf("dev GET %s = %d %s, want an HTML page with a form", p, status, ctype)
		}
	}
}

func demoGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// demoBrowser drives one headless Chromium tab through the demo.
type demoBrowser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	dir   string // screenshots
	extra string // LATCH_E2E_SHOTS: also keep the screenshots there, to look at them
	n     int
}

// do runs actions that return nothing, failing the test on an error.
func (b *demoBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to path and checks which page it shows.
func (b *demoBrowser) open(path, wantPage string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
	b.expectPage(wantPage)
}

// click clicks sel, waits for the page it loads, and checks which page that is.
func (b *demoBrowser) click(sel, wantPage string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	b.expectPage(wantPage)
}

// submit fills the form's fields and submits it with its button.
func (b *demoBrowser) submit(form string, fields map[string]string, wantPage string) {
	b.t.Helper()
	for name, v := range fields {
		b.do("fill "+name, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	b.click(form+` button[type="submit"]`, wantPage)
}

func (b *demoBrowser) expectPage(want string) {
	b.t.Helper()
	class, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("body"), "class"))
	if err != nil {
		b.t.Fatalf("read page: %v", err)
	}
	if class.Value != "page-"+want {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("at %s the browser shows %q, want page-%s; the page says:\n%s", loc, class.Value, want, b.text("main"))
	}
}

// text is the visible text of sel.
func (b *demoBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// textContent is the text of sel, shown or not (a closed <details>).
func (b *demoBrowser) textContent(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text content of %s: %v", sel, err)
	}
	return s
}

// shows fails the test unless the text of sel contains every want.
func (b *demoBrowser) shows(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s shows %q, want it to contain %q", sel, got, w)
		}
	}
}

// shot saves a full-page screenshot.
func (b *demoBrowser) shot(name string) {
	b.t.Helper()
	// A viewport as tall as the page, so that Chromium paints every framed email, not only those
	// in the first screen.
	height, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64]("document.documentElement.scrollHeight"))
	if err != nil {
		b.t.Fatalf("page height: %v", err)
	}
	metrics := emulation.SetDeviceMetricsOverrideParams{Width: demoWidth, Height: max(height, demoHeight), DeviceScaleFactor: 1}
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, metrics); err != nil {
		b.t.Fatalf("resize viewport: %v", err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		b.t.Fatalf("restore viewport: %v", err)
	}
	b.n++
	file := fmt.Sprintf("%02d-%s.png", b.n, name)
	for _, dir := range []string{b.dir, b.extra} {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			b.t.Fatalf("save screenshot: %v", err)
		}
	}
}

// noTokensInPage fails the test if the page's HTML holds a JWT: the demo keeps tokens server-side.
func (b *demoBrowser) noTokensInPage() {
	b.t.Helper()
	html, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("read page HTML: %v", err)
	}
	if jwtPattern.MatchString(html) {
		b.t.Error("the page source contains a JWT")
	}
}

var (
	jwtPattern   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)
	emailCode    = regexp.MustCompile(`Your code: ([0-9]{4,10})`)
	smsCode      = regexp.MustCompile(`\b([0-9]{4,10}) is your`)
	sixDigits    = regexp.MustCompile(`^[0-9]{6}$`)
	totpAbsent   = "TOTP endpoints are not served yet (POST /cis/v1/users/me/totp answered 404); skipping the TOTP part of the browser test"
	demoEmail    = "ada.lovelace@example.com"
	demoPhone    = "+15551234567"
	demoAmount   = "42.50"
	demoCurrency = "EUR"
)

// TestDemoE2E drives headless Chromium through the demo app and the dev outbox as a person
// would: email OTP (code read on the outbox page), SMS OTP, a magic link clicked on the outbox
// page, TOTP enrolment with the secret shown on the page, an MFA sign-in and a transaction
// approval. Each page is screenshotted (set LATCH_E2E_SHOTS=DIR to keep them) and checked by
// what it shows.
func TestDemoE2E(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	cfg := &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Database: "sqlite", LogLevel: "warn"}
	base, banner := demoServe(t, cfg)
	if !strings.Contains(banner, "demo:      "+base+"/demo") {
		t.Errorf("banner does not print the demo URL:\n%s", banner)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(demoWidth, demoHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	b := &demoBrowser{t: t, ctx: tabCtx, base: base, dir: t.TempDir(), extra: os.Getenv("LATCH_E2E_SHOTS")}
	defer func() { t.Logf("screenshots in %s", b.dir) }()

	// Each part is a subtest; a part that fails stops the ones after it (they build on it).
	step := func(name string, f func(b *demoBrowser)) bool {
		return t.Run(name, func(t *testing.T) {
			b.t = t
			f(b)
		})
	}
	ok := step("email_otp", func(b *demoBrowser) {
		b.open("/demo", "home")
		b.shows("main", "Code by email", "Code by SMS", "Magic link", "Authenticator app")
		b.shot("home")
		b.submit("#form-email", map[string]string{"email": demoEmail}, "code")
		b.shows("#identifier", demoEmail)
		b.shot("code-email")
		code := b.readOutboxCode(demoEmail, "email")
		b.open("/demo/code", "code")
		b.submit("main form", map[string]string{"code": "000000"}, "code")
		b.shows(".error", "That code is wrong")
		b.shot("code-wrong")
		b.submit("main form", map[string]string{"code": code}, "account")
		b.shows("#who", demoEmail)
		b.shows("#amr", "eotp")
		b.shows("#claims", "email", demoEmail, "auth_time")
		b.shows(".flash", "signed in with a code sent by email")
		b.noTokensInPage()
		b.checkCookies()
		b.shot("signed-in-email-otp")
		b.signOut()
	}) && step("sms_otp", func(b *demoBrowser) {
		b.submit("#form-sms", map[string]string{"phone": demoPhone}, "code")
		b.shows("#identifier", demoPhone)
		code := b.readOutboxCode(demoPhone, "sms")
		b.open("/demo/code", "code")
		b.submit("main form", map[string]string{"code": code}, "account")
		b.shows("#who", demoPhone)
		b.shows("#amr", "sms")
		b.shot("signed-in-sms-otp")
		b.signOut()
	}) && step("magic_link", func(b *demoBrowser) {
		// Hosted flow: the link is clicked on the outbox page, the demo's backend exchanges the code.
		b.submit("#form-link", map[string]string{"email": demoEmail}, "link")
		b.shows("main", "Check your email", demoEmail)
		b.shot("link-sent")
		b.open("/dev/outbox", "outbox")
		b.shows("article.msg:first-of-type", demoEmail, "Sign in to")
		b.shot("outbox-magic-link")
		b.click("article.msg:first-of-type a.msg-link", "account")
		b.shows("#who", demoEmail)
		b.shows("#amr", "eml")
		b.shows(".flash", "magic link")
		b.noTokensInPage()
		b.shot("signed-in-magic-link")
	})
	if !ok {
		return
	}
	step("totp", func(b *demoBrowser) {
		t := b.t
		if !totpServed(t, base) {
			t.Skip(totpAbsent)
		}
		// Enrol while signed in by the magic link.
		b.click("#enrol", "totp")
		b.shows("main", "Set up your authenticator app")
		qr, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#qr"), "src"))
		if err != nil || !strings.HasPrefix(qr.Value, "data:image/png;base64,") {
			t.Errorf("the QR code is not shown as a PNG image: %q %v", qr.Value[:min(len(qr.Value), 40)], err)
		}
		secret := strings.TrimSpace(b.text("#totp-secret"))
		if len(secret) < 16 {
			t.Fatalf("TOTP secret shown on the page is %q", secret)
		}
		b.shot("totp-enrol")
		// Finish with a code from the app (the previous time step's: Latch accepts ±1 step, and
		// this step's code is kept for the second factor below): the session becomes two-factor
		// and the recovery codes are shown once.
		now := time.Now()
		confirmCode, err := totp.GenerateCode(secret, now.Add(-30*time.Second))
		if err != nil {
			t.Fatalf("compute TOTP code: %v", err)
		}
		b.submit("#form-confirm", map[string]string{"code": confirmCode}, "recovery")
		b.shows("main", "Save these recovery codes")
		codes := strings.Fields(b.text("#recovery-codes"))
		if len(codes) != 10 || len(codes[0]) != 10 {
			t.Fatalf("recovery codes shown: %q, want 10 codes of 10 characters", codes)
		}
		b.shot("recovery-codes")
		b.click("#saved", "account")
		b.shows("#recovery-state", "10")
		b.shows("#amr", "mfa")
		if text := b.text("main"); strings.Contains(text, secret) || strings.Contains(text, codes[0]) {
			t.Error("the TOTP secret or a recovery code is still shown")
		}
		b.signOut()

		// Sign in again: email OTP, then the TOTP code as second factor.
		b.submit("#form-email", map[string]string{"email": demoEmail}, "code")
		code := b.readOutboxCode(demoEmail, "email")
		b.open("/demo/code", "code")
		b.submit("main form", map[string]string{"code": code}, "account")
		b.shows("#amr", "eotp")
		totpCode, err := totp.GenerateCode(secret, now)
		if err != nil {
			t.Fatalf("compute TOTP code: %v", err)
		}
		b.submit("#form-mfa", map[string]string{"code": totpCode}, "account")
		b.shows(".flash", "Second factor added")
		b.shows("#amr", "eotp", "totp", "mfa")
		b.shows("#claims", "mfa")
		b.shot("signed-in-mfa")

		// Approve a payment. The MFA sign-in used this time step; the approval uses the next
		// one, which Latch accepts (±1 step) and which has not been used.
		b.submit("#form-txn", map[string]string{"amount": demoAmount}, "txn")
		b.shows("#amount", demoAmount, demoCurrency)
		if ch := strings.TrimSpace(b.text("#challenge")); !sixDigits.MatchString(ch) {
			t.Errorf("challenge shown is %q, want 6 digits", ch)
		}
		b.shot("transaction")
		nextCode, err := totp.GenerateCode(secret, now.Add(30*time.Second))
		if err != nil {
			t.Fatalf("compute TOTP code: %v", err)
		}
		b.submit("main form", map[string]string{"code": nextCode}, "account")
		b.shows(".flash", "Payment approved")
		b.shows("#approval", "amount", demoAmount, "currency", demoCurrency)
		b.noTokensInPage()
		b.shot("transaction-approved")

		b.click("#revoke", "totp-remove") // removing asks for confirmation first
		b.click("#confirm-remove", "account")
		b.shows(".flash", "authenticator app was removed")
		b.shot("totp-revoked")
		b.signOut()
		b.shot("signed-out")
	})
}

// readOutboxCode opens the dev outbox page and reads the one-time code of the newest message,
// which must be to `to` by `channel`.
func (b *demoBrowser) readOutboxCode(to, channel string) string {
	b.t.Helper()
	b.open("/dev/outbox", "outbox")
	first := "article.msg:first-of-type"
	b.shows(first+" .to", to)
	if got := strings.TrimSpace(b.textContent(first + " .channel")); got != channel {
		b.t.Errorf("newest outbox message is by %q, want %q", got, channel)
	}
	var text string
	var re *regexp.Regexp
	if channel == "sms" {
		text, re = b.text(first+" .sms-text"), smsCode
	} else {
		b.shows(first+" .subject", "login code")
		text, re = b.textContent(first+" pre.text"), emailCode
	}
	b.shot("outbox-" + channel + "-code")
	m := re.FindStringSubmatch(text)
	if m == nil {
		b.t.Fatalf("no code in the newest outbox message: %q", text)
	}
	return m[1]
}

func (b *demoBrowser) signOut() {
	b.t.Helper()
	b.click("#signout", "home")
	b.shows(".flash", "You are signed out")
}

// checkCookies: the demo's cookies are HttpOnly, SameSite=Lax, and hold no token.
func (b *demoBrowser) checkCookies() {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/demo/account"}})
	if err != nil {
		b.t.Fatalf("read cookies: %v", err)
	}
	seen := map[string]bool{}
	for _, c := range res.Cookies {
		seen[c.Name] = true
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
			b.t.Errorf("cookie %s: HttpOnly %v SameSite %q, want HttpOnly and Lax", c.Name, c.HTTPOnly, c.SameSite)
		}
		if strings.HasPrefix(c.Value, "eyJ") || len(c.Value) > 64 {
			b.t.Errorf("cookie %s holds more than a random id", c.Name)
		}
	}
	if !seen["latch_demo"] || !seen["latch_csrf"] {
		b.t.Errorf("cookies %v, want latch_demo and latch_csrf", seen)
	}
}

// totpServed reports whether the TOTP API is mounted: without a token its register route
// answers 401, an unknown route 404.
func totpServed(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Post(base+"/cis/v1/users/me/totp", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("probe TOTP: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound
}
