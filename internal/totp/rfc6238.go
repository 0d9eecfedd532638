package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// Algorithm is the HMAC hash function of a TOTP application.
type Algorithm string

// The algorithms of RFC 6238. SHA1 is the one every authenticator app
// supports.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// Limits of Params and Match.
const (
	MinPeriod = 15 // seconds
	MaxPeriod = 120
	// SecretSize is the length in bytes of the secrets NewSecret returns
	// (160 bits, as RFC 4226 recommends).
	SecretSize = 20
	// MaxSkew bounds the skew given to Match.
	MaxSkew = 10
)

// Errors returned by this package; test them with errors.Is.
var (
	ErrAlgorithm = errors.New("totp: unsupported algorithm")
	ErrDigits    = errors.New("totp: digits must be 6 or 8")
	ErrPeriod    = fmt.Errorf("totp: period must be between %d and %d seconds", MinPeriod, MaxPeriod)
	ErrSecret    = errors.New("totp: invalid secret")
)

// ParseAlgorithm returns the Algorithm named s, case-insensitively
// ("sha256" gives SHA256).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToUpper(s)); a {
	case SHA1, SHA256, SHA512:
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", ErrAlgorithm, s)
}

// newHash returns the hash constructor of a, or nil if a is not supported.
func (a Algorithm) newHash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// Params are an application's TOTP settings.
type Params struct {
	Algorithm Algorithm
	Digits    int // 6 or 8
	Period    int // seconds, 15..120
}

// DefaultParams returns the settings every authenticator app supports:
// SHA1, 6 digits, 30 seconds.
func DefaultParams() Params {
	return Params{Algorithm: SHA1, Digits: 6, Period: 30}
}

// Validate reports whether p is usable. CodeAt and Match refuse invalid
// Params (CodeAt returns "" and Match never matches).
func (p Params) Validate() error {
	if p.Algorithm.newHash() == nil {
		return fmt.Errorf("%w: %q", ErrAlgorithm, string(p.Algorithm))
	}
	if p.Digits != 6 && p.Digits != 8 {
		return ErrDigits
	}
	if p.Period < MinPeriod || p.Period > MaxPeriod {
		return ErrPeriod
	}
	return nil
}

// NewSecret returns SecretSize (20) random bytes (160 bits) read from r
// (crypto/rand.Reader in production, injected in tests).
func NewSecret(r io.Reader) ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("totp: reading random secret: %w", err)
	}
	return b, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret encodes b as base32 (RFC 4648 alphabet, upper case) without
// padding, the form key URIs carry.
func EncodeSecret(b []byte) string {
	return b32.EncodeToString(b)
}

// DecodeSecret decodes a base32 secret (RFC 4648 alphabet). It accepts upper
// and lower case, with or without trailing '=' padding, and ignores spaces
// (also tabs and line breaks), so secrets typed or pasted in groups decode.
// An empty secret is an error. The error never quotes the input.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrSecret)
	}
	switch len(s) % 8 {
	case 1, 3, 6:
		// No byte count encodes to these lengths; the unpadded decoder
		// would silently drop the incomplete group.
		return nil, fmt.Errorf("%w: %d symbols is not a whole number of bytes", ErrSecret, len(s))
	}
	b, err := b32.DecodeString(s)
	if err != nil {
		// base32.CorruptInputError holds only an offset, never the data.
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	return b, nil
}

// Step returns the time step counter of t: floor(unix/period). p.Period
// must be positive (Validate checks it).
func (p Params) Step(t time.Time) int64 {
	u, period := t.Unix(), int64(p.Period)
	s := u / period
	if u%period < 0 { // round towards minus infinity before 1970
		s--
	}
	return s
}

var pow10 = [...]uint32{6: 1_000_000, 8: 100_000_000}

// codeAt writes the code of step into dst[:p.Digits]. p must be valid and
// mac keyed with the secret.
func (p Params) codeAt(mac hash.Hash, step int64, dst *[8]byte) {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac.Reset()
	mac.Write(msg[:])
	var sum [sha512.Size]byte
	h := mac.Sum(sum[:0])
	// RFC 4226 section 5.3, dynamic truncation.
	off := h[len(h)-1] & 0x0f
	v := binary.BigEndian.Uint32(h[off:off+4]) & 0x7fff_ffff
	v %= pow10[p.Digits]
	for i := p.Digits - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// CodeAt computes the code for one step (RFC 4226 dynamic truncation,
// zero-padded to Digits). It returns "" if p is invalid.
func (p Params) CodeAt(secret []byte, step int64) string {
	if p.Validate() != nil {
		return ""
	}
	var c [8]byte
	p.codeAt(hmac.New(p.Algorithm.newHash(), secret), step, &c)
	return string(c[:p.Digits])
}

// Match checks code against steps now-skew..now+skew (skew = 1 for Latch)
// and returns the matched step. It compares in constant time
// (crypto/subtle) and checks every candidate step without early exit, so
// timing does not reveal which step matched. A code of the wrong length or
// with non-digits never matches, nor does any code if p is invalid. skew is
// clamped to 0..MaxSkew.
//
// Should the code match several steps of the window (a chance collision),
// the latest is returned, so that a replay guard recording it refuses the
// code for the rest of the window.
func (p Params) Match(secret []byte, code string, now time.Time, skew int) (step int64, ok bool) {
	if p.Validate() != nil || len(code) != p.Digits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	skew = min(max(skew, 0), MaxSkew)
	mac := hmac.New(p.Algorithm.newHash(), secret)
	cur := p.Step(now)
	var found int
	for s := cur - int64(skew); s <= cur+int64(skew); s++ {
		var c [8]byte
		p.codeAt(mac, s, &c)
		eq := subtle.ConstantTimeCompare(c[:p.Digits], []byte(code)) // 1 or 0
		mask := -int64(eq)                                           // all ones or zero
		step = s&mask | step&^mask
		found |= eq
	}
	if found == 0 {
		return 0, false
	}
	return step, true
}
