package keys

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// Manager keeps the current Set and loads it from storage. The Set is read
// on every token request, so it sits behind an atomic pointer: readers never
// lock and never rebuild key objects.
type Manager struct {
	store   storage.Store
	sealer  *Sealer
	now     func() time.Time
	current atomic.Pointer[Set]
}

// NewManager returns a Manager over store. now is the clock used to date new
// keys; nil means time.Now.
func NewManager(store storage.Store, sealer *Sealer, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{store: store, sealer: sealer, now: now}
}

// Init makes sure the first keys exist (creating them exactly once across
// replicas) and loads them.
func (m *Manager) Init(ctx context.Context) error {
	stored, err := m.store.InitKeys(ctx, func() ([]*storage.Key, error) {
		return Generate(m.sealer, m.now())
	})
	if err != nil {
		return fmt.Errorf("init keys: %w", err)
	}
	return m.install(stored)
}

// Reload reads the keys from storage again and installs them.
func (m *Manager) Reload(ctx context.Context) error {
	stored, err := m.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	return m.install(stored)
}

func (m *Manager) install(stored []*storage.Key) error {
	set, err := NewSet(stored, m.sealer)
	if err != nil {
		return err
	}
	m.current.Store(set)
	return nil
}

// Current returns the Set in force, or nil before Init.
func (m *Manager) Current() *Set {
	return m.current.Load()
}
