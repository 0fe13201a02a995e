package secret_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/veil-auth/veil/internal/secret"
)

func TestNewHasEnoughEntropy(t *testing.T) {
	s := secret.New()
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 32 {
		t.Fatalf("New() = %d bytes (%v), want at least 32 random bytes", len(raw), err)
	}
	if secret.New() == s {
		t.Error("New() returned the same secret twice")
	}
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h, err := secret.NewHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := secret.NewHasher(append(make([]byte, 31), 1))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(ctx, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		hasher *secret.Hasher
		hash   []byte
		data   string
		ok     bool
	}{
		{name: "match", hasher: h, hash: hash, data: "s3cret", ok: true},
		{name: "wrong secret", hasher: h, hash: hash, data: "s3cret!"},
		{name: "other key", hasher: other, hash: hash, data: "s3cret"},
		{name: "no hash (public client)", hasher: h, hash: nil, data: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.hasher.Compare(ctx, tt.hash, []byte(tt.data))
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, secret.ErrMismatch)) {
				t.Errorf("Compare(%q) = %v, want ok=%v", tt.data, err, tt.ok)
			}
		})
	}

	if _, err := secret.NewHasher(make([]byte, 16)); err == nil {
		t.Error("NewHasher(16 bytes) = nil error, want refusal")
	}
}
