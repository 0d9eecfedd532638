// Package sqlstore is the one SQL implementation of store.Store, serving SQLite (modernc.org/sqlite)
// and PostgreSQL (pgx through database/sql). Queries are written once with ? placeholders; a small
// dialect rewrites what differs. Every rule that must hold across nodes is one atomic statement
// or one transaction here. It knows SQL, not login rules.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a store.Store on SQLite or PostgreSQL.
type DB struct {
	w       *sql.DB // the writer (SQLite: one connection)
	r       *sql.DB // readers (PostgreSQL: the same pool as w)
	dialect dialect
	// SQLite re-parses a query on every call; these cache prepared statements per query text.
	// nil on PostgreSQL, where pgx caches prepared statements itself.
	wStmts, rStmts *stmtCache
}

// stmtCache holds one prepared statement per query text for one pool.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement for q, preparing it once. It never holds the lock while
// preparing: preparing may wait for the writer's only connection, and a transaction holding that
// connection may be waiting to peek at the cache.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := c.peek(q); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing, ok := c.m[q]; ok { // another goroutine prepared it meanwhile
		st.Close()
		return existing, nil
	}
	c.m[q] = st
	return st, nil
}

// peek returns the prepared statement for q if there is one, never preparing: inside a
// transaction the writer's only connection is taken, so preparing on the pool would wait forever.
func (c *stmtCache) peek(q string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[q]
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// Options tune the SQLite engine.
type Options struct {
	// SynchronousFull sets SQLite synchronous=FULL (survives power loss) instead of NORMAL.
	SynchronousFull bool
}

// Open opens the database named by dsn — a postgres:// URL, or a path to an SQLite file —
// and runs the embedded migrations.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	var db *DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(dsn)
	} else {
		db, err = openSQLite(dsn, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{w: p, r: p, dialect: postgresDialect}, nil
}

func openSQLite(path string, opts Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	sync := "NORMAL"
	if opts.SynchronousFull {
		sync = "FULL"
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + sync + ")", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	wq.Add("_pragma", "cache_size(-16000)")       // keep the hot index pages of codes, sessions and users in memory
	wq.Add("_pragma", "wal_autocheckpoint(4000)") // fewer, larger checkpoints: each one fsyncs inside a commit
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writer connection: SQLite has one writer anyway, and queueing in Go is cheaper than
	// spinning on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxLifetime(0)
	return &DB{w: w, r: r, dialect: sqliteDialect, wStmts: newStmtCache(w), rStmts: newStmtCache(r)}, nil
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fsSub()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(db.dialect.goose, db.w, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Engine names the engine.
func (db *DB) Engine() string { return db.dialect.name }

// Ping checks the database is reachable.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes both pools.
func (db *DB) Close() error {
	db.wStmts.close()
	db.rStmts.close()
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// exec runs a write statement.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = db.dialect.rebind(q)
	if db.wStmts != nil {
		if st, err := db.wStmts.get(ctx, q); err == nil {
			res, err := st.ExecContext(ctx, args...)
			return res, db.dialect.mapErr(err)
		}
	}
	res, err := db.w.ExecContext(ctx, q, args...)
	return res, db.dialect.mapErr(err)
}

// writeRow runs a write statement that returns one row (UPDATE ... RETURNING) on the writer.
func (db *DB) writeRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = db.dialect.rebind(q)
	if db.wStmts != nil {
		if st, err := db.wStmts.get(ctx, q); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return db.w.QueryRowContext(ctx, q, args...)
}

// queryRow runs a read on the reader pool.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = db.dialect.rebind(q)
	if db.rStmts != nil {
		if st, err := db.rStmts.get(ctx, q); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return db.r.QueryRowContext(ctx, q, args...)
}

// query runs a read on the reader pool.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = db.dialect.rebind(q)
	if db.rStmts != nil {
		if st, err := db.rStmts.get(ctx, q); err == nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return db.r.QueryContext(ctx, q, args...)
}

// tx runs fn in one write transaction, committing when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(t *txn) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &txn{tx: sqlTx, d: db.dialect, stmts: db.wStmts}
	defer db.prepareMissed(ctx, t)
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return db.dialect.mapErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// prepareMissed prepares, once the transaction has released the connection, the statements it
// ran unprepared, so the next transaction finds them cached.
func (db *DB) prepareMissed(ctx context.Context, t *txn) {
	for _, q := range t.missed {
		db.wStmts.get(ctx, q)
	}
}

// txn is a transaction that rewrites placeholders, reuses prepared statements and maps errors
// like DB does.
type txn struct {
	tx     *sql.Tx
	d      dialect
	stmts  *stmtCache
	missed []string // queries run without a prepared statement, prepared after the transaction
}

// stmt returns the transaction's copy of the cached statement for q, or nil (and remembers q).
func (t *txn) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	st := t.stmts.peek(q)
	if st == nil {
		t.missed = append(t.missed, q)
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, t.d.mapErr(err)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	return res, t.d.mapErr(err)
}

func (t *txn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// ms converts a time to the stored Unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts stored Unix milliseconds back; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nullable stores "" as NULL so unique indexes ignore absent identifiers.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// rowsAffected reports whether a statement changed exactly one row.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
