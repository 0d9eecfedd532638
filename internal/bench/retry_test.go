package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetryShed: a setup step the server shed (503) is tried again; any other error, or too many
// sheds, ends setup.
func TestRetryShed(t *testing.T) {
	defer func(w time.Duration) { shedWait = w }(shedWait)
	shedWait = time.Millisecond
	shed := &opError{key: "503 service_unavailable"}

	calls := 0
	err := retryShed(context.Background(), func() error {
		if calls++; calls < 3 {
			return shed
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("two sheds then success: err %v after %d calls", err, calls)
	}

	calls = 0
	other := &opError{key: "400 system_invalid_input"}
	if err := retryShed(context.Background(), func() error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("a 400 is not retried: err %v after %d calls", err, calls)
	}

	calls = 0
	if err := retryShed(context.Background(), func() error { calls++; return shed }); !errors.Is(err, shed) || calls != setupShedRetries+1 {
		t.Fatalf("always shed: err %v after %d calls, want %d", err, calls, setupShedRetries+1)
	}
}
