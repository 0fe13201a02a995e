package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
	"github.com/veil-auth/veil/internal/tlstest"
)

// cliAdminToken is the admin token of every Veil these tests start.
const cliAdminToken = "cli-test-admin-token-0123456789abcdefghijkl"

// adminVeil is a running Veil whose admin API the CLI is run against.
type adminVeil struct {
	t       *testing.T
	public  string // the public listener's base URL
	env     map[string]string
	mu      sync.Mutex
	secrets []string // never to be seen on stderr
	stderrs []string // of every run so far
}

// startAdminVeil starts Veil on a fresh PostgreSQL database, serving over
// loopback HTTP until the test ends.
func startAdminVeil(t *testing.T) *adminVeil {
	t.Helper()
	return startAdminVeilWith(t, pgtest.DSN(t), nil)
}

// startAdminVeilWith starts Veil on dsn (empty for development mode), with
// adjust changing its configuration.
func startAdminVeilWith(t *testing.T, dsn string, adjust func(*config.Config)) *adminVeil {
	t.Helper()
	pub, adm := listenLoopback(t), listenLoopback(t)
	masterKey := make([]byte, 32)
	_, _ = rand.Read(masterKey)
	cfg := &config.Config{
		DatabaseURL: dsn,
		Issuer:      "http://" + pub.Addr().String(),
		PublicAddr:  pub.Addr().String(),
		AdminAddr:   adm.Addr().String(),
		AdminToken:  cliAdminToken,
		MasterKeys:  [][]byte{masterKey},
		LogFormat:   "json",
		LogLevel:    "info",
	}
	cfg.AccessTokenLifespan = 15 * time.Minute
	cfg.AuthorizeCodeLifespan = 2 * time.Minute
	cfg.RefreshTokenLifespan = 24 * time.Hour
	cfg.SessionLifetime = time.Hour
	cfg.SigningAlgorithms = []string{"ES256", "RS256"}
	cfg.KeyRotationInterval = 24 * time.Hour
	cfg.JWKSMaxAge = 10 * time.Minute
	cfg.KeyRefreshInterval = time.Second
	scheme := "http://"
	if adjust != nil {
		adjust(cfg)
	}
	if cfg.TLS() {
		scheme = "https://"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv, err := server.New(ctx, cfg, log, io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("server.New() = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
		srv.Close()
	})
	return &adminVeil{
		t:      t,
		public: scheme + pub.Addr().String(),
		env: map[string]string{
			"VEIL_ADMIN_URL":   scheme + adm.Addr().String(),
			"VEIL_ADMIN_TOKEN": cliAdminToken,
		},
		secrets: []string{cliAdminToken},
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// result is what one run of the CLI gave.
type result struct {
	args           []string
	stdout, stderr string
	err            error
	code           int // the exit status main would give
}

// veil runs the CLI with v's environment. Its stderr is checked for
// every secret: the admin token, and each secret and password given to
// v.secret, before or after.
func (v *adminVeil) veil(args ...string) result {
	v.t.Helper()
	return v.veilEnv(nil, args...)
}

// veilEnv is veil with env overriding v's environment; an empty value
// unsets a variable.
func (v *adminVeil) veilEnv(env map[string]string, args ...string) result {
	v.t.Helper()
	getenv := func(k string) string {
		if val, ok := env[k]; ok {
			return val
		}
		return v.env[k]
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr, getenv)
	if err != nil {
		// What main prints.
		stderr.WriteString("veil: " + err.Error() + "\n")
	}
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(),
		err: err, code: exitCode(err)}

	v.mu.Lock()
	defer v.mu.Unlock()
	v.stderrs = append(v.stderrs, r.stderr)
	for _, s := range v.secrets {
		if strings.Contains(r.stderr, s) {
			v.t.Errorf("veil %v: stderr holds a secret:\n%s", args, r.stderr)
		}
	}
	return r
}

// secret records s as a value that must never reach stderr, and checks
// the stderr of every run so far, the one that made s included.
func (v *adminVeil) secret(s string) {
	v.t.Helper()
	if s == "" {
		v.t.Fatal("empty secret")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets = append(v.secrets, s)
	for _, e := range v.stderrs {
		if strings.Contains(e, s) {
			v.t.Errorf("a run's stderr holds a secret:\n%s", e)
		}
	}
}

// ok fails the test unless r succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("veil %v = %v (exit %d), want success; stderr:\n%s",
			r.args, r.err, r.code, r.stderr)
	}
	return r
}

// fails checks that r failed with the exit code and an error message
// holding want.
func (r result) fails(t *testing.T, code int, want string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Errorf("veil %v: exit %d, stderr %q; want exit %d and %q",
			r.args, r.code, r.stderr, code, want)
	}
}

// json decodes the command's stdout into v, which it zeroes first so that
// nothing from an earlier decoding stays.
func (r result) json(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("veil %v: stdout is not the JSON expected: %v\n%s", r.args, err, r.stdout)
	}
}

// has checks that stdout holds each of want.
func (r result) has(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("veil %v: stdout lacks %q:\n%s", r.args, w, r.stdout)
		}
	}
}

// line returns the line of stdout that starts with "name:", as a human
// readable object shows a field, with the value alone.
func (r result) field(t *testing.T, name string) string {
	t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("veil %v: no field %s in:\n%s", r.args, name, r.stdout)
	return ""
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAdminCommandLine checks the CLI's answers to command lines it cannot
// run, and to help: usage errors exit 2 before any request, API errors
// exit 1 with the API's message.
func TestAdminCommandLine(t *testing.T) {
	v := startAdminVeil(t)
	tokenFile := writeFile(t, "token", cliAdminToken+"\n")
	closed := listenLoopback(t)
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	noToken := map[string]string{"VEIL_ADMIN_TOKEN": ""}
	missing := filepath.Join(t.TempDir(), "none")

	tests := []struct {
		name string
		env  map[string]string
		// cmd is the command line, split at spaces.
		cmd  string
		code int
		// want is in stderr on failure, and in stdout on success.
		want string
	}{
		{name: "group help", cmd: "clients --help", want: "rotate-secret CLIENT_ID"},
		{name: "command help", cmd: "users create --help", want: "--password-stdin"},
		{name: "audit help", cmd: "audit -h", want: "--since TIME"},
		{name: "no subcommand", cmd: "resources", code: 2, want: "give a resources command"},
		{name: "unknown subcommand", cmd: "users frob", code: 2, want: `unknown users command "frob"`},
		{name: "missing argument", cmd: "clients get", code: 2, want: "takes the arguments CLIENT_ID"},
		{name: "extra argument", cmd: "clients list x", code: 2, want: "takes no arguments"},
		{name: "unknown flag", cmd: "clients list --nope", code: 2, want: "not defined: -nope"},
		{name: "bad flag value not echoed", cmd: "users create --password-stdin=hunter2x", code: 2,
			want: "invalid value for -password-stdin: parse error"},
		{name: "negative limit", cmd: "users list --limit -1", code: 2, want: "must not be negative"},
		{name: "path in ID", cmd: "clients get ../users", code: 2, want: "not an ID Veil issues"},
		{name: "dot dot ID", cmd: "users delete ..", code: 2, want: "not an ID Veil issues"},
		{name: "nothing to update", cmd: "users update abc", code: 2, want: "nothing to change"},
		{name: "no token", env: noToken, cmd: "clients list", code: 2, want: "no admin token"},
		{name: "token and token file", env: map[string]string{"VEIL_ADMIN_TOKEN_FILE": tokenFile},
			cmd: "clients list", code: 2, want: "not both"},
		{name: "token file flag", env: noToken, cmd: "clients list --admin-token-file " + tokenFile,
			want: "CLIENT_ID"},
		{name: "token file variable", env: map[string]string{"VEIL_ADMIN_TOKEN": "",
			"VEIL_ADMIN_TOKEN_FILE": tokenFile}, cmd: "users list", want: "USERNAME"},
		{name: "missing token file", env: noToken, cmd: "clients list --admin-token-file " + missing,
			code: 1, want: "read the admin token file"},
		{name: "wrong token", env: map[string]string{"VEIL_ADMIN_TOKEN": strings.Repeat("w", 40)},
			cmd: "clients list", code: 1,
			want: "the admin API needs a valid bearer token (invalid_token, HTTP 401)"},
		{name: "token with a space", env: map[string]string{"VEIL_ADMIN_TOKEN": "two words"},
			cmd: "clients list", code: 2, want: "holds a space"},
		{name: "plain http off loopback", cmd: "clients list --admin-url http://veil.example.test:8081",
			code: 2, want: "plain http is for a loopback address only"},
		{name: "not a URL", env: map[string]string{"VEIL_ADMIN_URL": "ftp://127.0.0.1"},
			cmd: "users list", code: 2, want: "must be an http or https URL"},
		{name: "unreachable", env: map[string]string{"VEIL_ADMIN_URL": closedURL},
			cmd: "users list", code: 1, want: "reach the admin API"},
		{name: "not found", cmd: "clients get no-such-client", code: 1,
			want: "veil: clients get: client not found (not_found, HTTP 404)"},
		{name: "bad since", cmd: "audit --since yesterday", code: 2,
			want: "--since wants an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.veilEnv(tt.env, strings.Fields(tt.cmd)...)
			if tt.code == 0 {
				if r.err != nil && !errors.Is(r.err, flag.ErrHelp) {
					t.Fatalf("veil %s = %v, want success", tt.cmd, r.err)
				}
				r.has(t, tt.want)
				return
			}
			r.fails(t, tt.code, tt.want)
			if strings.Contains(r.stderr, "hunter2x") {
				t.Errorf("veil %s: stderr repeats the flag's value: %s", tt.cmd, r.stderr)
			}
		})
	}
}

// TestAdminTLS checks that the CLI speaks HTTPS to an admin listener with
// a certificate from a private CA, trusting it only through --ca-file.
func TestAdminTLS(t *testing.T) {
	files := tlstest.Write(t)
	v := startAdminVeilWith(t, "", func(c *config.Config) {
		c.TLSCertFile, c.TLSKeyFile = files.CertFile, files.KeyFile
		c.Issuer = "https://" + c.PublicAddr
	})
	if !strings.HasPrefix(v.env["VEIL_ADMIN_URL"], "https://") {
		t.Fatalf("admin URL %s is not https", v.env["VEIL_ADMIN_URL"])
	}

	v.veil("users", "list").fails(t, 1, "give --ca-file")
	v.veil("users", "list", "--ca-file", files.KeyFile).fails(t, 2, "holds no PEM certificate")
	v.veil("users", "list", "--ca-file", files.CertFile).ok(t).has(t, "USERNAME")
	caEnv := map[string]string{"VEIL_ADMIN_CA_FILE": files.CertFile}
	v.veilEnv(caEnv, "clients", "list").ok(t).has(t, "CLIENT_ID")
}
