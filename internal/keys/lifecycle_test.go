package keys_test

import (
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/storage"
)

func mustSealer(t *testing.T) *keys.Sealer {
	t.Helper()
	s, err := keys.NewSealer([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signing(t *testing.T, s *keys.Sealer, alg jose.SignatureAlgorithm, created, active, retired time.Time) *storage.Key {
	t.Helper()
	k, err := keys.GenerateSigning(s, alg, created, active)
	if err != nil {
		t.Fatal(err)
	}
	k.RetiredAt = retired
	return k
}

// TestPlan walks the lifecycle rules with a fixed clock.
func TestPlan(t *testing.T) {
	s := mustSealer(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	policy := keys.Policy{
		Algorithms:       []jose.SignatureAlgorithm{jose.ES256},
		RotationInterval: 24 * time.Hour,
		PrePublish:       time.Hour,
		Retain:           2 * time.Hour,
	}
	active := signing(t, s, jose.ES256, t0, t0, time.Time{})
	next := signing(t, s, jose.ES256, t0.Add(23*time.Hour), t0.Add(24*time.Hour), time.Time{})
	retiredLong := signing(t, s, jose.ES256, t0.Add(-48*time.Hour), t0.Add(-48*time.Hour), t0.Add(-3*time.Hour))
	retiredRecent := signing(t, s, jose.ES256, t0.Add(-48*time.Hour), t0.Add(-48*time.Hour), t0.Add(-time.Hour))

	tests := []struct {
		name       string
		stored     []*storage.Key
		now        time.Time
		force      bool
		wantAdd    int
		wantRetire int
		wantDelete []string
		activateAt time.Time
	}{
		{name: "no key yet: one active at once", now: t0, wantAdd: 1, activateAt: t0},
		{name: "fresh key: nothing to do", stored: []*storage.Key{active}, now: t0.Add(time.Hour)},
		{name: "due: next key published PrePublish ahead", stored: []*storage.Key{active}, now: t0.Add(23 * time.Hour),
			wantAdd: 1, wantRetire: 1, activateAt: t0.Add(24 * time.Hour)},
		{name: "forced", stored: []*storage.Key{active}, now: t0.Add(time.Hour), force: true,
			wantAdd: 1, wantRetire: 1, activateAt: t0.Add(2 * time.Hour)},
		{name: "a next key is waiting: nothing more", stored: []*storage.Key{active, next}, now: t0.Add(23*time.Hour + time.Minute), force: true},
		{name: "retired past Retain is deleted", stored: []*storage.Key{active, retiredLong, retiredRecent}, now: t0,
			wantDelete: []string{retiredLong.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := keys.Plan(tt.stored, policy, s, tt.now, tt.force)
			if err != nil {
				t.Fatal(err)
			}
			if len(ch.Add) != tt.wantAdd || len(ch.Retire) != tt.wantRetire || len(ch.Delete) != len(tt.wantDelete) {
				t.Fatalf("Plan() = %d added, %d retired, %v deleted; want %d, %d, %v",
					len(ch.Add), len(ch.Retire), ch.Delete, tt.wantAdd, tt.wantRetire, tt.wantDelete)
			}
			for i, id := range tt.wantDelete {
				if ch.Delete[i] != id {
					t.Errorf("Plan() deletes %v, want %v", ch.Delete, tt.wantDelete)
				}
			}
			if tt.wantAdd == 1 && !ch.Add[0].ActivatedAt.Equal(tt.activateAt) {
				t.Errorf("new key activates at %v, want %v", ch.Add[0].ActivatedAt, tt.activateAt)
			}
			for _, at := range ch.Retire {
				if !at.Equal(tt.activateAt) {
					t.Errorf("old key retires at %v, want when the new one activates, %v", at, tt.activateAt)
				}
			}
		})
	}
}

func TestState(t *testing.T) {
	s := mustSealer(t)
	t0 := time.Now()
	k := signing(t, s, jose.ES256, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{t0, "next"}, {t0.Add(time.Hour), "active"}, {t0.Add(90 * time.Minute), "active"}, {t0.Add(2 * time.Hour), "retired"},
	} {
		if got := keys.State(k, tt.now); got != tt.want {
			t.Errorf("State(at %v) = %s, want %s", tt.now.Sub(t0), got, tt.want)
		}
	}
}

// TestSetSigner checks that the active key is the latest activated one, for
// each algorithm, and that every algorithm Veil offers produces keys.
func TestSetSigner(t *testing.T) {
	s := mustSealer(t)
	t0 := time.Now()
	stored, err := keys.Generate(s, keys.SigningAlgorithms, t0)
	if err != nil {
		t.Fatal(err)
	}
	later := signing(t, s, jose.ES256, t0, t0.Add(time.Hour), time.Time{})
	set, err := keys.NewSet(append(stored, later), s)
	if err != nil {
		t.Fatalf("NewSet() = %v", err)
	}
	for _, alg := range keys.SigningAlgorithms {
		if _, _, ok := set.Signer(alg, t0); !ok {
			t.Errorf("Signer(%s) found no key", alg)
		}
	}
	if _, kid, _ := set.Signer(jose.ES256, t0); kid == later.ID {
		t.Error("Signer() used a key before its activation")
	}
	if _, kid, _ := set.Signer(jose.ES256, t0.Add(2*time.Hour)); kid != later.ID {
		t.Error("Signer() did not switch to the new key after its activation")
	}
	if _, ok := set.VerificationKey(later.ID); !ok {
		t.Error("a next key is not published for verification")
	}
}

func TestReseal(t *testing.T) {
	old := mustSealer(t)
	stored, err := keys.Generate(old, []jose.SignatureAlgorithm{jose.ES256}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	both, err := keys.NewSealer([][]byte{key(2), key(1)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := keys.Reseal(stored, both)
	if err != nil || len(ch.Reseal) != len(stored) {
		t.Fatalf("Reseal() = %d resealed, %v; want all %d", len(ch.Reseal), err, len(stored))
	}
	onlyNew, _ := keys.NewSealer([][]byte{key(2)})
	for _, k := range stored {
		k.Sealed = ch.Reseal[k.ID]
	}
	if _, err := keys.NewSet(stored, onlyNew); err != nil {
		t.Errorf("NewSet() with only the new master key after Reseal = %v", err)
	}
}

// TestSetSigningKeys checks that a Set describes each of its signing keys
// with the dates it was stored with, and tells their states as State does.
func TestSetSigningKeys(t *testing.T) {
	s := mustSealer(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored, err := keys.Generate(s, []jose.SignatureAlgorithm{jose.RS256}, t0)
	if err != nil {
		t.Fatal(err)
	}
	stored = append(stored,
		signing(t, s, jose.ES256, t0, t0.Add(time.Hour), time.Time{}),
		signing(t, s, jose.ES256, t0.Add(-2*time.Hour), t0.Add(-2*time.Hour), t0.Add(time.Hour)),
	)
	set, err := keys.NewSet(stored, s)
	if err != nil {
		t.Fatal(err)
	}

	// Generate adds the encryption and hashing keys, which are not listed.
	want := []*storage.Key{stored[4], stored[3], stored[0]}
	got := set.SigningKeys()
	if len(got) != len(want) {
		t.Fatalf("SigningKeys() = %d keys, want %d", len(got), len(want))
	}
	for i, k := range want {
		g := got[i]
		if g.ID != k.ID || string(g.Algorithm) != k.Algorithm || !g.ActivatedAt.Equal(k.ActivatedAt) ||
			!g.RetiredAt.Equal(k.RetiredAt) {
			t.Errorf("SigningKeys()[%d] = %+v, want key %s (%s) with its dates", i, g, k.ID, k.Algorithm)
		}
		for _, now := range []time.Time{t0, t0.Add(2 * time.Hour)} {
			if g.State(now) != keys.State(k, now) {
				t.Errorf("SigningKeys()[%d].State(%v) = %s, want %s", i, now, g.State(now), keys.State(k, now))
			}
		}
	}
}
