package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/token/tokentest"
)

// leakMarkers must never appear in an error answer: they would mean debug
// text, SQL or a stack reached the client.
var leakMarkers = []string{"SQL", "sql", "pgx", "postgres", "goroutine", ".go:", "panic", "debug", "SELECT", "INSERT"}

func assertNoLeak(t *testing.T, r response, inputs ...string) {
	t.Helper()
	body := string(r.body)
	for _, m := range leakMarkers {
		if strings.Contains(body, m) {
			t.Errorf("error body %q contains %q", body, m)
		}
	}
	for _, in := range inputs {
		if in != "" && strings.Contains(body, in) {
			t.Errorf("error body %q echoes the input %q", body, in)
		}
	}
}

// TestForgedTokensAreInactive runs cases 16–20 at the introspection and
// revocation endpoints: every hostile token is {"active": false} for every
// caller, and revoking one changes nothing.
func TestForgedTokensAreInactive(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	c := in.createClient("read", apiA)
	real := in.mustToken(c, apiA)

	claims := tokentest.Claims(in.issuer, c.ID, apiA)
	for _, f := range tokentest.Forgeries(t, in.srv.Keys().Current(), real, claims) {
		t.Run(f.Name, func(t *testing.T) {
			assertInactive(t, in.introspect(rs, f.Token))
			assertInactive(t, in.introspect(c, f.Token))
			if r := in.post("/oauth2/revoke", c.ID, c.Secret, url.Values{"token": {f.Token}}); r.status != http.StatusOK {
				t.Errorf("revoke(forged) = %d %s, want 200", r.status, r.body)
			}
		})
	}
	if got := in.introspect(rs, real).json(t); got["active"] != true {
		t.Errorf("real token after forged revocations = %v, want active", got)
	}
}

// TestErrorsLeakNothing is case 13.
func TestErrorsLeakNothing(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	c := in.createClient("read", apiA)

	const garbage = "<script>alert(1)</script>'; DROP TABLE clients; --"
	tests := []struct {
		name   string
		path   string
		id     string
		secret string
		form   url.Values
		status int
		code   string
	}{
		{"code for a client without the grant", "/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"authorization_code"}, "code": {garbage}}, 400, "unauthorized_client"},
		{"garbage grant type", "/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {garbage}}, 400, "unsupported_grant_type"},
		{"garbage scope", "/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}, "scope": {garbage}}, 400, "invalid_scope"},
		{"garbage resource", "/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}, "resource": {garbage}}, 400, "invalid_target"},
		{"garbage client id", "/oauth2/token", garbage, c.Secret, url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client"},
		{"introspection without token", "/oauth2/introspect", rs.ID, rs.Secret, url.Values{"x": {garbage}}, 400, "invalid_request"},
		{"introspection without auth", "/oauth2/introspect", "", "", url.Values{"token": {garbage}}, 401, "invalid_client"},
		{"revocation without auth", "/oauth2/revoke", "", "", url.Values{"token": {garbage}}, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.post(tt.path, tt.id, tt.secret, tt.form)
			assertOAuthError(t, r, tt.status, tt.code)
			assertNoLeak(t, r, garbage, c.Secret, rs.Secret)
		})
	}

	t.Run("garbage to introspection is inactive", func(t *testing.T) {
		r := in.introspect(rs, garbage)
		assertInactive(t, r)
	})
	t.Run("oversized body", func(t *testing.T) {
		r := in.post("/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("a", 70<<10)}})
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("wrong method", func(t *testing.T) {
		if r := in.get("/oauth2/token"); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET /oauth2/token = %d, want 405", r.status)
		}
	})
	t.Run("database gone", func(t *testing.T) {
		tok := in.mustToken(c, apiA)
		dropDatabase(t, in)
		for _, r := range []response{
			in.post("/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}}),
			in.introspect(rs, tok),
			in.post("/oauth2/revoke", c.ID, c.Secret, url.Values{"token": {"x"}}),
		} {
			if r.status != http.StatusServiceUnavailable && r.status != http.StatusInternalServerError {
				t.Errorf("with the database gone: status %d %s, want 503 or 500", r.status, r.body)
			}
			var body map[string]string
			if err := json.Unmarshal(r.body, &body); err != nil || body["error"] == "" {
				t.Errorf("with the database gone: body %q, want OAuth error JSON", r.body)
			}
			assertNoLeak(t, r, garbage)
		}
	})
	if logs := in.logs.String(); strings.Contains(logs, c.Secret) || strings.Contains(logs, rs.Secret) {
		t.Error("a client secret appears in the log")
	}
}

// dropDatabase removes the instance's database under it, as an outage
// that does not come back would.
func dropDatabase(t *testing.T, in *instance) {
	t.Helper()
	server := os.Getenv("VEIL_TEST_DATABASE_URL")
	if server == "" {
		server = pgtest.DefaultURL
	}
	conn, err := pgx.Connect(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	name := in.dbName()
	if _, err := conn.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatalf("drop database: %v", err)
	}
}

// TestAdminCases is case 14 over real HTTP.
func TestAdminCases(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	for _, auth := range []string{"", "Bearer wrong", "Basic " + testAdminToken, "Bearer " + testAdminToken + "x"} {
		req, _ := http.NewRequest(http.MethodGet, in.adminURL+"/admin/clients", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if r := do(t, req); r.status != http.StatusUnauthorized {
			t.Errorf("GET /admin/clients with %q = %d, want 401", auth, r.status)
		}
	}
	for _, tok := range []string{"garbage", "djE6YWJj", "%27%3B--"} {
		r := in.admin(http.MethodGet, "/admin/clients?page_token="+tok, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("GET /admin/clients?page_token=%s = %d, want 400", tok, r.status)
		}
		assertNoLeak(t, r)
	}
}

// TestDiscovery is case 15: metadata names the issuer exactly and no
// "none" algorithm; the JWKS holds public keys only, each with kid, use and
// alg, and may be cached.
func TestDiscovery(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))

	meta := in.get("/.well-known/oauth-authorization-server")
	m := meta.json(t)
	if m["issuer"] != in.issuer || m["token_endpoint"] != in.issuer+"/oauth2/token" || m["jwks_uri"] != in.issuer+"/.well-known/jwks.json" {
		t.Errorf("metadata = %v, want issuer %s and endpoints under it", m, in.issuer)
	}
	for k, v := range m {
		list, _ := v.([]any)
		for _, alg := range list {
			if strings.HasSuffix(k, "_alg_values_supported") && strings.EqualFold(alg.(string), "none") {
				t.Errorf("metadata %s advertises the none algorithm", k)
			}
		}
	}

	jwks := in.get("/.well-known/jwks.json")
	if cc := jwks.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("JWKS Cache-Control = %q, want a max-age", cc)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks.body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS = %s (%v), want keys", jwks.body, err)
	}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %v has private member %q", k["kid"], private)
			}
		}
		for _, required := range []string{"kid", "use", "alg"} {
			if s, _ := k[required].(string); s == "" {
				t.Errorf("JWKS key %v lacks %q", k, required)
			}
		}
	}
}
