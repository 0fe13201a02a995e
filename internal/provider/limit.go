package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/ratelimit"
)

// ErrorRateLimited is the error code of a token request refused by a rate
// limit. RFC 6749 §5.2 defines no code for it, and the one that comes
// closest, temporarily_unavailable, is defined for the authorization
// endpoint only and tells a client the server is down, which may send it
// to another server or page an operator. slow_down is an extension code
// registered for token endpoint responses (RFC 8628 §3.5, through the
// registry of RFC 6749 §8.5 and §11.4), and says exactly this: the client
// asks too often and must wait before asking again. Veil serves no device
// authorization grant, so no client can take it for that grant's "still
// pending". The 429 status and Retry-After carry the rest (RFC 6585 §4).
const ErrorRateLimited = "slow_down"

// tokenRequestKey marks the context of a token request: the only one
// whose client authentication is rate limited (see limitedAuthentication).
type tokenRequestKey struct{}

// NewAccessRequest reads and checks a token request through fosite, with
// the token endpoint's rate limits applied as the client authenticates.
func (p *Provider) NewAccessRequest(ctx context.Context, r *http.Request) (fosite.AccessRequester, error) {
	ctx = context.WithValue(ctx, tokenRequestKey{}, true)
	return p.fosite.NewAccessRequest(ctx, r, NewSession())
}

// limitedAuthentication is the client authentication fosite runs. For a
// token request it applies two rate limits around AuthenticateClient;
// revocation goes through here too, unlimited.
//
// A client is charged only once it has authenticated, so a request that
// merely names a client cannot spend its budget. A public client has no
// credential to prove it, so its budget is kept per client and address:
// otherwise anyone could exhaust it for all its users. Failed
// authentications, which prove nothing about who sent them, are charged
// to the address they came from instead, and an address past its budget
// is refused before any credential is looked at.
//
// Both checks come before fosite's grant handlers run, so a refused
// request changes nothing stored: no token is issued, and no code or
// refresh token is consumed or revoked.
func (p *Provider) limitedAuthentication(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if ctx.Value(tokenRequestKey{}) == nil {
		return p.AuthenticateClient(ctx, r, form)
	}
	addr := ratelimit.AddressKey(clientip.FromRequest(r))
	if wait, ok := p.authFailures.Check(addr); !ok {
		return nil, errRateLimited(wait, errTooManyFailures)
	}

	c, err := p.AuthenticateClient(ctx, r, form)
	if errors.Is(err, fosite.ErrInvalidClient) {
		p.authFailures.Spend(addr)
	}
	if err != nil {
		return nil, err
	}

	key := c.GetID()
	if c.IsPublic() {
		key += " " + addr
	}
	if wait, ok := p.clientTokens.Allow(key); !ok {
		return nil, errRateLimited(wait, errTooManyRequests)
	}
	return c, nil
}

var (
	errTooManyFailures = errors.New("too many failed client authentications from this address")
	errTooManyRequests = errors.New("client over its token request rate")
)

// errRateLimited answers a request refused by a rate limit; the client
// may ask again after wait.
func errRateLimited(wait time.Duration, cause error) *Error {
	return &Error{
		Code:        ErrorRateLimited,
		Status:      http.StatusTooManyRequests,
		Description: "Too many requests. Try again after the delay given in Retry-After.",
		Cause:       cause,
		RetryAfter:  wait,
	}
}
