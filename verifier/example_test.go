package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

// exampleVeil starts a stand-in for Veil and returns it, the API's private
// key, and a token Veil issued for the API, encrypted to that key.
func exampleVeil() (*fakeVeil, jose.JSONWebKey, string) {
	veil := startFakeVeil(jose.ES256)
	key := newEncryptionKey("ec")
	claims := veil.claims("https://api.example.test", "read write")
	claims["iat"], claims["exp"] = time.Now().Unix(), time.Now().Add(15*time.Minute).Unix()
	return veil, key, veil.token(key, claims)
}

// A resource server that registered an encryption key with Veil checks
// tokens locally: it decrypts them with its key and verifies Veil's
// signature against the JWKS, which it fetches once and caches.
func ExampleVerifier_Verify() {
	veil, key, tok := exampleVeil()
	defer veil.Close()

	v, err := verifier.New(verifier.Config{
		Issuer:         veil.URL, // in production: https://veil.example.com
		Audience:       "https://api.example.test",
		DecryptionKeys: []jose.JSONWebKey{key},
	})
	if err != nil {
		log.Fatal(err)
	}

	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println(claims.Subject, claims.Scopes)
	// Output: user-1 [read write]
}

// Middleware guards handlers; the claims of the token are in the request's
// context. A resource server without a key uses introspection: it gives
// the credentials Veil returned when it was registered.
func ExampleMiddleware() {
	v, err := verifier.New(verifier.Config{
		Issuer:       "https://veil.example.com",
		Audience:     "https://api.example.com",
		ClientID:     "RS_ID",
		ClientSecret: "RS_SECRET",
	})
	if err != nil {
		log.Fatal(err)
	}

	invoices := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verifier.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "invoices of %s\n", claims.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /invoices", verifier.Middleware(v, "read")(invoices))

	// A request without a token is turned away before the handler runs.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/invoices", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="https://api.example.com"
}

// A handler can ask for more scopes than its middleware did, for instance
// per method.
func ExampleClaims_RequireScopes() {
	claims := &verifier.Claims{Subject: "user-1", Scopes: []string{"read"}}

	err := claims.RequireScopes("read", "write")
	var scopeErr *verifier.ScopeError
	if errors.As(err, &scopeErr) {
		fmt.Println("missing:", scopeErr.Missing)
	}
	// Output: missing: [write]
}

// ParsePrivateKeys reads the resource server's key file; PublicJWKS gives
// the public half to register at Veil, with the same kid.
func ExampleParsePrivateKeys() {
	pemData, err := os.ReadFile("testdata/test-only-resource-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := verifier.ParsePrivateKeys(pemData)
	if err != nil {
		log.Fatal(err)
	}
	public, err := verifier.PublicJWKS(keys)
	if err != nil {
		log.Fatal(err)
	}

	k := public.Keys[0]
	fmt.Println(k.Algorithm, k.Use, k.IsPublic(), k.KeyID == keys[0].KeyID)
	// Output: ECDH-ES+A256KW enc true true
}
