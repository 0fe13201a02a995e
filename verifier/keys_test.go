package verifier_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

func TestParsePrivateKeys(t *testing.T) {
	ec := newEncryptionKey("ec")
	rsaKey := newEncryptionKey("rsa")
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	ecPKCS8 := block("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ec.Key)))
	rsaPKCS1 := block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.Key.(*rsa.PrivateKey)))
	publicPEM := block("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(publicOf(ec))))
	both := append(append([]byte{}, ecPKCS8...), rsaPKCS1...)
	ids := func(kids ...string) []string { return kids }
	jwk := must(json.Marshal(ec))
	jwks := must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ec, rsaKey}}))
	publicJWK := must(json.Marshal(ec.Public()))

	tests := []struct {
		name    string
		data    []byte
		wantIDs []string // "" for the key's thumbprint
		wantErr string
	}{
		{name: "PKCS #8 EC", data: ecPKCS8, wantIDs: ids("")},
		{name: "PKCS #1 RSA", data: rsaPKCS1, wantIDs: ids("")},
		{name: "SEC 1 after EC PARAMETERS", data: pemOf(ec), wantIDs: ids("")},
		{name: "two PEM keys", data: both, wantIDs: ids("", "")},
		{name: "JWK keeps its kid", data: jwk, wantIDs: ids(ec.KeyID)},
		{name: "JWK set", data: jwks, wantIDs: ids(ec.KeyID, rsaKey.KeyID)},
		{name: "public PEM", data: publicPEM, wantErr: "not a private key"},
		{name: "public JWK", data: publicJWK, wantErr: "public key"},
		{name: "empty JWK set", data: []byte(`{"keys":[]}`), wantErr: "no keys"},
		{name: "nothing", data: nil, wantErr: "no private key"},
		{name: "garbage", data: []byte("hello"), wantErr: "no private key"},
		{name: "broken JSON", data: []byte(`{"kty":`), wantErr: "not a JSON object"},
		{name: "corrupt PEM body", data: block("PRIVATE KEY", []byte("SECRETSECRETSECRET")), wantErr: "PEM block 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := verifier.ParsePrivateKeys(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePrivateKeys(%s) = %v, want an error with %q", tt.name, err, tt.wantErr)
				}
				if msg := err.Error(); strings.Contains(msg, "SECRET") || strings.Contains(msg, "U0VDUkVU") {
					t.Errorf("ParsePrivateKeys(%s) error %q quotes the input", tt.name, err)
				}
				return
			}
			if err != nil || len(keys) != len(tt.wantIDs) {
				t.Fatalf("ParsePrivateKeys(%s) = %d keys, %v; want %d", tt.name, len(keys), err, len(tt.wantIDs))
			}
			for i, k := range keys {
				want := tt.wantIDs[i]
				if want == "" {
					want = thumbprint(t, k)
				}
				if k.KeyID != want || k.IsPublic() {
					t.Errorf("ParsePrivateKeys(%s)[%d] = kid %q public %v, want kid %q, private",
						tt.name, i, k.KeyID, k.IsPublic(), want)
				}
			}
			cfg := verifier.Config{Issuer: "https://veil.test", Audience: "a", DecryptionKeys: keys}
			if _, err := verifier.New(cfg); err != nil {
				t.Errorf("New(keys from %s) = %v, want nil", tt.name, err)
			}
		})
	}
}

func thumbprint(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	pub := k.Public()
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b64(sum)
}

func TestPublicJWKS(t *testing.T) {
	rs := newResource("ec", "rsa")
	set, err := verifier.PublicJWKS(rs.keys)
	if err != nil {
		t.Fatalf("PublicJWKS() = %v", err)
	}
	text := string(must(json.Marshal(set)))
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		if strings.Contains(text, private) {
			t.Errorf("PublicJWKS() = %s, holds private member %s", text, private)
		}
	}
	want := []struct{ kid, alg string }{
		{rs.keys[0].KeyID, "ECDH-ES+A256KW"}, {rs.keys[1].KeyID, "RSA-OAEP-256"},
	}
	for i, k := range set.Keys {
		if k.KeyID != want[i].kid || k.Algorithm != want[i].alg || k.Use != "enc" || !k.IsPublic() {
			t.Errorf("PublicJWKS()[%d] = kid %q alg %q use %q, want %q %q enc",
				i, k.KeyID, k.Algorithm, k.Use, want[i].kid, want[i].alg)
		}
	}

	if _, err := verifier.PublicJWKS([]jose.JSONWebKey{{Key: rs.keys[0].Key}}); err == nil {
		t.Error("PublicJWKS(key without kid) = nil error, want one")
	}
}

// TestStandsAlone checks that the package, meant for other modules, uses
// nothing of Veil's internal packages and nothing but the standard library
// and go-jose.
func TestStandsAlone(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, ".") && !strings.HasPrefix(path, "github.com/go-jose/") {
				t.Errorf("%s imports %s; want the standard library and go-jose only", name, path)
			}
		}
	}
}
