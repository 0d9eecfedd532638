package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/store"
)

func serveCmd() *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Latch server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, &cfg, os.Stdout, nil)
		},
	}
	cfg.BindServe(cmd.Flags())
	return cmd
}

func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Prod {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// serve runs the server until ctx ends, then drains in-flight requests. When ready is not nil the
// listening address is sent on it once the server accepts connections.
func serve(ctx context.Context, cfg *config.Config, out io.Writer, ready chan<- string) error {
	if err := cfg.ValidateServe(); err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	cfg.Addr = addr // so the default issuer names the port really bound (":0" in tests)
	n, err := node.New(ctx, cfg, node.Options{BaseURL: cfg.BaseURL(), Log: log})
	if err != nil {
		ln.Close()
		return err
	}
	defer n.Close()
	if err := banner(ctx, out, cfg, n, addr); err != nil {
		ln.Close()
		return err
	}
	if cfg.DevOnNetwork() {
		log.Warn("dev mode on a non-loopback address (--dev): whoever reaches it reads every code at /dev/outbox", "addr", addr)
	}
	srv := &http.Server{
		Handler:           n.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	go n.Keys.Run(bg, 30*time.Second)
	go janitor(bg, n.Store, log)
	if cfg.Pprof != "" {
		go servePprof(bg, cfg.Pprof, log)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// banner prints where the node listens, what it runs on, and the default application. The
// first start shows the default client's secret once: on stdout in dev mode, in a private file
// of the data directory in production (stdout ends up in journald and log collectors).
func banner(ctx context.Context, out io.Writer, cfg *config.Config, n *node.Node, addr string) error {
	base := cfg.BaseURL()
	mode := "dev (dev outbox and demo on; use --prod in production)"
	switch {
	case cfg.Prod:
		mode = "production"
	case !cfg.Dev():
		mode = "providers configured (no dev outbox or demo; --prod also enforces a key and a provider)"
	}
	fmt.Fprintf(out, "Latch %s listening on http://%s\n", version, addr)
	fmt.Fprintf(out, "  issuer:    %s\n", n.Issuer)
	fmt.Fprintf(out, "  database:  %s\n", cfg.DatabaseString())
	fmt.Fprintf(out, "  mode:      %s\n", mode)
	fmt.Fprintf(out, "  email:     %s\n  sms:       %s\n", n.Delivery["email"], n.Delivery["sms"])
	if cfg.Dev() {
		fmt.Fprintf(out, "  outbox:    %s/dev/outbox\n", base)
		fmt.Fprintf(out, "  demo:      %s/demo\n", base)
	}
	if cfg.DevOnNetwork() {
		fmt.Fprintf(out, "  WARNING:   dev mode on %s (--dev): anyone who can reach this address reads every code at /dev/outbox\n", addr)
	}
	if n.KeyGenerated {
		fmt.Fprintf(out, "  encryption key generated in %s (set LATCH_ENCRYPTION_KEY in production)\n", filepath.Join(cfg.DataDir, "encryption.key"))
	}
	fmt.Fprintf(out, "  tenant:    %s\n", n.TenantID)
	fmt.Fprintf(out, "  app:       %s (%s)\n", n.DefaultApp.Name, n.DefaultApp.ID)
	creds := n.FirstClient
	switch {
	case creds != nil && cfg.Prod:
		path, err := writeFirstClient(cfg.DataDir, *creds)
		if err != nil {
			return fmt.Errorf("first start: %w (the secret is lost: `latch client create --app %s` makes another client)", err, creds.AppID)
		}
		fmt.Fprintf(out, "\nFirst start: created the %q application and its client %s. Its secret is in %s (mode 0600),\n", n.DefaultApp.Name, creds.ClientID, path)
		fmt.Fprintf(out, "shown nowhere else: store it, then delete the file.\n\n")
	case creds != nil:
		fmt.Fprintf(out, "\nFirst start: created the %q application and its client. The secret is shown only now:\n", n.DefaultApp.Name)
		fmt.Fprintf(out, "  client_id:     %s\n  client_secret: %s\n", creds.ClientID, creds.ClientSecret)
		fmt.Fprintf(out, "Get a client access token:\n  curl -s %s/oidc/token -d grant_type=client_credentials -d client_id=%s -d client_secret=%s\n\n",
			base, creds.ClientID, creds.ClientSecret)
	default:
		if first := firstOperatorClient(ctx, n); first != "" {
			fmt.Fprintf(out, "  client_id: %s (secret shown at first start only; `latch client create --app %s` makes another)\n", first, n.DefaultApp.ID)
		}
	}
	return nil
}

// firstOperatorClient names the default application's oldest client an operator was given a
// secret for (derived clients, such as the demo's, are skipped: their secrets were never shown).
func firstOperatorClient(ctx context.Context, n *node.Node) string {
	clients, err := n.Store.ListClients(ctx, n.DefaultApp.ID)
	if err != nil {
		return ""
	}
	for _, cl := range clients {
		if !app.IsDerivedClient(cl.ClientID) {
			return cl.ClientID
		}
	}
	return ""
}

// firstClientFile is the name, in the data directory, of the file that receives the first
// client's credentials in production.
const firstClientFile = "first-client.json"

// writeFirstClient writes creds as JSON ({app_id, client_id, client_secret}, as `latch app create
// --json` prints them) to a new file of mode 0600 in dir, replacing any older one, and returns
// its path.
func writeFirstClient(dir string, creds app.Credentials) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, firstClientFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	err = json.NewEncoder(f).Encode(creds)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// servePprof serves pprofHandler on addr (a loopback address) until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	// Sample contention too, so /debug/pprof/mutex and /debug/pprof/block show where requests
	// wait (the SQLite writer, the pools), not only where they spend CPU.
	runtime.SetMutexProfileFraction(20)
	runtime.SetBlockProfileRate(int(20 * time.Microsecond))
	srv := &http.Server{Addr: addr, Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("pprof", "err", err)
	}
}

// pprofHandler serves net/http/pprof's profiles, but not /debug/pprof/cmdline: the command line
// may carry --encryption-key or --smtp-password.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.Handle("/debug/pprof/cmdline", http.NotFoundHandler())
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// janitor deletes expired codes, sessions, refresh tokens, challenges and finished lockouts every
// hour (and once at start), and dev-outbox messages after a week. Every node runs it; the deletes
// are idempotent.
func janitor(ctx context.Context, s store.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.Prune(ctx, time.Now(), 24*time.Hour, 7*24*time.Hour)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("prune expired rows", "err", err)
		case n > 0:
			log.Info("pruned expired rows", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
