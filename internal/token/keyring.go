// Package token owns Latch's JWTs: the signing key ring (ES256, private keys sealed at rest and
// parsed once), minting and in-memory verification, the JWKS and discovery documents, and the
// client_credentials grant. It never logs a token or a key.
package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// Alg is the default signing algorithm.
const Alg = jose.ES256

// Algorithms are the signing algorithms Latch can use (KeyRing.Alg).
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// ParseAlg reads a signing algorithm name: ES256, RS256 or EdDSA.
func ParseAlg(s string) (jose.SignatureAlgorithm, error) {
	for _, a := range Algorithms {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("signing algorithm must be ES256, RS256 or EdDSA, not %q", s)
}

// newPrivateKey generates a key for alg.
func newPrivateKey(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jose.RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	default:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
}

// KeyRing holds the decrypted signing keys. The newest key signs; every key that may still
// verify a live token is published and accepted.
type KeyRing struct {
	store     store.Keys
	box       *secret.Box
	clock     clock.Clock
	retention time.Duration // how long a retired key stays published
	log       *slog.Logger

	// Propagation is how long a new key is published before it signs, so every node has loaded it
	// (nodes reload every 30 s) before any token it signed reaches them. Zero signs at once.
	Propagation time.Duration
	// Alg is the algorithm of the keys Rotate creates; when set, EnsureKey rotates if the newest
	// key has another algorithm, so changing the setting takes effect without a logout. Zero keeps
	// the newest key's algorithm (ES256 for a first key).
	Alg jose.SignatureAlgorithm

	mu      sync.RWMutex
	signer  jose.Signer
	kid     string
	signAlg jose.SignatureAlgorithm
	public  map[string]publicKey
	jwks    []byte
	algs    []string                 // the algorithms of the published keys
	keys    map[string]crypto.Signer // keys already decrypted, so a reload parses only new ones
}

// publicKey is a published key and the one algorithm tokens it verifies may name.
type publicKey struct {
	key crypto.PublicKey
	alg jose.SignatureAlgorithm
}

// NewKeyRing returns an empty key ring; call Load before use.
func NewKeyRing(s store.Keys, box *secret.Box, c clock.Clock, retention time.Duration, log *slog.Logger) *KeyRing {
	return &KeyRing{store: s, box: box, clock: c, retention: retention, log: log,
		public: map[string]publicKey{}, keys: map[string]crypto.Signer{}}
}

// keyAD binds a sealed key to its kid.
func keyAD(kid string) []byte { return []byte("signing-key:" + kid) }

// Rotate creates a new signing key; older keys stay published for the retention period.
func (k *KeyRing) Rotate(ctx context.Context) (string, error) {
	alg, err := k.rotateAlg(ctx)
	if err != nil {
		return "", err
	}
	priv, err := newPrivateKey(alg)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	kid := secret.NewID()
	sealed, err := k.box.Seal(der, keyAD(kid))
	if err != nil {
		return "", err
	}
	if err := k.store.AddSigningKey(ctx, store.SigningKey{KID: kid, Alg: string(alg), Private: sealed, CreatedAt: k.clock.Now()}); err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	return kid, k.Load(ctx)
}

// EnsureKey creates the first signing key when the database has none, then loads the ring.
func (k *KeyRing) EnsureKey(ctx context.Context) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 || (k.Alg != "" && keys[0].Alg != string(k.Alg)) {
		if len(keys) > 0 {
			k.log.Info("signing algorithm changed: rotating to a new key", "from", keys[0].Alg, "to", k.Alg)
		}
		_, err := k.Rotate(ctx)
		return err
	}
	return k.Load(ctx)
}

// Load reads the keys from the store, decrypting only those not loaded before. A key that cannot
// be decrypted is an error: the configured encryption key is not the one the database was made with.
func (k *KeyRing) Load(ctx context.Context) error {
	rows, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	now := k.clock.Now()
	k.mu.RLock()
	known := make(map[string]crypto.Signer, len(k.keys))
	for kid, p := range k.keys {
		known[kid] = p
	}
	k.mu.RUnlock()

	public := map[string]publicKey{}
	var jwks jose.JSONWebKeySet
	var algs []string
	var signKID string
	var signKey crypto.Signer
	var signAlg jose.SignatureAlgorithm
	for i, row := range rows { // newest first
		if !row.RetiredAt.IsZero() && now.Sub(row.RetiredAt) > k.retention {
			continue
		}
		last := i == len(rows)-1
		priv, ok := known[row.KID]
		if !ok {
			der, err := k.box.Open(row.Private, keyAD(row.KID))
			if err != nil {
				return fmt.Errorf("signing key %s: %w (is LATCH_ENCRYPTION_KEY the key this database was created with?)", row.KID, err)
			}
			parsed, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return fmt.Errorf("signing key %s: parse: %w", row.KID, err)
			}
			signer, ok := parsed.(crypto.Signer)
			if !ok {
				return fmt.Errorf("signing key %s: not a signing key", row.KID)
			}
			priv = signer
		}
		alg, err := ParseAlg(row.Alg)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", row.KID, err)
		}
		known[row.KID] = priv
		public[row.KID] = publicKey{key: priv.Public(), alg: alg}
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: row.KID, Algorithm: row.Alg, Use: "sig"})
		if !slices.Contains(algs, row.Alg) {
			algs = append(algs, row.Alg)
		}
		// The newest key signs once it has been published for Propagation; until then the key it
		// replaces goes on signing. The very first key signs at once: no node can lack it.
		if signKey == nil && (now.Sub(row.CreatedAt) >= k.Propagation || last) {
			signKID, signKey, signAlg = row.KID, priv, alg
		}
	}
	if signKey == nil && len(jwks.Keys) > 0 { // nothing older is left to sign meanwhile
		signKID, signKey, signAlg = jwks.Keys[0].KeyID, known[jwks.Keys[0].KeyID], public[jwks.Keys[0].KeyID].alg
	}
	if signKey == nil {
		return fmt.Errorf("no active signing key")
	}
	jwksJSON, err := json.Marshal(jwks)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if signKID != k.kid {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: signAlg, Key: signKey},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), signKID))
		if err != nil {
			return err
		}
		k.signer, k.kid, k.signAlg = signer, signKID, signAlg
	}
	k.public, k.jwks, k.keys, k.algs = public, jwksJSON, known, algs
	return nil
}

// Run reloads the ring every interval until ctx ends, so keys rotated by another node (or by
// `latch keys rotate`) are picked up.
func (k *KeyRing) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Load(ctx); err != nil && ctx.Err() == nil {
				k.log.Error("reload signing keys", "err", err)
			}
		}
	}
}

// JWKS returns the published key set as JSON.
func (k *KeyRing) JWKS() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

// KID returns the id of the signing key.
func (k *KeyRing) KID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.kid
}

// rotateAlg is the algorithm of the next key: the configured one, else the newest key's.
func (k *KeyRing) rotateAlg(ctx context.Context) (jose.SignatureAlgorithm, error) {
	if k.Alg != "" {
		return k.Alg, nil
	}
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return Alg, nil
	}
	return ParseAlg(keys[0].Alg)
}

// Algorithms lists the algorithms of the published keys (what discovery announces).
func (k *KeyRing) Algorithms() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Clone(k.algs)
}

func (k *KeyRing) current() (jose.Signer, jose.SignatureAlgorithm) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signer, k.signAlg
}

func (k *KeyRing) publicKey(kid string) (publicKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	p, ok := k.public[kid]
	return p, ok
}
