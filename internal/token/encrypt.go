package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA key a resource server may register.
const MinRSABits = 2048

// ErrUnsuitableKey is returned for a resource server's encryption key that
// Veil will not encrypt to.
var ErrUnsuitableKey = errors.New("token: unsuitable encryption key")

// KeyAlgorithm returns the JWE key management algorithm Veil uses with a
// resource server's public key: RSA-OAEP-256 for RSA of at least 2048
// bits, ECDH-ES+A256KW for EC P-256. Anything else is ErrUnsuitableKey: a
// weaker key would make the encryption the weakest link.
func KeyAlgorithm(jwk *jose.JSONWebKey) (jose.KeyAlgorithm, error) {
	if jwk == nil || !jwk.IsPublic() || !jwk.Valid() || jwk.KeyID == "" {
		return "", ErrUnsuitableKey
	}
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return "", ErrUnsuitableKey
		}
		return jose.RSA_OAEP_256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", ErrUnsuitableKey
		}
		return jose.ECDH_ES_A256KW, nil
	}
	return "", ErrUnsuitableKey
}

// NewResourceEncrypter returns an encrypter to a resource server's public
// key, setting kid and cty (JWT), A256GCM content encryption, never
// compression.
func NewResourceEncrypter(jwk *jose.JSONWebKey) (jose.Encrypter, error) {
	alg, err := KeyAlgorithm(jwk)
	if err != nil {
		return nil, err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: alg, Key: jwk.Key, KeyID: jwk.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("create encrypter for key %s: %w", jwk.KeyID, err)
	}
	return enc, nil
}
