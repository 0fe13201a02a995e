package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// expiredRowsSQL stores three expired sessions and a live one, and two
// failed sign-ins of a day ago; $1 is now.
var expiredRowsSQL = []string{
	`INSERT INTO users (id, username) VALUES ('u1', 'alice')`,
	`INSERT INTO sessions (id, user_id, auth_time, expires_at)
	 SELECT 's-' || i, 'u1', $1::timestamptz - interval '1 day',
		$1::timestamptz + CASE WHEN i = 4 THEN interval '1 hour' ELSE interval '-1 hour' END
	 FROM generate_series(1, 4) i`,
	`INSERT INTO login_failures (key, at)
	 SELECT 'k-' || i, $1::timestamptz - interval '1 day' FROM generate_series(1, 2) i`,
}

// execAll runs statements on dsn, each with now as $1 if it takes one.
func execAll(t *testing.T, dsn string, statements ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	for _, sql := range statements {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, time.Now())
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func TestJanitorCommand(t *testing.T) {
	dsn := pgtest.Migrated(t)
	execAll(t, dsn, expiredRowsSQL...)
	env := func(k string) string {
		return map[string]string{"VEIL_DATABASE_URL": dsn, "VEIL_LOG_FORMAT": "text"}[k]
	}
	janitor := func() (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"janitor"}, &stdout, &stderr, env)
		return stdout.String(), stderr.String(), err
	}

	out, logs, err := janitor()
	for _, want := range []string{`(?m)^KIND\s+DELETED$`, `(?m)^sessions\s+3$`,
		`(?m)^login_failures\s+2$`, `(?m)^access_tokens\s+0$`, `(?m)^total\s+5$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("veil janitor printed %q, want a line matching %s", out, want)
		}
	}
	if err != nil || !strings.Contains(logs, "janitor deleted expired items") {
		t.Errorf("veil janitor = %v, logged %q, want nil and a line for the run", err, logs)
	}

	out, _, err = janitor()
	if err != nil || !regexp.MustCompile(`(?m)^total\s+0$`).MatchString(out) {
		t.Errorf("veil janitor again = %v, printed %q, want nil and a total of 0", err, out)
	}

	t.Run("another replica holds the lock", func(t *testing.T) {
		execAll(t, dsn, `INSERT INTO sessions (id, user_id, auth_time, expires_at)
			VALUES ('s-late', 'u1', $1, $1::timestamptz - interval '1 hour')`)
		other, err := postgres.New(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, err = other.TrySweepLock(context.Background(), func(context.Context) error {
			out, _, err = janitor()
			return nil
		})
		if err != nil || !strings.Contains(out, "another replica is running the janitor") {
			t.Errorf("veil janitor while another holds the lock = %v, printed %q, want "+
				"nil and a note of the other", err, out)
		}
		if out, _, _ := janitor(); !regexp.MustCompile(`(?m)^sessions\s+1$`).MatchString(out) {
			t.Errorf("veil janitor once the lock is free printed %q, want the session deleted", out)
		}
	})

	t.Run("a kind fails", func(t *testing.T) {
		execAll(t, dsn, `DROP TABLE login_failures`, `
			INSERT INTO sessions (id, user_id, auth_time, expires_at)
			SELECT 'f-' || i, 'u1', $1, $1::timestamptz - interval '1 hour'
			FROM generate_series(1, 3) i`)
		out, _, err := janitor()
		if err == nil || !strings.Contains(err.Error(), "login_failures") {
			t.Errorf("veil janitor without the login_failures table = %v, want an error naming it",
				err)
		}
		if !regexp.MustCompile(`(?m)^sessions\s+3$`).MatchString(out) {
			t.Errorf("veil janitor with one kind failing printed %q, want the others deleted", out)
		}
	})
}

func TestJanitorCommandRefused(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "without a database", args: []string{"janitor"}, wantErr: "VEIL_DATABASE_URL"},
		{name: "with an argument", args: []string{"janitor", "now"},
			env:     map[string]string{"VEIL_DATABASE_URL": "postgres://127.0.0.1:1/x"},
			wantErr: "usage: veil janitor"},
		{name: "database unreachable", args: []string{"janitor"},
			env:     map[string]string{"VEIL_DATABASE_URL": "postgres://u:pw-secret@127.0.0.1:1/x"},
			wantErr: "migrat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr,
				func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%v) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if strings.Contains(err.Error()+stdout.String()+stderr.String(), "pw-secret") {
				t.Errorf("run(%v) leaks the database password: %v", tt.args, err)
			}
		})
	}
}
