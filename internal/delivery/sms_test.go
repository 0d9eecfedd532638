package delivery

import (
	"strings"
	"testing"
)

func TestRenderSMS(t *testing.T) {
	tests := []struct {
		name     string
		template string
		app      string
		code     string
		minutes  int
		want     string
	}{
		{"default", "", "Acme", "123456", 10, "123456 is your Acme login code. It expires in 10 minutes."},
		{"default one minute", "", "Acme", "123456", 1, "123456 is your Acme login code. It expires in 1 minute."},
		{"default no expiry", "", "Acme", "123456", 0, "123456 is your Acme login code."},
		{"custom", "{app}: code {otp}", "Acme", "999000", 5, "Acme: code 999000"},
		{"custom with minutes", "{app} {otp} ({minutes} min)", "Acme", "42", 3, "Acme 42 (3 min)"},
		{"repeated placeholders", "{otp} {otp} {app}", "A", "1", 1, "1 1 A"},
		{"app name is not re-expanded", "{app} {otp}", "{otp}", "777", 1, "{otp} 777"},
		{"app name whitespace collapsed", "{app} {otp}", "Acme\nInc", "1", 1, "Acme Inc 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RenderSMS(tt.template, tt.app, tt.code, tt.minutes); got != tt.want {
				t.Errorf("RenderSMS = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateSMSTemplate(t *testing.T) {
	tests := []struct {
		name, template, want string
	}{
		{"empty means default", "", ""},
		{"ok", "{otp} is your {app} code", ""},
		{"ok with minutes", "{otp} for {app}, valid {minutes} min", ""},
		{"missing otp", "your {app} code", "must contain {otp}"},
		{"missing app", "your code {otp}", "must contain {app}"},
		{"exactly 140", "{otp}{app}" + strings.Repeat("x", 130), ""},
		{"too long", "{otp}{app}" + strings.Repeat("x", 131), "must be at most 140 characters"},
		{"140 multibyte runes ok", "{otp}{app}" + strings.Repeat("é", 130), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidateSMSTemplate(tt.template); got != tt.want {
				t.Errorf("ValidateSMSTemplate(%q) = %q, want %q", tt.template, got, tt.want)
			}
		})
	}
}
