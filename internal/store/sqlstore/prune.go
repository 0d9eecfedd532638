package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Prune deletes what can no longer matter at now: codes, challenges, refresh tokens and sessions
// that expired more than grace ago, lockouts whose window and lock are over, and dev-outbox
// messages older than outboxAge. Each is one idempotent DELETE, so every node may run it.
func (db *DB) Prune(ctx context.Context, now time.Time, grace, outboxAge time.Duration) (int64, error) {
	before := ms(now.Add(-grace))
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM codes WHERE expires_at < ?`, []any{before}},
		{`DELETE FROM totp_challenges WHERE expires_at < ?`, []any{before}},
		{`DELETE FROM refresh_tokens WHERE expires_at < ?`, []any{before}},
		{`DELETE FROM sessions WHERE expires_at < ?`, []any{before}},
		{`DELETE FROM lockouts WHERE locked_until < ? AND window_start < ?`, []any{ms(now), before}},
		{`DELETE FROM outbox WHERE created_at < ?`, []any{ms(now.Add(-outboxAge))}},
	} {
		res, err := db.exec(ctx, q.sql, q.args...)
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
