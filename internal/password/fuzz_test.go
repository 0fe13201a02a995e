package password

import (
	"errors"
	"testing"
)

// FuzzVerify feeds the PHC parser arbitrary stored hashes; the seed corpus
// is in testdata/fuzz/FuzzVerify. Every input is either refused with one
// of the package's errors, or within the bounds and exactly what String
// writes back, so there is one spelling of each hash. Verify itself runs
// only on inputs whose parameters are cheap, to keep each run short.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, phc string) {
		h, err := parse(phc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrParams) {
				t.Fatalf("parse(%q) = %v, want one of the package's errors", phc, err)
			}
			if !NeedsRehash(phc, Default) {
				t.Errorf("NeedsRehash(%q) = false for a hash parse refuses", phc)
			}
			return
		}

		if got := h.String(); got != phc {
			t.Fatalf("parse(%q).String() = %q, want the input", phc, got)
		}
		if err := h.Params.Validate(); err != nil {
			t.Fatalf("parse(%q) accepted parameters out of bounds: %v", phc, err)
		}
		if NeedsRehash(phc, h.Params) {
			t.Errorf("NeedsRehash(%q, its own parameters) = true, want false", phc)
		}

		if h.Memory <= 1024 && h.Time <= 2 {
			if _, err := Verify("correct horse battery staple", phc); err != nil {
				t.Fatalf("Verify(pw, %q) = %v after parse accepted it", phc, err)
			}
		}
	})
}
