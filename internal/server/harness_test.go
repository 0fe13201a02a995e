package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/server"
)

// testAdminToken is the admin credential of every test server.
const testAdminToken = "test-admin-token-0123456789abcdefghijklmnop"

// instance is one running Veil, serving over real loopback HTTP.
type instance struct {
	t         *testing.T
	srv       *server.Server
	issuer    string
	base      string
	adminURL  string
	dsn       string
	logs      *syncBuffer
	stop      func()
	stoppedMu sync.Mutex
	stopped   bool
}

// startVeil starts Veil on dsn (empty for development mode) with the given
// master key, and stops it when the test ends. Its issuer is its own
// public URL.
func startVeil(t *testing.T, dsn string, masterKey []byte) *instance {
	t.Helper()
	return startVeilAs(t, dsn, masterKey, "")
}

// startVeilAs is startVeil with a fixed issuer (for replicas, which share
// one), or its own URL when issuer is empty.
func startVeilAs(t *testing.T, dsn string, masterKey []byte, issuer string) *instance {
	t.Helper()
	return startVeilWith(t, dsn, masterKey, issuer, nil)
}

// startVeilWith is startVeilAs with a hook that adjusts the configuration.
func startVeilWith(t *testing.T, dsn string, masterKey []byte, issuer string, adjust func(*config.Config)) *instance {
	t.Helper()
	pub := listen(t)
	adm := listen(t)
	base := "http://" + pub.Addr().String()
	if issuer == "" {
		issuer = base
	}
	cfg := &config.Config{
		DatabaseURL:         dsn,
		Issuer:              issuer,
		PublicAddr:          pub.Addr().String(),
		AdminAddr:           adm.Addr().String(),
		AdminToken:          testAdminToken,
		MasterKeys:          [][]byte{masterKey},
		AccessTokenLifespan: 15 * time.Minute,
		LogFormat:           "json",
		LogLevel:            "debug",
	}
	cfg.AuthorizeCodeLifespan = 2 * time.Minute
	cfg.RefreshTokenLifespan = 24 * time.Hour
	cfg.SessionLifetime = time.Hour
	cfg.SigningAlgorithms = []string{"ES256", "RS256"}
	cfg.KeyRotationInterval = 24 * time.Hour
	cfg.JWKSMaxAge = 10 * time.Minute
	cfg.KeyRefreshInterval = time.Second
	cfg.ClientCacheTTL = 5 * time.Second
	if adjust != nil {
		adjust(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log, io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("server.New() = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pub, adm) }()

	in := &instance{t: t, srv: srv, issuer: issuer, base: base, dsn: dsn, adminURL: "http://" + adm.Addr().String(), logs: logs}
	in.stop = func() {
		in.stoppedMu.Lock()
		defer in.stoppedMu.Unlock()
		if in.stopped {
			return
		}
		in.stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
		srv.Close()
	}
	// Registered first, so it runs last: once Veil has stopped, no test
	// may have made it log the admin token or the master key, whatever it
	// did. TestLogsHoldNoSecrets checks every other secret.
	t.Cleanup(func() {
		for _, s := range []string{testAdminToken, base64.StdEncoding.EncodeToString(masterKey),
			base64.RawURLEncoding.EncodeToString(masterKey)} {
			if strings.Contains(logs.String(), s) {
				t.Error("Veil's log holds the admin token or the master key")
			}
		}
	})
	t.Cleanup(in.stop)
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("VEIL_TEST_LOGS") != "" {
			t.Logf("Veil's log:\n%s", logs.String())
		}
	})
	return in
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// admin calls the admin API with the admin token.
func (in *instance) admin(method, path string, body any) response {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.adminURL+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(in.t, req)
}

// post sends a form to a public endpoint, authenticating with HTTP Basic
// when id is not empty.
func (in *instance) post(path, id, secret string, form url.Values) response {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return do(in.t, req)
}

func (in *instance) get(path string) response {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.base+path, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	return do(in.t, req)
}

// credentials are a client_id and client_secret.
type credentials struct {
	ID, Secret string
}

// createResource registers a resource server and returns its identifier
// and introspection credentials.
func (in *instance) createResource(identifier string, scopes ...string) credentials {
	in.t.Helper()
	r := in.admin(http.MethodPost, "/admin/resources", map[string]any{
		"identifier": identifier, "name": "API " + identifier, "scopes": scopes,
	})
	if r.status != http.StatusCreated {
		in.t.Fatalf("POST /admin/resources = %d %s, want 201", r.status, r.body)
	}
	m := r.json(in.t)
	return credentials{ID: m["client_id"].(string), Secret: m["client_secret"].(string)}
}

// createClient registers a confidential client-credentials client.
func (in *instance) createClient(scope string, resources ...string) credentials {
	in.t.Helper()
	r := in.admin(http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "test client", "grant_types": []string{"client_credentials"},
		"scope": scope, "token_endpoint_auth_method": "client_secret_basic", "resources": resources,
	})
	if r.status != http.StatusCreated {
		in.t.Fatalf("POST /admin/clients = %d %s, want 201", r.status, r.body)
	}
	m := r.json(in.t)
	return credentials{ID: m["client_id"].(string), Secret: m["client_secret"].(string)}
}

// introspect introspects tok with the caller's credentials.
func (in *instance) introspect(caller credentials, tok string) response {
	in.t.Helper()
	return in.post("/oauth2/introspect", caller.ID, caller.Secret, url.Values{"token": {tok}})
}

// dbName returns the name of the instance's database.
func (in *instance) dbName() string {
	in.t.Helper()
	u, err := url.Parse(in.dsn)
	if err != nil {
		in.t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// newServer builds a server without serving it, for start-up failures.
func newServer(t *testing.T, dsn string, masterKey []byte) (*server.Server, error) {
	t.Helper()
	cfg := &config.Config{
		DatabaseURL: dsn, Issuer: "http://127.0.0.1:1", PublicAddr: "127.0.0.1:1", AdminAddr: "127.0.0.1:2",
		AdminToken: testAdminToken, MasterKeys: [][]byte{masterKey}, AccessTokenLifespan: 15 * time.Minute,
		AuthorizeCodeLifespan: time.Minute, RefreshTokenLifespan: time.Hour, SessionLifetime: time.Hour,
		SigningAlgorithms: []string{"ES256"}, KeyRotationInterval: time.Hour, JWKSMaxAge: time.Minute,
		KeyRefreshInterval: time.Second,
		LogFormat:          "json", LogLevel: "info",
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil {
		t.Cleanup(srv.Close)
	}
	return srv, err
}
