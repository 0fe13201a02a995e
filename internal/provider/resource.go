package provider

import (
	"context"
	"errors"
	"slices"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

// GrantClientCredentials decides the audience and scopes of a client
// credentials request that fosite has authenticated and checked, and grants
// them. The subject of such a token is the client itself (RFC 9068 §2.2).
func (p *Provider) GrantClientCredentials(ctx context.Context, ar fosite.AccessRequester) error {
	c, ok := ar.GetClient().(Client)
	if !ok {
		return errors.New("provider: unexpected client type")
	}
	res, err := p.resolveResource(ctx, c, ar.GetRequestForm()["resource"])
	if err != nil {
		return err
	}
	scopes, err := grantableScopes(c, res, ar.GetRequestedScopes())
	if err != nil {
		return err
	}

	for _, s := range scopes {
		ar.GrantScope(s)
	}
	ar.GrantAudience(res.Identifier)
	ar.GetSession().(*Session).Subject = c.ID
	return nil
}

// resolveResource picks the resource server a token is for, from the RFC
// 8707 resource parameter. Without one, a client allowed exactly one
// resource gets that one. A token has exactly one audience, because it is
// encrypted for one reader.
func (p *Provider) resolveResource(ctx context.Context, c Client, requested []string) (*storage.Resource, error) {
	var identifier string
	switch {
	case len(requested) > 1:
		return nil, errInvalidTarget("Request a token for one resource at a time.")
	case len(requested) == 1:
		identifier = requested[0]
	case len(c.Resources) == 1:
		identifier = c.Resources[0]
	default:
		return nil, errInvalidTarget("The resource parameter is required for this client.")
	}

	if !slices.Contains(c.Resources, identifier) {
		return nil, errInvalidTarget("The resource is unknown or not allowed for this client.")
	}
	res, err := p.store.ResourceByIdentifier(ctx, identifier)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidTarget("The resource is unknown or not allowed for this client.")
	}
	if err != nil {
		return nil, fositeError(err)
	}
	return res, nil
}

// grantableScopes returns the scopes to grant: the requested ones, each of
// which both the client and the resource must allow; or, when none were
// requested, every scope they share (RFC 6749 §3.3 lets the server pick a
// default).
func grantableScopes(c Client, res *storage.Resource, requested []string) ([]string, error) {
	if len(requested) == 0 {
		var shared []string
		for _, s := range c.Scopes {
			if slices.Contains(res.Scopes, s) {
				shared = append(shared, s)
			}
		}
		return shared, nil
	}
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) || !slices.Contains(res.Scopes, s) {
			return nil, errInvalidScope("A requested scope is unknown or not allowed for this client and resource.")
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(requested))), nil
}
