package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// TestDemoPasswordE2E drives headless Chromium through the demo's password sign-in: a wrong
// password (refused on the page), then the right one — Latch's hosted password login with
// require_mfa, whose result URL the browser follows to Latch and back, where Latch sets its tie
// cookie — then the code emailed to the dev outbox, whose result URL completes the same login in
// this browser. The account page shows amr pwd, eotp and mfa.
func TestDemoPasswordE2E(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	stack := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{})
	const email, pw = "grace.hopper@example.com", "compiler nanosecond cobol harbor"
	if r := stack.Do(t, http.MethodPut, "/cis/v1/applications/"+stack.App.ID, stack.AdminToken(t),
		map[string]any{"settings": map[string]any{"password_enabled": true}}); r.Status != http.StatusOK {
		t.Fatalf("enable passwords: %d %s", r.Status, r.Body)
	}
	stack.CreateUser(t, stack.ClientToken(t), map[string]any{"email": email,
		"credentials": map[string]any{"password": pw, "force_replace": false}})

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
	b := &demoBrowser{t: t, ctx: tabCtx, base: stack.URL, dir: t.TempDir(), extra: os.Getenv("LATCH_E2E_SHOTS")}

	b.open("/demo", "home")
	b.click("#password-signin a", "password")
	b.shows("main", "Sign in with a password")
	b.submit("#form-password", map[string]string{"email": email, "password": pw + " wrong"}, "password")
	b.shows(".error", "do not match")
	b.shot("password-wrong")
	b.submit("#form-password", map[string]string{"email": email, "password": pw}, "password")
	b.shows("main", "Enter your code", email)
	b.shot("password-code")
	code := b.readOutboxCode(email, "email")
	b.open("/demo/password/code", "password")
	b.submit("#form-code", map[string]string{"code": code}, "account")
	b.shows("#who", email)
	b.shows("#amr", "pwd", "eotp", "mfa")
	b.shows(".flash", "password and a code sent by email")
	b.noTokensInPage()
	b.shot("signed-in-password-mfa")
}
