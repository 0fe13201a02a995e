package provider

import (
	"slices"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

// Client adapts a stored client to fosite.Client.
type Client struct {
	*storage.Client
}

var _ fosite.Client = Client{}

// GetID returns the client_id.
func (c Client) GetID() string { return c.ID }

// GetHashedSecret returns the keyed hash of the client secret.
func (c Client) GetHashedSecret() []byte { return c.SecretHash }

// GetRedirectURIs returns the registered redirect URIs.
func (c Client) GetRedirectURIs() []string { return c.RedirectURIs }

// GetGrantTypes returns the grant types the client may use.
func (c Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }

// GetResponseTypes returns "code" for clients allowed the authorization code
// grant, and nothing otherwise: Veil supports no other response type.
func (c Client) GetResponseTypes() fosite.Arguments {
	if slices.Contains(c.GrantTypes, "authorization_code") {
		return fosite.Arguments{"code"}
	}
	return nil
}

// GetScopes returns the scopes the client may ask for.
func (c Client) GetScopes() fosite.Arguments { return c.Scopes }

// IsPublic reports whether the client authenticates with nothing (RFC 6749
// §2.1 public client).
func (c Client) IsPublic() bool { return c.TokenEndpointAuthMethod == AuthNone }

// GetAudience returns the resource identifiers the client may get tokens for.
func (c Client) GetAudience() fosite.Arguments { return c.Resources }
