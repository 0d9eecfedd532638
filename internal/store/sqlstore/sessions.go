package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// SaveLogin writes the session, its refresh token and the user's last_auth in one transaction,
// with what the guard uses up. On SQLite the statements run one by one in the writer; on
// PostgreSQL they go in one pipelined round trip (see runPipelined).
func (db *DB) SaveLogin(ctx context.Context, s store.Session, isNew bool, rt store.RefreshToken, guard store.LoginGuard) error {
	ops, err := loginOps(s, isNew, rt, guard, db.wr == nil)
	if err != nil {
		return err
	}
	return db.runSteps(ctx, ops, nil)
}

// runSteps runs first, then what then decides from first's results, as one write transaction:
// pipelined on PostgreSQL (runPipelined), one statement at a time in the writer on SQLite.
func (db *DB) runSteps(ctx context.Context, first []op, then func() ([]op, error)) error {
	if db.wr == nil {
		return db.runPipelined(ctx, first, then)
	}
	return db.tx(ctx, func(tx *txn) error {
		if err := runOps(ctx, tx, first); err != nil || then == nil {
			return err
		}
		more, err := then()
		if err != nil {
			return err
		}
		return runOps(ctx, tx, more)
	})
}

// op is one statement of a write transaction and what its result must be.
type op struct {
	what string // for errors: "insert session"
	q    string
	args []any
	// one, when not nil, is the error when the statement does not change exactly one row; miss,
	// when not nil, is asked instead to tell which error (in the open transaction on SQLite,
	// after the rollback on PostgreSQL; it must only read).
	one  error
	miss func(ctx context.Context, queryRow func(q string, args ...any) scanner) error
	// row, when not nil, is given the scan of the one row the statement returns (sql.ErrNoRows
	// when there is none) and decides.
	row func(scan func(dest ...any) error) error
	// asserted (PostgreSQL only) means q checks itself: it fails with division_by_zero when
	// the check fails, and one is then the error (or miss is asked). A batch whose statements
	// all check themselves can carry its COMMIT (see runPipelined).
	asserted bool
	// fetch means row only records what the statement returns and never refuses the
	// transaction, so the batch can still carry its COMMIT.
	fetch bool
}

// settled reports whether o's outcome is known once the server has run it without error.
func (o op) settled() bool { return o.asserted || o.fetch || (o.one == nil && o.row == nil) }

// assertOne is an UPDATE made to fail with division_by_zero unless it changed exactly one row
// (PostgreSQL). The divisor is not a constant, so the planner cannot fold it.
func assertOne(update string) string {
	return `WITH changed AS (` + update + ` RETURNING 1) SELECT 1 / (CASE WHEN count(*) = 1 THEN 1 ELSE 0 END) FROM changed`
}

// oneOp is a statement that must change exactly one row, else fails with err: checked by the
// server on PostgreSQL (assertOne), by the caller on SQLite.
func oneOp(what string, err error, q string, asserts bool, args ...any) op {
	if asserts {
		return op{what: what, one: err, q: assertOne(q), args: args, asserted: true}
	}
	return op{what: what, one: err, q: q, args: args}
}

// loginOps are the statements of SaveLogin, in order: the guard's conditional UPDATEs (each must
// change exactly one row), the lockout check, the session, its refresh token, the user's
// last_auth. With asserts (PostgreSQL) every check is made by the statement itself, so the
// whole transaction, COMMIT included, is one round trip.
func loginOps(s store.Session, isNew bool, rt store.RefreshToken, g store.LoginGuard, asserts bool) ([]op, error) {
	amr, err := json.Marshal(s.AMR)
	if err != nil {
		return nil, err
	}
	now := ms(g.Now)
	var ops []op
	if g.CodeID != "" {
		ops = append(ops, oneOp("use code", store.ErrUsed, `UPDATE codes SET used_at = ?
			WHERE id = ? AND used_at = 0 AND expires_at > ? AND attempts < max_attempts`, asserts, now, g.CodeID, now))
	}
	if g.ChallengeID != "" {
		ops = append(ops, oneOp("use challenge", store.ErrChallengeGone,
			`UPDATE totp_challenges SET used_at = ? WHERE id = ? AND used_at = 0 AND expires_at > ?`, asserts, now, g.ChallengeID, now))
	}
	if g.TOTPID != "" {
		ops = append(ops, oneOp("accept step", store.ErrUsed, acceptStep, asserts, g.TOTPStep, now, g.TOTPID, g.TOTPStep))
	}
	if l := g.Lockout; l != nil {
		// Refused if locked or at the limit by now; otherwise the failures are forgotten (the
		// DELETE is undone with everything else when the login is refused).
		windowStart := now - l.Window.Milliseconds()
		if asserts {
			// The DELETE locks the row and returns its newest state, which the statement checks.
			ops = append(ops, op{what: "lockout", one: store.ErrLocked, asserted: true,
				q: `WITH cleared AS (DELETE FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?
					RETURNING failures, window_start, locked_until)
				SELECT 1 / (CASE WHEN count(*) = 0 THEN 1 ELSE 0 END) FROM cleared
				WHERE locked_until > ? OR (window_start > ? AND failures >= ?)`,
				args: []any{l.AppID, l.Method, l.Identifier, now, windowStart, l.Max}})
		} else {
			ops = append(ops, op{what: "lockout", q: `SELECT failures, window_start, locked_until FROM lockouts
				WHERE app_id = ? AND method = ? AND identifier = ?`, args: []any{l.AppID, l.Method, l.Identifier},
				row: func(scan func(...any) error) error {
					var failures int
					var ws, lockedUntil int64
					switch err := scan(&failures, &ws, &lockedUntil); {
					case errors.Is(err, sql.ErrNoRows):
						return nil
					case err != nil:
						return err
					case lockedUntil > now || (ws > windowStart && failures >= l.Max):
						return store.ErrLocked
					}
					return nil
				}},
				op{what: "clear failures", q: `DELETE FROM lockouts WHERE app_id = ? AND method = ? AND identifier = ?`,
					args: []any{l.AppID, l.Method, l.Identifier}})
		}
	}
	if isNew {
		ops = append(ops, op{what: "insert session", q: `INSERT INTO sessions (id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`, args: []any{s.ID, s.AppID, s.UserID, s.ClientID, string(amr), ms(s.AuthTime), ms(s.CreatedAt), ms(s.ExpiresAt)}})
	} else {
		prev, err := json.Marshal(s.PrevAMR)
		if err != nil {
			return nil, err
		}
		o := oneOp("update session", store.ErrNotFound, `UPDATE sessions SET amr = ?, auth_time = ?, expires_at = ? WHERE id = ? AND ended_at = 0 AND amr = ?`,
			asserts, string(amr), ms(s.AuthTime), ms(s.ExpiresAt), s.ID, string(prev))
		o.miss = func(ctx context.Context, queryRow func(string, ...any) scanner) error {
			// Gone, ended, or joined by another login meanwhile: tell which.
			var ended int64
			if err := queryRow(`SELECT ended_at FROM sessions WHERE id = ?`, s.ID).Scan(&ended); err == nil && ended == 0 {
				return store.ErrStale
			}
			return store.ErrNotFound
		}
		ops = append(ops, o)
	}
	if rt.Hash != "" {
		ops = append(ops, op{what: "insert refresh token", q: insertRefreshSQL,
			args: []any{rt.Hash, rt.SessionID, rt.ClientID, string(rt.Payload), ms(rt.CreatedAt), ms(rt.ExpiresAt)}})
	}
	ops = append(ops, op{what: "touch user", q: `UPDATE users SET last_auth = ? WHERE id = ?`, args: []any{ms(s.AuthTime), s.UserID}})
	return ops, nil
}

// runOps runs ops one by one in tx, stopping at the first that fails.
func runOps(ctx context.Context, tx *txn, ops []op) error {
	for _, o := range ops {
		if o.row != nil {
			if err := o.row(tx.queryRow(ctx, o.q, o.args...).Scan); err != nil {
				return opErr(o, err)
			}
			continue
		}
		res, err := tx.exec(ctx, o.q, o.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", o.what, err)
		}
		if o.one != nil {
			if n, err := rowsAffected(res); err != nil || n != 1 {
				if o.miss != nil {
					return o.miss(ctx, func(q string, args ...any) scanner { return tx.queryRow(ctx, q, args...) })
				}
				return errors.Join(o.one, err)
			}
		}
	}
	return nil
}

// opErr wraps a failure of o, leaving the store's sentinel errors as they are.
func opErr(o op, err error) error {
	for _, sentinel := range []error{store.ErrLocked, store.ErrUsed, store.ErrChallengeGone, store.ErrNotFound, store.ErrStale} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", o.what, err)
}

const insertRefreshSQL = `INSERT INTO refresh_tokens (token_hash, session_id, client_id, payload, created_at, expires_at, used_at)
	VALUES (?, ?, ?, ?, ?, ?, 0)`

const sessionColumns = `id, app_id, user_id, client_id, amr, auth_time, created_at, expires_at, ended_at`

// tokenSessionUser joins a refresh token (t, selected by token_hash and client_id) to its session
// (s) and the session's user (u); the foreign keys make both exist.
const tokenSessionUser = ` FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
	WHERE t.token_hash = ? AND t.client_id = ?`

// sessionUserColumns are the columns scanSessionUser reads after its head: s's, then u's.
var sessionUserColumns = prefixed("s.", sessionColumns) + ", " + prefixed("u.", userColumns)

// scanSessionUser scans a row of head's columns, then sessionColumns, then userColumns.
func scanSessionUser(scan func(...any) error, head ...any) (store.Session, store.User, error) {
	var u store.User
	sess, err := scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return scan(append(append(head, sd...), ud...)...)
		}))
		return err
	}))
	return sess, u, err
}

func scanSession(s scanner) (store.Session, error) {
	var out store.Session
	var amr string
	var auth, created, expires, ended int64
	err := s.Scan(&out.ID, &out.AppID, &out.UserID, &out.ClientID, &amr, &auth, &created, &expires, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return out, store.ErrNotFound
	}
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal([]byte(amr), &out.AMR); err != nil {
		return out, fmt.Errorf("session amr: %w", err)
	}
	out.AuthTime, out.CreatedAt, out.ExpiresAt, out.EndedAt = fromMS(auth), fromMS(created), fromMS(expires), fromMS(ended)
	return out, nil
}

// GetSession returns a session by id.
func (db *DB) GetSession(ctx context.Context, id string) (store.Session, error) {
	return scanSession(db.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
}

// EndSession ends a live session.
func (db *DB) EndSession(ctx context.Context, id string, now time.Time) error {
	res, err := db.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0 AND expires_at > ?`, ms(now), id, ms(now))
	if err != nil {
		return err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SessionLive reports whether a session is live at now.
func (db *DB) SessionLive(ctx context.Context, id string, now time.Time) (bool, error) {
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM sessions WHERE id = ? AND ended_at = 0 AND expires_at > ?`, id, ms(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// RotateRefreshToken marks old used and inserts next in one transaction. The conditional UPDATE
// decides the race: of two concurrent rotations of one token exactly one succeeds. A token that
// was already rotated ends its session (reuse detection). next without a payload inherits old's,
// so what a refresh token renews survives any number of rotations.
//
// On SQLite the transaction is two steps (runSteps): the UPDATE with one read of the token's
// session and user, then what that read decides. PostgreSQL does it in one round trip
// (rotatePipelined).
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) (store.RefreshToken, store.Session, store.User, error) {
	if db.wr == nil {
		return db.rotatePipelined(ctx, oldHash, next, now)
	}
	var old store.RefreshToken
	var sess store.Session
	var u store.User
	rotated, found, reused := false, false, false
	var usedAt int64
	n := ms(now)
	first := []op{
		{what: "rotate refresh token", q: `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND client_id = ? AND used_at = 0 AND expires_at > ?
			RETURNING token_hash, session_id, client_id, payload, created_at, expires_at, used_at`, args: []any{n, oldHash, next.ClientID, n},
			row: func(scan func(...any) error) error {
				var payload string
				var created, expires, used int64
				switch err := scan(&old.Hash, &old.SessionID, &old.ClientID, &payload, &created, &expires, &used); {
				case errors.Is(err, sql.ErrNoRows):
					return nil // unknown, expired or used: the next read tells which
				case err != nil:
					return err
				}
				rotated = true
				old.Payload, old.CreatedAt, old.ExpiresAt, old.UsedAt = []byte(payload), fromMS(created), fromMS(expires), fromMS(used)
				return nil
			}},
		// The token's session and user (the foreign keys make both exist). Its used_at is the
		// stored one when the UPDATE changed nothing.
		{what: "refresh token session", q: `SELECT t.used_at, ` + sessionUserColumns + tokenSessionUser,
			args: []any{oldHash, next.ClientID},
			row: func(scan func(...any) error) error {
				var err error
				sess, u, err = scanSessionUser(scan, &usedAt)
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				found = err == nil
				return err
			}},
	}
	err := db.runSteps(ctx, first, func() ([]op, error) {
		switch {
		case !found:
			return nil, store.ErrNotFound
		case !rotated && usedAt == 0: // expired, not reused
			return nil, store.ErrNotFound
		case !rotated:
			reused = true
			return []op{{what: "end session", q: `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0`, args: []any{n, sess.ID}}}, nil
		case !sess.EndedAt.IsZero() || !sess.ExpiresAt.After(now):
			return nil, store.ErrNotFound // the session ended: the rollback keeps the token as it was
		case u.Status != store.UserActive:
			return nil, store.ErrUserNotActive // the rollback keeps the token as it was
		}
		if next.ExpiresAt.After(sess.ExpiresAt) { // sliding: the session lives as long as its newest refresh token
			sess.ExpiresAt = next.ExpiresAt
		}
		next.SessionID = old.SessionID
		if next.Payload == nil { // the new token renews what the old one did (resource, claims, nonce)
			next.Payload = old.Payload
		}
		return []op{
			{what: "slide session", q: `UPDATE sessions SET expires_at = ? WHERE id = ?`, args: []any{ms(sess.ExpiresAt), sess.ID}},
			{what: "insert refresh token", q: insertRefreshSQL,
				args: []any{next.Hash, next.SessionID, next.ClientID, string(next.Payload), ms(next.CreatedAt), ms(next.ExpiresAt)}},
		}, nil
	})
	if err != nil {
		return store.RefreshToken{}, store.Session{}, store.User{}, err
	}
	if reused {
		return store.RefreshToken{}, store.Session{}, store.User{}, store.ErrReused
	}
	return old, sess, u, nil
}

// errStateChanged is a refused rotation whose reason was gone when it was asked for.
var errStateChanged = errors.New("refresh token changed meanwhile")

// rotatePipelined is RotateRefreshToken on PostgreSQL in one round trip. The first statement
// uses the token up only if its session is live and its user active, and fails (asserted)
// otherwise; the session's slide, the new token and the read of what the caller gets follow in
// the same batch, with the COMMIT. A refused rotation rolls back and then asks why; only a
// reused token writes again (its session ends). The token, session and user are read after the
// COMMIT has been queued: should that read fail, the rotation has still happened.
func (db *DB) rotatePipelined(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) (store.RefreshToken, store.Session, store.User, error) {
	n := ms(now)
	var payload any // NULL: the new token inherits the old one's payload
	if next.Payload != nil {
		payload = string(next.Payload)
	}
	for attempt := 0; ; attempt++ {
		var old store.RefreshToken
		var sess store.Session
		var u store.User
		ops := []op{
			{what: "rotate refresh token", asserted: true,
				q: `WITH rotated AS (UPDATE refresh_tokens SET used_at = ?
						WHERE token_hash = ? AND client_id = ? AND used_at = 0 AND expires_at > ? RETURNING session_id)
					SELECT 1 / (CASE WHEN count(*) = 1 THEN 1 ELSE 0 END)
					FROM rotated r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
					WHERE s.ended_at = 0 AND s.expires_at > ? AND u.status = ?`,
				args: []any{n, oldHash, next.ClientID, n, n, store.UserActive},
				miss: func(ctx context.Context, queryRow func(string, ...any) scanner) error {
					return db.rotationRefused(queryRow, oldHash, next.ClientID, n)
				}},
			// Sliding: the session lives as long as its newest refresh token.
			{what: "slide session", q: `UPDATE sessions SET expires_at = GREATEST(expires_at, ?)
				WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ? AND client_id = ?)`,
				args: []any{ms(next.ExpiresAt), oldHash, next.ClientID}},
			// The new token renews what the old one did (resource, claims, nonce) unless it says.
			{what: "insert refresh token", q: `INSERT INTO refresh_tokens (token_hash, session_id, client_id, payload, created_at, expires_at, used_at)
				SELECT ?, session_id, client_id, COALESCE(CAST(? AS TEXT), payload), ?, ?, 0 FROM refresh_tokens WHERE token_hash = ? AND client_id = ?`,
				args: []any{next.Hash, payload, ms(next.CreatedAt), ms(next.ExpiresAt), oldHash, next.ClientID}},
			{what: "rotated", fetch: true, q: `SELECT t.token_hash, t.session_id, t.client_id, t.payload, t.created_at, t.expires_at, t.used_at, ` +
				sessionUserColumns + tokenSessionUser, args: []any{oldHash, next.ClientID},
				row: func(scan func(...any) error) error {
					var payload string
					var created, expires, used int64
					var err error
					sess, u, err = scanSessionUser(scan, &old.Hash, &old.SessionID, &old.ClientID, &payload, &created, &expires, &used)
					old.Payload, old.CreatedAt, old.ExpiresAt, old.UsedAt = []byte(payload), fromMS(created), fromMS(expires), fromMS(used)
					return err
				}},
		}
		err := db.runPipelined(ctx, ops, nil)
		if errors.Is(err, errStateChanged) && attempt == 0 {
			continue // refused, but for a reason gone by the time it was asked: once more
		}
		if err != nil {
			return store.RefreshToken{}, store.Session{}, store.User{}, err
		}
		return old, sess, u, nil
	}
}

// rotationRefused tells, after the rollback, why a rotation was refused: an unknown or expired
// token, an ended session or a user who may not log in, or a token used before (which ends its
// session: reuse detection).
func (db *DB) rotationRefused(queryRow func(string, ...any) scanner, oldHash, clientID string, n int64) error {
	var used, expires, ended, sessExpires int64
	var sid, status string
	err := queryRow(`SELECT t.used_at, t.expires_at, s.id, s.ended_at, s.expires_at, u.status`+tokenSessionUser, oldHash, clientID).Scan(&used, &expires, &sid, &ended, &sessExpires, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("rotate refresh token: %w", err)
	case used != 0:
		var id string
		err := queryRow(`UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at = 0 RETURNING id`, n, sid).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("end session of a reused refresh token: %w", err)
		}
		return store.ErrReused
	case expires <= n, ended != 0, sessExpires <= n:
		return store.ErrNotFound
	case status != store.UserActive:
		return store.ErrUserNotActive
	}
	return errStateChanged
}
