package provider

import (
	"context"
	"errors"
	"slices"
	"strings"

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
	scopes, err := grantableScopes(c, res, ar.GetRequestedScopes(), false)
	if err != nil {
		return err
	}

	for _, s := range scopes {
		ar.GrantScope(s)
	}
	ar.GrantAudience(res.Identifier)
	sess := ar.GetSession().(*Session)
	sess.Subject = c.ID
	sess.resource = res
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
	res, err := p.resourceByIdentifier(ctx, identifier)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidTarget("The resource is unknown or not allowed for this client.")
	}
	if err != nil {
		return nil, fositeError(err)
	}
	return res, nil
}

// OfflineAccess is the scope that asks for a refresh token. It belongs to
// Veil, not to any resource, and only the authorization code grant of a
// client registered for refresh tokens may ask for it.
const OfflineAccess = "offline_access"

// grantableScopes returns the scopes to grant: the requested ones, each of
// which both the client and the resource must allow (offline_access aside,
// when allowed); or, when none were requested, every scope they share (RFC
// 6749 §3.3 lets the server pick a default).
func grantableScopes(c Client, res *storage.Resource, requested []string, allowOffline bool) ([]string, error) {
	if len(requested) == 0 {
		var shared []string
		for _, s := range c.Scopes {
			if slices.Contains(res.Scopes, s) {
				shared = append(shared, s)
			}
		}
		return shared, nil
	}
	offline := allowOffline && slices.Contains(c.GrantTypes, "refresh_token")
	for _, s := range requested {
		if s == OfflineAccess && offline && slices.Contains(c.Scopes, s) {
			continue
		}
		if !slices.Contains(c.Scopes, s) || !slices.Contains(res.Scopes, s) {
			return nil, errInvalidScope("A requested scope is unknown or not allowed for this client and resource.")
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(requested))), nil
}

// Grant completes what fosite leaves to the application after it has
// checked a token request: the audience and scopes of a client credentials
// token, and the scope of a refresh (RFC 6749 §6: it may narrow, never
// widen, the original grant). The authorization code grant needs nothing:
// fosite grants what was stored with the code.
func (p *Provider) Grant(ctx context.Context, ar fosite.AccessRequester) error {
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		return p.GrantClientCredentials(ctx, ar)
	}
	// RFC 8707 §2.2: a resource named at the token endpoint must be one
	// the grant covers; Veil's tokens have the grant's one audience.
	for _, r := range ar.GetRequestForm()["resource"] {
		if !slices.Contains(ar.GetGrantedAudience(), r) {
			return errInvalidTarget("The resource is not covered by this grant.")
		}
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		return narrowRefresh(ar)
	}
	return nil
}

// narrowRefresh applies the scope parameter of a refresh request.
func narrowRefresh(ar fosite.AccessRequester) error {
	requested := strings.Fields(ar.GetRequestForm().Get("scope"))
	if len(requested) == 0 {
		return nil
	}
	granted := ar.GetGrantedScopes()
	if !Covers(granted, requested) {
		return errInvalidScope("A refresh cannot add scopes that were not granted originally.")
	}
	req, ok := ar.(*fosite.AccessRequest)
	if !ok {
		return errors.New("provider: unexpected access request type")
	}
	// offline_access stays: it is what lets the new refresh token refresh.
	if slices.Contains(granted, OfflineAccess) && !slices.Contains(requested, OfflineAccess) {
		requested = append(requested, OfflineAccess)
	}
	req.GrantedScope = slices.Compact(slices.Sorted(slices.Values(requested)))
	return nil
}
