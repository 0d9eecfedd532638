package totp

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
)

func TestKeyURIExact(t *testing.T) {
	secret := seedSHA1
	tests := []struct {
		issuer, label string
		p             Params
		want          string
	}{
		{"ACME Co", "john.doe@email.com", DefaultParams(),
			"otpauth://totp/ACME%20Co:john.doe@email.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"},
		{"Latch", "a+b c@x.io", Params{SHA512, 8, 60},
			"otpauth://totp/Latch:a%2Bb%20c@x.io?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latch&algorithm=SHA512&digits=8&period=60"},
		{"", "alice", DefaultParams(),
			"otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30"},
		{"Acme: Staging", "x:y", DefaultParams(),
			"otpauth://totp/Acme%20Staging:x%20y?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Staging&algorithm=SHA1&digits=6&period=30"},
		{"Zoë", "日本/?#&=%", DefaultParams(),
			"otpauth://totp/Zo%C3%AB:%E6%97%A5%E6%9C%AC%2F%3F%23%26%3D%25?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Zo%C3%AB&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tt := range tests {
		if got := KeyURI(tt.issuer, tt.label, secret, tt.p); got != tt.want {
			t.Errorf("KeyURI(%q, %q)\n got %s\nwant %s", tt.issuer, tt.label, got, tt.want)
		}
	}
}

func TestNoColon(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a:b", "a b"},
		{"Acme: Staging", "Acme Staging"},
		{"a : b", "a b"},
		{"a::b", "a b"},
		{":a:", "a"},
		{"  keep  spaces  ", "  keep  spaces  "}, // untouched without colons
		{":", ""},
	}
	for _, tt := range tests {
		if got := noColon(tt.in); got != tt.want {
			t.Errorf("noColon(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func pqAlgorithm(a Algorithm) otp.Algorithm {
	switch a {
	case SHA256:
		return otp.AlgorithmSHA256
	case SHA512:
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

// TestKeyURIRoundTrip parses KeyURI back with pquerna/otp and checks that
// every field survives and that the codes it computes from the parsed key
// are ours.
func TestKeyURIRoundTrip(t *testing.T) {
	names := []struct{ issuer, label string }{
		{"Latch", "alice@example.com"},
		{"ACME Co", "john doe"},
		{"Acme Co.", "bob+tag@example.com"},
		{"Zoë & Sons", "zoë.ünïcødé@例え.jp"},
		{"日本銀行", "山田 太郎"},
		{"a/b?c#d", "50% off=yes&no"},
		{"Emoji 🔐", "user 🙂 +1"},
		{"", "no issuer@example.com"},
	}
	params := []Params{
		{SHA1, 6, 30}, {SHA1, 8, 30},
		{SHA256, 6, 30}, {SHA256, 8, 60},
		{SHA512, 6, 15}, {SHA512, 8, 120},
	}
	times := []int64{59, 1111111109, 1234567890, 1700000000, 2000000000, 20000000000}
	for i, n := range names {
		p := params[i%len(params)]
		secret := seedFor(p.Algorithm)
		uri := KeyURI(n.issuer, n.label, secret, p)
		key, err := otp.NewKeyFromURL(uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		check := func(field string, got, want any) {
			if got != want {
				t.Errorf("%s: %s = %v, want %v", uri, field, got, want)
			}
		}
		check("type", key.Type(), "totp")
		check("issuer", key.Issuer(), n.issuer)
		check("account name", key.AccountName(), n.label)
		check("secret", key.Secret(), EncodeSecret(secret))
		check("algorithm", key.Algorithm(), pqAlgorithm(p.Algorithm))
		check("digits", key.Digits().Length(), p.Digits)
		check("period", key.Period(), uint64(p.Period))
		// The standard library sees the same thing.
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		wantPath := "/" + n.label
		if n.issuer != "" {
			wantPath = "/" + n.issuer + ":" + n.label
		}
		check("path", u.Path, wantPath)
		check("query issuer", u.Query().Get("issuer"), n.issuer)
		check("path colons", strings.Count(u.Path, ":"), strings.Count(wantPath, ":"))
	}

	// Codes from every algorithm/digits combination.
	for _, p := range params {
		secret := seedFor(p.Algorithm)
		key, err := otp.NewKeyFromURL(KeyURI("Latch", "alice@example.com", secret, p))
		if err != nil {
			t.Fatal(err)
		}
		opts := pqtotp.ValidateOpts{Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm()}
		for _, unix := range times {
			at := time.Unix(unix, 0)
			want, err := pqtotp.GenerateCodeCustom(key.Secret(), at, opts)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s/%d/%ds/%d", p.Algorithm, p.Digits, p.Period, unix)
			if got := p.CodeAt(secret, p.Step(at)); got != want {
				t.Errorf("%s: CodeAt = %s, pquerna/otp = %s", name, got, want)
			}
			if _, ok := p.Match(secret, want, at, 0); !ok {
				t.Errorf("%s: Match refused pquerna/otp's %s", name, want)
			}
		}
	}
}

func TestKeyURIColonsAreUnambiguous(t *testing.T) {
	key, err := otp.NewKeyFromURL(KeyURI("Evil:Corp", "admin:root@x", seedSHA1, DefaultParams()))
	if err != nil {
		t.Fatal(err)
	}
	if key.Issuer() != "Evil Corp" || key.AccountName() != "admin root@x" {
		t.Errorf("issuer %q, account %q", key.Issuer(), key.AccountName())
	}
}
