package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

// forgery is a named hostile token.
type forgery struct {
	name  string
	token string
}

// forgeries returns, for a resource server rs of veil, one token per way
// an attacker might try to pass off a token Veil did not issue, or one it
// did in a form the resource server must not take: cases 16–20 of the
// security cases, then other hostile shapes. jku is a URL the attacker
// controls. Every one must be refused with ErrInvalidToken.
func forgeries(veil *fakeVeil, rs *resource, jku string) []forgery {
	return append(forgedCases(veil, rs, jku), hostileShapes(veil, rs)...)
}

func forgedCases(veil *fakeVeil, rs *resource, jku string) []forgery {
	rk := rs.keys[0]
	kid := veil.signer.KeyID
	claims := veil.claims(rs.audience, "read write admin")
	real := signJWS(veil.signer, claims, nil)
	attacker := jose.JSONWebKey{Key: must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		KeyID: kid, Algorithm: "ES256"}
	ownKID := attacker
	ownKID.KeyID = "attacker-kid"
	rsaUnderVeilKID := jose.JSONWebKey{Key: rsaKeys()[0], KeyID: kid, Algorithm: "RS256"}
	veilPublicDER := must(x509.MarshalPKIXPublicKey(publicOf(veil.signer)))
	typed := func(typ any, extra ...any) map[jose.HeaderKey]any {
		h := map[jose.HeaderKey]any{jose.HeaderType: typ}
		for i := 0; i < len(extra); i += 2 {
			h[jose.HeaderKey(extra[i].(string))] = extra[i+1]
		}
		return h
	}
	withCTY := func(cty string) string {
		opts := &jose.EncrypterOptions{}
		if cty != "" {
			opts = opts.WithContentType(jose.ContentType(cty))
		}
		return encryptWith(keyAlgorithm(rk), publicOf(rk), rk.KeyID, real, opts)
	}
	sealed := func(inner string) string { return encrypt(rk, inner) }

	return []forgery{
		{"case 16: JWE of raw JSON claims", sealed(string(bytesOf(claims)))},
		{"case 17: alg none", sealed(unsigned("none", kid, claims))},
		{"case 17: alg None", sealed(unsigned("None", kid, claims))},
		{"case 17: alg NONE", sealed(unsigned("NONE", kid, claims))},
		{"case 17: alg nOnE, no kid", sealed(unsigned("nOnE", "", claims))},
		{"case 17: ES256 signature of zero bytes", sealed(withSignature(real, make([]byte, 64)))},
		{"case 17: ES256 signature empty", sealed(withSignature(real, nil))},
		{"case 17: HS256 keyed with Veil's public key", sealed(hmacSigned(veilPublicDER, kid, claims))},
		{"case 18: signed by a foreign key under Veil's kid", sealed(signJWS(attacker, claims, nil))},
		{"case 18: signed by a foreign key under its own kid", sealed(signJWS(ownKID, claims, nil))},
		{"case 18: foreign key embedded as jwk",
			sealed(signJWS(ownKID, claims, typed("at+jwt", "jwk", ownKID.Public())))},
		{"case 18: foreign key named by jku", sealed(signJWS(ownKID, claims, typed("at+jwt", "jku", jku)))},
		{"case 18: Veil's kid with another algorithm", sealed(signJWS(rsaUnderVeilKID, claims, nil))},
		{"case 19: Veil's inner JWS presented bare", real},
		{"case 20: JWE without cty", withCTY("")},
		{"case 20: JWE with cty json", withCTY("json")},
		{"case 20: inner typ JWT", sealed(signJWS(veil.signer, claims, typed("JWT")))},
		{"case 20: inner typ missing", sealed(signJWS(veil.signer, claims, map[jose.HeaderKey]any{}))},
		{"case 20: inner typ at+jwt in an array", sealed(signJWS(veil.signer, claims, typed([]string{"at+jwt"})))},
	}
}

func hostileShapes(veil *fakeVeil, rs *resource) []forgery {
	rk := rs.keys[0]
	real := signJWS(veil.signer, veil.claims(rs.audience, "read"), nil)
	genuine := encrypt(rk, real)
	cty := func() *jose.EncrypterOptions { return (&jose.EncrypterOptions{}).WithContentType("JWT") }
	to := func(alg jose.KeyAlgorithm, key any, opts *jose.EncrypterOptions) string {
		return encryptWith(alg, key, rk.KeyID, real, opts)
	}
	zip := &jose.EncrypterOptions{Compression: jose.DEFLATE,
		ExtraHeaders: map[jose.HeaderKey]any{jose.HeaderContentType: "JWT"}}
	crit := cty().WithHeader("crit", []string{"exp"}).WithHeader("exp", 1)
	b64Inner := signJWS(veil.signer, veil.claims(rs.audience, "read"), map[jose.HeaderKey]any{
		jose.HeaderType: "at+jwt", "b64": false, "crit": []string{"b64"}})
	otherRSA := publicOf(jose.JSONWebKey{Key: rsaKeys()[2]})

	return []forgery{
		{"JWE with zip", to(keyAlgorithm(rk), publicOf(rk), zip)},
		{"JWE with crit", to(keyAlgorithm(rk), publicOf(rk), crit)},
		{"inner JWS with crit b64", encrypt(rk, b64Inner)},
		{"JWE A256KW, Veil's own kind", to(jose.A256KW, make([]byte, 32), cty())},
		{"JWE dir", to(jose.DIRECT, make([]byte, 32), cty())},
		{"JWE RSA1_5", to(jose.RSA1_5, otherRSA, cty())},
		{"JWE PBES2 with a huge count", pbes2(rk.KeyID, real)},
		{"JWE A128GCM", encryptEnc(jose.A128GCM, rk, real)},
		{"JWE in JWE", encrypt(rk, genuine)},
		{"JWE with an epk off the curve", offCurve(encrypt(newEncryptionKey("ec"), real))},
		{"JWE ciphertext changed", flip(genuine, 3)},
		{"JWE tag changed", flip(genuine, 4)},
		{"JWE encrypted key changed", flip(genuine, 1)},
		{"JWE JSON serialisation", jsonSerialised(rk, real)},
		{"too long", strings.Repeat("a", 8<<10+1)},
		{"garbage", "not-a-token"},
		{"empty parts", "...."},
		{"six parts", genuine + ".AAAA"},
		{"padding", genuine + "=="},
		{"whitespace", " " + genuine},
		{"empty", ""},
	}
}

func forgeryNamed(t *testing.T, list []forgery, name string) string {
	t.Helper()
	for _, f := range list {
		if f.name == name {
			return f.token
		}
	}
	t.Fatalf("no forgery named %q", name)
	return ""
}

// unsigned is a JWS with the given alg and no signature.
func unsigned(alg, kid string, claims any) string {
	h := map[string]string{"alg": alg, "typ": "at+jwt"}
	if kid != "" {
		h["kid"] = kid
	}
	return b64(bytesOf(h)) + "." + b64(bytesOf(claims)) + "."
}

// withSignature replaces the signature of a compact JWS.
func withSignature(jws string, sig []byte) string {
	return jws[:strings.LastIndex(jws, ".")+1] + b64(sig)
}

// hmacSigned signs claims with HS256 keyed by key, the classic confusion
// of a public key for an HMAC secret.
func hmacSigned(key []byte, kid string, claims any) string {
	return signJWS(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: "HS256"}, claims, nil)
}

// encryptEnc encrypts to rk as Veil does, but with another enc.
func encryptEnc(enc jose.ContentEncryption, rk jose.JSONWebKey, plaintext string) string {
	r := jose.Recipient{Algorithm: keyAlgorithm(rk), Key: publicOf(rk), KeyID: rk.KeyID}
	e := must(jose.NewEncrypter(enc, r, (&jose.EncrypterOptions{}).WithContentType("JWT")))
	return must(must(e.Encrypt([]byte(plaintext))).CompactSerialize())
}

// pbes2 is a PBES2 JWE whose header asks for two billion iterations: a
// verifier that honoured it would spin for minutes.
func pbes2(kid, plaintext string) string {
	h := bytesOf(map[string]any{"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "JWT", "kid": kid,
		"p2s": b64([]byte("saltsaltsaltsalt")), "p2c": 2000000000})
	parts := [][]byte{h, make([]byte, 24), make([]byte, 12), []byte(plaintext), make([]byte, 16)}
	var out []string
	for _, p := range parts {
		out = append(out, b64(p))
	}
	return strings.Join(out, ".")
}

// offCurve moves the epk of an ECDH-ES JWE off the P-256 curve.
func offCurve(tok string) string {
	parts := strings.Split(tok, ".")
	var h map[string]any
	if err := json.Unmarshal(must(base64.RawURLEncoding.DecodeString(parts[0])), &h); err != nil {
		panic(err)
	}
	epk := h["epk"].(map[string]any)
	epk["y"] = b64(append(make([]byte, 31), 1))
	parts[0] = b64(bytesOf(h))
	return strings.Join(parts, ".")
}

// flip changes one bit of part i of a compact token.
func flip(tok string, i int) string {
	parts := strings.Split(tok, ".")
	b := must(base64.RawURLEncoding.DecodeString(parts[i]))
	b[len(b)/2] ^= 1
	parts[i] = b64(b)
	return strings.Join(parts, ".")
}

func jsonSerialised(rk jose.JSONWebKey, plaintext string) string {
	r := jose.Recipient{Algorithm: keyAlgorithm(rk), Key: publicOf(rk), KeyID: rk.KeyID}
	e := must(jose.NewEncrypter(jose.A256GCM, r, (&jose.EncrypterOptions{}).WithContentType("JWT")))
	return must(e.Encrypt([]byte(plaintext))).FullSerialize()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestSecurityCases runs cases 16–20 of SECURITY-CASES.md, and the other
// hostile shapes above, against local validation: each must be refused
// with ErrInvalidToken itself, quickly, without a panic, without fetching
// the JWKS more than the rate limit allows and without following jku.
func TestSecurityCases(t *testing.T) {
	for _, enc := range []string{"ec", "rsa"} {
		t.Run(enc, func(t *testing.T) {
			veil := newFakeVeil(t)
			rs := newResource(enc)
			var jkuHits atomic.Int64
			count := func(http.ResponseWriter, *http.Request) { jkuHits.Add(1) }
			attacker := httptest.NewServer(http.HandlerFunc(count))
			t.Cleanup(attacker.Close)
			v := newVerifier(t, localConfig(veil, rs, newClock()))
			ctx := context.Background()

			if _, err := v.Verify(ctx, veil.tokenFor(rs, "read")); err != nil {
				t.Fatalf("Verify(genuine token) = %v, want nil, or the cases prove nothing", err)
			}
			for _, f := range forgeries(veil, rs, attacker.URL) {
				t.Run(f.name, func(t *testing.T) {
					start := time.Now()
					claims, err := v.Verify(ctx, f.token)
					if err != verifier.ErrInvalidToken || claims != nil {
						t.Errorf("Verify(%s) = %v, %s, want nil, ErrInvalidToken",
							f.name, claims, describe(err))
					}
					if d := time.Since(start); d > time.Second {
						t.Errorf("Verify(%s) took %v, want well under a second", f.name, d)
					}
				})
			}
			if n := veil.jwksHits.Load(); n > 2 {
				t.Errorf("the forgeries caused %d JWKS fetches, want at most 2 (one and a refresh)", n)
			}
			if n := jkuHits.Load(); n != 0 {
				t.Errorf("the forgeries caused %d requests to the attacker's jku, want 0", n)
			}
		})
	}
}
