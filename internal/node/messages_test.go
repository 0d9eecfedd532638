package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
)

// TestDatabaseOpenErrorIsOneLine: a database that cannot be opened is named (without its
// password) with the reason its server or file gave, in one line, without the migration
// library's or the driver's layers.
func TestDatabaseOpenErrorIsOneLine(t *testing.T) {
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, "latch.db"), []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"sqlite file of something else", config.Config{Database: "sqlite", DataDir: garbage},
			"cannot open the SQLite database " + filepath.Join(garbage, "latch.db") + ": file is not a database"},
		{"postgres nobody listens", config.Config{Database: "postgres://latch:s3cret@127.0.0.1:1/latch?sslmode=disable"},
			`cannot open the PostgreSQL database "latch" on 127.0.0.1:1: `},
		{"postgres URL that does not parse", config.Config{Database: "postgres://la tch:s3cret@@:x"},
			"cannot open the PostgreSQL database: the URL cannot be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), &tc.cfg, Options{Key: make([]byte, 32)})
			if err == nil {
				t.Fatal("opened")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting %q", msg, tc.want)
			}
			for _, internal := range []string{"migrate", "failed to initialize", "s3cret", "SQLSTATE", "(26)", "open database"} {
				if strings.Contains(msg, internal) {
					t.Errorf("error %q shows %q", msg, internal)
				}
			}
		})
	}
}

// TestProviderErrorsSayTheirNameOnce: a provider's configuration error names the provider once
// ("smtp: port 99999 out of range", not "smtp: smtp: ...").
func TestProviderErrorsSayTheirNameOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"smtp", config.Config{SMTP: config.SMTP{Host: "smtp.example.com", Port: 99999, From: "a@example.com"}}, "smtp: port 99999 out of range"},
		{"twilio", config.Config{Twilio: config.Twilio{AccountSID: "AC1"}}, "twilio: auth token is required"},
		{"webhook", config.Config{Webhook: config.Webhook{URL: "http://sms.example.com/hook"}}, "webhook: URL must use https (http only for localhost)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := providers(&tc.cfg, nil, clock.System{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
