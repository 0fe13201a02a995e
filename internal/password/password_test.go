package password_test

import (
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/password"
)

// cheap keeps the tests fast; the bounds allow it, and the code paths are
// the same as for Default.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// phcForm is the form of a hash made with cheap: a 16-byte salt and a
// 32-byte key in unpadded base64.
var phcForm = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$` +
	`[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerify(t *testing.T) {
	tests := []struct {
		name string
		pw   string
	}{
		{"ascii", "correct horse battery staple"},
		{"unicode", "pässwörd 密码 🔑"},
		{"empty", ""},
		{"nul byte", "before\x00after"},
		{"longest", strings.Repeat("a", password.MaxBytes)},
		{"invalid utf-8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := password.Hash(tt.pw, cheap)
			if err != nil {
				t.Fatalf("Hash(%q) = %v", tt.pw, err)
			}
			if !phcForm.MatchString(phc) {
				t.Errorf("Hash(%q) = %q, want the PHC form %s", tt.pw, phc, phcForm)
			}

			if ok, err := password.Verify(tt.pw, phc); !ok || err != nil {
				t.Errorf("Verify(pw, Hash(pw)) = %t, %v, want true, nil", ok, err)
			}
			for _, wrong := range []string{tt.pw + "x", "x" + tt.pw, strings.ToUpper(tt.pw) + "!"} {
				if ok, err := password.Verify(wrong, phc); ok || err != nil {
					t.Errorf("Verify(%q, Hash(%q)) = %t, %v, want false, nil",
						wrong, tt.pw, ok, err)
				}
			}
			if password.NeedsRehash(phc, cheap) {
				t.Errorf("NeedsRehash(Hash(pw, p), p) = true, want false")
			}
		})
	}
}

// TestHashSalted checks that each hash has a salt of its own: the same
// password never hashes to the same string twice.
func TestHashSalted(t *testing.T) {
	seen := make(map[string]bool)
	for range 20 {
		phc, err := password.Hash("same password", cheap)
		if err != nil {
			t.Fatalf("Hash() = %v", err)
		}
		salt := strings.Split(phc, "$")[4]
		if seen[salt] {
			t.Fatalf("Hash() reused salt %q", salt)
		}
		seen[salt] = true
	}
}

// TestVerifyReference checks Verify against hashes made by the reference
// argon2 command-line tool, so that Veil reads the same PHC strings other
// implementations write (users imported from elsewhere keep their
// passwords).
func TestVerifyReference(t *testing.T) {
	tests := []struct {
		name, pw, phc string
	}{
		{"t2 p1", refPassword, refHash},
		{"p2 short key", "pässwörd ünïcode",
			"$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$mgDARSKiAXZRxzZ+T50ylQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, err := password.Verify(tt.pw, tt.phc); !ok || err != nil {
				t.Errorf("Verify(%q, %q) = %t, %v, want true, nil", tt.pw, tt.phc, ok, err)
			}
			if ok, err := password.Verify(tt.pw+" ", tt.phc); ok || err != nil {
				t.Errorf("Verify(%q, %q) = %t, %v, want false, nil", tt.pw+" ", tt.phc, ok, err)
			}
		})
	}
}

func TestHashParams(t *testing.T) {
	tests := []struct {
		name string
		p    password.Params
	}{
		{"zero", password.Params{}},
		{"no threads", with(cheap, func(p *password.Params) { p.Threads = 0 })},
		{"too many threads", with(cheap, func(p *password.Params) {
			p.Threads, p.Memory = 17, 1024
		})},
		{"memory below 8 per thread", with(cheap, func(p *password.Params) { p.Threads = 9 })},
		{"too much memory", with(cheap, func(p *password.Params) {
			p.Memory = password.MaxMemory + 1
		})},
		{"no passes", with(cheap, func(p *password.Params) { p.Time = 0 })},
		{"too many passes", with(cheap, func(p *password.Params) { p.Time = 11 })},
		{"short salt", with(cheap, func(p *password.Params) { p.SaltLen = 7 })},
		{"long salt", with(cheap, func(p *password.Params) { p.SaltLen = 65 })},
		{"short key", with(cheap, func(p *password.Params) { p.KeyLen = 15 })},
		{"long key", with(cheap, func(p *password.Params) { p.KeyLen = 65 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := password.Hash("password", tt.p)
			if !errors.Is(err, password.ErrParams) || phc != "" {
				t.Errorf("Hash(pw, %+v) = %q, %v, want \"\", %v",
					tt.p, phc, err, password.ErrParams)
			}
		})
	}
	if err := password.Default.Validate(); err != nil {
		t.Errorf("Default.Validate() = %v, want nil", err)
	}
}

func with(p password.Params, change func(*password.Params)) password.Params {
	change(&p)
	return p
}

func TestNeedsRehash(t *testing.T) {
	phc, err := password.Hash("password", cheap)
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	tests := []struct {
		name string
		phc  string
		p    password.Params
		want bool
	}{
		{"same", phc, cheap, false},
		{"more memory", phc, with(cheap, func(p *password.Params) { p.Memory = 128 }), true},
		{"more passes", phc, with(cheap, func(p *password.Params) { p.Time = 2 }), true},
		{"more threads", phc, with(cheap, func(p *password.Params) { p.Threads = 2 }), true},
		{"longer salt", phc, with(cheap, func(p *password.Params) { p.SaltLen = 32 }), true},
		{"shorter key", phc, with(cheap, func(p *password.Params) { p.KeyLen = 16 }), true},
		{"default", phc, password.Default, true},
		{"unreadable", strings.Replace(phc, "argon2id", "argon2i", 1), cheap, true},
		{"empty", "", cheap, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := password.NeedsRehash(tt.phc, tt.p); got != tt.want {
				t.Errorf("NeedsRehash(%q, %+v) = %t, want %t", tt.phc, tt.p, got, tt.want)
			}
		})
	}
}

// TestVerifyDummy checks that VerifyDummy does the real work: it must
// allocate the argon2 memory a Verify of a hash made with the same
// parameters does, or an unknown username would be answered faster.
func TestVerifyDummy(t *testing.T) {
	p := with(cheap, func(p *password.Params) { p.Memory = 4096 })
	phc, err := password.Hash("password", p)
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}

	verify := allocated(func() { _, _ = password.Verify("guess", phc) })
	dummy := allocated(func() { password.VerifyDummy("guess", p) })
	if dummy < verify*9/10 {
		t.Errorf("VerifyDummy allocated %d bytes, Verify %d: want about the same", dummy, verify)
	}
	if floor := uint64(p.Memory) * 1024; verify < floor {
		t.Errorf("Verify allocated %d bytes, want at least the %d of m", verify, floor)
	}

	// Parameters out of bounds fall back to Default rather than skipping
	// the work.
	got := allocated(func() { password.VerifyDummy("guess", password.Params{}) })
	if floor := uint64(password.Default.Memory) * 1024; got < floor {
		t.Errorf("VerifyDummy(pw, Params{}) allocated %d bytes, want at least %d", got, floor)
	}
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := password.Hash("correct horse battery staple", password.Default); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	phc, err := password.Hash("correct horse battery staple", password.Default)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := password.Verify("wrong horse battery staple", phc); err != nil {
			b.Fatal(err)
		}
	}
}
