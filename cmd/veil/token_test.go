package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// inspectFixture is a resource server key, a Veil signing key and a token
// made with them as Veil makes it, with the files the command reads.
type inspectFixture struct {
	dir                             string
	rk, sk                          *ecdsa.PrivateKey
	resourceKID, signingKID         string
	claims, bare, tok               string
	keyFile, otherKeyFile, jwksFile string
	secrets                         []string // must never be printed
}

func newInspectFixture(t *testing.T) *inspectFixture {
	t.Helper()
	f := &inspectFixture{dir: t.TempDir(), rk: mustKey(t), sk: mustKey(t),
		resourceKID: "rs-key-1", signingKID: "veil-sig-1"}
	f.claims = `{"iss":"https://veil.example.test","sub":"user-1","aud":"https://api.example.test",` +
		`"exp":1893553445,"iat":1893552545,"jti":"j1","client_id":"c1","scope":"read"}`
	f.bare = f.sign(t)
	f.tok = f.encrypt(t, jose.ECDH_ES_A256KW, &f.rk.PublicKey, f.bare)

	other := mustKey(t)
	signing := jose.JSONWebKey{Key: f.sk, KeyID: f.signingKID, Algorithm: "ES256", Use: "sig"}
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: mustDER(t, other)})
	f.keyFile = f.write(t, "rs.json", mustJSON(t, jose.JSONWebKey{Key: f.rk, KeyID: f.resourceKID}))
	f.otherKeyFile = f.write(t, "other.pem", otherPEM)
	f.jwksFile = f.write(t, "jwks.json", jwksOf(t, signing.Public()))

	for _, k := range []*ecdsa.PrivateKey{f.rk, other, f.sk} {
		var m map[string]string
		_ = json.Unmarshal(mustJSON(t, jose.JSONWebKey{Key: k}), &m)
		f.secrets = append(f.secrets, m["d"])
	}
	var hdr struct {
		EPK struct{ X, Y string } `json:"epk"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(f.tok, ".")[0])
	if err != nil || json.Unmarshal(raw, &hdr) != nil || hdr.EPK.X == "" {
		t.Fatalf("read the test token's epk: %v", err)
	}
	f.secrets = append(f.secrets, hdr.EPK.X, hdr.EPK.Y)
	return f
}

// sign makes the inner JWS as Veil does.
func (f *inspectFixture) sign(t *testing.T) string {
	t.Helper()
	key := jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.sk, KeyID: f.signingKID}}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(f.claims))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// encrypt wraps plaintext in a JWE with cty JWT.
func (f *inspectFixture) encrypt(t *testing.T, alg jose.KeyAlgorithm, key any, plaintext string) string {
	t.Helper()
	r := jose.Recipient{Algorithm: alg, Key: key, KeyID: f.resourceKID}
	enc, err := jose.NewEncrypter(jose.A256GCM, r, (&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

func (f *inspectFixture) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokenInspect(t *testing.T) {
	f := newInspectFixture(t)
	jwksServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		data, _ := os.ReadFile(f.jwksFile)
		_, _ = w.Write(data)
	}))
	t.Cleanup(jwksServer.Close)
	impostor := jose.JSONWebKey{Key: &mustKey(t).PublicKey, KeyID: f.signingKID, Algorithm: "ES256"}
	wrongJWKS := f.write(t, "wrong.json", jwksOf(t, impostor))
	args := func(a ...string) []string { return append([]string{"inspect"}, a...) }
	lines := func(l ...string) []string { return l }
	valid := `signature: valid (kid "veil-sig-1", ES256)`

	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
		wantErr string
	}{
		{name: "no subcommand", args: nil, wantErr: "usage"},
		{name: "no token", args: args(), wantErr: "exactly one TOKEN"},
		{name: "not a token", args: args("abc"), wantErr: "not a compact JWE or JWS"},
		{name: "header only", args: args(f.tok),
			want:    lines("JWE header:", `"alg": "ECDH-ES+A256KW"`, `"kid": "rs-key-1"`, `"cty": "JWT"`),
			notWant: lines("Claims", "user-1")},
		{name: "with key", args: args("--key", f.keyFile, f.tok),
			want: lines("JWS header:", `"typ": "at+jwt"`, `"kid": "veil-sig-1"`, `"sub": "user-1"`,
				"exp: 2030-01-02T03:04:05Z", "signature: not checked")},
		{name: "with key and JWKS file", args: args("--key", f.keyFile, "--jwks", f.jwksFile, f.tok),
			want: lines(`"sub": "user-1"`, valid)},
		{name: "with key and JWKS URL", args: args("--key", f.keyFile, "--jwks", jwksServer.URL, f.tok),
			want: lines(valid)},
		{name: "signature by another key", args: args("--key", f.keyFile, "--jwks", wrongJWKS, f.tok),
			want: lines(`"sub": "user-1"`, "signature: INVALID"), wantErr: "does not verify"},
		{name: "wrong key", args: args("--key", f.otherKeyFile, f.tok),
			want: lines("note: the token names kid"), wantErr: "cannot decrypt"},
		{name: "bare JWS", args: args("--jwks", f.jwksFile, f.bare),
			want: lines("NOT encrypted", `"sub": "user-1"`, valid)},
		{name: "missing key file", args: args("--key", f.dir+"/nope", f.tok), wantErr: "read the key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"token"}, tt.args...), &stdout, &stderr, nil)
			if !errorMatches(err, tt.wantErr) {
				t.Fatalf("veil token %v = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("veil token %s: output lacks %q:\n%s", tt.name, w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("veil token %s: output has %q:\n%s", tt.name, w, out)
				}
			}
			all := out + stderr.String() + errorText(err)
			for _, s := range f.secrets {
				if strings.Contains(all, s) {
					t.Errorf("veil token %s printed key material", tt.name)
				}
			}
		})
	}
}

func TestTokenInspectVeilOwnToken(t *testing.T) {
	f := newInspectFixture(t)
	tok := f.encrypt(t, jose.A256KW, make([]byte, 32), f.bare)

	var stdout bytes.Buffer
	args := []string{"token", "inspect", "--key", f.keyFile, tok}
	err := run(context.Background(), args, &stdout, &bytes.Buffer{}, nil)
	if !errorMatches(err, "A256KW tokens are encrypted to Veil's own key") {
		t.Errorf("veil token inspect --key (A256KW token) = %v, want an error explaining A256KW", err)
	}
	if out := stdout.String(); !strings.Contains(out, `"alg": "A256KW"`) {
		t.Errorf("veil token inspect (A256KW token) output = %q, want the JWE header", out)
	}
}

// errorMatches reports whether err is nil when want is empty, or holds
// want otherwise.
func errorMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwksOf(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	return mustJSON(t, jose.JSONWebKeySet{Keys: keys})
}

func mustDER(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestTokenInspectNeverEchoesPastedSecrets: a key or token pasted where a
// file name or flag was expected must not come back in any message.
func TestTokenInspectNeverEchoesPastedSecrets(t *testing.T) {
	const secret = "-----BEGIN EC PRIVATE KEY-----MHcCAQEEIsecretmaterial"
	for _, args := range [][]string{
		{"inspect", "--key", secret, "a.b.c.d.e"},
		{"inspect", "--jwks", secret, "a.b.c"},
		{"inspect", secret},
		{"inspect", "--key=" + secret},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"token"}, args...), &stdout, &stderr, nil)
		all := stdout.String() + stderr.String()
		if err != nil {
			all += err.Error()
		}
		if strings.Contains(all, "secretmaterial") {
			t.Errorf("veil token %v printed the pasted key material", args[:2])
		}
	}
}
