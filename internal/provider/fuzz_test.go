package provider_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// The seed corpus lives in testdata/fuzz/FuzzAuthenticateClient. Its
// seeds use the fixed IDs and secrets below, so that the fuzzer starts from
// requests that authenticate and mutates them.

// authFixture is a stored client with a secret known to the test.
type authFixture struct {
	id, secret, method string
	kind               storage.ClientKind
}

// authFixtures are the clients FuzzAuthenticateClient authenticates
// against: one per method, and a resource server's introspection
// credentials.
var authFixtures = []authFixture{
	{"basic-client", "basic-secret-0123456789abcdefghijklmnopqrstuv",
		provider.AuthBasic, storage.KindClient},
	{"post-client", "post-secret-0123456789abcdefghijklmnopqrstuvw",
		provider.AuthPost, storage.KindClient},
	{"public-client", "", provider.AuthNone, storage.KindClient},
	{"rs-credentials", "rs-secret-0123456789abcdefghijklmnopqrstuvwxy",
		provider.AuthBasic, storage.KindResource},
}

// newAuthProvider returns a Provider over a memory store holding
// authFixtures, and the buffer its log goes to.
func newAuthProvider(tb testing.TB) (*provider.Provider, *bytes.Buffer) {
	tb.Helper()
	ctx := context.Background()
	store := memory.New()
	sealer, err := keys.NewSealer([][]byte{bytes.Repeat([]byte{9}, keys.MasterKeySize)})
	if err != nil {
		tb.Fatal(err)
	}
	policy := keys.Policy{Algorithms: []jose.SignatureAlgorithm{jose.ES256}}
	km := keys.NewManager(store, sealer, policy, nil, nil)
	if err := km.Init(ctx); err != nil {
		tb.Fatalf("Init() = %v", err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := provider.Config{Issuer: "https://veil.example.test", Logger: log}
	p, err := provider.New(cfg, store, km)
	if err != nil {
		tb.Fatalf("provider.New() = %v", err)
	}
	for _, fx := range authFixtures {
		c := &storage.Client{
			ID: fx.id, Kind: fx.kind, Name: fx.id, TokenEndpointAuthMethod: fx.method,
		}
		if fx.secret != "" {
			c.SecretHash, _ = p.Hasher().Hash(ctx, []byte(fx.secret))
		}
		if fx.kind == storage.KindClient {
			c.GrantTypes = []string{"client_credentials"}
		}
		if err := store.CreateClient(ctx, c); err != nil {
			tb.Fatalf("CreateClient(%s) = %v", fx.id, err)
		}
	}
	return p, logs
}

// FuzzAuthenticateClient sends arbitrary Authorization headers and form
// bodies through client authentication (RFC 6749 §2.3). A client is
// authenticated only by the method it registered and with its own secret;
// every refusal is invalid_client or invalid_request, never a server
// error; and no secret, right or wrong, reaches the log.
func FuzzAuthenticateClient(f *testing.F) {
	p, logs := newAuthProvider(f)
	f.Fuzz(func(t *testing.T, authorization, body string) {
		logs.Reset()
		form, err := url.ParseQuery(body)
		if err != nil {
			// The endpoints refuse a malformed body before they
			// authenticate anyone.
			return
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}

		c, err := p.AuthenticateClient(context.Background(), r, form)
		if err != nil {
			code, status, desc := provider.Describe(err)
			if !(code == "invalid_client" && status == http.StatusUnauthorized) &&
				!(code == "invalid_request" && status == http.StatusBadRequest) {
				t.Fatalf("AuthenticateClient(%q, %q) = %s %d (%v), "+
					"want invalid_client 401 or invalid_request 400",
					authorization, body, code, status, err)
			}
			if s := echoed(desc, append(form["client_id"], authorization)); s != "" {
				t.Fatalf("error description %q repeats the input %q", desc, s)
			}
		} else {
			checkAuthenticated(t, r, form, c.GetID())
		}

		secrets := append(form["client_secret"], authorization)
		if _, pw, ok := r.BasicAuth(); ok {
			secrets = append(secrets, pw)
		}
		for _, fx := range authFixtures {
			secrets = append(secrets, fx.secret)
		}
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(logs.String(), s) {
				t.Fatalf("log holds the secret %q:\n%s", s, logs)
			}
		}
	})
}

// checkAuthenticated fails unless the request that authenticated as id
// carried that client's own secret by its registered method, and nothing
// else: a client that authenticates in the form sent no Authorization
// header at all.
func checkAuthenticated(t *testing.T, r *http.Request, form url.Values, id string) {
	t.Helper()
	var fx *authFixture
	for i := range authFixtures {
		if authFixtures[i].id == id {
			fx = &authFixtures[i]
		}
	}
	if fx == nil {
		t.Fatalf("AuthenticateClient() = %q, a client that does not exist", id)
	}

	user, pw, basic := r.BasicAuth()
	user, err1 := url.QueryUnescape(user)
	pw, err2 := url.QueryUnescape(pw)
	header := len(r.Header.Values("Authorization")) > 0
	switch fx.method {
	case provider.AuthBasic:
		if !basic || err1 != nil || err2 != nil || user != fx.id || pw != fx.secret ||
			form.Has("client_secret") {
			t.Fatalf("%s authenticated without its secret in Basic (header %q, form %v)",
				id, r.Header.Get("Authorization"), form)
		}
	case provider.AuthPost:
		if header || len(form["client_secret"]) != 1 || form.Get("client_secret") != fx.secret ||
			len(form["client_id"]) != 1 {
			t.Fatalf("%s authenticated without its secret in the form (header %q, form %v)",
				id, r.Header.Get("Authorization"), form)
		}
	case provider.AuthNone:
		if header || form.Has("client_secret") || len(form["client_id"]) != 1 {
			t.Fatalf("public client %s authenticated with credentials (header %q, form %v)",
				id, r.Header.Get("Authorization"), form)
		}
	}
}

// echoed returns the first input of at least 8 bytes that s repeats, or
// "". Only inputs with a byte that Veil's fixed descriptions never use
// count: any other may be made of words and parameter names a description
// holds, and an echo of input shows itself with those bytes too.
func echoed(s string, inputs []string) string {
	const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:=()_-"
	for _, in := range inputs {
		if len(in) >= 8 && strings.Trim(in, plain) != "" && strings.Contains(s, in) {
			return in
		}
	}
	return ""
}
