package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/server"
)

// TestBenchCommand runs `veil bench -json` against a Veil in development
// mode and reads the result back as a script would.
func TestBenchCommand(t *testing.T) {
	const adminToken = "bench-command-admin-token-0123456789abcd"
	public, admin := startDevVeil(t, adminToken)

	var stdout, stderr bytes.Buffer
	env := map[string]string{"VEIL_ADMIN_TOKEN": adminToken}
	args := []string{"bench", "-url", public, "-admin-url", admin, "-mode", "mix", "-c", "2",
		"-d", "1s", "-warmup", "200ms", "-every", "500ms", "-json"}
	if err := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("veil bench = %v; stderr:\n%s", err, stderr.String())
	}

	var res struct {
		Mode       string                     `json:"mode"`
		Requests   int64                      `json:"requests"`
		Successes  int64                      `json:"successes"`
		Errors     int64                      `json:"errors"`
		RPS        float64                    `json:"requests_per_second"`
		Latency    map[string]float64         `json:"latency_ms"`
		ByKind     map[string]int64           `json:"errors_by_kind"`
		Operations map[string]json.RawMessage `json:"operations"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("veil bench -json printed %q: %v", stdout.String(), err)
	}
	if res.Mode != "mix" || res.Requests == 0 || res.Requests != res.Successes+res.Errors || res.Errors != 0 ||
		res.RPS <= 0 || res.Latency["p99"] <= 0 || len(res.ByKind) != 0 || len(res.Operations) != 2 {
		t.Errorf("veil bench -json = %s, want a mix run of both operations without errors", stdout.String())
	}
	if !strings.Contains(stderr.String(), "req/s") {
		t.Errorf("stderr = %q, want progress lines", stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), adminToken) {
		t.Error("veil bench printed the admin token")
	}
}

func TestBenchCommandRefusals(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "no admin token", args: nil, wantErr: "VEIL_ADMIN_TOKEN"},
		{name: "remote target", args: []string{"-url", "http://192.0.2.1:8080"},
			env: map[string]string{"VEIL_ADMIN_TOKEN": "t"}, wantErr: "loopback"},
		{name: "unknown mode", args: []string{"-mode", "revoke"},
			env: map[string]string{"VEIL_ADMIN_TOKEN": "t"}, wantErr: "mode"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"bench"}, tt.args...), &out, &out,
				func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("veil bench %v = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// startDevVeil serves a development-mode Veil on loopback until the test
// ends, and returns its public and admin URLs.
func startDevVeil(t *testing.T, adminToken string) (string, string) {
	t.Helper()
	var listeners [2]net.Listener
	for i := range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[i] = ln
	}
	public := "http://" + listeners[0].Addr().String()
	// In memory, two workers outrun the default per-client token limit
	// (100/s), which this test is not about.
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"VEIL_ISSUER": public, "VEIL_ADMIN_TOKEN": adminToken,
			"VEIL_PUBLIC_ADDR": listeners[0].Addr().String(), "VEIL_ADMIN_ADDR": listeners[1].Addr().String(),
			"VEIL_RATE_LIMIT_TOKEN_PER_CLIENT": "0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("server.New() = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, listeners[0], listeners[1]) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve() = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Veil did not stop")
		}
		srv.Close()
	})
	return public, "http://" + listeners[1].Addr().String()
}
