package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/token"
)

// accessTokens is the fosite access-token strategy that issues Veil's
// nested tokens. The storage signature of a token is its SHA-256, so records
// are found without decrypting, which matters for tokens that only their
// resource server can decrypt.
type accessTokens struct {
	p *Provider
}

// AccessTokenSignature returns the storage key of a token.
func (a accessTokens) AccessTokenSignature(_ context.Context, tok string) string {
	return token.Signature(tok)
}

// GenerateAccessToken signs and encrypts a token for the granted audience
// and scopes. It records the jti and issue time in the session, where the
// storage adapter picks them up.
func (a accessTokens) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return "", "", errors.New("provider: unexpected session type")
	}

	now := a.p.now().UTC()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(a.p.cfg.AccessTokenLifespan)
	}
	jti := uuid.NewString()
	claims := &token.Claims{
		Issuer:    a.p.cfg.Issuer,
		Subject:   sess.Subject,
		Audience:  token.Audience(req.GetGrantedAudience()),
		ExpiresAt: exp.Unix(),
		IssuedAt:  now.Unix(),
		JTI:       jti,
		ClientID:  req.GetClient().GetID(),
		Scope:     strings.Join(req.GetGrantedScopes(), " "),
	}

	res, err := a.p.audienceResource(ctx, sess, req.GetGrantedAudience())
	if err != nil {
		return "", "", err
	}
	sess.resource = res // recorded with the token, which needs it to exist
	signer, enc, err := a.p.tokenKeys(a.p.keys.Current(), res)
	if err != nil {
		return "", "", err
	}
	tok, err := token.Issue(signer, enc, claims)
	if err != nil {
		return "", "", fmt.Errorf("issue access token: %w", err)
	}
	sess.JTI = jti
	sess.IssuedAt = now
	return tok, token.Signature(tok), nil
}

// ValidateAccessToken checks that a token decrypts, verifies and has not
// expired. Revocation is checked by the caller through storage.
func (a accessTokens) ValidateAccessToken(_ context.Context, _ fosite.Requester, tok string) error {
	c, err := token.Parse(a.p.keys.Current(), tok)
	if err != nil {
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	if c.Issuer != a.p.cfg.Issuer || !c.Valid(a.p.now(), 0) {
		return fosite.ErrTokenExpired
	}
	return nil
}
