package endpoint_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/endpoint"
	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// The benchmarks of this file serve requests through the public handlers,
// as Veil's listener does after its middleware, without a network. Those
// that touch storage run once per backend; the PostgreSQL ones use a fresh
// database from pgtest, so they skip without a server, and fail in CI.

// benchStores opens each storage backend for a benchmark.
var benchStores = []struct {
	name string
	open func(b *testing.B) storage.Store
}{
	{"memory", func(*testing.B) storage.Store { return memory.New() }},
	{"postgres", func(b *testing.B) storage.Store {
		b.Helper()
		store, err := postgres.New(context.Background(), pgtest.Migrated(b))
		if err != nil {
			b.Fatalf("postgres.New() = %v", err)
		}
		b.Cleanup(store.Close)
		return store
	}},
}

const (
	benchIssuer   = "https://veil.example.test"
	benchResource = "https://api.example.test"
	benchRedirect = "https://app.example.test/callback"
	benchSecret   = "bench-secret-0123456789abcdefghijklmnopqrstu"
	// benchVerifier is the PKCE code verifier of every benchmark code.
	benchVerifier = "bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
)

// benchFixture is Veil's public handler over a store holding a resource
// server, a client credentials client, and an authorization code client
// with a user who consented to it.
type benchFixture struct {
	p       *provider.Provider
	store   storage.Store
	handler http.Handler
	// user and consent are what the authorization codes are issued under.
	user, consent string
}

func newBenchFixture(b *testing.B, store storage.Store) *benchFixture {
	b.Helper()
	ctx := context.Background()
	sealer, err := keys.NewSealer([][]byte{bytes.Repeat([]byte{7}, keys.MasterKeySize)})
	if err != nil {
		b.Fatal(err)
	}
	// Veil's default algorithms, so that the JWKS holds what it holds in
	// production.
	policy := keys.Policy{Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.RS256}}
	km := keys.NewManager(store, sealer, policy, nil, nil)
	if err := km.Init(ctx); err != nil {
		b.Fatalf("Init() = %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := provider.New(provider.Config{Issuer: benchIssuer, Logger: log}, store, km)
	if err != nil {
		b.Fatalf("provider.New() = %v", err)
	}
	h, err := endpoint.New(endpoint.Config{Provider: p, Keys: km, Logger: log})
	if err != nil {
		b.Fatalf("endpoint.New() = %v", err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	f := &benchFixture{p: p, store: store, handler: mux}
	f.register(b)
	return f
}

// register stores the resource, the clients, the user and the consent.
func (f *benchFixture) register(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	hash, _ := f.p.Hasher().Hash(ctx, []byte(benchSecret))
	res := &storage.Resource{ID: "bench-resource", Identifier: benchResource, Name: "Bench API",
		Scopes: []string{"read", "write"}}
	rs := &storage.Client{ID: "bench-rs", Kind: storage.KindResource, Name: "Bench API",
		SecretHash: hash, TokenEndpointAuthMethod: provider.AuthBasic}
	if err := f.store.CreateResource(ctx, res, rs); err != nil {
		b.Fatalf("CreateResource() = %v", err)
	}
	for _, c := range []*storage.Client{
		{ID: "bench-cc", GrantTypes: []string{"client_credentials"}},
		{ID: "bench-web", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{benchRedirect}},
	} {
		c.Kind, c.Name, c.SecretHash = storage.KindClient, c.ID, hash
		c.Scopes, c.Resources = []string{"read"}, []string{benchResource}
		c.TokenEndpointAuthMethod = provider.AuthBasic
		if err := f.store.CreateClient(ctx, c); err != nil {
			b.Fatalf("CreateClient(%s) = %v", c.ID, err)
		}
	}

	u := &storage.User{ID: "bench-user", Username: "bench", PasswordHash: "unused"}
	if err := f.store.CreateUser(ctx, u); err != nil {
		b.Fatalf("CreateUser() = %v", err)
	}
	c := &storage.Consent{UserID: u.ID, ClientID: "bench-web", Resource: benchResource,
		Scopes: []string{"read"}, Remember: true}
	if err := f.store.SaveConsent(ctx, c); err != nil {
		b.Fatalf("SaveConsent() = %v", err)
	}
	f.user, f.consent = u.ID, c.ID
}

// post serves a form request authenticated as client with
// client_secret_basic, and fails unless it is answered 200.
func (f *benchFixture) post(b *testing.B, path, client string, form url.Values) *httptest.ResponseRecorder {
	b.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(client, benchSecret)
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("POST %s = %d %s, want 200", path, w.Code, w.Body)
	}
	return w
}

// codes issues n authorization codes as the consent page does once a user
// allowed the request, each with the PKCE challenge of benchVerifier.
func (f *benchFixture) codes(b *testing.B, n int) []string {
	b.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(benchVerifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {"bench-web"}, "redirect_uri": {benchRedirect},
		"scope": {"read"}, "resource": {benchResource}, "state": {"bench-state"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	out := make([]string, 0, n)
	for range n {
		r := httptest.NewRequest(http.MethodGet, "/oauth2/authorize?"+q.Encode(), nil)
		a, err := f.p.Authorization(ctx, r)
		if err != nil {
			b.Fatalf("Authorization() = %v", err)
		}
		uri, err := f.p.Approve(ctx, a, f.user, f.consent)
		if err != nil {
			b.Fatalf("Approve() = %v", err)
		}
		u, err := url.Parse(uri)
		if err != nil || u.Query().Get("code") == "" {
			b.Fatalf("Approve() = %q, want a redirect with a code", uri)
		}
		out = append(out, u.Query().Get("code"))
	}
	return out
}

// accessToken reads the access token of a token response.
func accessToken(b *testing.B, w *httptest.ResponseRecorder) string {
	b.Helper()
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.AccessToken == "" {
		b.Fatalf("token response %s holds no access token: %v", w.Body, err)
	}
	return resp.AccessToken
}

// BenchmarkCodeExchange is the token endpoint redeeming an authorization
// code with its PKCE verifier: client authentication, the code and its
// stored request loaded, the code marked used, the token issued and
// recorded in one transaction. Codes are issued in batches with the timer
// stopped.
func BenchmarkCodeExchange(b *testing.B) {
	const batch = 256
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newBenchFixture(b, st.open(b))
			form := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {benchRedirect},
				"code_verifier": {benchVerifier}}
			var codes []string
			b.ReportAllocs()
			for b.Loop() {
				if len(codes) == 0 {
					b.StopTimer()
					codes = f.codes(b, batch)
					b.StartTimer()
				}
				form.Set("code", codes[0])
				codes = codes[1:]
				accessToken(b, f.post(b, endpoint.PathToken, "bench-web", form))
			}
		})
	}
}

// BenchmarkClientCredentials is the token endpoint answering a client
// credentials request: what the load driver's client_credentials mode
// sends, without the network.
func BenchmarkClientCredentials(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newBenchFixture(b, st.open(b))
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			b.ReportAllocs()
			for b.Loop() {
				accessToken(b, f.post(b, endpoint.PathToken, "bench-cc", form))
			}
		})
	}
}

// BenchmarkIntrospection is the introspection endpoint answering a
// resource server about an active token: its authentication and the
// provider's introspection, without the network.
func BenchmarkIntrospection(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newBenchFixture(b, st.open(b))
			tok := accessToken(b, f.post(b, endpoint.PathToken, "bench-cc",
				url.Values{"grant_type": {"client_credentials"}}))
			form := url.Values{"token": {tok}}
			b.ReportAllocs()
			for b.Loop() {
				w := f.post(b, endpoint.PathIntrospect, "bench-rs", form)
				if !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"active":true`)) {
					b.Fatalf("introspection = %s, want active", w.Body)
				}
			}
		})
	}
}

// BenchmarkJWKS is the JWKS endpoint, which serves bytes serialised when
// the key set was loaded.
func BenchmarkJWKS(b *testing.B) {
	f := newBenchFixture(b, memory.New())
	r := httptest.NewRequest(http.MethodGet, endpoint.PathJWKS, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			b.Fatalf("GET %s = %d, want 200 with the key set", endpoint.PathJWKS, w.Code)
		}
	}
}
