package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestHealth: both probes on both listeners, without credentials; ready
// turns 503 when the database goes away.
func TestHealth(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	probe := func(base, path string) response {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return do(t, req)
	}
	for _, base := range []string{in.base, in.adminURL} {
		for _, path := range []string{"/health/live", "/health/ready"} {
			if r := probe(base, path); r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s%s = %d (%s), want 200 no-store", base, path, r.status, r.body)
			}
		}
	}

	dropDatabase(t, in)
	for _, base := range []string{in.base, in.adminURL} {
		if r := probe(base, "/health/ready"); r.status != http.StatusServiceUnavailable {
			t.Errorf("ready with the database gone = %d %s, want 503", r.status, r.body)
		}
		if r := probe(base, "/health/live"); r.status != http.StatusOK {
			t.Errorf("live with the database gone = %d, want 200", r.status)
		}
	}
}

// TestReadyNeedsSchema: a database that answers is not enough for
// readiness; it must hold the schema this build expects, clean. Each
// change below is undone before the next.
func TestReadyNeedsSchema(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	client := &http.Client{Timeout: 5 * time.Second}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	tests := []struct {
		name      string
		sql, undo string
	}{
		{name: "dirty", sql: "UPDATE schema_migrations SET dirty = true",
			undo: "UPDATE schema_migrations SET dirty = false"},
		{name: "behind", sql: "UPDATE schema_migrations SET version = version - 1",
			undo: "UPDATE schema_migrations SET version = version + 1"},
		{name: "ahead", sql: "UPDATE schema_migrations SET version = version + 1",
			undo: "UPDATE schema_migrations SET version = version - 1"},
		{name: "no migration recorded", sql: "ALTER TABLE schema_migrations RENAME TO kept",
			undo: "ALTER TABLE kept RENAME TO schema_migrations"},
		{name: "schema gone", sql: "DROP SCHEMA public CASCADE; CREATE SCHEMA public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, base := range []string{in.base, in.adminURL} {
				waitForStatus(t, client, base+"/health/ready", http.StatusOK)
			}
			if _, err := conn.Exec(ctx, tt.sql); err != nil {
				t.Fatalf("%s: %v", tt.sql, err)
			}
			for _, base := range []string{in.base, in.adminURL} {
				waitForStatus(t, client, base+"/health/ready", http.StatusServiceUnavailable)
			}
			if tt.undo != "" {
				if _, err := conn.Exec(ctx, tt.undo); err != nil {
					t.Fatalf("%s: %v", tt.undo, err)
				}
			}
		})
	}
}

// TestWrongMethodAllow: the probes and the metrics answer a method they do
// not serve with 405 and Allow, as the OpenAPI document says, not 404.
func TestWrongMethodAllow(t *testing.T) {
	in := startVeil(t, "", newMasterKey(t))
	type target struct{ base, path string }
	targets := []target{{in.adminURL, "/metrics"}}
	for _, base := range []string{in.base, in.adminURL} {
		targets = append(targets, target{base, "/health/live"}, target{base, "/health/ready"})
	}
	for _, tg := range targets {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, err := http.NewRequest(method, tg.base+tg.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := do(t, req)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s%s = %d, Allow %q; want 405, Allow \"GET, HEAD\"",
					method, tg.base, tg.path, r.status, r.header.Get("Allow"))
			}
		}
	}
}
