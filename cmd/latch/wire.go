package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/delivery/outbox"
	"github.com/latch-auth/latch/internal/delivery/smtp"
	"github.com/latch-auth/latch/internal/delivery/twilio"
	"github.com/latch-auth/latch/internal/delivery/webhook"
	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/user"
)

// providers builds the delivery router: configured providers first, the dev outbox for the rest in
// dev mode. It returns a description of each channel for the start-up banner (no secrets).
func providers(cfg *config.Config, s store.Outbox) (delivery.Router, map[string]string, error) {
	var r delivery.Router
	desc := map[string]string{"email": "none", "sms": "none"}
	box := outbox.New(outbox.Rows{Outbox: s}, time.Now)
	if cfg.HasEmailProvider() {
		sc := smtp.Config{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password.Reveal(), From: cfg.SMTP.From, TLS: cfg.SMTP.TLS}
		sender, err := smtp.New(sc)
		if err != nil {
			return r, nil, fmt.Errorf("smtp: %w", err)
		}
		r.Email, desc["email"] = sender, "smtp "+sc.String()
	} else if cfg.Dev() {
		r.Email, desc["email"] = box, "dev outbox"
	}
	switch {
	case cfg.Twilio.AccountSID != "":
		tc := twilio.Config{AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken.Reveal(),
			From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID}
		sender, err := twilio.New(tc)
		if err != nil {
			return r, nil, fmt.Errorf("twilio: %w", err)
		}
		r.SMS, desc["sms"] = sender, "twilio "+tc.String()
	case cfg.Webhook.URL != "":
		wc := webhook.Config{URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret.Reveal()}
		sender, err := webhook.New(wc)
		if err != nil {
			return r, nil, fmt.Errorf("sms webhook: %w", err)
		}
		r.SMS, desc["sms"] = sender, "webhook "+wc.String()
	case cfg.Dev():
		r.SMS, desc["sms"] = box, "dev outbox"
	}
	return r, desc, nil
}

// buildAPI wires the services behind the HTTP API.
func buildAPI(c *core, cfg *config.Config, issuer string, sender delivery.Sender, log *slog.Logger, m *metrics.Metrics) *httpapi.Server {
	clk := clock.System{}
	signer := &token.Signer{Ring: c.keys, Issuer: issuer, Clock: clk}
	users := user.NewService(c.store, clk, c.apps.TenantID)
	sessions := session.NewService(c.store, signer, c.box, clk, log)
	codes := otp.NewCodes(c.store, c.box, clk, rand.Reader, log, m)
	return &httpapi.Server{
		Log:      log,
		Metrics:  m,
		Store:    c.store,
		Apps:     c.apps,
		Users:    users,
		Tokens:   signer,
		Keys:     c.keys,
		Issuer:   issuer,
		Sessions: sessions,
		OTP:      &otp.Flow{Codes: codes, Users: users, Sessions: sessions, Sender: sender, Metrics: m, Log: log},
		Links:    &magiclink.Flow{Codes: codes, Users: users, Sessions: sessions, Sender: sender, Metrics: m, Log: log, Issuer: issuer},
		TOTP:     buildTOTP(c, users, sessions, clk, log, m),
		Hosted:   &hosted.Flow{Codes: codes, Users: users, Sessions: sessions, Sender: sender, Metrics: m, Log: log, Issuer: issuer},
		Dev:      cfg.Dev(),
	}
}
