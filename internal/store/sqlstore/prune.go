package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// pruneChunk is how many rows one pruning DELETE removes at most. Each chunk is a write
// transaction of its own, so a large backlog (the first prune after a long stop, say) never holds
// the SQLite writer, or a savepoint journal in memory, for more than a chunk's worth: logins keep
// committing between chunks.
const pruneChunk = 1000

// Prune deletes what can no longer matter at now: codes, challenges, refresh tokens, sessions
// and access-token revocations that expired more than grace ago, lockouts whose window and lock are over, send counts older
// than a day, and dev-outbox messages older than outboxAge. Each is an idempotent DELETE in chunks, so every node may run it.
func (db *DB) Prune(ctx context.Context, now time.Time, grace, outboxAge time.Duration) (int64, error) {
	before := ms(now.Add(-grace))
	var total int64
	for _, q := range []struct {
		table, key, where string
		args              []any
	}{
		{"codes", "id", "expires_at < ?", []any{before}},
		{"totp_challenges", "id", "expires_at < ?", []any{before}},
		{"refresh_tokens", "token_hash", "expires_at < ?", []any{before}},
		{"sessions", "id", "expires_at < ?", []any{before}},
		{"sso_sessions", "id", "expires_at < ?", []any{before}},
		{"sso_members", "sso_id, session_id", "expires_at < ?", []any{before}},
		// A revoked access token's row matters until the token itself has expired.
		{"revoked_tokens", "jti", "expires_at < ?", []any{before}},
		{"lockouts", "app_id, method, identifier", "locked_until < ? AND window_start < ?", []any{ms(now), before}},
		{"outbox", "id", "created_at < ?", []any{ms(now.Add(-outboxAge))}},
		// No send limit's window is longer than a day.
		{"sends", "app_id, limit_key, sent_at", "sent_at < ?", []any{ms(now.Add(-24 * time.Hour))}},
		{"send_keys", "app_id, limit_key", "last_at < ?", []any{ms(now.Add(-24 * time.Hour))}},
		{"app_sends", "app_id", "window_start < ?", []any{ms(now.Add(-24 * time.Hour))}},
	} {
		// Portable to both engines: a row-value IN over the key, a LIMITed subquery.
		stmt := fmt.Sprintf(`DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s WHERE %s LIMIT %d)`,
			q.table, q.key, q.key, q.table, q.where, pruneChunk)
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			res, err := db.exec(ctx, stmt, q.args...)
			if err != nil {
				return total, fmt.Errorf("prune %s: %w", q.table, err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}
