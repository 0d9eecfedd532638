// Package user owns users: input validation, identifier normalization (emails lower-cased,
// phone numbers in E.164), lookup by identifier type, and the Mosaic ApiUser shape. It never
// sees codes or tokens.
package user

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
)

// Identifier types accepted by every login API.
const (
	IDEmail    = "email"
	IDPhone    = "phone_number"
	IDUserID   = "user_id"
	IDUsername = "username"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// NormalizeEmail validates an email address and returns it lower-cased.
func NormalizeEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return "", "must be a valid email address"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", "must be a valid email address"
	}
	return strings.ToLower(s), ""
}

// NormalizePhone validates an E.164 phone number (+ and 8 to 15 digits).
func NormalizePhone(s string) (string, string) {
	s = strings.TrimSpace(s)
	if !e164.MatchString(s) {
		return "", "must be an E.164 phone number (+ and 8 to 15 digits)"
	}
	return s, ""
}

// NormalizeUsername validates a username: 1 to 100 printable characters without spaces.
func NormalizeUsername(s string) (string, string) {
	if s == "" || len(s) > 100 {
		return "", "must be 1 to 100 characters"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return "", "must not contain spaces or control characters"
		}
	}
	return s, ""
}

// NormalizeIdentifier validates identifier for its type (default email) and returns the type
// and the normalized value, or the field at fault and the problem.
func NormalizeIdentifier(typ, identifier string) (string, string, string, string) {
	if typ == "" {
		typ = IDEmail
	}
	if identifier == "" {
		return "", "", "identifier", "is required"
	}
	var v, problem string
	switch typ {
	case IDEmail:
		v, problem = NormalizeEmail(identifier)
	case IDPhone:
		v, problem = NormalizePhone(identifier)
	case IDUsername:
		v, problem = NormalizeUsername(identifier)
	case IDUserID:
		v = identifier
		if len(v) > 200 {
			problem = "is too long"
		}
	default:
		return "", "", "identifier_type", "must be one of email, phone_number, user_id, username"
	}
	if problem != "" {
		return "", "", "identifier", problem
	}
	return typ, v, "", ""
}
