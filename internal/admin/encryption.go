package admin

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/token"
)

// maxEncryptionKeys bounds a resource's encryption keys: enough to rotate
// with overlap, few enough to read at a glance.
const maxEncryptionKeys = 10

// maxKeyID bounds a kid, which goes into the header of every token.
const maxKeyID = 128

// signingAlgorithms are the JWS algorithms Veil can sign access tokens
// with (see keys.SigningAlgorithms).
var signingAlgorithms = []string{"ES256", "RS256", "PS256", "EdDSA"}

// jwkMembers are the members an encryption key may have (RFC 7517 §4,
// RFC 7518 §6.2.1 and §6.3.1).
var jwkMembers = []string{"kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"}

// privateMembers are the JWK members that hold private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2 and §6.4.1), and go-jose's "priv".
// They are compared without regard to case so that the refusal says what
// happened even for "D".
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

var (
	errJWKS = invalidRequest("encryption_keys must be a JWK Set: " +
		"an object whose only member is a keys array (RFC 7517 §5)")
	errTooManyKeys = invalidRequest("encryption_keys must hold at most %d keys",
		maxEncryptionKeys)
	errRequiredNoKey = invalidRequest("token_encryption_required needs at least " +
		"one key in encryption_keys")
	errSigningAlg = invalidRequest("access_token_signing_alg must be left out " +
		"or name an algorithm Veil signs with")
)

// errNotObject and errRepeatedMember are objectMembers' failures.
var (
	errNotObject      = errors.New("not a JSON object")
	errRepeatedMember = errors.New("member given twice")
)

// parseEncryptionKeys reads the encryption_keys member of a request: a JWK
// Set of public keys that Veil can encrypt to. A missing or null member is
// no keys.
//
// A resource server that registers keys gets tokens only it can read: Veil
// encrypts them to its newest key, and the resource decrypts with the key
// the JWE header's kid names. These rules keep what an admin pastes in
// from weakening that:
//
//   - Only public keys are taken. A JWK holding private or symmetric
//     material (RFC 7518 §6.2.2, §6.3.2, §6.4) is refused, not stripped:
//     whoever sent it has copied the resource's private key into a request
//     body, and should make a new one.
//   - Only RSA of at least 2048 bits (RSA-OAEP-256) and EC P-256
//     (ECDH-ES+A256KW), the keys token.KeyAlgorithm accepts, so that the
//     key is never the weakest part of the token; and only a key that Veil
//     has just encrypted to, so that no token request fails on it later.
//   - Member names are matched exactly, and a member Veil does not use
//     (x5c, key_ops and the like) is refused rather than ignored, so that
//     nothing is stored that Veil did not check.
//   - Every key has a kid, unique in the set: it is how the resource finds
//     the key to decrypt with (RFC 7516 §4.1.6).
//
// The keys returned hold the public key, kid, use and alg alone; what is
// stored is their encoding by go-jose, not the text that was sent.
func parseEncryptionKeys(raw json.RawMessage) ([]jose.JSONWebKey, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	set, err := objectMembers(raw)
	if err != nil || len(set) != 1 {
		return nil, errJWKS
	}
	var list []json.RawMessage
	if err := json.Unmarshal(set["keys"], &list); err != nil || list == nil {
		return nil, errJWKS
	}
	if len(list) > maxEncryptionKeys {
		return nil, errTooManyKeys
	}

	keys := make([]jose.JSONWebKey, 0, len(list))
	for i, item := range list {
		k, err := parseEncryptionKey(item)
		if err != nil {
			return nil, invalidRequest("encryption_keys.keys[%d] %s", i, err.Error())
		}
		if slices.ContainsFunc(keys, func(o jose.JSONWebKey) bool { return o.KeyID == k.KeyID }) {
			return nil, invalidRequest("encryption_keys.keys[%d] repeats the kid of "+
				"an earlier key", i)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseEncryptionKey reads and checks one JWK, returning the public key
// with only its kid, use and alg beside it. Its errors complete a sentence
// that names the key.
func parseEncryptionKey(raw json.RawMessage) (jose.JSONWebKey, error) {
	members, err := objectMembers(raw)
	if err != nil {
		return jose.JSONWebKey{}, errors.New("must be a JSON object with no member given twice")
	}
	for name := range members {
		if slices.Contains(privateMembers, strings.ToLower(name)) {
			return jose.JSONWebKey{}, errors.New("holds private or symmetric key material; " +
				"register the public key only")
		}
	}
	for name := range members {
		if !slices.Contains(jwkMembers, name) {
			return jose.JSONWebKey{}, errors.New("has a member other than " +
				strings.Join(jwkMembers, ", "))
		}
	}

	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		if errors.Is(err, jose.ErrUnsupportedKeyType) {
			return jose.JSONWebKey{}, errUnsuitable
		}
		return jose.JSONWebKey{}, errors.New("is not a valid JWK (RFC 7517)")
	}
	if !k.IsPublic() {
		return jose.JSONWebKey{}, errors.New("is not a public key")
	}
	if k.KeyID == "" || len(k.KeyID) > maxKeyID || !printableASCII(k.KeyID) {
		return jose.JSONWebKey{}, fmt.Errorf("needs a kid of 1 to %d printable ASCII "+
			"characters without spaces", maxKeyID)
	}
	if k.Use != "" && k.Use != "enc" {
		return jose.JSONWebKey{}, errors.New(`must have use "enc" or no use`)
	}
	return checkEncryptTo(jose.JSONWebKey{
		Key: k.Key, KeyID: k.KeyID, Use: k.Use, Algorithm: k.Algorithm,
	})
}

// errUnsuitable refuses a key that Veil does not encrypt to.
var errUnsuitable = errors.New("must be an RSA key of 2048 to 4096 bits or an EC key on P-256")

// checkEncryptTo checks that k's algorithm, if it names one, is the one
// Veil uses with such a key, and that Veil can encrypt to it: a key that
// passed every other check but failed when a token was issued would
// refuse every token for the resource.
func checkEncryptTo(k jose.JSONWebKey) (jose.JSONWebKey, error) {
	alg, err := token.KeyAlgorithm(&k)
	if err != nil {
		return jose.JSONWebKey{}, errUnsuitable
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return jose.JSONWebKey{}, errors.New("must have alg RSA-OAEP-256 for an RSA key, " +
			"ECDH-ES+A256KW for an EC key, or no alg")
	}

	enc, err := token.NewResourceEncrypter(&k)
	if err == nil {
		_, err = enc.Encrypt([]byte("{}"))
	}
	if err != nil {
		return jose.JSONWebKey{}, errors.New("is a key that Veil cannot encrypt to")
	}
	return k, nil
}

// resourceKeys returns the keys to store for a resource that had old. A key
// with the kid and the key material (by its RFC 7638 thumbprint) of an old
// one keeps the old one's AddedAt; any other is added at now. Veil
// encrypts to the key added last, so a resource rotating its key lists
// both, and tokens go to the new one at once while it still reads those
// sent to the old. Of keys added together, the last listed is used.
func resourceKeys(
	keys []jose.JSONWebKey, old []storage.ResourceKey, now time.Time,
) ([]storage.ResourceKey, error) {
	added := make(map[string]time.Time, len(old))
	for _, o := range old {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(o.JWK); err != nil {
			continue // it is being replaced; showResource reports it otherwise
		}
		if id, err := keyIdentity(&k); err == nil {
			added[id] = o.AddedAt
		}
	}

	out := make([]storage.ResourceKey, 0, len(keys))
	for _, k := range keys {
		body, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("encode encryption key: %w", err)
		}
		id, err := keyIdentity(&k)
		if err != nil {
			return nil, err
		}
		at, ok := added[id]
		if !ok {
			at = now
		}
		out = append(out, storage.ResourceKey{JWK: body, AddedAt: at})
	}
	return out, nil
}

// keyIdentity names a key by its kid and thumbprint together.
func keyIdentity(k *jose.JSONWebKey) (string, error) {
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint encryption key: %w", err)
	}
	return k.KeyID + " " + string(sum), nil
}

// jwksBody is the JSON shape of a JWK Set (RFC 7517 §5).
type jwksBody struct {
	Keys []jose.JSONWebKey `json:"keys"`
}

// showKeys returns a resource's encryption keys as a JWK Set of public keys,
// and when each was added, by kid. A stored key that does not read back as
// a valid public key is an error rather than left out, so that a damaged
// record is noticed; and nothing but the public key, kid, use and alg is
// ever shown.
func showKeys(r *storage.Resource) (jwksBody, map[string]time.Time, error) {
	set := jwksBody{Keys: make([]jose.JSONWebKey, 0, len(r.EncryptionKeys))}
	added := make(map[string]time.Time, len(r.EncryptionKeys))
	for i, stored := range r.EncryptionKeys {
		var k jose.JSONWebKey
		err := k.UnmarshalJSON(stored.JWK)
		if err == nil && (!k.IsPublic() || !k.Valid()) {
			err = errors.New("not a valid public key")
		}
		if err != nil {
			return jwksBody{}, nil, fmt.Errorf("read encryption key %d of resource %s: %w",
				i, r.ID, err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Use: k.Use,
			Algorithm: k.Algorithm})
		added[k.KeyID] = stored.AddedAt
	}
	return set, added, nil
}

// objectMembers returns the members of the JSON object raw, refusing any
// other value and a member given twice (encoding/json would keep the last,
// and go-jose might read another).
func objectMembers(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}

	out := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		name, _ := t.(string)
		if _, ok := out[name]; ok {
			return nil, errRepeatedMember
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		out[name] = v
	}
	return out, nil
}
