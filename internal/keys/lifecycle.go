package keys

import (
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage"
)

// Policy says how signing keys rotate.
type Policy struct {
	// Algorithms are the algorithms Veil keeps a signing key for; the first
	// signs tokens unless a resource asks for another. Default ES256 and
	// RS256 (RFC 9068 §4 requires RS256 to be available).
	Algorithms []jose.SignatureAlgorithm
	// RotationInterval is how long a signing key signs before the next
	// one takes over. Default 30 days.
	RotationInterval time.Duration
	// PrePublish is how long a new key is published before it signs. It
	// must be at least the JWKS Cache-Control max-age plus the time
	// replicas take to notice new keys, so that a resource server caching
	// the JWKS never meets an unknown kid.
	PrePublish time.Duration
	// Retain is how long a retired key stays published: at least the
	// longest access-token lifetime, so every token it signed still
	// verifies until it expires. Since replicas (and the veil keys
	// command) may run with different lifetimes, Veil uses MaxRetain, the
	// longest any configuration allows, rather than its own setting.
	Retain time.Duration
}

// MaxRetain is how long a retired key is kept by default: the longest
// access-token lifetime plus the longest JWKS max-age any configuration
// accepts, so no replica can delete a key another still needs.
const MaxRetain = 48 * time.Hour

// withDefaults fills zero fields.
func (p Policy) withDefaults() Policy {
	if len(p.Algorithms) == 0 {
		p.Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}
	}
	if p.RotationInterval <= 0 {
		p.RotationInterval = 30 * 24 * time.Hour
	}
	if p.Retain <= 0 {
		p.Retain = MaxRetain
	}
	return p
}

// Plan decides what a rotation step changes, given the stored keys and the
// time. For each algorithm of the policy:
//   - with no key yet, a key is created that is active at once (nothing
//     can have cached a JWKS without it, since no token used it);
//   - when the active key has signed for RotationInterval less PrePublish,
//     or when force is set, a next key is created that activates
//     PrePublish from now, and the active key is scheduled to retire then;
//   - while a next key is waiting, nothing more is created.
//
// Retired keys are deleted Retain after they retired. Plan is a pure
// function so that every rule can be tested with a fixed clock; it runs
// under a lock that all replicas share (storage.Store.UpdateKeys).
func Plan(stored []*storage.Key, p Policy, s *Sealer, now time.Time, force bool) (*storage.KeyChanges, error) {
	p = p.withDefaults()
	ch := &storage.KeyChanges{Retire: map[string]time.Time{}}
	for _, alg := range p.Algorithms {
		mine := signingKeysOf(stored, alg)
		if len(mine) == 0 {
			k, err := GenerateSigning(s, alg, now, now)
			if err != nil {
				return nil, err
			}
			ch.Add = append(ch.Add, k)
			continue
		}
		newest := mine[len(mine)-1]
		if newest.ActivatedAt.After(now) {
			continue
		}
		if !force && now.Before(newest.ActivatedAt.Add(p.RotationInterval-p.PrePublish)) {
			continue
		}
		activate := now.Add(p.PrePublish)
		k, err := GenerateSigning(s, alg, now, activate)
		if err != nil {
			return nil, err
		}
		ch.Add = append(ch.Add, k)
		ch.Retire[newest.ID] = activate
	}

	for _, k := range stored {
		if k.Use != storage.UseSignature {
			continue
		}
		dropped := !slices.Contains(p.Algorithms, jose.SignatureAlgorithm(k.Algorithm))
		if dropped && k.RetiredAt.IsZero() {
			// The algorithm was removed from the configuration: its key
			// stops signing now and is published until its tokens expire.
			ch.Retire[k.ID] = now
		}
		if !k.RetiredAt.IsZero() && now.After(k.RetiredAt.Add(p.Retain)) {
			ch.Delete = append(ch.Delete, k.ID)
		}
	}
	return ch, nil
}

// signingKeysOf returns the signing keys for alg, oldest activation first.
func signingKeysOf(stored []*storage.Key, alg jose.SignatureAlgorithm) []*storage.Key {
	var out []*storage.Key
	for _, k := range stored {
		if k.Use == storage.UseSignature && k.Algorithm == string(alg) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b *storage.Key) int { return a.ActivatedAt.Compare(b.ActivatedAt) })
	return out
}

// The lifecycle states of a signing key.
const (
	StateNext    = "next"
	StateActive  = "active"
	StateRetired = "retired"
)

// State returns a key's lifecycle state at now, from its dates.
func State(k *storage.Key, now time.Time) string {
	return stateAt(k.ActivatedAt, k.RetiredAt, now)
}

// stateAt is State on the dates alone: next until activated, retired from
// retired on (zero: not scheduled), active in between.
func stateAt(activated, retired, now time.Time) string {
	switch {
	case activated.After(now):
		return StateNext
	case !retired.IsZero() && !now.Before(retired):
		return StateRetired
	}
	return StateActive
}

// Reseal re-encrypts every stored key under s's primary master key, for a
// master-key rotation. Keys already sealed under it are left alone.
func Reseal(stored []*storage.Key, s *Sealer) (*storage.KeyChanges, error) {
	ch := &storage.KeyChanges{Reseal: map[string][]byte{}}
	for _, k := range stored {
		if s.SealedWithPrimary(k.Sealed) {
			continue
		}
		plain, err := s.Open(k.ID, k.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open key %s: %w", k.ID, err)
		}
		ch.Reseal[k.ID] = s.Seal(k.ID, plain)
	}
	return ch, nil
}
