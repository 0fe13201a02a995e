package provider

import (
	"github.com/ory/fosite/handler/oauth2"

	"github.com/veil-auth/veil/internal/storage"
)

// AccessTokenStrategy returns the strategy that issues Veil's access
// tokens, so that benchmarks can measure it alone.
func (p *Provider) AccessTokenStrategy() oauth2.AccessTokenStrategy { return accessTokens{p} }

// SetResource records the token's resource in s, as GrantClientCredentials
// does, so that the strategy needs no lookup.
func SetResource(s *Session, r *storage.Resource) { s.resource = r }
