package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/token"
	"github.com/veil-auth/veil/internal/token/tokentest"
)

func newSet(t testing.TB) *keys.Set {
	t.Helper()
	sealer, err := keys.NewSealer([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := keys.Generate(sealer, []jose.SignatureAlgorithm{jose.ES256}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.NewSet(stored, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// issue makes a token the way Veil does for a resource without keys of
// its own: ES256 inside Veil's A256KW encryption.
func issue(set *keys.Set, c *token.Claims) (string, error) {
	signer, _, _ := set.Signer(jose.ES256, time.Now())
	return token.Issue(signer, set.Encrypter(), c)
}

func sampleClaims() *token.Claims {
	return &token.Claims{
		Issuer: "https://veil.example.test", Subject: "c1", Audience: token.Audience{"https://api.example.test"},
		ExpiresAt: time.Now().Add(time.Hour).Unix(), IssuedAt: time.Now().Unix(),
		JTI: "7d0c7f3e", ClientID: "c1", Scope: "read write",
	}
}

func TestIssueParseRoundTrip(t *testing.T) {
	set := newSet(t)
	want := sampleClaims()
	tok, err := issue(set, want)
	if err != nil {
		t.Fatalf("Issue() error = %v", err)
	}
	got, err := token.Parse(set, tok)
	if err != nil {
		t.Fatalf("Parse(Issue()) error = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(Issue(claims)) mismatch (-want +got):\n%s", diff)
	}
}

// TestIssueHeaders checks the headers a resource server relies on: the
// outer JWE names its key and says it holds a JWT, the inner JWS is typed
// at+jwt and names Veil's signing key.
func TestIssueHeaders(t *testing.T) {
	set := newSet(t)
	tok, err := issue(set, sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	outer := decodeHeader(t, tok)
	wantOuter := map[string]any{"alg": "A256KW", "enc": "A256GCM", "cty": "JWT", "kid": set.EncryptionKeyID()}
	if diff := cmp.Diff(wantOuter, outer); diff != "" {
		t.Errorf("JWE header mismatch (-want +got):\n%s", diff)
	}

	key, _ := set.DecryptionKey(set.EncryptionKeyID())
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := jwe.Decrypt(key)
	if err != nil {
		t.Fatal(err)
	}
	_, kid, _ := set.Signer(jose.ES256, time.Now())
	wantInner := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}
	if diff := cmp.Diff(wantInner, decodeHeader(t, string(inner))); diff != "" {
		t.Errorf("JWS header mismatch (-want +got):\n%s", diff)
	}
}

func decodeHeader(t *testing.T, compact string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(compact, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestParseRefusesForgeries covers security cases 16–20: each hostile
// token is refused with the one error.
func TestParseRefusesForgeries(t *testing.T) {
	set := newSet(t)
	real, err := issue(set, sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	claims := tokentest.Claims("https://veil.example.test", "c1", "https://api.example.test")
	for _, f := range tokentest.Forgeries(t, set, real, claims) {
		t.Run(f.Name, func(t *testing.T) {
			got, err := token.Parse(set, f.Token)
			if !errors.Is(err, token.ErrInvalid) || got != nil {
				t.Errorf("Parse(%s) = %v, %v, want nil, ErrInvalid", f.Name, got, err)
			}
		})
	}
}

func TestParseRefusesOtherVeilKeys(t *testing.T) {
	tok, err := issue(newSet(t), sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Parse(newSet(t), tok); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("Parse(token of another deployment) error = %v, want ErrInvalid", err)
	}
}

func TestAudienceJSON(t *testing.T) {
	tests := []struct {
		name string
		aud  token.Audience
		json string
	}{
		{name: "one", aud: token.Audience{"a"}, json: `"a"`},
		{name: "two", aud: token.Audience{"a", "b"}, json: `["a","b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.aud)
			if err != nil || string(b) != tt.json {
				t.Errorf("Marshal(%v) = %s, %v, want %s", tt.aud, b, err, tt.json)
			}
			var back token.Audience
			if err := json.Unmarshal([]byte(tt.json), &back); err != nil || !cmp.Equal(back, tt.aud) {
				t.Errorf("Unmarshal(%s) = %v, %v, want %v", tt.json, back, err, tt.aud)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	set := newSet(f)
	real, err := issue(set, sampleClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	for _, forged := range tokentest.Forgeries(f, set, real, tokentest.Claims("i", "c", "a")) {
		f.Add(forged.Token)
	}
	want := sampleClaims()
	f.Fuzz(func(t *testing.T, s string) {
		// Only the token Veil issued may parse, and only to its claims.
		// (A re-encoding of the same bytes may parse too, which is why
		// the comparison is on claims.)
		c, err := token.Parse(set, s)
		if err == nil && (c.JTI != want.JTI || c.Subject != want.Subject) {
			t.Fatalf("Parse accepted a token Veil did not issue: %+v", c)
		}
		if err != nil && !errors.Is(err, token.ErrInvalid) {
			t.Fatalf("Parse error = %v, want ErrInvalid", err)
		}
	})
}

func TestLooksLikeJWE(t *testing.T) {
	tests := []struct {
		tok  string
		want bool
	}{
		{"aa.bb.cc.dd.ee", true},
		{"AZaz09-_.x.y.z.w", true},
		{"....", true},
		{"", false},
		{"aa.bb.cc.dd", false},
		{"aa.bb.cc.dd.ee.ff", false},
		{"aa.bb.cc.dd.e=", false},
		{"aa.bb.cc.dd.e+e", false},
		{"aa.bb.cc.dd.e/e", false},
		{"aa.bb.cc.dd.e e", false},
		{"aa.bb.cc.dd.\xffe", false},
		{strings.Repeat("a", token.MaxLength-4) + "....", true},
		{strings.Repeat("a", token.MaxLength-3) + "....", false},
	}
	for _, tt := range tests {
		if got := token.LooksLikeJWE(tt.tok); got != tt.want {
			t.Errorf("LooksLikeJWE(%.40q) = %v, want %v", tt.tok, got, tt.want)
		}
	}
}
