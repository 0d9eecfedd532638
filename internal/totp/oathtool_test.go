package totp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needOathtool skips the test if the OATH Toolkit's oathtool is not on PATH.
func needOathtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Skip("oathtool not installed; .ci/run installs it")
	}
}

// oathtool runs oathtool with args and returns its trimmed standard output.
func oathtool(args ...string) (string, error) {
	cmd := exec.Command("oathtool", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("oathtool %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func oathMode(a Algorithm) string { return "--totp=" + string(a) }

// TestOathtoolGenerates checks that Match accepts, at the same time, the
// codes oathtool computes, and that they are the codes CodeAt computes.
func TestOathtoolGenerates(t *testing.T) {
	needOathtool(t)
	random, err := NewSecret(&countingReader{n: 42})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret []byte
		p      Params
		now    string // oathtool's --now
		unix   int64
	}{
		{"SHA1 default", random, DefaultParams(), "@1700000000", 1700000000},
		{"SHA1 date", random, DefaultParams(), "2009-02-13 23:31:30 UTC", 1234567890},
		{"SHA1 RFC", seedSHA1, Params{SHA1, 8, 30}, "@59", 59},
		{"SHA256 8 digits", random, Params{SHA256, 8, 30}, "@1700000000", 1700000000},
		{"SHA256 RFC", seedSHA256, Params{SHA256, 8, 30}, "@1111111109", 1111111109},
		{"SHA256 6 digits", seedSHA256, Params{SHA256, 6, 30}, "2033-05-18 03:33:20 UTC", 2000000000},
		{"SHA512 8 digits 60s", random, Params{SHA512, 8, 60}, "@1700000000", 1700000000},
		{"SHA512 RFC", seedSHA512, Params{SHA512, 8, 30}, "@20000000000", 20000000000},
		{"SHA1 15s", random, Params{SHA1, 6, 15}, "@1234567899", 1234567899},
		{"SHA1 120s", random, Params{SHA1, 6, 120}, "@1234567899", 1234567899},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := oathtool(oathMode(tt.p.Algorithm), "-b",
				"-d", fmt.Sprint(tt.p.Digits), "-s", fmt.Sprintf("%ds", tt.p.Period),
				"-N", tt.now, EncodeSecret(tt.secret))
			if err != nil {
				t.Fatal(err)
			}
			at := time.Unix(tt.unix, 0)
			step, ok := tt.p.Match(tt.secret, code, at, 1)
			if !ok || step != tt.p.Step(at) {
				t.Errorf("oathtool code %s: Match = %d, %v; want %d, true", code, step, ok, tt.p.Step(at))
			}
			if got := tt.p.CodeAt(tt.secret, tt.p.Step(at)); got != code {
				t.Errorf("CodeAt = %s, oathtool = %s", got, code)
			}
		})
	}
}

// TestOathtoolValidates goes the other way: oathtool accepts the codes of
// CodeAt, and refuses a changed one.
func TestOathtoolValidates(t *testing.T) {
	needOathtool(t)
	secret, err := NewSecret(&countingReader{n: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{DefaultParams(), {SHA256, 8, 30}, {SHA512, 6, 60}} {
		for _, unix := range []int64{59, 1234567890, 1700000000} {
			at := time.Unix(unix, 0)
			code := p.CodeAt(secret, p.Step(at))
			args := []string{oathMode(p.Algorithm), "-b", "-d", fmt.Sprint(p.Digits),
				"-s", fmt.Sprintf("%ds", p.Period), "-N", fmt.Sprintf("@%d", unix),
				strings.ToLower(EncodeSecret(secret))}
			if _, err := oathtool(append(args, code)...); err != nil {
				t.Errorf("%+v at %d: oathtool refused our code: %v", p, unix, err)
			}
			wrong := fmt.Sprintf("%0*d", p.Digits, 0)
			if wrong == code {
				wrong = fmt.Sprintf("%0*d", p.Digits, 1)
			}
			if _, err := oathtool(append(args, wrong)...); err == nil {
				t.Errorf("%+v at %d: oathtool accepted %s", p, unix, wrong)
			}
		}
	}
}
