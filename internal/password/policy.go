package password

import (
	"errors"
	"unicode/utf8"
)

// The password policy's limits.
const (
	// MinLength is the fewest characters (Unicode code points) a password
	// may have.
	MinLength = 8
	// MaxBytes is the most bytes a password may have.
	MaxBytes = 1024
)

// The reasons Validate refuses a password. Their text names the limit and
// never the password.
var (
	// ErrTooShort means a password has fewer than MinLength characters.
	ErrTooShort = errors.New("password: shorter than 8 characters")
	// ErrTooLong means a password has more than MaxBytes bytes.
	ErrTooLong = errors.New("password: longer than 1024 bytes")
)

// Validate checks a new password against Veil's policy, which follows NIST
// SP 800-63B §3.1.1.2: at least MinLength characters and nothing more.
// There are no composition rules (a digit, a symbol, mixed case), since
// those push people towards predictable patterns rather than strength, and
// any character is allowed, spaces and emoji included, so a passphrase or a
// password manager's output is never refused.
//
// Length is counted in characters, not bytes, so a password in a script
// with multi-byte characters is not held to a lower bar. The upper bound
// is generous for any passphrase and only keeps requests small; argon2id
// itself would hash any length at the same cost.
func Validate(pw string) error {
	switch {
	case len(pw) > MaxBytes:
		return ErrTooLong
	case utf8.RuneCountInString(pw) < MinLength:
		return ErrTooShort
	}
	return nil
}
