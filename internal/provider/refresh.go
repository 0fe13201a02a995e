package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// CreateRefreshTokenSession stores an issued refresh token.
func (s fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	b, err := encodeRequest(req)
	if err != nil {
		return err
	}
	sess := sessionOf(req)
	err = s.p.store.CreateRefreshToken(ctx, &storage.RefreshToken{
		Signature:       signature,
		RequestID:       req.GetID(),
		AccessSignature: accessSignature,
		ClientID:        req.GetClient().GetID(),
		UserID:          sess.UserID,
		ConsentID:       sess.ConsentID,
		Request:         b,
		ExpiresAt:       sess.GetExpiresAt(fosite.RefreshToken),
		Active:          true,
	})
	if err != nil {
		return fositeError(fmt.Errorf("store refresh token: %w", err))
	}
	return nil
}

// GetRefreshTokenSession returns a refresh token's request. An inactive
// (rotated or revoked) token returns the request with
// fosite.ErrInactiveToken: fosite then treats the request as reuse and
// revokes the whole family (RFC 9700 §4.14.2).
//
// The reuse is recorded throttled: a client can present a token it
// revoked itself as often as it likes, and storage cannot tell a rotated
// token from a revoked one, so each presentation must not cost a row.
//
// TODO(#6): record a rotated token's reuse apart from a revoked token's
// presentation; storage would have to keep why a token went inactive.
func (s fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	req, rt, err := s.refreshSession(ctx, signature, sess)
	if errors.Is(err, fosite.ErrInactiveToken) {
		s.p.log().Info("refresh token reused; revoking its family", "client_id", rt.ClientID)
		s.p.audit.RecordThrottled(ctx, audit.Event{Actor: requester(ctx), Action: audit.RefreshTokenReuse,
			Target: audit.Grant(rt.RequestID), Outcome: audit.Failure,
			Details: map[string]string{"client_id": rt.ClientID, "user_id": rt.UserID}})
	}
	return req, err
}

// refreshSession returns a refresh token's request and record; for an
// inactive token, both with fosite.ErrInactiveToken.
func (s fositeStore) refreshSession(
	ctx context.Context, signature string, sess fosite.Session,
) (fosite.Requester, *storage.RefreshToken, error) {
	rt, err := s.p.store.RefreshToken(ctx, signature)
	if err != nil {
		return nil, nil, fositeError(err)
	}
	req, err := s.decodeRequest(ctx, rt.Request, sess)
	if err != nil {
		return nil, nil, err
	}
	if !rt.Active {
		return req, rt, fosite.ErrInactiveToken
	}
	return req, rt, nil
}

// DeleteRefreshTokenSession deactivates one refresh token; Veil keeps the
// record so a later presentation is still recognised as reuse.
func (s fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	err := s.p.store.DeactivateRefreshToken(ctx, signature)
	if err != nil && !errors.Is(err, storage.ErrUsed) {
		return fositeError(err)
	}
	return nil
}

// RotateRefreshToken deactivates the refresh token being exchanged, in one
// atomic statement inside the exchange's transaction, so that two
// concurrent exchanges of one token cannot both succeed.
func (s fositeStore) RotateRefreshToken(ctx context.Context, _ string, signature string) error {
	err := s.p.store.DeactivateRefreshToken(ctx, signature)
	switch {
	case errors.Is(err, storage.ErrUsed), errors.Is(err, storage.ErrNotFound):
		return errRefreshUsed
	case err != nil:
		return fositeError(err)
	}
	return nil
}

// RevokeRefreshToken revokes every refresh token of a request ID.
func (s fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if err := s.p.store.RevokeRefreshTokens(ctx, requestID); err != nil {
		return fositeError(fmt.Errorf("revoke refresh tokens: %w", err))
	}
	return nil
}
