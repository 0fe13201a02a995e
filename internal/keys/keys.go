// Package keys owns Veil's own key material and its lifecycle. It generates
// the signing, encryption and secret-hashing keys, seals their private parts
// under the master key before they reach storage, plans rotations, and
// builds the immutable Set that the token code signs, encrypts, verifies and
// decrypts with. The published JWKS is serialised once per Set, not per
// request.
//
// A signing key lives through three states, all derived from its dates so
// that every replica agrees without talking to the others: next (published,
// not yet signing), active (signing), retired (published until the tokens it
// signed have expired), then it is deleted. See Plan.
//
// All JOSE work uses go-jose v4. Callers name the algorithms they accept.
package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage"
)

// The algorithms of Veil's own encryption.
const (
	// KeyWrapAlgorithm wraps the content key of a JWE for Veil itself.
	KeyWrapAlgorithm = jose.A256KW
	// ContentEncryption encrypts every JWE payload.
	ContentEncryption = jose.A256GCM
	// hashAlgorithm names the secret-hashing key in storage.
	hashAlgorithm = "HS256"
)

// signingKey is one signing key, ready to use.
type signingKey struct {
	id          string
	alg         jose.SignatureAlgorithm
	signer      jose.Signer
	activatedAt time.Time
	retiredAt   time.Time
}

// Set is the key material in force. It is immutable and safe for
// concurrent use; a new Set replaces it when the stored keys change.
type Set struct {
	signing    map[jose.SignatureAlgorithm][]*signingKey // by activation, oldest first
	encrypter  jose.Encrypter
	encryptKID string
	verify     map[string]*jose.JSONWebKey
	decrypt    map[string][]byte
	hashKey    []byte
	jwks       []byte
}

// NewSet opens the stored keys with s and builds a Set. It fails if a key
// cannot be opened or if the encryption or hashing key is missing.
func NewSet(stored []*storage.Key, s *Sealer) (*Set, error) {
	set := &Set{
		signing: make(map[jose.SignatureAlgorithm][]*signingKey),
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

	if len(set.signing) == 0 || set.encrypter == nil || set.hashKey == nil {
		return nil, errors.New("keys: stored keys lack a signing, encryption or hashing key")
	}
	for _, ks := range set.signing {
		sort.Slice(ks, func(i, j int) bool { return ks[i].activatedAt.Before(ks[j].activatedAt) })
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: published})
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	set.jwks = jwks
	return set, nil
}

func (set *Set) addSigning(k *storage.Key, der []byte) (jose.JSONWebKey, error) {
	alg := jose.SignatureAlgorithm(k.Algorithm)
	if !slices.Contains(SigningAlgorithms, alg) {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s has unsupported algorithm", k.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("parse signing key %s: %w", k.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s is not a signer", k.ID)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
	if !pub.Valid() {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s does not suit %s", k.ID, alg)
	}
	set.verify[k.ID] = &pub

	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("create signer for key %s: %w", k.ID, err)
	}
	set.signing[alg] = append(set.signing[alg], &signingKey{
		id: k.ID, alg: alg, signer: signer, activatedAt: k.ActivatedAt, retiredAt: k.RetiredAt,
	})
	return pub, nil
}

func (set *Set) addEncryption(k *storage.Key, secret []byte) error {
	if len(secret) != 32 || k.Algorithm != string(KeyWrapAlgorithm) {
		return fmt.Errorf("keys: encryption key %s has unsupported type", k.ID)
	}
	set.decrypt[k.ID] = secret
	if set.encrypter != nil {
		return nil
	}
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
	return nil
}

// Signer returns the signer of the key active for alg at now, and its kid:
// the key with the latest activation not after now. It sets the kid and typ
// (at+jwt) headers. ok is false when Veil holds no key for alg.
func (set *Set) Signer(alg jose.SignatureAlgorithm, now time.Time) (signer jose.Signer, kid string, ok bool) {
	ks := set.signing[alg]
	for i := len(ks) - 1; i >= 0; i-- {
		if !ks[i].activatedAt.After(now) {
			return ks[i].signer, ks[i].id, true
		}
	}
	if len(ks) > 0 {
		// Only future keys: the first key of an algorithm is active from
		// its creation, so this means the clock went backwards. Use the
		// earliest rather than fail.
		return ks[0].signer, ks[0].id, true
	}
	return nil, "", false
}

// Algorithms returns the signing algorithms Veil holds keys for.
func (set *Set) Algorithms() []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, alg := range SigningAlgorithms {
		if len(set.signing[alg]) > 0 {
			out = append(out, alg)
		}
	}
	return out
}

// SigningKeyInfo describes one signing key of a Set: what can be told
// about it without its material.
type SigningKeyInfo struct {
	// ID is the kid.
	ID string
	// Algorithm is the JWS algorithm the key signs with.
	Algorithm jose.SignatureAlgorithm
	// ActivatedAt is when the key starts (or started) signing.
	ActivatedAt time.Time
	// RetiredAt is when a newer key takes (or took) over; zero while none
	// is scheduled.
	RetiredAt time.Time
}

// State returns the key's lifecycle state at now (see State).
func (k SigningKeyInfo) State(now time.Time) string {
	return stateAt(k.ActivatedAt, k.RetiredAt, now)
}

// SigningKeys describes the signing keys of the Set, by algorithm in the
// order of SigningAlgorithms, then oldest activation first.
func (set *Set) SigningKeys() []SigningKeyInfo {
	var out []SigningKeyInfo
	for _, alg := range SigningAlgorithms {
		for _, k := range set.signing[alg] {
			out = append(out, SigningKeyInfo{ID: k.id, Algorithm: k.alg,
				ActivatedAt: k.activatedAt, RetiredAt: k.retiredAt})
		}
	}
	return out
}

// Encrypter returns the encrypter of Veil's own encryption key. It sets the
// kid and cty (JWT) headers.
func (set *Set) Encrypter() jose.Encrypter { return set.encrypter }

// EncryptionKeyID returns the kid of Veil's own encryption key.
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
