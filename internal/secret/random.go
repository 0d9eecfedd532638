package secret

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
)

// NewID returns a random URL-safe id of 16 bytes (128 bits), used for rows and client ids.
func NewID() string { return randomString(rand.Reader, 16) }

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
func NumericCode(r io.Reader, n int) (string, error) {
	max := big.NewInt(10)
	out := make([]byte, n)
	for i := range out {
		d, err := rand.Int(r, max)
		if err != nil {
			return "", err
		}
		out[i] = byte('0' + d.Int64())
	}
	return string(out), nil
}
