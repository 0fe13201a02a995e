package provider

import (
	"context"
	"errors"

	"github.com/ory/fosite"
)

// errNoRefreshTokens is returned by the refresh-token storage methods that
// would write: Veil does not issue refresh tokens yet.
// TODO(#3): refresh tokens with rotation and reuse detection.
var errNoRefreshTokens = errors.New("provider: refresh tokens are not issued")

// CreateRefreshTokenSession refuses: no grant Veil composes issues refresh
// tokens yet.
func (s fositeStore) CreateRefreshTokenSession(context.Context, string, string, fosite.Requester) error {
	return errNoRefreshTokens
}

// GetRefreshTokenSession finds nothing, since no refresh token exists.
func (s fositeStore) GetRefreshTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// DeleteRefreshTokenSession finds nothing to delete.
func (s fositeStore) DeleteRefreshTokenSession(context.Context, string) error {
	return fosite.ErrNotFound
}

// RotateRefreshToken finds nothing to rotate.
func (s fositeStore) RotateRefreshToken(context.Context, string, string) error {
	return fosite.ErrNotFound
}

// RevokeRefreshToken has nothing to revoke.
func (s fositeStore) RevokeRefreshToken(context.Context, string) error {
	return nil
}
