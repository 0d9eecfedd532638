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

// keyPropagation is how long a rotated signing key is published before it signs: two reload
// intervals of the key ring, so every node verifies its tokens from the first one.
const keyPropagation = 60 * time.Second

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
	// A retired key stays published for the longest token lifetime, plus the time it may go on
	// signing while its successor propagates, plus verification leeway and one reload interval.
	keys := token.NewKeyRing(db, box, clk, time.Duration(app.MaxTokenTTLSeconds)*time.Second+keyPropagation+2*time.Minute, log)
	keys.Propagation = keyPropagation
	if cfg.SigningAlg != "" {
		if keys.Alg, err = token.ParseAlg(cfg.SigningAlg); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := keys.EnsureKey(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return &core{store: db, box: box, keys: keys, apps: app.NewService(db, box, clk), keyGenerated: generated}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
