package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// The widths every page is checked (and, with LATCH_SCREENSHOTS, photographed) at: a laptop and
// a phone.
var shotWidths = []int64{1280, 390}

// firstBrowser is a person's browser on a Latch node whose clock the test moves, so that codes
// expire, waits end and locks lift without sleeping.
type firstBrowser struct {
	*demoBrowser
	stack *latchtest.Stack
	shots string // LATCH_SCREENSHOTS: where to save the screenshots ("" saves none)
}

// TestFirstMinutes walks the demo and Latch's own pages as a new user would, on a node with a
// fixed clock: a wrong code, a resend too early and then allowed, an expired code, a lockout and
// a rate limit told with their waits, sign-in, enrolling an authenticator app, adding it as a
// second factor, a payment approval, removing it after a confirmation, Back after sign-out, a
// magic link used twice and one expired (Latch's readable page), and a failed authenticator
// sign-in that reads the same whether the account exists. Every page is checked at 1280 and
// 390 px (no horizontal scrolling, a one-line header, code inputs as tall as their buttons);
// LATCH_SCREENSHOTS=DIR saves each as DIR/NAME-WIDTH.png (docs/screenshots is made this way).
func TestFirstMinutes(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	stack := latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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
		chromedp.WindowSize(int(shotWidths[0]), demoHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	b := &firstBrowser{demoBrowser: &demoBrowser{t: t, ctx: tabCtx, base: stack.URL}, stack: stack, shots: os.Getenv("LATCH_SCREENSHOTS")}
	if b.shots != "" {
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string, f func(b *firstBrowser)) bool {
		return t.Run(name, func(t *testing.T) {
			b.t = t
			f(b)
		})
	}
	const ada, bob = "ada.lovelace@example.com", "bob@example.com"
	var secret string

	_ = step("landing_page", func(b *firstBrowser) {
		b.open("/", "landing")
		b.shows("main", "This is a Latch server", "Demo app", "Dev outbox", "/openapi.yaml", "/.well-known/openid-configuration")
		b.shows("#issuer", b.stack.URL)
		b.look("latch-landing")
	}) && step("sign_in_page_refuses_at_the_field", func(b *firstBrowser) {
		b.open("/demo", "home")
		b.look("demo-home")
		b.submit("#form-email", map[string]string{"email": ""}, "home")
		b.shows("#email-email-error", "Enter your email address.")
		b.submit("#form-sms", map[string]string{"phone": "12 34"}, "home")
		b.shows("#sms-phone-error", "international format")
		b.notShows("main", "phone_number", "system_invalid_input")
		b.look("demo-home-refused")
		b.reload("home")
		b.absent("#sms-phone-error", "#email-email-error") // told once: a reload neither repeats it nor posts again
	}) && step("code_wrong_resend_expired", func(b *firstBrowser) {
		b.submit("#form-email", map[string]string{"email": ada}, "code")
		b.shows("#identifier", ada)
		b.shows("#expiry", "The code expires in 5 minutes.")
		b.shows("#resend-wait", "You can ask for a new code in 30 seconds.")
		b.look("demo-code")

		b.submit("#form-code", map[string]string{"code": "000000"}, "code")
		b.shows("#code-error", "That code is wrong")
		b.at("/demo/code") // post/redirect/get
		b.look("demo-code-wrong")
		b.reload("code")
		b.notShows("main", "That code is wrong")

		b.stack.Clock.Advance(10 * time.Second)
		b.click("#resend", "code")
		b.shows("#form-resend", "You can ask for a new code in 20 seconds.")
		if n := len(b.stack.Outbox(b.t, ada)); n != 1 {
			b.t.Errorf("%d messages to %s after a too-early resend, want 1", n, ada)
		}
		b.stack.Clock.Advance(21 * time.Second)
		b.click("#resend", "code")
		b.shows(".flash", "We sent a new code to "+ada)
		if n := len(b.stack.Outbox(b.t, ada)); n != 2 {
			b.t.Errorf("%d messages to %s after a resend, want 2", n, ada)
		}
		code := b.outboxCode(ada)
		b.look("outbox")
		b.click("article.msg:first-of-type a.subject", "outbox")
		b.shows("main", "Plain-text part", "Your code: "+code)
		b.look("outbox-message")

		b.stack.Clock.Advance(5*time.Minute + time.Second)
		b.open("/demo/code", "code")
		b.shows("#expiry", "The code has expired.")
		b.submit("#form-code", map[string]string{"code": code}, "code")
		b.shows("#code-error", "That code has expired. Ask for a new one below.")
		b.look("demo-code-expired")

		b.click("#resend", "code")
		code = b.outboxCode(ada)
		b.open("/demo/code", "code")
		b.submit("#form-code", map[string]string{"code": code}, "account")
		b.shows(".flash", "signed in with a code sent by email")
	}) && step("account_knows_the_authenticator", func(b *firstBrowser) {
		b.shows("#totp-state", "Not set up")
		b.absent("#revoke", "#form-mfa", "#form-txn")
		b.look("demo-account")

		b.click("#enrol", "totp")
		secret = strings.TrimSpace(b.text("#totp-secret"))
		if len(secret) < 16 {
			b.t.Fatalf("TOTP secret shown on the page is %q", secret)
		}
		b.look("demo-totp-enrol")
		b.click(`main a[href="/demo/account"]`, "account")
		b.shows("#totp-state", "Set up")
		b.absent("#enrol")
		b.look("demo-account-totp")

		b.submit("#form-mfa", map[string]string{"code": b.totpCode(secret, 0, true)}, "account")
		b.shows("#mfa-code-error", "That code is wrong or was already used")
		b.submit("#form-mfa", map[string]string{"code": b.totpCode(secret, 0, false)}, "account")
		b.shows(".flash", "Second factor added")
		b.shows("#amr", "eotp", "totp", "mfa")
		b.shows("#totp", "already used it as its second factor")
		b.absent("#form-mfa") // the factor the session used is not offered again
		b.look("demo-account-mfa")

		b.submit("#form-txn", map[string]string{"amount": "42.50"}, "txn")
		b.look("demo-txn")
		b.submit("#form-approve", map[string]string{"code": b.totpCode(secret, 30*time.Second, false)}, "account")
		b.shows("#approval", "amount", "42.50")
		b.look("demo-account-approved")
	}) && step("remove_after_confirmation", func(b *firstBrowser) {
		b.click("#revoke", "totp-remove")
		b.shows("main", "Remove your authenticator app?")
		b.look("demo-totp-remove")
		b.click("#cancel", "account")
		b.shows("#totp-state", "Set up")
		b.click("#revoke", "totp-remove")
		b.click("#confirm-remove", "account")
		b.shows(".flash", "Your authenticator app was removed.")
		b.shows("#totp-state", "Not set up")
	}) && step("back_after_sign_out", func(b *firstBrowser) {
		b.signOut()
		b.back()
		if got := b.pageClass(); got == "page-account" {
			b.t.Fatalf("Back after sign-out shows the signed-in page (from the cache)")
		}
		b.open("/demo/account", "home")
		b.shows(".flash", "Sign in first")
	}) && step("no_account_enumeration", func(b *firstBrowser) {
		// Ada exists and has no authenticator; nobody@ does not exist: the same words.
		var said []string
		for _, email := range []string{ada, "nobody@example.com"} {
			b.open("/demo", "home")
			b.submit("#form-totp", map[string]string{"email": email, "code": "123456"}, "home")
			said = append(said, b.text("#form-totp .error"))
		}
		if said[0] != said[1] {
			b.t.Errorf("a failed authenticator sign-in reads %q for an account and %q for none", said[0], said[1])
		}
		for _, s := range said {
			if l := strings.ToLower(s); strings.Contains(l, "no account") || strings.Contains(l, "not set up") || strings.Contains(l, "no authenticator") {
				b.t.Errorf("a failed sign-in says %q", s)
			}
		}
		b.look("demo-home-totp-failed")
	}) && step("lockout_and_rate_limit_in_words", func(b *firstBrowser) {
		b.open("/demo", "home")
		b.submit("#form-email", map[string]string{"email": bob}, "code")
		for range 5 {
			b.submit("#form-code", map[string]string{"code": "000000"}, "code")
		}
		b.shows("#form-code", "Too many attempts. Try again in 15 minutes.")
		b.stack.Clock.Advance(time.Minute)
		b.submit("#form-code", map[string]string{"code": "000000"}, "code")
		b.shows("#form-code", "Too many attempts. Try again in 14 minutes.")
		b.look("demo-code-locked")

		b.stack.Clock.Advance(15 * time.Minute)
		sent := 0
		for range 8 {
			b.stack.Clock.Advance(31 * time.Second)
			b.click("#resend", "code")
			if strings.Contains(b.text("#form-resend"), "Too many codes") {
				break
			}
			sent++
		}
		b.shows("#form-resend", "Too many codes were sent to this address. Try again in ")
		b.notShows("main", "rate_limit_exceeded", "retry in")
		b.look("demo-code-rate-limited")
		if sent == 0 {
			b.t.Error("no code could be sent before the rate limit")
		}
	}) && step("magic_link_twice_and_expired", func(b *firstBrowser) {
		b.open("/demo", "home")
		b.submit("#form-link", map[string]string{"email": ada}, "link")
		b.shows("#expiry", "The link expires in 10 minutes.")
		b.look("demo-link-sent")
		b.open("/dev/outbox?to="+ada, "outbox")
		link := b.attr("article.msg:first-of-type a.msg-link", "href")
		b.click("article.msg:first-of-type a.msg-link", "account")
		b.shows(".flash", "magic link")
		b.signOut()

		b.open(strings.TrimPrefix(link, b.base), "problem")
		b.shows("h1", "This sign-in link cannot be used")
		b.shows("main", "already been used", "replaced by a newer link", "expired", "How to get a new link")
		b.notShows("main", "error_code", "invalid_code")
		b.look("latch-link-used")

		b.open("/demo", "home")
		b.submit("#form-link", map[string]string{"email": ada}, "link")
		b.stack.Clock.Advance(11 * time.Minute)
		b.open("/dev/outbox?to="+ada, "outbox")
		b.click("article.msg:first-of-type a.msg-link", "problem")
		b.shows("h1", "This sign-in link cannot be used")
	}) && step("other_pages", func(b *firstBrowser) {
		b.open("/demo", "home")
		b.submit("#form-sms", map[string]string{"phone": "+15551234567"}, "code")
		b.look("demo-code-sms")
		b.open("/dev/outbox/nope", "outbox")
		b.look("outbox-missing")
		b.open("/demo/callback?code=x&state=y", "message")
		b.shows("main", "Sign-in link not accepted")
		b.look("demo-callback-refused")
		b.open("/demo/nope", "message")
		b.look("demo-not-found")
	})
}

// pageClass is the class of <body>, which names the page (page-NAME for the demo, latch-NAME
// for Latch's own pages).
func (b *firstBrowser) pageClass() string {
	b.t.Helper()
	class, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("body"), "class"))
	if err != nil {
		b.t.Fatalf("read page: %v", err)
	}
	return class.Value
}

// expectPage accepts the demo's page-NAME and Latch's latch-NAME.
func (b *firstBrowser) expectPage(want string) {
	b.t.Helper()
	if got := b.pageClass(); got != "page-"+want && got != "latch-"+want {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("at %s the browser shows %q, want the %s page; it says:\n%s", loc, got, want, b.text("body"))
	}
}

func (b *firstBrowser) open(path, want string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
	b.expectPage(want)
}

func (b *firstBrowser) click(sel, want string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	b.expectPage(want)
}

// submit fills the form's fields (an empty value clears one) and submits it with its button.
func (b *firstBrowser) submit(form string, fields map[string]string, want string) {
	b.t.Helper()
	for name, v := range fields {
		sel, _ := json.Marshal(form + ` [name="` + name + `"]`)
		val, _ := json.Marshal(v)
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.value = %s; return true })()`, sel, val)))
		if err != nil || !ok {
			b.t.Fatalf("fill %s in %s: %v (no such field?)", name, form, err)
		}
	}
	b.click(form+` button[type="submit"]`, want)
}

func (b *firstBrowser) reload(want string) {
	b.t.Helper()
	b.do("reload", chromedp.Reload())
	b.expectPage(want)
}

// back goes one step back in the tab's history, as the Back button does, and waits until
// another document is shown and complete (one restored from the back/forward cache fires no load
// event, so the wait is for the current document to lose a mark set on it).
func (b *firstBrowser) back() {
	b.t.Helper()
	hist, err := chromedp.Run(b.ctx, chromedp.NavigationEntries())
	if err != nil || hist.CurrentIndex < 1 {
		b.t.Fatalf("history: %v (%d entries)", err, len(hist.Entries))
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.latchBackMark = true`)); err != nil {
		b.t.Fatalf("mark the page: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: hist.Entries[hist.CurrentIndex-1].ID}); err != nil {
		b.t.Fatalf("back: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		state, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(window.latchBackMark ? "same " : "other ") + document.readyState`))
		if err == nil && state == "other complete" {
			return
		}
	}
	b.t.Fatal("Back did not show another page")
}

// at fails the test unless the tab's URL is base+path.
func (b *firstBrowser) at(path string) {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil || loc != b.base+path {
		b.t.Errorf("the browser is at %q, want %s", loc, b.base+path)
	}
}

// notShows fails the test if the text of sel contains any of unwanted.
func (b *firstBrowser) notShows(sel string, unwanted ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, u := range unwanted {
		if strings.Contains(got, u) {
			b.t.Errorf("%s shows %q, which it must not", sel, u)
		}
	}
}

// absent fails the test if any of sels is on the page.
func (b *firstBrowser) absent(sels ...string) {
	b.t.Helper()
	for _, sel := range sels {
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil || n != 0 {
			b.t.Errorf("the page offers %s (%d, %v), which it must not here", sel, n, err)
		}
	}
}

func (b *firstBrowser) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !v.Exists {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return v.Value
}

var outboxOTP = regexp.MustCompile(`^[0-9]{4,10}$`)

// outboxCode opens the dev outbox and reads the code of the newest message to `to`, as the
// compact list shows it.
func (b *firstBrowser) outboxCode(to string) string {
	b.t.Helper()
	b.open("/dev/outbox", "outbox")
	b.shows("article.msg:first-of-type .to", to)
	code := strings.TrimSpace(b.text("article.msg:first-of-type .otp"))
	if !outboxOTP.MatchString(code) {
		b.t.Fatalf("the outbox shows the code %q", code)
	}
	return code
}

// totpCode is the authenticator app's code at the stack's time plus skew; wrong gives a code that
// is not it.
func (b *firstBrowser) totpCode(secret string, skew time.Duration, wrong bool) string {
	b.t.Helper()
	code, err := totp.GenerateCode(secret, b.stack.Clock.Now().Add(skew))
	if err != nil {
		b.t.Fatalf("TOTP code: %v", err)
	}
	if wrong {
		return fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	}
	return code
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func (b *firstBrowser) signOut() {
	b.t.Helper()
	b.click("#signout", "home")
	b.shows(".flash", "You are signed out")
}

// settled resolves, once the page has been laid out and painted twice, to the viewport's width.
const settled = `new Promise(done => {
  let sent = false;
  const send = () => { if (!sent) { sent = true; done(window.innerWidth); } };
  requestAnimationFrame(() => requestAnimationFrame(send));
  setTimeout(send, 500);
})`

// restoreViewport ends the emulated width and waits until the page is laid out at the window's
// own width again, so that the next click lands where the element now is.
func (b *firstBrowser) restoreViewport() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		b.t.Fatalf("restore the viewport: %v", err)
	}
	b.waitWidth(shotWidths[0])
}

// waitWidth waits until the page is laid out and painted at width px.
func (b *firstBrowser) waitWidth(width int64) {
	b.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64](settled, chromedp.EvalAwaitPromise))
		if err == nil && w == width {
			return
		}
	}
	b.t.Fatalf("the page is not laid out at %d px", width)
}

// layoutCheck finds what would make the page look broken at the current width: horizontal
// scrolling, a header on more than one line, a code input not as tall as its button.
const layoutCheck = `(() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) out.push("scrolls sideways: " + doc.scrollWidth + " > " + window.innerWidth);
  const top = document.querySelector(".top");
  if (top && top.offsetHeight > 60) out.push("header is " + top.offsetHeight + "px tall (wraps)");
  document.querySelectorAll(".row").forEach(r => {
    const i = r.querySelector("input.code"), btn = r.querySelector("button");
    if (i && btn && i.offsetHeight !== btn.offsetHeight) out.push("code input " + i.offsetHeight + "px, button " + btn.offsetHeight + "px");
  });
  return out.join("; ");
})()`

// look checks the page at each width and, with LATCH_SCREENSHOTS, saves a full-page screenshot.
func (b *firstBrowser) look(name string) {
	b.t.Helper()
	defer b.restoreViewport()
	for _, w := range shotWidths {
		mobile := w < 600
		var h int64 = 800
		if mobile {
			h = 844
		}
		params := emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile}
		if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, params); err != nil {
			b.t.Fatalf("resize to %d: %v", w, err)
		}
		b.waitWidth(w)
		problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](layoutCheck))
		if err != nil {
			b.t.Fatalf("layout of %s at %d px: %v", name, w, err)
		}
		if problems != "" {
			b.t.Errorf("%s at %d px: %s", name, w, problems)
		}
		if b.shots == "" {
			continue
		}
		// A viewport as tall as the page, so that every framed email is painted.
		height, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64]("document.documentElement.scrollHeight"))
		if err != nil {
			b.t.Fatalf("page height: %v", err)
		}
		params.Height = max(height, h)
		if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, params); err != nil {
			b.t.Fatalf("resize: %v", err)
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatalf("save screenshot: %v", err)
		}
	}
}
