package memory

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// CreateAuditEvent appends a copy of e and sets e.ID.
func (s *Store) CreateAuditEvent(_ context.Context, e *storage.AuditEvent) error {
	if !e.ValidText() {
		return fmt.Errorf("create audit event: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.ID = int64(len(s.audit)) + 1
	s.audit = append(s.audit, cloneAuditEvent(e))
	return nil
}

// ListAuditEvents returns copies of the events f selects, newest first.
func (s *Store) ListAuditEvents(_ context.Context, f storage.AuditFilter) ([]*storage.AuditEvent, error) {
	if !f.ValidText() {
		return nil, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	var out []*storage.AuditEvent
	for i := len(s.audit) - 1; i >= 0 && len(out) < f.Limit; i-- {
		if e := s.audit[i]; auditMatches(e, &f) {
			out = append(out, cloneAuditEvent(e))
		}
	}
	return out, nil
}

// auditMatches reports whether f selects e.
func auditMatches(e *storage.AuditEvent, f *storage.AuditFilter) bool {
	switch {
	case f.Action != "" && e.Action != f.Action,
		f.Actor != "" && e.Actor != f.Actor,
		f.Target != "" && e.Target != f.Target,
		f.Outcome != "" && e.Outcome != f.Outcome,
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until),
		f.Before > 0 && e.ID >= f.Before:
		return false
	}
	return true
}

func cloneAuditEvent(e *storage.AuditEvent) *storage.AuditEvent {
	cp := *e
	cp.Details = maps.Clone(e.Details)
	return &cp
}
