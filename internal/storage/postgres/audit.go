package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

const insertAuditEventSQL = `
INSERT INTO audit_events (time, actor, action, target, outcome, request_id, source, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id`

// CreateAuditEvent writes e and sets e.ID.
func (s *Store) CreateAuditEvent(ctx context.Context, e *storage.AuditEvent) error {
	if !e.ValidText() {
		return fmt.Errorf("create audit event: %w", storage.ErrInvalid)
	}

	details := e.Details
	if details == nil {
		// nil would be stored as the JSON null, which is not an object.
		details = map[string]string{}
	}
	at := e.Time.UTC().Truncate(time.Microsecond)
	var id int64
	err := s.querier(ctx).QueryRow(ctx, insertAuditEventSQL, at, e.Actor, e.Action,
		e.Target, e.Outcome, e.RequestID, e.Source, details).Scan(&id)
	if err != nil {
		return fmt.Errorf("create audit event: %w", mapError(err))
	}

	e.ID, e.Time = id, at
	return nil
}

const selectAuditEventsSQL = `
SELECT id, time, actor, action, target, outcome, request_id, source, details
FROM audit_events`

// ListAuditEvents returns the events f selects, newest first. The WHERE
// clause names only the filters that are set, so that the planner can use
// the index of the one that is; every value is a parameter.
func (s *Store) ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]*storage.AuditEvent, error) {
	if !f.ValidText() || f.Limit <= 0 {
		return nil, nil
	}

	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	for _, c := range []struct{ column, value string }{
		{"action", f.Action}, {"actor", f.Actor}, {"target", f.Target}, {"outcome", f.Outcome},
	} {
		if c.value != "" {
			add(c.column+" = $%d", c.value)
		}
	}
	if !f.Since.IsZero() {
		add("time >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		add("time < $%d", f.Until)
	}
	if f.Before > 0 {
		add("id < $%d", f.Before)
	}

	query := selectAuditEventsSQL
	if len(where) > 0 {
		query += "\nWHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	query += "\nORDER BY id DESC\nLIMIT $" + strconv.Itoa(len(args))

	rows, err := s.querier(ctx).Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", mapError(err))
	}
	events, err := pgx.CollectRows(rows, scanAuditEvent)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", mapError(err))
	}
	return events, nil
}

func scanAuditEvent(row pgx.CollectableRow) (*storage.AuditEvent, error) {
	var e storage.AuditEvent
	err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Target, &e.Outcome,
		&e.RequestID, &e.Source, &e.Details)
	if err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	return &e, nil
}
