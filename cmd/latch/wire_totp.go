package main

import (
	"crypto/rand"
	"log/slog"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

// buildTOTP wires the TOTP service: secrets sealed with the box of the signing keys, lockouts in
// the same store as the one-time codes', crypto/rand for secrets and challenges.
func buildTOTP(c *core, users *user.Service, sessions *session.Service, clk clock.Clock, log *slog.Logger, m *metrics.Metrics) *totp.Service {
	return totp.NewService(totp.Deps{Store: c.store, Users: users, Sessions: sessions, Box: c.box, Clock: clk,
		Rand: rand.Reader, Log: log, Metrics: m})
}
