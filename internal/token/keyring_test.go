package token

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/storetest"
)

func jwksKIDs(t *testing.T, k *KeyRing) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(k.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, key := range set.Keys {
		out = append(out, key.KID)
	}
	return out
}

// TestRotatedKeyIsPublishedBeforeItSigns: with a propagation delay, a rotated key appears in the
// JWKS at once but signs only after the delay, so other nodes (reloading every 30 s) already know
// it when its first token arrives; the first key of a database signs at once.
func TestRotatedKeyIsPublishedBeforeItSigns(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	box, _ := secret.NewBox(bytes.Repeat([]byte{1}, 32))
	clk := clock.NewFixed(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	k := NewKeyRing(db, box, clk, 25*time.Hour, log)
	k.Propagation = time.Minute
	if err := k.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	first := k.KID()
	if first == "" {
		t.Fatal("the first key must sign at once")
	}
	clk.Advance(time.Hour)
	second, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.KID(); got != first {
		t.Fatalf("a fresh key signs before it propagated: signing %s, want %s", got, first)
	}
	if kids := jwksKIDs(t, k); len(kids) != 2 || kids[0] != second || kids[1] != first {
		t.Fatalf("JWKS must publish both keys, newest first: %v", kids)
	}
	clk.Advance(59 * time.Second)
	k.Load(ctx)
	if k.KID() != first {
		t.Fatal("signing switched before the propagation delay")
	}
	clk.Advance(time.Second)
	if err := k.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if k.KID() != second {
		t.Fatalf("signing %s after the delay, want %s", k.KID(), second)
	}
	// The retired key stays published for the retention, then goes.
	clk.Advance(25*time.Hour - time.Minute)
	k.Load(ctx)
	if kids := jwksKIDs(t, k); len(kids) != 2 {
		t.Fatalf("retired key dropped before its retention: %v", kids)
	}
	clk.Advance(2 * time.Minute)
	k.Load(ctx)
	if kids := jwksKIDs(t, k); len(kids) != 1 || kids[0] != second {
		t.Fatalf("retired key still published after its retention: %v", kids)
	}
}
