package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestCloseTwice: closing a store twice is harmless (the second does nothing).
func TestCloseTwice(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "latch.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("the second Close panicked: %v", r)
		}
	}()
	db.Close()
}
