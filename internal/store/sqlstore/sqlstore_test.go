package sqlstore_test

import (
	"context"
	"testing"

	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, e.DSN(t)) })
		})
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.DSN(t)
			a := storetest.Open(t, dsn)
			if err := a.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			// A second node opening the same database runs the migrations again without harm.
			b, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
			if err != nil {
				t.Fatalf("second open: %v", err)
			}
			b.Close()
		})
	}
}
