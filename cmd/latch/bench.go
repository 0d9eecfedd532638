package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-auth/latch/internal/bench"
)

func benchCmd() *cobra.Command {
	cfg := bench.Config{
		URL:          benchEnv("LATCH_BENCH_URL", "http://127.0.0.1:8080"),
		ClientID:     os.Getenv("LATCH_BENCH_CLIENT_ID"),
		ClientSecret: os.Getenv("LATCH_BENCH_CLIENT_SECRET"),
	}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive real login flows against a running Latch and report throughput and latency",
		Long: `bench drives Latch's real HTTP flows, the calls an app backend makes, against a running server.
It gets a client access token, creates its own users (bench-<run>-<n>@bench.latch.test), prepares
them, then runs --concurrency workers for --duration and reports:

  requests     logins (or grants) attempted in the timed part; one login is the whole flow
  per second   completed logins (or grants) per second of the timed part
  latency      p50/p90/p99/max of a completed login, whole flow (e.g. send + authenticate)
  errors       failed attempts by "STATUS error_code" (or "transport")

With --rate N it runs an open loop instead: N logins per second on a fixed schedule, however the
server keeps up, with up to --concurrency (default 256) in flight. Each login's latency counts
from the moment it was due, so waiting for the bench or the server is never left out (no
coordinated omission); per second is then the achieved rate, offered_per_second the schedule,
and p99.9 is reported too. 503s from a server shedding load are counted as errors by code.

Flows:
  client_credentials  POST /oidc/token client_credentials grants
  otp                 backend OTP: /cis/v1/auth/otp/send (channel direct) + /otp/authenticate
  magiclink           backend magic link: /cis/v1/auth/link/email/send (direct) + /authenticate
  totp                /cis/v1/auth/totp/authenticate; setup registers a TOTP per user
  refresh             /cis/v1/auth/token/refresh, always with the newest (rotated) refresh token
  hosted              EXPERIMENTAL hosted email OTP: /cis/v1/auth/otp/email, /otp/email/validation,
                      the result URI's redirect, and the authorization_code grant
  password            /cis/v1/auth/password/authenticate; setup creates each user with a password
                      (the application must have password_enabled: latch app update --setting)

Latch limits code sends to 5 per user in 15 minutes by default (app setting send_limit), so the
otp, magiclink and hosted flows create enough users for 3000 logins/s over the run (at least 64 per
worker; 18000 for 30 s); past that the server answers 429 rate_limit_exceeded: raise --users or
the app's send_limit for faster servers or long runs. A TOTP code logs a user in once per 30 s time
step, so a pool of U users caps totp at U/30 logins/s (default 40 users per worker; pass --users
30 x the expected logins/s). The command exits non-zero when any attempt failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			parent := cmd.Context()
			if parent == nil {
				parent = context.Background()
			}
			ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			res, err := bench.Run(ctx, cfg, cmd.ErrOrStderr())
			if err != nil && res.Flow == "" {
				return err // setup failed: nothing was measured
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				if jerr := enc.Encode(res); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), res.Table())
			}
			if err != nil {
				return fmt.Errorf("run interrupted: %w", err)
			}
			if res.Errors > 0 {
				return fmt.Errorf("%d errors during the run", res.Errors)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", cfg.URL, "Latch base URL (LATCH_BENCH_URL)")
	f.StringVar(&cfg.ClientID, "client-id", cfg.ClientID, "client id (LATCH_BENCH_CLIENT_ID)")
	f.StringVar(&cfg.ClientSecret, "client-secret", "", "client secret (LATCH_BENCH_CLIENT_SECRET)")
	f.StringVar(&cfg.Flow, "flow", "", "flow to run: "+strings.Join(bench.Flows, "|")+" (hosted is experimental)")
	f.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the timed part")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent workers (closed loop); with --rate, logins in flight at most (default 256)")
	f.Float64Var(&cfg.Rate, "rate", 0, "open loop: offer this many logins (or grants) per second on a fixed schedule, latency counted from each one's due time; 0: closed loop of --concurrency workers")
	f.IntVar(&cfg.Users, "users", 0, "users to create (default: otp/magiclink/hosted max(64 per worker, duration x 3000/s / 5), totp 40 per worker, refresh 4 per worker)")
	f.StringVar(&cfg.RedirectURI, "redirect-uri", "", "an allowed redirect URI of the app, for magiclink and hosted (default <url>/demo/callback)")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object on stdout")
	cmd.MarkFlagRequired("flow")
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if !f.Changed("client-secret") {
			cfg.ClientSecret = os.Getenv("LATCH_BENCH_CLIENT_SECRET")
		}
		if cfg.Rate > 0 && !f.Changed("concurrency") {
			cfg.Concurrency = 256
		}
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return fmt.Errorf("--client-id and --client-secret (or LATCH_BENCH_CLIENT_ID and LATCH_BENCH_CLIENT_SECRET) are required")
		}
		return nil
	}
	return cmd
}

// benchEnv is the environment variable name, or def when it is unset.
func benchEnv(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
