package delivery

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// testImage encodes a real 2x2 image in the given format ("png", "jpeg", "gif").
func testImage(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.White, color.Black})
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil || buf.Len() == 0 {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

const testSVG = `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>`

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestEmailContentValidate(t *testing.T) {
	pngB64 := b64(testImage(t, "png"))
	tests := []struct {
		name         string
		content      EmailContent
		field, probl string
	}{
		{name: "empty is ok", content: EmailContent{}},
		{name: "all fields ok", content: EmailContent{
			Subject: "Log in", PrimaryColor: "#1a73e8", Base64Logo: pngB64, HeaderText: "Hi",
			BodyText: "Body", LinkText: "Go", InfoText: "Info", FooterText: "Footer", SenderName: "Acme",
		}},
		{name: "short colour ok", content: EmailContent{PrimaryColor: "#FA0"}},
		{name: "colour without hash", content: EmailContent{PrimaryColor: "1a73e8"},
			field: "email_content.primaryColor", probl: "must be a hex colour like #1a73e8"},
		{name: "colour named", content: EmailContent{PrimaryColor: "red"},
			field: "email_content.primaryColor", probl: "must be a hex colour like #1a73e8"},
		{name: "colour css injection", content: EmailContent{PrimaryColor: "#fff;background:url(x)"},
			field: "email_content.primaryColor", probl: "must be a hex colour like #1a73e8"},
		{name: "colour 4 digits", content: EmailContent{PrimaryColor: "#1234"},
			field: "email_content.primaryColor", probl: "must be a hex colour like #1a73e8"},
		{name: "subject 200 ok", content: EmailContent{Subject: strings.Repeat("s", 200)}},
		{name: "subject too long", content: EmailContent{Subject: strings.Repeat("s", 201)},
			field: "email_content.subject", probl: "must be at most 200 characters"},
		{name: "subject newline", content: EmailContent{Subject: "a\r\nBcc: x@example.com"},
			field: "email_content.subject", probl: "must not contain line breaks"},
		{name: "logo png", content: EmailContent{Base64Logo: pngB64}},
		{name: "logo png data uri", content: EmailContent{Base64Logo: "data:image/png;base64," + pngB64}},
		{name: "logo jpeg", content: EmailContent{Base64Logo: b64(testImage(t, "jpeg"))}},
		{name: "logo jpg data uri", content: EmailContent{Base64Logo: "data:image/jpg;base64," + b64(testImage(t, "jpeg"))}},
		{name: "logo gif", content: EmailContent{Base64Logo: b64(testImage(t, "gif"))}},
		{name: "logo svg", content: EmailContent{Base64Logo: "data:image/svg+xml;base64," + b64([]byte(testSVG))}},
		{name: "logo unpadded base64", content: EmailContent{Base64Logo: strings.TrimRight(pngB64, "=")}},
		{name: "logo not base64", content: EmailContent{Base64Logo: "not base64!!"},
			field: "email_content.base64logo", probl: "must be base64 of a PNG, JPEG, GIF or SVG image"},
		{name: "logo not an image", content: EmailContent{Base64Logo: b64([]byte("hello world"))},
			field: "email_content.base64logo", probl: "must be base64 of a PNG, JPEG, GIF or SVG image"},
		{name: "logo html", content: EmailContent{Base64Logo: b64([]byte("<html><script>alert(1)</script></html>"))},
			field: "email_content.base64logo", probl: "must be base64 of a PNG, JPEG, GIF or SVG image"},
		{name: "logo declared type mismatch", content: EmailContent{Base64Logo: "data:image/gif;base64," + pngB64},
			field: "email_content.base64logo", probl: "must be base64 of a PNG, JPEG, GIF or SVG image"},
		{name: "logo data uri not base64", content: EmailContent{Base64Logo: "data:image/png," + pngB64},
			field: "email_content.base64logo", probl: "must be base64 of a PNG, JPEG, GIF or SVG image"},
		{name: "logo too long", content: EmailContent{Base64Logo: pngB64 + strings.Repeat("A", 20001-len(pngB64))},
			field: "email_content.base64logo", probl: "must be at most 20000 characters"},
		{name: "header 2000 ok", content: EmailContent{HeaderText: strings.Repeat("h", 2000)}},
		{name: "header too long", content: EmailContent{HeaderText: strings.Repeat("h", 2001)},
			field: "email_content.headerText", probl: "must be at most 2000 characters"},
		{name: "body too long", content: EmailContent{BodyText: strings.Repeat("b", 2001)},
			field: "email_content.bodyText", probl: "must be at most 2000 characters"},
		{name: "body multibyte 2000 ok", content: EmailContent{BodyText: strings.Repeat("ü", 2000)}},
		{name: "link text too long", content: EmailContent{LinkText: strings.Repeat("l", 2001)},
			field: "email_content.linkText", probl: "must be at most 2000 characters"},
		{name: "info too long", content: EmailContent{InfoText: strings.Repeat("i", 2001)},
			field: "email_content.infoText", probl: "must be at most 2000 characters"},
		{name: "footer too long", content: EmailContent{FooterText: strings.Repeat("f", 2001)},
			field: "email_content.footerText", probl: "must be at most 2000 characters"},
		{name: "sender 100 ok", content: EmailContent{SenderName: strings.Repeat("n", 100)}},
		{name: "sender too long", content: EmailContent{SenderName: strings.Repeat("n", 101)},
			field: "email_content.senderName", probl: "must be at most 100 characters"},
		{name: "sender newline", content: EmailContent{SenderName: "Acme\nBcc: evil@example.com"},
			field: "email_content.senderName", probl: "must not contain line breaks"},
		{name: "first bad field wins", content: EmailContent{PrimaryColor: "red", SenderName: "a\rb"},
			field: "email_content.primaryColor", probl: "must be a hex colour like #1a73e8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			field, problem := tt.content.Validate()
			if field != tt.field || problem != tt.probl {
				t.Errorf("Validate() = (%q, %q), want (%q, %q)", field, problem, tt.field, tt.probl)
			}
		})
	}
}

func FuzzEmailContentValidate(f *testing.F) {
	f.Add("Subject", "#1a73e8", b64(testImage(f, "png")), "Header", "Body", "Sign in", "Info", "Footer", "Acme")
	f.Add("", "", "", "", "", "", "", "", "")
	f.Add("a\r\n", "#fff", "data:image/svg+xml;base64,"+b64([]byte(testSVG)), "<b>", "<script>", "", "", "", "x\n")
	f.Add("", "#", "data:", "", "", "", "", "", "")
	f.Add("", "#zzzzzz", "data:image/png;base64", "\x00", "\xff", "", "", "", "")
	f.Add("", "", "data:;base64,R0lGODlh", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, subject, colour, logo, header, body, link, info, footer, sender string) {
		c := EmailContent{subject, colour, logo, header, body, link, info, footer, sender}
		field, problem := c.Validate()
		if (field == "") != (problem == "") {
			t.Fatalf("Validate() = (%q, %q): field and problem must be both set or both empty", field, problem)
		}
		if field != "" && !strings.HasPrefix(field, "email_content.") {
			t.Fatalf("field %q lacks the email_content. prefix", field)
		}
		if field == "" {
			// Anything Validate accepts must render without panicking.
			m := RenderEmail(c, EmailData{AppName: "Acme", Code: "123456", Link: "https://example.com/x", ExpiresInMinutes: 5})
			if m.HTML == "" || m.Text == "" {
				t.Fatalf("RenderEmail of valid content produced an empty part")
			}
		}
	})
}
