package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages need. BaseURL is where Latch's API answers (the demo calls it over
// HTTP like any customer backend); ClientID and ClientSecret are the demo's own client.
type Config struct {
	BaseURL      string
	ClientID     string
	ClientSecret string
	Outbox       store.Outbox
	Log          *slog.Logger
	HTTPClient   *http.Client
	// Now is the demo's clock (nil: time.Now). A test that runs Latch on a fixed clock gives the
	// demo the same one, so that code lifetimes and waits agree.
	Now func() time.Time
}

// handler serves the outbox and demo pages.
type handler struct {
	outbox   store.Outbox
	log      *slog.Logger
	latch    *latchClient
	ids      *verifier
	sessions *sessions
	pages    map[string]*template.Template
	secure   bool   // cookies get Secure when BaseURL is https
	callback string // the demo's redirect_uri
	now      func() time.Time
}

// New returns the handler for /dev/outbox, /dev/outbox/{id} and /demo/...
func New(cfg Config) http.Handler {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	lc := &latchClient{base: base, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, http: client, log: log, now: now}
	h := &handler{
		outbox:   cfg.Outbox,
		log:      log,
		latch:    lc,
		ids:      &verifier{latch: lc, now: now},
		sessions: newSessions(maxSessions, sessionTTL, now),
		pages:    parsePages(),
		callback: base + "/demo/callback",
		now:      now,
	}
	if u, err := url.Parse(base); err == nil && u.Scheme == "https" {
		h.secure = true
	}
	return http.NewCrossOriginProtection().Handler(h.routes())
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/demo/static/", http.FileServerFS(static))
	mux.Handle("GET /demo/static/", cacheFor(time.Hour, files))

	mux.HandleFunc("GET /dev/outbox", h.outboxList)
	mux.HandleFunc("GET /dev/outbox/{$}", h.outboxList)
	mux.HandleFunc("GET /dev/outbox/{id}", h.outboxMessage)

	mux.HandleFunc("GET /demo", h.home)
	mux.HandleFunc("GET /demo/{$}", h.home)
	mux.HandleFunc("POST /demo/email", h.csrf(h.startOTP("email")))
	mux.HandleFunc("POST /demo/sms", h.csrf(h.startOTP("sms")))
	mux.HandleFunc("GET /demo/code", h.codeForm)
	mux.HandleFunc("POST /demo/code", h.csrf(h.submitCode))
	mux.HandleFunc("POST /demo/code/resend", h.csrf(h.resendCode))
	mux.HandleFunc("POST /demo/link", h.csrf(h.startLink))
	mux.HandleFunc("GET /demo/link", h.linkSent)
	mux.HandleFunc("GET /demo/callback", h.linkCallback)
	mux.HandleFunc("GET /demo/signin", h.signInOIDC)
	mux.HandleFunc("GET /demo/password", h.passwordForm)
	mux.HandleFunc("POST /demo/password", h.csrf(h.passwordSignIn))
	mux.HandleFunc("GET /demo/password/code", h.passwordCodeForm)
	mux.HandleFunc("POST /demo/password/code", h.csrf(h.passwordCode))
	mux.HandleFunc("POST /demo/totp/signin", h.csrf(h.totpSignIn))
	mux.HandleFunc("GET /demo/account", h.account)
	mux.HandleFunc("POST /demo/totp", h.csrf(h.totpEnrol))
	mux.HandleFunc("GET /demo/totp", h.totpShow)
	mux.HandleFunc("POST /demo/totp/confirm", h.csrf(h.totpConfirm))
	mux.HandleFunc("POST /demo/recovery", h.csrf(h.recoveryNew))
	mux.HandleFunc("GET /demo/recovery", h.recoveryShow)
	mux.HandleFunc("POST /demo/mfa", h.csrf(h.mfa))
	mux.HandleFunc("POST /demo/txn", h.csrf(h.txnStart))
	mux.HandleFunc("GET /demo/txn", h.txnShow)
	mux.HandleFunc("POST /demo/txn/approve", h.csrf(h.txnApprove))
	mux.HandleFunc("GET /demo/totp/remove", h.totpRemoveForm)
	mux.HandleFunc("POST /demo/totp/revoke", h.csrf(h.totpRevoke))
	mux.HandleFunc("POST /demo/signout", h.csrf(h.signOut))
	mux.HandleFunc("/", h.notFound)
	return mux
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets; Data is the page's own view.
type page struct {
	Page  string // the template's name, a class on <body> (tests and CSS can tell pages apart)
	Title string
	Nav   string // "demo" or "outbox": which header link is current
	CSRF  string
	Flash string
	Error string
	Data  any
}

// parsePages parses each page template together with the layout.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := make(map[string]*template.Template)
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New(name).ParseFS(templateFS, "templates/layout.html", n))
	}
	return pages
}

// Content-Security-Policy of the pages: no script anywhere. The outbox allows inline styles and
// any image because message HTML (framed, inheriting this policy) is styled inline.
const (
	cspDemo   = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	cspOutbox = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data: http: https:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'"
)

// render writes a page. It renders into a buffer first so that a template failure is a clean
// 500, never half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("web: no such page template", "page", name)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	p.Page = name
	p.CSRF = h.csrfToken(w, r)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("web: render page", "page", name, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if p.Nav == "outbox" {
		hd.Set("Content-Security-Policy", cspOutbox)
	} else {
		hd.Set("Content-Security-Policy", cspDemo)
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// message renders a page that only says something (an error, a refused form).
func (h *handler) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	h.render(w, r, status, "message", page{Title: title, Nav: "demo", Error: text})
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
}

// seeOther redirects after a successful POST (post/redirect/get).
func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}
