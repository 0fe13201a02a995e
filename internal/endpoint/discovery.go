package endpoint

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// metadata builds the RFC 8414 document once; it never changes while Veil
// runs.
func metadata(issuer string) ([]byte, error) {
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	doc := struct {
		Issuer                   string   `json:"issuer"`
		AuthorizationEndpoint    string   `json:"authorization_endpoint"`
		TokenEndpoint            string   `json:"token_endpoint"`
		JWKSURI                  string   `json:"jwks_uri"`
		IntrospectionEndpoint    string   `json:"introspection_endpoint"`
		RevocationEndpoint       string   `json:"revocation_endpoint"`
		ResponseTypes            []string `json:"response_types_supported"`
		ResponseModes            []string `json:"response_modes_supported"`
		GrantTypes               []string `json:"grant_types_supported"`
		CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
		IssParameter             bool     `json:"authorization_response_iss_parameter_supported"`
		TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
		IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
		RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	}{
		Issuer:                issuer,
		AuthorizationEndpoint: issuer + "/oauth2/authorize",
		TokenEndpoint:         issuer + PathToken,
		JWKSURI:               issuer + PathJWKS,
		IntrospectionEndpoint: issuer + PathIntrospect,
		RevocationEndpoint:    issuer + PathRevoke,
		ResponseTypes:         []string{"code"},
		ResponseModes:         []string{"query"},
		GrantTypes:            []string{"authorization_code", "refresh_token", "client_credentials"},
		// RFC 9700 §2.1.1: plain offers no protection against a code
		// intercepted with its request, so only S256 is accepted.
		CodeChallengeMethods:     []string{"S256"},
		IssParameter:             true,
		TokenAuthMethods:         append(authMethods, "none"),
		IntrospectionAuthMethods: authMethods,
		RevocationAuthMethods:    append(authMethods, "none"),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return b, nil
}

func (h *Handler) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(h.metadata)
}

// jwks serves the public signing keys from bytes serialised when the key
// set was loaded.
func (h *Handler) jwks(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/jwk-set+json")
	hdr.Set("Cache-Control", h.jwksMaxAge)
	_, _ = w.Write(h.keys.Current().JWKS())
}
