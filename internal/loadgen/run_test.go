package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/loadgen"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
	"github.com/veil-auth/veil/internal/token"
)

const adminToken = "loadgen-test-admin-token-0123456789abcdef"

// veil is a Veil serving on loopback for one test.
type veil struct {
	t             *testing.T
	srv           *server.Server
	public, admin string
}

// startVeil starts Veil on dsn, or in development mode when dsn is
// empty, and stops it when the test ends.
func startVeil(t *testing.T, dsn string) *veil {
	t.Helper()
	pub, adm := listen(t), listen(t)
	cfg := &config.Config{
		DatabaseURL: dsn, Issuer: "http://" + pub.Addr().String(),
		PublicAddr: pub.Addr().String(), AdminAddr: adm.Addr().String(),
		AdminToken: adminToken, MasterKeys: [][]byte{bytes.Repeat([]byte{3}, 32)},
		AccessTokenLifespan: 15 * time.Minute, AuthorizeCodeLifespan: time.Minute,
		RefreshTokenLifespan: time.Hour, SessionLifetime: time.Hour,
		SigningAlgorithms: []string{"ES256"}, KeyRotationInterval: 24 * time.Hour,
		JWKSMaxAge: time.Minute, KeyRefreshInterval: time.Second,
		LogFormat: "json", LogLevel: "warn",
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
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
	return &veil{t: t, srv: srv, public: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String()}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// config returns a short run against v.
func (v *veil) config(mode loadgen.Mode, workers int) loadgen.Config {
	return loadgen.Config{PublicURL: v.public, AdminURL: v.admin, AdminToken: adminToken,
		Mode: mode, Concurrency: workers, Duration: time.Second, PoolSize: 4}
}

// adminIDs lists, as the admin, the IDs of the clients or resources
// Veil holds.
func (v *veil) adminIDs(what string) []string {
	v.t.Helper()
	var page struct {
		Items []map[string]any `json:"items"`
	}
	v.adminCall(http.MethodGet, "/admin/"+what+"?limit=200", &page)
	var ids []string
	for _, it := range page.Items {
		id, _ := it["client_id"].(string)
		if what == "resources" {
			id, _ = it["id"].(string)
		}
		ids = append(ids, id)
	}
	return ids
}

func (v *veil) adminCall(method, path string, out any) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.admin+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		v.t.Fatalf("%s %s = %d, want 2xx", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			v.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// checkCounts fails unless every count of res adds up.
func checkCounts(t *testing.T, res *loadgen.Result) {
	t.Helper()
	check := func(name string, c loadgen.Counts) {
		var kinds int64
		for _, n := range c.Errors {
			kinds += n
		}
		if c.Requests != c.Successes+c.Failures || kinds != c.Failures {
			t.Errorf("%s: %d requests, %d successes, %d errors (%d by kind): they do not add up",
				name, c.Requests, c.Successes, c.Failures, kinds)
		}
		if c.Requests > 0 && (c.Latency.P50 <= 0 || c.Latency.P50 > c.Latency.P99 || c.Latency.P99 > c.Latency.Max) {
			t.Errorf("%s: latency %+v is not ordered", name, c.Latency)
		}
	}
	check("total", res.Counts)
	var sum int64
	for name, c := range res.Operations {
		check(name, c)
		sum += c.Requests
	}
	if sum != res.Requests {
		t.Errorf("operations hold %d requests, the total %d", sum, res.Requests)
	}
}

// tokenCounter collects the tokens a run obtains.
type tokenCounter struct {
	mu     sync.Mutex
	tokens []string
}

func (c *tokenCounter) add(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = append(c.tokens, tok)
}

// TestRunAgainstVeil drives each mode briefly against a Veil on
// PostgreSQL, and checks the result against what Veil recorded: every
// token the driver got is a nested token Veil signed and encrypted, with
// a record; introspections found them active; and the run leaves no
// client, resource or token record behind unless told to keep them.
func TestRunAgainstVeil(t *testing.T) {
	dsn := pgtest.DSN(t)
	v := startVeil(t, dsn)
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	records := func() int64 {
		var n int64
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM access_tokens").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tests := []struct {
		mode loadgen.Mode
		keep bool
		pool bool // whether the workers fill a pool first
	}{
		{loadgen.ModeToken, true, false},
		{loadgen.ModeIntrospect, true, true},
		{loadgen.ModeMix, false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			const workers = 3
			cfg := v.config(tt.mode, workers)
			cfg.Keep = tt.keep
			var seen tokenCounter
			loadgen.SetTokenSeen(&cfg, seen.add)
			before := records()

			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run(%s) = %v", tt.mode, err)
			}
			checkCounts(t, res)
			if res.Requests == 0 || res.Failures != 0 {
				t.Fatalf("Run(%s) = %d requests, errors %v; want some, and none failed", tt.mode, res.Requests, res.Errors)
			}

			// With no warm-up, every token obtained is counted: the
			// pools' and the measured requests'.
			want := res.Operations["client_credentials"].Successes
			if tt.pool {
				want += workers * int64(cfg.PoolSize)
			}
			if int64(len(seen.tokens)) != want {
				t.Errorf("the driver saw %d tokens, want %d", len(seen.tokens), want)
			}
			set := v.srv.Keys().Current()
			for _, tok := range seen.tokens {
				c, err := token.Parse(set, tok)
				if err != nil {
					t.Fatalf("a token the driver got does not parse as Veil's: %v", err)
				}
				if len(c.Audience) != 1 || !strings.HasPrefix(c.Audience[0], "https://veil-bench.test/") ||
					!c.Valid(time.Now(), 0) || c.Issuer != v.public {
					t.Fatalf("a token the driver got has claims %+v, want a live one for a bench resource", c)
				}
			}

			if tt.keep {
				if got := records() - before; got != want {
					t.Errorf("Veil recorded %d tokens during the run, want %d", got, want)
				}
				return
			}
			if c, r := v.adminIDs("clients"), v.adminIDs("resources"); len(c) != 2*workers || len(r) != 2*workers {
				t.Errorf("after a run that keeps nothing, %d clients and %d resources remain, "+
					"want the %d of the two earlier runs", len(c), len(r), 2*workers)
			}
			if got := records(); got != before {
				t.Errorf("%d token records after the run, want the %d before it", got, before)
			}
		})
	}
}

// TestRunWrongAdminToken checks that a refused admin token stops the run
// before it starts, with an error that says so.
func TestRunWrongAdminToken(t *testing.T) {
	v := startVeil(t, "")
	cfg := v.config(loadgen.ModeToken, 2)
	cfg.AdminToken = "not-the-admin-token-0123456789abcdefghij"
	res, err := loadgen.Run(context.Background(), cfg)
	if res != nil || !errors.Is(err, loadgen.ErrAdmin) || !strings.Contains(err.Error(), "admin token was refused") {
		t.Fatalf("Run(wrong admin token) = %v, %v; want ErrAdmin saying the token was refused", res, err)
	}
	if strings.Contains(err.Error(), cfg.AdminToken) {
		t.Error("the error repeats the admin token")
	}
	if ids := v.adminIDs("clients"); len(ids) != 0 {
		t.Errorf("%d clients registered by a refused run", len(ids))
	}
}

// TestRunCountsInvalidClient rotates the secrets of the driver's clients
// while it runs: the requests made with the old ones are counted as
// invalid_client, beside the earlier successes.
func TestRunCountsInvalidClient(t *testing.T) {
	v := startVeil(t, "")
	cfg := v.config(loadgen.ModeToken, 2)
	cfg.Duration = 1500 * time.Millisecond

	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(v.adminIDs("clients")) < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		for _, id := range v.adminIDs("clients") {
			v.adminCall(http.MethodPost, "/admin/clients/"+id+"/secret", nil)
		}
	}()
	res, err := loadgen.Run(context.Background(), cfg)
	<-done
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	checkCounts(t, res)
	if res.Errors["HTTP 401 invalid_client"] == 0 || res.Successes == 0 {
		t.Errorf("Run() = %d successes, errors %v; want both successes and HTTP 401 invalid_client",
			res.Successes, res.Errors)
	}
	if len(res.Errors) != 1 {
		t.Errorf("errors by kind = %v, want invalid_client alone", res.Errors)
	}
}

// TestRunCountsTransportErrors points the token requests at a port where
// nothing listens: every request is counted as refused.
func TestRunCountsTransportErrors(t *testing.T) {
	v := startVeil(t, "")
	ln := listen(t)
	closed := "http://" + ln.Addr().String()
	ln.Close()

	cfg := v.config(loadgen.ModeToken, 2)
	cfg.PublicURL = closed
	cfg.Duration = 300 * time.Millisecond
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	checkCounts(t, res)
	if res.Requests == 0 || res.Errors["transport: connection refused"] != res.Requests {
		t.Errorf("Run() = %d requests, errors %v; want every one refused", res.Requests, res.Errors)
	}
}

// TestRunRefusesRemoteTargets checks that only loopback IP literals are
// targets unless allowed. Nothing is sent: the configuration is refused
// first.
func TestRunRefusesRemoteTargets(t *testing.T) {
	for _, target := range []string{"http://192.0.2.1:8080", "http://localhost:8080", "https://veil.example.test",
		"ftp://127.0.0.1", "http://user:pw@127.0.0.1:8080"} {
		cfg := loadgen.Config{PublicURL: target, AdminURL: "http://[::1]:8081", AdminToken: adminToken}
		if _, err := loadgen.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "public URL") {
			t.Errorf("Run(public URL %s) = %v, want it refused", target, err)
		}
	}
}
