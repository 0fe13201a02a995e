package verifier_test

import (
	"context"
	"testing"
)

// BenchmarkVerify measures local validation with a warm JWKS cache, and
// introspection answered from the cache.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, enc := range []string{"ec", "rsa"} {
		b.Run("local/"+enc, func(b *testing.B) {
			veil := newFakeVeil(b)
			rs := newResource(enc)
			v := newVerifier(b, localConfig(veil, rs, newClock()))
			tok := veil.tokenFor(rs, "read")
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("introspection/cached", func(b *testing.B) {
		s := introspectionSetup(b, nil)
		for b.Loop() {
			if err := s.verify(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
