package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// auditFixtures are written in this order, so their IDs grow down the
// list, and their times (base plus at seconds) are not in ID order.
var auditFixtures = []struct {
	at                             time.Duration
	actor, action, target, outcome string
}{
	{0, "admin", "client.create", "client:c1", "success"},
	{2, "anonymous", "client.auth_failed", "client:c1", "failure"},
	{1, "client:c1", "token.revoke", "grant:g1", "success"},
	{3, "admin", "client.delete", "client:c1", "success"},
	{4, "user:u1", "consent.grant", "user:u1", "success"},
}

func writeAuditFixtures(t *testing.T, s storage.Store) []*storage.AuditEvent {
	t.Helper()

	var out []*storage.AuditEvent
	for i, f := range auditFixtures {
		e := &storage.AuditEvent{
			Time: base.Add(f.at * time.Second), Actor: f.actor, Action: f.action,
			Target: f.target, Outcome: f.outcome, RequestID: fmt.Sprintf("req-%d", i),
			Source: "192.0.2.1", Details: map[string]string{"n": fmt.Sprint(i)},
		}
		if err := s.CreateAuditEvent(context.Background(), e); err != nil {
			t.Fatalf("CreateAuditEvent(%s) = %v, want nil", f.action, err)
		}
		out = append(out, e)
	}
	return out
}

func testCreateAuditEvent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	local := time.FixedZone("UTC+2", 2*60*60)
	e := &storage.AuditEvent{
		Time: base.Add(123 * time.Nanosecond).In(local), Actor: "admin", Action: "user.create",
		Target: "user:u1", Outcome: "success", RequestID: "r1", Source: "2001:db8::1",
		Details: map[string]string{"username": "alice", "note": "é ✓"},
	}
	if err := s.CreateAuditEvent(ctx, e); err != nil {
		t.Fatalf("CreateAuditEvent() = %v, want nil", err)
	}
	if e.ID <= 0 || !e.Time.Equal(base) || e.Time.Location() != time.UTC {
		t.Errorf("CreateAuditEvent() set ID, Time = %d, %v, want > 0, %v", e.ID, e.Time, base)
	}

	bare := &storage.AuditEvent{Time: base, Actor: "system", Action: "key.rotate", Outcome: "success"}
	if err := s.CreateAuditEvent(ctx, bare); err != nil {
		t.Fatalf("CreateAuditEvent(no details) = %v, want nil", err)
	}
	if bare.ID <= e.ID {
		t.Errorf("second event ID = %d, want above the first, %d", bare.ID, e.ID)
	}

	got, err := s.ListAuditEvents(ctx, storage.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatalf("ListAuditEvents() = %v, want nil", err)
	}
	if diff := equal([]*storage.AuditEvent{bare, e}, got); diff != "" {
		t.Errorf("ListAuditEvents() mismatch (-want +got):\n%s", diff)
	}
}

func testListAuditEvents(t *testing.T, s storage.Store) {
	ctx := context.Background()
	events := writeAuditFixtures(t, s)
	id := func(i int) int64 { return events[i].ID }

	tests := []struct {
		name   string
		filter storage.AuditFilter
		want   []int
	}{
		{name: "everything, newest first", filter: storage.AuditFilter{Limit: 10}, want: []int{4, 3, 2, 1, 0}},
		{name: "limit", filter: storage.AuditFilter{Limit: 2}, want: []int{4, 3}},
		{name: "zero limit", filter: storage.AuditFilter{}},
		{name: "negative limit", filter: storage.AuditFilter{Limit: -1}},
		{name: "action", filter: storage.AuditFilter{Action: "client.delete", Limit: 10}, want: []int{3}},
		{name: "actor", filter: storage.AuditFilter{Actor: "admin", Limit: 10}, want: []int{3, 0}},
		{name: "target", filter: storage.AuditFilter{Target: "client:c1", Limit: 10}, want: []int{3, 1, 0}},
		{name: "outcome", filter: storage.AuditFilter{Outcome: "failure", Limit: 10}, want: []int{1}},
		{name: "actor and target", filter: storage.AuditFilter{
			Actor: "admin", Target: "client:c1", Limit: 10}, want: []int{3, 0}},
		{name: "since is inclusive", filter: storage.AuditFilter{
			Since: base.Add(2 * time.Second), Limit: 10}, want: []int{4, 3, 1}},
		{name: "until is exclusive", filter: storage.AuditFilter{
			Until: base.Add(2 * time.Second), Limit: 10}, want: []int{2, 0}},
		{name: "since and until", filter: storage.AuditFilter{
			Since: base.Add(time.Second), Until: base.Add(3 * time.Second), Limit: 10}, want: []int{2, 1}},
		{name: "before", filter: storage.AuditFilter{Before: id(3), Limit: 2}, want: []int{2, 1}},
		{name: "before the first", filter: storage.AuditFilter{Before: id(0), Limit: 10}},
		{name: "before and actor", filter: storage.AuditFilter{
			Before: id(3), Actor: "admin", Limit: 10}, want: []int{0}},
		{name: "no match", filter: storage.AuditFilter{Action: "user.delete", Limit: 10}},
		{name: "case matters", filter: storage.AuditFilter{Actor: "Admin", Limit: 10}},
		{name: "invalid text", filter: storage.AuditFilter{Target: "client:\x00", Limit: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAuditEvents(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListAuditEvents(%+v) = %v, want nil", tt.filter, err)
			}
			var want []*storage.AuditEvent
			for _, i := range tt.want {
				want = append(want, events[i])
			}
			if diff := equal(want, got); diff != "" {
				t.Errorf("ListAuditEvents(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func testAuditEventInvalid(t *testing.T, s storage.Store) {
	ctx := context.Background()
	valid := storage.AuditEvent{Time: base, Actor: "admin", Action: "user.create", Outcome: "success"}
	tests := []struct {
		name   string
		change func(e *storage.AuditEvent)
	}{
		{"actor", func(e *storage.AuditEvent) { e.Actor = "user:\x00" }},
		{"target", func(e *storage.AuditEvent) { e.Target = "user:\xff" }},
		{"request id", func(e *storage.AuditEvent) { e.RequestID = "\x00" }},
		{"source", func(e *storage.AuditEvent) { e.Source = "\xc3" }},
		{"detail name", func(e *storage.AuditEvent) { e.Details = map[string]string{"a\x00": "b"} }},
		{"detail value", func(e *storage.AuditEvent) { e.Details = map[string]string{"a": "\xff"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.change(&e)
			checkErr(t, "CreateAuditEvent("+tt.name+")", s.CreateAuditEvent(ctx, &e), storage.ErrInvalid)
		})
	}

	got, err := s.ListAuditEvents(ctx, storage.AuditFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("ListAuditEvents() after refused writes = %d events, %v, want none, nil", len(got), err)
	}
}

func testAuditEventAliasing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	e := &storage.AuditEvent{Time: base, Actor: "admin", Action: "user.create",
		Outcome: "success", Details: map[string]string{"username": "alice"}}
	if err := s.CreateAuditEvent(ctx, e); err != nil {
		t.Fatalf("CreateAuditEvent() = %v, want nil", err)
	}
	e.Details["username"] = "mallory"

	list := func() []*storage.AuditEvent {
		got, err := s.ListAuditEvents(ctx, storage.AuditFilter{Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListAuditEvents() = %d events, %v, want 1, nil", len(got), err)
		}
		return got
	}
	list()[0].Details["username"] = "eve"
	if got := list()[0].Details["username"]; got != "alice" {
		t.Errorf("stored detail username = %q after changing copies, want alice", got)
	}
}
