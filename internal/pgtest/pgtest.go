// Package pgtest gives each test a PostgreSQL database of its own, created
// empty on a real server and dropped when the test ends.
//
// The server is named by the environment variable VEIL_TEST_DATABASE_URL, a
// postgres:// URL for a role allowed to create databases; by default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. When the
// server cannot be reached, tests are skipped, except in CI (CI=true), where
// a missing database is a broken build and the tests fail.
//
// A test that must stop, restart or freeze its database (outage tests)
// starts a server of its own instead, with NewCluster.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage/postgres"
)

// DefaultURL is the server used when VEIL_TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// timeout bounds each step the helpers take on the server.
const timeout = 30 * time.Second

// unreachable remembers the first failure to connect, so that a missing
// server costs one connection attempt per test binary rather than one per
// test.
var unreachable struct {
	sync.Mutex
	err error
}

// DSN creates a fresh, empty database (no migration applied) and returns
// its URL. The database is dropped, whoever is still connected, when t
// ends.
func DSN(t testing.TB) string {
	t.Helper()

	server, err := url.Parse(serverURL())
	if err != nil || (server.Scheme != "postgres" && server.Scheme != "postgresql") {
		t.Fatalf("VEIL_TEST_DATABASE_URL must be a postgres:// URL")
	}
	name := "veil_test_" + randomHex(8)

	// CREATE DATABASE takes no parameters; name is made here, from hex
	// digits only, and quoted all the same.
	quoted := pgx.Identifier{name}.Sanitize()
	exec(t, server.String(), "CREATE DATABASE "+quoted)
	t.Cleanup(func() {
		exec(t, server.String(), "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
	})

	db := *server
	db.Path = "/" + name
	return db.String()
}

// Migrated is DSN with every migration applied.
func Migrated(t testing.TB) string {
	t.Helper()

	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := postgres.MigrateUp(ctx, dsn); err != nil {
		t.Fatalf("MigrateUp(test database) = %v, want nil", err)
	}
	return dsn
}

func serverURL() string {
	if u := os.Getenv("VEIL_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// exec runs one statement on the server's maintenance database.
func exec(t testing.TB, server, sql string) {
	t.Helper()

	conn := connect(t, server)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("run %q on test server: %v", sql, err)
	}
}

func connect(t testing.TB, server string) *pgx.Conn {
	t.Helper()

	unreachable.Lock()
	err := unreachable.err
	unreachable.Unlock()
	if err != nil {
		skipOrFail(t, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		unreachable.Lock()
		unreachable.err = err
		unreachable.Unlock()
		skipOrFail(t, err)
	}
	return conn
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()

	msg := fmt.Sprintf("PostgreSQL test server unreachable (set VEIL_TEST_DATABASE_URL): %v", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
