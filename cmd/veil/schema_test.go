package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// TestMaintenanceCommandsCheckSchema: veil janitor and veil keys work
// only on a database at the schema version the binary expects. Any other
// they refuse, naming the way out, and migrate nothing.
func TestMaintenanceCommandsCheckSchema(t *testing.T) {
	masterKey := make([]byte, 32)
	if _, err := rand.Read(masterKey); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// dsn returns a database in the state under test.
		dsn  func(t *testing.T) string
		want string
	}{
		{name: "never migrated", want: "veil migrate up",
			dsn: func(t *testing.T) string { return pgtest.DSN(t) }},
		{name: "behind", want: "veil migrate up", dsn: func(t *testing.T) string {
			dsn := pgtest.Migrated(t)
			if err := postgres.MigrateDown(context.Background(), dsn); err != nil {
				t.Fatal(err)
			}
			return dsn
		}},
		{name: "ahead", want: "newer than this build", dsn: func(t *testing.T) string {
			dsn := pgtest.Migrated(t)
			execAll(t, dsn, "UPDATE schema_migrations SET version = version + 1")
			return dsn
		}},
		{name: "dirty", want: "failed half way", dsn: func(t *testing.T) string {
			dsn := pgtest.Migrated(t)
			execAll(t, dsn, "UPDATE schema_migrations SET dirty = true")
			return dsn
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := tt.dsn(t)
			before, beforeDirty, err := postgres.MigrationStatus(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			env := func(k string) string {
				return map[string]string{"VEIL_DATABASE_URL": dsn, "VEIL_LOG_FORMAT": "text",
					"VEIL_MASTER_KEY":  base64.StdEncoding.EncodeToString(masterKey),
					"VEIL_ADMIN_TOKEN": "schema-test-admin-token-0123456789abcdef"}[k]
			}
			for _, args := range [][]string{{"janitor"}, {"keys", "list"}, {"keys", "rotate"}} {
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), args, &stdout, &stderr, env)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("veil %s = %v, want an error saying %q", strings.Join(args, " "), err, tt.want)
				}
			}
			after, afterDirty, err := postgres.MigrationStatus(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			if after != before || afterDirty != beforeDirty {
				t.Errorf("schema version went from %d (dirty %v) to %d (dirty %v), want it untouched",
					before, beforeDirty, after, afterDirty)
			}
		})
	}
}
