package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const masterKey = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // 32 bytes

func TestLoadDefaultsDevelopment(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() of defaults = %v, want nil", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Dev", c.Dev(), true},
		{"Issuer", c.Issuer, "http://127.0.0.1:8080"},
		{"PublicAddr", c.PublicAddr, "127.0.0.1:8080"},
		{"AdminAddr", c.AdminAddr, "127.0.0.1:8081"},
		{"AccessTokenLifespan", c.AccessTokenLifespan, 15 * time.Minute},
		{"LogFormat", c.LogFormat, "text"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("Load(no env).%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c, err := config.Load(nil, env(map[string]string{
		"VEIL_DATABASE_URL":          "postgres://veil:hunter2-password@db/veil",
		"VEIL_PUBLIC_ADDR":           "0.0.0.0:8080",
		"VEIL_MASTER_KEY":            "c2VjcmV0LW5vdC0zMi1ieXRlcw==",
		"VEIL_ACCESS_TOKEN_LIFESPAN": "forever",
		"VEIL_LOG_LEVEL":             "loud",
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		"VEIL_ADMIN_TOKEN", "VEIL_MASTER_KEY entry 1", "VEIL_ISSUER is required",
		"VEIL_ACCESS_TOKEN_LIFESPAN", "VEIL_LOG_LEVEL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate() = %q, want it to mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "c2VjcmV0") {
		t.Errorf("Validate() = %q, leaks a secret", msg)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := config.Load(nil, env(map[string]string{
		"VEIL_DATABASE_URL":     "postgres://db/veil",
		"VEIL_ADMIN_TOKEN_FILE": write("token", "an-admin-token-of-at-least-32-characters\n"),
		"VEIL_MASTER_KEY_FILE":  write("mk", masterKey+"\n"),
		"VEIL_ISSUER":           "https://veil.example.test",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if c.AdminToken != "an-admin-token-of-at-least-32-characters" || len(c.MasterKeys) != 1 {
		t.Errorf("Load() admin token %q, %d master keys; want file contents", c.AdminToken, len(c.MasterKeys))
	}
}

func TestIssuerRules(t *testing.T) {
	tests := []struct {
		name   string
		issuer string
		ok     bool
	}{
		{"https", "https://veil.example.test", true},
		{"https with path", "https://example.test/veil", true},
		{"http loopback", "http://127.0.0.1:8080", true},
		{"http public", "http://veil.example.test", false},
		{"trailing slash", "https://veil.example.test/", false},
		{"query", "https://veil.example.test?x=1", false},
		{"fragment", "https://veil.example.test#f", false},
		{"relative", "/veil", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(nil, env(map[string]string{"VEIL_ISSUER": tt.issuer}))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(issuer %q) = %v, want ok=%v", tt.issuer, err, tt.ok)
			}
		})
	}
}

func TestBothValueAndFileRefused(t *testing.T) {
	c, err := config.Load(nil, env(map[string]string{
		"VEIL_ADMIN_TOKEN": "x", "VEIL_ADMIN_TOKEN_FILE": "/nonexistent",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("Validate() = %v, want a 'not both' problem", err)
	}
}

// TestMetricsToken: the metrics token is optional, read like the other
// secrets, and refused when short or equal to the admin token.
func TestMetricsToken(t *testing.T) {
	const admin = "an-admin-token-of-at-least-32-characters"
	file := filepath.Join(t.TempDir(), "metrics")
	if err := os.WriteFile(file, []byte("a-metrics-token-of-at-least-32-characters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		problem string
	}{
		{name: "unset", env: map[string]string{}},
		{name: "from a file", env: map[string]string{"VEIL_METRICS_TOKEN_FILE": file},
			want: "a-metrics-token-of-at-least-32-characters"},
		{name: "too short", env: map[string]string{"VEIL_METRICS_TOKEN": "short-token"},
			want: "short-token", problem: "VEIL_METRICS_TOKEN must be at least 32 characters"},
		{name: "the admin token", env: map[string]string{"VEIL_METRICS_TOKEN": admin},
			want: admin, problem: "VEIL_METRICS_TOKEN must differ from VEIL_ADMIN_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["VEIL_DATABASE_URL"] = "postgres://db/veil"
			tt.env["VEIL_ADMIN_TOKEN"] = admin
			tt.env["VEIL_MASTER_KEY"] = masterKey
			tt.env["VEIL_ISSUER"] = "https://veil.example.test"
			c, err := config.Load(nil, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsToken != tt.want {
				t.Errorf("Load().MetricsToken = %q, want %q", c.MetricsToken, tt.want)
			}
			err = c.Validate()
			switch {
			case tt.problem == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Errorf("Validate() = %v, want %q", err, tt.problem)
			case tt.problem != "" && strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate() = %q, shows the token", err)
			}
		})
	}
}

func TestJanitorInterval(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{name: "default", want: time.Hour},
		{name: "set", env: "10m", want: 10 * time.Minute},
		{name: "off", env: "0", want: 0},
		{name: "flag wins", env: "10m", args: []string{"-janitor-interval", "0"}, want: 0},
		{name: "too short", env: "10ms", wantErr: true},
		{name: "negative", env: "-1h", wantErr: true},
		{name: "not a duration", env: "hourly", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, env(map[string]string{"VEIL_JANITOR_INTERVAL": tt.env}))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "VEIL_JANITOR_INTERVAL") {
					t.Errorf("Validate() with VEIL_JANITOR_INTERVAL=%q = %v, want an error naming it",
						tt.env, err)
				}
				return
			}
			if err != nil || c.JanitorInterval != tt.want {
				t.Errorf("Load(VEIL_JANITOR_INTERVAL=%q).JanitorInterval = %v, %v, want %v, nil",
					tt.env, c.JanitorInterval, err, tt.want)
			}
		})
	}
}

func TestLoadAdminToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-a-file-0123456789abcdefghijklmn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "variable", env: map[string]string{"VEIL_ADMIN_TOKEN": "tok"}, want: "tok"},
		{name: "file", env: map[string]string{"VEIL_ADMIN_TOKEN_FILE": file},
			want: "from-a-file-0123456789abcdefghijklmn"},
		{name: "neither", env: nil, wantErr: "is required"},
		{name: "both", env: map[string]string{"VEIL_ADMIN_TOKEN": "tok", "VEIL_ADMIN_TOKEN_FILE": file},
			wantErr: "not both"},
		{name: "unreadable file", env: map[string]string{"VEIL_ADMIN_TOKEN_FILE": file + ".missing"},
			wantErr: "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.LoadAdminToken(env(tt.env))
			if got != tt.want || (err == nil) != (tt.wantErr == "") ||
				err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadAdminToken() = %q, %v, want %q and an error containing %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestProfiling(t *testing.T) {
	tests := []struct {
		value string
		want  bool
		ok    bool
	}{
		{"true", true, true},
		{"false", false, true},
		{"sometimes", false, false},
	}
	for _, tt := range tests {
		c, err := config.Load(nil, env(map[string]string{"VEIL_PROFILING": tt.value}))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); c.Profiling != tt.want || (err == nil) != tt.ok {
			t.Errorf("Load(VEIL_PROFILING=%s) = %v, Validate() = %v; want %v, ok=%v", tt.value, c.Profiling, err, tt.want, tt.ok)
		}
	}
}

// TestKeyFlags: the key and cache settings have flags, as the other
// non-secret settings do, and a flag wins over its variable.
func TestKeyFlags(t *testing.T) {
	vars := env(map[string]string{
		"VEIL_SIGNING_ALGORITHMS":    "RS256",
		"VEIL_KEY_ROTATION_INTERVAL": "48h",
		"VEIL_JWKS_MAX_AGE":          "5m",
		"VEIL_KEY_REFRESH_INTERVAL":  "2s",
		"VEIL_CLIENT_CACHE_TTL":      "3s",
	})
	tests := []struct {
		name string
		args []string
		got  func(c *config.Config) any
		want any
	}{
		{name: "signing algorithms", args: []string{"-signing-algorithms", "EdDSA, ES256"},
			got: func(c *config.Config) any { return strings.Join(c.SigningAlgorithms, ",") }, want: "EdDSA,ES256"},
		{name: "signing algorithms from the variable",
			got: func(c *config.Config) any { return strings.Join(c.SigningAlgorithms, ",") }, want: "RS256"},
		{name: "key rotation interval", args: []string{"-key-rotation-interval", "72h"},
			got: func(c *config.Config) any { return c.KeyRotationInterval }, want: 72 * time.Hour},
		{name: "jwks max age", args: []string{"-jwks-max-age", "1m"},
			got: func(c *config.Config) any { return c.JWKSMaxAge }, want: time.Minute},
		{name: "key refresh interval", args: []string{"-key-refresh-interval", "1s"},
			got: func(c *config.Config) any { return c.KeyRefreshInterval }, want: time.Second},
		{name: "client cache ttl", args: []string{"-client-cache-ttl", "0"},
			got: func(c *config.Config) any { return c.ClientCacheTTL }, want: time.Duration(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, vars)
			if err != nil {
				t.Fatalf("Load(%q) = %v", tt.args, err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("Load(%q): %s = %v, want %v", tt.args, tt.name, got, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Load(%q).Validate() = %v", tt.args, err)
			}
		})
	}
}

// TestGCPercent: veil serve sets its own GOGC only when the variable is
// not set, which Go's runtime reads itself.
func TestGCPercent(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{name: "unset", env: map[string]string{}, want: config.DefaultGCPercent},
		{name: "set", env: map[string]string{"GOGC": "100"}, want: 0},
		{name: "off", env: map[string]string{"GOGC": "off"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(nil, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.GCPercent != tt.want {
				t.Errorf("Load(GOGC=%q).GCPercent = %d, want %d", tt.env["GOGC"], c.GCPercent, tt.want)
			}
		})
	}
}
