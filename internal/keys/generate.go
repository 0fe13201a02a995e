package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage"
)

// SigningAlgorithms are the algorithms Veil can sign access tokens with.
// RFC 9068 §4 requires RS256 to be available; ES256 is the default because
// it is fast and its keys are small.
var SigningAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// rsaBits is the size of Veil's RSA signing keys.
const rsaBits = 2048

// newSigningKey generates a private key for alg.
func newSigningKey(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256, jose.PS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case jose.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("keys: unsupported signing algorithm %q", alg)
}

// GenerateSigning returns a sealed signing key for alg that becomes active
// at activateAt.
func GenerateSigning(s *Sealer, alg jose.SignatureAlgorithm, now, activateAt time.Time) (*storage.Key, error) {
	priv, err := newSigningKey(alg)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", alg, err)
	}
	k := seal(s, storage.UseSignature, string(alg), der, now)
	k.ActivatedAt = activateAt
	return k, nil
}

// Generate returns Veil's first keys: an active signing key for each of
// algs, the encryption key and the secret-hashing key, each sealed by s.
func Generate(s *Sealer, algs []jose.SignatureAlgorithm, now time.Time) ([]*storage.Key, error) {
	var out []*storage.Key
	for _, alg := range algs {
		k, err := GenerateSigning(s, alg, now, now)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return append(out,
		seal(s, storage.UseEncryption, string(KeyWrapAlgorithm), randomBytes(32), now),
		seal(s, storage.UseSecretHash, hashAlgorithm, randomBytes(32), now),
	), nil
}

func seal(s *Sealer, use storage.KeyUse, alg string, private []byte, now time.Time) *storage.Key {
	kid := base64.RawURLEncoding.EncodeToString(randomBytes(12))
	return &storage.Key{
		ID:          kid,
		Use:         use,
		Algorithm:   alg,
		Sealed:      s.Seal(kid, private),
		CreatedAt:   now,
		ActivatedAt: now,
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
