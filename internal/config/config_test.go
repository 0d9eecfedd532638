package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestDevModeOnlyWithoutProviders(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		dev  bool
	}{
		{"nothing configured", Config{}, true},
		{"prod", Config{Prod: true}, false},
		{"smtp", Config{SMTP: SMTP{Host: "smtp.example"}}, false},
		{"twilio", Config{Twilio: Twilio{AccountSID: "AC1"}}, false},
		{"webhook", Config{Webhook: Webhook{URL: "https://hook.example"}}, false},
	} {
		if got := tc.cfg.Dev(); got != tc.dev {
			t.Errorf("%s: Dev() = %v, want %v", tc.name, got, tc.dev)
		}
	}
}

// TestHelpNeverShowsSecretsFromTheEnvironment: --help prints flag defaults, which come from the
// environment; a database password or a webhook URL's path must not appear there.
func TestHelpNeverShowsSecretsFromTheEnvironment(t *testing.T) {
	t.Setenv("LATCH_DATABASE", "postgres://latch:S3cretPW@db.internal/latch?sslmode=disable&password=AlsoSecret")
	t.Setenv("LATCH_SMS_WEBHOOK_URL", "https://hook.example/T0KEN/path?sig=Q1")
	t.Setenv("LATCH_ENCRYPTION_KEY", strings.Repeat("ab", 32))
	t.Setenv("LATCH_SMTP_PASSWORD", "mailpw")
	var c Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c.BindServe(fs)
	help := fs.FlagUsages() + c.DatabaseString()
	for _, secret := range []string{"S3cretPW", "AlsoSecret", "T0KEN", "sig=Q1", strings.Repeat("ab", 32), "mailpw"} {
		if strings.Contains(help, secret) {
			t.Errorf("help or banner shows %q:\n%s", secret, help)
		}
	}
	if c.Database == "" || !strings.Contains(c.Database, "S3cretPW") || c.Webhook.URL != "https://hook.example/T0KEN/path?sig=Q1" {
		t.Fatalf("the real values must still be used: %q %q", c.Database, c.Webhook.URL)
	}
}
