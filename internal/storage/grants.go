package storage

import (
	"context"
	"time"
)

// Code is an issued authorization code. The code itself is never stored:
// Signature is derived from it.
type Code struct {
	// Signature identifies the code (fosite's HMAC signature of it).
	Signature string
	// RequestID is the grant's request ID, shared by every token issued
	// from this code, so a replay can revoke them.
	RequestID string
	// ClientID is the client the code was issued to.
	ClientID string
	// UserID is the user who consented.
	UserID string
	// ConsentID is the consent the code was issued under.
	ConsentID string
	// Request is the serialised authorization request; opaque to storage.
	Request []byte
	// ExpiresAt is when the code stops being redeemable.
	ExpiresAt time.Time
	// Used is set once the code was redeemed.
	Used bool
}

// RefreshToken is an issued refresh token. The token itself is never
// stored: Signature is derived from it.
type RefreshToken struct {
	// Signature identifies the token (fosite's HMAC signature of it).
	Signature string
	// RequestID is the grant's request ID: every refresh and access token
	// descended from one authorization shares it (the family).
	RequestID string
	// AccessSignature is the signature of the access token issued with it.
	AccessSignature string
	// ClientID is the client the token was issued to.
	ClientID string
	// UserID is the user the grant is for.
	UserID string
	// ConsentID is the consent the token was issued under.
	ConsentID string
	// Request is the serialised token request; opaque to storage.
	Request []byte
	// ExpiresAt is when the token stops being usable.
	ExpiresAt time.Time
	// Active is true until the token is rotated or revoked.
	Active bool
}

// Grants stores what users granted and what was issued under it.
type Grants interface {
	// SaveConsent records a user's decision on a consent page. If no
	// consent for the same user, client and resource exists, c is stored
	// as new, under c.ID, or under a fresh random ID if c.ID is empty.
	// Otherwise c is merged into the stored consent, which keeps its ID,
	// so that what is remembered is only what the user asked to remember:
	//
	//   - c.Remember, stored consent remembered: Scopes become the union;
	//   - c.Remember, stored consent not remembered: Scopes become
	//     c.Scopes, and Remember true (scopes allowed once earlier are not
	//     remembered with them);
	//   - not c.Remember, stored consent remembered: nothing changes but
	//     UpdatedAt (scopes allowed once are not added to those that skip
	//     the prompt);
	//   - neither remembered: Scopes become the union.
	//
	// Either way it is one atomic step, and c's ID, Scopes (sorted byte by
	// byte, without duplicates), Remember and timestamps are set to the
	// stored values. ErrNotFound if the user or the client is unknown;
	// ErrConflict if c is new and its ID is another consent's.
	SaveConsent(ctx context.Context, c *Consent) error
	// ForgetConsent clears Remember of the consent of a user for a client
	// and resource, so that the next request asks again; it is called when
	// the user denies on a consent page. Scopes stay, and so does
	// everything issued under the consent. Forgetting a consent that does
	// not exist, or is not remembered, does nothing and is not an error.
	ForgetConsent(ctx context.Context, userID, clientID, resource string) error
	// Consent returns the consent of a user for a client and resource.
	Consent(ctx context.Context, userID, clientID, resource string) (*Consent, error)
	// ListConsents returns a user's consents, oldest first (by CreatedAt,
	// then ID).
	ListConsents(ctx context.Context, userID string) ([]*Consent, error)
	// DeleteConsent removes one of a user's consents and revokes every
	// code, refresh token and access token issued under it, atomically:
	// both backends delete them, so looking one up afterwards returns
	// ErrNotFound. ErrNotFound if the user has no such consent, including
	// when the consent is another user's.
	DeleteConsent(ctx context.Context, userID, consentID string) error

	// CreateCode stores an authorization code. ErrConflict if the
	// signature is taken; ErrNotFound if the client, the user or the
	// consent is unknown, or the user is disabled.
	CreateCode(ctx context.Context, c *Code) error
	// Code returns a code, used or not, expired or not: the caller checks
	// ExpiresAt.
	Code(ctx context.Context, signature string) (*Code, error)
	// UseCode marks a code used in one atomic step, so that of concurrent
	// redemptions exactly one succeeds: ErrUsed if it was already used,
	// ErrNotFound if unknown.
	UseCode(ctx context.Context, signature string) error

	// CreateRefreshToken stores a refresh token; errors as for CreateCode.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RefreshToken returns a refresh token, active or not, expired or not.
	RefreshToken(ctx context.Context, signature string) (*RefreshToken, error)
	// DeactivateRefreshToken marks one refresh token inactive in one
	// atomic step (rotation): ErrUsed if it was already inactive,
	// ErrNotFound if unknown.
	DeactivateRefreshToken(ctx context.Context, signature string) error
	// RevokeRefreshTokens marks every refresh token of a request ID
	// inactive. Revoking nothing is not an error.
	RevokeRefreshTokens(ctx context.Context, requestID string) error
}
