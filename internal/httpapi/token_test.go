package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latch-auth/latch/internal/httpapi"
	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/token"
)

// percentEncodeAll writes every byte of s as %XX, so a server that forgets to URL-decode Basic
// credentials (RFC 6749 §2.3.1) cannot match them by accident.
func percentEncodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func ccForm(extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// assertTokenResponse checks a successful client_credentials answer and returns its token.
func assertTokenResponse(t *testing.T, r response) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %s)", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store (RFC 6749 §5.1)", cc)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatalf("body: %v", err)
	}
	var out struct {
		AccessToken string  `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   float64 `json:"expires_in"`
		Scope       string  `json:"scope"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("body %s: %v (expires_in must be a number)", r.Body, err)
	}
	if out.AccessToken == "" || out.TokenType != "Bearer" || out.ExpiresIn != 3600 {
		t.Errorf("token response %s: want access_token, token_type Bearer, expires_in 3600", r.Body)
	}
	if _, ok := raw["scope"]; !ok {
		t.Errorf("no scope in %s", r.Body)
	}
	return out.AccessToken
}

func assertOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (body %s)", r.Status, status, r.Body)
	}
	assertContentTypeJSON(t, r)
	b := r.Object(t)
	if b["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", b["error"], code, r.Body)
	}
	if s, _ := b["error_description"].(string); s == "" {
		t.Errorf("no error_description: %s", r.Body)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("401 without WWW-Authenticate: Basic (RFC 6749 §5.2)")
	}
	if _, ok := b["access_token"]; ok {
		t.Errorf("error carries a token: %s", r.Body)
	}
}

func TestClientCredentials(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		id, sec := ts.ClientID, ts.ClientSecret
		post := func(t *testing.T, form url.Values, basicID, basicSecret string) response {
			return ts.postForm(t, "/oidc/token", form, basicID, basicSecret)
		}
		for _, tc := range []struct {
			name            string
			form            url.Values
			basicID, basicS string
		}{
			{"form_fields", ccForm("client_id", id, "client_secret", sec), "", ""},
			{"http_basic", ccForm(), id, sec},
			{"http_basic_query_escaped", ccForm(), url.QueryEscape(id), url.QueryEscape(sec)},
			{"http_basic_every_byte_percent_encoded", ccForm(), percentEncodeAll(id), percentEncodeAll(sec)},
			{"form_with_unknown_parameters", ccForm("client_id", id, "client_secret", sec, "scope", "openid", "foo", "bar"), "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				assertTokenResponse(t, post(t, tc.form, tc.basicID, tc.basicS))
			})
		}
		t.Run("content_type_with_charset", func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+"/oidc/token", strings.NewReader(ccForm("client_id", id, "client_secret", sec).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
			assertTokenResponse(t, ts.Send(t, req))
		})

		var unknownBody, wrongBody map[string]any
		for _, tc := range []struct {
			name            string
			form            url.Values
			basicID, basicS string
			status          int
			code            string
			keep            *map[string]any
		}{
			{"wrong_secret_form", ccForm("client_id", id, "client_secret", sec+"x"), "", "", 401, "invalid_client", &wrongBody},
			{"wrong_secret_basic", ccForm(), id, "nope", 401, "invalid_client", nil},
			{"secret_of_another_case", ccForm("client_id", id, "client_secret", strings.ToUpper(sec)), "", "", 401, "invalid_client", nil},
			{"unknown_client", ccForm("client_id", "no-such-client", "client_secret", sec), "", "", 401, "invalid_client", &unknownBody},
			{"missing_secret", ccForm("client_id", id), "", "", 401, "invalid_client", nil},
			{"missing_client", ccForm("client_secret", sec), "", "", 401, "invalid_client", nil},
			{"basic_not_decoded_twice", ccForm(), url.QueryEscape(percentEncodeAll(id)), url.QueryEscape(percentEncodeAll(sec)), 401, "invalid_client", nil},
			{"missing_grant_type", url.Values{"client_id": {id}, "client_secret": {sec}}, "", "", 400, "invalid_request", nil},
			// The password grant of an app that has not enabled passwords refuses the grant.
			{"password_grant_disabled", ccForm("grant_type", "password", "client_id", id, "client_secret", sec, "username", "u", "password", "p"), "", "", 400, "invalid_grant", nil},
			{"unsupported_grant_device_code", ccForm("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "client_id", id, "client_secret", sec), "", "", 400, "unsupported_grant_type", nil},
			{"unsupported_grant_unknown", ccForm("grant_type", "urn:example:nope"), id, sec, 400, "unsupported_grant_type", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := post(t, tc.form, tc.basicID, tc.basicS)
				assertOAuthError(t, r, tc.status, tc.code)
				if tc.keep != nil {
					*tc.keep = r.Object(t)
				}
			})
		}
		t.Run("unknown_client_and_wrong_secret_look_alike", func(t *testing.T) {
			if unknownBody == nil || wrongBody == nil {
				t.Skip("needs the unknown_client and wrong_secret_form subtests")
			}
			if !jsonEqual(unknownBody, wrongBody) {
				t.Errorf("an attacker can tell them apart:\n unknown %v\n wrong   %v", unknownBody, wrongBody)
			}
		})
		for _, ct := range []string{"application/json", "", "text/plain", "multipart/form-data; boundary=x"} {
			t.Run("content_type_"+strings.ReplaceAll(ct, "/", "_"), func(t *testing.T) {
				body := `{"grant_type":"client_credentials","client_id":"` + id + `","client_secret":"` + sec + `"}`
				if ct != "application/json" {
					body = ccForm("client_id", id, "client_secret", sec).Encode()
				}
				req, _ := http.NewRequest("POST", ts.URL+"/oidc/token", strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				assertOAuthError(t, ts.Send(t, req), 400, "invalid_request")
			})
		}
		t.Run("oversize_form", func(t *testing.T) {
			assertTooLarge(t, post(t, ccForm("client_id", id, "client_secret", sec, "pad", strings.Repeat("a", httpapi.MaxBody)), "", ""))
		})
	})
}

// TestClientCredentialsWithOAuth2Library: golang.org/x/oauth2 gets a token both ways it
// authenticates (it URL-encodes Basic credentials).
func TestClientCredentialsWithOAuth2Library(t *testing.T) {
	ts := sqliteServer(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, ts.Client)
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "form": oauth2.AuthStyleInParams, "auto": oauth2.AuthStyleAutoDetect} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: ts.ClientID, ClientSecret: ts.ClientSecret, TokenURL: ts.URL + "/oidc/token", AuthStyle: style}
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Fatalf("token %+v", tok)
			}
			if r := ts.Do(t, "GET", "/cis/v1/users/count", tok.AccessToken, nil); r.Status != 200 {
				t.Fatalf("the library's token is refused: %d %s", r.Status, r.Body)
			}
		})
	}
	t.Run("wrong_secret", func(t *testing.T) {
		cfg := clientcredentials.Config{ClientID: ts.ClientID, ClientSecret: "nope", TokenURL: ts.URL + "/oidc/token", AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cfg.Token(ctx)
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" {
			t.Fatalf("err = %v, want a RetrieveError invalid_client", err)
		}
	})
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	for err != nil {
		if e, ok := err.(*oauth2.RetrieveError); ok {
			*re = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// fetchJWKS gets and parses the JWKS, checking what every client library needs of each key.
func fetchJWKS(t *testing.T, ts *testServer, headers ...string) jose.JSONWebKeySet {
	t.Helper()
	r := ts.Do(t, "GET", "/cis/oidc/jwks", "", nil, headers...)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	assertContentTypeJSON(t, r)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil || len(raw.Keys) == 0 {
		t.Fatalf("jwks %s: %v", r.Body, err)
	}
	for _, k := range raw.Keys {
		for _, field := range []string{"kid", "kty", "alg", "use"} {
			if s, _ := k[field].(string); s == "" {
				t.Errorf("JWKS key without %s: %v", field, k)
			}
		}
		if k["alg"] != "ES256" || k["use"] != "sig" || k["kty"] != "EC" || k["crv"] != "P-256" {
			t.Errorf("JWKS key %v: want ES256 sig EC P-256", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS publishes private key material %q", private)
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("go-jose cannot parse the JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s is not a valid public key", k.KeyID)
		}
	}
	return set
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// verifyWithJWKS verifies a compact JWT against a JWKS with go-jose only (no Latch code) and
// returns its kid and claims.
func verifyWithJWKS(t *testing.T, set jose.JSONWebKeySet, raw string) (string, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	if len(tok.Headers) != 1 {
		t.Fatalf("%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	if h.KeyID == "" || h.Algorithm != "ES256" {
		t.Fatalf("JWT header kid %q alg %q", h.KeyID, h.Algorithm)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "JWT" {
		t.Errorf("typ = %q, want JWT", typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %s (has %v)", len(keys), h.KeyID, kids(set))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	return h.KeyID, claims
}

func TestAccessTokenVerifiesIndependently(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		tok := assertTokenResponse(t, ts.postForm(t, "/oidc/token", ccForm(), ts.ClientID, ts.ClientSecret))
		set := fetchJWKS(t, ts)
		kid, c := verifyWithJWKS(t, set, tok)
		if kid != ts.Keys.KID() {
			t.Errorf("kid %s, want the signing key %s", kid, ts.Keys.KID())
		}
		now := ts.Clock.Now().Unix()
		for k, want := range map[string]any{
			"iss": ts.URL, "sub": ts.ClientID, "client_id": ts.ClientID, "app_id": ts.App.ID, "app_name": "default",
			"tid": ts.App.TenantID, "iat": float64(now), "exp": float64(now + 3600),
		} {
			if c[k] != want {
				t.Errorf("claim %s = %#v, want %#v", k, c[k], want)
			}
		}
		switch aud := c["aud"].(type) {
		case string:
			if aud != token.APIAudience {
				t.Errorf("aud = %q", aud)
			}
		case []any:
			if len(aud) != 1 || aud[0] != token.APIAudience {
				t.Errorf("aud = %v", aud)
			}
		default:
			t.Errorf("aud = %#v", c["aud"])
		}
		if s, _ := c["jti"].(string); s == "" {
			t.Errorf("no jti")
		}
		if _, ok := c["sid"]; ok {
			t.Errorf("a client token carries sid")
		}
		t.Run("jti_is_unique", func(t *testing.T) {
			_, c2 := verifyWithJWKS(t, set, ts.ClientToken(t))
			if c2["jti"] == c["jti"] {
				t.Errorf("two tokens share jti %v", c["jti"])
			}
		})
		t.Run("jwks_get_with_content_type", func(t *testing.T) {
			with := fetchJWKS(t, ts, "Content-Type", "application/json")
			if !slices.Equal(kids(with), kids(set)) {
				t.Errorf("kids %v, want %v", kids(with), kids(set))
			}
		})
	})
}

func TestDiscovery(t *testing.T) {
	ts := sqliteServer(t)
	tok := ts.ClientToken(t)
	_, claims := verifyWithJWKS(t, fetchJWKS(t, ts), tok)
	for _, p := range []string{"/.well-known/openid-configuration", "/cis/oidc/.well-known/openid-configuration", "/oidc/.well-known/openid-configuration"} {
		t.Run(p, func(t *testing.T) {
			r := ts.Do(t, "GET", p, "", nil)
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			assertContentTypeJSON(t, r)
			d := r.Object(t)
			iss, _ := d["issuer"].(string)
			if iss != claims["iss"] || strings.HasSuffix(iss, "/") || iss != ts.URL {
				t.Errorf("issuer %q, token iss %v, server %s: must be one string without a trailing slash", iss, claims["iss"], ts.URL)
			}
			if d["jwks_uri"] != ts.URL+"/cis/oidc/jwks" || d["token_endpoint"] != ts.URL+"/oidc/token" {
				t.Errorf("jwks_uri %v token_endpoint %v", d["jwks_uri"], d["token_endpoint"])
			}
			has := func(field, want string) {
				t.Helper()
				list, _ := d[field].([]any)
				if !slices.Contains(list, any(want)) {
					t.Errorf("%s = %v, want it to contain %q", field, d[field], want)
				}
			}
			has("id_token_signing_alg_values_supported", "ES256")
			has("token_endpoint_auth_methods_supported", "client_secret_basic")
			has("token_endpoint_auth_methods_supported", "client_secret_post")
			has("grant_types_supported", "client_credentials")
			has("subject_types_supported", "public")
			has("claims_supported", "sub")
			if l, _ := d["response_types_supported"].([]any); len(l) == 0 {
				t.Errorf("no response_types_supported")
			}
		})
	}
	t.Run("go_oidc_discovers_and_verifies", func(t *testing.T) {
		ctx := oidc.ClientContext(context.Background(), ts.Client)
		provider, err := oidc.NewProvider(ctx, ts.URL)
		if err != nil {
			t.Fatalf("go-oidc discovery: %v", err)
		}
		v := provider.Verifier(&oidc.Config{ClientID: token.APIAudience, Now: ts.Clock.Now})
		idt, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("go-oidc refuses the access token: %v", err)
		}
		if idt.Subject != ts.ClientID || idt.Issuer != ts.URL {
			t.Errorf("go-oidc read sub %q iss %q", idt.Subject, idt.Issuer)
		}
	})
}

// TestKeyRotation: keys rotate without a logout, across nodes sharing one store.
func TestKeyRotation(t *testing.T) {
	eachEngine(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		// A second node on the same store and encryption key, with the same issuer; its own
		// key ring.
		second := latchtest.Start(t, "", latchtest.Options{Store: ts.Store, Key: ts.Key, Issuer: ts.URL, Clock: ts.Clock})
		node2, signer2 := second.Keys, second.Signer
		oldKID := ts.Keys.KID()
		if node2.KID() != oldKID {
			t.Fatalf("node2 signs with %s, node1 with %s", node2.KID(), oldKID)
		}
		before := ts.ClientToken(t)

		ts.Clock.Advance(time.Minute)
		rotatedAt := ts.Clock.Now()
		newKID, err := ts.Keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if newKID == oldKID || ts.Keys.KID() != oldKID {
			t.Fatalf("after Rotate: returned %s, signing %s, want the old %s until the new key propagated", newKID, ts.Keys.KID(), oldKID)
		}
		// The new key signs once it has been published for node.KeyPropagation.
		ts.Clock.Advance(node.KeyPropagation)
		if err := ts.Keys.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if ts.Keys.KID() != newKID {
			t.Fatalf("after the propagation: signing %s, want %s", ts.Keys.KID(), newKID)
		}
		after := ts.ClientToken(t)

		t.Run("jwks_publishes_both_keys", func(t *testing.T) {
			set := fetchJWKS(t, ts)
			want := []string{oldKID, newKID}
			slices.Sort(want)
			if !slices.Equal(kids(set), want) {
				t.Fatalf("JWKS kids %v, want %v", kids(set), want)
			}
			if kid, _ := verifyWithJWKS(t, set, before); kid != oldKID {
				t.Errorf("old token kid %s", kid)
			}
			if kid, _ := verifyWithJWKS(t, set, after); kid != newKID {
				t.Errorf("new token kid %s, want %s", kid, newKID)
			}
		})
		t.Run("old_and_new_tokens_pass_the_middleware", func(t *testing.T) {
			for name, tok := range map[string]string{"old": before, "new": after} {
				if r := ts.Do(t, "GET", "/cis/v1/users/count", tok, nil); r.Status != 200 {
					t.Errorf("%s token: %d %s", name, r.Status, r.Body)
				}
			}
		})
		t.Run("another_node_picks_up_the_key_on_load", func(t *testing.T) {
			if err := node2.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if node2.KID() != newKID {
				t.Fatalf("node2 signs with %s after Load, want %s", node2.KID(), newKID)
			}
			for name, tok := range map[string]string{"old": before, "new": after} {
				if _, err := signer2.Verify(tok, token.APIAudience); err != nil {
					t.Errorf("node2 refuses the %s token: %v", name, err)
				}
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(node2.JWKS(), &set); err != nil || len(set.Keys) != 2 {
				t.Errorf("node2 JWKS %s: %v", node2.JWKS(), err)
			}
			// And the other way round: node2 rotates, node1 follows after its Load.
			ts.Clock.Advance(time.Minute)
			third, err := node2.Rotate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ts.Clock.Advance(node.KeyPropagation)
			if err := ts.Keys.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if ts.Keys.KID() != third {
				t.Fatalf("node1 signs with %s, want node2's new key %s", ts.Keys.KID(), third)
			}
			tok, err := signer2.Sign(map[string]any{"iss": ts.URL, "sub": ts.ClientID, "client_id": ts.ClientID, "aud": token.APIAudience,
				"iat": ts.Clock.Now().Unix(), "exp": ts.Clock.Now().Add(time.Hour).Unix(), "app_id": ts.App.ID})
			if err != nil {
				t.Fatal(err)
			}
			if r := ts.Do(t, "GET", "/cis/v1/users/count", tok, nil); r.Status != 200 {
				t.Errorf("node1 refuses node2's token: %d %s", r.Status, r.Body)
			}
		})
		t.Run("retired_keys_leave_the_jwks_after_the_retention", func(t *testing.T) {
			// oldKID was retired at rotatedAt; it stays published for exactly the retention.
			ts.Clock.Set(rotatedAt.Add(node.KeyRetention))
			if err := ts.Keys.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(kids(fetchJWKS(t, ts)), oldKID) {
				t.Fatalf("old key gone at exactly the retention")
			}
			ts.Clock.Set(rotatedAt.Add(node.KeyRetention + time.Second))
			if err := ts.Keys.Load(ctx); err != nil {
				t.Fatal(err)
			}
			got := kids(fetchJWKS(t, ts))
			if slices.Contains(got, oldKID) {
				t.Fatalf("retired key %s still published after the retention: %v", oldKID, got)
			}
			if !slices.Contains(got, ts.Keys.KID()) {
				t.Fatalf("signing key %s missing from %v", ts.Keys.KID(), got)
			}
			// Tokens keep working with the keys that remain.
			if r := ts.Do(t, "GET", "/cis/v1/users/count", ts.ClientToken(t), nil); r.Status != 200 {
				t.Fatalf("fresh token after pruning: %d %s", r.Status, r.Body)
			}
		})
	})
}

// BenchmarkClientCredentials measures POST /oidc/token end to end over HTTP (SQLite).
func BenchmarkClientCredentials(b *testing.B) {
	ts := sqliteServer(b)
	tr := ts.HTTP.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr}
	body := ccForm("client_id", ts.ClientID, "client_secret", ts.ClientSecret).Encode()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(ts.URL+"/oidc/token", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			var out struct {
				AccessToken string `json:"access_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
				b.Errorf("grant: %d %v", resp.StatusCode, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkVerify measures the bearer middleware's in-memory token verification.
func BenchmarkVerify(b *testing.B) {
	ts := sqliteServer(b)
	tok := ts.ClientToken(b)
	if _, err := ts.Signer.Verify(tok, token.APIAudience); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.Signer.Verify(tok, token.APIAudience); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
