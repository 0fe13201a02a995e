package config_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/tlstest"
)

// transport is the part of Config this file tests.
type transport struct {
	CertFile, KeyFile string
	BehindProxy       bool
	Trusted           []netip.Prefix
	Header, Read      time.Duration
	Write, Idle       time.Duration
	Concurrent        int
	Issuer            string
}

func transportOf(c *config.Config) transport {
	return transport{
		CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile, BehindProxy: c.BehindTLSProxy,
		Trusted: c.TrustedProxies, Header: c.ReadHeaderTimeout, Read: c.ReadTimeout,
		Write: c.WriteTimeout, Idle: c.IdleTimeout, Concurrent: c.MaxConcurrentRequests,
		Issuer: c.Issuer,
	}
}

var comparePrefixes = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestLoadTransport(t *testing.T) {
	files := tlstest.Write(t)
	const sec = time.Second
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want transport
	}{
		{
			name: "defaults",
			want: transport{Header: 5 * sec, Read: 10 * sec, Write: 15 * sec, Idle: 60 * sec,
				Concurrent: 512, Issuer: "http://127.0.0.1:8080"},
		},
		{
			name: "everything set",
			env: map[string]string{
				"VEIL_TLS_CERT_FILE":            files.CertFile,
				"VEIL_TLS_KEY_FILE":             files.KeyFile,
				"VEIL_BEHIND_TLS_PROXY":         "true",
				"VEIL_TRUSTED_PROXIES":          "10.0.0.0/8, 192.0.2.7,fd00::/8",
				"VEIL_HTTP_READ_HEADER_TIMEOUT": "2s",
				"VEIL_HTTP_READ_TIMEOUT":        "3s",
				"VEIL_HTTP_WRITE_TIMEOUT":       "4s",
				"VEIL_HTTP_IDLE_TIMEOUT":        "5s",
				"VEIL_MAX_CONCURRENT_REQUESTS":  "64",
			},
			want: transport{
				CertFile: files.CertFile, KeyFile: files.KeyFile, BehindProxy: true,
				Trusted: prefixes("10.0.0.0/8", "192.0.2.7/32", "fd00::/8"),
				Header:  2 * sec, Read: 3 * sec, Write: 4 * sec, Idle: 5 * sec, Concurrent: 64,
				Issuer: "https://127.0.0.1:8080",
			},
		},
		{
			name: "flags win",
			env: map[string]string{
				"VEIL_TRUSTED_PROXIES":         "10.0.0.0/8",
				"VEIL_MAX_CONCURRENT_REQUESTS": "64",
			},
			args: []string{"-trusted-proxies", "172.16.0.0/12", "-max-concurrent-requests", "8",
				"-http-read-timeout", "20s", "-behind-tls-proxy"},
			want: transport{
				BehindProxy: true, Trusted: prefixes("172.16.0.0/12"),
				Header: 5 * sec, Read: 20 * sec, Write: 15 * sec, Idle: 60 * sec, Concurrent: 8,
				Issuer: "http://127.0.0.1:8080",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, transportOf(c), comparePrefixes); diff != "" {
				t.Errorf("Load(%v) mismatch (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}

// TestTransportRules checks when Veil refuses to start: plain HTTP off
// loopback without development mode or a declared proxy, half a TLS
// configuration, unusable TLS files, and bad limits.
func TestTransportRules(t *testing.T) {
	files := tlstest.Write(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	// production is a valid configuration with a database, on loopback.
	production := map[string]string{
		"VEIL_DATABASE_URL": "postgres://db/veil",
		"VEIL_ADMIN_TOKEN":  "an-admin-token-of-at-least-32-characters",
		"VEIL_MASTER_KEY":   masterKey,
	}
	public := map[string]string{
		"VEIL_PUBLIC_ADDR": "0.0.0.0:443",
		"VEIL_ISSUER":      "https://veil.example.test",
	}
	// with returns production with the variables of extra and the
	// name, value pairs kv added.
	with := func(extra map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for _, src := range []map[string]string{production, extra} {
			for k, v := range src {
				m[k] = v
			}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const (
		certVar = "VEIL_TLS_CERT_FILE"
		keyVar  = "VEIL_TLS_KEY_FILE"
		proxy   = "VEIL_BEHIND_TLS_PROXY"
		trusted = "VEIL_TRUSTED_PROXIES"
		admin   = "VEIL_ADMIN_ADDR"
	)
	cert, key := files.CertFile, files.KeyFile

	tests := []struct {
		name string
		env  map[string]string
		// want are fragments the error must hold; none means valid.
		want []string
	}{
		{name: "loopback plain http", env: with(nil)},
		{name: "public plain http refused", env: with(public), want: []string{
			"VEIL_PUBLIC_ADDR is not a loopback address", certVar, "VEIL_BEHIND_TLS_PROXY=true"}},
		{name: "public admin plain http refused", env: with(nil, admin, "[::]:8081"),
			want: []string{"VEIL_ADMIN_ADDR is not a loopback address"}},
		{name: "empty host is every interface", env: with(nil, admin, ":8081"),
			want: []string{"VEIL_ADMIN_ADDR is not a loopback address"}},
		{name: "host name is not loopback", env: with(nil, admin, "localhost:8081"),
			want: []string{"VEIL_ADMIN_ADDR is not a loopback address"}},
		{name: "public behind proxy", env: with(public, proxy, "true")},
		{name: "public behind proxy explicitly false", env: with(public, proxy, "false"),
			want: []string{"VEIL_PUBLIC_ADDR is not a loopback address"}},
		{name: "public with tls",
			env: with(public, certVar, cert, keyVar, key, admin, "0.0.0.0:8443")},
		{name: "development mode on every interface", env: map[string]string{
			"VEIL_PUBLIC_ADDR": "0.0.0.0:8080", "VEIL_ISSUER": "https://veil.example.test"}},
		{name: "proxy still needs https issuer",
			env:  with(public, proxy, "true", "VEIL_ISSUER", "http://veil.example.test"),
			want: []string{"VEIL_ISSUER must use https"}},
		{name: "cert without key", env: with(nil, certVar, cert),
			want: []string{"VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE together"}},
		{name: "key without cert", env: with(nil, keyVar, key),
			want: []string{"VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE together"}},
		{name: "missing cert file", env: with(nil, certVar, "/nonexistent/cert.pem", keyVar, key),
			want: []string{"cannot be used", "/nonexistent/cert.pem"}},
		{name: "not PEM", env: with(nil, certVar, garbage, keyVar, key),
			want: []string{"cannot be used"}},
		{name: "key of another certificate",
			env:  with(nil, certVar, cert, keyVar, tlstest.Write(t).KeyFile),
			want: []string{"cannot be used"}},
		{name: "bad proxy flag", env: with(nil, proxy, "yes please"),
			want: []string{"VEIL_BEHIND_TLS_PROXY must be true or false"}},
		{name: "bad trusted proxy",
			env:  with(nil, trusted, "10.0.0.0/8,proxy.internal,10.0.0.0/40"),
			want: []string{"VEIL_TRUSTED_PROXIES entry 2", "VEIL_TRUSTED_PROXIES entry 3"}},
		{name: "trusting everyone", env: with(nil, trusted, "0.0.0.0/0"),
			want: []string{"VEIL_TRUSTED_PROXIES entry 1 trusts every address"}},
		{name: "zero timeout", env: with(nil, "VEIL_HTTP_READ_TIMEOUT", "0s"),
			want: []string{"VEIL_HTTP_READ_TIMEOUT must be above zero"}},
		{name: "tiny timeout", env: with(nil, "VEIL_HTTP_IDLE_TIMEOUT", "1ms"),
			want: []string{"VEIL_HTTP_IDLE_TIMEOUT must be between 100ms and 1h"}},
		{name: "header timeout over read timeout",
			env:  with(nil, "VEIL_HTTP_READ_HEADER_TIMEOUT", "30s"),
			want: []string{"VEIL_HTTP_READ_HEADER_TIMEOUT must not exceed"}},
		{name: "bad write timeout", env: with(nil, "VEIL_HTTP_WRITE_TIMEOUT", "soon"),
			want: []string{"VEIL_HTTP_WRITE_TIMEOUT must be a duration"}},
		{name: "zero concurrency", env: with(nil, "VEIL_MAX_CONCURRENT_REQUESTS", "0"),
			want: []string{"VEIL_MAX_CONCURRENT_REQUESTS must be a whole number above zero"}},
		{name: "every problem at once",
			env: with(public, admin, "0.0.0.0:8081", trusted, "::/0",
				"VEIL_MAX_CONCURRENT_REQUESTS", "many"),
			want: []string{"VEIL_PUBLIC_ADDR is not", "VEIL_ADMIN_ADDR is not",
				"VEIL_MAX_CONCURRENT_REQUESTS", "VEIL_TRUSTED_PROXIES entry 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(nil, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("Validate() = %q, shows key material", err)
			}
		})
	}
}

// TestZeroLimitsAreDefaults checks that a Config built in code, with the
// limits left zero, is valid: zero means the default.
func TestZeroLimitsAreDefaults(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = 0, 0, 0, 0
	c.MaxConcurrentRequests = 0
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with zero limits = %v, want nil", err)
	}

	c.ReadHeaderTimeout = time.Minute // over the default read timeout
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "must not exceed") {
		t.Errorf("Validate() with a header timeout over the default read timeout = %v, "+
			"want a problem", err)
	}
}
