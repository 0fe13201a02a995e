package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// errCodeUsed answers a second redemption of an authorization code that
// raced the first: RFC 6749 §4.1.2 makes codes single-use, and fosite
// would otherwise report the lost race as a server error.
var errCodeUsed = &Error{Code: "invalid_grant", Status: http.StatusBadRequest,
	Description: "The authorization code was already used."}

// errRefreshUsed answers a refresh token presented again after rotation.
var errRefreshUsed = &Error{Code: "invalid_grant", Status: http.StatusBadRequest,
	Description: "The refresh token was already used."}

func sessionOf(req fosite.Requester) *Session {
	s, _ := req.GetSession().(*Session)
	if s == nil {
		return NewSession()
	}
	return s
}

// CreateAuthorizeCodeSession stores an issued code with its request.
func (s fositeStore) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	b, err := encodeRequest(req)
	if err != nil {
		return err
	}
	sess := sessionOf(req)
	err = s.p.store.CreateCode(ctx, &storage.Code{
		Signature: code,
		RequestID: req.GetID(),
		ClientID:  req.GetClient().GetID(),
		UserID:    sess.UserID,
		ConsentID: sess.ConsentID,
		Request:   b,
		ExpiresAt: sess.GetExpiresAt(fosite.AuthorizeCode),
	})
	if err != nil {
		return fositeError(fmt.Errorf("store authorization code: %w", err))
	}
	return nil
}

// GetAuthorizeCodeSession returns a code's request. A used code returns
// the request together with fosite.ErrInvalidatedAuthorizeCode, which makes
// fosite revoke every token issued from it (RFC 6749 §4.1.2: a code
// presented twice means someone else has it). The replay is recorded
// throttled, as the client holding the code can present it at will.
func (s fositeStore) GetAuthorizeCodeSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	c, err := s.p.store.Code(ctx, code)
	if err != nil {
		return nil, fositeError(err)
	}
	req, err := s.decodeRequest(ctx, c.Request, sess)
	if err != nil {
		return nil, err
	}
	if c.Used {
		s.p.log().Info("authorization code replayed; revoking its tokens", "client_id", c.ClientID)
		s.p.audit.RecordThrottled(ctx, audit.Event{Actor: requester(ctx), Action: audit.CodeReplay,
			Target: audit.Grant(c.RequestID), Outcome: audit.Failure,
			Details: map[string]string{"client_id": c.ClientID, "user_id": c.UserID}})
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used. It runs inside the
// exchange's transaction, and the storage marks it in one atomic statement,
// so of concurrent redemptions exactly one succeeds.
func (s fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	err := s.p.store.UseCode(ctx, code)
	switch {
	case errors.Is(err, storage.ErrUsed), errors.Is(err, storage.ErrNotFound):
		return errCodeUsed
	case err != nil:
		return fositeError(err)
	}
	return nil
}

// CreatePKCERequestSession has nothing to add: the challenge is in the
// code's stored request form, which fosite sanitises to keep it.
func (s fositeStore) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetPKCERequestSession returns the code's request, whose form holds the
// PKCE challenge. Used codes are returned as well: fosite checks PKCE
// before it notices the replay.
func (s fositeStore) GetPKCERequestSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	c, err := s.p.store.Code(ctx, code)
	if err != nil {
		return nil, fositeError(err)
	}
	return s.decodeRequest(ctx, c.Request, sess)
}

// DeletePKCERequestSession has nothing to delete (see
// CreatePKCERequestSession).
func (s fositeStore) DeletePKCERequestSession(context.Context, string) error {
	return nil
}

// BeginTX starts a storage transaction for fosite's multi-step writes.
func (s fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	return s.p.store.BeginTx(ctx)
}

// Commit commits the transaction in ctx.
func (s fositeStore) Commit(ctx context.Context) error { return s.p.store.Commit(ctx) }

// Rollback aborts the transaction in ctx.
func (s fositeStore) Rollback(ctx context.Context) error { return s.p.store.Rollback(ctx) }
