package delivery

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits applied by EmailContent.Validate.
const (
	maxSubjectLen    = 200
	maxTextLen       = 2000
	maxSenderNameLen = 100
	maxLogoLen       = 20000
)

// EmailContent mirrors Mosaic's email_content request object.
type EmailContent struct {
	Subject      string `json:"subject"`
	PrimaryColor string `json:"primaryColor"`
	Base64Logo   string `json:"base64logo"`
	HeaderText   string `json:"headerText"`
	BodyText     string `json:"bodyText"`
	LinkText     string `json:"linkText"`
	InfoText     string `json:"infoText"`
	FooterText   string `json:"footerText"`
	SenderName   string `json:"senderName"`
}

var hexColour = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// Validate returns the JSON name (prefixed "email_content.") of the first
// invalid field and what is wrong with it, or two empty strings.
func (c EmailContent) Validate() (field, problem string) {
	const p = "email_content."
	if utf8.RuneCountInString(c.Subject) > maxSubjectLen {
		return p + "subject", "must be at most 200 characters"
	}
	if strings.ContainsAny(c.Subject, "\r\n") {
		return p + "subject", "must not contain line breaks"
	}
	if c.PrimaryColor != "" && !hexColour.MatchString(c.PrimaryColor) {
		return p + "primaryColor", "must be a hex colour like #1a73e8"
	}
	if c.Base64Logo != "" {
		if len(c.Base64Logo) > maxLogoLen {
			return p + "base64logo", "must be at most 20000 characters"
		}
		if _, ok := logoDataURI(c.Base64Logo); !ok {
			return p + "base64logo", "must be base64 of a PNG, JPEG, GIF or SVG image"
		}
	}
	texts := []struct{ name, value string }{
		{"headerText", c.HeaderText},
		{"bodyText", c.BodyText},
		{"linkText", c.LinkText},
		{"infoText", c.InfoText},
		{"footerText", c.FooterText},
	}
	for _, t := range texts {
		if utf8.RuneCountInString(t.value) > maxTextLen {
			return p + t.name, "must be at most 2000 characters"
		}
	}
	if utf8.RuneCountInString(c.SenderName) > maxSenderNameLen {
		return p + "senderName", "must be at most 100 characters"
	}
	if strings.ContainsAny(c.SenderName, "\r\n") {
		return p + "senderName", "must not contain line breaks"
	}
	return "", ""
}

// logoDataURI checks a base64 logo (optionally with a data:image/...;base64,
// prefix) and returns it as a data: URI with the sniffed image type.
func logoDataURI(logo string) (string, bool) {
	if logo == "" || len(logo) > maxLogoLen {
		return "", false
	}
	declared := ""
	payload := logo
	if rest, ok := strings.CutPrefix(logo, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		mime, isB64 := strings.CutSuffix(strings.ToLower(meta), ";base64")
		if !found || !isB64 {
			return "", false
		}
		declared, payload = mime, data
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(payload)
	}
	if err != nil || len(raw) == 0 {
		return "", false
	}
	mime := sniffImage(raw)
	if mime == "" {
		return "", false
	}
	if declared != "" && declared != mime && !(declared == "image/jpg" && mime == "image/jpeg") {
		return "", false
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(raw), true
}

// sniffImage returns the MIME type of a PNG, JPEG, GIF or SVG image, or "".
func sniffImage(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif"
	}
	head := b
	if len(head) > 1024 {
		head = head[:1024]
	}
	head = bytes.ToLower(bytes.TrimSpace(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))))
	if utf8.Valid(b) && bytes.HasPrefix(head, []byte("<")) && bytes.Contains(head, []byte("<svg")) {
		return "image/svg+xml"
	}
	return ""
}
