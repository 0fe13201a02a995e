package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// newKey returns a signing key created at base plus created, active from
// base plus activated.
func newKey(id string, created, activated time.Duration) *storage.Key {
	return &storage.Key{ID: id, Use: storage.UseSignature, Algorithm: "ES256",
		Sealed: []byte("sealed " + id), CreatedAt: base.Add(created),
		ActivatedAt: base.Add(activated)}
}

// updateKeysStep is a step of testUpdateKeys. want lists, oldest first,
// every key stored afterwards: what UpdateKeys returns, or after an error
// what was stored before.
type updateKeysStep struct {
	name    string
	changes func() (*storage.KeyChanges, error)
	wantErr error
	want    []*storage.Key
}

// errPlan is what a failing fn returns in testUpdateKeys.
var errPlan = errors.New("no rotation today")

func updateKeysSteps() []updateKeysStep {
	fixture := sortedKeys()
	sig, enc, hash := fixture[0], fixture[1], fixture[2]
	// "_k" sorts before "enc-1" byte by byte, not in most locales.
	underscore := newKey("_k", time.Second, time.Second)
	sig2 := newKey("sig-2", 2*time.Second, time.Hour)
	sig3 := newKey("sig-3", 3*time.Second, 2*time.Hour)
	with := func(k *storage.Key, edit func(k *storage.Key)) *storage.Key {
		cp := *k
		edit(&cp)
		return &cp
	}
	retired := func(at time.Time) func(k *storage.Key) {
		return func(k *storage.Key) { k.RetiredAt = at }
	}
	resealed := func(k *storage.Key) { k.Sealed = []byte("resealed " + k.ID) }
	changes := func(ch *storage.KeyChanges) func() (*storage.KeyChanges, error) {
		return func() (*storage.KeyChanges, error) { return ch, nil }
	}

	initial := []*storage.Key{sig, enc, hash}
	added := []*storage.Key{sig, underscore, enc, hash, sig2}
	sigRetired := with(sig, retired(base.Add(time.Hour)))
	encResealed := with(enc, resealed)
	sigCleared := with(sig, retired(time.Time{}))
	afterDelete := []*storage.Key{sigCleared, encResealed, hash, sig2}
	return []updateKeysStep{
		{name: "nil changes", changes: changes(nil), want: initial},
		{name: "empty changes", want: initial, changes: changes(&storage.KeyChanges{
			Retire: map[string]time.Time{}, Reseal: map[string][]byte{}})},
		{name: "fn fails", wantErr: errPlan, want: initial,
			changes: func() (*storage.KeyChanges, error) {
				return &storage.KeyChanges{Add: []*storage.Key{sig2}}, errPlan
			}},
		{name: "add", want: added, changes: changes(&storage.KeyChanges{
			Add: []*storage.Key{sig2, underscore}})},
		{name: "retire", want: []*storage.Key{sigRetired, underscore, enc, hash, sig2},
			changes: changes(&storage.KeyChanges{
				Retire: map[string]time.Time{sig.ID: base.Add(time.Hour)}})},
		{name: "reseal", want: []*storage.Key{sigRetired, underscore, encResealed, hash, sig2},
			changes: changes(&storage.KeyChanges{
				Reseal: map[string][]byte{enc.ID: []byte("resealed enc-1")}})},
		{name: "zero time clears retirement",
			want: []*storage.Key{sigCleared, underscore, encResealed, hash, sig2},
			changes: changes(&storage.KeyChanges{
				Retire: map[string]time.Time{sig.ID: {}}})},
		{name: "delete", want: afterDelete, changes: changes(&storage.KeyChanges{
			Delete: []string{underscore.ID}})},
		{name: "retire unknown", wantErr: storage.ErrNotFound, want: afterDelete,
			changes: changes(&storage.KeyChanges{Add: []*storage.Key{sig3},
				Retire: map[string]time.Time{"none": base}})},
		{name: "reseal unknown", wantErr: storage.ErrNotFound, want: afterDelete,
			changes: changes(&storage.KeyChanges{Add: []*storage.Key{sig3},
				Reseal: map[string][]byte{"none": []byte("x")}})},
		{name: "delete unknown", wantErr: storage.ErrNotFound, want: afterDelete,
			changes: changes(&storage.KeyChanges{Delete: []string{sig.ID, "none"}})},
		{name: "delete deleted", wantErr: storage.ErrNotFound, want: afterDelete,
			changes: changes(&storage.KeyChanges{Delete: []string{underscore.ID}})},
		{name: "retire a key added with it", wantErr: storage.ErrNotFound, want: afterDelete,
			changes: changes(&storage.KeyChanges{Add: []*storage.Key{sig3},
				Retire: map[string]time.Time{sig3.ID: base}})},
		{name: "add a stored ID", wantErr: storage.ErrConflict, want: afterDelete,
			changes: changes(&storage.KeyChanges{
				Add: []*storage.Key{sig3, newKey(sig2.ID, 0, 0)}})},
		{name: "add one ID twice", wantErr: storage.ErrConflict, want: afterDelete,
			changes: changes(&storage.KeyChanges{Add: []*storage.Key{sig3, sig3}})},
		{name: "every kind at once",
			want: []*storage.Key{
				with(hash, resealed), with(sig2, retired(base.Add(2*time.Hour))), sig3},
			changes: changes(&storage.KeyChanges{
				Add:    []*storage.Key{sig3},
				Retire: map[string]time.Time{sig2.ID: base.Add(2 * time.Hour), sig.ID: base},
				Reseal: map[string][]byte{hash.ID: []byte("resealed hash-1")},
				Delete: []string{sig.ID, enc.ID},
			})},
	}
}

// testUpdateKeys runs the steps of updateKeysSteps in order, each on what
// the steps before it left: UpdateKeys must show fn the stored keys, apply
// its changes or none of them, and return every key afterwards.
func testUpdateKeys(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, err := s.InitKeys(ctx, func() ([]*storage.Key, error) { return fixtureKeys(), nil })
	if err != nil {
		t.Fatalf("InitKeys() = %v, want nil", err)
	}

	for _, tt := range updateKeysSteps() {
		t.Run(tt.name, func(t *testing.T) {
			before, err := s.Keys(ctx)
			if err != nil {
				t.Fatalf("Keys() = %v, want nil", err)
			}

			call := "UpdateKeys(" + tt.name + ")"
			plan := func(existing []*storage.Key) (*storage.KeyChanges, error) {
				if diff := equal(before, existing); diff != "" {
					t.Errorf("%s showed fn (-stored +shown):\n%s", call, diff)
				}
				// What fn does to the keys it is shown must not reach the
				// Store.
				for _, k := range existing {
					k.Sealed[0] ^= 0xff
					k.RetiredAt = base
				}
				return tt.changes()
			}
			got, err := s.UpdateKeys(ctx, plan)
			if !checkErr(t, call, err, tt.wantErr) {
				return
			}
			if tt.wantErr == nil {
				if diff := equal(tt.want, got); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
				}
			}

			stored, err := s.Keys(ctx)
			if err != nil {
				t.Fatalf("Keys() = %v, want nil", err)
			}
			if diff := equal(tt.want, stored); diff != "" {
				t.Errorf("Keys() after %s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

// testUpdateKeysConcurrent starts several UpdateKeys calls at once on one
// Store.
func testUpdateKeysConcurrent(t *testing.T, s storage.Store) {
	UpdateKeysConcurrently(t, []storage.Store{s}, 8, 5)
}

// UpdateKeysConcurrently calls UpdateKeys from n goroutines spread over
// the given Stores, which must share their data, each with an fn that adds
// a key only if fewer than limit are stored: exactly limit keys must be
// stored afterwards, which only holds if each fn sees the changes of those
// that ran before it. n must be more than limit.
func UpdateKeysConcurrently(t *testing.T, stores []storage.Store, n, limit int) {
	t.Helper()

	var added atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([][]*storage.Key, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = stores[i%len(stores)].UpdateKeys(context.Background(),
				func(existing []*storage.Key) (*storage.KeyChanges, error) {
					// Widen the window in which a missing lock would let
					// another caller count the same keys.
					time.Sleep(10 * time.Millisecond)
					if len(existing) >= limit {
						return nil, nil
					}
					added.Add(1)
					k := newKey(fmt.Sprintf("race-%02d", i), time.Duration(i)*time.Second, 0)
					return &storage.KeyChanges{Add: []*storage.Key{k}}, nil
				})
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Errorf("UpdateKeys() #%d = %v, want nil", i, errs[i])
		} else if len(results[i]) == 0 || len(results[i]) > limit {
			t.Errorf("UpdateKeys() #%d returned %d keys, want 1 to %d", i, len(results[i]), limit)
		}
	}
	if got := added.Load(); got != int32(limit) {
		t.Errorf("fn added a key in %d of %d concurrent UpdateKeys, want %d", got, n, limit)
	}
	stored, err := stores[0].Keys(context.Background())
	if err != nil || len(stored) != limit {
		t.Errorf("Keys() after %d concurrent UpdateKeys = %d keys, %v, want %d, nil",
			n, len(stored), err, limit)
	}
}
