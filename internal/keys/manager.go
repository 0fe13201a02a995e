package keys

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// Manager keeps the current Set, loads it from storage and runs rotation.
// The Set is read on every token request, so it sits behind an atomic
// pointer: readers never lock and never rebuild key objects. A new Set is
// built only when the stored keys change.
type Manager struct {
	store  storage.Store
	sealer *Sealer
	policy Policy
	now    func() time.Time
	log    *slog.Logger
	audit  *audit.Recorder

	current atomic.Pointer[Set]
	mu      sync.Mutex // serialises installs
	loaded  string     // fingerprint of the keys the current Set was built from
}

// NewManager returns a Manager over store. now is the clock used to date
// and activate keys; nil means time.Now. log may be nil.
//
// Rotations and rewraps are recorded in store's audit log, by the actor
// the context names (see audit.WithActor), or audit.ActorSystem.
func NewManager(store storage.Store, sealer *Sealer, policy Policy, now func() time.Time, log *slog.Logger) *Manager {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, sealer: sealer, policy: policy.withDefaults(), now: now, log: log,
		audit: audit.New(audit.Config{Store: store, Logger: log, Now: now})}
}

// Init makes sure the keys exist (the first ones created exactly once
// across replicas, and one for every configured algorithm) and loads them.
func (m *Manager) Init(ctx context.Context) error {
	_, err := m.store.InitKeys(ctx, func() ([]*storage.Key, error) {
		return Generate(m.sealer, m.policy.Algorithms, m.now())
	})
	if err != nil {
		return fmt.Errorf("init keys: %w", err)
	}
	return m.Rotate(ctx, false)
}

// Rotate runs one rotation step under the lock all replicas share (see
// Plan); force starts a rotation now instead of when it is due. The result
// is installed at once.
func (m *Manager) Rotate(ctx context.Context, force bool) error {
	var planned *storage.KeyChanges
	stored, err := m.store.UpdateKeys(ctx, func(existing []*storage.Key) (*storage.KeyChanges, error) {
		ch, err := Plan(existing, m.policy, m.sealer, m.now(), force)
		planned = ch
		return ch, err
	})
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	for _, k := range planned.Add {
		m.log.Info("signing key created", "kid", k.ID, "alg", k.Algorithm, "activates_at", k.ActivatedAt)
	}
	for id, at := range planned.Retire {
		m.log.Info("signing key scheduled to retire", "kid", id, "retires_at", at)
	}
	for _, id := range planned.Delete {
		m.log.Info("retired signing key removed", "kid", id)
	}
	// A step that changed nothing is not an event, unless someone asked
	// for it: every replica runs one every few seconds.
	if force || !planned.Empty() {
		m.recordRotation(ctx, planned, force)
	}
	return m.install(stored)
}

// recordRotation writes the audit event of a rotation step. It names the
// keys by ID only.
func (m *Manager) recordRotation(ctx context.Context, ch *storage.KeyChanges, force bool) {
	added := make([]string, 0, len(ch.Add))
	for _, k := range ch.Add {
		added = append(added, k.ID)
	}
	details := map[string]string{"forced": strconv.FormatBool(force)}
	for name, ids := range map[string][]string{
		"added": added, "retired": slices.Collect(maps.Keys(ch.Retire)), "deleted": ch.Delete,
	} {
		if len(ids) > 0 {
			details[name] = strings.Join(slices.Sorted(slices.Values(ids)), " ")
		}
	}
	m.audit.Record(ctx, audit.Event{Actor: audit.ActorFrom(ctx, audit.ActorSystem),
		Action: audit.KeyRotate, Target: audit.TargetKeys, Details: details})
}

// Rewrap seals every stored key under the primary master key, so the
// others are no longer needed.
func (m *Manager) Rewrap(ctx context.Context) (int, error) {
	n := 0
	stored, err := m.store.UpdateKeys(ctx, func(existing []*storage.Key) (*storage.KeyChanges, error) {
		ch, err := Reseal(existing, m.sealer)
		if ch != nil {
			n = len(ch.Reseal)
		}
		return ch, err
	})
	if err != nil {
		return 0, fmt.Errorf("rewrap keys: %w", err)
	}
	m.audit.Record(ctx, audit.Event{Actor: audit.ActorFrom(ctx, audit.ActorSystem),
		Action: audit.KeyRewrap, Target: audit.TargetKeys,
		Details: map[string]string{"resealed": strconv.Itoa(n)}})
	return n, m.install(stored)
}

// Reload reads the keys from storage again and installs them if they
// changed.
func (m *Manager) Reload(ctx context.Context) error {
	stored, err := m.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	return m.install(stored)
}

// Run keeps the keys current until ctx ends: every interval it runs a
// rotation step (a no-op unless one is due) and installs what the store
// holds, so every replica uses a new key within one interval of it
// appearing.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Rotate(ctx, false); err != nil && ctx.Err() == nil {
				m.log.Warn("key refresh failed", "err", err)
			}
		}
	}
}

func (m *Manager) install(stored []*storage.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fp := fingerprint(stored)
	if fp == m.loaded && m.current.Load() != nil {
		return nil
	}
	set, err := NewSet(stored, m.sealer)
	if err != nil {
		return err
	}
	m.current.Store(set)
	m.loaded = fp
	return nil
}

// fingerprint identifies a set of stored keys and their schedule.
func fingerprint(stored []*storage.Key) string {
	parts := make([]string, 0, len(stored))
	for _, k := range stored {
		parts = append(parts, k.ID+"/"+k.ActivatedAt.String()+"/"+k.RetiredAt.String()+"/"+string(k.Sealed))
	}
	sort.Strings(parts)
	return strings.Join(parts, "|")
}

// Stored returns the stored keys (sealed; for listing dates and states).
func (m *Manager) Stored(ctx context.Context) ([]*storage.Key, error) {
	return m.store.Keys(ctx)
}

// Current returns the Set in force, or nil before Init.
func (m *Manager) Current() *Set {
	return m.current.Load()
}

// Policy returns the rotation policy in force.
func (m *Manager) Policy() Policy { return m.policy }

// Now returns the manager's clock reading.
func (m *Manager) Now() time.Time { return m.now() }
