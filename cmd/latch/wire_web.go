package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/web"
)

// buildWeb wires the dev outbox pages and the demo app (dev mode only). The demo signs people in
// through Latch's public API over real HTTP at addr, with a client of its own whose credentials
// are derived from the encryption key: stable across restarts, held server-side, never printed.
func buildWeb(ctx context.Context, c *core, cfg *config.Config, addr, appID string) (http.Handler, error) {
	creds, err := c.apps.EnsureDerivedClient(ctx, appID, "demo")
	if err != nil {
		return nil, fmt.Errorf("demo client: %w", err)
	}
	return web.New(web.Config{
		BaseURL:      "http://" + addr,
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret,
		Outbox:       c.store,
		Log:          newLogger(cfg, os.Stderr).With("component", "web"),
		HTTPClient:   &http.Client{Timeout: 15 * time.Second},
	}), nil
}
