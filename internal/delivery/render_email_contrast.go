package delivery

import (
	"math"
	"strconv"
	"strings"
)

// MinContrast is the contrast ratio WCAG 2 (success criterion 1.4.3, level AA) asks of body text.
const MinContrast = 4.5

// Colours of the email's own text, each at least MinContrast on the background it sits on
// (TestEmailContrast).
const (
	emailInk   = "#111827" // headings, text on light primary colours
	emailBody  = "#374151" // paragraphs, on white
	emailMuted = "#4b5563" // info lines on white, the footer on emailPage
	emailPage  = "#f3f4f6" // the page around the card
	emailCard  = "#ffffff"
	emailLink  = "#1d4ed8" // links when the primary colour is too light to read on white
)

// ParseColour reads #rgb or #rrggbb into its channels; ok is false for anything else.
func ParseColour(hex string) (r, g, b uint8, ok bool) {
	h, found := strings.CutPrefix(hex, "#")
	if !found {
		return 0, 0, 0, false
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return 0, 0, 0, false
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return uint8(v >> 16), uint8(v >> 8), uint8(v), true
}

// RelativeLuminance is a colour's relative luminance as WCAG 2 defines it (0 black, 1 white);
// -1 when hex is not a colour.
func RelativeLuminance(hex string) float64 {
	r, g, b, ok := ParseColour(hex)
	if !ok {
		return -1
	}
	lin := func(c uint8) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// Contrast is the WCAG 2 contrast ratio of two colours, from 1 (none) to 21 (black on white);
// 0 when either is not a colour.
func Contrast(a, b string) float64 {
	la, lb := RelativeLuminance(a), RelativeLuminance(b)
	if la < 0 || lb < 0 {
		return 0
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// textColourOn picks the text colour with the most contrast on background: white or the email's
// ink, or pure black when neither reaches MinContrast (mid-tone backgrounds).
func textColourOn(background string) string {
	if RelativeLuminance(background) < 0 {
		return "#ffffff"
	}
	best := "#ffffff"
	if Contrast(emailInk, background) > Contrast(best, background) {
		best = emailInk
	}
	if Contrast(best, background) < MinContrast && Contrast("#000000", background) > Contrast(best, background) {
		best = "#000000"
	}
	return best
}

// linkColour is the primary colour when it reads on the white card, else a blue that does.
func linkColour(colour string) string {
	if Contrast(colour, emailCard) >= MinContrast {
		return colour
	}
	return emailLink
}
