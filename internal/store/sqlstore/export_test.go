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

// Explain returns the plan the engine chooses for q with args, one line per step. With noSeqScan,
// PostgreSQL's sequential scans are disabled first, so a usable index is chosen even on an empty
// table (an unusable one still leaves a Seq Scan).
func (db *DB) Explain(ctx context.Context, noSeqScan bool, q string, args ...any) (string, error) {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	prefix := "EXPLAIN QUERY PLAN "
	if db.dialect.name == "postgres" {
		prefix = "EXPLAIN "
	}
	if db.dialect.name == "postgres" && noSeqScan {
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			return "", err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "RESET enable_seqscan")
	}
	rows, err := conn.QueryContext(ctx, db.dialect.rebind(prefix+q), args...)
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

var UserLatestCodeSQL = userLatestCodeSQL
