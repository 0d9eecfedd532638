package secret

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"time"
)

// NewID returns a random URL-safe id of 16 bytes (128 bits), used for rows and client ids.
func NewID() string { return randomString(rand.Reader, 16) }

// sortable is base64's 64 URL-safe characters in ASCII order, so that encoded ids sort as
// their bytes do.
var sortable = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// NewTimeID returns an id of 16 bytes, like NewID, whose first 6 are now in Unix milliseconds and
// whose other 10 are random (80 bits), encoded so that ids sort by time. Rows created together
// then sit together in an index, so a burst of inserts changes a few pages of it instead of one
// random page each: sessions and codes, written on every login. Such an id tells when its row
// was created, which for a session or a code the tokens and responses tell anyway.
func NewTimeID(now time.Time) string {
	b := make([]byte, 16)
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := io.ReadFull(rand.Reader, b[6:]); err != nil {
		panic(fmt.Sprintf("secret: random source failed: %v", err)) // crypto/rand never fails on Linux
	}
	return sortable.EncodeToString(b)
}

// NewToken returns a random URL-safe secret of 32 bytes (256 bits): client secrets, refresh
// tokens, link codes and authorization codes.
func NewToken() string { return randomString(rand.Reader, 32) }

func randomString(r io.Reader, n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(fmt.Sprintf("secret: random source failed: %v", err)) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NumericCode returns a uniformly random string of n decimal digits read from r.
func NumericCode(r io.Reader, n int) (string, error) { return RandomString(r, "0123456789", n) }

// RandomString returns n characters drawn uniformly from alphabet (single-byte characters)
// with randomness read from r.
func RandomString(r io.Reader, alphabet string, n int) (string, error) {
	max := big.NewInt(int64(len(alphabet)))
	out := make([]byte, n)
	for i := range out {
		d, err := rand.Int(r, max)
		if err != nil {
			return "", err
		}
		out[i] = alphabet[d.Int64()]
	}
	return string(out), nil
}
