package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, e.DSN(t)) })
		})
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.DSN(t)
			a := storetest.Open(t, dsn)
			if err := a.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			// A second node opening the same database runs the migrations again without harm.
			b, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
			if err != nil {
				t.Fatalf("second open: %v", err)
			}
			b.Close()
		})
	}
}

// TestHashLookupsUseThePartialIndex: codes_hash indexes only the codes found by hash (by_hash),
// and a planner uses a partial index only when the query states its predicate. The lookups by
// hash must use it; the same lookup without the term "by_hash" must not (else the check below
// could not tell).
func TestHashLookupsUseThePartialIndex(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			db := storetest.Open(t, e.DSN(t))
			ctx := context.Background()
			now := time.Now().UnixMilli()
			for _, c := range []struct {
				name string
				q    string
				args []any
				want bool
			}{
				{"find", sqlstore.FindCodeByHashSQL, []any{"h", "link"}, true},
				{"consume", sqlstore.ConsumeCodeByHashSQL, []any{now, "h", "link", now}, true},
				{"find without the predicate", strings.Replace(sqlstore.FindCodeByHashSQL, " AND by_hash", "", 1), []any{"h", "link"}, false},
			} {
				plan, err := db.Explain(ctx, true, c.q, c.args...)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if got := strings.Contains(plan, "codes_hash"); got != c.want {
					t.Errorf("%s: plan uses codes_hash = %v, want %v; plan:\n%s", c.name, got, c.want, plan)
				}
			}
		})
	}
}

// TestLoginReadPlans: the joined reads of the login paths seek every table by index on both
// engines, even on empty tables (the statistics PostgreSQL plans a prepared statement with on a
// new database, and may keep using as the tables grow).
func TestLoginReadPlans(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			db := storetest.Open(t, e.DSN(t))
			ctx := context.Background()
			for by, r := range sqlstore.LoginReads(e.Name) {
				plan, err := db.Explain(ctx, false, r.Q, r.Args...)
				if err != nil {
					t.Fatalf("%s: %v", by, err)
				}
				// LIST SUBQUERY: SQLite materializes an IN (SELECT …) over every matching row.
				for _, bad := range []string{"SCAN", "Seq Scan", "Hash", "LIST SUBQUERY"} {
					if strings.Contains(plan, bad) {
						t.Errorf("%s: the plan has a %s:\n%s", by, bad, plan)
					}
				}
				// The rows of the user found are sought by the user's id, not filtered out of
				// every row of the app after the index scan.
				if strings.Contains(plan, "Join Filter") && strings.Contains(plan, "u.id)") {
					t.Errorf("%s: rows are joined to the user by a filter, not an index seek:\n%s", by, plan)
				}
				// The lockout is one row: its seek must name the identifier, not filter every
				// lockout of the app and method after the index scan.
				lines := strings.Split(plan, "\n")
				for i, line := range lines {
					if strings.Contains(line, "lockouts_pkey") && (i+1 == len(lines) || !strings.Contains(lines[i+1], "identifier")) {
						t.Errorf("%s: the lockout is not sought by identifier:\n%s", by, plan)
					}
				}
			}
		})
	}
}
