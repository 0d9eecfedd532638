package delivery

import (
	"context"
	"errors"
	"testing"
)

// recordingSender remembers the messages it got and returns err.
type recordingSender struct {
	got []Message
	err error
}

func (r *recordingSender) Send(_ context.Context, m Message) error {
	r.got = append(r.got, m)
	return r.err
}

func TestRouterSend(t *testing.T) {
	plainErr := errors.New("provider exploded")
	tests := []struct {
		name      string
		email     bool
		sms       bool
		smsErr    error
		channel   string
		wantEmail int
		wantSMS   int
		wantErr   []error
	}{
		{name: "email to email sender", email: true, sms: true, channel: ChannelEmail, wantEmail: 1},
		{name: "sms to sms sender", email: true, sms: true, channel: ChannelSMS, wantSMS: 1},
		{name: "nil email sender", sms: true, channel: ChannelEmail, wantErr: []error{ErrNoProvider}},
		{name: "nil sms sender", email: true, channel: ChannelSMS, wantErr: []error{ErrNoProvider}},
		{name: "unknown channel", email: true, sms: true, channel: "fax", wantErr: []error{ErrNoProvider}},
		{name: "empty channel", email: true, sms: true, channel: "", wantErr: []error{ErrNoProvider}},
		{
			name: "sender error keeps ErrDeliveryFailed", email: true, sms: true,
			smsErr: plainErr, channel: ChannelSMS, wantSMS: 1,
			wantErr: []error{ErrDeliveryFailed, plainErr},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, sms := &recordingSender{}, &recordingSender{err: tt.smsErr}
			var r Router
			if tt.email {
				r.Email = email
			}
			if tt.sms {
				r.SMS = sms
			}
			m := Message{Channel: tt.channel, To: "x", Text: "hello"}
			err := r.Send(context.Background(), m)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("Send: unexpected error %v", err)
			}
			if len(tt.wantErr) > 0 && err == nil {
				t.Fatalf("Send: want error, got nil")
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Send error %v is not %v", err, want)
				}
			}
			if len(email.got) != tt.wantEmail || len(sms.got) != tt.wantSMS {
				t.Fatalf("email got %d, sms got %d; want %d, %d", len(email.got), len(sms.got), tt.wantEmail, tt.wantSMS)
			}
			if tt.wantEmail+tt.wantSMS == 1 {
				got := append(email.got, sms.got...)[0]
				if got != m {
					t.Errorf("sender got %+v, want %+v", got, m)
				}
			}
		})
	}
}
