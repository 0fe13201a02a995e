package keys_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/storage"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, keys.MasterKeySize) }

func TestSealOpen(t *testing.T) {
	old, err := keys.NewSealer([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	both, err := keys.NewSealer([][]byte{key(2), key(1)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := keys.NewSealer([][]byte{key(3)})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("private key material")
	sealed := old.Seal("kid-1", secret)

	if bytes.Contains(sealed, secret) {
		t.Fatal("Seal() output contains the plaintext")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1

	tests := []struct {
		name   string
		sealer *keys.Sealer
		kid    string
		blob   []byte
		ok     bool
	}{
		{name: "same key", sealer: old, kid: "kid-1", blob: sealed, ok: true},
		{name: "old key accepted during rotation", sealer: both, kid: "kid-1", blob: sealed, ok: true},
		{name: "unknown master key", sealer: other, kid: "kid-1", blob: sealed},
		{name: "moved to another kid", sealer: old, kid: "kid-2", blob: sealed},
		{name: "tampered", sealer: old, kid: "kid-1", blob: tampered},
		{name: "truncated", sealer: old, kid: "kid-1", blob: sealed[:5]},
		{name: "empty", sealer: old, kid: "kid-1", blob: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.kid, tt.blob)
			if tt.ok {
				if err != nil || !bytes.Equal(got, secret) {
					t.Errorf("Open() = %q, %v, want %q", got, err, secret)
				}
				return
			}
			if !errors.Is(err, keys.ErrOpen) {
				t.Errorf("Open() error = %v, want ErrOpen", err)
			}
		})
	}

	if !old.SealedWithPrimary(sealed) || both.SealedWithPrimary(sealed) {
		t.Error("SealedWithPrimary() does not tell which master key sealed a blob")
	}
}

func TestNewSealerRefusesBadKeys(t *testing.T) {
	for _, mk := range [][][]byte{nil, {make([]byte, 16)}, {key(1), make([]byte, 31)}} {
		if _, err := keys.NewSealer(mk); err == nil {
			t.Errorf("NewSealer(%d keys) = nil error, want refusal", len(mk))
		}
	}
}

func TestNewSet(t *testing.T) {
	s, err := keys.NewSealer([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := keys.Generate(s, []jose.SignatureAlgorithm{jose.ES256}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.NewSet(stored, s)
	if err != nil {
		t.Fatalf("NewSet() = %v", err)
	}
	_, kid, ok := set.Signer(jose.ES256, time.Now())
	if !ok || set.Encrypter() == nil || len(set.HashKey()) != 32 {
		t.Error("NewSet() lacks a signer, encrypter or hash key")
	}
	if _, ok := set.VerificationKey(kid); !ok {
		t.Error("active signing key is not published for verification")
	}

	wrong, _ := keys.NewSealer([][]byte{key(9)})
	if _, err := keys.NewSet(stored, wrong); err == nil {
		t.Error("NewSet() with the wrong master key succeeded")
	}
	var noSigning []*storage.Key
	for _, k := range stored {
		if k.Use != storage.UseSignature {
			noSigning = append(noSigning, k)
		}
	}
	if _, err := keys.NewSet(noSigning, s); err == nil {
		t.Error("NewSet() without a signing key succeeded")
	}
}
