package verifier_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

// t0 is the time every test starts at, on a clock of its own.
var t0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// clock is an injected clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// must is for fixture steps that fail only if the machine is broken.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// rsaKeys are made once per test binary: RSA generation is slow.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		keys[i] = must(rsa.GenerateKey(rand.Reader, 2048))
	}
	return keys
})

func randomKID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSigningKey returns a private signing key for alg, as Veil holds it.
func newSigningKey(alg jose.SignatureAlgorithm) jose.JSONWebKey {
	var key any
	switch alg {
	case jose.ES256:
		key = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	case jose.RS256:
		key = rsaKeys()[0]
	case jose.PS256:
		key = rsaKeys()[1]
	case jose.EdDSA:
		_, priv := must2(ed25519.GenerateKey(rand.Reader))
		key = priv
	default:
		panic("no test key for " + alg)
	}
	return jose.JSONWebKey{Key: key, KeyID: randomKID(), Algorithm: string(alg), Use: "sig"}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// newEncryptionKey returns a resource server's private key: "ec" (P-256)
// or "rsa".
func newEncryptionKey(kind string) jose.JSONWebKey {
	switch kind {
	case "ec":
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		return jose.JSONWebKey{Key: key, KeyID: randomKID()}
	case "rsa":
		return jose.JSONWebKey{Key: rsaKeys()[2], KeyID: randomKID()}
	}
	panic("unknown key kind " + kind)
}

// keyAlgorithm is the algorithm Veil encrypts to a key of k's type with.
func keyAlgorithm(k jose.JSONWebKey) jose.KeyAlgorithm {
	if _, ok := k.Key.(*rsa.PrivateKey); ok {
		return jose.RSA_OAEP_256
	}
	return jose.ECDH_ES_A256KW
}

// signJWS signs payload (marshalled to JSON unless it is a string or
// []byte) with key, its kid and its alg. headers default to typ at+jwt,
// as Veil's; pass an empty map for none.
func signJWS(key jose.JSONWebKey, payload any, headers map[jose.HeaderKey]any) string {
	if headers == nil {
		headers = map[jose.HeaderKey]any{jose.HeaderType: "at+jwt"}
	}
	opts := &jose.SignerOptions{ExtraHeaders: headers}
	signer := must(jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(key.Algorithm),
		Key:       jose.JSONWebKey{Key: key.Key, KeyID: key.KeyID},
	}, opts))
	return must(must(signer.Sign(bytesOf(payload))).CompactSerialize())
}

func bytesOf(payload any) []byte {
	switch p := payload.(type) {
	case string:
		return []byte(p)
	case []byte:
		return p
	}
	return must(json.Marshal(payload))
}

// encrypt wraps plaintext in a JWE to the public half of rk, as Veil
// does: its alg, enc A256GCM, cty JWT, kid.
func encrypt(rk jose.JSONWebKey, plaintext string) string {
	return encryptWith(keyAlgorithm(rk), publicOf(rk), rk.KeyID, plaintext,
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
}

func encryptWith(alg jose.KeyAlgorithm, key any, kid, plaintext string, opts *jose.EncrypterOptions) string {
	r := jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}
	enc := must(jose.NewEncrypter(jose.A256GCM, r, opts))
	return must(must(enc.Encrypt([]byte(plaintext))).CompactSerialize())
}

func publicOf(k jose.JSONWebKey) any {
	return k.Public().Key
}

// resource is a resource server: its identifier and private keys.
type resource struct {
	audience string
	keys     []jose.JSONWebKey
}

func newResource(kinds ...string) *resource {
	rs := &resource{audience: "https://api.example.test"}
	for _, k := range kinds {
		rs.keys = append(rs.keys, newEncryptionKey(k))
	}
	return rs
}

// fakeVeil stands in for Veil's public endpoints, on loopback: metadata
// and a JWKS served with Cache-Control, each request counted, and the
// signing key to make tokens exactly as Veil makes them.
type fakeVeil struct {
	URL    string
	srv    *httptest.Server
	signer jose.JSONWebKey

	mu           sync.Mutex
	published    []jose.JSONWebKey
	cacheControl string
	jwksStatus   int
	jwksBody     []byte
	metadata     map[string]any
	hold         chan struct{}
	introspect   http.HandlerFunc

	metadataHits   atomic.Int64
	jwksHits       atomic.Int64
	introspectHits atomic.Int64
}

// newFakeVeil starts a fake Veil signing with ES256, stopped when t ends.
func newFakeVeil(t testing.TB) *fakeVeil {
	v := startFakeVeil(jose.ES256)
	t.Cleanup(v.Close)
	return v
}

func startFakeVeil(alg jose.SignatureAlgorithm) *fakeVeil {
	v := &fakeVeil{signer: newSigningKey(alg), cacheControl: "public, max-age=600"}
	v.published = []jose.JSONWebKey{v.signer.Public()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", v.serveMetadata)
	mux.HandleFunc("GET /.well-known/jwks.json", v.serveJWKS)
	mux.HandleFunc("POST /oauth2/introspect", v.serveIntrospect)
	v.srv = httptest.NewServer(mux)
	v.URL = v.srv.URL
	return v
}

func (v *fakeVeil) Close() { v.srv.Close() }

func (v *fakeVeil) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	v.metadataHits.Add(1)
	v.mu.Lock()
	doc := map[string]any{
		"issuer":                 v.URL,
		"jwks_uri":               v.URL + "/.well-known/jwks.json",
		"introspection_endpoint": v.URL + "/oauth2/introspect",
	}
	for k, val := range v.metadata {
		doc[k] = val
	}
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (v *fakeVeil) serveJWKS(w http.ResponseWriter, r *http.Request) {
	v.jwksHits.Add(1)
	v.mu.Lock()
	hold, status, cc, body := v.hold, v.jwksStatus, v.cacheControl, v.jwksBody
	if body == nil {
		body = must(json.Marshal(jose.JSONWebKeySet{Keys: v.published}))
	}
	v.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	_, _ = w.Write(body)
}

func (v *fakeVeil) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	v.introspectHits.Add(1)
	v.mu.Lock()
	h := v.introspect
	v.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// set changes the fake's behaviour under its lock.
func (v *fakeVeil) set(f func(v *fakeVeil)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v)
}

// rotate makes a new signing key, publishes it beside the old one and
// signs with it from now on.
func (v *fakeVeil) rotate(publish bool) {
	k := newSigningKey(jose.SignatureAlgorithm(v.signer.Algorithm))
	v.set(func(v *fakeVeil) {
		v.signer = k
		if publish {
			v.published = append(v.published, k.Public())
		}
	})
}

func (v *fakeVeil) signingKey() jose.JSONWebKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.signer
}

// claims are what Veil puts in a token for aud, issued at t0.
func (v *fakeVeil) claims(aud, scope string) map[string]any {
	return map[string]any{
		"iss": v.URL, "sub": "user-1", "aud": aud, "client_id": "client-1", "scope": scope,
		"iat": t0.Unix(), "exp": t0.Add(15 * time.Minute).Unix(), "jti": "jti-1",
	}
}

// token makes a token exactly as Veil does: claims signed by the active
// key, encrypted to rk.
func (v *fakeVeil) token(rk jose.JSONWebKey, claims map[string]any) string {
	return encrypt(rk, signJWS(v.signingKey(), claims, nil))
}

// tokenFor makes a genuine token for rs, encrypted to its first key.
func (v *fakeVeil) tokenFor(rs *resource, scope string) string {
	return v.token(rs.keys[0], v.claims(rs.audience, scope))
}

// localConfig configures local validation of tokens for rs from v.
func localConfig(v *fakeVeil, rs *resource, clk *clock) verifier.Config {
	return verifier.Config{Issuer: v.URL, Audience: rs.audience, DecryptionKeys: rs.keys,
		Now: clk.Now}
}

func newVerifier(t testing.TB, cfg verifier.Config) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return v
}

// describe names an error for failure messages and comparisons.
func describe(err error) string {
	if err == nil {
		return "nil"
	}
	return fmt.Sprintf("%T(%v)", err, err)
}
