package httpapi_test

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/net/html"

	"github.com/latch-auth/latch/internal/latchtest"
)

// rpAgent is a browser without a browser for the relying-party tests: a cookie jar, redirects
// followed by hand (so that the one to the relying party's redirect_uri is caught, not fetched),
// and Latch's sign-in pages read as HTML and their forms submitted as a person would fill them.
// Forms are found by what they ask for (autocomplete="email", autocomplete="one-time-code"), not
// by Latch's element ids, so these tests hold whatever the pages' markup.
type rpAgent struct {
	t     testing.TB
	s     *latchtest.Stack
	c     *http.Client
	pages []*rpPage // every page shown, in order
}

func newRPAgent(t testing.TB, s *latchtest.Stack) *rpAgent {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rpAgent{t: t, s: s, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// rpPage is one answer: a redirect or a page with its forms.
type rpPage struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	Text   string // the visible text, spaces collapsed
	Forms  []*rpForm
	Links  []rpField // <a href> as Value, its text as Label
}

type rpForm struct {
	Action  *url.URL
	Method  string
	Fields  []rpField // named inputs, selects and textareas, with their current values
	Buttons []rpField // submit buttons (name/value sent only for the one clicked)
}

type rpField struct {
	Name, Type, Value, Autocomplete, Label string
}

// field returns the form's first field whose autocomplete token is token.
func (f *rpForm) field(token string) *rpField {
	for i := range f.Fields {
		if slices.Contains(strings.Fields(f.Fields[i].Autocomplete), token) {
			return &f.Fields[i]
		}
	}
	return nil
}

// Location is the redirect's target, resolved.
func (p *rpPage) Location() *url.URL {
	loc := p.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := p.URL.Parse(loc)
	if err != nil {
		return nil
	}
	return u
}

func (p *rpPage) redirect() bool { return p.Status >= 300 && p.Status < 400 }

func (a *rpAgent) do(req *http.Request) *rpPage {
	a.t.Helper()
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	p := &rpPage{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		rpParsePage(a.t, p)
	}
	a.pages = append(a.pages, p)
	return p
}

// get fetches u (absolute, or a path on the stack).
func (a *rpAgent) get(u string) *rpPage {
	a.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = a.s.URL + u
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(req)
}

// post sends a form to u as a browser does.
func (a *rpAgent) post(u string, form url.Values) *rpPage {
	a.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = a.s.URL + u
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

// submit sends f with its current values, set overrides them, and button (may be nil) clicked.
func (a *rpAgent) submit(f *rpForm, set map[string]string, button *rpField) *rpPage {
	a.t.Helper()
	v := url.Values{}
	for _, fl := range f.Fields {
		if fl.Type == "checkbox" || fl.Type == "radio" {
			if fl.Value != "" && set[fl.Name] == fl.Value {
				v.Add(fl.Name, fl.Value)
			}
			continue
		}
		if s, ok := set[fl.Name]; ok {
			v.Add(fl.Name, s)
		} else {
			v.Add(fl.Name, fl.Value)
		}
	}
	if button == nil && len(f.Buttons) > 0 {
		button = &f.Buttons[0]
	}
	if button != nil && button.Name != "" {
		v.Set(button.Name, button.Value)
	}
	if strings.EqualFold(f.Method, http.MethodGet) {
		u := *f.Action
		u.RawQuery = v.Encode()
		return a.get(u.String())
	}
	return a.post(f.Action.String(), v)
}

// follow follows redirects from p until one leaves for stop (returned, not fetched) or a page is
// shown.
func (a *rpAgent) follow(p *rpPage, stop string) *rpPage {
	a.t.Helper()
	for range 20 {
		if !p.redirect() {
			return p
		}
		loc := p.Location()
		if loc == nil {
			a.t.Fatalf("%d from %s without a Location", p.Status, p.URL)
		}
		if stop != "" && strings.HasPrefix(loc.String(), stop) {
			return p
		}
		p = a.get(loc.String())
	}
	a.t.Fatalf("more than 20 redirects from %s", p.URL)
	return nil
}

// rpLogin is who signs in on the pages: an email address (the code is read from the dev outbox)
// and, when the pages ask for a second factor, the authenticator's secret.
type rpLogin struct {
	Email      string
	TOTPSecret string
}

// rpResult is where the pages sent the browser back to the relying party.
type rpResult struct {
	Params   url.Values // code, state, iss or error, error_description, state
	FormPost bool       // response_mode=form_post: the page posted them
	Pages    int        // how many pages were shown on the way (0: silent, as with SSO or prompt=none)
}

var (
	rpEmailCode = regexp.MustCompile(`\b([0-9]{6,10})\b`)
	rpSpaces    = regexp.MustCompile(`\s+`)
)

// authorize opens authURL and signs in as who on whatever pages Latch shows, until the browser
// is sent to redirectURI (by a redirect or, for form_post, a form whose action is redirectURI).
func (a *rpAgent) authorize(authURL, redirectURI string, who rpLogin) rpResult {
	a.t.Helper()
	return a.authorizeFrom(a.get(authURL), redirectURI, who)
}

func (a *rpAgent) authorizeFrom(p *rpPage, redirectURI string, who rpLogin) rpResult {
	a.t.Helper()
	shown := 0
	// Messages already there are not this sign-in's (the fixed clock can give several messages
	// one timestamp, so "newest first" cannot tell them apart).
	seen := map[string]bool{}
	for _, m := range a.s.Outbox(a.t, who.Email) {
		seen[m.ID] = true
	}
	usedStep := int64(-1)
	for range 12 {
		p = a.follow(p, redirectURI)
		if p.redirect() {
			return rpResult{Params: p.Location().Query(), Pages: shown}
		}
		if p.Status != http.StatusOK {
			a.t.Fatalf("%s answered %d instead of a sign-in page: %.400s", p.URL, p.Status, p.Text+p.Body)
		}
		// response_mode=form_post: a self-submitting form to the redirect URI.
		for _, f := range p.Forms {
			if strings.HasPrefix(f.Action.String(), redirectURI) {
				v := url.Values{}
				for _, fl := range f.Fields {
					v.Add(fl.Name, fl.Value)
				}
				return rpResult{Params: v, FormPost: true, Pages: shown}
			}
		}
		shown++
		switch f, kind := a.pageForm(p); kind {
		case "email":
			if who.Email == "" {
				a.t.Fatalf("the pages ask for an email address: %.300s", p.Text)
			}
			p = a.submit(f, map[string]string{f.field("email").Name: who.Email}, a.emailCodeButton(f))
		case "code":
			fl := f.field("one-time-code")
			if a.asksAuthenticator(p) {
				if who.TOTPSecret == "" {
					a.t.Fatalf("the pages ask for an authenticator code: %.300s", p.Text)
				}
				// One code per time step: Latch refuses a step used before (replay guard).
				now := a.s.Clock.Now()
				step := now.Unix() / 30
				if step <= usedStep {
					a.s.Clock.Advance(30 * time.Second)
					now = a.s.Clock.Now()
					step = now.Unix() / 30
				}
				usedStep = step
				code, err := totp.GenerateCode(who.TOTPSecret, now)
				if err != nil {
					a.t.Fatal(err)
				}
				p = a.submit(f, map[string]string{fl.Name: code}, nil)
				continue
			}
			var fresh []string
			for _, msg := range a.s.Outbox(a.t, who.Email) {
				if !seen[msg.ID] {
					seen[msg.ID] = true
					fresh = append(fresh, msg.Text)
				}
			}
			if len(fresh) != 1 {
				a.t.Fatalf("the pages ask for a code; %d new messages reached %s, want 1: %.300s", len(fresh), who.Email, p.Text)
			}
			m := rpEmailCode.FindStringSubmatch(fresh[0])
			if m == nil {
				a.t.Fatalf("no code in the message to %s: %q", who.Email, fresh[0])
			}
			p = a.submit(f, map[string]string{fl.Name: m[1]}, nil)
		case "choose":
			p = a.submit(f, nil, a.emailCodeButton(f))
		case "link":
			p = a.get(a.emailCodeLink(p))
		default:
			a.t.Fatalf("page %s: no form to fill (want an email, a code or a choice of method); it says: %.500s", p.URL, p.Text)
		}
	}
	a.t.Fatalf("still on Latch's pages after 12 steps; the last says: %.500s", p.Text)
	return rpResult{}
}

// pageForm finds the form a person would use on p: one with a code field, one with an email
// field, or a choice of sign-in methods (buttons).
func (a *rpAgent) pageForm(p *rpPage) (*rpForm, string) {
	for _, f := range p.Forms {
		if f.field("one-time-code") != nil {
			return f, "code"
		}
	}
	for _, f := range p.Forms {
		if f.field("email") != nil {
			return f, "email"
		}
	}
	for _, f := range p.Forms {
		if a.emailCodeButton(f) != nil {
			return f, "choose"
		}
	}
	if a.emailCodeLink(p) != "" {
		return nil, "link"
	}
	return nil, ""
}

// emailCodeLink is a "code by email" choice made as a link.
func (a *rpAgent) emailCodeLink(p *rpPage) string {
	for _, l := range p.Links {
		t := strings.ToLower(l.Label)
		if strings.Contains(t, "email") && strings.Contains(t, "code") {
			if u, err := p.URL.Parse(l.Value); err == nil {
				return u.String()
			}
		}
	}
	return ""
}

// emailCodeButton is the "code by email" choice of a method form.
func (a *rpAgent) emailCodeButton(f *rpForm) *rpField {
	for i, b := range f.Buttons {
		l := strings.ToLower(b.Label + " " + b.Value)
		if strings.Contains(l, "email") && strings.Contains(l, "code") {
			return &f.Buttons[i]
		}
	}
	return nil
}

// asksAuthenticator tells the second-factor page from the email-code page.
func (a *rpAgent) asksAuthenticator(p *rpPage) bool {
	l := strings.ToLower(p.Text)
	return strings.Contains(l, "authenticator")
}

// parsePage reads p's forms and visible text.
func rpParsePage(t testing.TB, p *rpPage) {
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatalf("%s: not HTML: %v", p.URL, err)
	}
	var text strings.Builder
	var walk func(n *html.Node, f *rpForm)
	labels := map[string]string{} // for= → label text
	var labelText func(n *html.Node) string
	labelText = func(n *html.Node) string {
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			} else if c.Type == html.ElementNode {
				b.WriteString(labelText(c))
			}
		}
		return b.String()
	}
	walk = func(n *html.Node, f *rpForm) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
			text.WriteByte(' ')
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "template":
				return
			case "form":
				action, _ := p.URL.Parse(rpAttr(n, "action"))
				if rpAttr(n, "action") == "" {
					action = p.URL
				}
				f = &rpForm{Action: action, Method: strings.ToUpper(cmp.Or(rpAttr(n, "method"), http.MethodGet))}
				p.Forms = append(p.Forms, f)
			case "a":
				if href := rpAttr(n, "href"); href != "" {
					p.Links = append(p.Links, rpField{Value: href, Label: strings.TrimSpace(rpSpaces.ReplaceAllString(labelText(n), " "))})
				}
			case "label":
				if id := rpAttr(n, "for"); id != "" {
					labels[id] = strings.TrimSpace(rpSpaces.ReplaceAllString(labelText(n), " "))
				}
			case "input", "select", "textarea", "button":
				if f != nil {
					typ := strings.ToLower(rpAttr(n, "type"))
					fl := rpField{Name: rpAttr(n, "name"), Type: typ, Value: rpAttr(n, "value"), Autocomplete: rpAttr(n, "autocomplete"), Label: rpAttr(n, "id")}
					switch {
					case n.Data == "button" && (typ == "" || typ == "submit"), n.Data == "input" && typ == "submit":
						fl.Label = strings.TrimSpace(rpSpaces.ReplaceAllString(labelText(n), " ")) + " " + rpAttr(n, "aria-label")
						f.Buttons = append(f.Buttons, fl)
					case n.Data == "button":
					case fl.Name == "":
					case n.Data == "textarea":
						fl.Value = labelText(n)
						f.Fields = append(f.Fields, fl)
					case n.Data == "select":
						for c := n.FirstChild; c != nil; c = c.NextSibling {
							if c.Type == html.ElementNode && c.Data == "option" && (fl.Value == "" || rpHasAttr(c, "selected")) {
								fl.Value = rpAttr(c, "value")
							}
						}
						f.Fields = append(f.Fields, fl)
					case typ == "checkbox" || typ == "radio":
						if rpHasAttr(n, "checked") {
							fl.Type = "" // sent as is
						}
						f.Fields = append(f.Fields, fl)
					default:
						f.Fields = append(f.Fields, fl)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	for _, f := range p.Forms {
		for i := range f.Fields {
			id := f.Fields[i].Label
			f.Fields[i].Label = labels[id]
		}
	}
	p.Text = strings.TrimSpace(rpSpaces.ReplaceAllString(text.String(), " "))
}

func rpAttr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func rpHasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

// rpUnique makes a fresh email address for one test.
func rpUnique(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, interopSeq.Add(1))
}
