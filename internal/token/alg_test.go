package token

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store/sqlstore"
	"github.com/latch-auth/latch/internal/store/storetest"
)

func newRing(t *testing.T, db *sqlstore.DB, clk clock.Clock, alg jose.SignatureAlgorithm) *KeyRing {
	t.Helper()
	box, _ := secret.NewBox(bytes.Repeat([]byte{2}, 32))
	k := NewKeyRing(db, box, clk, 25*time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	k.Alg = alg
	if err := k.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEveryAlgorithmSignsAndVerifies: ES256, RS256 and EdDSA keys sign tokens that Latch verifies
// in memory and that a plain go-jose check against the published JWKS accepts, with at_hash made
// with the algorithm's hash.
func TestEveryAlgorithmSignsAndVerifies(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			clk := clock.NewFixed(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
			db := storetest.Open(t, storetest.Engines()[0].DSN(t))
			k := newRing(t, db, clk, alg)
			s := &Signer{Ring: k, Issuer: "https://login.example", Clock: clk}
			iat, exp := s.Lifetime(time.Hour)
			raw, err := s.Sign(map[string]any{"iss": s.Issuer, "sub": "c1", "client_id": "c1", "aud": APIAudience, "iat": iat, "exp": exp})
			if err != nil {
				t.Fatal(err)
			}
			if got := headerAlg(raw); got != string(alg) {
				t.Fatalf("header alg %q, want %s", got, alg)
			}
			if _, err := s.Verify(raw, APIAudience); err != nil {
				t.Fatalf("Latch refuses its own %s token: %v", alg, err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(k.JWKS(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Algorithm != string(alg) || set.Keys[0].Use != "sig" {
				t.Fatalf("JWKS %s: %v", k.JWKS(), err)
			}
			tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
			if err != nil {
				t.Fatal(err)
			}
			var c jwt.Claims
			if err := tok.Claims(set.Keys[0].Key, &c); err != nil || c.Subject != "c1" {
				t.Fatalf("go-jose check with the JWKS: %+v %v", c, err)
			}
			var want string
			if alg == jose.EdDSA {
				sum := sha512.Sum512([]byte(raw))
				want = base64.RawURLEncoding.EncodeToString(sum[:32])
			} else {
				sum := sha256.Sum256([]byte(raw))
				want = base64.RawURLEncoding.EncodeToString(sum[:16])
			}
			if got := AtHash(raw); got != want {
				t.Fatalf("at_hash %s, want %s", got, want)
			}
			if algs := k.Algorithms(); len(algs) != 1 || algs[0] != string(alg) {
				t.Fatalf("Algorithms() = %v", algs)
			}
		})
	}
}

// TestAlgorithmChangeRotates: starting with another algorithm configured rotates to a key of
// that algorithm; both keys stay published (and both algorithms announced) while old tokens
// live, and a token cannot claim another algorithm than its key's.
func TestAlgorithmChangeRotates(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	db := storetest.Open(t, storetest.Engines()[0].DSN(t))
	es := newRing(t, db, clk, "")
	old := &Signer{Ring: es, Issuer: "https://login.example", Clock: clk}
	iat, exp := old.Lifetime(time.Hour)
	esToken, err := old.Sign(map[string]any{"iss": old.Issuer, "aud": APIAudience, "iat": iat, "exp": exp})
	if err != nil || headerAlg(esToken) != "ES256" {
		t.Fatalf("default algorithm: %q %v", headerAlg(esToken), err)
	}
	clk.Advance(time.Minute)
	rs := newRing(t, db, clk, jose.RS256) // a node started with --signing-alg RS256
	if algs := rs.Algorithms(); len(algs) != 2 {
		t.Fatalf("both algorithms must be announced during the change: %v", algs)
	}
	s := &Signer{Ring: rs, Issuer: old.Issuer, Clock: clk}
	if _, err := s.Verify(esToken, APIAudience); err != nil {
		t.Fatalf("a token of the previous key is refused after the change: %v", err)
	}
	iat, exp = s.Lifetime(time.Hour)
	rsToken, err := s.Sign(map[string]any{"iss": s.Issuer, "aud": APIAudience, "iat": iat, "exp": exp})
	if err != nil || headerAlg(rsToken) != "RS256" {
		t.Fatalf("after the change: %q %v", headerAlg(rsToken), err)
	}
	// A ring with no algorithm configured (an admin command) keeps the newest key's.
	again := newRing(t, db, clk, "")
	if algs := again.Algorithms(); len(algs) != 2 {
		t.Fatalf("an unconfigured ring rotated: %v", algs)
	}
	// Alg confusion: an HS256 token naming the RS256 key's kid is refused.
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), rs.KID()))
	forged, _ := jwt.Signed(hs).Claims(map[string]any{"iss": s.Issuer, "aud": APIAudience, "iat": iat, "exp": exp}).Serialize()
	if _, err := s.Verify(forged, APIAudience); err == nil {
		t.Fatal("an HS256 token was accepted")
	}
}
