package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBenchPercentile(t *testing.T) {
	if got := percentile(nil, 50); got != 0 {
		t.Fatalf("empty: %v", got)
	}
	one := []time.Duration{7}
	for _, p := range []float64{1, 50, 99, 100} {
		if got := percentile(one, p); got != 7 {
			t.Fatalf("p%v of one: %v", p, got)
		}
	}
	// 1..100: nearest rank p of 100 values is the value p.
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	slices.Sort(lat)
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got, want := percentile(lat, p), time.Duration(p)*time.Millisecond; got != want {
			t.Fatalf("p%v = %v, want %v", p, got, want)
		}
	}
	// 10 values: p50 is the 5th, p90 the 9th, p99 the 10th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{50: 5, 90: 9, 99: 10, 10: 1, 11: 2} {
		if got := percentile(ten, p); got != want {
			t.Fatalf("p%v of 10 = %v, want %v", p, got, want)
		}
	}
}

func TestBenchSummarize(t *testing.T) {
	lat := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond, 1500 * time.Microsecond}
	var r Result
	r.summarize(lat, 2*time.Second)
	if r.PerSecond != 2 || r.DurationS != 2 || r.P50ms != 1.5 || r.MaxMs != 3 || r.P99ms != 3 || r.P90ms != 3 {
		t.Fatalf("summarize: %+v", r)
	}
}

func TestBenchResultJSONKeys(t *testing.T) {
	b, err := json.Marshal(Result{Flow: "otp", ErrorsByCode: map[string]int{"429 rate_limit_exceeded": 2}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"concurrency", "duration_s", "errors", "errors_by_code", "flow", "max_ms", "p50_ms", "p90_ms", "p999_ms", "p99_ms", "per_second", "requests"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
}

func TestBenchTable(t *testing.T) {
	r := Result{Flow: FlowOTP, DurationS: 1, Concurrency: 2, Requests: 10, Errors: 3, PerSecond: 7,
		ErrorsByCode: map[string]int{"429 rate_limit_exceeded": 2, "transport": 1}}
	s := r.Table()
	for _, want := range []string{"logins/s", "p50", "p90", "p99", "max", "429 rate_limit_exceeded", "transport"} {
		if !strings.Contains(s, want) {
			t.Fatalf("table lacks %q:\n%s", want, s)
		}
	}
	if s := (Result{Flow: FlowClientCredentials}).Table(); !strings.Contains(s, "grants/s") {
		t.Fatalf("client_credentials table lacks grants/s:\n%s", s)
	}
}

func TestBenchHOTPAndTOTP(t *testing.T) {
	key := []byte("12345678901234567890")
	// RFC 4226 appendix D.
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := hotp(key, uint64(i), 6, defaultTOTP.hash()); got != want {
			t.Fatalf("hotp(%d) = %s, want %s", i, got, want)
		}
	}
	// RFC 6238 appendix B, SHA1 (and the SHA256/SHA512 keys of the same table).
	p8 := totpParams{Algorithm: "SHA1", Digits: 8, Period: 30}
	at59 := p8.step(time.Unix(59, 0))
	if got := totpCode(key, at59, p8); got != "94287082" {
		t.Fatalf("8 digits at 59: %s", got)
	}
	if got := totpCode(key, at59, defaultTOTP); got != "287082" {
		t.Fatalf("6 digits at 59: %s", got)
	}
	vectors := []struct {
		alg  string
		key  string
		unix int64
		want string
	}{
		{"SHA1", "12345678901234567890", 1111111109, "07081804"},
		{"SHA1", "12345678901234567890", 20000000000, "65353130"},
		{"SHA256", "12345678901234567890123456789012", 59, "46119246"},
		{"SHA256", "12345678901234567890123456789012", 1234567890, "91819424"},
		{"SHA512", "1234567890123456789012345678901234567890123456789012345678901234", 59, "90693936"},
		{"SHA512", "1234567890123456789012345678901234567890123456789012345678901234", 2000000000, "38618901"},
	}
	for _, v := range vectors {
		p := totpParams{Algorithm: v.alg, Digits: 8, Period: 30}
		if got := totpCode([]byte(v.key), p.step(time.Unix(v.unix, 0)), p); got != v.want {
			t.Fatalf("%s at %d = %s, want %s", v.alg, v.unix, got, v.want)
		}
	}
}

func TestBenchDecodeSecret(t *testing.T) {
	// base32 of "12345678901234567890", without and with padding, lower case.
	for _, s := range []string{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq"} {
		k, err := decodeSecret(s)
		if err != nil || string(k) != "12345678901234567890" {
			t.Fatalf("decode %q: %q %v", s, k, err)
		}
	}
	k, err := decodeSecret("MZXW6===")
	if err != nil || string(k) != "foo" {
		t.Fatalf("padded: %q %v", k, err)
	}
	if _, err := decodeSecret("not base32!"); err == nil {
		t.Fatal("bad secret accepted")
	}
	if _, err := decodeSecret(""); err == nil {
		t.Fatal("empty secret accepted")
	}
}

func TestBenchParseKeyURI(t *testing.T) {
	p, secret, err := parseKeyURI("otpauth://totp/Latch:alice%40example.com?secret=GEZDGNBVGY3TQOJQ&issuer=Latch&algorithm=SHA256&digits=8&period=60")
	if err != nil || p != (totpParams{Algorithm: "SHA256", Digits: 8, Period: 60}) || secret != "GEZDGNBVGY3TQOJQ" {
		t.Fatalf("full uri: %+v %q %v", p, secret, err)
	}
	p, _, err = parseKeyURI("otpauth://totp/Latch:bob?secret=GEZDGNBVGY3TQOJQ&issuer=Latch")
	if err != nil || p != defaultTOTP {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	p, _, err = parseKeyURI("otpauth://totp/x?secret=A&algorithm=sha512")
	if err != nil || p.Algorithm != "SHA512" {
		t.Fatalf("lower-case algorithm: %+v %v", p, err)
	}
	if p, _, err := parseKeyURI(""); err != nil || p != defaultTOTP {
		t.Fatalf("empty uri: %+v %v", p, err)
	}
	for _, bad := range []string{
		"https://example.com/?secret=A",
		"otpauth://hotp/x?secret=A",
		"otpauth://totp/x?algorithm=MD5",
		"otpauth://totp/x?digits=abc",
		"otpauth://totp/x?digits=3",
		"otpauth://totp/x?period=0",
	} {
		if _, _, err := parseKeyURI(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func TestBenchStatusErrorKeys(t *testing.T) {
	cases := map[string]string{
		`{"error_code":"rate_limit_exceeded","message":"x"}`:                  "429 rate_limit_exceeded",
		`{"message":"Invalid token","error_code":401}`:                        "429 401",
		`{"error":"invalid_client","error_description":"x","error_code":401}`: "429 invalid_client",
		`not json`: "429",
	}
	for body, want := range cases {
		if got := statusError(429, []byte(body)).key; got != want {
			t.Fatalf("%s: key %q, want %q", body, got, want)
		}
	}
}

// TestRunAgainstFake checks the worker loop, token renewal and error counting with a fake server.
func TestBenchRunAgainstFake(t *testing.T) {
	var grants, tokenFetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oidc/token" || r.FormValue("client_secret") != "s" {
			w.WriteHeader(404)
			return
		}
		n := grants.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if n%10 == 0 {
			w.WriteHeader(429)
			w.Write([]byte(`{"error_code":"rate_limit_exceeded","message":"slow down"}`))
			return
		}
		tokenFetches.Add(1)
		w.Write([]byte(`{"access_token":"a","token_type":"Bearer","expires_in":1}`))
	}))
	defer srv.Close()
	var progress strings.Builder
	res, err := Run(context.Background(), Config{URL: srv.URL + "/", ClientID: "c", ClientSecret: "s", Flow: FlowClientCredentials,
		Duration: 300 * time.Millisecond, Concurrency: 3}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors == 0 || res.Errors != res.ErrorsByCode["429 rate_limit_exceeded"] || res.PerSecond <= 0 || res.P50ms <= 0 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(progress.String(), "error example: 429 rate_limit_exceeded") {
		t.Fatalf("progress: %s", progress.String())
	}
}

func TestBenchDefaultUsers(t *testing.T) {
	if n := DefaultUsers(FlowClientCredentials, 16, 30*time.Second); n != 0 {
		t.Fatalf("client_credentials: %d", n)
	}
	if n := DefaultUsers(FlowOTP, 16, 30*time.Second); n != 30*sizedLoginRate/defaultSendLimit {
		t.Fatalf("otp 30s: %d", n)
	}
	if n := DefaultUsers(FlowMagicLink, 64, time.Second); n != 64*64 {
		t.Fatalf("magiclink 1s: %d", n)
	}
	if a, b := DefaultUsers(FlowHosted, 1, 15*time.Minute), DefaultUsers(FlowHosted, 1, time.Hour); a != b {
		t.Fatalf("hosted pool grows past the 15 minute window: %d %d", a, b)
	}
	if n := DefaultUsers(FlowTOTP, 16, time.Minute); n != 640 {
		t.Fatalf("totp: %d", n)
	}
	if n := DefaultUsers(FlowRefresh, 16, time.Minute); n != 64 {
		t.Fatalf("refresh: %d", n)
	}
}

// TestBenchFlowsAgainstFake runs every flow against a strict fake of the API.
func TestBenchFlowsAgainstFake(t *testing.T) {
	for _, flow := range Flows {
		t.Run(flow, func(t *testing.T) {
			fake := newFakeLatch()
			srv := httptest.NewServer(fake)
			defer srv.Close()
			users := 0
			if flow == FlowTOTP {
				users = 6 // 2 per worker: they run out of fresh time steps at once
			}
			var progress strings.Builder
			res, err := Run(context.Background(), Config{URL: srv.URL, ClientID: "c", ClientSecret: "s", Flow: flow,
				Duration: 300 * time.Millisecond, Concurrency: 3, Users: users, RedirectURI: "http://app.example/cb"}, &progress)
			if err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			if res.Requests == 0 || res.Errors != 0 || res.PerSecond <= 0 || len(fake.failures) > 0 {
				t.Fatalf("%+v %v\n%s", res, fake.failures, progress.String())
			}
			if flow == FlowTOTP {
				if res.Requests > 12 {
					t.Fatalf("totp logged in %d times with 6 users in 300 ms", res.Requests)
				}
				if res.DurationS < 0.29 {
					t.Fatalf("a starved totp run ended early: %+v", res)
				}
				if !strings.Contains(progress.String(), "waited") {
					t.Fatalf("no starvation warning:\n%s", progress.String())
				}
			}
		})
	}
}

func TestBenchRefreshRecovers(t *testing.T) {
	fake := newFakeLatch()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cis/v1/auth/token/refresh" {
			fake.mu.Lock()
			fake.seq++
			broken := fake.seq%7 == 0
			if broken { // the server rotated but the answer was lost
				fake.refresh = map[string]bool{}
			}
			fake.mu.Unlock()
			if broken {
				w.WriteHeader(502)
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, ClientID: "c", ClientSecret: "s", Flow: FlowRefresh,
		Duration: 200 * time.Millisecond, Concurrency: 1, Users: 50}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each lost answer is one error; the next refresh starts a new session instead of reusing a token.
	if res.ErrorsByCode["502"] == 0 || res.Errors != res.ErrorsByCode["502"] || len(fake.failures) > 0 {
		t.Fatalf("%+v %v", res, fake.failures)
	}
}

func TestBenchCodeInText(t *testing.T) {
	for text, want := range map[string]string{
		"Your login code\n\nUse it to sign in to Acme 2025.\n\nYour code: 0412\n\nIt expires in 5 minutes.": "0412",
		"Acme 2025: your code is 123456": "123456",
		"code 98765432, valid 5 minutes": "98765432",
		"no code here, 5 minutes, 123":   "",
		"Your code:  7654321\n\nexpires": "7654321",
	} {
		if got := codeInText(text); got != want {
			t.Fatalf("%q: %q, want %q", text, got, want)
		}
	}
}

func TestBenchRecordedStep(t *testing.T) {
	codes := map[int64]string{9: "111111", 10: "222222", 11: "333333", 12: "444444"}
	codeAt := func(s int64) string { return codes[s] }
	if got := recordedStep(codeAt, "222222", 10, 10); got != 10 {
		t.Errorf("no collision: recorded %d, want 10", got)
	}
	codes[11] = "222222" // the next step's code is the same: the server records 11
	if got := recordedStep(codeAt, "222222", 10, 10); got != 11 {
		t.Errorf("collision with the next step: recorded %d, want 11", got)
	}
	codes[12] = "222222" // a boundary passing in flight puts 12 in the server's window too
	if got := recordedStep(codeAt, "222222", 10, 10); got != 12 {
		t.Errorf("collision two steps on: recorded %d, want 12", got)
	}
	codes[9] = "333333" // an earlier step never counts: the server takes the latest
	if got := recordedStep(codeAt, "333333", 9, 10); got != 9 {
		t.Errorf("recorded %d, want 9", got)
	}
}

// TestBenchOpenLoop: --rate offers exactly rate x duration logins on the schedule, reports the
// offered rate, and counts each login's latency from its due time: with one login in flight at
// a time against a server that takes 20 ms, logins due every 5 ms wait for each other, and that
// wait is in their latency (a closed loop would report 20 ms).
func TestBenchOpenLoop(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oidc/token" {
			w.WriteHeader(404)
			return
		}
		if served.Add(1) > 1 { // the first grant is the bench's own token
			time.Sleep(20 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"a","token_type":"Bearer","expires_in":3600}`))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, ClientID: "c", ClientSecret: "s", Flow: FlowClientCredentials,
		Duration: 50 * time.Millisecond, Concurrency: 1, Rate: 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 || res.Errors != 0 || res.OfferedPerSecond != 200 {
		t.Fatalf("requests %d errors %d offered %v, want 10, 0, 200", res.Requests, res.Errors, res.OfferedPerSecond)
	}
	// The 10th login was due at 45 ms and could start only after nine 20 ms ones: >= 135 ms late.
	if res.MaxMs < 135 || res.P50ms < 20 {
		t.Fatalf("max %v ms, p50 %v ms: the open loop must count the wait from each login's due time", res.MaxMs, res.P50ms)
	}
	if !strings.Contains(res.Table(), "offered") {
		t.Fatalf("table without the offered rate:\n%s", res.Table())
	}
}
