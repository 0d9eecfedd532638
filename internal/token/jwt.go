package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-auth/latch/internal/clock"
)

// APIAudience is the audience of tokens meant for Latch's own API (Mosaic's "userid-api").
const APIAudience = "userid-api"

// Claims are the registered and Latch claims read from a verified access token.
type Claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
	TenantID  string           `json:"tid"`
	ClientID  string           `json:"client_id"`
	AppID     string           `json:"app_id"`
	AppName   string           `json:"app_name"`
	Scope     string           `json:"scope"`
	Roles     []string         `json:"roles"`
	SessionID string           `json:"sid"`
}

// Signer mints and verifies JWTs with the key ring for one issuer.
type Signer struct {
	Ring   *KeyRing
	Issuer string
	Clock  clock.Clock

	// verified remembers tokens whose signature already checked out, so a client token reused
	// for thousands of requests is verified once (an ECDSA verify is the costliest step of a
	// request). Expiry, issuer and audience are still checked on every use.
	mu       sync.Mutex
	verified map[string]Claims
}

// verifiedCap bounds the verification cache; when full it starts over.
const verifiedCap = 8192

// Sign signs claims (any JSON object) with the current key.
func (s *Signer) Sign(claims any) (string, error) {
	signer, _ := s.Ring.current()
	if signer == nil {
		return "", errors.New("no signing key loaded")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// ErrInvalid is returned for any token that fails verification; the reason is not exposed.
var ErrInvalid = errors.New("invalid token")

// leeway tolerates small clock differences between nodes.
const leeway = 30 * time.Second

// Verify checks a compact JWT's signature against the loaded keys, its issuer and expiry, and
// that aud contains audience. It never touches the database.
func (s *Signer) Verify(raw, audience string) (Claims, error) {
	return s.verify(raw, jwt.Audience{audience})
}

// VerifyAnyAudience is Verify for a token of any audience (an access token minted for one of an
// application's resources, which introspection and revocation also answer for).
func (s *Signer) VerifyAnyAudience(raw string) (Claims, error) {
	return s.verify(raw, nil)
}

func (s *Signer) verify(raw string, audience jwt.Audience) (Claims, error) {
	s.mu.Lock()
	c, ok := s.verified[raw]
	s.mu.Unlock()
	if !ok {
		var err error
		if c, err = s.verifySignature(raw); err != nil {
			return Claims{}, err
		}
		s.mu.Lock()
		if s.verified == nil || len(s.verified) >= verifiedCap {
			s.verified = make(map[string]Claims, 256)
		}
		s.verified[raw] = c
		s.mu.Unlock()
	}
	std := jwt.Claims{Issuer: c.Issuer, Audience: c.Audience, Expiry: c.Expiry, IssuedAt: c.IssuedAt}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: s.Issuer, AnyAudience: audience, Time: s.Clock.Now()}, leeway); err != nil {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// VerifyHint checks an ID token Latch issued that a client hands back as a hint (OIDC's
// id_token_hint): its signature and issuer, but not its expiry — an expired ID token is still a
// valid hint of who was signed in. It must never stand in for authentication.
func (s *Signer) VerifyHint(raw string) (Claims, error) {
	c, err := s.verifySignature(raw)
	if err != nil {
		return Claims{}, err
	}
	if c.Issuer != s.Issuer {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// verifySignature checks a compact JWT's signature against the loaded keys and decodes its claims.
func (s *Signer) verifySignature(raw string) (Claims, error) {
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, ErrInvalid
	}
	pub, ok := s.Ring.publicKey(tok.Headers[0].KeyID)
	// A key verifies only tokens that name its own algorithm (no algorithm confusion).
	if !ok || tok.Headers[0].Algorithm != string(pub.alg) {
		return Claims{}, ErrInvalid
	}
	var c Claims
	if err := tok.Claims(pub.key, &c); err != nil || c.Expiry == nil {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// AtHash computes the OIDC at_hash of an access token signed by Latch: the left half of its
// hash with the hash function of its algorithm (SHA-256 for ES256 and RS256, SHA-512 for EdDSA
// with Ed25519).
func AtHash(accessToken string) string {
	if headerAlg(accessToken) == string(jose.EdDSA) {
		sum := sha512.Sum512([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// headerAlg reads the alg of a compact JWS's header ("" when unreadable).
func headerAlg(compact string) string {
	head, _, ok := strings.Cut(compact, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	json.Unmarshal(raw, &h)
	return h.Alg
}

// Lifetime returns iat and exp claims for a token living ttl from now.
func (s *Signer) Lifetime(ttl time.Duration) (iat, exp int64) {
	now := s.Clock.Now()
	return now.Unix(), now.Add(ttl).Unix()
}
