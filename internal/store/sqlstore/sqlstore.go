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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"

	"github.com/latch-auth/latch/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a store.Store on SQLite or PostgreSQL.
type DB struct {
	w       *sql.DB // the writer (SQLite: one connection)
	r       *sql.DB // readers (PostgreSQL: the same pool as w)
	dialect dialect
	// wr runs SQLite's write transactions with group commit on w's one connection; nil on
	// PostgreSQL, where transactions run concurrently on the pool.
	wr *writer
	// ckpt runs SQLite's checkpoints in the background on ckptConn; nil on PostgreSQL.
	ckptConn *sql.DB
	ckpt     *checkpointer
	// SQLite re-parses a query on every call; this caches the readers' prepared statements per
	// query text (the writer has its own). nil on PostgreSQL, where pgx caches them itself.
	rStmts *stmtCache
	// queries are the texts built from the dialect once, at open.
	queries queries
}

// queries are the joined login reads, by the column a user is found by.
type queries struct {
	userLatestCode, userLoginTOTPs, userPassword map[store.UserBy]string
}

func newQueries(d dialect) queries {
	return queries{userLatestCode: userLatestCodeQueries(d), userLoginTOTPs: userLoginTOTPsQueries(d), userPassword: userPasswordQueries(d)}
}

// stmtCache holds one prepared statement per query text for the reader pool.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement for q, preparing it once. It does not hold the lock while
// preparing, so a slow prepare does not stall the reads whose statements are cached.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.m[q]
	c.mu.RUnlock()
	if ok {
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
	if db.dialect.name == sqliteDialect.name {
		// After the migrations, which need the writer's connection through the pool.
		if db.wr, err = newWriter(ctx, db.w, db.dialect); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite writer: %w", err)
		}
		db.ckpt, db.ckptConn = newCheckpointer(db.ckptConn), nil
	}
	return db, nil
}

// pgConnectTimeout bounds a connection attempt when the URL sets no connect_timeout: while a
// server is unreachable (a failover moving its address), a request gets its 503 within this time
// instead of hanging.
const pgConnectTimeout = 3 * time.Second

func openPostgres(dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	p := stdlib.OpenDB(*cfg, stdlib.OptionResetSession(checkConn))
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{w: p, r: p, dialect: postgresDialect, queries: newQueries(postgresDialect)}, nil
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
	// temp_store: each write transaction runs in a savepoint of a group-commit batch (see writer),
	// and SQLite journals the pages a savepoint changes; that journal spilled to a temporary file,
	// a pwrite per page inside the one writer. In memory it is a copy.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + sync + ")", "foreign_keys(1)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	wq.Add("_pragma", "cache_size(-16000)") // keep the hot index pages of codes, sessions and users in memory
	// The checkpoints run on a connection of their own (see checkpointer); the writer's is a backstop.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
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
	c, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		c.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxLifetime(0)
	return &DB{w: w, r: r, ckptConn: c, dialect: sqliteDialect, rStmts: newStmtCache(r), queries: newQueries(sqliteDialect)}, nil
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fsSub()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(db.dialect.goose, db.w, sub, goose.WithGoMigrations(db.checkMigration()))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// checkMigration (version 7) creates latch_check on PostgreSQL, whose statements check themselves
// (see dialect.render); SQLite checks results in Go and needs nothing.
func (db *DB) checkMigration() *goose.Migration {
	return goose.NewGoMigration(7,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if !db.dialect.serverChecks {
				return nil
			}
			_, err := tx.ExecContext(ctx, checkFunction)
			return err
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if !db.dialect.serverChecks {
				return nil
			}
			_, err := tx.ExecContext(ctx, `DROP FUNCTION IF EXISTS latch_check(BOOLEAN, TEXT)`)
			return err
		}})
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
	var err error
	if db.ckpt != nil {
		err = db.ckpt.close()
	}
	if db.ckptConn != nil { // opened, never started (Open failed before the writer)
		err = errors.Join(err, db.ckptConn.Close())
	}
	if db.wr != nil {
		err = errors.Join(err, db.wr.close())
	}
	db.rStmts.close()
	err = errors.Join(err, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// exec runs a write statement (on SQLite, as a transaction of its own, so it shares a commit
// with the transactions queued beside it).
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if db.wr == nil {
		res, err := db.w.ExecContext(ctx, db.dialect.rebind(q), args...)
		return res, db.dialect.mapErr(err)
	}
	var res sql.Result
	err := db.tx(ctx, func(t *txn) error {
		var err error
		res, err = t.exec(ctx, q, args...)
		return err
	})
	return res, err
}

// writeRow runs a write statement that returns one row (UPDATE ... RETURNING) and scans it with
// scan. A scan error rolls the statement back.
func (db *DB) writeRow(ctx context.Context, scan func(*sql.Row) error, q string, args ...any) error {
	if db.wr == nil {
		return db.dialect.mapErr(scan(db.w.QueryRowContext(ctx, db.dialect.rebind(q), args...)))
	}
	return db.tx(ctx, func(t *txn) error { return scan(t.queryRow(ctx, q, args...)) })
}

// readsRunToTheEnd: on SQLite, reads ignore the cancellation of the request's context. With a
// cancellable context, database/sql starts a goroutine per query to close its rows on cancel, and
// the SQLite driver another to interrupt it: two goroutines started and scheduled for every
// lookup, about 7% of the OTP login throughput on two cores. Every read Latch makes is an indexed
// lookup or a page with a LIMIT, so finishing one for a client that has gone costs little. (On
// PostgreSQL the same change measured 15% slower, so reads there keep the request's context.)

// queryRow runs a read on the reader pool; its Scan maps errors as the dialect does.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) scanner {
	q = db.dialect.rebind(q)
	if db.rStmts != nil {
		ctx = context.WithoutCancel(ctx) // see readsRunToTheEnd
		if st, err := db.rStmts.get(ctx, q); err == nil {
			return mappedRow{r: st.QueryRowContext(ctx, args...), d: db.dialect}
		}
	}
	// PostgreSQL: a read that failed because the server was gone runs once more (see retryableRead).
	again := func() *sql.Row { return db.r.QueryRowContext(ctx, q, args...) }
	return mappedRow{r: again(), d: db.dialect, ctx: ctx, again: again}
}

// mappedRow is a row whose Scan error is mapped to the store's errors (sql.ErrNoRows kept).
type mappedRow struct {
	r     *sql.Row
	d     dialect
	ctx   context.Context
	again func() *sql.Row // runs the read once more after an unavailable database; nil: never
}

func (m mappedRow) Scan(dest ...any) error {
	err := m.r.Scan(dest...)
	if err != nil && m.again != nil && retryableRead(m.ctx, err) {
		err = m.again().Scan(dest...)
	}
	return m.d.mapErr(err)
}

// query runs a read on the reader pool.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = db.dialect.rebind(q)
	if db.rStmts != nil {
		ctx = context.WithoutCancel(ctx) // see readsRunToTheEnd
		if st, err := db.rStmts.get(ctx, q); err == nil {
			rows, err := st.QueryContext(ctx, args...)
			return rows, db.dialect.mapErr(err)
		}
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil && retryableRead(ctx, err) {
		rows, err = db.r.QueryContext(ctx, q, args...) // once more, as queryRow does
	}
	return rows, db.dialect.mapErr(err)
}

// tx runs fn in one write transaction, committing when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(t *txn) error) error {
	if db.wr != nil {
		return db.wr.run(ctx, fn)
	}
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.dialect.mapErr(fmt.Errorf("begin: %w", err))
	}
	if err := fn(&txn{q: sqlTx, d: db.dialect}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return db.dialect.mapErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// querier is what a transaction runs statements on: a *sql.Tx (PostgreSQL) or the SQLite
// writer's *sql.Conn inside a savepoint.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// txn is a transaction that rewrites placeholders, reuses prepared statements and maps errors
// like DB does.
type txn struct {
	q    querier
	d    dialect
	prep func(ctx context.Context, q string) (*sql.Stmt, error) // SQLite writer's statement cache; nil on PostgreSQL
	// detached (the SQLite writer) runs statements without the caller's cancellation. The
	// driver interrupts the connection when a statement's context ends, and an interrupted write
	// in an explicit transaction makes SQLite roll the whole transaction back: the batch that
	// every queued caller shares. One client going away must not fail the others.
	detached bool
}

// ctx is the context t's statements run with.
func (t *txn) ctx(ctx context.Context) context.Context {
	if t.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the cached prepared statement for q, or nil where there is no cache.
func (t *txn) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.prep == nil {
		return nil
	}
	st, err := t.prep(ctx, q)
	if err != nil {
		return nil // run it unprepared; the error, if it is one, shows there
	}
	return st
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.ctx(ctx)
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, t.d.mapErr(err)
	}
	res, err := t.q.ExecContext(ctx, q, args...)
	return res, t.d.mapErr(err)
}

func (t *txn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.ctx(ctx)
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, q, args...)
}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.ctx(ctx)
	q = t.d.rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, q, args...)
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

// changedSome is the result of a write that must change a row, else store.ErrNotFound.
func changedSome(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := rowsAffected(res)
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// scanAll returns a reader of a query's rows (and error) that scans each with scan and closes
// them: scanAll(scanUser)(db.query(...)).
func scanAll[T any](scan func(scanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// rowsAffected reports how many rows a statement changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
