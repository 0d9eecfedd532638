package totp

import (
	"strconv"
	"strings"
	"unicode"
)

// KeyURI builds the key URI an authenticator app enrols from, in the Key Uri
// Format documented by Google Authenticator:
//
//	otpauth://totp/ISSUER:LABEL?secret=…&issuer=…&algorithm=…&digits=…&period=…
//
// The secret is unpadded base32. Issuer and label are percent-encoded
// (UTF-8; everything but ASCII letters, digits, "-._~" and '@', so a space is
// %20 and '+' is %2B in both path and query, which every app reads the same
// way). The format forbids ':' inside issuer or label; each run of colons and
// the whitespace around it is replaced with a single space ("Acme: Staging"
// becomes "Acme Staging"), so splitting the label at its first ':' is
// unambiguous. With an empty issuer the prefix and the issuer parameter are
// left out.
func KeyURI(issuer, label string, secret []byte, p Params) string {
	issuer, label = noColon(issuer), noColon(label)
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(label))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(escape(string(p.Algorithm)))
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(p.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(p.Period))
	return b.String()
}

// noColon replaces each ':' and the whitespace around it with one space.
func noColon(s string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	parts := strings.Split(s, ":")
	for i := range parts {
		if i > 0 {
			parts[i] = strings.TrimLeftFunc(parts[i], unicode.IsSpace)
		}
		if i < len(parts)-1 {
			parts[i] = strings.TrimRightFunc(parts[i], unicode.IsSpace)
		}
	}
	// Drop empty middles so "a::b" gives "a b", not "a  b".
	out := parts[:0]
	for i, q := range parts {
		if q != "" || i == 0 || i == len(parts)-1 {
			out = append(out, q)
		}
	}
	return strings.TrimSpace(strings.Join(out, " "))
}

// escape percent-encodes every byte of s except unreserved characters
// (RFC 3986) and '@'.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '@':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
		}
	}
	return b.String()
}
