package storage

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// KeyChanges is one change to the stored keys, applied atomically by
// UpdateKeys. Retire, Delete and Reseal name keys that are stored when the
// change is applied, never one of Add; a key both retired or resealed and
// deleted is deleted.
type KeyChanges struct {
	// Add are new keys.
	Add []*Key
	// Retire sets RetiredAt of existing keys, by ID. A zero time clears
	// RetiredAt, cancelling a scheduled retirement.
	Retire map[string]time.Time
	// Delete removes keys by ID.
	Delete []string
	// Reseal replaces the Sealed blob of existing keys, by ID (master-key
	// rotation).
	Reseal map[string][]byte
}

// Empty reports whether the changes change nothing.
func (c *KeyChanges) Empty() bool {
	return c == nil ||
		len(c.Add) == 0 && len(c.Retire) == 0 && len(c.Delete) == 0 && len(c.Reseal) == 0
}

// Check reports whether c can be applied to the stored keys existing,
// with the error UpdateKeys returns if not: ErrInvalid if one of its
// strings is not valid text, ErrNotFound if Retire, Delete or Reseal names
// a key that is not stored, ErrConflict if Add holds a key whose ID is
// taken, by a stored key or another added one. Backends call it before
// they write anything.
func (c *KeyChanges) Check(existing []*Key) error {
	if !c.validText() {
		return fmt.Errorf("check key changes: %w", ErrInvalid)
	}

	stored := make(map[string]bool, len(existing))
	for _, k := range existing {
		stored[k.ID] = true
	}
	named := slices.Concat(slices.Collect(maps.Keys(c.Retire)),
		slices.Collect(maps.Keys(c.Reseal)), c.Delete)
	for _, id := range named {
		if !stored[id] {
			return fmt.Errorf("change key %q: %w", id, ErrNotFound)
		}
	}
	for _, k := range c.Add {
		if stored[k.ID] {
			return fmt.Errorf("add key %q: %w", k.ID, ErrConflict)
		}
		stored[k.ID] = true
	}
	return nil
}

// validText reports whether every string of c is valid text: those of the
// added keys, and the IDs it names.
func (c *KeyChanges) validText() bool {
	for _, k := range c.Add {
		if !k.ValidText() {
			return false
		}
	}
	for id := range c.Retire {
		if !ValidText(id) {
			return false
		}
	}
	for id := range c.Reseal {
		if !ValidText(id) {
			return false
		}
	}
	return ValidText(c.Delete...)
}
