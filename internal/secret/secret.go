// Package secret generates the credentials Veil hands out (client IDs and
// client secrets) and hashes secrets for storage.
//
// Client secrets are never chosen by people: Veil draws 256 random bits for
// each. For such a value a slow password hash (bcrypt, argon2) buys nothing,
// because guessing 2^256 candidates is out of reach at any hashing speed, and
// it costs a lot: bcrypt at its default cost limits the token endpoint to a
// handful of requests per second per core. Veil therefore stores
// HMAC-SHA256(key, secret). The key is a Veil-held secret sealed under the
// master key, so a copy of the database alone does not even allow checking a
// guessed secret offline.
package secret

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// ErrMismatch is returned by Compare when a secret does not match its hash.
var ErrMismatch = errors.New("secret: mismatch")

// Bytes is the number of random bytes in a generated client secret.
const Bytes = 32

// New returns a fresh client secret: 256 random bits, base64url without
// padding (43 characters).
func New() string {
	return random(Bytes)
}

// NewID returns a fresh client ID: 128 random bits, base64url without
// padding (22 characters). IDs are not secret, only unguessable enough that
// they cannot collide.
func NewID() string {
	return random(16)
}

func random(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms; it
	// crashes the program instead of returning weak bytes.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hasher hashes client secrets with HMAC-SHA256 under a Veil-held key. It
// implements fosite.Hasher. The zero value is not usable.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher using key, which must be at least 32 bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < 32 {
		return nil, errors.New("secret: hash key shorter than 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the HMAC of data.
func (h *Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return h.sum(data), nil
}

// Compare returns nil if hash is the HMAC of data, ErrMismatch otherwise.
// The comparison takes constant time.
func (h *Hasher) Compare(_ context.Context, hash, data []byte) error {
	if len(hash) == 0 || !hmac.Equal(hash, h.sum(data)) {
		return ErrMismatch
	}
	return nil
}

func (h *Hasher) sum(data []byte) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write(data)
	return m.Sum(nil)
}
