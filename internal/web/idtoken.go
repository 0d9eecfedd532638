package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// verifier checks ID token signatures against Latch's JWKS. Checking them is Latch's promise to
// every app; the demo does it because it is cheap and it is what a customer app should do.
type verifier struct {
	latch *latchClient
	now   func() time.Time

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time
}

var tokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// refetchAfter is how soon an unknown kid may trigger another JWKS fetch.
const refetchAfter = 5 * time.Second

// verify checks raw's signature and expiry and returns its claims (numbers kept exact).
func (v *verifier) verify(ctx context.Context, raw string) (map[string]any, error) {
	jws, err := jose.ParseSignedCompact(raw, tokenAlgs)
	if err != nil {
		return nil, fmt.Errorf("parse id token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("id token must have one signature")
	}
	key, err := v.key(ctx, jws.Signatures[0].Header.KeyID)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("id token signature: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	if exp, ok := claims["exp"].(json.Number); ok {
		if n, err := exp.Int64(); err == nil && v.now().After(time.Unix(n, 0).Add(time.Minute)) {
			return nil, errors.New("id token has expired")
		}
	}
	return claims, nil
}

// key returns the JWKS key with kid, fetching the JWKS when the kid is unknown.
func (v *verifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := v.keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	if !v.fetched.IsZero() && v.now().Sub(v.fetched) < refetchAfter {
		return nil, fmt.Errorf("id token key %q is not in the JWKS", kid)
	}
	var set jose.JSONWebKeySet
	if err := v.latch.call(ctx, http.MethodGet, "/cis/oidc/jwks", "", nil, &set); err != nil {
		return nil, err
	}
	v.keys, v.fetched = set, v.now()
	if k := v.keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	return nil, fmt.Errorf("id token key %q is not in the JWKS", kid)
}

// claimRow is one claim as displayed.
type claimRow struct {
	Name  string
	Value string
	Note  string // a readable form of a time claim
}

// claimOrder puts the claims a person looks for first; the rest follow alphabetically.
var claimOrder = []string{"sub", "email", "phone_number", "amr", "approval_data", "auth_time", "iat", "exp", "iss", "aud", "sid", "nonce", "new_user"}

var timeClaims = map[string]bool{"auth_time": true, "iat": true, "exp": true, "nbf": true}

// claimRows lists claims for display.
func claimRows(claims map[string]any) []claimRow {
	rank := make(map[string]int, len(claimOrder))
	for i, n := range claimOrder {
		rank[n] = i + 1
	}
	names := make([]string, 0, len(claims))
	for n := range claims {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank[names[i]], rank[names[j]]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0 || rj != 0:
			return ri != 0
		}
		return names[i] < names[j]
	})
	rows := make([]claimRow, 0, len(names))
	for _, n := range names {
		row := claimRow{Name: n, Value: claimValue(claims[n])}
		if num, ok := claims[n].(json.Number); ok && timeClaims[n] {
			if s, err := num.Int64(); err == nil {
				row.Note = time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05 UTC")
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// claimValue shows a string as it is and anything else as compact JSON.
func claimValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// stringList reads a claim that is a list of strings (amr).
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// objectRows lists a flat object claim (approval_data) as name/value rows, in name order.
func objectRows(v any) []claimRow {
	m, _ := v.(map[string]any)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]claimRow, 0, len(names))
	for _, n := range names {
		rows = append(rows, claimRow{Name: n, Value: claimValue(m[n])})
	}
	return rows
}

// claimString returns a string claim, or "".
func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return strings.TrimSpace(s)
}
