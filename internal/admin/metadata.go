package admin

import (
	"context"
	"errors"
	"slices"

	"github.com/veil-auth/veil/internal/redirect"
	"github.com/veil-auth/veil/internal/storage"
)

// Grant types, authentication methods and scopes with a meaning of their
// own.
const (
	grantCode              = "authorization_code"
	grantClientCredentials = "client_credentials"
	grantRefresh           = "refresh_token"
	methodBasic            = "client_secret_basic"
	methodPost             = "client_secret_post"
	methodNone             = "none"
	scopeOffline           = "offline_access"
)

var (
	grantTypes  = []string{grantCode, grantClientCredentials, grantRefresh}
	authMethods = []string{methodBasic, methodPost, methodNone}
)

// clientRequest is the JSON body of POST and PUT /admin/clients, in the
// member names of RFC 7591 §2. Resources is Veil's own: the identifiers of
// the resource servers the client may obtain tokens for.
type clientRequest struct {
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Resources               []string `json:"resources"`
}

// checkClient checks every rule on req and returns the client it describes,
// without ID, kind or secret. The rules that need no storage run first.
func (h *handler) checkClient(ctx context.Context, req *clientRequest) (*storage.Client, error) {
	// RFC 7591 §2 defaults: authorization_code, and client_secret_basic.
	// An explicitly empty grant_types list is not the same as none given.
	if req.GrantTypes == nil {
		req.GrantTypes = []string{grantCode}
	}
	if req.TokenEndpointAuthMethod == "" {
		req.TokenEndpointAuthMethod = methodBasic
	}

	if !validName(req.ClientName) {
		return nil, invalidMetadata("client_name %s", nameRule)
	}
	if err := req.checkGrants(); err != nil {
		return nil, err
	}
	if err := req.checkRedirectURIs(); err != nil {
		return nil, err
	}
	scopes, err := parseScope(req.Scope)
	if err != nil {
		return nil, err
	}
	if err := checkList("resources", req.Resources); err != nil {
		return nil, err
	}
	for i, ident := range req.Resources {
		// Every registered identifier passed checkIdentifier, so one that
		// is not even printable ASCII names none, and is not worth a
		// lookup (PostgreSQL cannot hold a NUL byte to compare).
		if len(ident) > maxIdentifier || !printableASCII(ident) {
			return nil, invalidMetadata("resources[%d] is not a resource identifier", i)
		}
	}

	if err := h.checkScopes(ctx, req, scopes); err != nil {
		return nil, err
	}
	return &storage.Client{
		Name:                    req.ClientName,
		GrantTypes:              req.GrantTypes,
		RedirectURIs:            nonNil(req.RedirectURIs),
		Scopes:                  scopes,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		Resources:               req.Resources,
	}, nil
}

// checkGrants checks grant_types and token_endpoint_auth_method together.
func (req *clientRequest) checkGrants() error {
	if len(req.GrantTypes) == 0 || len(req.GrantTypes) > len(grantTypes) {
		return invalidMetadata("grant_types must list from 1 to %d grant types", len(grantTypes))
	}
	for i, g := range req.GrantTypes {
		if !slices.Contains(grantTypes, g) {
			return invalidMetadata("grant_types[%d] is not a supported grant type", i)
		}
	}
	if i := firstDuplicate(req.GrantTypes); i >= 0 {
		return invalidMetadata("grant_types[%d] repeats an earlier grant type", i)
	}
	if !slices.Contains(authMethods, req.TokenEndpointAuthMethod) {
		return invalidMetadata("token_endpoint_auth_method is not supported")
	}

	// A public client cannot keep a secret, so it cannot act on its own
	// behalf: client_credentials would hand tokens to anyone who copies
	// its client_id.
	grants := req.GrantTypes
	public := req.TokenEndpointAuthMethod == methodNone
	if public && slices.Contains(grants, grantClientCredentials) {
		return invalidMetadata("a client with token_endpoint_auth_method none " +
			"cannot use client_credentials")
	}
	// Veil issues refresh tokens only from an authorization code.
	if slices.Contains(grants, grantRefresh) && !slices.Contains(grants, grantCode) {
		return invalidMetadata("refresh_token needs the authorization_code grant")
	}
	return nil
}

// checkRedirectURIs checks redirect_uris against the grant types and each
// URI against package redirect.
func (req *clientRequest) checkRedirectURIs() error {
	hasCode := slices.Contains(req.GrantTypes, grantCode)
	switch {
	case hasCode && len(req.RedirectURIs) == 0:
		return invalidRedirect("authorization_code needs at least one redirect URI")
	case !hasCode && len(req.RedirectURIs) > 0:
		return invalidMetadata("redirect_uris are allowed only with the authorization_code grant")
	case len(req.RedirectURIs) > maxItems:
		return invalidRedirect("redirect_uris has more than %d entries", maxItems)
	}

	for i, u := range req.RedirectURIs {
		if err := redirect.Validate(u); err != nil {
			return invalidRedirect("redirect_uris[%d]: %s", i, err.Error())
		}
	}
	if i := firstDuplicate(req.RedirectURIs); i >= 0 {
		return invalidRedirect("redirect_uris[%d] repeats an earlier URI", i)
	}
	return nil
}

// checkList checks a required list of identifiers: from 1 to maxItems
// entries, none empty, none repeated.
func checkList(member string, list []string) error {
	if len(list) == 0 || len(list) > maxItems {
		return invalidMetadata("%s must list from 1 to %d entries", member, maxItems)
	}
	if slices.Contains(list, "") {
		return invalidMetadata("%s has an empty entry", member)
	}
	if i := firstDuplicate(list); i >= 0 {
		return invalidMetadata("%s[%d] repeats an earlier entry", member, i)
	}
	return nil
}

// checkScopes checks that every resource exists and that each scope is
// offered by one of them. offline_access belongs to no resource: it asks
// for a refresh token, so only a client that may use one may have it.
func (h *handler) checkScopes(ctx context.Context, req *clientRequest, scopes []string) error {
	var offered []string
	for i, ident := range req.Resources {
		res, err := h.store.ResourceByIdentifier(ctx, ident)
		if errors.Is(err, storage.ErrNotFound) {
			return invalidMetadata("resources[%d] names no registered resource", i)
		}
		if err != nil {
			return err
		}
		offered = append(offered, res.Scopes...)
	}

	for i, s := range scopes {
		switch {
		case s == scopeOffline && !slices.Contains(req.GrantTypes, grantRefresh):
			return invalidMetadata("scope offline_access needs the refresh_token grant")
		case s != scopeOffline && !slices.Contains(offered, s):
			return invalidMetadata("scope token %d is offered by none of the client's resources", i)
		}
	}
	return nil
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
