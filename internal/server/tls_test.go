package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/server"
	"github.com/veil-auth/veil/internal/tlstest"
)

// startTLSVeil starts a development-mode Veil that serves HTTPS with a
// fresh test certificate, and returns it with the certificate files.
func startTLSVeil(t *testing.T) (*instance, tlstest.Files) {
	t.Helper()
	files := tlstest.Write(t)
	in := startVeilWith(t, "", newMasterKey(t), "", func(c *config.Config) {
		c.TLSCertFile, c.TLSKeyFile = files.CertFile, files.KeyFile
		c.Issuer = "https://" + c.PublicAddr
	})
	return in, files
}

// httpsGet fetches url with a client using tc, and returns the status and
// the TLS version of the connection.
func httpsGet(tc *tls.Config, url, bearer string) (status int, version uint16, err error) {
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc},
		Timeout:   5 * time.Second,
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS.Version, nil
}

// TestTLSServing checks that both listeners serve HTTPS when given a
// certificate: TLS 1.3 and TLS 1.2 with AEAD suites are accepted; TLS 1.1,
// CBC suites and plain HTTP are not.
func TestTLSServing(t *testing.T) {
	in, files := startTLSVeil(t)
	public := "https://" + strings.TrimPrefix(in.base, "http://")
	admin := "https://" + strings.TrimPrefix(in.adminURL, "http://")
	roots := files.Roots
	// tls12 is a TLS 1.2 client offering only suites.
	tls12 := func(suites ...uint16) *tls.Config {
		return &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12, CipherSuites: suites}
	}

	tests := []struct {
		name        string
		tc          *tls.Config
		wantVersion uint16
		// wantErr is part of the handshake error; empty means success.
		wantErr string
	}{
		{name: "tls 1.3", tc: &tls.Config{RootCAs: roots}, wantVersion: tls.VersionTLS13},
		{name: "tls 1.2 aes-gcm", tc: tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
			wantVersion: tls.VersionTLS12},
		{name: "tls 1.2 chacha20", tc: tls12(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
			wantVersion: tls.VersionTLS12},
		{name: "tls 1.2 cbc refused", wantErr: "handshake failure",
			tc: tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256)},
		{name: "tls 1.1 refused", wantErr: "protocol version",
			tc: &tls.Config{RootCAs: roots,
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets := []string{public + "/.well-known/jwks.json", admin + "/admin/keys"}
			for _, target := range targets {
				status, version, err := httpsGet(tt.tc, target, testAdminToken)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("GET %s = %d, %v; want an error with %q",
							target, status, err, tt.wantErr)
					}
					continue
				}
				if err != nil || status != http.StatusOK || version != tt.wantVersion {
					t.Errorf("GET %s = %d, %s, %v; want 200 over %s", target, status,
						tls.VersionName(version), err, tls.VersionName(tt.wantVersion))
				}
			}
		})
	}

	t.Run("metadata names the https issuer", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		client := &http.Client{Transport: tr}
		defer client.CloseIdleConnections()
		resp, err := client.Get(public + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var meta struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
			t.Fatal(err)
		}
		if meta.Issuer != public || meta.TokenEndpoint != public+"/oauth2/token" {
			t.Errorf("metadata issuer %q, token endpoint %q; want them under %s",
				meta.Issuer, meta.TokenEndpoint, public)
		}
	})

	t.Run("plain http refused", func(t *testing.T) {
		r := in.get("/.well-known/jwks.json")
		if r.status != http.StatusBadRequest {
			t.Errorf("plain GET on the TLS listener = %d %s, want 400", r.status, r.body)
		}
	})
}

// TestTLSCertificateCheckedFirst checks that a certificate Veil cannot
// use stops start-up with a clear error before storage is opened: the
// database here does not exist, and the error must be about TLS.
func TestTLSCertificateCheckedFirst(t *testing.T) {
	files, other := tlstest.Write(t), tlstest.Write(t)
	tests := []struct {
		name          string
		cert, key     string
		wantFragments []string
	}{
		{name: "missing key file", cert: files.CertFile, key: files.KeyFile + ".gone",
			wantFragments: []string{"load TLS certificate", ".gone"}},
		{name: "key of another certificate", cert: files.CertFile, key: other.KeyFile,
			wantFragments: []string{"load TLS certificate", "private key does not match"}},
		{name: "key in place of certificate", cert: files.KeyFile, key: files.KeyFile,
			wantFragments: []string{"load TLS certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{
				DatabaseURL: "postgres://veil@127.0.0.1:1/none?sslmode=disable",
				Issuer:      "https://127.0.0.1:1",
				PublicAddr:  "127.0.0.1:1", AdminAddr: "127.0.0.1:2", AdminToken: testAdminToken,
				MasterKeys: [][]byte{newMasterKey(t)}, TLSCertFile: tt.cert, TLSKeyFile: tt.key,
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
			if err == nil {
				srv.Close()
				t.Fatal("server.New() = nil error, want a TLS certificate error")
			}
			for _, f := range tt.wantFragments {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("server.New() = %q, want it to mention %q", err, f)
				}
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("server.New() = %q, shows key material", err)
			}
		})
	}
}
