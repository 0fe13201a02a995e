package password_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/password"
)

// refPassword and refHash are a hash made by the reference argon2 tool,
// which every tampered row below starts from.
const (
	refPassword = "correct horse battery staple"
	refSalt     = "dmVpbC10ZXN0LXNhbHQxNg"
	refKey      = "Ag/BXPtG0jYZpjS3KLOkSaqbMSlFGvfO2UHMLEu82Gc"
	refHash     = "$argon2id$v=19$m=64,t=2,p=1$" + refSalt + "$" + refKey
)

// replace returns refHash with its first old replaced by new.
func replace(old, new string) string {
	return strings.Replace(refHash, old, new, 1)
}

func b64(n int) string {
	return base64.RawStdEncoding.EncodeToString(make([]byte, n))
}

// truncated returns the first n bytes of the base64 value s, re-encoded.
func truncated(s string, n int) string {
	raw, _ := base64.RawStdEncoding.DecodeString(s)
	return base64.RawStdEncoding.EncodeToString(raw[:n])
}

// tampered holds stored hashes that were damaged or changed, with the
// error Verify must refuse each with; nil where the change keeps the form
// valid and the hash must simply fail to match.
var tampered = []struct {
	name    string
	phc     string
	wantErr error
}{
	{"empty", "", password.ErrMalformed},
	{"no leading dollar", refHash[1:], password.ErrMalformed},
	{"trailing dollar", refHash + "$", password.ErrMalformed},
	{"trailing newline", refHash + "\n", password.ErrMalformed},
	{"no version", replace("$v=19", ""), password.ErrMalformed},
	{"version not v=", replace("v=19", "x=19"), password.ErrMalformed},
	{"params reordered", replace("m=64,t=2", "t=2,m=64"), password.ErrMalformed},
	{"param missing", replace(",p=1", ""), password.ErrMalformed},
	{"param extra", replace("p=1", "p=1,keyid=abc"), password.ErrMalformed},
	{"param upper case", replace("m=64", "M=64"), password.ErrMalformed},
	{"param empty", replace("m=64", "m="), password.ErrMalformed},
	{"param leading zero", replace("m=64", "m=064"), password.ErrMalformed},
	{"param plus sign", replace("t=2", "t=+2"), password.ErrMalformed},
	{"param negative", replace("t=2", "t=-2"), password.ErrMalformed},
	{"param space", replace("t=2", "t= 2"), password.ErrMalformed},
	{"param hex", replace("m=64", "m=0x40"), password.ErrMalformed},
	{"salt padded", replace(refSalt, refSalt+"=="), password.ErrMalformed},
	{"key url alphabet", replace("Ag/B", "Ag_B"), password.ErrMalformed},
	{"key trailing bits", replace("82Gc", "82Gd"), password.ErrMalformed},
	{"key bad length", replace(refKey, refKey+"AA"), password.ErrMalformed},
	{"newline in salt", replace("dmVp", "dm\nVp"), password.ErrMalformed},
	{"carriage return in key", replace("Ag/B", "Ag/\rB"), password.ErrMalformed},
	{"too long", replace(refSalt, b64(200)), password.ErrMalformed},

	{"argon2i", replace("argon2id", "argon2i"), password.ErrUnsupported},
	{"argon2d", replace("argon2id", "argon2d"), password.ErrUnsupported},
	{"upper case name", replace("argon2id", "ARGON2ID"), password.ErrUnsupported},
	{"version 16", replace("v=19", "v=16"), password.ErrUnsupported},
	{"version 20", replace("v=19", "v=20"), password.ErrUnsupported},

	{"memory 4 GiB", replace("m=64", "m=4194304"), password.ErrParams},
	{"memory max uint32", replace("m=64", "m=4294967295"), password.ErrParams},
	{"memory over uint32", replace("m=64", "m=4294967296"), password.ErrParams},
	{"memory huge", replace("m=64", "m=99999999999999999999"), password.ErrParams},
	{"memory below 8 per thread", replace("m=64,t=2,p=1", "m=8,t=2,p=2"), password.ErrParams},
	{"time zero", replace("t=2", "t=0"), password.ErrParams},
	{"time 11", replace("t=2", "t=11"), password.ErrParams},
	{"time max uint32", replace("t=2", "t=4294967295"), password.ErrParams},
	{"threads zero", replace("p=1", "p=0"), password.ErrParams},
	{"threads 17", replace("m=64,t=2,p=1", "m=1024,t=2,p=17"), password.ErrParams},
	{"threads over uint8", replace("p=1", "p=256"), password.ErrParams},
	{"salt empty", replace(refSalt, ""), password.ErrParams},
	{"salt 7 bytes", replace(refSalt, b64(7)), password.ErrParams},
	{"salt 65 bytes", replace(refSalt, b64(65)), password.ErrParams},
	{"key empty", replace(refKey, ""), password.ErrParams},
	{"key 15 bytes", replace(refKey, b64(15)), password.ErrParams},
	{"key 65 bytes", replace(refKey, b64(65)), password.ErrParams},

	// Still well-formed, so no error, but no longer the password's hash.
	{"memory changed", replace("m=64", "m=72"), nil},
	{"time changed", replace("t=2", "t=1"), nil},
	{"threads changed", replace("p=1", "p=2"), nil},
	{"salt changed", replace("dmVp", "dmVq"), nil},
	{"key changed", replace("Ag/B", "Ag/C"), nil},
	{"key truncated", replace(refKey, truncated(refKey, 16)), nil},
	{"key extended", replace(refKey, refKey+"A"), nil},
}

// TestVerifyTampered checks that no tampered hash is accepted, and that
// each is refused for the reason its row gives.
func TestVerifyTampered(t *testing.T) {
	for _, tt := range tampered {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := password.Verify(refPassword, tt.phc)
			if ok || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Verify(pw, %q) = %t, %v, want false, %v", tt.phc, ok, err, tt.wantErr)
			}
		})
	}

	if ok, err := password.Verify(refPassword, refHash); !ok || err != nil {
		t.Fatalf("Verify(pw, refHash) = %t, %v, want true, nil: the rows above prove nothing",
			ok, err)
	}
}
