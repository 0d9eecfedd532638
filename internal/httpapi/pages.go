package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
)

// Latch's own pages: the landing page at / and what a browser sees when a sign-in link it
// followed cannot be used. They are for people; every API route keeps answering JSON, and
// these pages only answer a request whose Accept header asks for HTML.

//go:embed pages/*.html
var pagesFS embed.FS

// pageCSS is the one stylesheet of Latch's pages, inlined and allowed by its hash in the
// Content-Security-Policy (the pages need no other resource and run no script). Every text
// colour reaches 4.5:1 on the backgrounds it is used on (TestPageContrast).
const pageCSS = `
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --bg: #f3f4f6; --card: #ffffff; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
a { color: var(--accent); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; word-break: break-all; }
.top { background: var(--ink); }
.top .bar { max-width: 720px; margin: 0 auto; padding: 12px 20px; display: flex; align-items: center; gap: 12px; }
.brand { color: #ffffff; font-weight: 700; font-size: 18px; text-decoration: none; letter-spacing: 0.02em; }
.tag { background: #fbbf24; color: var(--ink); border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 700; text-transform: uppercase; white-space: nowrap; }
main { max-width: 720px; margin: 0 auto; padding: 24px 20px 32px; }
h1 { font-size: 26px; line-height: 1.25; margin: 8px 0 12px; }
h2 { font-size: 18px; margin: 0 0 8px; }
p { margin: 0 0 12px; }
.lead { color: var(--muted); margin-bottom: 20px; }
.small { font-size: 14px; color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 20px; margin: 0 0 16px; }
.card p:last-child { margin-bottom: 0; }
ul.links { margin: 0 0 12px; padding-left: 20px; }
ul.links li { margin: 0 0 6px; }
table.facts { border-collapse: collapse; font-size: 14px; width: 100%; }
table.facts th, table.facts td { text-align: left; padding: 6px 8px 6px 0; border-top: 1px solid var(--line); vertical-align: top; }
table.facts th { width: 30%; white-space: nowrap; }
footer { max-width: 720px; margin: 0 auto; padding: 0 20px 32px; color: var(--muted); font-size: 13px; }
`

// pageCSP allows the inline stylesheet above and nothing else.
var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}()

var pageTemplates = parsePageTemplates()

func parsePageTemplates() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"landing", "problem"} {
		out[name] = template.Must(template.New(name).ParseFS(pagesFS, "pages/layout.html", "pages/"+name+".html"))
	}
	return out
}

// pageData is what the page templates get.
type pageData struct {
	Page    string // the template's name, a class on <body>
	Title   string
	CSS     template.CSS
	Dev     bool
	Version string
	Issuer  string
	Heading string
	Lines   []string
	Next    *pageSection
}

type pageSection struct {
	Heading string
	Lines   []string
}

// wantsHTML reports whether the request comes from a browser navigating to the URL: its Accept
// header names text/html before (or without) application/json. API clients, curl and the Go
// HTTP client send no such header and get JSON.
func wantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

// renderPage writes one of Latch's pages with status.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Page, d.CSS, d.Version, d.Issuer = name, template.CSS(pageCSS), buildVersion(), s.Issuer
	d.Dev = s.Dev && s.Web != nil
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// landing serves / : a page saying what this server is, for a browser; the same facts as JSON
// for anyone else.
func (s *Server) landing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "Only GET is served at /"})
		return
	}
	if wantsHTML(r) {
		s.renderPage(w, r, http.StatusOK, "landing", pageData{Title: "Latch"})
		return
	}
	links := map[string]string{"openapi": "/openapi.yaml", "discovery": "/.well-known/openid-configuration",
		"jwks": "/cis/oidc/jwks", "health": "/healthz", "ready": "/readyz"}
	if s.Dev && s.Web != nil {
		links["demo"], links["dev_outbox"] = "/demo", "/dev/outbox"
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": "Latch", "version": buildVersion(), "issuer": s.Issuer, "links": links})
}

// browserPage answers a browser that followed a sign-in link (an emailed magic link, a hosted
// flow's result URI) with a readable page when the link cannot be used, instead of the JSON
// error next writes; everyone else still gets that JSON. Redirects and successes pass through.
func (s *Server) browserPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !wantsHTML(r) {
			next.ServeHTTP(w, r)
			return
		}
		cw := &errorCapture{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.status == 0 {
			return // next answered (or wrote nothing, which is a 200 the server sends)
		}
		var body struct {
			Code any `json:"error_code"`
		}
		json.Unmarshal(cw.body.Bytes(), &body)
		w.Header().Del("Retry-After")
		s.renderPage(w, r, cw.status, "problem", linkProblem(cw.status, body.Code))
	})
}

// errorCapture holds back an error answer (status ≥ 400) so that browserPage can replace it;
// anything else goes straight through.
type errorCapture struct {
	http.ResponseWriter
	status int // the held-back status; 0 while nothing is held
	passed bool
	body   bytes.Buffer
}

func (c *errorCapture) WriteHeader(code int) {
	if c.status != 0 || c.passed {
		return
	}
	if code >= 400 {
		c.status = code
		return
	}
	c.passed = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *errorCapture) Write(b []byte) (int, error) {
	if c.status == 0 && !c.passed {
		c.WriteHeader(http.StatusOK)
	}
	if c.status != 0 {
		return c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

func (c *errorCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// linkProblem says in words what happened to a sign-in link and what to do next. A link's code
// is only ever looked up by its hash, so "unknown", "used", "replaced" and "expired" look the
// same here: the page names each, as a person would need to recognise theirs.
func linkProblem(status int, code any) pageData {
	switch {
	case status == http.StatusServiceUnavailable || status >= 500:
		return pageData{Title: "Sign-in is unavailable", Heading: "Sign-in is unavailable for a moment",
			Lines: []string{"Latch could not check this link just now. Nothing was used up: wait a few seconds, then open the link again."}}
	case status == http.StatusTooManyRequests:
		return pageData{Title: "Too many attempts", Heading: "Too many attempts",
			Lines: []string{"This link was opened too many times in a short while. Wait a minute, then open it again."}}
	}
	return pageData{
		Title:   "This sign-in link cannot be used",
		Heading: "This sign-in link cannot be used",
		Lines: []string{
			"A sign-in link works once, for a few minutes, and only until a newer one is sent. This one has already been used, was replaced by a newer link, has expired, or was changed when it was copied.",
			"You are not signed in, and nothing about your account has changed.",
		},
		Next: &pageSection{Heading: "How to get a new link", Lines: []string{
			"Go back to the app or website where you asked for the link and ask for a new one. Open the newest email you receive, in the same browser you asked from.",
		}},
	}
}

// ldflagsVersion finds the version `latch version` prints when it was set at build time
// (-ldflags "-X main.version=1.2.3"), which the build settings record.
var ldflagsVersion = regexp.MustCompile(`-X[= ]main\.version=([^\s'"]+)`)

// buildVersion is the version the binary was built as: the one set with -ldflags (as `latch
// version` prints it), else the module version or VCS revision the Go toolchain stamped in, else
// "dev" (go run, tests, -buildvcs=false).
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	for _, s := range info.Settings {
		if m := ldflagsVersion.FindStringSubmatch(s.Value); s.Key == "-ldflags" && m != nil {
			return m[1]
		}
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + modified
}
