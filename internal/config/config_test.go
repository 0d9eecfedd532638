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

// TestDevModeListensOnLoopbackOnly: dev mode serves every code at /dev/outbox, so without a
// delivery provider `latch serve` refuses any address other machines may reach, unless --dev.
func TestDevModeListensOnLoopbackOnly(t *testing.T) {
	serve := func(addr string) Config { return Config{Addr: addr, Database: "sqlite", LogLevel: "info"} }
	for _, tc := range []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"localhost:8080", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"192.168.1.20:8080", false},
		{"latch.internal:8080", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			c := serve(tc.addr)
			err := c.ValidateServe()
			if tc.loopback && err != nil {
				t.Fatalf("dev mode on %s refused: %v", tc.addr, err)
			}
			if !tc.loopback {
				if err == nil {
					t.Fatalf("dev mode on %s started", tc.addr)
				}
				if msg := err.Error(); !strings.Contains(msg, "loopback") || !strings.Contains(msg, "--dev") || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line that says why (loopback) and how to force it (--dev)", msg)
				}
			}
			forced := serve(tc.addr)
			forced.ForceDev = true
			if err := forced.ValidateServe(); err != nil {
				t.Errorf("--dev on %s refused: %v", tc.addr, err)
			}
			if got := forced.DevOnNetwork(); got == tc.loopback {
				t.Errorf("DevOnNetwork() = %v on %s", got, tc.addr)
			}
			provider := serve(tc.addr)
			provider.SMTP.Host = "smtp.example"
			if err := provider.ValidateServe(); err != nil {
				t.Errorf("a delivery provider on %s refused: %v", tc.addr, err)
			}
		})
	}
	t.Run("dev_and_prod_contradict", func(t *testing.T) {
		c := serve("0.0.0.0:8080")
		c.Prod, c.ForceDev, c.EncryptionKey, c.SMTP.Host = true, true, "k", "smtp.example"
		if err := c.ValidateServe(); err == nil || !strings.Contains(err.Error(), "--dev") {
			t.Fatalf("err = %v, want one naming --dev and --prod", err)
		}
	})
	t.Run("LATCH_DEV", func(t *testing.T) {
		t.Setenv("LATCH_DEV", "1")
		var c Config
		c.BindServe(pflag.NewFlagSet("serve", pflag.ContinueOnError))
		if !c.ForceDev {
			t.Fatal("LATCH_DEV=1 does not set --dev")
		}
	})
}

// TestDefaultIssuer: the default issuer names the address the server is reached at, with
// localhost for a wildcard address (never http://0.0.0.0:8080 or http://[::]:8080).
func TestDefaultIssuer(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"localhost:9000": "http://localhost:9000",
		"[::1]:8080":     "http://[::1]:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		":8080":          "http://localhost:8080",
		"[::]:8080":      "http://localhost:8080",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
	} {
		c := Config{Addr: addr}
		if got := c.IssuerURL(); got != want {
			t.Errorf("addr %s: issuer %s, want %s", addr, got, want)
		}
	}
	c := Config{Addr: "0.0.0.0:8080", Issuer: "https://login.example.com/"}
	if got := c.IssuerURL(); got != "https://login.example.com" {
		t.Errorf("configured issuer: %s", got)
	}
}
