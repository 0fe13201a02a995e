package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/pgtest"
)

// Bounds of the load TestCrashUnderLoad puts on Veil before killing it.
const (
	crashWorkers     = 4    // goroutines asking for client credentials tokens
	crashMaxRequests = 1000 // requests per goroutine, at most
	crashAfterTokens = 200  // kill once this many tokens were received
	crashAfterAtMost = 5 * time.Second
)

// TestCrashUnderLoad runs the veil command, kills it with SIGKILL while
// clients get tokens, admins register clients and an app rotates its
// refresh token, and starts it again on the same database. Whatever a
// caller was answered must be there: every token received is active, every
// client registered works, and no write is left half done.
func TestCrashUnderLoad(t *testing.T) {
	veil := startProcess(t, buildVeil(t), pgtest.DSN(t))
	in := veil.in
	rs := in.createResource(apiA, "read", "write")
	clients := make([]credentials, crashWorkers)
	for i := range clients {
		clients[i] = in.createClient("read", apiA)
	}
	web := in.createApp(true, "read offline_access", webRedirect)
	in.createUser(userName, userPassword)
	verifier := oauth2.GenerateVerifier()
	u := in.newBrowser().authorize(web.authURL("state-crash", verifier, "read", "offline_access"), userName, userPassword, true)
	first, err := web.cfg.Exchange(context.Background(), codeFrom(t, u, webRedirect, "state-crash", in.issuer), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() = %v", err)
	}

	got := runLoad(in, clients, web.creds, first.RefreshToken, veil.kill)
	t.Logf("answered before the crash: %d tokens, %d refreshes, %d clients registered",
		len(got.tokens), len(got.refreshed), len(got.registered))
	if len(got.failures) > 0 {
		t.Errorf("load before the crash answered %v, want successes only", got.failures)
	}
	if got.cut != crashWorkers+2 {
		t.Errorf("goroutines cut off by the crash = %d, want all %d: the crash must come mid-load", got.cut, crashWorkers+2)
	}
	if len(got.tokens) == 0 || len(got.refreshed) == 0 || len(got.registered) == 0 {
		t.Fatal("want some tokens, refreshes and clients answered before the crash")
	}

	veil.start()

	t.Run("every token received is active", func(t *testing.T) {
		for i, tok := range append(got.tokens, got.refreshed...) {
			if r := in.introspect(rs, tok).json(t); r["active"] != true {
				t.Errorf("introspect(token %d of %d received) = %v, want active", i+1, len(got.tokens)+len(got.refreshed), r)
			}
		}
	})

	t.Run("every client registered works", func(t *testing.T) {
		for _, c := range got.registered {
			if _, err := in.fetchToken(c, apiA, "read"); err != nil {
				t.Errorf("token for client %s registered before the crash: %v", c.ID, err)
			}
		}
	})

	t.Run("records", func(t *testing.T) {
		n := countRows(t, in.dsn, `SELECT count(*) FROM access_tokens`)
		if want := len(got.tokens) + len(got.refreshed) + 1; n < want {
			t.Errorf("access token records = %d, want at least the %d tokens received", n, want)
		}
		n = countRows(t, in.dsn, `SELECT count(*) FROM clients WHERE kind = 'client'`)
		if want := len(clients) + 1 + len(got.registered); n < want {
			t.Errorf("clients = %d, want at least the %d registered", n, want)
		}
	})

	t.Run("nothing half written", func(t *testing.T) {
		for _, c := range consistencyChecks {
			if n := countRows(t, in.dsn, c.query); n != 0 {
				t.Errorf("%s: %d rows, want 0", c.name, n)
			}
		}
	})

	t.Run("the last refresh token, or a later one, is live", func(t *testing.T) {
		// The last rotation answered may have been followed by one that
		// committed unanswered; then the token received is rightly spent.
		r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.refreshToken}})
		if r.status != http.StatusOK {
			assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		}
	})
}

// consistencyChecks count rows that a write cut short could leave behind.
var consistencyChecks = []struct{ name, query string }{
	{
		name: "access tokens of no client",
		query: `SELECT count(*) FROM access_tokens a
			WHERE NOT EXISTS (SELECT FROM clients c WHERE c.id = a.client_id)`,
	},
	{
		name: "refresh tokens without the access token issued with them",
		query: `SELECT count(*) FROM refresh_tokens r
			WHERE r.access_signature <> '' AND NOT EXISTS
				(SELECT FROM access_tokens a WHERE a.signature = r.access_signature)`,
	},
	{
		// Each rotation retires one token and stores the next in one
		// transaction; none was reused, so each family has one live token.
		name: "refresh token families without exactly one active token",
		query: `SELECT count(*) FROM (SELECT request_id FROM refresh_tokens
			GROUP BY request_id HAVING count(*) FILTER (WHERE active) <> 1) f`,
	},
	{
		name: "clients registered without their resources",
		query: `SELECT count(*) FROM clients c WHERE c.kind = 'client'
			AND NOT EXISTS (SELECT FROM client_resources r WHERE r.client_id = c.id)`,
	},
	{
		name: "resource credentials without their resource",
		query: `SELECT count(*) FROM clients c WHERE c.kind = 'resource'
			AND NOT EXISTS (SELECT FROM resources r WHERE r.client_id = c.id)`,
	},
}

// loadResult is what the callers of a load were answered.
type loadResult struct {
	tokens       []string      // access tokens from the client credentials grant
	refreshed    []string      // access tokens from refreshes
	refreshToken string        // the last refresh token received
	registered   []credentials // clients whose registration was answered 201
	failures     []error       // answers other than success
	cut          int           // goroutines stopped by a broken connection
}

// errCut is a request that got no answer: the connection broke.
type errCut struct{ error }

// answerOf returns r's transport failure as an errCut.
func answerOf(r timedResponse) (timedResponse, error) {
	if r.err != nil {
		return r, errCut{r.err}
	}
	return r, nil
}

// runLoad asks for tokens, rotates a refresh token and registers clients,
// all at once, and calls kill once enough was answered; each goroutine
// stops at its first failure, which the kill brings about.
func runLoad(in *instance, clients []credentials, app credentials, refreshToken string, kill func()) loadResult {
	var (
		mu  sync.Mutex
		res = loadResult{refreshToken: refreshToken}
		wg  sync.WaitGroup
	)
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := err.(errCut); ok {
			res.cut++
		} else {
			res.failures = append(res.failures, err)
		}
	}

	form := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}
	for _, c := range clients {
		wg.Go(func() {
			for range crashMaxRequests {
				tok, _, err := tokenFrom(in.postTimed("/oauth2/token", c, form))
				if err != nil {
					record(err)
					return
				}
				mu.Lock()
				res.tokens = append(res.tokens, tok)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		rt := refreshToken
		for range crashMaxRequests {
			at, next, err := tokenFrom(in.postTimed("/oauth2/token", app,
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}))
			if err != nil {
				record(err)
				return
			}
			rt = next
			mu.Lock()
			res.refreshed, res.refreshToken = append(res.refreshed, at), next
			mu.Unlock()
		}
	})
	wg.Go(func() {
		for range crashMaxRequests {
			c, err := in.registerClient()
			if err != nil {
				record(err)
				return
			}
			mu.Lock()
			res.registered = append(res.registered, c)
			mu.Unlock()
		}
	})

	deadline := time.Now().Add(crashAfterAtMost)
	for time.Now().Before(deadline) {
		mu.Lock()
		enough := len(res.tokens) >= crashAfterTokens
		mu.Unlock()
		if enough {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	kill()
	wg.Wait()
	return res
}

// tokenFrom reads the access and refresh tokens of a 200 token response.
func tokenFrom(r timedResponse) (access, refresh string, err error) {
	if r, err = answerOf(r); err != nil {
		return "", "", err
	}
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if r.status != http.StatusOK {
		return "", "", fmt.Errorf("token request = %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.AccessToken == "" {
		return "", "", fmt.Errorf("token response %s: no access token", r.body)
	}
	return body.AccessToken, body.RefreshToken, nil
}

// registerClient registers a client credentials client for apiA through
// the admin API. Unlike createClient it may run outside the test's
// goroutine: it returns its failure.
func (in *instance) registerClient() (credentials, error) {
	body, _ := json.Marshal(map[string]any{
		"client_name": "crash client", "grant_types": []string{"client_credentials"}, "scope": "read",
		"token_endpoint_auth_method": "client_secret_basic", "resources": []string{apiA},
	})
	req, err := http.NewRequest(http.MethodPost, in.adminURL+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		return credentials{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	r, err := answerOf(send(req))
	if err != nil {
		return credentials{}, err
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &c) != nil || c.ID == "" {
		return credentials{}, fmt.Errorf("register client = %d %s", r.status, r.body)
	}
	return credentials{ID: c.ID, Secret: c.Secret}, nil
}

// countRows runs a count(*) query on dsn.
func countRows(t *testing.T, dsn, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)

	var n int
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// buildVeil builds the veil command into a temporary directory.
func buildVeil(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "veil")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/veil-auth/veil/cmd/veil").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/veil: %v\n%s", err, out)
	}
	return bin
}

// process is the veil command serving on fixed loopback addresses, so
// that it can be killed and started again in its place.
type process struct {
	t    *testing.T
	bin  string
	env  []string
	in   *instance
	logs *syncBuffer

	cmd    *exec.Cmd
	exited chan struct{}
}

// startProcess runs bin serving dsn with a new master key, and kills it
// when the test ends.
func startProcess(t *testing.T, bin, dsn string) *process {
	t.Helper()
	pub, adm := freeAddr(t), freeAddr(t)
	base := "http://" + pub
	p := &process{
		t:   t,
		bin: bin,
		env: []string{
			"VEIL_DATABASE_URL=" + dsn,
			"VEIL_ISSUER=" + base,
			"VEIL_PUBLIC_ADDR=" + pub,
			"VEIL_ADMIN_ADDR=" + adm,
			"VEIL_ADMIN_TOKEN=" + testAdminToken,
			"VEIL_MASTER_KEY=" + base64.StdEncoding.EncodeToString(newMasterKey(t)),
			"VEIL_LOG_LEVEL=info",
		},
		in:   &instance{t: t, issuer: base, base: base, adminURL: "http://" + adm, dsn: dsn},
		logs: &syncBuffer{},
	}
	t.Cleanup(func() {
		if p.cmd != nil {
			p.kill()
		}
		if t.Failed() && os.Getenv("VEIL_TEST_LOGS") != "" {
			t.Logf("veil's output:\n%s", p.logs.String())
		}
	})
	p.start()
	return p
}

// start runs the command and waits, a bounded time, until it serves.
func (p *process) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start veil: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(p.exited)

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequest(http.MethodGet, p.in.base+"/.well-known/oauth-authorization-server", nil)
		if err != nil {
			p.t.Fatal(err)
		}
		if r := send(req); r.err == nil && r.status == http.StatusOK {
			return
		}
		select {
		case <-p.exited:
			p.t.Fatalf("veil exited while starting:\n%s", p.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("veil not serving after 30s:\n%s", p.logs.String())
}

// kill sends SIGKILL, which no process can catch or delay, and waits
// until the process is gone.
func (p *process) kill() {
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Errorf("kill veil: %v", err)
	}
	<-p.exited
	p.cmd = nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l := listen(t)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).String()
}
