// Package keys owns Veil's own key material: it generates the signing,
// encryption and secret-hashing keys, seals their private parts under the
// master key before they reach storage, and builds the immutable Set that the
// token code signs, encrypts, verifies and decrypts with. The published JWKS
// is serialised once per Set, not per request.
//
// All JOSE work uses go-jose v4. Callers name the algorithms they accept.
package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage"
)

// The algorithms Veil uses for its own keys.
const (
	// SigningAlgorithm signs the inner JWS of an access token.
	SigningAlgorithm = jose.ES256
	// KeyWrapAlgorithm wraps the content key of the outer JWE.
	KeyWrapAlgorithm = jose.A256KW
	// ContentEncryption encrypts the outer JWE's payload.
	ContentEncryption = jose.A256GCM
	// hashAlgorithm names the secret-hashing key in storage.
	hashAlgorithm = "HS256"
)

// Generate returns a fresh set of first keys: one active signing key, one
// active encryption key and the secret-hashing key, each sealed by s.
func Generate(s *Sealer, now time.Time) ([]*storage.Key, error) {
	sig, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(sig)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}

	return []*storage.Key{
		seal(s, storage.UseSignature, string(SigningAlgorithm), der, now),
		seal(s, storage.UseEncryption, string(KeyWrapAlgorithm), randomBytes(32), now),
		seal(s, storage.UseSecretHash, hashAlgorithm, randomBytes(32), now),
	}, nil
}

func seal(s *Sealer, use storage.KeyUse, alg string, private []byte, now time.Time) *storage.Key {
	kid := base64.RawURLEncoding.EncodeToString(randomBytes(12))
	return &storage.Key{
		ID:        kid,
		Use:       use,
		Algorithm: alg,
		State:     storage.KeyActive,
		Sealed:    s.Seal(kid, private),
		CreatedAt: now,
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Set is the key material in force at one moment. It is immutable and safe
// for concurrent use; a new Set replaces it when keys change.
type Set struct {
	signer     jose.Signer
	signKID    string
	encrypter  jose.Encrypter
	encryptKID string
	verify     map[string]*jose.JSONWebKey
	decrypt    map[string][]byte
	hashKey    []byte
	jwks       []byte
}

// NewSet opens the stored keys with s and builds a Set. It fails if a key
// cannot be opened or if there is no active key of each use.
func NewSet(stored []*storage.Key, s *Sealer) (*Set, error) {
	set := &Set{
		verify:  make(map[string]*jose.JSONWebKey),
		decrypt: make(map[string][]byte),
	}
	var published []jose.JSONWebKey
	for _, k := range stored {
		private, err := s.Open(k.ID, k.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open key %s: %w", k.ID, err)
		}
		switch k.Use {
		case storage.UseSignature:
			pub, err := set.addSigning(k, private)
			if err != nil {
				return nil, err
			}
			published = append(published, pub)
		case storage.UseEncryption:
			if err := set.addEncryption(k, private); err != nil {
				return nil, err
			}
		case storage.UseSecretHash:
			set.hashKey = private
		}
	}

	if set.signer == nil || set.encrypter == nil || set.hashKey == nil {
		return nil, errors.New("keys: stored keys lack an active key of some use")
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: published})
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	set.jwks = jwks
	return set, nil
}

func (set *Set) addSigning(k *storage.Key, der []byte) (jose.JSONWebKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("parse signing key %s: %w", k.ID, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || k.Algorithm != string(SigningAlgorithm) {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s has unsupported type", k.ID)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
	set.verify[k.ID] = &pub

	if k.State == storage.KeyActive {
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: SigningAlgorithm, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType("at+jwt"),
		)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("create signer: %w", err)
		}
		set.signer = signer
		set.signKID = k.ID
	}
	return pub, nil
}

func (set *Set) addEncryption(k *storage.Key, secret []byte) error {
	if len(secret) != 32 || k.Algorithm != string(KeyWrapAlgorithm) {
		return fmt.Errorf("keys: encryption key %s has unsupported type", k.ID)
	}
	set.decrypt[k.ID] = secret

	if k.State == storage.KeyActive {
		enc, err := jose.NewEncrypter(
			ContentEncryption,
			jose.Recipient{Algorithm: KeyWrapAlgorithm, Key: secret, KeyID: k.ID},
			(&jose.EncrypterOptions{}).WithContentType("JWT"),
		)
		if err != nil {
			return fmt.Errorf("create encrypter: %w", err)
		}
		set.encrypter = enc
		set.encryptKID = k.ID
	}
	return nil
}

// Signer returns the signer of the active signing key. It sets the kid and
// typ (at+jwt) headers.
func (set *Set) Signer() jose.Signer { return set.signer }

// Encrypter returns the encrypter of the active encryption key. It sets the
// kid and cty (JWT) headers.
func (set *Set) Encrypter() jose.Encrypter { return set.encrypter }

// SigningKeyID returns the kid of the active signing key.
func (set *Set) SigningKeyID() string { return set.signKID }

// EncryptionKeyID returns the kid of the active encryption key.
func (set *Set) EncryptionKeyID() string { return set.encryptKID }

// VerificationKey returns the public signing key with the given kid.
func (set *Set) VerificationKey(kid string) (*jose.JSONWebKey, bool) {
	k, ok := set.verify[kid]
	return k, ok
}

// DecryptionKey returns Veil's own key-wrapping key with the given kid.
func (set *Set) DecryptionKey(kid string) ([]byte, bool) {
	k, ok := set.decrypt[kid]
	return k, ok
}

// HashKey returns the key client secrets are hashed with.
func (set *Set) HashKey() []byte { return set.hashKey }

// JWKS returns the serialised public JWK set. Callers must not modify it.
func (set *Set) JWKS() []byte { return set.jwks }
