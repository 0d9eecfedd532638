package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// browserAccept is what Chromium sends when it navigates to a URL.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func pagesStack(t *testing.T) *latchtest.Stack {
	t.Helper()
	return latchtest.Start(t, storetest.Engines()[0].DSN(t), latchtest.Options{})
}

// TestLandingPage: / says what the server is, as a page for a browser and as JSON for anyone else.
func TestLandingPage(t *testing.T) {
	s := pagesStack(t)
	r := s.Do(t, http.MethodGet, "/", "", nil, "Accept", browserAccept)
	body := string(r.Body)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / from a browser = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{"This is a Latch server", `href="/openapi.yaml"`, `href="/.well-known/openid-configuration"`,
		`href="/demo"`, `href="/dev/outbox"`, `<code id="issuer">` + s.URL + `</code>`, `<code id="version">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the landing page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("the landing page runs script or has no strict CSP: %s", r.Header.Get("Content-Security-Policy"))
	}

	r = s.Do(t, http.MethodGet, "/", "", nil)
	var info struct {
		Name   string            `json:"name"`
		Issuer string            `json:"issuer"`
		Links  map[string]string `json:"links"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &info) != nil || info.Name != "Latch" || info.Links["openapi"] != "/openapi.yaml" ||
		info.Links["discovery"] != "/.well-known/openid-configuration" || info.Links["demo"] != "/demo" || info.Issuer != s.URL {
		t.Errorf("GET / from an API client = %d %s", r.Status, r.Body)
	}
	if r = s.Do(t, http.MethodPost, "/", "", nil); r.Status != http.StatusMethodNotAllowed || r.String("error_code") != "method_not_allowed" {
		t.Errorf("POST / = %d %s, want 405 JSON", r.Status, r.Body)
	}
	// Every API path stays JSON, for a browser too, an unknown one included.
	for _, p := range []string{"/cis/v1/nope", "/oidc/nope", "/.well-known/nope", "/nope"} {
		r := s.Do(t, http.MethodGet, p, "", nil, "Accept", browserAccept)
		if r.Status != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s from a browser = %d %s, want the API's 404 JSON", p, r.Status, r.Header.Get("Content-Type"))
		}
	}
}

// TestLinkPages: a sign-in link that cannot be used answers a browser with a readable page and
// an API client with the JSON error, whether it was used, replaced, expired or tampered with.
func TestLinkPages(t *testing.T) {
	s := pagesStack(t)
	tok := s.ClientToken(t)
	redirect := s.App.RedirectURIs[0]
	sendLink := func(email string) string {
		t.Helper()
		r := s.Do(t, http.MethodPost, "/cis/v1/auth/links/email", tok, map[string]any{"email": email, "redirect_uri": redirect, "create_new_user": true})
		if r.Status != http.StatusOK {
			t.Fatalf("send link: %d %s", r.Status, r.Body)
		}
		msgs := s.Outbox(t, email)
		link := regexp.MustCompile(`https?://\S+redirect\?code=[A-Za-z0-9_-]+`).FindString(msgs[0].Text)
		if link == "" {
			t.Fatalf("no link in %q", msgs[0].Text)
		}
		return link
	}
	codeOf := func(t *testing.T, link string) string {
		t.Helper()
		r := s.Do(t, http.MethodGet, link, "", nil, "Accept", browserAccept)
		if r.Status != http.StatusFound {
			t.Fatalf("a fresh link answers %d %s, want 302", r.Status, r.Body)
		}
		u, _ := url.Parse(r.Header.Get("Location"))
		return u.Query().Get("code")
	}

	used := sendLink("used@example.com")
	code := codeOf(t, used)
	ex := s.Form(t, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, s.ClientID, s.ClientSecret)
	if ex.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", ex.Status, ex.Body)
	}
	replaced := sendLink("replaced@example.com")
	sendLink("replaced@example.com")
	expired := sendLink("expired@example.com")
	s.Clock.Advance(11 * time.Minute)

	for name, link := range map[string]string{
		"used":           used,
		"replaced":       replaced,
		"expired":        expired,
		"tampered":       used[:len(used)-3] + "xyz",
		"no code":        s.URL + hosted.RedirectPath,
		"backend link":   s.URL + magiclink.RedirectPath + "?code=nope",
		"code truncated": used[:len(used)-10],
	} {
		t.Run(name, func(t *testing.T) {
			r := s.Do(t, http.MethodGet, link, "", nil, "Accept", browserAccept)
			body := string(r.Body)
			if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("browser: %d %s %s", r.Status, r.Header.Get("Content-Type"), body)
			}
			for _, want := range []string{"<h1>This sign-in link cannot be used</h1>", "already been used", "replaced by a newer link",
				"expired", "How to get a new link", `class="brand"`} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if strings.Contains(body, "error_code") || strings.Contains(body, "invalid_code") {
				t.Error("the page shows the API's error")
			}
			if r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("headers %v", r.Header)
			}

			api := s.Do(t, http.MethodGet, link, "", nil)
			if api.Status != http.StatusBadRequest || !strings.HasPrefix(api.Header.Get("Content-Type"), "application/json") || api.JSON()["error_code"] == nil {
				t.Errorf("API client: %d %s %s, want the 400 JSON error", api.Status, api.Header.Get("Content-Type"), api.Body)
			}
			jsonFirst := s.Do(t, http.MethodGet, link, "", nil, "Accept", "application/json, text/html")
			if !strings.HasPrefix(jsonFirst.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Accept: application/json, text/html got %s", jsonFirst.Header.Get("Content-Type"))
			}
		})
	}
}

// TestPageContrast: every text colour of Latch's pages reaches 4.5:1 on every background it is
// used on (read from the stylesheet the landing page really serves).
func TestPageContrast(t *testing.T) {
	s := pagesStack(t)
	body := string(s.Do(t, http.MethodGet, "/", "", nil, "Accept", browserAccept).Body)
	css := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if css == nil {
		t.Fatal("no stylesheet in the page")
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6})`).FindAllStringSubmatch(css[1], -1) {
		vars[m[1]] = m[2]
	}
	pairs := []struct{ what, fg, bg string }{
		{"text on page", vars["ink"], vars["bg"]}, {"text on card", vars["ink"], vars["card"]},
		{"muted on page", vars["muted"], vars["bg"]}, {"muted on card", vars["muted"], vars["card"]},
		{"link on page", vars["accent"], vars["bg"]}, {"link on card", vars["accent"], vars["card"]},
		{"brand on header", "#ffffff", vars["ink"]}, {"tag", vars["ink"], "#fbbf24"},
	}
	checked := map[string]bool{vars["line"]: true}
	for _, p := range pairs {
		checked[p.fg], checked[p.bg] = true, true
		if c := delivery.Contrast(p.fg, p.bg); c < delivery.MinContrast {
			t.Errorf("%s: %s on %s is %.2f:1, want ≥ %.1f", p.what, p.fg, p.bg, c, delivery.MinContrast)
		}
	}
	for _, c := range regexp.MustCompile(`#[0-9a-f]{6}`).FindAllString(css[1], -1) {
		if !checked[c] {
			t.Errorf("the pages use %s, which no contrast pair checks", c)
		}
	}
}
