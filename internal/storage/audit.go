package storage

import (
	"context"
	"time"
)

// AuditEvent is one entry of the audit log: who did what to which item,
// and how it ended. Storage does not interpret its strings; package audit
// decides what goes in them, and keeps secrets out.
type AuditEvent struct {
	// ID is set by the Store when the event is written. IDs grow in the
	// order events are written, so the newest event has the largest.
	ID int64
	// Time is when the event happened. A Store keeps it to the
	// microsecond, in UTC.
	Time time.Time
	// Actor is who acted: "admin", "system", "client:<id>", "user:<id>"
	// or "anonymous".
	Actor string
	// Action names what was done, such as "client.create".
	Action string
	// Target names what it was done to, such as "client:<id>"; empty when
	// there is none.
	Target string
	// Outcome is "success" or "failure".
	Outcome string
	// RequestID is the ID of the HTTP request the event happened in;
	// empty for events outside one.
	RequestID string
	// Source is the client address of that request; empty outside one.
	Source string
	// Details holds small facts about the event; nil or empty for none.
	Details map[string]string
}

// AuditFilter selects audit events for ListAuditEvents. Its zero value
// selects every event, newest first, and a zero Limit none of them.
type AuditFilter struct {
	// Action, Actor, Target and Outcome, when not empty, select the
	// events whose field equals them exactly.
	Action, Actor, Target, Outcome string
	// Since, when not zero, selects events at or after it; Until, when
	// not zero, events before it.
	Since, Until time.Time
	// Before, when above zero, selects events whose ID is below it: the
	// next page of a listing starts before the last ID of the previous.
	Before int64
	// Limit is the most events returned; zero or less returns none.
	Limit int
}

// Audit keeps the audit log. It only grows: no method changes or removes
// an event.
type Audit interface {
	// CreateAuditEvent writes e and sets e.ID. It runs inside the
	// transaction ctx carries, if any, so that a change and the event
	// that records it are committed or rolled back together. ErrInvalid
	// if a string of e (a detail's name or value included) is not valid
	// text.
	CreateAuditEvent(ctx context.Context, e *AuditEvent) error
	// ListAuditEvents returns the events f selects, newest (highest ID)
	// first. A filter string that is not valid text selects nothing.
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// ValidText reports whether every string of e is valid text.
func (e *AuditEvent) ValidText() bool {
	if !ValidText(e.Actor, e.Action, e.Target, e.Outcome, e.RequestID, e.Source) {
		return false
	}
	for k, v := range e.Details {
		if !ValidText(k, v) {
			return false
		}
	}
	return true
}

// ValidText reports whether every string of f is valid text.
func (f *AuditFilter) ValidText() bool {
	return ValidText(f.Action, f.Actor, f.Target, f.Outcome)
}
