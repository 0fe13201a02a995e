package password_test

import (
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/password"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr error
	}{
		{"empty", "", password.ErrTooShort},
		{"seven ascii", "abcdefg", password.ErrTooShort},
		{"eight ascii", "abcdefgh", nil},
		{"seven spaces and a letter", "       a", nil},
		{"all digits", "12345678", nil},
		// Eight characters in 24 bytes: counted as characters.
		{"eight cjk", "密码密码密码密码", nil},
		{"seven cjk", "密码密码密码密", password.ErrTooShort},
		// Four emoji are four characters in 16 bytes.
		{"four emoji", "🔑🔑🔑🔑", password.ErrTooShort},
		{"longest", strings.Repeat("a", password.MaxBytes), nil},
		{"one byte too long", strings.Repeat("a", password.MaxBytes+1), password.ErrTooLong},
		{"too long in bytes, not characters", strings.Repeat("é", 513), password.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := password.Validate(tt.pw); got != tt.wantErr {
				t.Errorf("Validate(%.20q) = %v, want %v", tt.pw, got, tt.wantErr)
			}
		})
	}
}
