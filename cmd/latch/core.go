package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/token"
)

// core is what every command that touches the database needs.
type core struct {
	store        *sqlstore.DB
	box          *secret.Box
	keys         *token.KeyRing
	apps         *app.Service
	keyGenerated bool
}

// openCore opens the database, the encryption box and the key ring. It fails when the
// encryption key cannot decrypt the database's secrets: it never re-keys or overwrites.
func openCore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*core, error) {
	if err := cfg.ValidateStorage(); err != nil {
		return nil, err
	}
	key, generated, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.DSN(), sqlstore.Options{SynchronousFull: cfg.SQLiteFull})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	clk := clock.System{}
	keys := token.NewKeyRing(db, box, clk, time.Duration(app.MaxTokenTTLSeconds)*time.Second, log)
	if err := keys.EnsureKey(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return &core{store: db, box: box, keys: keys, apps: app.NewService(db, box, clk), keyGenerated: generated}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
