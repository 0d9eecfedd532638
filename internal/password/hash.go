// Package password owns how Latch keeps and checks passwords: argon2id hashes in PHC strings
// with a bounded number of hashes in flight, constant-time verification that says when a hash
// was made with older parameters, and the policy of NIST SP 800-63B rev 4 (Unicode NFC, length
// in code points, no composition rules, an embedded blocklist and context words). Its service
// (service.go) keeps password credentials, logs users in with them and resets them by token. It
// never logs or returns a password, a hash or a reset token except to the caller that asked.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. Memory is in KiB.
type Params struct {
	Time    uint32
	Memory  uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams are the parameters new hashes are made with: OWASP ASVS 5.0 Appendix C's
// argon2id setting t=2, m=19 MiB, p=1 (the floor product.md sets), with a 128-bit salt and a
// 256-bit tag as RFC 9106 recommends. What one hash costs here is in docs/performance.md; raise
// Time or Memory when the hardware allows, and stored hashes are upgraded at their owners' next
// login (Verify's needsRehash).
var DefaultParams = Params{Time: 2, Memory: 19 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}

// floorParams is the weakest setting a Hasher may be configured with (ASVS's floor).
var floorParams = Params{Time: 2, Memory: 19 * 1024, Threads: 1}

// maxMemoryKiB bounds the memory a stored hash may ask for (1 GiB): a corrupt or hostile row
// must not make a login allocate without limit.
const maxMemoryKiB = 1 << 20

// ErrBadHash is returned for a stored string that is not an argon2id PHC string Latch can check.
var ErrBadHash = errors.New("password: not an argon2id PHC string")

// Hasher hashes and verifies passwords with at most a fixed number of hashes in flight, so a
// login storm queues (each hash holds Params.Memory KiB) instead of growing memory without bound.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // a hash of a random password, verified when the user is unknown
	runs   atomic.Int64
}

// NewHasher returns a Hasher making hashes with p (zero: DefaultParams) and running at most
// inFlight hashes at once (<= 0: the number of CPUs, at least 2). It refuses parameters below
// ASVS's floor.
func NewHasher(p Params, inFlight int) (*Hasher, error) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if p.SaltLen == 0 {
		p.SaltLen = DefaultParams.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = DefaultParams.KeyLen
	}
	if p.Threads == 0 {
		p.Threads = 1
	}
	if p.Time < floorParams.Time || p.Memory < floorParams.Memory || p.Memory > maxMemoryKiB || p.SaltLen < 16 || p.KeyLen < 16 {
		return nil, fmt.Errorf("password: argon2id parameters t=%d m=%d KiB are below the floor t=2 m=19456 KiB (or salt/tag shorter than 16 bytes)", p.Time, p.Memory)
	}
	if inFlight <= 0 {
		inFlight = max(runtime.NumCPU(), 2)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, inFlight)}
	var random [24]byte
	rand.Read(random[:])
	h.dummy = h.encode(p, mustSalt(p.SaltLen), random[:])
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// InFlight is how many hashes may run at once.
func (h *Hasher) InFlight() int { return cap(h.slots) }

func mustSalt(n uint32) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("password: random source failed: %v", err)) // crypto/rand never fails on Linux
	}
	return b
}

// acquire waits for a hashing slot or for ctx to end.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// key runs argon2id in a slot.
func (h *Hasher) key(ctx context.Context, p Params, salt, pw []byte) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	h.runs.Add(1)
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// Runs is how many argon2id computations the Hasher has done for Hash, Verify and VerifyDummy:
// the work an answer cost, which tests compare between a wrong password and an unknown user.
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// encode hashes pw with salt and returns the PHC string; it does not take a slot (construction).
func (h *Hasher) encode(p Params, salt, pw []byte) string {
	return phc(p, salt, argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen))
}

func phc(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Hash returns the PHC string of an already normalized password (Normalize), made with a new
// random salt.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := mustSalt(h.params.SaltLen)
	key, err := h.key(ctx, h.params, salt, []byte(pw))
	if err != nil {
		return "", err
	}
	return phc(h.params, salt, key), nil
}

// Verify checks a normalized password against a stored PHC string in constant time. needsRehash
// reports a hash made with parameters other than the Hasher's (the caller stores a new one).
func (h *Hasher) Verify(ctx context.Context, stored, pw string) (ok, needsRehash bool, err error) {
	p, salt, want, err := parsePHC(stored)
	if err != nil {
		return false, false, err
	}
	got, err := h.key(ctx, p, salt, []byte(pw))
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1
	needsRehash = p.Time != h.params.Time || p.Memory != h.params.Memory || p.Threads != h.params.Threads ||
		uint32(len(salt)) != h.params.SaltLen || uint32(len(want)) != h.params.KeyLen
	return ok, needsRehash, nil
}

// VerifyDummy does the work of a Verify against a hash no password matches: the caller runs it
// when the user is unknown (or has no password), so that answer takes as long as a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	_, _, err := h.Verify(ctx, h.dummy, pw)
	return err
}

// parsePHC reads $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func parsePHC(s string) (Params, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, ErrBadHash
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return Params{}, nil, nil, ErrBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, nil, nil, ErrBadHash
			}
			p.Threads = uint8(n)
		default:
			return Params{}, nil, nil, ErrBadHash
		}
	}
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 || p.Memory > maxMemoryKiB || p.Memory < 8*uint32(p.Threads) {
		return Params{}, nil, nil, ErrBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return Params{}, nil, nil, ErrBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
