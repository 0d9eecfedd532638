package token

import (
	"context"
	"fmt"
	"time"
)

// KeyInfo describes one published signing key, never its private part.
type KeyInfo struct {
	KID       string
	Alg       string
	Status    string // "signing" for the key that signs now, "validating" for the others
	CreatedAt time.Time
	RetiredAt time.Time // zero while it is the newest key
	RemovedAt time.Time // when it leaves the JWKS; zero while it is the newest key
}

// List returns the keys a token may still be verified with, newest first, as the store holds
// them now (a key rotated by another node is listed before this node has reloaded).
func (k *KeyRing) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	now, signing := k.clock.Now(), k.KID()
	var out []KeyInfo
	for _, row := range rows {
		if !row.RetiredAt.IsZero() && now.Sub(row.RetiredAt) > k.retention {
			continue
		}
		info := KeyInfo{KID: row.KID, Alg: row.Alg, Status: "validating", CreatedAt: row.CreatedAt, RetiredAt: row.RetiredAt}
		if row.KID == signing {
			info.Status = "signing"
		}
		if !row.RetiredAt.IsZero() {
			info.RemovedAt = row.RetiredAt.Add(k.retention)
		}
		out = append(out, info)
	}
	return out, nil
}
