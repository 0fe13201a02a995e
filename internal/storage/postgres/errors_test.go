package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// password is put in every connection string below. It holds an "@", which
// a careless URL parser takes for the end of the user info; secretParts are
// its halves, neither of which may show in an error.
const password = "hunter2@Secret-pw"

var secretParts = []string{"hunter2", "Secret-pw"}

// TestErrorsUnreachable covers failing to connect or to parse the
// connection string. Where the server is out of reach the error must be
// storage.ErrUnavailable; in every case no error in its chain may show the
// password or carry the connection config.
func TestErrorsUnreachable(t *testing.T) {
	closed := withPassword(t, "postgres://veil@"+closedPort(t)+"/veil?sslmode=disable")
	missingDB, _ := url.Parse(withPassword(t, pgtest.DSN(t)))
	missingDB.Path = "/no_such_database"
	rawAt := "postgres://veil:" + password + "@127.0.0.1:port/veil"
	keywords := "host=127.0.0.1 password='" + password + "' sslmode=sometimes"
	badHost := "postgres://veil:" + password + "@[::1/veil"

	tests := []struct {
		name    string
		call    func(ctx context.Context) error
		wantErr error
	}{
		{name: "New, closed port", call: newStore(closed), wantErr: storage.ErrUnavailable},
		{
			name:    "New, unknown database",
			call:    newStore(missingDB.String()),
			wantErr: storage.ErrUnavailable,
		},
		{name: "New, raw @ in password", call: newStore(rawAt), wantErr: errAny},
		{name: "New, bad keyword/value string", call: newStore(keywords), wantErr: errAny},
		{name: "MigrateUp, closed port", call: migrate(postgres.MigrateUp, closed),
			wantErr: storage.ErrUnavailable},
		{
			name:    "MigrateDown, unknown database",
			call:    migrate(postgres.MigrateDown, missingDB.String()),
			wantErr: storage.ErrUnavailable,
		},
		{name: "MigrationStatus, closed port", call: status(closed), wantErr: storage.ErrUnavailable},
		{name: "MigrationStatus, bad URL", call: status(badHost), wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, tt.name, tt.call(shortContext(t)), tt.wantErr)
		})
	}
}

// TestErrorsBrokenServer covers a server that stops answering or goes away,
// through a proxy on loopback.
func TestErrorsBrokenServer(t *testing.T) {
	dsn := withPassword(t, pgtest.Migrated(t))

	tests := []struct {
		name string
		// call gets a fresh proxy to the test database.
		call func(t *testing.T, ctx context.Context, p *proxy) error
	}{
		{
			name: "New, silent server",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				p.freeze()
				return newStore(p.dsn)(ctx)
			},
		},
		{
			name: "query, silent server",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				// Cut before s.Close runs: pgx waits up to 15s for a frozen
				// connection to say goodbye.
				t.Cleanup(p.cut)
				p.freeze()
				_, err := s.Client(ctx, "app")
				return err
			},
		},
		{
			name: "query, connection cut",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				p.cut()
				_, err := s.Client(ctx, "app")
				return err
			},
		},
		{
			// The batched statements run on a context of their own.
			name: "batched insert, silent server",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				t.Cleanup(p.cut)
				p.freeze()
				return s.CreateAccessToken(ctx, accessToken("at", ""))
			},
		},
		{
			name: "batched lookup, silent server",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				t.Cleanup(p.cut)
				p.freeze()
				_, err := s.AccessToken(ctx, "at")
				return err
			},
		},
		{
			name: "batched insert, connection cut",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				p.cut()
				return s.CreateAccessToken(ctx, accessToken("at", ""))
			},
		},
		{
			name: "batched lookup, connection cut",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				p.cut()
				_, err := s.AccessToken(ctx, "at")
				return err
			},
		},
		{
			name: "Ping, connection cut",
			call: func(t *testing.T, ctx context.Context, p *proxy) error {
				s := open(t, p.dsn)
				p.cut()
				return s.Ping(ctx)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := tt.call(t, ctx, startProxy(t, dsn))
			checkError(t, tt.name, err, storage.ErrUnavailable)
		})
	}
}

// migrate returns a call of a migration function on dsn.
func migrate(fn func(context.Context, string) error, dsn string) func(ctx context.Context) error {
	return func(ctx context.Context) error { return fn(ctx, dsn) }
}

// status returns a call of MigrationStatus on dsn.
func status(dsn string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, _, err := postgres.MigrationStatus(ctx, dsn)
		return err
	}
}

// newStore returns a call of New on dsn that discards the Store.
func newStore(dsn string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		s, err := postgres.New(ctx, dsn)
		if err == nil {
			s.Close()
		}
		return err
	}
}

// checkError checks that err is want (errAny: any error), that no error in
// its chain shows a part of the password, and that the chain holds no
// *pgconn.ConnectError, which carries the whole connection config.
func checkError(t *testing.T, call string, err, want error) {
	t.Helper()

	if err == nil || (want != errAny && !errors.Is(err, want)) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
	for e := range chain(err) {
		for _, part := range secretParts {
			if strings.Contains(e.Error(), part) {
				t.Errorf("%s error chain shows the password: %q", call, e.Error())
			}
		}
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		t.Errorf("%s error chain holds a *pgconn.ConnectError", call)
	}
}

// errAny stands for "some error, whichever" in the want column of a table.
var errAny = errors.New("any error")

// withPassword returns the URL dsn with password set for its user. The test
// server trusts loopback connections, so the password is never checked.
func withPassword(t *testing.T, dsn string) string {
	t.Helper()

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// chain yields err and every error it wraps, depth first.
func chain(err error) func(yield func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			case interface{ Unwrap() []error }:
				for _, w := range u.Unwrap() {
					if !walk(w) {
						return false
					}
				}
			}
			return true
		}
		walk(err)
	}
}
