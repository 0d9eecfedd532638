package totp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var (
	seedSHA1   = []byte("12345678901234567890")
	seedSHA256 = []byte("12345678901234567890123456789012")
	seedSHA512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func seedFor(a Algorithm) []byte {
	switch a {
	case SHA256:
		return seedSHA256
	case SHA512:
		return seedSHA512
	}
	return seedSHA1
}

// TestRFC6238Vectors checks all 18 rows of RFC 6238 Appendix B.
func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		step int64
		alg  Algorithm
		code string
	}{
		{59, 0x1, SHA1, "94287082"},
		{59, 0x1, SHA256, "46119246"},
		{59, 0x1, SHA512, "90693936"},
		{1111111109, 0x23523EC, SHA1, "07081804"},
		{1111111109, 0x23523EC, SHA256, "68084774"},
		{1111111109, 0x23523EC, SHA512, "25091201"},
		{1111111111, 0x23523ED, SHA1, "14050471"},
		{1111111111, 0x23523ED, SHA256, "67062674"},
		{1111111111, 0x23523ED, SHA512, "99943326"},
		{1234567890, 0x273EF07, SHA1, "89005924"},
		{1234567890, 0x273EF07, SHA256, "91819424"},
		{1234567890, 0x273EF07, SHA512, "93441116"},
		{2000000000, 0x3F940AA, SHA1, "69279037"},
		{2000000000, 0x3F940AA, SHA256, "90698825"},
		{2000000000, 0x3F940AA, SHA512, "38618901"},
		{20000000000, 0x27BC86AA, SHA1, "65353130"},
		{20000000000, 0x27BC86AA, SHA256, "77737706"},
		{20000000000, 0x27BC86AA, SHA512, "47863826"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.alg, tt.unix), func(t *testing.T) {
			p := Params{Algorithm: tt.alg, Digits: 8, Period: 30}
			now := time.Unix(tt.unix, 0).UTC()
			if got := p.Step(now); got != tt.step {
				t.Fatalf("Step = %#x, want %#x", got, tt.step)
			}
			if got := p.CodeAt(seedFor(tt.alg), tt.step); got != tt.code {
				t.Errorf("CodeAt = %s, want %s", got, tt.code)
			}
			step, ok := p.Match(seedFor(tt.alg), tt.code, now, 0)
			if !ok || step != tt.step {
				t.Errorf("Match = %#x, %v; want %#x, true", step, ok, tt.step)
			}
		})
	}
}

func TestSixDigitsIsSuffixOfEight(t *testing.T) {
	// Truncation is modulo 10^digits, so the 6-digit code is the last six
	// digits of the 8-digit one (and keeps its leading zero: "081804").
	for _, step := range []int64{1, 0x23523EC, 0x27BC86AA} {
		for _, a := range []Algorithm{SHA1, SHA256, SHA512} {
			eight := Params{a, 8, 30}.CodeAt(seedFor(a), step)
			six := Params{a, 6, 30}.CodeAt(seedFor(a), step)
			if len(six) != 6 || six != eight[2:] {
				t.Errorf("%s step %#x: 6 digits %q, 8 digits %q", a, step, six, eight)
			}
		}
	}
	if got := (Params{SHA1, 6, 30}).CodeAt(seedSHA1, 0x23523EC); got != "081804" {
		t.Errorf("zero padding: got %q, want 081804", got)
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix   int64
		period int
		want   int64
	}{
		{0, 30, 0},
		{29, 30, 0},
		{30, 30, 1},
		{59, 30, 1},
		{60, 30, 2},
		{119, 60, 1},
		{120, 60, 2},
		{1_700_000_000, 15, 113_333_333},
		{-1, 30, -1},
		{-30, 30, -1},
		{-31, 30, -2},
	}
	for _, tt := range tests {
		p := Params{SHA1, 6, tt.period}
		// Sub-second parts never move the step.
		if got := p.Step(time.Unix(tt.unix, 999_999_999)); got != tt.want {
			t.Errorf("Step(%d, period %d) = %d, want %d", tt.unix, tt.period, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	p := DefaultParams()
	secret := seedSHA1
	now := time.Unix(1_700_000_015, 0) // step 56666667, mid-period
	cur := p.Step(now)
	code := func(d int64) string { return p.CodeAt(secret, cur+d) }

	// The window must be made of distinct codes for the refusals to mean
	// anything.
	seen := map[string]int64{}
	for d := int64(-3); d <= 3; d++ {
		if prev, dup := seen[code(d)]; dup {
			t.Fatalf("test setup: steps %d and %d share a code", prev, d)
		}
		seen[code(d)] = d
	}

	tests := []struct {
		name     string
		code     string
		skew     int
		wantOK   bool
		wantStep int64
	}{
		{"current", code(0), 1, true, cur},
		{"previous", code(-1), 1, true, cur - 1},
		{"next", code(1), 1, true, cur + 1},
		{"two before", code(-2), 1, false, 0},
		{"two after", code(2), 1, false, 0},
		{"two before, skew 2", code(-2), 2, true, cur - 2},
		{"previous, skew 0", code(-1), 0, false, 0},
		{"current, skew 0", code(0), 0, true, cur},
		{"current, negative skew", code(0), -5, true, cur},
		{"previous, negative skew", code(-1), -5, false, 0},
		{"empty", "", 1, false, 0},
		{"too short", code(0)[:5], 1, false, 0},
		{"too long", code(0) + "0", 1, false, 0},
		{"eight digits", p.withDigits(8).CodeAt(secret, cur), 1, false, 0},
		{"letters", "abcdef", 1, false, 0},
		{"one letter", code(0)[:5] + "x", 1, false, 0},
		{"spaces", " " + code(0)[1:], 1, false, 0},
		{"sign", "+" + code(0)[1:], 1, false, 0},
		{"fullwidth digits", strings.Repeat("０", 2), 1, false, 0}, // 6 bytes
		{"wrong code", wrongCode(code(-1), code(0), code(1)), 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := p.Match(secret, tt.code, now, tt.skew)
			if ok != tt.wantOK || step != tt.wantStep {
				t.Errorf("Match(%q, skew %d) = %d, %v; want %d, %v", tt.code, tt.skew, step, ok, tt.wantStep, tt.wantOK)
			}
		})
	}

	t.Run("other secret", func(t *testing.T) {
		if _, ok := p.Match(seedSHA256, code(0), now, 1); ok {
			t.Error("code of another secret accepted")
		}
	})
	t.Run("period boundaries", func(t *testing.T) {
		start := time.Unix(cur*30, 0)
		end := time.Unix(cur*30+29, 999_999_999)
		for _, at := range []time.Time{start, end} {
			if step, ok := p.Match(secret, code(0), at, 0); !ok || step != cur {
				t.Errorf("at %v: Match = %d, %v; want %d, true", at.Unix(), step, ok, cur)
			}
		}
		if _, ok := p.Match(secret, code(0), start.Add(-time.Nanosecond), 0); ok {
			t.Error("accepted one nanosecond before its period, skew 0")
		}
	})
	t.Run("skew clamped to MaxSkew", func(t *testing.T) {
		if step, ok := p.Match(secret, code(MaxSkew), now, 1000); !ok || step != cur+MaxSkew {
			t.Errorf("MaxSkew steps away: Match = %d, %v; want %d, true", step, ok, cur+MaxSkew)
		}
		far := code(MaxSkew + 1)
		for d := int64(-MaxSkew); d <= MaxSkew; d++ {
			if code(d) == far {
				t.Fatalf("test setup: steps %d and %d share a code", d, MaxSkew+1)
			}
		}
		if _, ok := p.Match(secret, far, now, 1000); ok {
			t.Error("accepted a code MaxSkew+1 steps away")
		}
	})
	t.Run("invalid params", func(t *testing.T) {
		for _, bad := range []Params{{}, {"MD5", 6, 30}, {SHA1, 7, 30}, {SHA1, 6, 0}, {SHA1, 6, 121}} {
			if _, ok := bad.Match(secret, code(0), now, 1); ok {
				t.Errorf("%+v: matched", bad)
			}
			if got := bad.CodeAt(secret, cur); got != "" {
				t.Errorf("%+v: CodeAt = %q, want \"\"", bad, got)
			}
		}
	})
}

// TestMatchCollisionReturnsLatest uses windows where two steps share a code
// and checks the latest step is the one returned.
func TestMatchCollisionReturnsLatest(t *testing.T) {
	p := DefaultParams()
	secret := seedSHA1
	// Adjacent steps with the same code for seedSHA1, found by scanning.
	for _, s := range []int64{910737, 1300575, 1390529} {
		code := p.CodeAt(secret, s)
		if p.CodeAt(secret, s+1) != code {
			t.Fatalf("test setup: steps %d and %d do not share a code", s, s+1)
		}
		// The pair at the start and at the end of the window.
		for _, cur := range []int64{s, s + 1} {
			now := time.Unix(cur*30+7, 0)
			step, ok := p.Match(secret, code, now, 1)
			if !ok || step != s+1 {
				t.Errorf("window %d±1, code %s of steps %d and %d: Match = %d, %v; want %d, true", cur, code, s, s+1, step, ok, s+1)
			}
		}
		// Only the first of the pair in the window.
		if step, ok := p.Match(secret, code, time.Unix((s-1)*30, 0), 1); !ok || step != s {
			t.Errorf("window %d±1: Match = %d, %v; want %d, true", s-1, step, ok, s)
		}
	}
}

func (p Params) withDigits(d int) Params { p.Digits = d; return p }

// wrongCode returns a 6-digit code none of avoid.
func wrongCode(avoid ...string) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		bad := false
		for _, a := range avoid {
			bad = bad || a == c
		}
		if !bad {
			return c
		}
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		p       Params
		wantErr error
	}{
		{DefaultParams(), nil},
		{Params{SHA256, 8, 15}, nil},
		{Params{SHA512, 6, 120}, nil},
		{Params{"", 6, 30}, ErrAlgorithm},
		{Params{"sha1", 6, 30}, ErrAlgorithm}, // parse first
		{Params{"MD5", 6, 30}, ErrAlgorithm},
		{Params{SHA1, 0, 30}, ErrDigits},
		{Params{SHA1, 7, 30}, ErrDigits},
		{Params{SHA1, 10, 30}, ErrDigits},
		{Params{SHA1, 6, 14}, ErrPeriod},
		{Params{SHA1, 6, 121}, ErrPeriod},
		{Params{SHA1, 6, -30}, ErrPeriod},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%+v.Validate() = %v, want %v", tt.p, err, tt.wantErr)
		}
	}
	if d := DefaultParams(); d != (Params{SHA1, 6, 30}) {
		t.Errorf("DefaultParams() = %+v", d)
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"SHA1", SHA1, true},
		{"sha1", SHA1, true},
		{"Sha256", SHA256, true},
		{"sha512", SHA512, true},
		{"SHA512", SHA512, true},
		{"", "", false},
		{"MD5", "", false},
		{"SHA-1", "", false},
		{"sha384", "", false},
		{" sha1", "", false},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrAlgorithm) {
			t.Errorf("ParseAlgorithm(%q) error %v is not ErrAlgorithm", tt.in, err)
		}
	}
}

func TestEncodeSecret(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{seedSHA1, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
		{[]byte("f"), "MY"},         // would be "MY======" padded
		{[]byte("foob"), "MZXW6YQ"}, // would be "MZXW6YQ=" padded
		{[]byte{0xff, 0x00}, "74AA"},
	}
	for _, tt := range tests {
		if got := EncodeSecret(tt.in); got != tt.want {
			t.Errorf("EncodeSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := DecodeSecret(tt.want)
		if err != nil || !bytes.Equal(back, tt.in) {
			t.Errorf("DecodeSecret(%q) = %q, %v; want %q", tt.want, back, err, tt.in)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []byte // nil: error expected
	}{
		{"upper", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", seedSHA1},
		{"lower", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq", seedSHA1},
		{"mixed", "GezDgnBvGY3tqOJQgezdgnbvgy3TQOJQ", seedSHA1},
		{"grouped", "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", seedSHA1},
		{"grouped lower", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", seedSHA1},
		{"surrounding space", "  GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", seedSHA1},
		{"padded", "MZXW6YQ=", []byte("foob")},
		{"padded lower", "mzxw6yq=", []byte("foob")},
		{"unpadded", "MZXW6YQ", []byte("foob")},
		{"long padding", "MY======", []byte("f")},
		{"no padding", "MY", []byte("f")},
		{"spaces in padding", "MY== ====", []byte("f")},
		{"empty", "", nil},
		{"only spaces", "   ", nil},
		{"only padding", "========", nil},
		{"digit 1", "GEZDGNBVGY3TQOJ1", nil},
		{"digit 0", "0EZDGNBVGY3TQOJQ", nil},
		{"digit 8", "8EZDGNBVGY3TQOJQ", nil},
		{"punctuation", "GEZD-GNBV", nil},
		{"padding in middle", "MY==MY", nil},
		// 1, 3 or 6 symbols (mod 8) encode no whole number of bytes.
		{"impossible length 1", "M", nil},
		{"impossible length 3", "MZX", nil},
		{"impossible length 6", "MZXW6Y", nil},
		{"impossible length 9", "GEZDGNBVG", nil},
		{"impossible length 3, padded", "MZX=====", nil},
		{"non-ASCII", "GEZDGNBVGY3TQOJé", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("DecodeSecret(%q) = %x, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrSecret) {
					t.Errorf("error %v is not ErrSecret", err)
				}
				if len(tt.in) > 4 && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error %q quotes the secret", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("DecodeSecret(%q) = %x, %v; want %x", tt.in, got, err, tt.want)
			}
		})
	}
}

// countingReader yields 0, 1, 2, … and counts the bytes read.
type countingReader struct{ n int }

func (r *countingReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r.n)
		r.n++
	}
	return len(b), nil
}

func TestNewSecret(t *testing.T) {
	r := &countingReader{}
	s, err := NewSecret(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 20 || r.n != 20 {
		t.Fatalf("len = %d, read %d bytes; want 20, 20", len(s), r.n)
	}
	want := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	if !bytes.Equal(s, want) {
		t.Errorf("secret = %v, want the reader's bytes %v", s, want)
	}
	// Same reader state, same secret; the next call continues the stream.
	s2, _ := NewSecret(&countingReader{})
	if !bytes.Equal(s2, s) {
		t.Errorf("deterministic reader gave %v then %v", s, s2)
	}
	s3, _ := NewSecret(r)
	if s3[0] != 20 {
		t.Errorf("second secret starts at %d, want 20", s3[0])
	}
	// Short readers are read fully (io.ReadFull).
	s4, err := NewSecret(io.MultiReader(bytes.NewReader(want[:7]), bytes.NewReader(want[7:])))
	if err != nil || !bytes.Equal(s4, want) {
		t.Errorf("split reader: %v, %v", s4, err)
	}
	// Exhausted or failing readers are errors, never a short secret.
	for _, r := range []io.Reader{
		bytes.NewReader(want[:19]),
		bytes.NewReader(nil),
		io.MultiReader(bytes.NewReader(want[:5]), errReader{}),
	} {
		if s, err := NewSecret(r); err == nil || s != nil {
			t.Errorf("NewSecret(short reader) = %v, %v; want nil, error", s, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy unavailable") }

func FuzzMatch(f *testing.F) {
	p := DefaultParams()
	now := time.Unix(1_111_111_109, 0)
	for _, c := range []string{
		"", "0", "123456", "12345678", "050471", p.CodeAt(seedSHA1, p.Step(now)),
		"abcdef", "12345a", " 12345", "-12345", "１２３", "\x00\x00\x00\x00\x00\x00", "\xff\xfe\xfd\xfc\xfb\xfa",
	} {
		f.Add(c, int64(1_111_111_109), 1)
	}
	f.Add("94287082", int64(59), 0)
	f.Add("000000", int64(-1), -3)
	f.Add("999999", int64(1<<40), 1000)
	f.Fuzz(func(t *testing.T, code string, unix int64, skew int) {
		at := time.Unix(unix, 0)
		for _, p := range []Params{DefaultParams(), {SHA512, 8, 60}} {
			step, ok := p.Match(seedSHA1, code, at, skew)
			if !ok {
				if step != 0 {
					t.Fatalf("refused with step %d", step)
				}
				continue
			}
			// Anything accepted must be a well-formed code of a step
			// inside the window.
			s := min(max(skew, 0), MaxSkew)
			cur := p.Step(at)
			if step < cur-int64(s) || step > cur+int64(s) {
				t.Fatalf("step %d outside %d±%d", step, cur, s)
			}
			if want := p.CodeAt(seedSHA1, step); code != want {
				t.Fatalf("accepted %q for step %d, whose code is %q", code, step, want)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	for _, p := range []Params{DefaultParams(), {SHA256, 8, 30}, {SHA512, 8, 30}} {
		secret := seedFor(p.Algorithm)
		hit := p.CodeAt(secret, p.Step(now)+1)
		b.Run(fmt.Sprintf("%s-%d", p.Algorithm, p.Digits), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := p.Match(secret, hit, now, 1); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
