package node

import (
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/delivery/outbox"
	"github.com/latch-auth/latch/internal/delivery/smtp"
	"github.com/latch-auth/latch/internal/delivery/twilio"
	"github.com/latch-auth/latch/internal/delivery/webhook"
	"github.com/latch-auth/latch/internal/store"
)

// providers builds the delivery router: configured providers first, the dev outbox for the rest in
// dev mode. It also describes each channel for the start-up banner (no secrets).
func providers(cfg *config.Config, s store.Outbox, clk clock.Clock) (delivery.Router, map[string]string, error) {
	var r delivery.Router
	desc := map[string]string{"email": "none", "sms": "none"}
	box := outbox.New(outbox.Rows{Outbox: s}, clk.Now)
	if cfg.HasEmailProvider() {
		sc := smtp.Config{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password.Reveal(), From: cfg.SMTP.From, TLS: cfg.SMTP.TLS}
		sender, err := smtp.New(sc)
		if err != nil {
			return r, nil, err // its message names the provider
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
			return r, nil, err // its message names the provider
		}
		r.SMS, desc["sms"] = sender, "twilio "+tc.String()
	case cfg.Webhook.URL != "":
		wc := webhook.Config{URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret.Reveal()}
		sender, err := webhook.New(wc)
		if err != nil {
			return r, nil, err // its message names the provider
		}
		r.SMS, desc["sms"] = sender, "webhook "+wc.String()
	case cfg.Dev():
		r.SMS, desc["sms"] = box, "dev outbox"
	}
	return r, desc, nil
}
