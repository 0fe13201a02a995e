package token_test

import (
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/token"
)

// BenchmarkIssue is the cryptography of one token: ES256 signature and
// A256KW + A256GCM encryption. The benchmarks of the paths around it are
// in packages provider and endpoint.
func BenchmarkIssue(b *testing.B) {
	set := newSet(b)
	signer, _, _ := set.Signer(jose.ES256, time.Now())
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Issue(signer, set.Encrypter(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is decryption and verification of one token.
func BenchmarkParse(b *testing.B) {
	set := newSet(b)
	tok, err := issue(set, sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Parse(set, tok); err != nil {
			b.Fatal(err)
		}
	}
}
