package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

const codeColumns = `id, app_id, user_id, method, channel, identifier, code_hash, by_hash, request_id, payload, attempts, max_attempts, created_at, expires_at, used_at`

func scanCode(s scanner) (store.Code, error) {
	var c store.Code
	var userID sql.NullString
	var payload string
	var created, expires, used int64
	err := s.Scan(&c.ID, &c.AppID, &userID, &c.Method, &c.Channel, &c.Identifier, &c.CodeHash, &c.ByHash, &c.RequestID, &payload,
		&c.Attempts, &c.MaxAttempts, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, err
	}
	c.UserID = userID.String
	c.Payload = []byte(payload)
	if used < 0 { // retired by a newer send (see IssueCode): UsedAt is when
		used = -used
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return c, nil
}

// IssueCode checks the identifier's lock and the send limits, counts the send, retires older
// unused codes and inserts c, in one transaction serialized per limit key (SQLite: the single
// writer; PostgreSQL: the key's row in send_keys). Only a refused send reads again, after the
// rollback, to tell which refusal it is.
func (db *DB) IssueCode(ctx context.Context, c store.Code, l store.SendLimits) error {
	now := ms(c.CreatedAt)
	var ops []op
	if l.Key != "" && db.dialect.rowLocks {
		ops = append(ops, exec("lock send key", `INSERT INTO send_keys (app_id, limit_key, last_at) VALUES (?, ?, ?)
			ON CONFLICT (app_id, limit_key) DO UPDATE SET last_at = excluded.last_at`, c.AppID, l.Key, now))
	}
	cond := `COALESCE((SELECT locked_until FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?), 0) > ?`
	args := []any{c.AppID, c.Method, c.Identifier, now}
	var longest time.Duration
	if l.Key != "" {
		for _, lim := range l.PerKey {
			if lim.Max > 0 {
				cond += ` OR (SELECT COUNT(*) FROM sends WHERE app_id = ? AND limit_key = ? AND sent_at > ?) >= ?`
				args = append(args, c.AppID, l.Key, now-lim.Window.Milliseconds(), lim.Max)
				longest = max(longest, lim.Window)
			}
		}
	}
	check := refuseIf("check send", nil, `SELECT `+cond, args...)
	check.miss = func(ctx context.Context, queryRow func(string, ...any) scanner) error {
		return sendRefused(queryRow, c, l, now)
	}
	ops = append(ops, check)
	var appWindow int64
	if l.PerApp.Max > 0 {
		appWindow = now - now%l.PerApp.Window.Milliseconds()
	}
	if l.Key != "" && longest > 0 {
		// The key's sends that no window counts any more.
		ops = append(ops, exec("prune sends", `DELETE FROM sends WHERE app_id = ? AND limit_key = ? AND sent_at <= ?`,
			c.AppID, l.Key, now-longest.Milliseconds()))
	}
	if l.Key != "" || appWindow != 0 {
		ops = append(ops, exec("count send", `INSERT INTO sends (app_id, limit_key, sent_at, channel, code_id, app_window) VALUES (?, ?, ?, ?, ?, ?)`,
			c.AppID, l.Key, now, c.Channel, c.ID, appWindow))
	}
	ops = append(ops, pruneCodesOp(c))
	ops = append(ops, issueOps(c)...)
	if appWindow != 0 {
		// Last, so that the app's row is locked (PostgreSQL) only from here to the COMMIT.
		start := appWindow
		app := refuseIf("app send ceiling", &store.RateLimitedError{Oldest: fromMS(start), Window: l.PerApp.Window, PerApp: true},
			`INSERT INTO app_sends (app_id, window_start, sent) VALUES (?, ?, 1)
			ON CONFLICT (app_id) DO UPDATE SET
				sent = CASE WHEN app_sends.window_start = excluded.window_start THEN app_sends.sent + 1 ELSE 1 END,
				window_start = excluded.window_start
			RETURNING sent > ?`, c.AppID, start, l.PerApp.Max)
		ops = append(ops, app)
	}
	err := db.write(ctx, ops...)
	if errors.Is(err, errStateChanged) {
		err = db.write(ctx, ops...)
	}
	return err
}

// sendRefused tells why a send of c was refused: the identifier is locked (ErrLocked), or a
// per-key limit is reached (*RateLimitedError with the limit whose window frees a send last).
func sendRefused(queryRow func(string, ...any) scanner, c store.Code, l store.SendLimits, now int64) error {
	var lockedUntil int64
	err := queryRow(`SELECT COALESCE((SELECT locked_until FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?), 0)`,
		c.AppID, c.Method, c.Identifier).Scan(&lockedUntil)
	if err != nil {
		return fmt.Errorf("check send: %w", err)
	}
	if lockedUntil > now {
		return store.ErrLocked
	}
	var refused *store.RateLimitedError
	for _, lim := range l.PerKey {
		if lim.Max <= 0 {
			continue
		}
		var n int
		var oldest sql.NullInt64
		err := queryRow(`SELECT COUNT(*), MIN(sent_at) FROM sends WHERE app_id = ? AND limit_key = ? AND sent_at > ?`,
			c.AppID, l.Key, now-lim.Window.Milliseconds()).Scan(&n, &oldest)
		if err != nil {
			return fmt.Errorf("check send: %w", err)
		}
		e := &store.RateLimitedError{Oldest: fromMS(oldest.Int64), Window: lim.Window}
		if n >= lim.Max && (refused == nil || e.Oldest.Add(e.Window).After(refused.Oldest.Add(refused.Window))) {
			refused = e
		}
	}
	if refused != nil {
		return refused
	}
	return errStateChanged // refused a moment ago, allowed now (a lock or a send left the window)
}

// pruneCodesOp deletes the identifier's codes that can count for nothing any more: older than a
// day (no code lives that long).
func pruneCodesOp(c store.Code) op {
	return exec("prune codes", `DELETE FROM codes WHERE app_id = ? AND method = ? AND identifier = ? AND created_at < ?`,
		c.AppID, c.Method, c.Identifier, ms(c.CreatedAt)-(24*time.Hour).Milliseconds())
}

// issueOps retire the identifier's unused codes and insert c. Retired codes get
// used_at = -(the new code's created_at), unlike used ones (a positive time), so withdrawing an
// undelivered code can give them back.
func issueOps(c store.Code) []op {
	now := ms(c.CreatedAt)
	return []op{
		exec("retire codes", `UPDATE codes SET used_at = ? WHERE app_id = ? AND method = ? AND identifier = ? AND used_at = 0`,
			-now, c.AppID, c.Method, c.Identifier),
		exec("insert code", `INSERT INTO codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 0)`,
			c.ID, c.AppID, nullable(c.UserID), c.Method, c.Channel, c.Identifier, c.CodeHash, c.ByHash, c.RequestID, string(c.Payload),
			c.MaxAttempts, now, ms(c.ExpiresAt)),
	}
}

// DeleteCode removes a code whose delivery failed, withdraws its send from the limits and gives
// back the codes its issue retired, in one transaction.
func (db *DB) DeleteCode(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *txn) error {
		var appID, method, identifier string
		var created int64
		err := tx.queryRow(ctx, `SELECT app_id, method, identifier, created_at FROM codes WHERE id = ?`, id).
			Scan(&appID, &method, &identifier, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM codes WHERE id = ?`, id); err != nil {
			return err
		}
		// The send stops counting: toward its key's limits and its app's window.
		if _, err := tx.exec(ctx, `UPDATE app_sends SET sent = sent - 1
			WHERE app_id = ? AND sent > 0 AND window_start = (SELECT app_window FROM sends WHERE code_id = ?)`, appID, id); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM sends WHERE code_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE codes SET used_at = 0 WHERE app_id = ? AND method = ? AND identifier = ? AND used_at = ?`,
			appID, method, identifier, -created)
		return err
	})
}

var latestCodeSQL = `SELECT ` + prefixed("c.", codeColumns) + `, COALESCE(l.failures, 0), COALESCE(l.locked_until, 0)
	FROM codes c LEFT JOIN lockouts l ON l.app_id = c.app_id AND l.method = c.method AND l.identifier = c.identifier
	WHERE c.app_id = ? AND c.method = ? AND c.identifier = ? AND c.used_at = 0 ORDER BY c.created_at DESC LIMIT 1`

// LatestCode returns the newest unused code of an identifier for a method, with the
// identifier's failure state joined in: one read where a login check used to make two.
func (db *DB) LatestCode(ctx context.Context, appID, method, identifier string) (store.Code, store.Lockout, error) {
	var l store.Lockout
	var until int64
	c, err := scanCode(scanPlus(db.queryRow(ctx, latestCodeSQL, appID, method, identifier), &l.Failures, &until))
	if errors.Is(err, store.ErrNotFound) {
		// No code to check (rare on the login path): the failure state still decides between
		// "locked" and "invalid passcode".
		if l, err = db.GetLockout(ctx, appID, method, identifier); err != nil {
			return c, l, err
		}
		return c, l, store.ErrNotFound
	}
	l.LockedUntil = fromMS(until)
	return c, l, err
}

// userLatestCodeQueries are latestCodeSQL for the code identifier ? || u.id, joined to the user it
// belongs to (see UserLatestCode), by each column a user is found by. The code's columns are NULL
// when the user has no live code, so each reads as its zero value (user_id is nullable anyway).
// The newest code and the lockout are joined per user row (dialect.joinOne) so that every
// table is sought by index, whatever the plan.
func userLatestCodeQueries(d dialect) map[store.UserBy]string {
	return userByQueries(userLatestCodeSelect + `
	FROM users u
	` + d.joinOne("codes", "c", prefixed("c.", codeColumns), "c.app_id = ? AND c.method = ? AND c.identifier = ? || u.id AND c.used_at = 0", "c.created_at DESC") + `
	` + d.joinOne("lockouts", "l", "l.failures, l.locked_until", "l.app_id = ? AND l.method = ? AND l.identifier = ? || u.id", "") + `
	WHERE u.%s = ?`)
}

var userLatestCodeSelect = `SELECT ` + prefixed("u.", userColumns) + `,
		COALESCE(c.id, ''), COALESCE(c.app_id, ''), c.user_id, COALESCE(c.method, ''), COALESCE(c.channel, ''),
		COALESCE(c.identifier, ''), COALESCE(c.code_hash, ''), COALESCE(c.by_hash, FALSE), COALESCE(c.request_id, ''),
		COALESCE(c.payload, ''), COALESCE(c.attempts, 0), COALESCE(c.max_attempts, 0), COALESCE(c.created_at, 0),
		COALESCE(c.expires_at, 0), COALESCE(c.used_at, 0),
		COALESCE(l.failures, 0), COALESCE(l.locked_until, 0)`

// userByQueries is q (with %s for the column) for each column a user is found by.
func userByQueries(q string) map[store.UserBy]string {
	out := map[store.UserBy]string{}
	for _, by := range []store.UserBy{store.UserByID, store.UserByEmail, store.UserByPhone, store.UserByUsername} {
		out[by] = fmt.Sprintf(q, by)
	}
	return out
}

// UserLatestCode is the user found by `by` and LatestCode(appID, method, keyPrefix+user.ID), in
// one read.
func (db *DB) UserLatestCode(ctx context.Context, by store.UserBy, value, appID, method, keyPrefix string) (store.User, store.Code, store.Lockout, error) {
	q, ok := db.queries.userLatestCode[by]
	if !ok {
		return store.User{}, store.Code{}, store.Lockout{}, fmt.Errorf("find user by %q: unknown column", by)
	}
	row := db.queryRow(ctx, q, appID, method, keyPrefix, appID, method, keyPrefix, value)
	var c store.Code
	var l store.Lockout
	var until int64
	u, err := scanUserAnd(row, func(s scanner) (err error) { c, err = scanCode(s); return err }, &l.Failures, &until)
	if err != nil {
		return store.User{}, store.Code{}, store.Lockout{}, err
	}
	if c.ID == "" {
		c = store.Code{}
	}
	l.LockedUntil = fromMS(until)
	return u, c, l, nil
}

// scanUserAnd scans a row of userColumns, then the columns scanOther reads, then more: the one-read
// login checks, which join a user to the state of their login.
func scanUserAnd(s scanner, scanOther func(scanner) error, more ...any) (store.User, error) {
	return scanUser(scanFunc(func(userDest ...any) error {
		return scanOther(scanFunc(func(otherDest ...any) error {
			return s.Scan(slices.Concat(userDest, otherDest, more)...)
		}))
	}))
}

// prefixed qualifies each column of a comma-separated list: prefixed("c.", "a, b") is "c.a, c.b".
func prefixed(prefix, columns string) string {
	return prefix + strings.ReplaceAll(columns, ", ", ", "+prefix)
}

// scanPlus is s with more destinations scanned after the caller's.
func scanPlus(s scanner, more ...any) scanner {
	return scanFunc(func(dest ...any) error { return s.Scan(append(dest, more...)...) })
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// ConsumeCode marks a code used in one conditional UPDATE; of concurrent callers exactly one wins.
func (db *DB) ConsumeCode(ctx context.Context, id string, now time.Time) (store.Code, error) {
	var c store.Code
	err := db.writeRow(ctx, func(r *sql.Row) (err error) { c, err = scanCode(r); return err }, `UPDATE codes SET used_at = ?
		WHERE id = ? AND used_at = 0 AND expires_at > ? AND attempts < max_attempts RETURNING `+codeColumns, ms(now), id, ms(now))
	if errors.Is(err, store.ErrNotFound) {
		return c, store.ErrUsed
	}
	return c, err
}

// ConsumeCodeByHash marks a code found by hash used, in one conditional UPDATE.
func (db *DB) ConsumeCodeByHash(ctx context.Context, method, hash string, now time.Time) (store.Code, error) {
	var c store.Code
	err := db.writeRow(ctx, func(r *sql.Row) (err error) { c, err = scanCode(r); return err }, consumeCodeByHashSQL,
		ms(now), hash, method, ms(now))
	if errors.Is(err, store.ErrNotFound) {
		return c, store.ErrUsed
	}
	return c, err
}

// The lookups by hash name the term "by_hash", the predicate of the partial index codes_hash, so
// that the planners (SQLite's matches the term itself) use the index.
var (
	consumeCodeByHashSQL = `UPDATE codes SET used_at = ?
		WHERE code_hash = ? AND by_hash AND method = ? AND used_at = 0 AND expires_at > ? AND attempts < max_attempts RETURNING ` + codeColumns
	findCodeByHashSQL = `SELECT ` + codeColumns + ` FROM codes WHERE code_hash = ? AND by_hash AND method = ?`
)

// codeUserSQL is findCodeByHashSQL with the code's user joined in (NULL columns, read as zero
// values, when there is none).
var codeUserSQL = `SELECT ` + userColumnsOrZero + `, ` + prefixed("c.", codeColumns) + `
	FROM codes c LEFT JOIN users u ON u.id = c.user_id WHERE c.code_hash = ? AND c.by_hash AND c.method = ?`

// userColumnsOrZero are u's userColumns, each read as its zero value when u is the missing side
// of a LEFT JOIN (email, phone and username are nullable anyway).
const userColumnsOrZero = `COALESCE(u.id, ''), COALESCE(u.tenant_id, ''), u.email, COALESCE(u.email_verified, FALSE), u.phone,
	COALESCE(u.phone_verified, FALSE), u.username, COALESCE(u.status, ''), COALESCE(u.profile, ''), COALESCE(u.created_at, 0),
	COALESCE(u.updated_at, 0), COALESCE(u.status_changed_at, 0), COALESCE(u.last_auth, 0)`

// FindCodeByHashWithUser is FindCodeByHash and the code's user in one read.
func (db *DB) FindCodeByHashWithUser(ctx context.Context, method, hash string) (store.Code, store.User, error) {
	var c store.Code
	u, err := scanUserAnd(db.queryRow(ctx, codeUserSQL, hash, method), func(s scanner) (err error) { c, err = scanCode(s); return err })
	if err != nil {
		return store.Code{}, store.User{}, err
	}
	if u.ID == "" {
		u = store.User{}
	}
	return c, u, nil
}

// FindCodeByHash returns a code issued with ByHash by its hash, without consuming it.
func (db *DB) FindCodeByHash(ctx context.Context, method, hash string) (store.Code, error) {
	return scanCode(db.queryRow(ctx, findCodeByHashSQL, hash, method))
}

// RecordCodeFailure counts one wrong attempt against a code.
func (db *DB) RecordCodeFailure(ctx context.Context, id string) (int, error) {
	var n int
	err := db.writeRow(ctx, func(r *sql.Row) error { return r.Scan(&n) },
		`UPDATE codes SET attempts = attempts + 1 WHERE id = ? RETURNING attempts`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return n, err
}

// GetLockout returns an identifier's failure state.
func (db *DB) GetLockout(ctx context.Context, appID, method, identifier string) (store.Lockout, error) {
	var l store.Lockout
	var until int64
	err := db.queryRow(ctx, `SELECT failures, locked_until FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?`,
		appID, method, identifier).Scan(&l.Failures, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Lockout{}, nil
	}
	l.LockedUntil = fromMS(until)
	return l, err
}

// RecordFailure counts a failure in one upsert: the count restarts when the window has passed or
// a lock has expired, and the identifier is locked when the count reaches the maximum.
func (db *DB) RecordFailure(ctx context.Context, appID, method, identifier string, now time.Time, p store.FailurePolicy) (store.Lockout, error) {
	n := ms(now)
	windowStart := n - p.Window.Milliseconds()
	lockUntil := n + p.LockFor.Milliseconds()
	restart := `(lockouts.window_start <= ? OR (lockouts.locked_until > 0 AND lockouts.locked_until <= ?))`
	newFailures := `CASE WHEN ` + restart + ` THEN 1 ELSE lockouts.failures + 1 END`
	// The times are cast to BIGINT: PostgreSQL would otherwise type a parameter beside the literal
	// 0 of a CASE as int4, which cannot hold Unix milliseconds.
	q := `INSERT INTO lockouts (app_id, method, identifier, failures, window_start, locked_until)
		VALUES (?, ?, ?, 1, ?, CASE WHEN 1 >= ? THEN CAST(? AS BIGINT) ELSE 0 END)
		ON CONFLICT (app_id, method, identifier) DO UPDATE SET
			failures = ` + newFailures + `,
			window_start = CASE WHEN ` + restart + ` THEN CAST(? AS BIGINT) ELSE lockouts.window_start END,
			locked_until = CASE WHEN ` + newFailures + ` >= ? THEN CAST(? AS BIGINT) WHEN ` + restart + ` THEN 0 ELSE lockouts.locked_until END
		RETURNING failures, locked_until`
	var l store.Lockout
	var until int64
	err := db.writeRow(ctx, func(r *sql.Row) error { return r.Scan(&l.Failures, &until) }, q,
		appID, method, identifier, n, p.Max, lockUntil,
		windowStart, n, // failures
		windowStart, n, n, // window_start
		windowStart, n, p.Max, lockUntil, windowStart, n, // locked_until
	)
	if err != nil {
		return l, fmt.Errorf("record failure: %w", err)
	}
	l.LockedUntil = fromMS(until)
	return l, nil
}

// ClearFailures deletes an identifier's failure state.
func (db *DB) ClearFailures(ctx context.Context, appID, method, identifier string) error {
	_, err := db.exec(ctx, `DELETE FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?`, appID, method, identifier)
	return err
}
