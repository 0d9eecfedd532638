package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latch-auth/latch/internal/config"
)

// TestOIDCSignInE2E drives headless Chromium through the demo as an OpenID Connect relying party:
// "Sign in with Latch" goes to Latch's own sign-in pages (/cis/oidc/auth), an emailed code signs
// in, the demo exchanges the code with PKCE and shows the account; the next sign-in needs no code
// (single sign-on); signing out ends Latch's browser session too. The sign-in page also fits a
// 390 px wide phone without scrolling sideways.
func TestOIDCSignInE2E(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	cfg := &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Database: "sqlite", LogLevel: "warn"}
	base, _ := demoServe(t, cfg)

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
	const email = "grace.hopper@example.com"

	b.open("/demo", "home")
	b.shows("#oidc-signin", "Sign in with Latch")
	b.click("#oidc-signin a.button", "signin-start")
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, base+"/cis/oidc/auth?") {
		t.Fatalf("the sign-in page is at %q (%v), want Latch's authorization endpoint", loc, err)
	}
	b.shows("main", "Sign in to", "Email me a code", "Text me a code")
	b.shot("oidc-start")

	// A phone-sized window: nothing is wider than the screen.
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64]("document.documentElement.scrollWidth"))
	if err != nil || width > 390 {
		t.Errorf("at 390 px the sign-in page is %d px wide (%v)", width, err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	// The wrong address format is reported at the field; then the real one.
	b.submit("section.card form", map[string]string{"email": "not-an-address"}, "signin-start")
	b.shows("#email-error", "Enter an email address")
	b.submit("section.card form", map[string]string{"email": email}, "signin-code")
	b.shows("main", "Enter your code", email)
	b.shot("oidc-code")
	b.submit("section.card form", map[string]string{"code": outboxCode(t, base, email)}, "account")
	b.shows(".flash", "Latch's sign-in pages")
	b.shows("#amr", "eotp")
	b.shows("#claims", "email_verified", "auth_time")
	b.noTokensInPage()
	b.shot("oidc-signed-in")

	// Latch's cookies: HttpOnly, SameSite=Lax, random ids only.
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/cis/oidc/auth"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range res.Cookies {
		seen[c.Name] = true
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || len(c.Value) > 64 {
			t.Errorf("cookie %s: HttpOnly %v SameSite %q length %d", c.Name, c.HTTPOnly, c.SameSite, len(c.Value))
		}
	}
	if !seen["latch_sso"] || !seen["latch_browser"] {
		t.Errorf("cookies %v, want latch_sso and latch_browser", seen)
	}

	// Signing out of the demo ends Latch's browser session too.
	b.click("#signout", "home")
	b.shows(".flash", "signed out of the demo and of Latch")
	b.click("#oidc-signin a.button", "signin-start")

	// Single sign-on: sign in again (a code), sign out of the demo only by dropping its cookie,
	// and the next "Sign in" needs no page at all.
	b.submit("section.card form", map[string]string{"email": email}, "signin-code")
	b.submit("section.card form", map[string]string{"code": outboxCode(t, base, email)}, "account")
	if _, err := chromedp.Call(b.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "latch_demo", URL: base + "/demo"}); err != nil {
		t.Fatal(err)
	}
	b.open("/demo", "home")
	b.click("#oidc-signin a.button", "account")
	b.shows("#amr", "eotp")
}

// outboxCode reads the newest code emailed to `to` from the dev outbox's JSON.
func outboxCode(t *testing.T, base, to string) string {
	t.Helper()
	resp, err := http.Get(base + "/dev/outbox.json?to=" + url.QueryEscape(to) + "&limit=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil || len(msgs) == 0 {
		t.Fatalf("outbox for %s: %v %v", to, msgs, err)
	}
	m := emailCode.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	return m[1]
}
