package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MasterKeySize is the size in bytes of a master key.
const MasterKeySize = 32

// sealVersion opens every sealed blob, so the format can change later.
const sealVersion = 1

// fingerprintSize is how many bytes of a master key's SHA-256 name it in a
// sealed blob, so that Open picks the right key without trial decryption.
const fingerprintSize = 8

// ErrOpen is returned when a sealed blob cannot be opened: it is corrupt, was
// sealed for another key ID, or under a master key that Veil was not given.
// The cases are not told apart.
var ErrOpen = errors.New("keys: cannot open sealed key")

// Sealer encrypts private key material at rest with AES-256-GCM under the
// master key. It can hold several master keys: it seals with the first and
// opens with whichever one a blob names, which is how master-key rotation
// works: Reseal (veil keys rewrap) then seals every stored key under the
// primary, so the old one can be dropped.
type Sealer struct {
	primary  masterKey
	accepted []masterKey
}

type masterKey struct {
	fingerprint [fingerprintSize]byte
	aead        cipher.AEAD
}

// NewSealer returns a Sealer that seals with the first key and opens with
// any. Every key must be MasterKeySize bytes.
func NewSealer(master [][]byte) (*Sealer, error) {
	if len(master) == 0 {
		return nil, errors.New("keys: no master key")
	}
	s := &Sealer{}
	for i, k := range master {
		if len(k) != MasterKeySize {
			return nil, fmt.Errorf("keys: master key %d is %d bytes, want %d", i+1, len(k), MasterKeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("create master key cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("create master key cipher: %w", err)
		}
		sum := sha256.Sum256(k)
		mk := masterKey{aead: aead}
		copy(mk.fingerprint[:], sum[:fingerprintSize])
		s.accepted = append(s.accepted, mk)
	}
	s.primary = s.accepted[0]
	return s, nil
}

// Seal encrypts plaintext under the primary master key. The key ID is
// authenticated as additional data, so a sealed blob cannot be moved to
// another key's row and opened there.
func (s *Sealer) Seal(kid string, plaintext []byte) []byte {
	nonce := make([]byte, s.primary.aead.NonceSize())
	_, _ = rand.Read(nonce)

	out := make([]byte, 0, 1+fingerprintSize+len(nonce)+len(plaintext)+s.primary.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, s.primary.fingerprint[:]...)
	out = append(out, nonce...)
	return s.primary.aead.Seal(out, nonce, plaintext, []byte(kid))
}

// Open decrypts a blob made by Seal under any accepted master key.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+fingerprintSize || sealed[0] != sealVersion {
		return nil, ErrOpen
	}
	mk, ok := s.find(sealed[1 : 1+fingerprintSize])
	if !ok {
		return nil, ErrOpen
	}
	rest := sealed[1+fingerprintSize:]
	ns := mk.aead.NonceSize()
	if len(rest) < ns {
		return nil, ErrOpen
	}
	plain, err := mk.aead.Open(nil, rest[:ns], rest[ns:], []byte(kid))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// SealedWithPrimary reports whether a blob is sealed under the primary
// master key, so a rewrap can skip it.
func (s *Sealer) SealedWithPrimary(sealed []byte) bool {
	return len(sealed) >= 1+fingerprintSize &&
		string(sealed[1:1+fingerprintSize]) == string(s.primary.fingerprint[:])
}

func (s *Sealer) find(fp []byte) (masterKey, bool) {
	for _, mk := range s.accepted {
		if string(mk.fingerprint[:]) == string(fp) {
			return mk, true
		}
	}
	return masterKey{}, false
}
