package delivery

import (
	"math"
	"regexp"
	"testing"
)

func TestContrast(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#fff", "#000", 21},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes AA on white
		{"#2563eb", "#ffffff", 5.17},
	} {
		if got := Contrast(tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("Contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
	if Contrast("red", "#ffffff") != 0 || Contrast("#12345", "#ffffff") != 0 {
		t.Error("a malformed colour must give 0")
	}
}

// TestEmailContrast: every text colour the email uses reaches 4.5:1 on the backgrounds it sits
// on, and the code box and button text reach it on any primary colour.
func TestEmailContrast(t *testing.T) {
	for _, tc := range []struct{ name, fg, bg string }{
		{"heading on card", emailInk, emailCard},
		{"body on card", emailBody, emailCard},
		{"info on card", emailMuted, emailCard},
		{"footer on page", emailMuted, emailPage},
		{"fallback link on card", emailLink, emailCard},
	} {
		if c := Contrast(tc.fg, tc.bg); c < MinContrast {
			t.Errorf("%s: %s on %s is %.2f:1, want ≥ %.1f", tc.name, tc.fg, tc.bg, c, MinContrast)
		}
	}

	// Every colour the email gives text is one of the checked ones (those on the primary colour
	// are checked by the sweep below).
	allowed := map[string]bool{emailInk: true, emailBody: true, emailMuted: true,
		textColourOn(defaultPrimaryColour): true, linkColour(defaultPrimaryColour): true}
	literal := regexp.MustCompile(`[^-]color:(#[0-9a-fA-F]{3,6})`)
	msg := RenderEmail(EmailContent{}, EmailData{AppName: "Acme", Code: "123456", Link: "https://acme.test/l", ExpiresInMinutes: 5})
	for _, m := range literal.FindAllStringSubmatch(msg.HTML, -1) {
		if !allowed[m[1]] {
			t.Errorf("the email's text colour %s is not one of the checked colours", m[1])
		}
	}

	// Text on the primary colour, and links in it, whatever the colour: a sweep of greys and hues.
	for r := 0; r < 256; r += 17 {
		for g := 0; g < 256; g += 17 {
			for b := 0; b < 256; b += 51 {
				bg := "#" + hex2(r) + hex2(g) + hex2(b)
				if c := Contrast(textColourOn(bg), bg); c < MinContrast {
					t.Errorf("text %s on primary colour %s is %.2f:1", textColourOn(bg), bg, c)
				}
				if c := Contrast(linkColour(bg), emailCard); c < MinContrast {
					t.Errorf("link colour %s (primary %s) on white is %.2f:1", linkColour(bg), bg, c)
				}
			}
		}
	}
}

func hex2(v int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>4], digits[v&15]})
}
