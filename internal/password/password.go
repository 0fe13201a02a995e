// Package password hashes and checks the passwords of Veil's users, and
// holds the rules a new password must meet.
//
// Passwords are hashed with argon2id (RFC 9106) and stored in the PHC string
// form
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. Each stored hash carries
// its own parameters, so the parameters can be raised later: old hashes
// still verify, and NeedsRehash tells the login handler to store a new hash
// while it holds the plaintext.
//
// A stored hash is read as untrusted input. Its parameters decide how much
// memory and time Verify spends, so a row changed by someone with write
// access to the database must not be able to make one login allocate
// gigabytes or run for minutes: every parameter is bounded (see Params.Validate)
// and a hash outside the bounds is refused before any work is done.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Sentinel errors. Verify and NeedsRehash report a stored hash they cannot
// use with ErrMalformed, ErrUnsupported or ErrParams, possibly wrapped.
var (
	// ErrMalformed means a stored hash is not a PHC string Veil writes.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrUnsupported means a stored hash names an algorithm or version
	// other than argon2id version 19.
	ErrUnsupported = errors.New("password: unsupported algorithm or version")
	// ErrParams means parameters, given or stored, are outside the bounds.
	ErrParams = errors.New("password: parameters out of range")
)

// Params are the argon2id cost parameters and sizes.
type Params struct {
	// Memory is the memory cost in KiB (m). It must be at least 8 KiB per
	// thread and at most MaxMemory.
	Memory uint32
	// Time is the number of passes over the memory (t), from 1 to MaxTime.
	Time uint32
	// Threads is the degree of parallelism (p), from 1 to MaxThreads.
	Threads uint8
	// SaltLen is the length of the random salt in bytes, from MinSaltLen to
	// MaxSaltLen.
	SaltLen uint32
	// KeyLen is the length of the derived hash in bytes, from MinKeyLen to
	// MaxKeyLen.
	KeyLen uint32
}

// Default is what Veil hashes with unless configured otherwise: one of the
// argon2id settings OWASP's Password Storage Cheat Sheet recommends, 19 MiB
// of memory and two passes on one thread, with a 128-bit salt and a 256-bit
// hash.
//
// The choice is sized for a two-core server that also serves tokens. One
// thread keeps a login on one core, so two logins at once can still run in
// parallel, and a flood of logins cannot take every core with each one.
// 19 MiB is the smallest memory OWASP pairs with two passes; it makes each
// guess cost an attacker as much memory bandwidth as it costs Veil, while
// fifty logins at once still fit in under 1 GiB. On such a server one hash
// takes a few tens of milliseconds (see BenchmarkHash), which a person
// signing in does not notice.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters, for hashing and for reading stored hashes.
// They leave room to raise the cost well past Default (RFC 9106 §4's
// second recommendation, 64 MiB and three passes, fits) while keeping one
// Verify of a tampered hash to at most 256 MiB and a bounded time.
const (
	// MaxMemory is the most memory, in KiB, a hash may use: 256 MiB.
	MaxMemory = 256 * 1024
	// MaxTime is the most passes a hash may make.
	MaxTime = 10
	// MaxThreads is the most threads a hash may use.
	MaxThreads = 16
	// MinSaltLen and MaxSaltLen bound the salt, in bytes.
	MinSaltLen = 8
	MaxSaltLen = 64
	// MinKeyLen and MaxKeyLen bound the derived hash, in bytes.
	MinKeyLen = 16
	MaxKeyLen = 64
)

// Validate reports whether p is within the bounds, naming the first field
// that is not.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("check threads %d: %w", p.Threads, ErrParams)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("check memory %d KiB: %w", p.Memory, ErrParams)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("check time %d: %w", p.Time, ErrParams)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("check salt length %d: %w", p.SaltLen, ErrParams)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("check key length %d: %w", p.KeyLen, ErrParams)
	}
	return nil
}

// Hash returns the PHC string of pw hashed with p and a fresh random salt.
// It fails only if p is out of bounds. Hash applies no password policy;
// see Validate.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}

	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never returns an error
	h := hash{Params: p, salt: salt, key: derive(pw, p, salt)}
	return h.String(), nil
}

// Verify reports whether pw matches the stored PHC string. A mismatch is
// (false, nil); a stored hash that cannot be used is (false, err), and the
// caller should treat it as a mismatch and log it, since it means the row
// was damaged or written by something other than Veil.
//
// The derived key is compared in constant time, so how long the comparison
// takes says nothing about how much of the hash a guess got right.
func Verify(pw, phc string) (bool, error) {
	h, err := parse(phc)
	if err != nil {
		return false, err
	}
	key := derive(pw, h.Params, h.salt)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// dummySalt salts VerifyDummy's work. Its value does not matter.
var dummySalt = make([]byte, MaxSaltLen)

// VerifyDummy does the work of Verify for a hash made with p, and throws
// the result away. A login handler calls it when no user has the given
// username, so that an unknown username takes as long to refuse as a wrong
// password and the response time does not tell which usernames exist. If p
// is out of bounds, Default is used.
func VerifyDummy(pw string, p Params) {
	if p.Validate() != nil {
		p = Default
	}
	key := derive(pw, p, dummySalt[:p.SaltLen])
	subtle.ConstantTimeCompare(key, key)
}

// NeedsRehash reports whether a stored hash should be replaced by one made
// with p: because it was made with other parameters, or because it cannot
// be read at all. The login handler calls it after a successful Verify.
func NeedsRehash(phc string, p Params) bool {
	h, err := parse(phc)
	return err != nil || h.Params != p
}

func derive(pw string, p Params, salt []byte) []byte {
	return argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}
