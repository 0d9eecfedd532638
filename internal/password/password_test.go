package password

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNormalizeNFC(t *testing.T) {
	decomposed := "cafe\u0301 au lait, s'il vous plai\u0302t" // e + combining acute, i + combining circumflex
	composed := "caf\u00e9 au lait, s'il vous pla\u00eet"
	if Normalize(decomposed) != composed {
		t.Fatalf("NFC: %q", Normalize(decomposed))
	}
	h := testHasher(t)
	stored, err := h.Hash(context.Background(), Normalize(composed))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := h.Verify(context.Background(), stored, Normalize(decomposed)); !ok {
		t.Fatal("the decomposed spelling does not verify against the composed one")
	}
}

func TestPolicyLength(t *testing.T) {
	p := Policy{}
	if v := p.Check("tangerine orbit"); v != nil { // 15 characters
		t.Fatalf("15 characters refused: %+v", v)
	}
	if v := p.Check("tangerine orbi"); v == nil || v.Code != CodeWeak || !strings.Contains(v.Problem, "15") {
		t.Fatalf("14 characters: %+v", v)
	}
	// Length is counted in code points: 15 three-byte characters pass, 14 do not.
	if v := p.Check(strings.Repeat("漢字", 7) + "鳥"); v != nil {
		t.Fatalf("15 CJK code points refused: %+v", v)
	}
	if v := p.Check(strings.Repeat("漢字", 7)); v == nil {
		t.Fatal("14 CJK code points (42 bytes) accepted")
	}
	// At least 64 allowed, up to MaxLength; above it refused.
	long := strings.Repeat("velvet lantern quiet ", 12)[:250]
	if v := p.Check(long); v != nil {
		t.Fatalf("250 characters refused: %+v", v)
	}
	if v := p.Check(strings.Repeat("x", 20) + long); v == nil || v.Code != CodeWeak {
		t.Fatalf("270 characters: %+v", v)
	}
	// A lower minimum (an app that requires MFA).
	if v := (Policy{MinLength: 8}).Check("ochre-kiwi"); v != nil {
		t.Fatalf("10 characters with min 8: %+v", v)
	}
}

func TestPolicyNoCompositionRules(t *testing.T) {
	for _, pw := range []string{"alllowercaseletterswords", "ALL CAPS AND SPACES HERE", "только кириллица пароль", "🦊🦊 emoji fox den 🦊🦊"} {
		if v := (Policy{}).Check(Normalize(pw)); v != nil {
			t.Errorf("%q refused: %+v", pw, v)
		}
	}
}

func TestPolicyBlocklist(t *testing.T) {
	if BlocklistSize() < 25000 {
		t.Fatalf("blocklist has %d entries", BlocklistSize())
	}
	p := Policy{MinLength: 8}
	for _, pw := range []string{"password", "PassWord", "baseball", "qwertyuiop", "iloveyou", "password1234567", "Password!!!!!!!!", "monkeymonkeymonkey", "aaaaaaaaaaaaaaaa", "abcabcabcabcabcabc"} {
		v := p.Check(pw)
		if v == nil || v.Code != CodeBreached {
			t.Errorf("%q: %+v, want %s", pw, v, CodeBreached)
		}
	}
	for _, pw := range []string{"abcdefghijklmnop", "123456789012345678", "zyxwvutsrqponmlk"} {
		if v := p.Check(pw); v == nil {
			t.Errorf("%q accepted", pw)
		}
	}
	// Whole-password comparison: a common word inside a long passphrase is fine.
	if v := (Policy{}).Check("my password is a purple giraffe"); v != nil {
		t.Fatalf("passphrase refused: %+v", v)
	}
}

func TestPolicyContextWords(t *testing.T) {
	p := Policy{MinLength: 8}
	cases := []struct {
		pw      string
		refused bool
	}{
		{"AcmeBankingPortal", true},     // the app's name
		{"acmebankingportal2026", true}, // the app's name and digits
		{"jonathan.harker", true},       // the username
		{"jonathan.harker!!", true},
		{"harker.jonathan@example", false},
		{"mina-writes-to-jonathan-often", false}, // contains the local part but is mostly other words
	}
	for _, c := range cases {
		v := p.Check(c.pw, "AcmeBankingPortal", "jonathan.harker", "jonathan.harker")
		if (v != nil) != c.refused {
			t.Errorf("%q: %+v, refused want %v", c.pw, v, c.refused)
		}
		if v != nil && v.Code != CodeWeak {
			t.Errorf("%q: code %s", c.pw, v.Code)
		}
	}
}

func testHasher(t *testing.T) *Hasher {
	t.Helper()
	h, err := NewHasher(Params{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerifyRehash(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t)
	stored, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC string %q", stored)
	}
	if again, _ := h.Hash(ctx, "correct horse battery staple"); again == stored {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	ok, rehash, err := h.Verify(ctx, stored, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Fatalf("right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, stored, "correct horse battery stapler"); ok {
		t.Fatal("wrong password verified")
	}
	// Raised parameters: the old hash still verifies, and asks to be replaced.
	stronger, err := NewHasher(Params{Time: 3, Memory: 19 * 1024, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err = stronger.Verify(ctx, stored, "correct horse battery staple")
	if err != nil || !ok || !rehash {
		t.Fatalf("after raising t: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	for _, bad := range []string{"", "$2a$10$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, _, err := h.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("%q accepted as a hash", bad)
		}
	}
	if _, err := NewHasher(Params{Time: 1, Memory: 19 * 1024}, 1); err == nil {
		t.Fatal("parameters below the floor accepted")
	}
}

// TestDummyVerifyTakesAsLong checks that the unknown-user path does the same work as a wrong
// password: measured alternately (so a load on the machine hits both alike), the fastest of each
// is within a factor of 1.5 of the other's.
func TestDummyVerifyTakesAsLong(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t)
	stored, _ := h.Hash(ctx, "a password long enough here")
	wrong, dummy := time.Hour, time.Hour
	for range 9 {
		start := time.Now()
		h.Verify(ctx, stored, "not the password at all")
		wrong = min(wrong, time.Since(start))
		start = time.Now()
		h.VerifyDummy(ctx, "not the password at all")
		dummy = min(dummy, time.Since(start))
	}
	if wrong > dummy*3/2 || dummy > wrong*3/2 {
		t.Fatalf("wrong password %v, unknown user %v", wrong, dummy)
	}
}

// TestInFlightBound checks that no more hashes run at once than the Hasher allows, and that a
// waiting hash gives up with its context.
func TestInFlightBound(t *testing.T) {
	h, err := NewHasher(Params{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "waiting for a free slot"); err == nil {
		t.Fatal("hashed without a free slot")
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "now there is a slot"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkHash measures one hash with DefaultParams (docs/performance.md reports it).
func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(Params{}, 1)
	for b.Loop() {
		h.Hash(context.Background(), "correct horse battery staple")
	}
}
