package outbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
)

// memStore is an in-memory Store that can be told to fail.
type memStore struct {
	msgs []delivery.Message
	at   []time.Time
	err  error
}

func (s *memStore) AddOutboxMessage(_ context.Context, m delivery.Message, at time.Time) error {
	if s.err != nil {
		return s.err
	}
	s.msgs = append(s.msgs, m)
	s.at = append(s.at, at)
	return nil
}

func TestSend(t *testing.T) {
	fixed := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	storeErr := errors.New("disk full")
	tests := []struct {
		name    string
		storeEr error
		msg     delivery.Message
	}{
		{name: "email stored", msg: delivery.Message{Channel: delivery.ChannelEmail, To: "a@example.com", Subject: "S", Text: "T 123456", HTML: "<p>H</p>"}},
		{name: "sms stored", msg: delivery.Message{Channel: delivery.ChannelSMS, To: "+14155552671", Text: "123456 is your code"}},
		{name: "store failure", storeEr: storeErr, msg: delivery.Message{Channel: delivery.ChannelSMS, To: "+1", Text: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{err: tt.storeEr}
			err := New(st, func() time.Time { return fixed }).Send(context.Background(), tt.msg)
			if tt.storeEr != nil {
				if !errors.Is(err, delivery.ErrDeliveryFailed) || !errors.Is(err, tt.storeEr) {
					t.Fatalf("error = %v, want ErrDeliveryFailed wrapping the store error", err)
				}
				if len(st.msgs) != 0 {
					t.Errorf("stored %d messages on failure", len(st.msgs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(st.msgs) != 1 || st.msgs[0] != tt.msg || !st.at[0].Equal(fixed) {
				t.Errorf("stored %+v at %v, want %+v at %v", st.msgs, st.at, tt.msg, fixed)
			}
		})
	}
}

func TestNewDefaultsClock(t *testing.T) {
	st := &memStore{}
	before := time.Now()
	if err := New(st, nil).Send(context.Background(), delivery.Message{To: "x", Text: "y"}); err != nil {
		t.Fatal(err)
	}
	if len(st.at) != 1 || st.at[0].Before(before) || st.at[0].After(time.Now()) {
		t.Errorf("timestamp %v not from time.Now", st.at)
	}
}

func TestNewPanicsOnNilStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil, nil) did not panic")
		}
	}()
	New(nil, nil)
}
