package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
)

// Bounds of the load TestSIGTERMUnderLoad puts on Veil.
const (
	termWorkers     = 8    // goroutines asking for tokens, each as its own client
	termMaxRequests = 2000 // requests per goroutine, at most
	termAfterTokens = 200  // signal once this many tokens were received
	termAfterAtMost = 5 * time.Second
)

// TestSIGTERMUnderLoad runs the veil command and sends it SIGTERM while
// clients get tokens and one admin request is held in flight. Shutdown
// must lose no committed request: every request is answered in full or
// not taken at all, every token answered is there after a restart and no
// other was stored, the held request completes, both listeners stop
// accepting, and the process exits 0 within ShutdownTimeout, saying so.
func TestSIGTERMUnderLoad(t *testing.T) {
	veil := startProcess(t, buildVeil(t), pgtest.DSN(t))
	in := veil.in
	rs := in.createResource(apiA, "read")
	clients := make([]credentials, termWorkers)
	for i := range clients {
		clients[i] = in.createClient("read", apiA)
	}
	held := holdAdminRequest(t, in)

	got := runTokenLoad(in, clients, func() {
		if err := veil.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("send SIGTERM: %v", err)
		}
	})
	t.Logf("answered: %d tokens; stopped by the shutdown: %d of %d workers",
		len(got.tokens), got.cut, termWorkers)
	if len(got.failures) > 0 {
		t.Errorf("answers other than a full 200 or a refused connection: %v", got.failures)
	}
	if got.cut != termWorkers {
		t.Errorf("workers stopped by the shutdown = %d, want all %d: the signal must come mid-load",
			got.cut, termWorkers)
	}

	veil.waitForLog(t, "veil shutting down")
	for _, addr := range []string{in.base, in.adminURL} {
		waitRefused(t, strings.TrimPrefix(addr, "http://"))
	}
	registered := held.finish(t)
	code := veil.waitExit(t, server.ShutdownTimeout+10*time.Second)
	if code != 0 {
		t.Errorf("veil exited %d after SIGTERM, want 0:\n%s", code, veil.logs.String())
	}
	veil.waitForLog(t, "veil shut down")

	veil.start()

	t.Run("every token answered is active", func(t *testing.T) {
		for i, tok := range got.tokens {
			if r := in.introspect(rs, tok).json(t); r["active"] != true {
				t.Errorf("introspect(token %d of %d) = %v, want active", i+1, len(got.tokens), r)
			}
		}
	})
	t.Run("no token stored unanswered", func(t *testing.T) {
		if n := countRows(t, in.dsn, `SELECT count(*) FROM access_tokens`); n != len(got.tokens) {
			t.Errorf("access token records = %d, want the %d tokens answered", n, len(got.tokens))
		}
	})
	t.Run("the request in flight at the signal completed", func(t *testing.T) {
		if _, err := in.fetchToken(registered, apiA, "read"); err != nil {
			t.Errorf("token for the client registered during shutdown: %v", err)
		}
	})
}

// tokenLoad is what the token load was answered.
type tokenLoad struct {
	tokens   []string
	failures []error
	cut      int // workers stopped by a request the server did not take
}

// runTokenLoad asks for client credentials tokens from one goroutine per
// client and calls signal once enough were answered. Each goroutine stops
// at its first request that got no answer at all.
func runTokenLoad(in *instance, clients []credentials, signal func()) tokenLoad {
	var (
		mu  sync.Mutex
		res tokenLoad
		wg  sync.WaitGroup
	)
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}
	for _, c := range clients {
		wg.Go(func() {
			for range termMaxRequests {
				tok, err := fullToken(in.postTimed("/oauth2/token", c, form))
				mu.Lock()
				switch {
				case errors.As(err, new(errCut)):
					res.cut++
				case err != nil:
					res.failures = append(res.failures, err)
				default:
					res.tokens = append(res.tokens, tok)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}

	deadline := time.Now().Add(termAfterAtMost)
	for time.Now().Before(deadline) {
		mu.Lock()
		enough := len(res.tokens) >= termAfterTokens
		mu.Unlock()
		if enough {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	signal()
	wg.Wait()
	return res
}

// fullToken reads the access token of a 200 answer. A request that got no
// answer at all (refused, or closed before the server read it) is errCut;
// an answer cut off after its headers, or any status but 200, is another
// error.
func fullToken(r timedResponse) (string, error) {
	if r.err != nil && r.status == 0 {
		return "", errCut{r.err}
	}
	if r.err != nil {
		return "", fmt.Errorf("answer %d cut short: %w", r.status, r.err)
	}
	if r.status != http.StatusOK {
		return "", fmt.Errorf("token request = %d %s", r.status, r.body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token response %q: no access token", r.body)
	}
	return body.AccessToken, nil
}

// heldRequest is an admin request whose handler is running, waiting for
// its body.
type heldRequest struct {
	conn net.Conn
	br   *bufio.Reader
	body []byte
}

// holdAdminRequest starts registering a client and stops before the body.
// It sends Expect: 100-continue, and Veil answers 100 Continue only once
// the handler reads the body: from then on the request is in flight, as
// the server sees it, however long the body takes.
func holdAdminRequest(t *testing.T, in *instance) *heldRequest {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"client_name": "registered during shutdown", "grant_types": []string{"client_credentials"},
		"scope": "read", "token_endpoint_auth_method": "client_secret_basic",
		"resources": []string{apiA},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(in.adminURL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /admin/clients HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		addr, testAdminToken, len(body))

	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("answer to Expect: 100-continue = %q, %v; want 100 Continue", status, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("100 Continue followed by %q, %v; want the end of its header", blank, err)
	}
	return &heldRequest{conn: conn, br: br, body: body}
}

// finish sends the body and reads the whole answer, which must register
// the client.
func (h *heldRequest) finish(t *testing.T) credentials {
	t.Helper()
	if _, err := h.conn.Write(h.body); err != nil {
		t.Fatalf("send the held request's body: %v", err)
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		t.Fatalf("answer to the held request: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("answer to the held request cut short: %v", err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &c) != nil || c.ID == "" {
		t.Fatalf("held request = %d %s, want 201 with a client", resp.StatusCode, body)
	}
	return credentials{ID: c.ID, Secret: c.Secret}
}

// waitRefused waits, a bounded time, until connections to addr are
// refused: the listener is closed.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			// Close at once: a connection the server accepted before
			// its listener closed would be waited for.
			conn.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections 10s after shutdown began", addr)
}

// waitForLog waits, a bounded time, until veil's output holds msg as a
// log message.
func (p *process) waitForLog(t *testing.T, msg string) {
	t.Helper()
	want := fmt.Sprintf(`"msg":%q`, msg)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.logs.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("veil did not log %q within 10s:\n%s", msg, p.logs.String())
}

// waitExit waits at most limit for the process to exit and returns its
// exit code.
func (p *process) waitExit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("veil still running %v after SIGTERM:\n%s", limit, p.logs.String())
	}
	code := p.cmd.ProcessState.ExitCode()
	p.cmd = nil
	return code
}
