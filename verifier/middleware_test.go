package verifier_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/verifier"
)

// middlewareCase is one request to a route guarded by Middleware(v, "read").
type middlewareCase struct {
	name  string
	auth  []string // Authorization header values
	query string
	down  bool // Veil cannot be reached
	code  int
	want  string   // WWW-Authenticate
	hide  []string // must appear neither in the answer nor in the log
}

func middlewareCases(veil *fakeVeil, rs *resource, forged string) []middlewareCase {
	good := veil.tokenFor(rs, "read write")
	writeOnly := veil.tokenFor(rs, "write")
	otherAud := veil.token(rs.keys[0], veil.claims("https://other.example.test", "read"))
	claims := veil.claims(rs.audience, "read")
	claims["exp"] = t0.Add(-time.Hour).Unix()
	expired := veil.token(rs.keys[0], claims)
	const realm = `Bearer realm="https://api.example.test"`
	bad := realm + `, error="invalid_request"`
	invalid := realm + `, error="invalid_token"`
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	secret := func(tok ...string) []string { return tok }

	return []middlewareCase{
		{name: "valid", auth: bearer(good), code: 204},
		{name: "scheme in lower case", auth: []string{"bearer " + good}, code: 204},
		{name: "several spaces", auth: []string{"Bearer   " + good}, code: 204},
		{name: "no header", code: 401, want: realm},
		{name: "another scheme", auth: []string{"Basic dTpw"}, code: 401, want: realm},
		{name: "token in the query is not read", query: "?access_token=" + good,
			code: 401, want: realm, hide: secret(good)},
		{name: "Bearer without token", auth: []string{"Bearer"}, code: 400, want: bad},
		{name: "Bearer and spaces", auth: []string{"Bearer   "}, code: 400, want: bad},
		{name: "token with a space", auth: bearer(good + " x"), code: 400, want: bad, hide: secret(good)},
		{name: "two headers", auth: append(bearer(good), bearer(good)...),
			code: 400, want: bad, hide: secret(good)},
		{name: "forged", auth: bearer(forged), code: 401, want: invalid, hide: secret(forged)},
		{name: "garbage", auth: bearer("abc"), code: 401, want: invalid},
		{name: "expired", auth: bearer(expired), code: 401, hide: secret(expired),
			want: invalid + `, error_description="The access token expired"`},
		{name: "another audience", auth: bearer(otherAud), code: 401, want: invalid, hide: secret(otherAud)},
		{name: "insufficient scope", auth: bearer(writeOnly), code: 403, hide: secret(writeOnly),
			want: realm + `, error="insufficient_scope", scope="read"`},
		{name: "Veil unreachable", auth: bearer(good), down: true, code: 503, hide: secret(good)},
	}
}

func TestMiddleware(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	var logs bytes.Buffer
	cfg := localConfig(veil, rs, newClock())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen *verifier.Claims
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = verifier.ClaimsFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	protected := verifier.Middleware(newVerifier(t, cfg), "read")(api)
	cfg.Issuer = "http://127.0.0.1:1" // nothing listens there
	down := verifier.Middleware(newVerifier(t, cfg), "read")(api)
	forged := forgeryNamed(t, forgeries(veil, rs, "http://127.0.0.1:1/"),
		"case 18: signed by a foreign key under Veil's kid")

	for _, tt := range middlewareCases(veil, rs, forged) {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			seen = nil
			req := httptest.NewRequest(http.MethodGet, "/things"+tt.query, nil)
			for _, h := range tt.auth {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			if tt.down {
				down.ServeHTTP(rec, req)
			} else {
				protected.ServeHTTP(rec, req)
			}

			challenge, cc := rec.Header().Get("WWW-Authenticate"), rec.Header().Get("Cache-Control")
			if rec.Code != tt.code || challenge != tt.want {
				t.Errorf("GET with %s = %d %q, want %d %q", tt.name, rec.Code, challenge,
					tt.code, tt.want)
			}
			if passed := tt.code < 300; passed != (seen != nil) {
				t.Errorf("GET with %s: handler saw %v, want claims %v", tt.name, seen, passed)
			}
			if tt.code >= 400 && cc != "no-store" {
				t.Errorf("GET with %s: Cache-Control = %q, want no-store", tt.name, cc)
			}
			answer := rec.Body.String() + challenge
			for _, tok := range tt.hide {
				if strings.Contains(answer, tok) {
					t.Errorf("GET with %s: the answer echoes the token", tt.name)
				}
				if strings.Contains(logs.String(), tok[:40]) {
					t.Errorf("GET with %s: the log holds the token", tt.name)
				}
			}
			if tt.down && !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("GET with %s: log = %q, want an error line", tt.name, logs.String())
			}
		})
	}
}

func TestMiddlewareScopes(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	cfg := localConfig(veil, rs, newClock())
	cfg.RequiredScopes = []string{"read"}
	v := newVerifier(t, cfg)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	const need = `Bearer realm="https://api.example.test", error="insufficient_scope", ` +
		`scope="read write"`
	only := func(s ...string) []string { return s }

	tests := []struct {
		name      string
		scope     string
		route     []string
		status    int
		challenge string
	}{
		{name: "config scope only", scope: "read", status: 204},
		{name: "config and route scopes", scope: "read write", route: only("write"), status: 204},
		{name: "lacks the config scope", scope: "write", route: only("write"),
			status: 403, challenge: need},
		{name: "lacks the route scope", scope: "read", route: only("write", "read"),
			status: 403, challenge: need},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+veil.tokenFor(rs, tt.scope))
			rec := httptest.NewRecorder()
			verifier.Middleware(v, tt.route...)(ok).ServeHTTP(rec, req)

			got := rec.Header().Get("WWW-Authenticate")
			if rec.Code != tt.status || got != tt.challenge {
				t.Errorf("Middleware(%v) with scope %q = %d %q, want %d %q", tt.route, tt.scope,
					rec.Code, got, tt.status, tt.challenge)
			}
		})
	}
}

func TestMiddlewareRealmQuoted(t *testing.T) {
	v := newVerifier(t, verifier.Config{Issuer: "https://veil.test", Audience: "https://api.test",
		ClientID: "id", ClientSecret: "secret", Realm: `my "api"\` + "\n"})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	verifier.Middleware(v)(http.NotFoundHandler()).ServeHTTP(rec, req)

	want := `Bearer realm="my \"api\"\\"`
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

func TestClaimsFromContext(t *testing.T) {
	if c, ok := verifier.ClaimsFromContext(context.Background()); ok || c != nil {
		t.Errorf("ClaimsFromContext(empty) = %v, %v, want nil, false", c, ok)
	}
	want := &verifier.Claims{Subject: "user-1"}
	ctx := verifier.ContextWithClaims(context.Background(), want)
	if c, ok := verifier.ClaimsFromContext(ctx); !ok || c != want {
		t.Errorf("ClaimsFromContext(ContextWithClaims(c)) = %v, %v, want c, true", c, ok)
	}
}
