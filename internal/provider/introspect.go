package provider

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/token"
)

// Introspection is an RFC 7662 answer. The zero value is the inactive
// answer, {"active": false}, which is all a caller learns about a token it
// may not see.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
}

// Introspect answers whether tok is an active access token that caller may
// see. A resource server sees only tokens whose audience includes its
// identifier; a client sees only tokens issued to it (RFC 7662 §4 leaves
// this to the server, and answering inactive keeps a resource server from
// learning about other servers' tokens).
//
// The record is found by the token's hash, which works for every token Veil
// issued, even one encrypted to a resource server's key. When Veil can
// decrypt the token it also verifies it, so a record that somehow matched a
// token Veil did not sign still answers inactive.
//
// It returns an error only when the answer cannot be known (storage down);
// the caller must then not answer active.
func (p *Provider) Introspect(ctx context.Context, caller fosite.Client, tok string) (Introspection, error) {
	if !token.LooksLikeJWE(tok) {
		return Introspection{}, nil
	}
	sig := token.Signature(tok)
	rec, err := p.store.AccessToken(ctx, sig)
	if errors.Is(err, storage.ErrNotFound) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, fositeError(err)
	}
	now := p.now()
	if rec.Revoked || !now.Before(rec.ExpiresAt) {
		return Introspection{}, nil
	}

	visible, err := p.mayIntrospect(ctx, caller, rec)
	if err != nil || !visible {
		return Introspection{}, err
	}
	if !p.verifiesAs(tok, sig, rec) {
		return Introspection{}, nil
	}
	return Introspection{
		Active:    true,
		Scope:     strings.Join(rec.Scopes, " "),
		ClientID:  rec.ClientID,
		Subject:   rec.Subject,
		Audience:  rec.Audience,
		Issuer:    p.cfg.Issuer,
		ExpiresAt: rec.ExpiresAt.Unix(),
		IssuedAt:  rec.IssuedAt.Unix(),
		JTI:       rec.JTI,
		TokenType: "Bearer",
	}, nil
}

// mayIntrospect reports whether caller may learn about the token.
func (p *Provider) mayIntrospect(ctx context.Context, caller fosite.Client, rec *storage.AccessToken) (bool, error) {
	c, ok := caller.(Client)
	if !ok {
		return false, nil
	}
	switch c.Kind {
	case storage.KindClient:
		return rec.ClientID == c.ID, nil
	case storage.KindResource:
		res, err := p.resourceByClient(ctx, c.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fositeError(err)
		}
		return slices.Contains(rec.Audience, res.Identifier), nil
	}
	return false, nil
}

// verifiesAs checks a token against its record. When the token was
// encrypted to Veil's own key, Veil decrypts and verifies it, so a record
// that somehow matched a token Veil did not sign still answers inactive.
// A token encrypted to a resource server's key cannot be decrypted here;
// for it the record, found by the token's SHA-256, is the proof: only the
// holder of the exact token string Veil issued can present that hash.
//
// Resource servers introspect the same token again and again, and
// decrypting and verifying it is most of the work of an introspection; so
// a token string that passed is remembered, by its SHA-256 sig, until it
// expires. Nothing can make it fail later: the keys that verified it stay
// published until long after (keys.MaxRetain).
func (p *Provider) verifiesAs(tok, sig string, rec *storage.AccessToken) bool {
	now := p.now()
	if p.verified.has(sig, rec.JTI, now) {
		return true
	}
	claims, ours, err := token.ParseOwn(p.keys.Current(), tok)
	switch {
	case !ours:
	case err != nil:
		p.log().Warn("stored access token failed verification", "jti", rec.JTI)
		return false
	case claims.JTI != rec.JTI || claims.Issuer != p.cfg.Issuer:
		return false
	}
	p.verified.add(sig, rec.JTI, rec.ExpiresAt, now)
	return true
}

// verifiedLimit bounds the token strings a Provider remembers as verified:
// about 10 MB. Past it, the expired ones are forgotten, and if that is not
// enough, all of them.
const verifiedLimit = 1 << 16

// verifiedTokens remembers the token strings that passed verifiesAs, by
// their SHA-256, with the jti of their record and their expiry.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	jti     string
	expires time.Time
}

func (v *verifiedTokens) has(sig, jti string, now time.Time) bool {
	v.mu.Lock()
	e, ok := v.m[sig]
	v.mu.Unlock()
	return ok && e.jti == jti && now.Before(e.expires)
}

func (v *verifiedTokens) add(sig, jti string, expires, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]verifiedToken)
	}
	if len(v.m) >= verifiedLimit {
		for k, e := range v.m {
			if !now.Before(e.expires) {
				delete(v.m, k)
			}
		}
		if len(v.m) >= verifiedLimit {
			clear(v.m)
		}
	}
	v.m[sig] = verifiedToken{jti: jti, expires: expires}
}

func (p *Provider) log() *slog.Logger { return p.logger }
