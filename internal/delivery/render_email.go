package delivery

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// defaultPrimaryColour is used when EmailContent.PrimaryColor is empty or invalid.
const defaultPrimaryColour = "#2563eb"

//go:embed templates/email.html.tmpl
var templateFS embed.FS

var emailTemplate = template.Must(template.ParseFS(templateFS, "templates/email.html.tmpl"))

// EmailData is what the login flow puts in an email.
type EmailData struct {
	AppName          string
	Code             string // one-time code; may be empty
	Link             string // magic link URL (http or https); may be empty
	ExpiresInMinutes int
}

// emailView is the data handed to the HTML template.
type emailView struct {
	Subject    string
	Preheader  string
	AppName    string
	Colour     template.CSS
	OnColour   template.CSS
	LinkColour template.CSS
	Logo       template.URL
	Header     string
	Body       []string
	Code       string
	Link       string
	LinkText   string
	Info       []string
	Footer     []string
}

// RenderEmail builds the HTML and plain-text login email from Mosaic-style
// content and the flow's data, filling defaults for every empty field; the
// caller sets Message.To.
func RenderEmail(c EmailContent, d EmailData) Message {
	app := firstLine(d.AppName)
	if app == "" {
		app = "Latch"
	}
	code := strings.TrimSpace(d.Code)
	link := safeLink(d.Link)

	subject := firstLine(c.Subject)
	if subject == "" {
		if code != "" {
			subject = "Your login code for " + app
		} else {
			subject = "Sign in to " + app
		}
	}
	header := orDefault(c.HeaderText, defaultHeader(app, code, link))
	body := orDefault(c.BodyText, defaultBody(app, code, link))
	info := orDefault(c.InfoText, defaultInfo(code, link, d.ExpiresInMinutes))
	footer := orDefault(c.FooterText, "This email was sent by "+app+".")
	linkText := orDefault(c.LinkText, "Sign in")
	sender := firstLine(c.SenderName)
	if sender == "" {
		sender = app
	}

	colour := defaultPrimaryColour
	if hexColour.MatchString(c.PrimaryColor) {
		colour = strings.ToLower(c.PrimaryColor)
	}
	view := emailView{
		Subject:    subject,
		Preheader:  preheader(code, header),
		AppName:    app,
		Colour:     template.CSS(colour),
		OnColour:   template.CSS(textColourOn(colour)),
		LinkColour: template.CSS(linkColour(colour)),
		Header:     header,
		Body:       lines(body),
		Code:       code,
		Link:       link,
		LinkText:   linkText,
		Info:       lines(info),
		Footer:     lines(footer),
	}
	if uri, ok := logoDataURI(c.Base64Logo); ok {
		view.Logo = template.URL(uri) // validated image data, safe in <img src>
	}

	var html bytes.Buffer
	if err := emailTemplate.Execute(&html, view); err != nil {
		// The template is fixed and its data is plain strings, so this is a
		// programming error; fall back to the text part rather than fail.
		html.Reset()
	}
	return Message{
		Channel:  ChannelEmail,
		Subject:  subject,
		Text:     renderText(header, body, code, link, linkText, info, footer),
		HTML:     html.String(),
		FromName: sender,
	}
}

// renderText builds the plain-text part carrying the same facts as the HTML.
func renderText(header, body, code, link, linkText, info, footer string) string {
	var b strings.Builder
	b.WriteString(header + "\n\n" + strings.TrimSpace(body) + "\n\n")
	if code != "" {
		fmt.Fprintf(&b, "Your code: %s\n\n", code)
	}
	if link != "" {
		fmt.Fprintf(&b, "%s: %s\n\n", linkText, link)
	}
	b.WriteString(strings.TrimSpace(info) + "\n\n-- \n" + strings.TrimSpace(footer) + "\n")
	return b.String()
}

func defaultHeader(app, code, link string) string {
	if code != "" && link == "" {
		return "Your login code"
	}
	return "Sign in to " + app
}

func defaultBody(app, code, link string) string {
	switch {
	case code != "" && link != "":
		return "Use the code below or the button to sign in to " + app + "."
	case code != "":
		return "Use the code below to sign in to " + app + "."
	default:
		return "Click the button below to sign in to " + app + "."
	}
}

func defaultInfo(code, link string, minutes int) string {
	what := "link"
	if code != "" {
		what = "code"
	}
	ignore := "If you didn't request it, you can ignore this email."
	if minutes <= 0 {
		return ignore
	}
	unit := "minutes"
	if minutes == 1 {
		unit = "minute"
	}
	return "This " + what + " expires in " + strconv.Itoa(minutes) + " " + unit + ". " + ignore
}

// preheader is the hidden inbox preview line; it never contains the code.
func preheader(code, header string) string {
	if code != "" {
		return "Your one-time login code is inside."
	}
	return header
}

// safeLink returns link if it is an absolute http(s) URL, else "" so that a
// bad link never reaches the email.
func safeLink(link string) string {
	link = strings.TrimSpace(link)
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return link
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// firstLine trims s and cuts it at the first line break (header-safe).
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// lines splits s on line breaks and drops blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
