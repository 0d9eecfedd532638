package totp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"

	"github.com/pquerna/otp"
)

// QRSize is the width and height in pixels of the QR codes QRCodeDataURL
// renders.
const QRSize = 256

// QRCodeDataURL renders uri (normally a KeyURI) as a QRSize×QRSize PNG QR
// code and returns it as "data:image/png;base64,…", ready for an <img src>.
// The result embeds the secret: never log it.
func QRCodeDataURL(uri string) (string, error) {
	// The errors of url.Parse and of the QR encoder quote their input, the
	// secret included, so they are not wrapped.
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", errors.New("totp: invalid key URI")
	}
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return "", errors.New("totp: cannot render key URI as a QR code (too long?)")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("totp: encoding QR code: %w", err)
	}
	const prefix = "data:image/png;base64,"
	out := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(buf.Len()))
	copy(out, prefix)
	base64.StdEncoding.Encode(out[len(prefix):], buf.Bytes())
	return string(out), nil
}
