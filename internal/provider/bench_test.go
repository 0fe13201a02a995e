package provider_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// The benchmarks of this file measure the provider's share of the token and
// introspection paths, without HTTP; package endpoint has the handlers'.
// Those that touch storage run once per backend. The PostgreSQL ones use a
// fresh database from pgtest, so they skip without a server, and fail in
// CI.

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

// benchFixture is a Provider over a store that holds what a client
// credentials deployment holds: a resource server and a client allowed
// tokens for it.
type benchFixture struct {
	p        *provider.Provider
	store    storage.Store
	resource *storage.Resource
	rs       provider.Client // the resource's introspection credentials
	client   provider.Client
	secret   string // the client's
}

// benchIssuer is the issuer of every benchmark token.
const benchIssuer = "https://veil.example.test"

func newBenchFixture(b *testing.B, store storage.Store, algs ...jose.SignatureAlgorithm) *benchFixture {
	b.Helper()
	ctx := context.Background()
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.ES256}
	}
	sealer, err := keys.NewSealer([][]byte{bytes.Repeat([]byte{7}, keys.MasterKeySize)})
	if err != nil {
		b.Fatal(err)
	}
	km := keys.NewManager(store, sealer, keys.Policy{Algorithms: algs}, nil, nil)
	if err := km.Init(ctx); err != nil {
		b.Fatalf("Init() = %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := provider.New(provider.Config{Issuer: benchIssuer, Logger: log}, store, km)
	if err != nil {
		b.Fatalf("provider.New() = %v", err)
	}

	f := &benchFixture{p: p, store: store, secret: "bench-secret-0123456789abcdefghijklmnopqrstu"}
	f.resource = &storage.Resource{ID: "bench-resource", Identifier: "https://api.example.test",
		Name: "Bench API", Scopes: []string{"read", "write"}}
	rsHash, _ := p.Hasher().Hash(ctx, []byte("rs-"+f.secret))
	rs := &storage.Client{ID: "bench-rs", Kind: storage.KindResource, Name: "Bench API",
		SecretHash: rsHash, TokenEndpointAuthMethod: provider.AuthBasic}
	if err := store.CreateResource(ctx, f.resource, rs); err != nil {
		b.Fatalf("CreateResource() = %v", err)
	}
	f.rs = provider.Client{Client: rs}

	hash, _ := p.Hasher().Hash(ctx, []byte(f.secret))
	c := &storage.Client{ID: "bench-client", Kind: storage.KindClient, Name: "Bench client",
		SecretHash: hash, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		TokenEndpointAuthMethod: provider.AuthBasic, Resources: []string{f.resource.Identifier}}
	if err := store.CreateClient(ctx, c); err != nil {
		b.Fatalf("CreateClient() = %v", err)
	}
	f.client = provider.Client{Client: c}
	return f
}

// tokenRequest is a client credentials request of the fixture's client,
// authenticated with client_secret_basic.
func (f *benchFixture) tokenRequest() *http.Request {
	body := "grant_type=client_credentials&scope=read"
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(f.client.ID, f.secret)
	return r
}

// issue gets a token through the provider, as the token endpoint does.
func (f *benchFixture) issue(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	fo := f.p.Fosite()
	ar, err := fo.NewAccessRequest(ctx, f.tokenRequest(), provider.NewSession())
	if err != nil {
		b.Fatalf("NewAccessRequest() = %v", err)
	}
	if err := f.p.Grant(ctx, ar); err != nil {
		b.Fatalf("Grant() = %v", err)
	}
	resp, err := fo.NewAccessResponse(ctx, ar)
	if err != nil {
		b.Fatalf("NewAccessResponse() = %v", err)
	}
	return resp.GetAccessToken()
}

// BenchmarkAccessTokenStrategy is the access-token strategy alone, for a
// client credentials grant whose resource is already resolved: claims,
// signature, encryption and the storage signature, without any storage
// call. Sub-benchmarks vary what the resource asked for.
func BenchmarkAccessTokenStrategy(b *testing.B) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	ecJWK, err := json.Marshal(jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "rs-ec", Use: "enc"})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(*storage.Resource)
	}{
		{"ES256+A256KW", func(*storage.Resource) {}},
		{"RS256+A256KW", func(r *storage.Resource) { r.SigningAlgorithm = "RS256" }},
		{"ES256+ECDH-ES", func(r *storage.Resource) {
			r.EncryptionKeys = []storage.ResourceKey{{JWK: ecJWK, AddedAt: time.Now()}}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			f := newBenchFixture(b, memory.New(), jose.ES256, jose.RS256)
			res := *f.resource
			tc.edit(&res)

			req := fosite.NewAccessRequest(provider.NewSession())
			req.Client = f.client
			req.GrantScope("read")
			req.GrantAudience(res.Identifier)
			sess := req.GetSession().(*provider.Session)
			sess.Subject = f.client.ID
			provider.SetResource(sess, &res)

			strategy := f.p.AccessTokenStrategy()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				tok, sig, err := strategy.GenerateAccessToken(ctx, req)
				if err != nil || tok == "" || sig == "" {
					b.Fatalf("GenerateAccessToken() = %q, %q, %v", tok, sig, err)
				}
			}
		})
	}
}

// BenchmarkIntrospect is the provider's whole introspection of an active
// token for its resource server: the record found by the token's hash,
// the caller's resource looked up, the JWE decrypted and the JWS
// verified. Client authentication is not included (see
// BenchmarkAuthenticateClient).
func BenchmarkIntrospect(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newBenchFixture(b, st.open(b))
			tok := f.issue(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				got, err := f.p.Introspect(ctx, f.rs, tok)
				if err != nil || !got.Active {
					b.Fatalf("Introspect() = %+v, %v, want active", got, err)
				}
			}
		})
	}
}

// BenchmarkAuthenticateClient is client_secret_basic authentication as
// the token, introspection and revocation endpoints run it: the client
// loaded from storage and its secret's HMAC compared.
func BenchmarkAuthenticateClient(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newBenchFixture(b, st.open(b))
			r := f.tokenRequest()
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := f.p.AuthenticateClient(ctx, r, form)
				if err != nil || c.GetID() != f.client.ID {
					b.Fatalf("AuthenticateClient() = %v, %v, want %s", c, err, f.client.ID)
				}
			}
		})
	}
}
