package verifier

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// The algorithms a Verifier can be told to accept, and accepts by default.
// They are the ones Veil uses for tokens encrypted to a resource server's
// key; nothing symmetric, no PBES2, no RSA1_5 and no "none".
var (
	allowedKeyAlgorithms       = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES_A256KW}
	allowedSignatureAlgorithms = []jose.SignatureAlgorithm{
		jose.ES256, jose.RS256, jose.PS256, jose.EdDSA,
	}
)

// minRSABits is the smallest RSA modulus accepted, for decryption and for
// signatures alike (RFC 7518 §3.3, §4.3).
const minRSABits = 2048

// decryptionKey is one of the resource server's private keys with the one
// key-management algorithm it may be used with.
type decryptionKey struct {
	alg jose.KeyAlgorithm
	key any // *rsa.PrivateKey or *ecdsa.PrivateKey
}

// decryptionKeys checks the resource server's keys and indexes them by kid.
func decryptionKeys(keys []jose.JSONWebKey, allowed []jose.KeyAlgorithm) (map[string]decryptionKey, error) {
	byID := make(map[string]decryptionKey, len(keys))
	var problems []error
	for i, k := range keys {
		dk, err := decryptionKeyOf(k)
		switch {
		case err != nil:
		case k.KeyID == "":
			err = errors.New("has no KeyID")
		case byID[k.KeyID].key != nil:
			err = errors.New("repeats the KeyID of an earlier key")
		case !slices.Contains(allowed, dk.alg):
			err = fmt.Errorf("needs %s, which KeyAlgorithms leaves out", dk.alg)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("verifier: DecryptionKeys[%d]: %w", i, err))
			continue
		}
		byID[k.KeyID] = dk
	}
	return byID, errors.Join(problems...)
}

func decryptionKeyOf(k jose.JSONWebKey) (decryptionKey, error) {
	var dk decryptionKey
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		if bits := key.N.BitLen(); bits < minRSABits {
			return dk, fmt.Errorf("RSA key of %d bits is too small (want %d+)", bits, minRSABits)
		}
		if err := key.Validate(); err != nil {
			return dk, fmt.Errorf("check RSA key: %w", err)
		}
		dk = decryptionKey{alg: jose.RSA_OAEP_256, key: key}
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return dk, errors.New("EC key is not on P-256")
		}
		dk = decryptionKey{alg: jose.ECDH_ES_A256KW, key: key}
	default:
		return dk, fmt.Errorf("is %T, want an RSA or EC P-256 private key", k.Key)
	}
	if k.Algorithm != "" && k.Algorithm != string(dk.alg) {
		return dk, fmt.Errorf("says alg %q, but the key is for %s", k.Algorithm, dk.alg)
	}
	if k.Use != "" && k.Use != "enc" {
		return dk, fmt.Errorf("says use %q, want enc", k.Use)
	}
	return dk, nil
}

// ParsePrivateKeys reads a resource server's private keys from PEM (PKCS
// #8, PKCS #1 or SEC 1 blocks; EC PARAMETERS blocks are skipped), from a
// JWK, or from a JWK set. A key read from PEM gets its RFC 7638 thumbprint
// as KeyID, so the public key registered at Veil must carry the same kid;
// PublicJWKS makes that set. Errors never quote the input.
func ParsePrivateKeys(data []byte) ([]jose.JSONWebKey, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		return parseJWKs(trimmed)
	}

	var keys []jose.JSONWebKey
	for rest := trimmed; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		key, err := parsePEMKey(block)
		if err != nil {
			return nil, fmt.Errorf("read PEM block %d: %w", len(keys)+1, err)
		}
		kid, err := thumbprint(key)
		if err != nil {
			return nil, err
		}
		keys = append(keys, jose.JSONWebKey{Key: key, KeyID: kid})
	}
	if len(keys) == 0 {
		return nil, errors.New("verifier: no private key found (want PEM, a JWK or a JWK set)")
	}
	return keys, nil
}

func parsePEMKey(block *pem.Block) (crypto.PrivateKey, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("block type %q is not a private key", block.Type)
}

func parseJWKs(data []byte) ([]jose.JSONWebKey, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, errors.New("verifier: key file is not a JSON object")
	}
	var keys []jose.JSONWebKey
	if _, ok := probe["keys"]; ok {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, fmt.Errorf("read JWK set: %w", err)
		}
		keys = set.Keys
	} else {
		var k jose.JSONWebKey
		if err := json.Unmarshal(data, &k); err != nil {
			return nil, fmt.Errorf("read JWK: %w", err)
		}
		keys = []jose.JSONWebKey{k}
	}
	for i, k := range keys {
		if k.IsPublic() {
			return nil, fmt.Errorf("verifier: JWK %d (kid %q) is a public key", i, k.KeyID)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("verifier: the JWK set has no keys")
	}
	return keys, nil
}

func thumbprint(key crypto.PrivateKey) (string, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return "", fmt.Errorf("verifier: %T is not a supported private key", key)
	}
	sum, err := (&jose.JSONWebKey{Key: signer.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("compute key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// PublicJWKS returns the public halves of a resource server's private
// keys as a JWK set to register at Veil: each key keeps its kid and gets
// use "enc" and the alg a Verifier will accept it with. It fails on a key
// the Verifier would refuse.
func PublicJWKS(keys []jose.JSONWebKey) (*jose.JSONWebKeySet, error) {
	if _, err := decryptionKeys(keys, allowedKeyAlgorithms); err != nil {
		return nil, err
	}
	set := &jose.JSONWebKeySet{}
	for _, k := range keys {
		dk, _ := decryptionKeyOf(k)
		pub := dk.key.(crypto.Signer).Public()
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: pub, KeyID: k.KeyID, Use: "enc", Algorithm: string(dk.alg),
		})
	}
	return set, nil
}

// verificationKey checks a published JWK: a public signing key with a kid,
// for an accepted algorithm, of the type and size that algorithm needs.
func verificationKey(k jose.JSONWebKey, allowed []jose.SignatureAlgorithm) (any, bool) {
	alg := jose.SignatureAlgorithm(k.Algorithm)
	if k.KeyID == "" || !slices.Contains(allowed, alg) || (k.Use != "" && k.Use != "sig") {
		return nil, false
	}
	pub := k.Public().Key
	switch key := pub.(type) {
	case *ecdsa.PublicKey:
		return key, alg == jose.ES256 && key.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return key, (alg == jose.RS256 || alg == jose.PS256) && key.N.BitLen() >= minRSABits
	case ed25519.PublicKey:
		return key, alg == jose.EdDSA
	}
	return nil, false
}
