package signin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latch-auth/latch/internal/app"
)

//go:embed templates/*.html templates/signin.css templates/form_post.js
var files embed.FS

var baseCSS = mustRead("templates/signin.css")

// formPostScript submits the form_post page's form; it is served as a file (no inline script).
var formPostScript = mustRead("templates/form_post.js")

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var templates = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{stepStart, stepCode, stepLink, stepTOTP, stepRecovery, stepNewPassword, "message", "form_post", "logout"} {
		out[name] = template.Must(template.New(name).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

// pageData is what a page shows.
type pageData struct {
	Page     string // a class on <body>: page-signin-start, page-signin-code, ...
	Title    string
	AppName  string
	Logo     string
	CSS      template.CSS
	Flow     string
	Action   string
	Step     string
	EmailOTP bool
	Link     bool
	SMS      bool
	Email    string
	Phone    string
	Errors   map[string]string
	Notice   string
	Sent     string // where the code or link went
	Wait     int    // seconds before a new code may be asked for
	Digits   int
	Heading  string
	Lines    []string
	Target   string            // form_post: the redirect URI
	Params   map[string]string // form_post: the fields
	Cancel   bool
	Confirm  string // the sign-out confirmation's token
	Signup   bool   // a new address signs up
	Password bool   // the app offers the password method
	Username string // the password form's username field
	Second   bool   // the code page is the second factor of a password sign-in
	MinLen   int    // the app's minimum password length (the new-password page)
}

// luminance is the WCAG relative luminance of a #rrggbb colour.
func luminance(hex string) float64 {
	if len(hex) == 4 {
		hex = "#" + strings.Repeat(hex[1:2], 2) + strings.Repeat(hex[2:3], 2) + strings.Repeat(hex[3:4], 2)
	}
	ch := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(1) + 0.7152*ch(3) + 0.0722*ch(5)
}

// Contrast is the WCAG contrast ratio of two colours.
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// defaultBrand is the buttons' colour when the app sets none.
const defaultBrand = "#1d4ed8"

// brandCSS is the stylesheet with the app's colour: the button text is white or black, whichever
// contrasts more (one of them always reaches 4.58:1), and the accent used for text on white is
// the brand colour only when it reaches 4.5:1 there.
func brandCSS(a app.App) string {
	brand := a.Settings.BrandPrimaryColor
	if brand == "" {
		brand = defaultBrand
	}
	on := "#ffffff"
	if Contrast(brand, "#000000") > Contrast(brand, "#ffffff") {
		on = "#000000"
	}
	accent := brand
	if Contrast(brand, "#ffffff") < 4.5 {
		accent = defaultBrand
	}
	return fmt.Sprintf(":root { --brand: %s; --on-brand: %s; --accent: %s; }\n", brand, on, accent) + baseCSS
}

// headers sets the security headers of a page: a Content-Security-Policy that allows its one
// stylesheet (by hash), the form_post script file, the app's logo, forms to Latch and to the
// app's redirect URI only, and no framing.
func (p *Provider) headers(w http.ResponseWriter, css, logo, redirect string) {
	sum := sha256.Sum256([]byte(css))
	img := "'self' data:"
	if u, err := url.Parse(logo); logo != "" && err == nil && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	form := "'self'"
	if u, err := url.Parse(redirect); redirect != "" && err == nil && u.Host != "" {
		form += " " + u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+
		"'; script-src 'self'; img-src "+img+"; form-action "+form+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func (p *Provider) write(w http.ResponseWriter, r *http.Request, name string, status int, d pageData, redirect string) {
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		p.Log.Error("render sign-in page", "page", name, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	p.headers(w, string(d.CSS), d.Logo, redirect)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func brand(a app.App, d *pageData) {
	d.AppName, d.Logo = a.Name, a.Settings.BrandLogoURL
	d.CSS = template.CSS(brandCSS(a))
}

// render shows the page of the flow's step.
func (p *Provider) render(w http.ResponseWriter, r *http.Request, a app.App, f flow, status int, d pageData) {
	sealed, err := p.seal(f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	brand(a, &d)
	d.Flow, d.Action, d.Step, d.Cancel = sealed, LoginPath, f.Step, true
	d.EmailOTP = a.Settings.SignsInWith(app.SignInEmailOTP)
	d.Link = a.Settings.SignsInWith(app.SignInMagicLink)
	d.SMS = a.Settings.SignsInWith(app.SignInSMS)
	d.Password = p.Passwords != nil && a.Settings.SignsInWith(app.SignInPassword)
	d.Email, d.Phone, d.Second, d.MinLen = f.Email, f.Phone, f.Second, a.Settings.PasswordMinLength
	if d.Username = f.Username; d.Username == "" {
		d.Username = f.Email // login_hint's email prefills the username field too
	}
	d.Signup = a.AllowSignup && f.Req.Signup
	d.Digits = a.Settings.OTPLength
	if f.Method == app.SignInSMS {
		d.Sent = f.Phone
	} else {
		d.Sent = f.Email
	}
	if f.Second {
		// The address was not typed by this person, who has proved only a password so far:
		// enough of it to recognise, not enough to learn it.
		d.Sent = maskAddress(d.Sent)
	}
	if left := p.resendWait(f); f.SentAt > 0 && left > 0 {
		d.Wait = int(math.Ceil(left.Seconds()))
	}
	switch f.Step {
	case stepStart:
		d.Title = "Sign in"
	case stepCode:
		d.Title = "Enter your code"
	case stepLink:
		d.Title = "Check your email"
	case stepTOTP:
		d.Title, d.Digits = "Two-step verification", a.Settings.TOTPDigits
	case stepRecovery:
		d.Title = "Use a recovery code"
	case stepNewPassword:
		d.Title = "Choose a new password"
	default:
		d.Title = "Sign in"
	}
	name := f.Step
	if templates[name] == nil {
		name = stepStart
	}
	d.Page = "signin-" + name
	p.write(w, r, name, status, d, f.Req.RedirectURI)
}

// problem shows a page that explains what went wrong and what to do.
func (p *Provider) problem(w http.ResponseWriter, r *http.Request, status int, heading string, lines ...string) {
	d := pageData{Page: "signin-message", Title: heading, Heading: heading, Lines: lines, AppName: "Latch", CSS: template.CSS(brandCSS(app.App{}))}
	p.write(w, r, "message", status, d, "")
}

// formPost answers with the form_post page: a form of params aimed at the redirect URI, which a
// script file submits at once and a button submits without JavaScript.
func (p *Provider) formPost(w http.ResponseWriter, r *http.Request, a app.App, q authRequest, params url.Values) {
	d := pageData{Page: "signin-form-post", Title: "Returning to " + a.Name, Target: q.RedirectURI, Params: map[string]string{}}
	for k := range params {
		d.Params[k] = params.Get(k)
	}
	brand(a, &d)
	p.write(w, r, "form_post", http.StatusOK, d, q.RedirectURI)
}

// FormPostScript serves the script that submits the form_post page.
func (p *Provider) FormPostScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte(formPostScript))
}

// maskAddress shows an email address as its first character and its domain (a•••@example.com)
// and a phone number as its last four digits (•••0123).
func maskAddress(s string) string {
	const dots = "\u2022\u2022\u2022"
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		first, _ := utf8.DecodeRuneInString(s)
		return string(first) + dots + s[at:]
	}
	if len(s) > 4 {
		return dots + s[len(s)-4:]
	}
	return dots
}
