package provider

import (
	"context"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/audit"
)

// revocationStore is the store of the revocation endpoint (RFC 7009). The
// handler calls the same methods as the token endpoint's, with another
// meaning: a rotated refresh token presented for revocation is not reuse
// (the client may well be cleaning up), and revoking a grant is what the
// client asked for, which the audit log records.
type revocationStore struct {
	fositeStore
}

// GetRefreshTokenSession returns a refresh token's request, as
// fositeStore's does, without taking an inactive token for reuse.
func (s revocationStore) GetRefreshTokenSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	req, _, err := s.refreshSession(ctx, signature, sess)
	return req, err
}

// RevokeAccessToken revokes the access tokens of a grant, the handler's
// last step once it has found the token and checked that it belongs to
// the client, and records the revocation. An unknown token never gets
// here, so revoking one records nothing.
func (s revocationStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if err := s.fositeStore.RevokeAccessToken(ctx, requestID); err != nil {
		return err
	}
	s.p.audit.Record(ctx, audit.Event{Actor: requester(ctx), Action: audit.TokenRevoke,
		Target: audit.Grant(requestID)})
	return nil
}
