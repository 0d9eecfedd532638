// Package outbox is the development "delivery" that stores messages instead
// of sending them, so a local UI can show them.
//
// It owns only the hand-off to a Store; storage lives elsewhere. It must
// never log message bodies.
package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// Store persists outbox messages.
type Store interface {
	AddOutboxMessage(ctx context.Context, m delivery.Message, at time.Time) error
}

// Sender stores every message it is asked to send.
type Sender struct {
	store Store
	now   func() time.Time
}

var _ delivery.Sender = (*Sender)(nil)

// New returns a Sender writing to s, stamping messages with now (time.Now if nil).
func New(s Store, now func() time.Time) *Sender {
	if s == nil {
		panic("outbox: nil Store")
	}
	if now == nil {
		now = time.Now
	}
	return &Sender{store: s, now: now}
}

// Send stores m and returns the store's error wrapped with delivery.ErrDeliveryFailed.
func (s *Sender) Send(ctx context.Context, m delivery.Message) error {
	if err := s.store.AddOutboxMessage(ctx, m, s.now()); err != nil {
		return fmt.Errorf("%w: outbox: %w", delivery.ErrDeliveryFailed, err)
	}
	return nil
}

// Rows adapts the database's outbox table (store.Outbox) to Store, giving each message an id.
type Rows struct{ Outbox store.Outbox }

// AddOutboxMessage stores m as one outbox row.
func (r Rows) AddOutboxMessage(ctx context.Context, m delivery.Message, at time.Time) error {
	return r.Outbox.AddOutboxMessage(ctx, store.OutboxMessage{ID: secret.NewID(), Channel: m.Channel, To: m.To,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, CreatedAt: at})
}
