package delivery

import (
	"html"
	"strings"
	"testing"
)

func TestRenderEmail(t *testing.T) {
	pngB64 := b64(testImage(t, "png"))
	tests := []struct {
		name       string
		content    EmailContent
		data       EmailData
		subject    string
		fromName   string
		htmlHas    []string
		htmlHasNot []string
		textHas    []string
		textHasNot []string
		logo       string // data URI the <img> must carry
	}{
		{
			name:     "otp defaults",
			data:     EmailData{AppName: "Acme", Code: "482913", ExpiresInMinutes: 10},
			subject:  "Your login code for Acme",
			fromName: "Acme",
			htmlHas: []string{"482913", "#2563eb", "Your login code", "Use the code below to sign in to Acme.",
				"This code expires in 10 minutes. If you didn&#39;t request it, you can ignore this email.",
				"monospace", `<meta name="viewport"`, `role="presentation"`},
			htmlHasNot: []string{"<img", "<a href"},
			textHas:    []string{"Your code: 482913", "This code expires in 10 minutes. If you didn't request it, you can ignore this email."},
		},
		{
			name:       "link defaults",
			data:       EmailData{AppName: "Acme", Link: "https://login.acme.test/magic?t=abc&x=1", ExpiresInMinutes: 15},
			subject:    "Sign in to Acme",
			fromName:   "Acme",
			htmlHas:    []string{`href="https://login.acme.test/magic?t=abc&amp;x=1"`, ">Sign in</a>", "This link expires in 15 minutes."},
			htmlHasNot: []string{"monospace;font-size:34px"},
			textHas:    []string{"Sign in: https://login.acme.test/magic?t=abc&x=1", "This link expires in 15 minutes."},
			textHasNot: []string{"Your code"},
		},
		{
			name:     "code and link together",
			data:     EmailData{AppName: "Acme", Code: "111222", Link: "https://acme.test/l", ExpiresInMinutes: 1},
			subject:  "Your login code for Acme",
			fromName: "Acme",
			htmlHas:  []string{"111222", `href="https://acme.test/l"`, "This code expires in 1 minute."},
			textHas:  []string{"Your code: 111222", "Sign in: https://acme.test/l"},
		},
		{
			name: "custom content",
			content: EmailContent{
				Subject: "Welcome back", PrimaryColor: "#1A73E8", Base64Logo: pngB64,
				HeaderText: "Hello there", BodyText: "Line one\nLine two", LinkText: "Open Acme",
				InfoText: "Custom info", FooterText: "Acme Inc, 1 Road", SenderName: "Acme Security",
			},
			data:     EmailData{AppName: "Acme", Link: "https://acme.test/l"},
			subject:  "Welcome back",
			fromName: "Acme Security",
			logo:     "data:image/png;base64," + pngB64,
			htmlHas: []string{"#1a73e8", `src="data:image/png;base64,`, "Hello there",
				">Line one</p>", ">Line two</p>", ">Open Acme</a>", "Custom info", "Acme Inc, 1 Road"},
			htmlHasNot: []string{"#2563eb"},
			textHas:    []string{"Hello there", "Line one\nLine two", "Open Acme: https://acme.test/l", "Custom info", "Acme Inc, 1 Road"},
		},
		{
			name: "user text is escaped",
			content: EmailContent{
				HeaderText: `<img src=x onerror=alert(1)>`, BodyText: `<script>alert("x")</script>`,
				LinkText: `"><b>bold</b>`, SenderName: "Evil",
			},
			data:       EmailData{AppName: `<Acme & Co>`, Link: "https://acme.test/l", Code: "909090"},
			subject:    "Your login code for <Acme & Co>",
			fromName:   "Evil",
			htmlHas:    []string{"&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;bold&lt;/b&gt;", "&lt;Acme &amp; Co&gt;"},
			htmlHasNot: []string{"<script>", "<img src=x", "<b>bold</b>", "<Acme & Co>"},
			textHas:    []string{`<script>alert("x")</script>`},
		},
		{
			name:       "javascript link is neutralised",
			data:       EmailData{AppName: "Acme", Link: "javascript:alert(1)"},
			subject:    "Sign in to Acme",
			fromName:   "Acme",
			htmlHasNot: []string{"javascript:", "<a href"},
			textHasNot: []string{"javascript:"},
		},
		{
			name:       "invalid colour and logo fall back",
			content:    EmailContent{PrimaryColor: "red;background:url(https://evil)", Base64Logo: "bm90IGFuIGltYWdl"},
			data:       EmailData{AppName: "Acme", Code: "1"},
			subject:    "Your login code for Acme",
			fromName:   "Acme",
			htmlHas:    []string{"#2563eb"},
			htmlHasNot: []string{"evil", "<img"},
		},
		{
			name:     "light colour gets dark text",
			content:  EmailContent{PrimaryColor: "#ffeb3b"},
			data:     EmailData{AppName: "Acme", Code: "1", Link: "https://acme.test/l"},
			subject:  "Your login code for Acme",
			fromName: "Acme",
			htmlHas:  []string{"background-color:#ffeb3b;color:#111827", "color:#1d4ed8;word-break"},
		},
		{
			name:       "no expiry and multiline app name",
			data:       EmailData{AppName: "Acme\nBcc: x@evil.test", Code: "5"},
			subject:    "Your login code for Acme",
			fromName:   "Acme",
			textHas:    []string{"If you didn't request it, you can ignore this email."},
			textHasNot: []string{"expires", "Bcc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := RenderEmail(tt.content, tt.data)
			if m.Channel != ChannelEmail || m.To != "" {
				t.Errorf("Channel, To = %q, %q; want %q, empty", m.Channel, m.To, ChannelEmail)
			}
			if m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
			}
			if m.FromName != tt.fromName {
				t.Errorf("FromName = %q, want %q", m.FromName, tt.fromName)
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") {
				t.Fatalf("HTML does not start with a doctype: %.80q", m.HTML)
			}
			if tt.logo != "" && !strings.Contains(html.UnescapeString(m.HTML), `<img src="`+tt.logo+`"`) {
				t.Errorf("HTML lacks the logo %q", tt.logo)
			}
			for _, s := range tt.htmlHas {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("HTML lacks %q", s)
				}
			}
			for _, s := range tt.htmlHasNot {
				if strings.Contains(m.HTML, s) {
					t.Errorf("HTML contains %q", s)
				}
			}
			for _, s := range tt.textHas {
				if !strings.Contains(m.Text, s) {
					t.Errorf("Text lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range tt.textHasNot {
				if strings.Contains(m.Text, s) {
					t.Errorf("Text contains %q:\n%s", s, m.Text)
				}
			}
			if tt.data.Code != "" && !strings.Contains(m.Text, tt.data.Code) {
				t.Errorf("Text lacks the code")
			}
		})
	}
}

func TestRenderEmailPreheaderHidesCode(t *testing.T) {
	m := RenderEmail(EmailContent{}, EmailData{AppName: "Acme", Code: "314159"})
	_, after, ok := strings.Cut(m.HTML, "mso-hide:all;\">")
	if !ok {
		t.Fatal("preheader not found")
	}
	preheader, _, _ := strings.Cut(after, "</div>")
	if preheader == "" || strings.Contains(preheader, "314159") {
		t.Errorf("preheader %q is empty or leaks the code", preheader)
	}
}
