package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

// fositeStore adapts storage.Store to the storage interfaces of the fosite
// handlers Veil composes. It translates between fosite's requests and Veil's
// records, and between the two sets of sentinel errors.
type fositeStore struct {
	p *Provider
}

// GetClient implements fosite.ClientManager.
func (s fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.p.client(ctx, id)
	if err != nil {
		return nil, fositeError(err)
	}
	return Client{c}, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. Veil refuses
// client assertions before fosite would look at one, so every jti is unknown.
func (s fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager; see
// ClientAssertionJWTValid.
func (s fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errors.New("provider: client assertions are not supported")
}

// CreateAccessTokenSession records an issued access token.
func (s fositeStore) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	sess, ok := req.GetSession().(*Session)
	if !ok || sess.JTI == "" {
		return errors.New("provider: access token session lacks its jti")
	}
	rec := &storage.AccessToken{
		Signature: signature,
		JTI:       sess.JTI,
		RequestID: req.GetID(),
		ClientID:  req.GetClient().GetID(),
		Subject:   sess.Subject,
		Audience:  req.GetGrantedAudience(),
		Scopes:    req.GetGrantedScopes(),
		IssuedAt:  sess.IssuedAt,
		ExpiresAt: sess.GetExpiresAt(fosite.AccessToken),
		ConsentID: sess.ConsentID,
	}
	if sess.resource != nil {
		rec.ResourceID = sess.resource.ID
	}
	err := s.p.store.CreateAccessToken(ctx, rec)
	if errors.Is(err, storage.ErrNotFound) {
		return s.p.vanished(ctx, rec, err)
	}
	if err != nil {
		return fositeError(fmt.Errorf("record access token: %w", err))
	}
	return nil
}

// vanished answers a token that could not be recorded because its client,
// resource, consent or user went away after this request read them (from
// the catalog, which another replica's admin change reaches only after its
// TTL). The catalog is emptied, so that the next request reads the truth,
// and the answer names what is gone as RFC 6749 and RFC 8707 would have
// had the request come a moment later.
func (p *Provider) vanished(ctx context.Context, rec *storage.AccessToken, cause error) error {
	p.Forget()
	cause = fmt.Errorf("record access token: %w", cause)
	if _, err := p.client(ctx, rec.ClientID); errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrInvalidClient.WithWrap(cause)
	}
	if len(rec.Audience) == 1 {
		if _, err := p.resourceByIdentifier(ctx, rec.Audience[0]); errors.Is(err, storage.ErrNotFound) {
			e := errInvalidTarget("The resource no longer exists.")
			e.Cause = cause
			return e
		}
	}
	return fosite.ErrInvalidGrant.WithWrap(cause)
}

// GetAccessTokenSession returns the request an access token was issued
// under. A revoked token is fosite.ErrInactiveToken.
func (s fositeStore) GetAccessTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	rec, err := s.p.store.AccessToken(ctx, signature)
	if err != nil {
		return nil, fositeError(err)
	}
	c, err := s.p.client(ctx, rec.ClientID)
	if err != nil {
		return nil, fositeError(err)
	}

	req := fosite.NewRequest()
	req.ID = rec.RequestID
	req.RequestedAt = rec.IssuedAt
	req.Client = Client{c}
	for _, sc := range rec.Scopes {
		req.AppendRequestedScope(sc)
		req.GrantScope(sc)
	}
	for _, aud := range rec.Audience {
		req.AppendRequestedAudience(aud)
		req.GrantAudience(aud)
	}
	sess := NewSession()
	sess.Subject = rec.Subject
	sess.ConsentID = rec.ConsentID
	sess.JTI = rec.JTI
	sess.IssuedAt = rec.IssuedAt
	sess.SetExpiresAt(fosite.AccessToken, rec.ExpiresAt)
	req.Session = sess

	if rec.Revoked {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteAccessTokenSession revokes the grant an access token belongs to.
// Veil keeps the record (so a revoked token stays known as revoked), and a
// single token is never withdrawn without its siblings.
func (s fositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	rec, err := s.p.store.AccessToken(ctx, signature)
	if err != nil {
		return fositeError(err)
	}
	return s.RevokeAccessToken(ctx, rec.RequestID)
}

// RevokeAccessToken revokes every access token of a request ID.
func (s fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if err := s.p.store.RevokeAccessTokens(ctx, requestID); err != nil {
		return fositeError(fmt.Errorf("revoke access tokens: %w", err))
	}
	return nil
}

// fositeError maps storage errors onto the fosite errors its handlers
// expect, keeping the cause for the log.
func fositeError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound.WithWrap(err)
	case errors.Is(err, storage.ErrUnavailable):
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	default:
		return fosite.ErrServerError.WithWrap(err)
	}
}
