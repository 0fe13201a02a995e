package storagetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// fixtureKeys returns the keys a generate function hands to InitKeys, out
// of order: Keys and InitKeys must return them oldest first. The signing
// key activates after its creation and is scheduled to retire, so that
// every date is stored.
func fixtureKeys() []*storage.Key {
	return []*storage.Key{
		{ID: "enc-1", Use: storage.UseEncryption, Algorithm: "A256KW",
			Sealed: []byte("sealed enc"), CreatedAt: base.Add(time.Second),
			ActivatedAt: base.Add(time.Second)},
		{ID: "sig-1", Use: storage.UseSignature, Algorithm: "ES256",
			Sealed: []byte("sealed sig"), CreatedAt: base, ActivatedAt: base.Add(time.Hour),
			RetiredAt: base.Add(48 * time.Hour)},
		{ID: "hash-1", Use: storage.UseSecretHash, Algorithm: "HS256",
			Sealed: []byte("sealed hash"), CreatedAt: base.Add(time.Second),
			ActivatedAt: base.Add(time.Second)},
	}
}

// sortedKeys is fixtureKeys by CreatedAt, then ID.
func sortedKeys() []*storage.Key {
	k := fixtureKeys()
	return []*storage.Key{k[1], k[0], k[2]}
}

func testInitKeys(t *testing.T, s storage.Store) {
	ctx := context.Background()

	tests := []struct {
		name         string
		generate     func() ([]*storage.Key, error)
		wantGenerate bool
	}{
		{
			name:         "first call generates",
			generate:     func() ([]*storage.Key, error) { return fixtureKeys(), nil },
			wantGenerate: true,
		},
		{name: "second call does not", generate: func() ([]*storage.Key, error) {
			return []*storage.Key{{ID: "other", Use: storage.UseSignature, Algorithm: "ES256",
				Sealed: []byte("x"), CreatedAt: base}}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			got, err := s.InitKeys(ctx, func() ([]*storage.Key, error) {
				called = true
				return tt.generate()
			})
			if err != nil {
				t.Fatalf("InitKeys() = %v, want nil", err)
			}
			if called != tt.wantGenerate {
				t.Errorf("InitKeys() called generate = %v, want %v", called, tt.wantGenerate)
			}
			if diff := equal(sortedKeys(), got); diff != "" {
				t.Errorf("InitKeys() mismatch (-want +got):\n%s", diff)
			}

			// Nothing InitKeys returned may alias the stored keys.
			got[0].Sealed[0] ^= 0xff
			stored, err := s.Keys(ctx)
			if err != nil {
				t.Fatalf("Keys() = %v, want nil", err)
			}
			if diff := equal(sortedKeys(), stored); diff != "" {
				t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func testInitKeysFailure(t *testing.T, s storage.Store) {
	ctx := context.Background()
	errGenerate := errors.New("no entropy today")

	tests := []struct {
		name     string
		generate func() ([]*storage.Key, error)
		wantErr  error
	}{
		{name: "generate fails", wantErr: errGenerate, generate: func() ([]*storage.Key, error) {
			return nil, errGenerate
		}},
		{name: "duplicate key IDs", wantErr: storage.ErrConflict, generate: duplicateKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.InitKeys(ctx, tt.generate)
			checkErr(t, "InitKeys()", err, tt.wantErr)

			got, err := s.Keys(ctx)
			if err != nil || len(got) != 0 {
				t.Errorf("Keys() after failed InitKeys = %d keys, %v, want 0, nil", len(got), err)
			}
		})
	}
}

// duplicateKeys is a generate function returning two keys with one ID.
func duplicateKeys() ([]*storage.Key, error) {
	k := fixtureKeys()
	k[2].ID = k[0].ID
	return k, nil
}

// testInitKeysConcurrent starts several InitKeys calls at once on one
// Store: generate must run exactly once, and every caller must see the
// same keys.
func testInitKeysConcurrent(t *testing.T, s storage.Store) {
	InitKeysConcurrently(t, []storage.Store{s}, 8)
}

// InitKeysConcurrently calls InitKeys from n goroutines spread over the
// given Stores, which must share their data, and checks that generate ran
// exactly once and that every call returned the generated keys.
func InitKeysConcurrently(t *testing.T, stores []storage.Store, n int) {
	t.Helper()

	var calls atomic.Int32
	generate := func() ([]*storage.Key, error) {
		calls.Add(1)
		// Widen the window in which a missing lock would let another
		// caller find no key.
		time.Sleep(20 * time.Millisecond)
		return fixtureKeys(), nil
	}

	var wg sync.WaitGroup
	results := make([][]*storage.Key, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = stores[i%len(stores)].InitKeys(context.Background(), generate)
		})
	}
	wg.Wait()

	if got := calls.Load(); got != 1 {
		t.Errorf("generate calls over %d concurrent InitKeys = %d, want 1", n, got)
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("InitKeys() #%d = %v, want nil", i, errs[i])
			continue
		}
		if diff := equal(sortedKeys(), results[i]); diff != "" {
			t.Errorf("InitKeys() #%d mismatch (-want +got):\n%s", i, diff)
		}
	}
}
