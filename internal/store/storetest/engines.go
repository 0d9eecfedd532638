// Package storetest is the conformance suite every store engine must pass, and the helper that
// gives tests a real, empty store on each engine: SQLite in a temp dir always, PostgreSQL when
// LATCH_TEST_POSTGRES names a server (CI sets it). It must never touch a database it did not create.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/latch-auth/latch/internal/store/sqlstore"
)

// PostgresEnv is the variable naming the test PostgreSQL server.
const PostgresEnv = "LATCH_TEST_POSTGRES"

// Engine opens a fresh, empty, migrated store of one engine.
type Engine struct {
	Name string
	// DSN returns the dsn of a fresh empty database (an SQLite file or a PostgreSQL schema); each
	// call gives a new one. Several stores opened on one DSN share data, like several nodes.
	DSN func(t testing.TB) string
}

// Open opens a store on dsn, closed when the test ends.
func Open(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Engines lists the engines available to this test run.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", DSN: sqliteDSN}, {Name: "postgres", DSN: postgresDSN}}
}

// Each runs fn once per engine as a subtest, with a fresh store.
func Each(t *testing.T, fn func(t *testing.T, s *sqlstore.DB)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, Open(t, e.DSN(t))) })
	}
}

func sqliteDSN(t testing.TB) string { return filepath.Join(t.TempDir(), "latch.db") }

func postgresDSN(t testing.TB) string {
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL half skipped: set %s=postgres://user:pass@127.0.0.1:5432/db?sslmode=disable to run it (.ci/run does)", PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "latch_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("postgres create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err == nil {
			a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres dsn: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
