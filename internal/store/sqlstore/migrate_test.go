package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestByHashMigrationMarksLiveHighEntropyCodes: a database upgraded while magic links and
// authorization codes are outstanding keeps them usable. Migration 6 marks them by_hash (the
// lookups by hash find only those), and leaves numeric OTPs unmarked.
func TestByHashMigrationMarksLiveHighEntropyCodes(t *testing.T) {
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sub, err := fsSub()
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"otp", "link", "authcode", "hosted_otp"} {
		if _, err := raw.Exec(`INSERT INTO codes (id, app_id, method, channel, identifier, code_hash, request_id, payload,
			attempts, max_attempts, created_at, expires_at, used_at) VALUES (?, 'a', ?, 'email', 'user:u', ?, '', '{}', 0, 5, 1, 9e15, 0)`,
			m, m, "h-"+m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"otp": false, "link": true, "authcode": true, "hosted_otp": false}
	for m, byHash := range want {
		var got bool
		if err := raw.QueryRow(`SELECT by_hash FROM codes WHERE id = ?`, m).Scan(&got); err != nil || got != byHash {
			t.Errorf("%s: by_hash = %v (%v), want %v", m, got, err, byHash)
		}
	}
}
