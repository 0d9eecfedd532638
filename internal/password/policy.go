package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length limits of NIST SP 800-63B rev 4 §3.1.1.2: at least 15 characters where the password is
// the only factor, never fewer than 8 (allowed only where a second factor is required), and at
// least 64 allowed; Latch caps a password at MaxLength code points and MaxBytes bytes so that a
// request cannot make hashing arbitrarily long input.
const (
	DefaultMinLength = 15
	MFAMinLength     = 8
	MaxLength        = 256
	MaxBytes         = 1024
)

// Error codes of a refused password (Mosaic's).
const (
	CodeWeak     = "auth_password_weak"
	CodeBreached = "auth_password_breached"
)

// Violation is why a password was refused: its Mosaic error code and the problem, for a message
// that starts with the field's name. It never contains the password.
type Violation struct {
	Code    string
	Problem string
}

// Normalize returns pw in Unicode Normalization Form C, as NIST asks before hashing: the same
// password typed on two systems that compose accents differently is the same password. Nothing
// is trimmed or case-folded: the password is checked exactly as typed.
func Normalize(pw string) string { return norm.NFC.String(pw) }

// Policy is what a new password must meet. Composition rules (a digit, a capital, a symbol) are
// never imposed (NIST SHALL NOT; ASVS 6.2.5).
type Policy struct {
	MinLength int // in code points after NFC; 0 means DefaultMinLength
}

// Check checks a normalized password (Normalize) against the policy, the embedded blocklist and
// the context words (the application's name, the username, the email's local part, which are
// case-insensitive): nil when it may be used.
func (p Policy) Check(pw string, context ...string) *Violation {
	min := p.MinLength
	if min == 0 {
		min = DefaultMinLength
	}
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return &Violation{CodeWeak, "must be valid UTF-8"}
	case n < min:
		return &Violation{CodeWeak, fmt.Sprintf("must be at least %d characters (a few unrelated words make a long password that is easy to remember)", min)}
	case n > MaxLength || len(pw) > MaxBytes:
		return &Violation{CodeWeak, fmt.Sprintf("must be at most %d characters", MaxLength)}
	}
	folded := strings.ToLower(pw)
	core := strings.TrimFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) })
	if blocked(folded) || (utf8.RuneCountInString(core) >= 4 && blocked(core)) {
		return &Violation{CodeBreached, "is a commonly used password; choose another"}
	}
	if unit := repeatedUnit(folded); unit != "" {
		if blocked(unit) || utf8.RuneCountInString(unit) <= 4 {
			return &Violation{CodeBreached, "is a repetition of a common or short sequence; choose another"}
		}
	}
	if sequential(folded) {
		return &Violation{CodeWeak, "is a simple sequence of characters; choose another"}
	}
	for _, w := range context {
		w = strings.ToLower(Normalize(strings.TrimSpace(w)))
		wn := utf8.RuneCountInString(w)
		if wn < 3 {
			continue
		}
		if folded == w || core == w || (strings.Contains(folded, w) && 2*wn >= n) {
			return &Violation{CodeWeak, "must not be made of the application's name, the username or the email address"}
		}
	}
	return nil
}

// repeatedUnit is the shortest string that repeated makes s (s itself when none does), or ""
// when s is not a repetition.
func repeatedUnit(s string) string {
	r := []rune(s)
	for size := 1; size <= len(r)/2; size++ {
		if len(r)%size != 0 {
			continue
		}
		unit := string(r[:size])
		if strings.Repeat(unit, len(r)/size) == s {
			return unit
		}
	}
	return ""
}

// sequential reports whether every character of s follows the previous by the same step of
// one (abcdef…, 987654…, 0123456789012…, with digits wrapping around).
func sequential(s string) bool {
	r := []rune(s)
	if len(r) < 3 {
		return false
	}
	step := func(a, b rune) int {
		d := int(b - a)
		if unicode.IsDigit(a) && unicode.IsDigit(b) {
			d = (d + 10) % 10
			if d == 9 {
				d = -1
			}
		}
		return d
	}
	first := step(r[0], r[1])
	if first != 1 && first != -1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if step(r[i-1], r[i]) != first {
			return false
		}
	}
	return true
}
