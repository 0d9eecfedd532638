package otp

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/metrics"
)

// Deliver sends msg carrying the issued code. When delivery fails the code is withdrawn, so it
// neither lingers unusable nor counts against the send rate limit, and the failure maps to what
// the caller sees: no provider for the channel is a 400 external_provider_configuration_error, a
// provider failure a 502 delivery_failed.
func (c *Codes) Deliver(ctx context.Context, issued Issued, s delivery.Sender, msg delivery.Message) error {
	err := deliver(ctx, s, c.metrics, msg)
	if err != nil {
		if werr := c.store.DeleteCode(context.WithoutCancel(ctx), issued.ID); werr != nil {
			c.log.Error("withdraw undelivered code", "err", werr)
		}
	}
	return err
}

func deliver(ctx context.Context, s delivery.Sender, m *metrics.Metrics, msg delivery.Message) error {
	err := s.Send(ctx, msg)
	switch {
	case err == nil:
		m.Message(msg.Channel, "sent")
		return nil
	case errors.Is(err, delivery.ErrNoProvider):
		m.Message(msg.Channel, "no_provider")
		return apierr.New(http.StatusBadRequest, "external_provider_configuration_error", "channel: no "+msg.Channel+" provider is configured")
	default:
		m.Message(msg.Channel, "failed")
		return &deliveryError{err: err, channel: msg.Channel}
	}
}

// deliveryError keeps the provider's error for the log while the caller sees a 502.
type deliveryError struct {
	err     error
	channel string
}

func (e *deliveryError) Error() string { return "deliver " + e.channel + ": " + e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

// APIError is the 502 the caller sees.
func (e *deliveryError) APIError() *apierr.Error {
	return apierr.New(http.StatusBadGateway, "delivery_failed", "The "+e.channel+" provider failed to deliver the message; nothing was sent")
}
