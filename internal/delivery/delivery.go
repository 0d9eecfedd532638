package delivery

import (
	"context"
	"errors"
	"fmt"
)

// ChannelEmail marks a message delivered by email.
const ChannelEmail = "email"

// ChannelSMS marks a message delivered by SMS.
const ChannelSMS = "sms"

// Message is one rendered message to deliver.
type Message struct {
	Channel  string // ChannelEmail or ChannelSMS
	To       string // email address or E.164 phone number
	Subject  string // email only
	Text     string // plain-text body: the email text part, or the SMS body
	HTML     string // email only
	FromName string // optional display name of the email sender ("senderName")
	SenderID string // optional SMS sender id (at most 11 chars); providers may ignore it
}

// Sender delivers one message; failures wrap ErrDeliveryFailed and never
// mention the body, the code or provider secrets.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrDeliveryFailed is wrapped by every error a Sender returns.
var ErrDeliveryFailed = errors.New("delivery failed")

// ErrNoProvider is returned when no Sender is configured for a channel.
var ErrNoProvider = errors.New("no provider configured for channel")

// Router sends each message to the Sender for its channel.
type Router struct {
	Email Sender
	SMS   Sender
}

var _ Sender = Router{}

// Send delivers m through the Sender for m.Channel, returning ErrNoProvider
// when that Sender is nil or the channel is unknown.
func (r Router) Send(ctx context.Context, m Message) error {
	var s Sender
	switch m.Channel {
	case ChannelEmail:
		s = r.Email
	case ChannelSMS:
		s = r.SMS
	}
	if s == nil {
		return fmt.Errorf("%w: %q", ErrNoProvider, m.Channel)
	}
	err := s.Send(ctx, m)
	if err != nil && !errors.Is(err, ErrDeliveryFailed) {
		// Keep the contract even for a Sender that forgot to wrap.
		return fmt.Errorf("%w: %w", ErrDeliveryFailed, err)
	}
	return err
}
