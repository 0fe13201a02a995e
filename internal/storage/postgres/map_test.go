package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/veil-auth/veil/internal/storage"
)

func TestMapError(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"})
	}

	tests := []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{name: "no rows", err: pgx.ErrNoRows, want: storage.ErrNotFound},
		{name: "unique violation", err: pgErr("23505"), want: storage.ErrConflict},
		{name: "foreign key violation", err: pgErr("23503"), want: storage.ErrNotFound},
		{name: "connection failure", err: pgErr("08006"), want: storage.ErrUnavailable},
		{name: "admin shutdown", err: pgErr("57P01"), want: storage.ErrUnavailable},
		{name: "starting up", err: pgErr("57P03"), want: storage.ErrUnavailable},
		{name: "too many connections", err: pgErr("53300"), want: storage.ErrUnavailable},
		{name: "serialization failure", err: pgErr("40001"), want: storage.ErrUnavailable},
		{name: "deadlock", err: pgErr("40P01"), want: storage.ErrUnavailable},
		{name: "NUL or invalid UTF-8", err: pgErr("22021"), want: storage.ErrInvalid},
		{name: "untranslatable character", err: pgErr("22P05"), want: storage.ErrInvalid},
		{name: "check violation", err: pgErr("23514")},
		{name: "undefined table", err: pgErr("42P01")},
		{
			name: "deadline",
			err:  fmt.Errorf("acquire: %w", context.DeadlineExceeded),
			want: storage.ErrUnavailable,
		},
		{name: "connection closed", err: io.ErrUnexpectedEOF, want: storage.ErrUnavailable},
		{name: "cancelled by caller", err: context.Canceled},
		{name: "other", err: errors.New("boom")},
	}
	sentinels := []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrUnavailable,
		storage.ErrInvalid}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapError(tt.err)
			for _, s := range sentinels {
				if is, want := errors.Is(got, s), s == tt.want; is != want {
					t.Errorf("errors.Is(mapError(%v), %v) = %v, want %v", tt.err, s, is, want)
				}
			}
			if tt.err != pgx.ErrNoRows && !errors.Is(got, tt.err) {
				t.Errorf("mapError(%v) = %v, which does not wrap its argument", tt.err, got)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	const pw = "p@ss word/+"

	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "plain", err: errors.New("auth p@ss word/+ failed"), want: "auth xxxxx failed"},
		{
			name: "query escaped",
			err:  errors.New("url a:p%40ss+word%2F%2B@h"),
			want: "url a:xxxxx@h",
		},
		{name: "path escaped", err: errors.New("url a:p@ss%20word%2F+@h"), want: "url a:xxxxx@h"},
		{
			name: "keeps sentinel",
			err:  fmt.Errorf("x: %w", storage.ErrUnavailable),
			want: "x: storage: unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact(tt.err, pw)
			if got.Error() != tt.want {
				t.Errorf("redact(%q).Error() = %q, want %q", tt.err, got.Error(), tt.want)
			}
			if errors.Is(tt.err, storage.ErrUnavailable) != errors.Is(got, storage.ErrUnavailable) {
				t.Errorf("redact(%q) lost or gained storage.ErrUnavailable", tt.err)
			}
		})
	}

	if got := redact(nil, pw); got != nil {
		t.Errorf("redact(nil) = %v, want nil", got)
	}
}
