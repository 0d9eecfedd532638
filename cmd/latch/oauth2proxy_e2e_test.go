package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The README's recipes for real relying parties, read from README.md so that what is documented
// is what is tested.

// readmeBlock returns the indented code block of README.md's section that contains the line
// starting with first, from that line on, with continuation lines (ending in \) joined.
func readmeBlock(t *testing.T, section, first string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "\n## "+section+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", section)
	}
	text = text[i+1:]
	if j := strings.Index(text[3:], "\n## "); j >= 0 {
		text = text[:j+3]
	}
	var lines []string
	cont := false
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "    ") {
			cont = false
			continue
		}
		l = strings.TrimSpace(l)
		if cont {
			lines[len(lines)-1] += " " + strings.TrimSuffix(l, "\\")
		} else {
			lines = append(lines, strings.TrimSuffix(l, "\\"))
		}
		cont = strings.HasSuffix(l, "\\")
	}
	for k, l := range lines {
		if strings.HasPrefix(l, first) {
			return lines[k:]
		}
	}
	t.Fatalf("README section %q has no line starting with %q", section, first)
	return nil
}

// shellWords splits a README command line as sh would for what the README uses: words, "double"
// quotes with $VAR / ${VAR} expanded from vars, 'single' quotes, and a # comment. Anything else
// ($(...), unknown variables) fails the test, so the README cannot drift into what this test
// does not run.
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) string {
		return os.Expand(s, func(name string) string {
			v, ok := vars[name]
			if !ok {
				t.Fatalf("README line %q uses $%s, which the test does not know", line, name)
			}
			return v
		})
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unclosed ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				t.Fatalf("unclosed \" in %q", line)
			}
			inner := line[i+1 : i+1+j]
			if strings.Contains(inner, "$(") || strings.Contains(inner, "`") {
				t.Fatalf("README line %q: command substitution", line)
			}
			cur.WriteString(expand(inner))
			i += j + 1
			inWord = true
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] == '{' || line[j] == '}' || 'A' <= line[j] && line[j] <= 'Z' || '0' <= line[j] && line[j] <= '9') {
				j++
			}
			if j == i+1 {
				t.Fatalf("README line %q: unsupported $ at %d", line, i)
			}
			cur.WriteString(expand(line[i:j]))
			i = j - 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// freeAddr is a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a child process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

var proxyCodeInMessage = regexp.MustCompile(`\b([0-9]{6,10})\b`)

// TestOAuth2ProxySignIn: a real oauth2-proxy (LATCH_TEST_OAUTH2_PROXY, built by .ci/run from the
// Go module proxy) configured with README's flags, in front of a tiny upstream, on a real
// `latch serve`; headless Chromium opens oauth2-proxy, is sent to Latch's sign-in pages, signs in
// with the email code from the dev outbox, and reaches the upstream, which sees the address in
// X-Forwarded-Email. Everything on 127.0.0.1; the processes end with the test.
func TestOAuth2ProxySignIn(t *testing.T) {
	bin := os.Getenv("LATCH_TEST_OAUTH2_PROXY")
	if bin == "" {
		t.Skip("LATCH_TEST_OAUTH2_PROXY is not set (the path of an oauth2-proxy v7.15.6 binary; .ci/run builds it): skipping the oauth2-proxy sign-in")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
	cliEnv(t)
	dir := t.TempDir()
	cfg := serveConfig(t, engineSetup{storage: []string{"--data-dir", dir}})
	rs := startServe(t, cfg)
	latch := rs.base()
	if !oidcAuthServed(t, latch) {
		t.Skip("GET /cis/oidc/auth (branch oidc-core) is not served yet")
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>upstream</title><body class=page-upstream><p id=hello>hello from upstream</p><p id=email>%s</p>",
			strings.NewReplacer("<", "&lt;", "&", "&amp;").Replace(r.Header.Get("X-Forwarded-Email")))
	}))
	defer upstream.Close()

	proxyAddr := freeAddr(t)
	vars := map[string]string{"PROXY_ADDR": proxyAddr, "PROXY": "http://" + proxyAddr, "LATCH": latch, "LATCH_HOST": strings.TrimPrefix(latch, "http://"),
		"UPSTREAM": upstream.URL + "/", "COOKIE_SECRET": "0123456789abcdef0123456789abcdef"}

	// The application, as README registers it (against the running server's data directory).
	create := shellWords(t, readmeBlock(t, "Sign in to oauth2-proxy with Latch", "./latch app create")[0], vars)
	out, err := runCLI(t, append(create[1:], "--data-dir", dir)...)
	if err != nil {
		t.Fatalf("%v: %v", create, err)
	}
	creds := decodeExactly(t, out, "app_id", "client_id", "client_secret")
	vars["CLIENT_ID"], vars["CLIENT_SECRET"] = creds["client_id"], creds["client_secret"]

	// oauth2-proxy with README's flags.
	block := readmeBlock(t, "Sign in to oauth2-proxy with Latch", "LATCH=")
	var args []string
	for _, l := range block {
		if strings.HasPrefix(l, "oauth2-proxy ") {
			args = shellWords(t, l, vars)[1:]
		}
	}
	if len(args) < 5 {
		t.Fatalf("README's oauth2-proxy command not found in %q", block)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs lockedBuffer
	proxy := exec.CommandContext(ctx, bin, args...)
	proxy.Stdout, proxy.Stderr = &logs, &logs
	proxy.WaitDelay = 5 * time.Second
	if err := proxy.Start(); err != nil {
		t.Fatalf("start oauth2-proxy: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- proxy.Wait() }()
	defer func() {
		proxy.Process.Kill()
		<-exited
		if t.Failed() {
			l := logs.String()
			t.Logf("oauth2-proxy %q said (last 4000 bytes):\n%s", args, l[max(0, len(l)-4000):])
		}
	}()
	waitHTTP(t, "http://"+proxyAddr+"/ping", exited)

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	const email = "proxy.user@example.com"
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+proxyAddr+"/")); err != nil {
		t.Fatalf("open oauth2-proxy: %v", err)
	}
	if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.HasPrefix(loc, latch+"/") {
		t.Fatalf("oauth2-proxy did not send the browser to Latch: at %s", loc)
	}
	signInOnPages(t, tab, latch, email, func() string {
		var msgs []struct {
			Text string `json:"text"`
		}
		status, _, body := demoGet(t, latch+"/dev/outbox.json?to="+email)
		if status != http.StatusOK || json.Unmarshal([]byte(body), &msgs) != nil || len(msgs) == 0 {
			t.Fatalf("no message to %s in the dev outbox: %d %s", email, status, body)
		}
		m := proxyCodeInMessage.FindStringSubmatch(msgs[0].Text)
		if m == nil {
			t.Fatalf("no code in %q", msgs[0].Text)
		}
		return m[1]
	})
	loc, _ := chromedp.Run(tab, chromedp.Location())
	if !strings.HasPrefix(loc, "http://"+proxyAddr+"/") {
		t.Fatalf("after signing in the browser is at %s, want oauth2-proxy", loc)
	}
	hello, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#hello")))
	if err != nil || hello != "hello from upstream" {
		body, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("the upstream's page is not shown (%v): %s", err, body)
	}
	if got, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#email"))); got != email {
		t.Errorf("upstream saw X-Forwarded-Email %q, want %q", got, email)
	}

	// Sign out of both with README's URL: oauth2-proxy's sign-out, then Latch's logout.
	readmeOut := readmeBlock(t, "Sign in to oauth2-proxy with Latch", "$PROXY/oauth2/sign_out")[0]
	signOut := strings.Replace(shellWords(t, readmeOut, vars)[0], url.QueryEscape("http://127.0.0.1:8080"), url.QueryEscape(latch), 1)
	if !strings.Contains(signOut, url.QueryEscape(latch+"/")) {
		t.Fatalf("README's sign-out URL %q does not name Latch's default address", readmeOut)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(signOut)); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if h, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1"))); err != nil || !strings.Contains(h, "Sign out?") {
		t.Fatalf("oauth2-proxy's sign-out led to %q (%v), want Latch asking to confirm", h, err)
	}
	if _, err := chromedp.Run(tab, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("form button")))); err != nil {
		t.Fatalf("confirm the sign-out: %v", err)
	}
	if h, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1"))); err != nil || !strings.Contains(h, "signed out") {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		t.Fatalf("after signing out the browser is at %s showing %q (%v), want Latch's signed-out page", loc, h, err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+proxyAddr+"/")); err != nil {
		t.Fatal(err)
	}
	step, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(pageStepJS, latch+"/")))
	if err != nil || step != "email" {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		t.Errorf("after signing out, oauth2-proxy's page led to %s (%q, %v), want Latch asking for an email address again", loc, step, err)
	}
}

// oidcAuthServed tells whether the server's discovery document lists an authorization endpoint.
func oidcAuthServed(t *testing.T, base string) bool {
	t.Helper()
	_, _, body := demoGet(t, base+"/.well-known/openid-configuration")
	var d map[string]any
	json.Unmarshal([]byte(body), &d)
	s, _ := d["authorization_endpoint"].(string)
	if s == "" {
		return false
	}
	status, _, _ := demoGet(t, s)
	return status != http.StatusNotFound
}

// waitHTTP waits until url answers (any status), failing if the process exits first.
func waitHTTP(t *testing.T, url string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("oauth2-proxy exited before it listened: %v", err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 30 s", url)
}

// pageStep is what a sign-in page asks for, found by the standard autocomplete tokens rather
// than Latch's markup: "code" (one-time-code), "email", "choose" (a method choice with a
// code-by-email button), or "done" when the browser has left Latch.
const pageStepJS = `(() => {
  if (!location.href.startsWith(%q)) return "done";
  if (document.querySelector('input[autocomplete~="one-time-code"]')) return "code";
  if (document.querySelector('input[autocomplete~="email"]')) return "email";
  const b = [...document.querySelectorAll('button, input[type=submit]')].find(b => /e-?mail/i.test(b.textContent + ' ' + b.value) && /code/i.test(b.textContent + ' ' + b.value));
  if (b) { b.setAttribute('data-latch-test', 'choose'); return "choose"; }
  return "none";
})()`

// signInOnPages fills Latch's sign-in pages in the browser tab as a person would until the
// browser leaves Latch: chooses the email code, types the address, then the code (from code()).
func signInOnPages(t *testing.T, tab context.Context, latch, email string, code func() string) {
	t.Helper()
	// fillAndSubmit types value into sel and presses its form's button whose text matches
	// button (a regular expression; the form's first button when none does), as a person would.
	fillAndSubmit := func(sel, value, button string) {
		t.Helper()
		js := fmt.Sprintf(`(() => {
  const i = document.querySelector(%q);
  i.value = %q;
  const buttons = [...i.form.querySelectorAll('button:not([type=button]), input[type=submit]')];
  const b = buttons.find(b => new RegExp(%q, 'i').test(b.textContent + ' ' + b.value)) || buttons[0];
  i.form.requestSubmit(b);
  return true
})()`, sel, value, button)
		if _, err := chromedp.Run(tab, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Evaluate[bool](js))); err != nil {
			t.Fatalf("submit %s: %v", sel, err)
		}
	}
	for range 8 {
		step, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(pageStepJS, latch+"/")))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		switch step {
		case "done":
			return
		case "code":
			fillAndSubmit(`input[autocomplete~="one-time-code"]`, code(), "continue|verify|sign in")
		case "email":
			fillAndSubmit(`input[autocomplete~="email"]`, email, "code")
		case "choose":
			if _, err := chromedp.Run(tab, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`[data-latch-test="choose"]`)))); err != nil {
				t.Fatalf("choose the email code: %v", err)
			}
		default:
			loc, _ := chromedp.Run(tab, chromedp.Location())
			text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("at %s nothing to fill in; the page says: %s", loc, text)
		}
	}
	t.Fatal("still on Latch's pages after 8 steps")
}

// TestReadmeGrafana checks README's grafana.ini against a running Latch: every URL Grafana is
// given is the endpoint the discovery document names (with README's example issuer replaced by
// the server's), the scopes are supported, the email attribute is a claim Latch issues, and
// the sign-out URL is the end-session endpoint with a post_logout_redirect_uri that README
// registers as a redirect URI of the Grafana application.
func TestReadmeGrafana(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	rs := startServe(t, serveConfig(t, engineSetup{storage: []string{"--data-dir", dir}}))
	base := rs.base()
	_, _, body := demoGet(t, base+"/.well-known/openid-configuration")
	var d map[string]any
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	const example = "https://latch.example.com"
	ini := map[string]string{}
	section := ""
	for _, l := range readmeBlock(t, "Sign in to Grafana with Latch", "[server]") {
		switch {
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		case strings.HasPrefix(l, "#"), l == "":
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("grafana.ini line %q", l)
			}
			ini[section+"."+strings.TrimSpace(k)] = strings.ReplaceAll(strings.TrimSpace(v), example, base)
		}
	}
	for key, field := range map[string]string{"auth.generic_oauth.auth_url": "authorization_endpoint",
		"auth.generic_oauth.token_url": "token_endpoint", "auth.generic_oauth.api_url": "userinfo_endpoint"} {
		if ini[key] == "" || ini[key] != d[field] {
			t.Errorf("README's %s = %q, discovery's %s = %v", key, ini[key], field, d[field])
		}
	}
	supported := func(field string) []string {
		var out []string
		raw, _ := d[field].([]any)
		for _, v := range raw {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	for _, sc := range strings.Fields(ini["auth.generic_oauth.scopes"]) {
		if !slices.Contains(supported("scopes_supported"), sc) {
			t.Errorf("README's scope %q is not in scopes_supported %v", sc, supported("scopes_supported"))
		}
	}
	if ini["auth.generic_oauth.use_pkce"] != "true" || !slices.Contains(supported("code_challenge_methods_supported"), "S256") {
		t.Errorf("use_pkce %q, code_challenge_methods_supported %v", ini["auth.generic_oauth.use_pkce"], d["code_challenge_methods_supported"])
	}
	if a := ini["auth.generic_oauth.email_attribute_path"]; !slices.Contains(supported("claims_supported"), a) {
		t.Errorf("email_attribute_path %q is not in claims_supported", a)
	}
	out, err := url.Parse(ini["auth.signout_redirect_url"])
	if err != nil || out.Scheme+"://"+out.Host+out.Path != d["end_session_endpoint"] {
		t.Errorf("signout_redirect_url %q is not the end_session_endpoint %v", ini["auth.signout_redirect_url"], d["end_session_endpoint"])
	}
	create := strings.Join(readmeBlock(t, "Sign in to Grafana with Latch", "./latch app create")[0:1], " ")
	post := out.Query().Get("post_logout_redirect_uri")
	if post == "" || !strings.Contains(create, "--redirect-uri "+post+" ") {
		t.Errorf("post_logout_redirect_uri %q is not registered by README's %q", post, create)
	}
	if cb := strings.TrimSuffix(ini["server.root_url"], "/") + "/login/generic_oauth"; !strings.Contains(create, "--redirect-uri "+cb+" ") {
		t.Errorf("Grafana's callback %s is not registered by README's %q", cb, create)
	}
}
