package app

import (
	"context"
	"errors"

	"github.com/latch-auth/latch/internal/store"
)

// ClientApp resolves a client id given without its secret (a browser-facing hosted request that
// names client_id, as an OIDC authorization request does) to the client and its application.
// An unknown id and a management application's client are both ErrBadClient: such requests act
// for an app's users, never for an admin.
func (s *Service) ClientApp(ctx context.Context, clientID string) (store.Client, App, error) {
	if clientID == "" || len(clientID) > 256 {
		return store.Client{}, App{}, ErrBadClient
	}
	c, err := s.client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, App{}, ErrBadClient
	}
	if err != nil {
		return store.Client{}, App{}, err
	}
	if c.Admin {
		return store.Client{}, App{}, ErrBadClient
	}
	a, err := s.App(ctx, c.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, App{}, ErrBadClient
	}
	if err != nil {
		return store.Client{}, App{}, err
	}
	return c, a, nil
}
