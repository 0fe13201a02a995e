// Package tokentest builds hostile tokens for tests: each one is a way an
// attacker might try to pass off a token Veil did not issue (cases 16–20 of
// the security cases). Every function returns a token that Veil must treat
// as invalid.
package tokentest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
)

// Forgery is a named hostile token.
type Forgery struct {
	Name  string
	Token string
}

// Claims returns plausible claims for a forged token.
func Claims(issuer, clientID, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": issuer, "sub": clientID, "aud": audience, "client_id": clientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "forged",
		"scope": "read write",
	}
}

// Forgeries returns one token per hostile shape, built against set. bare is
// a token Veil really issued, used for the "inner JWS presented bare" case;
// it must be a valid token for set.
func Forgeries(t testing.TB, set *keys.Set, bare string, claims map[string]any) []Forgery {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	encKey, _ := set.DecryptionKey(set.EncryptionKeyID())
	kid := set.EncryptionKeyID()
	_, sigKID, _ := set.Signer(jose.ES256, time.Now())

	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignSigned := sign(t, attacker, sigKID, "at+jwt", payload)
	return []Forgery{
		{"case 16: JWE of raw JSON claims", encrypt(t, encKey, kid, "JWT", payload)},
		{"case 17: alg none", encrypt(t, encKey, kid, "JWT", []byte(unsigned("none", sigKID, payload)))},
		{"case 17: alg None", encrypt(t, encKey, kid, "JWT", []byte(unsigned("None", sigKID, payload)))},
		{"case 17: alg NONE", encrypt(t, encKey, kid, "JWT", []byte(unsigned("NONE", sigKID, payload)))},
		{"case 17: zero ES256 signature", encrypt(t, encKey, kid, "JWT", []byte(zeroSignature(t, sigKID, payload)))},
		{"case 18: signed by a foreign key", encrypt(t, encKey, kid, "JWT", []byte(foreignSigned))},
		{"case 19: inner JWS without the JWE", innerOf(t, set, bare)},
		{"case 20: JWE without cty", encrypt(t, encKey, kid, "", []byte(innerOf(t, set, bare)))},
		{"case 20: inner typ JWT", encrypt(t, encKey, kid, "JWT", []byte(resignedWithType(t, "JWT", payload)))},
		{"JWE with zip", encryptZip(t, encKey, kid, []byte(innerOf(t, set, bare)))},
		{"garbage", "not-a-token"},
		{"empty parts", "...."},
	}
}

func encrypt(t testing.TB, key []byte, kid, cty string, plaintext []byte) string {
	t.Helper()
	opts := &jose.EncrypterOptions{}
	if cty != "" {
		opts = opts.WithContentType(jose.ContentType(cty))
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.A256KW, Key: key, KeyID: kid}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, enc, plaintext)
}

func encryptZip(t testing.TB, key []byte, kid string, plaintext []byte) string {
	t.Helper()
	opts := (&jose.EncrypterOptions{Compression: jose.DEFLATE}).WithContentType("JWT")
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.A256KW, Key: key, KeyID: kid}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, enc, plaintext)
}

func serialize(t testing.TB, enc jose.Encrypter, plaintext []byte) string {
	t.Helper()
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t testing.TB, key *ecdsa.PrivateKey, kid, typ string, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resignedWithType(t testing.TB, typ string, payload []byte) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, key, "x", typ, payload)
}

func unsigned(alg, kid string, payload []byte) string {
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "at+jwt", "kid": kid})
	return b64(h) + "." + b64(payload) + "."
}

func zeroSignature(t testing.TB, kid string, payload []byte) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": kid})
	return b64(h) + "." + b64(payload) + "." + b64(make([]byte, 64))
}

// innerOf decrypts a real Veil token and returns its inner JWS.
func innerOf(t testing.TB, set *keys.Set, tok string) string {
	t.Helper()
	obj, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("parse real token: %v", err)
	}
	key, ok := set.DecryptionKey(obj.Header.KeyID)
	if !ok {
		t.Fatal("real token's kid unknown")
	}
	inner, err := obj.Decrypt(key)
	if err != nil {
		t.Fatalf("decrypt real token: %v", err)
	}
	if strings.Count(string(inner), ".") != 2 {
		t.Fatal("real token's payload is not a compact JWS")
	}
	return string(inner)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
