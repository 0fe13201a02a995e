package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

var update = flag.Bool("update", false, "rewrite the fuzz keys and seed corpus in testdata")

// The fuzz test's fixed keys, for tests only: with them the seeds in
// testdata/fuzz/FuzzVerify stay valid tokens from one run to the next.
const (
	fuzzResourceKeyFile = "testdata/test-only-resource-key.pem"
	fuzzSigningKeyFile  = "testdata/test-only-veil-signing-key.json"
	fuzzCorpusDir       = "testdata/fuzz/FuzzVerify"
	fuzzIssuer          = "https://veil.example.test"
)

// fuzzVerifier is a Verifier over the fixed keys, at t0, that needs no
// network, and the fixed fake Veil that makes its tokens.
func fuzzVerifier(t testing.TB) (*verifier.Verifier, *fakeVeil, *resource) {
	t.Helper()
	keys, err := verifier.ParsePrivateKeys(must(os.ReadFile(fuzzResourceKeyFile)))
	if err != nil {
		t.Fatalf("ParsePrivateKeys(%s) = %v", fuzzResourceKeyFile, err)
	}
	var signer jose.JSONWebKey
	if err := json.Unmarshal(must(os.ReadFile(fuzzSigningKeyFile)), &signer); err != nil {
		t.Fatalf("read %s: %v", fuzzSigningKeyFile, err)
	}
	rs := &resource{audience: "https://api.example.test", keys: keys}
	veil := &fakeVeil{URL: fuzzIssuer, signer: signer}
	v := newVerifier(t, verifier.Config{
		Issuer: fuzzIssuer, Audience: rs.audience, DecryptionKeys: keys, Now: newClock().Now,
		SigningKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{signer.Public()}},
	})
	return v, veil, rs
}

func FuzzVerify(f *testing.F) {
	v, veil, rs := fuzzVerifier(f)
	f.Add(veil.token(rs.keys[0], veil.claims(rs.audience, "read")))
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.Verify(ctx, tok)
		switch k := kind(err); k {
		case "ok":
			if claims == nil || claims.Issuer != fuzzIssuer || !slices.Contains(claims.Audience, rs.audience) {
				t.Errorf("Verify() accepted %+v, want iss %s and aud %s", claims, fuzzIssuer, rs.audience)
			}
		case "invalid", "expired", "not yet valid", "audience", "scope":
			if claims != nil {
				t.Errorf("Verify() = %+v, %v, want no claims with an error", claims, err)
			}
		default:
			t.Errorf("Verify() = %s, want ErrInvalidToken or a claims error", k)
		}
		if err != nil && len(tok) > 8 && strings.Contains(err.Error(), tok) {
			t.Errorf("Verify() error %q repeats the token", err)
		}
	})
}

// TestFuzzSeeds checks that the seed corpus still means what its file
// names say: the genuine token verifies and every forgery is
// ErrInvalidToken. -update makes new keys and seeds.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeFuzzFiles(t)
	}
	v, _, _ := fuzzVerifier(t)
	entries, err := os.ReadDir(fuzzCorpusDir)
	if err != nil || len(entries) < 10 {
		t.Fatalf("read %s: %d seeds, %v; want the corpus (-run TestFuzzSeeds -update)",
			fuzzCorpusDir, len(entries), err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			tok := readSeed(t, filepath.Join(fuzzCorpusDir, e.Name()))
			_, err := v.Verify(context.Background(), tok)
			want := "invalid"
			if e.Name() == "genuine" {
				want = "ok"
			}
			if kind(err) != want {
				t.Errorf("Verify(seed %s) = %s, want %s", e.Name(), describe(err), want)
			}
		})
	}
}

func readSeed(t *testing.T, path string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(must(os.ReadFile(path)))), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") {
		t.Fatalf("%s is not a one-string fuzz seed", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// writeFuzzFiles makes fresh fixed keys and one seed per forgery.
func writeFuzzFiles(t *testing.T) {
	t.Helper()
	rk := newEncryptionKey("ec")
	if err := os.WriteFile(fuzzResourceKeyFile, pemOf(rk), 0o644); err != nil {
		t.Fatal(err)
	}
	signer := newSigningKey(jose.ES256)
	jwk := append(must(json.MarshalIndent(signer, "", "  ")), '\n')
	if err := os.WriteFile(fuzzSigningKeyFile, jwk, 0o644); err != nil {
		t.Fatal(err)
	}

	_, veil, rs := fuzzVerifier(t)
	if err := os.RemoveAll(fuzzCorpusDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fuzzCorpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := append(forgeries(veil, rs, "https://attacker.example.test/jwks"),
		forgery{"genuine", veil.token(rs.keys[0], veil.claims(rs.audience, "read"))})
	for _, s := range seeds {
		name := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, s.name)
		body := []byte("go test fuzz v1\nstring(" + strconv.Quote(s.token) + ")\n")
		if err := os.WriteFile(filepath.Join(fuzzCorpusDir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pemOf writes an EC key as openssl ecparam -genkey does: an EC
// PARAMETERS block (the P-256 OID), then the SEC 1 key.
func pemOf(k jose.JSONWebKey) []byte {
	params := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	sec1 := must(x509.MarshalECPrivateKey(k.Key.(*ecdsa.PrivateKey)))
	return append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: params}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...)
}
