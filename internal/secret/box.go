package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of the encryption key: 32 bytes for AES-256.
const KeySize = 32

// ErrDecrypt means a value could not be decrypted: the key is wrong or the value was altered.
var ErrDecrypt = errors.New("cannot decrypt: wrong encryption key or corrupted value")

// Box encrypts and decrypts values with AES-256-GCM and derives the keyed hash for codes.
type Box struct {
	aead    cipher.AEAD
	hashKey []byte
}

// ParseKey reads a key written as 64 hex characters or as standard base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, errors.New("encryption key must be 32 bytes written as 64 hex characters or standard base64 (openssl rand -hex 32)")
}

// LoadOrCreateKeyFile reads the dev-mode key file in dir, creating it with a random key (mode 0600)
// when it does not exist. created reports whether a new key was written.
func LoadOrCreateKeyFile(dir string) (key []byte, created bool, err error) {
	path := filepath.Join(dir, "encryption.key")
	data, err := os.ReadFile(path)
	if err == nil {
		k, perr := ParseKey(string(data))
		if perr != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, perr)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race; use its key
			return LoadOrCreateKeyFile(dir)
		}
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	return k, true, nil
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes", KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("latch/keyed-hash/v1"))
	return &Box{aead: aead, hashKey: m.Sum(nil)}, nil
}

// Seal encrypts plaintext; ad binds the ciphertext to its context (e.g. a row id) so a value
// cannot be moved to another row. The result is base64 text, portable across both engines.
func (b *Box) Seal(plaintext, ad []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, plaintext, ad)
	return "v1:" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same ad.
func (b *Box) Open(sealed string, ad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return nil, ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, ErrDecrypt
	}
	ns := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:ns], raw[ns:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Hash returns the keyed hash (HMAC-SHA256, hex) of a high-entropy value such as a code, a client
// secret or a refresh token. purpose separates the hash spaces so a code can never match a token.
func (b *Box) Hash(purpose, value string) string {
	m := hmac.New(sha256.New, b.hashKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
