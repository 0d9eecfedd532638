package totp

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/pquerna/otp"
)

func TestQRCodeDataURL(t *testing.T) {
	const prefix = "data:image/png;base64,"
	for _, uri := range []string{
		KeyURI("Latch", "alice@example.com", seedSHA1, DefaultParams()),
		KeyURI("Zoë & Sons", "山田 太郎", seedSHA512, Params{SHA512, 8, 60}),
	} {
		got, err := QRCodeDataURL(uri)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, prefix) {
			t.Fatalf("prefix: %.40q", got)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got, prefix))
		if err != nil {
			t.Fatalf("base64: %v", err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
		if err != nil || format != "png" {
			t.Fatalf("decode config: %v, format %q", err, format)
		}
		if cfg.Width != QRSize || cfg.Height != QRSize {
			t.Errorf("size %dx%d, want %dx%d", cfg.Width, cfg.Height, QRSize, QRSize)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("png: %v", err)
		}
		// A QR code has both dark and light modules.
		seen := map[uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 3 {
			for x := b.Min.X; x < b.Max.X; x += 3 {
				r, _, _, _ := img.At(x, y).RGBA()
				seen[r] = true
			}
		}
		if !seen[0] || !seen[0xffff] {
			t.Errorf("image is not black and white: %v", seen)
		}
	}

	// Different URIs, different images.
	a, _ := QRCodeDataURL(KeyURI("Latch", "a", seedSHA1, DefaultParams()))
	b, _ := QRCodeDataURL(KeyURI("Latch", "b", seedSHA1, DefaultParams()))
	if a == b {
		t.Error("two URIs gave the same QR code")
	}
}

func TestQRCodeDataURLErrorsHideTheURI(t *testing.T) {
	for _, uri := range []string{
		"otpauth://totp/x%zz?secret=SECRETSECRET",                          // invalid URL escape
		"otpauth://totp/x?secret=SECRETSECRET" + strings.Repeat("A", 8000), // too long for a QR code
	} {
		got, err := QRCodeDataURL(uri)
		if err == nil {
			t.Errorf("QRCodeDataURL(%.40q…) = %.40q, want an error", uri, got)
			continue
		}
		if strings.Contains(err.Error(), "SECRETSECRET") {
			t.Errorf("error quotes the URI: %.80q", err)
		}
	}
}

// The fast renderer draws exactly the pixels of otp.Key.Image, the reference.
func TestQRCodeDataURLMatchesKeyImage(t *testing.T) {
	for _, uri := range []string{
		KeyURI("Latch", "alice@example.com", seedSHA1, DefaultParams()),
		KeyURI("Zoë & Sons", "山田 太郎", seedSHA512, Params{SHA512, 8, 60}),
		KeyURI("A very long issuer name for a QR code version well above one", strings.Repeat("x", 120), seedSHA256, DefaultParams()),
	} {
		got, err := QRCodeDataURL(uri)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(got, "data:image/png;base64,"))
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		key, err := otp.NewKeyFromURL(uri)
		if err != nil {
			t.Fatal(err)
		}
		want, err := key.Image(QRSize, QRSize)
		if err != nil {
			t.Fatal(err)
		}
		diff := 0
		for y := range QRSize {
			for x := range QRSize {
				g, _, _, _ := img.At(x, y).RGBA()
				w, _, _, _ := want.At(x, y).RGBA()
				if (g == 0) != (w == 0) {
					diff++
				}
			}
		}
		if diff != 0 {
			t.Errorf("%.30q: %d pixels differ from otp.Key.Image", uri, diff)
		}
	}
}

func BenchmarkQRCodeDataURL(b *testing.B) {
	uri := KeyURI("Latch", "alice@example.com", seedSHA1, DefaultParams())
	for b.Loop() {
		if _, err := QRCodeDataURL(uri); err != nil {
			b.Fatal(err)
		}
	}
}
