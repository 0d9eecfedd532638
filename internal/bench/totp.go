package bench

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// totpParams are the RFC 6238 parameters of one TOTP authenticator.
type totpParams struct {
	Algorithm string // SHA1, SHA256, SHA512
	Digits    int
	Period    int // seconds
}

var defaultTOTP = totpParams{Algorithm: "SHA1", Digits: 6, Period: 30}

func (p totpParams) hash() func() hash.Hash {
	switch p.Algorithm {
	case "SHA256":
		return sha256.New
	case "SHA512":
		return sha512.New
	default:
		return sha1.New
	}
}

// step is the RFC 6238 time step (counter) of t.
func (p totpParams) step(t time.Time) int64 { return t.Unix() / int64(p.Period) }

// hotp is RFC 4226: HMAC of the big-endian counter, dynamic truncation, modulo 10^digits.
func hotp(key []byte, counter uint64, digits int, h func() hash.Hash) string {
	mac := hmac.New(h, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := uint64(sum[off]&0x7f)<<24 | uint64(sum[off+1])<<16 | uint64(sum[off+2])<<8 | uint64(sum[off+3])
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpCode is the RFC 6238 code for time step counter.
func totpCode(key []byte, counter int64, p totpParams) string {
	return hotp(key, uint64(counter), p.Digits, p.hash())
}

// decodeSecret decodes a base32 TOTP secret, with or without padding, in any case.
func decodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp secret is not base32: %w", err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("totp secret is empty")
	}
	return key, nil
}

// parseKeyURI reads the TOTP parameters (and secret) from an otpauth:// Key URI. Parameters that are
// absent take RFC 6238's defaults (SHA1, 6 digits, 30 s).
func parseKeyURI(uri string) (totpParams, string, error) {
	p := defaultTOTP
	if uri == "" {
		return p, "", nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return p, "", fmt.Errorf("totp uri: %w", err)
	}
	if u.Scheme != "otpauth" {
		return p, "", fmt.Errorf("totp uri: scheme %q, want otpauth", u.Scheme)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "totp") {
		return p, "", fmt.Errorf("totp uri: type %q, want totp", u.Host)
	}
	q := u.Query()
	if a := strings.ToUpper(q.Get("algorithm")); a != "" {
		switch a {
		case "SHA1", "SHA256", "SHA512":
			p.Algorithm = a
		default:
			return p, "", fmt.Errorf("totp uri: unsupported algorithm %q", a)
		}
	}
	if d := q.Get("digits"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 4 || n > 10 {
			return p, "", fmt.Errorf("totp uri: bad digits %q", d)
		}
		p.Digits = n
	}
	if s := q.Get("period"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3600 {
			return p, "", fmt.Errorf("totp uri: bad period %q", s)
		}
		p.Period = n
	}
	return p, q.Get("secret"), nil
}
