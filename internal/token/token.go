// Package token makes and reads Veil's access tokens: a JWS signed by Veil
// (RFC 9068, typ at+jwt) nested inside a compact JWE (cty JWT), so the claims
// are readable only by holders of the decryption key.
//
// Parsing is strict, because every byte of a presented token is attacker
// input: the compact form only, the algorithms Veil issues and no other, no
// compression, the JWE must say it holds a JWT and the JWS must be typed
// at+jwt. Every failure returns ErrInvalid, so a caller (and through it an
// attacker) cannot tell a bad MAC from a bad signature or a malformed header.
package token

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
)

// ErrInvalid is returned for every token that fails to parse, decrypt or
// verify. The cause is deliberately not kept.
var ErrInvalid = errors.New("token: invalid")

// MaxLength bounds the size of a token Veil will look at. Veil's own tokens
// are well under 2 KiB.
const MaxLength = 8 << 10

// Type is the JWS typ header of a Veil access token (RFC 9068 §2.1).
const Type = "at+jwt"

// Claims are the claims of an access token (RFC 9068 §2.2).
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
}

// Audience is the aud claim. It is written as a string when it holds one
// value and read from either a string or an array (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes one audience as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("decode aud: %w", err)
	}
	*a = many
	return nil
}

// Issue signs claims with signer (which sets typ at+jwt and kid) and
// encrypts the result with enc (which sets cty JWT and kid).
func Issue(signer jose.Signer, enc jose.Encrypter, c *Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	inner, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialise jws: %w", err)
	}
	jwe, err := enc.Encrypt([]byte(inner))
	if err != nil {
		return "", fmt.Errorf("encrypt token: %w", err)
	}
	return jwe.CompactSerialize()
}

// Signature returns the storage key of a token: the base64url SHA-256 of the
// token string. Records are found by it, never by the token itself.
func Signature(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// LooksLikeJWE reports whether tok has the shape of a compact JWE of
// acceptable size: five base64url parts. It is a cheap filter applied before
// any lookup.
func LooksLikeJWE(tok string) bool {
	if len(tok) == 0 || len(tok) > MaxLength {
		return false
	}
	dots := 0
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '.':
			dots++
		case !base64url[c]:
			return false
		}
	}
	return dots == 4
}

// base64url marks the bytes of the base64url alphabet (RFC 4648 §5).
var base64url = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// Parse decrypts tok with Veil's own keys, verifies the inner JWS and
// returns its claims. It checks the token's structure and signature only;
// the caller checks iss, aud, exp and the stored record. Every failure is
// ErrInvalid.
func Parse(set *keys.Set, tok string) (*Claims, error) {
	c, ours, err := ParseOwn(set, tok)
	if err == nil && !ours {
		return nil, ErrInvalid
	}
	return c, err
}

// ParseOwn reads tok's JWE once and, when it is encrypted to one of set's
// own keys (Veil's key-wrapping algorithm and one of its kids), decrypts
// and verifies it as Parse does. A well-formed token encrypted to any other
// key, such as a resource server's (whose kid may even equal one of
// Veil's), returns ours false and nothing else: Veil cannot read it.
// Anything malformed is ours, with ErrInvalid, so a caller never skips
// verification for a token it could not even parse.
func ParseOwn(set *keys.Set, tok string) (c *Claims, ours bool, err error) {
	if !LooksLikeJWE(tok) {
		return nil, true, ErrInvalid
	}
	jwe, err := jose.ParseEncryptedCompact(tok,
		[]jose.KeyAlgorithm{keys.KeyWrapAlgorithm, jose.RSA_OAEP_256, jose.ECDH_ES_A256KW},
		[]jose.ContentEncryption{keys.ContentEncryption})
	if err != nil {
		return nil, true, ErrInvalid
	}
	key, known := set.DecryptionKey(jwe.Header.KeyID)
	if jwe.Header.Algorithm != string(keys.KeyWrapAlgorithm) || !known {
		return nil, false, nil
	}
	if !isJWT(jwe.Header.ExtraHeaders) || hasHeader(jwe.Header.ExtraHeaders, "zip") {
		return nil, true, ErrInvalid
	}
	inner, err := jwe.Decrypt(key)
	if err != nil {
		return nil, true, ErrInvalid
	}
	c, err = verify(set, string(inner))
	return c, true, err
}

func verify(set *keys.Set, inner string) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(inner, keys.SigningAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrInvalid
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) {
		return nil, ErrInvalid
	}
	pub, ok := set.VerificationKey(h.KeyID)
	if !ok || pub.Algorithm != h.Algorithm {
		return nil, ErrInvalid
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, ErrInvalid
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrInvalid
	}
	return &c, nil
}

// isJWT reports whether a JWE header says the payload is a JWT (RFC 7519
// §5.2: cty "JWT", compared case-insensitively).
func isJWT(h map[jose.HeaderKey]any) bool {
	cty, _ := h[jose.HeaderContentType].(string)
	return strings.EqualFold(cty, "JWT")
}

func hasHeader(h map[jose.HeaderKey]any, name jose.HeaderKey) bool {
	_, ok := h[name]
	return ok
}

// Valid reports whether claims are within their lifetime at now, allowing
// leeway for clock skew.
func (c *Claims) Valid(now time.Time, leeway time.Duration) bool {
	return now.Add(-leeway).Unix() < c.ExpiresAt && c.IssuedAt <= now.Add(leeway).Unix()
}
