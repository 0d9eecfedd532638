package signin

import (
	"regexp"
	"testing"

	"github.com/latch-auth/latch/internal/app"
)

// TestContrast: every text colour of the pages reaches WCAG AA (4.5:1) on its background, for the
// default colours and for brand colours from very light to very dark.
func TestContrast(t *testing.T) {
	pairs := [][2]string{
		{"#111827", "#ffffff"}, {"#111827", "#f3f4f6"}, // text on the card and the page
		{"#4b5563", "#ffffff"}, {"#4b5563", "#f3f4f6"}, // small text, footer
		{"#b91c1c", "#ffffff"}, // errors
		{"#1e3a8a", "#eff6ff"}, // notices
		{"#111827", "#ffffff"}, // secondary buttons
	}
	for _, p := range pairs {
		if c := Contrast(p[0], p[1]); c < 4.5 {
			t.Errorf("%s on %s: %.2f", p[0], p[1], c)
		}
	}
	vars := regexp.MustCompile(`--brand: (#[0-9a-fA-F]+); --on-brand: (#[0-9a-fA-F]+); --accent: (#[0-9a-fA-F]+);`)
	for _, brand := range []string{"", "#fde047", "#ffffff", "#000000", "#777777", "#1a73e8", "#0a7f3c", "#f0f", "#e11d48"} {
		a := app.App{Settings: app.Settings{BrandPrimaryColor: brand}}
		m := vars.FindStringSubmatch(brandCSS(a))
		if m == nil {
			t.Fatalf("no brand variables in the CSS for %q", brand)
		}
		if c := Contrast(m[2], m[1]); c < 4.5 {
			t.Errorf("brand %q: button text %s on %s: %.2f", brand, m[2], m[1], c)
		}
		if c := Contrast(m[3], "#ffffff"); c < 4.5 {
			t.Errorf("brand %q: links %s on white: %.2f", brand, m[3], c)
		}
	}
}
