package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// Query texts the external tests inspect.
var (
	FindCodeByHashSQL    = findCodeByHashSQL
	ConsumeCodeByHashSQL = consumeCodeByHashSQL
)

// Explain returns the plan the engine chooses for q with args, one line per step (on PostgreSQL
// the generic plan). With noSeqScan,
// PostgreSQL's sequential scans are disabled first, so a usable index is chosen even on an empty
// table (an unusable one still leaves a Seq Scan).
func (db *DB) Explain(ctx context.Context, noSeqScan bool, q string, args ...any) (string, error) {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	query, qargs := "EXPLAIN QUERY PLAN "+q, args
	if db.dialect.name == "postgres" {
		// The generic plan, which a prepared statement keeps once PostgreSQL settles on it: PREPARE
		// the query, then EXPLAIN EXECUTE it with the arguments written as literals.
		if _, err := conn.ExecContext(ctx, "PREPARE latch_explain AS "+db.dialect.rebind(q)); err != nil {
			return "", err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "DEALLOCATE latch_explain")
		lits := make([]string, len(args))
		for i, a := range args {
			if str, ok := a.(string); ok {
				lits[i] = "'" + strings.ReplaceAll(str, "'", "''") + "'"
			} else {
				lits[i] = fmt.Sprint(a)
			}
		}
		if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			return "", err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "RESET plan_cache_mode")
		query, qargs = "EXPLAIN EXECUTE latch_explain("+strings.Join(lits, ", ")+")", nil
	}
	if db.dialect.name == "postgres" && noSeqScan {
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			return "", err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "RESET enable_seqscan")
	}
	rows, err := conn.QueryContext(ctx, db.dialect.rebind(query), qargs...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1])) // the detail (SQLite) or the plan line (PostgreSQL)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// PlannedRead is a query and arguments of the right types, for the plan tests.
type PlannedRead struct {
	Q    string
	Args []any
}

// LoginReads are the joined reads of the login paths on engine (by its name), keyed by a name for
// test messages.
func LoginReads(engine string) map[string]PlannedRead {
	reads := map[string]PlannedRead{
		"code with user":        {codeUserSQL, []any{"h", "link"}},
		"latest code":           {latestCodeSQL, []any{"a", "otp", "user:x"}},
		"refresh token session": {`SELECT t.used_at, ` + sessionUserColumns + tokenSessionUser, []any{"h", "c"}},
		// A write, but planned like the reads: it must seek the token and its session.
		"rotate refresh token": {rotateRefreshSQL, []any{int64(1), "h", "c", int64(1), int64(1)}},
		// The bearer check of every user-token request: a seek of the session and of the jti.
		"access token live": {accessTokenLiveSQL, []any{"s", int64(1), "j"}},
	}
	d := sqliteDialect
	if engine == postgresDialect.name {
		d = postgresDialect
	}
	q := newQueries(d)
	for by, q := range q.userLatestCode {
		reads["user latest code by "+string(by)] = PlannedRead{q, []any{"a", "otp", "user:", "a", "otp", "user:", "x"}}
	}
	for by, q := range q.userLoginTOTPs {
		reads["user login totps by "+string(by)] = PlannedRead{q, []any{"a", "a", "totp", "user:", "x"}}
	}
	for by, q := range q.userPassword {
		reads["user password by "+string(by)] = PlannedRead{q, []any{"a", "password", "user:", "x"}}
	}
	return reads
}
