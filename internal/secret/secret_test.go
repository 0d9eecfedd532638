package secret

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte("top secret"), []byte("row1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "top secret") {
		t.Fatal("sealed value contains plaintext")
	}
	t.Run("round_trip", func(t *testing.T) {
		pt, err := b.Open(sealed, []byte("row1"))
		if err != nil || string(pt) != "top secret" {
			t.Fatalf("got %q, %v", pt, err)
		}
	})
	t.Run("other_row_refused", func(t *testing.T) {
		if _, err := b.Open(sealed, []byte("row2")); err != ErrDecrypt {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other_key_refused", func(t *testing.T) {
		other, _ := NewBox(bytes.Repeat([]byte{8}, 32))
		if _, err := other.Open(sealed, []byte("row1")); err != ErrDecrypt {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("hash_is_keyed_and_separated", func(t *testing.T) {
		other, _ := NewBox(bytes.Repeat([]byte{8}, 32))
		if b.Hash("code", "123456") == other.Hash("code", "123456") {
			t.Fatal("hash does not depend on key")
		}
		if b.Hash("code", "123456") == b.Hash("refresh", "123456") {
			t.Fatal("hash does not depend on purpose")
		}
		if !Equal(b.Hash("code", "1"), b.Hash("code", "1")) {
			t.Fatal("hash not deterministic")
		}
	})
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{strings.Repeat("ab", 32), true},
		{"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", true},
		{"short", false},
		{strings.Repeat("ab", 31), false},
	} {
		_, err := ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) err=%v want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestKeyFileIsReused(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := LoadOrCreateKeyFile(dir)
	if err != nil || !created {
		t.Fatalf("first: %v created=%v", err, created)
	}
	k2, created, err := LoadOrCreateKeyFile(dir)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second: %v created=%v same=%v", err, created, bytes.Equal(k1, k2))
	}
}

func TestValueIsRedacted(t *testing.T) {
	v := Value("hunter2")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", v)
	out := buf.String() + fmt.Sprint(v) + fmt.Sprintf("%v %s %#v", v, v, v)
	if strings.Contains(out, "hunter2") {
		t.Fatalf("secret leaked: %s", out)
	}
	if v.Reveal() != "hunter2" {
		t.Fatal("reveal")
	}
}

func TestNumericCode(t *testing.T) {
	c, err := NumericCode(bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4}, 100)), 8)
	if err != nil || len(c) != 8 {
		t.Fatalf("%q %v", c, err)
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			t.Fatalf("non-digit in %q", c)
		}
	}
}

// TestNewTimeID: ids sort by their time (across every carry of the encoding), never repeat, and
// are 22 URL-safe characters with 80 random bits.
func TestNewTimeID(t *testing.T) {
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	prev := NewTimeID(base)
	seen := map[string]bool{prev: true}
	for i := 1; i < 200_000; i++ {
		at := base.Add(time.Duration(i*37) * time.Millisecond)
		id := NewTimeID(at)
		if len(id) != 22 || strings.Trim(id, "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("id %q: want 22 URL-safe characters", id)
		}
		if id <= prev {
			t.Fatalf("id at %v sorts before the one before it: %q <= %q", at, id, prev)
		}
		if seen[id] {
			t.Fatalf("repeated id %q", id)
		}
		seen[id], prev = true, id
	}
	// Within one millisecond only the random part differs: 1,000 ids, 1,000 values.
	same := map[string]bool{}
	for range 1000 {
		id := NewTimeID(base)
		if id[:8] != NewTimeID(base)[:8] {
			t.Fatalf("the time part of %q changed within a millisecond", id)
		}
		same[id] = true
	}
	if len(same) != 1000 {
		t.Fatalf("%d distinct ids of 1,000 in one millisecond", len(same))
	}
}
