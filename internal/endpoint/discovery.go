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
		TokenEndpoint            string   `json:"token_endpoint"`
		JWKSURI                  string   `json:"jwks_uri"`
		IntrospectionEndpoint    string   `json:"introspection_endpoint"`
		RevocationEndpoint       string   `json:"revocation_endpoint"`
		ResponseTypes            []string `json:"response_types_supported"`
		GrantTypes               []string `json:"grant_types_supported"`
		TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
		IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
		RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	}{
		Issuer:                   issuer,
		TokenEndpoint:            issuer + PathToken,
		JWKSURI:                  issuer + PathJWKS,
		IntrospectionEndpoint:    issuer + PathIntrospect,
		RevocationEndpoint:       issuer + PathRevoke,
		ResponseTypes:            []string{},
		GrantTypes:               []string{"client_credentials"},
		TokenAuthMethods:         authMethods,
		IntrospectionAuthMethods: authMethods,
		RevocationAuthMethods:    authMethods,
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
