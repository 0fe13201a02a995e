package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/veil-auth/veil/internal/storage"
)

// errParseDSN replaces every error from parsing a connection string. pgx
// masks the passwords it recognises in such errors, but only on a best
// effort basis, and the errors it wraps (from net/url among others) may
// quote the string whole. A string that does not parse is exactly where the
// password is hardest to find, so none of it is shown.
var errParseDSN = errors.New(
	"parse connection string: invalid (not shown, as it may hold a password)")

// redactedError has the text of an error whose chain may hold the database
// password, with the password masked, and keeps of that chain only the
// storage sentinel error. A pgconn.ConnectError, for one, carries the whole
// connection config, password included, for anyone who unwraps it.
type redactedError struct {
	msg      string
	sentinel error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.sentinel }

// redact returns err as a redactedError with every occurrence of password
// masked. It returns nil for nil.
func redact(err error, password string) error {
	if err == nil {
		return nil
	}

	// Mask the escaped forms as well, in case a connection string was
	// quoted whole.
	msg := err.Error()
	if password != "" {
		for _, p := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}

	var sentinel error
	for _, s := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrUnavailable} {
		if errors.Is(err, s) {
			sentinel = s
			break
		}
	}
	return &redactedError{msg: msg, sentinel: sentinel}
}

// redactConnect flattens a connection failure into a redactedError marked
// storage.ErrUnavailable, or returns nil if err is not one.
func redactConnect(err error) error {
	var connectErr *pgconn.ConnectError
	if !errors.As(err, &connectErr) {
		return nil
	}

	var password string
	if connectErr.Config != nil {
		password = connectErr.Config.Password
	}
	return redact(fmt.Errorf("%w: %w", storage.ErrUnavailable, err), password)
}
