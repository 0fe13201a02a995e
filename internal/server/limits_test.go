package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
)

// hostOf returns the host:port of a listener URL of the instance.
func hostOf(u string) string {
	return strings.TrimPrefix(u, "http://")
}

// TestHeaderLimit checks that a request whose headers pass 16 KiB is
// answered 431 on both listeners, and that one well under it is served.
func TestHeaderLimit(t *testing.T) {
	in := startVeil(t, "", newMasterKey(t))
	tests := []struct {
		name string
		size int
		want int
	}{
		{name: "8 KiB", size: 8 << 10, want: http.StatusOK},
		{name: "32 KiB", size: 32 << 10, want: http.StatusRequestHeaderFieldsTooLarge},
		{name: "1 MiB", size: 1 << 20, want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets := []string{in.base + "/.well-known/jwks.json", in.adminURL + "/admin/keys"}
			for _, target := range targets {
				req, err := http.NewRequest(http.MethodGet, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				req.Header.Set("X-Padding", strings.Repeat("a", tt.size))
				if r := do(t, req); r.status != tt.want {
					t.Errorf("GET %s with a %s header = %d, want %d",
						target, tt.name, r.status, tt.want)
				}
			}
		})
	}
}

// TestBodyLimits checks that every endpoint that reads a body refuses one
// past its limit instead of reading it.
func TestBodyLimits(t *testing.T) {
	in := startVeil(t, "", newMasterKey(t))
	const formType = "application/x-www-form-urlencoded"
	form := "token=" + strings.Repeat("a", 100<<10)
	tests := []struct {
		name        string
		url         string
		contentType string
		body        string
		want        int
	}{
		{"token", in.base + "/oauth2/token", formType, form, http.StatusBadRequest},
		{"introspect", in.base + "/oauth2/introspect", formType, form, http.StatusBadRequest},
		{"revoke", in.base + "/oauth2/revoke", formType, form, http.StatusBadRequest},
		{"login", in.base + "/login", formType, "request=x&" + strings.Repeat("a", 32<<10),
			http.StatusBadRequest},
		{"admin", in.adminURL + "/admin/clients", "application/json",
			`{"client_name":"` + strings.Repeat("a", 100<<10) + `"}`,
			http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			r := do(t, req)
			if r.status != tt.want {
				t.Fatalf("POST %s with %d bytes = %d %s, want %d",
					tt.name, len(tt.body), r.status, r.body, tt.want)
			}
			isJSON := strings.HasPrefix(r.header.Get("Content-Type"), "application/json")
			if isJSON && r.json(t)["error"] != "invalid_request" {
				t.Errorf("POST %s with %d bytes = %s, want invalid_request",
					tt.name, len(tt.body), r.body)
			}
		})
	}
}

// TestSlowClients checks that a client sending slowly, or not at all,
// cannot hold a connection past the configured timeouts.
func TestSlowClients(t *testing.T) {
	const (
		headerTimeout = 500 * time.Millisecond
		readTimeout   = time.Second
		idleTimeout   = time.Second
		slack         = 2 * time.Second
	)
	in := startVeilWith(t, "", newMasterKey(t), "", func(c *config.Config) {
		c.ReadHeaderTimeout, c.ReadTimeout, c.IdleTimeout = headerTimeout, readTimeout, idleTimeout
	})

	tests := []struct {
		name string
		// first is sent at once, then rest one byte every 50ms.
		first, rest string
		// readFirst reads a response before waiting for the close.
		readFirst bool
		timeout   time.Duration
	}{
		{name: "headers byte by byte", first: "GET /.well-known/jwks.json HTTP/1.1\r\n",
			rest: "Host: veil\r\nX-Slow: " + strings.Repeat("a", 1000), timeout: headerTimeout},
		{name: "body byte by byte",
			first: "POST /oauth2/token HTTP/1.1\r\nHost: veil\r\n" +
				"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
			rest: "grant_type=" + strings.Repeat("a", 989), timeout: readTimeout},
		{name: "idle after a request",
			first:     "GET /.well-known/jwks.json HTTP/1.1\r\nHost: veil\r\n\r\n",
			readFirst: true, timeout: idleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", hostOf(in.base))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.first); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go dribble(conn, tt.rest, stop)

			rd := bufio.NewReader(conn)
			if tt.readFirst {
				resp, err := http.ReadResponse(rd, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			took, err := untilClosed(conn, rd, tt.timeout+slack)
			if err != nil {
				t.Fatalf("connection: %v, want it closed within %v", err, tt.timeout)
			}
			if took < tt.timeout*8/10 {
				t.Errorf("connection closed after %v, before the %v timeout: for another reason?",
					took, tt.timeout)
			}
			t.Logf("closed after %v", took)
		})
	}
}

// dribble writes s to conn one byte every 50ms until it is written, a
// write fails or stop is closed.
func dribble(conn net.Conn, s string, stop <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(s); i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := conn.Write([]byte{s[i]}); err != nil {
			return
		}
	}
}

// untilClosed reads and discards until the server closes the connection,
// and says how long that took. It fails if the connection is still open
// after limit.
func untilClosed(conn net.Conn, rd io.Reader, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := conn.SetReadDeadline(start.Add(limit)); err != nil {
		return 0, err
	}
	_, err := io.Copy(io.Discard, rd)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, fmt.Errorf("still open after %v", limit)
	}
	return time.Since(start), nil
}

// TestConcurrencyBound fills the public listener's slots with requests
// whose body never comes, and checks that the next request is refused
// quickly with 503, that the health probes are not, that the admin
// listener keeps its own slots, and that the slots come back when the
// stuck requests end.
func TestConcurrencyBound(t *testing.T) {
	const limit = 2
	in := startVeilWith(t, "", newMasterKey(t), "", func(c *config.Config) {
		c.MaxConcurrentRequests = limit
	})
	client := &http.Client{Timeout: 5 * time.Second}
	metadata := in.base + "/.well-known/oauth-authorization-server"

	var stuck []net.Conn
	for range limit {
		conn, err := net.Dial("tcp", hostOf(in.base))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = io.WriteString(conn, "POST /oauth2/token HTTP/1.1\r\nHost: veil\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, conn)
	}

	// The stuck requests take their slots once their handlers start.
	waitForStatus(t, client, metadata, http.StatusServiceUnavailable)
	t.Run("refused quickly as temporarily_unavailable", func(t *testing.T) {
		start := time.Now()
		resp := getWith(t, client, metadata, "")
		if took := time.Since(start); took > time.Second {
			t.Errorf("refusal took %v, want well under a second", took)
		}
		if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" {
			t.Fatalf("GET metadata when saturated = %d, Retry-After %q; want 503 with Retry-After",
				resp.status, resp.header.Get("Retry-After"))
		}
		if got := resp.json(t)["error"]; got != "temporarily_unavailable" {
			t.Errorf("GET metadata when saturated: error %v, want temporarily_unavailable", got)
		}
	})
	t.Run("pages refused in plain text", func(t *testing.T) {
		r := getWith(t, client, in.base+"/login?request=x", "")
		ct := r.header.Get("Content-Type")
		if r.status != http.StatusServiceUnavailable || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET /login when saturated = %d %q, want 503 text/plain", r.status, ct)
		}
	})
	t.Run("probes answer", func(t *testing.T) {
		// An orchestrator must not take a busy replica for a dead one.
		for _, path := range []string{"/health/live", "/health/ready"} {
			if r := getWith(t, client, in.base+path, ""); r.status != http.StatusOK {
				t.Errorf("GET %s when saturated = %d, want 200", path, r.status)
			}
		}
	})
	t.Run("admin listener unaffected", func(t *testing.T) {
		r := getWith(t, client, in.adminURL+"/admin/keys", testAdminToken)
		if r.status != http.StatusOK {
			t.Errorf("GET /admin/keys with the public listener saturated = %d, want 200", r.status)
		}
	})
	t.Run("refusals logged", func(t *testing.T) {
		found := false
		for _, line := range jsonLogLines(t, in) {
			refused := line["status"] == float64(503) &&
				line["error_code"] == "temporarily_unavailable"
			if line["msg"] == "request" && refused {
				found = true
			}
		}
		if !found {
			t.Errorf("no request log line with status 503 and error_code temporarily_unavailable")
		}
	})

	for _, c := range stuck {
		c.Close()
	}
	waitForStatus(t, client, metadata, http.StatusOK)
}

// waitForStatus asks for url until the answer has status want, for at
// most five seconds.
func waitForStatus(t *testing.T, client *http.Client, url string, want int) response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := getWith(t, client, url, "")
		if r.status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d for 5s, want %d", url, r.status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getWith fetches url with client, with a bearer token when one is given.
func getWith(t *testing.T, client *http.Client, url, bearer string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// jsonLogLines returns the instance's JSON log, one map per line.
func jsonLogLines(t *testing.T, in *instance) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(in.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", s, err)
		}
		lines = append(lines, m)
	}
	return lines
}
