package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// TestOutboxJSONLimit: GET /dev/outbox.json answers a recipient's messages newest first, all of
// them by default and the newest `limit` when asked; a limit that is not a whole number from 1 to
// 200 is a 400 naming it.
func TestOutboxJSONLimit(t *testing.T) {
	ts := sqliteServer(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, to := range []string{"a@x.io", "b@x.io", "a@x.io", "a@x.io"} {
		m := store.OutboxMessage{ID: fmt.Sprint("m", i), Channel: "email", To: to, Subject: "s", Text: fmt.Sprint("text ", i),
			HTML: "<p>h</p>", CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if err := ts.Store.AddOutboxMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(path string) string {
		t.Helper()
		r := ts.Do(t, "GET", path, "", nil)
		var msgs []struct {
			ID string `json:"id"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &msgs) != nil {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.ID)
		}
		return fmt.Sprint(out)
	}
	for path, want := range map[string]string{
		"/dev/outbox.json?to=a@x.io":           "[m3 m2 m0]",
		"/dev/outbox.json?to=a@x.io&limit=1":   "[m3]",
		"/dev/outbox.json?limit=2":             "[m3 m2]",
		"/dev/outbox.json?to=a@x.io&limit=200": "[m3 m2 m0]",
	} {
		if got := ids(path); got != want {
			t.Errorf("GET %s = %s, want %s", path, got, want)
		}
	}
	for _, bad := range []string{"0", "201", "-1", "x", "1.5"} {
		assertInvalid(t, ts.Do(t, "GET", "/dev/outbox.json?limit="+bad, "", nil), "limit")
	}
}
