package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/metrics/metricstest"
	"github.com/veil-auth/veil/internal/pgtest"
)

// testMetricsToken is the metrics credential of TestMetrics.
const testMetricsToken = "test-metrics-token-0123456789abcdefghijkl"

// TestMetrics drives real token, introspection, authorization and error
// requests through a Veil on PostgreSQL and checks, in what its admin
// listener exposes, that each moved the right series by the right amount.
func TestMetrics(t *testing.T) {
	in := startVeilWith(t, pgtest.DSN(t), newMasterKey(t), "", func(c *config.Config) {
		c.MetricsToken = testMetricsToken
	})
	rs := in.createResource(apiA, "read")
	client := in.createClient("read", apiA)
	web := in.createApp(true, "read offline_access", webRedirect)
	in.createUser(userName, userPassword)
	scrapeURL := in.adminURL + "/metrics"
	before := metricstest.Scrape(t, scrapeURL, testMetricsToken)

	// Three client credentials tokens, each introspected once by the
	// resource server.
	for range 3 {
		assertActive(t, in.introspect(rs, in.mustToken(client, apiA, "read")))
	}
	// An authorization code and its refresh; a refusal at consent.
	b := in.newBrowser()
	verifier := oauth2.GenerateVerifier()
	u := b.authorize(web.authURL("state-metrics", verifier, "read", "offline_access"), userName, userPassword, false)
	tok, err := web.cfg.Exchange(t.Context(), codeFrom(t, u, webRedirect, "state-metrics", in.issuer),
		oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() = %v", err)
	}
	if _, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh = %v", err)
	}
	loc := b.location(b.get(web.authURL("state-deny", oauth2.GenerateVerifier(), "read")))
	if !strings.Contains(b.decide(loc, "deny", false), "error=access_denied") {
		t.Fatal("deny did not redirect with access_denied")
	}
	// Five failed sign-ins for another user, then one refused by the
	// throttle.
	in.createUser("bob", userPassword)
	other := in.newBrowser()
	loginLoc := other.location(other.get(web.authURL("state-failed", oauth2.GenerateVerifier(), "read")))
	for range 5 {
		other.login(loginLoc, "bob", "wrong password")
	}
	if got := other.login(loginLoc, "bob", userPassword); !strings.Contains(got, "e=throttled") {
		t.Fatalf("sign-in after five failures went to %s, want the throttled page", got)
	}
	// Errors: wrong secrets at two endpoints, an unknown grant type, a
	// scope the client lacks at the authorization endpoint, a path the
	// public listener does not serve, the admin API without its token.
	assertOAuthError(t, in.post("/oauth2/token", client.ID, "wrong-secret",
		url.Values{"grant_type": {"client_credentials"}}), http.StatusUnauthorized, "invalid_client")
	assertOAuthError(t, in.post("/oauth2/token", client.ID, client.Secret,
		url.Values{"grant_type": {"password"}}), http.StatusBadRequest, "unsupported_grant_type")
	assertOAuthError(t, in.introspect(credentials{ID: rs.ID, Secret: "wrong-secret"}, "x.y.z.a.b"),
		http.StatusUnauthorized, "invalid_client")
	q := validQuery(web.creds.ID, webRedirect)
	q.Set("scope", "admin")
	assertErrorRedirect(t, in.newBrowser().get(in.rawAuthURL(q)), webRedirect, "invalid_scope")
	if r := publicMetrics(t, in, testMetricsToken); r.status != http.StatusNotFound || strings.Contains(string(r.body), "veil_") {
		t.Errorf("GET /metrics on the public listener = %d %s, want 404", r.status, r.body)
	}
	unauthenticated(t, in.adminURL+"/admin/clients", http.StatusUnauthorized)
	after := metricstest.Scrape(t, scrapeURL, testMetricsToken)

	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"veil_tokens_issued_total", map[string]string{"grant_type": "client_credentials"}, 3},
		{"veil_tokens_issued_total", map[string]string{"grant_type": "authorization_code"}, 1},
		{"veil_tokens_issued_total", map[string]string{"grant_type": "refresh_token"}, 1},
		{"veil_http_requests_total", publicSeries("POST /oauth2/token", "ok"), 5},
		{"veil_http_request_duration_seconds", publicSeries("POST /oauth2/token", "ok"), 5},
		{"veil_http_requests_total", publicSeries("POST /oauth2/token", "invalid_client"), 1},
		{"veil_http_requests_total", publicSeries("POST /oauth2/token", "unsupported_grant_type"), 1},
		{"veil_http_requests_total", publicSeries("POST /oauth2/introspect", "ok"), 3},
		{"veil_http_requests_total", publicSeries("POST /oauth2/introspect", "invalid_client"), 1},
		{"veil_http_requests_total", publicSeries("GET /oauth2/authorize", "invalid_scope"), 1},
		{"veil_http_requests_total", publicSeries("GET /oauth2/authorize", "ok"), 3},
		{"veil_http_requests_total", publicSeries("POST /login", "ok"), 1},
		{"veil_http_requests_total", publicSeries("POST /login", "login_failed"), 5},
		{"veil_http_requests_total", publicSeries("POST /login", "login_throttled"), 1},
		{"veil_http_requests_total", publicSeries("POST /consent", "ok"), 1},
		{"veil_http_requests_total", publicSeries("POST /consent", "access_denied"), 1},
		{"veil_http_requests_total", publicSeries("/", "not_found"), 1},
		{"veil_http_requests_total", adminSeries("/", "invalid_token"), 1},
	} {
		got := delta(before, after, tt.name, tt.labels)
		if got != tt.want {
			t.Errorf("%s%v moved by %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	checkPoolMetrics(t, after)
	if strings.Contains(in.logs.String(), testMetricsToken) {
		t.Error("Veil's log holds the metrics token")
	}
}

// assertActive checks an introspection answer says active.
func assertActive(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || r.json(t)["active"] != true {
		t.Fatalf("introspect = %d %s, want active", r.status, r.body)
	}
}

func publicSeries(endpoint, outcome string) map[string]string {
	return map[string]string{"listener": "public", "endpoint": endpoint, "outcome": outcome}
}

func adminSeries(endpoint, outcome string) map[string]string {
	return map[string]string{"listener": "admin", "endpoint": endpoint, "outcome": outcome}
}

// delta is how far a sample moved between two scrapes; a sample absent
// from a scrape counts as zero there.
func delta(before, after metricstest.Families, name string, labels map[string]string) float64 {
	a, _ := after.Value(name, labels)
	b, _ := before.Value(name, labels)
	return a - b
}

// checkPoolMetrics checks that the pool gauges are there and agree with
// each other.
func checkPoolMetrics(t *testing.T, fams metricstest.Families) {
	t.Helper()
	value := func(name string) float64 {
		t.Helper()
		v, ok := fams.Value(name, nil)
		if !ok {
			t.Fatalf("no %s in the exposition", name)
		}
		return v
	}
	maxConns, total := value("veil_db_pool_max_connections"), value("veil_db_pool_total_connections")
	acquired, idle := value("veil_db_pool_acquired_connections"), value("veil_db_pool_idle_connections")
	if maxConns < 1 || total < 1 || total > maxConns || acquired+idle > total {
		t.Errorf("pool: max %v, total %v, acquired %v, idle %v; want 1 <= total <= max, acquired+idle <= total",
			maxConns, total, acquired, idle)
	}
	if n := value("veil_db_pool_acquires_total"); n < 10 {
		t.Errorf("pool acquires = %v, want at least one per request served", n)
	}
	if value("veil_db_pool_acquire_duration_seconds_total") <= 0 {
		t.Error("pool acquire duration is zero after many acquires")
	}
}

// TestMetricsKeys checks that the key gauges describe the keys GET
// /admin/keys lists, across a rotation.
func TestMetricsKeys(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	if r := in.admin(http.MethodPost, "/admin/keys/rotate", nil); r.status != http.StatusOK {
		t.Fatalf("rotate = %d %s", r.status, r.body)
	}

	var listed struct {
		Items []struct {
			ID          string    `json:"kid"`
			Use         string    `json:"use"`
			Alg         string    `json:"alg"`
			State       string    `json:"state"`
			ActivatedAt time.Time `json:"activated_at"`
		} `json:"items"`
	}
	if err := json.Unmarshal(in.admin(http.MethodGet, "/admin/keys", nil).body, &listed); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fams := metricstest.Scrape(t, in.adminURL+"/metrics", testAdminToken)
	elapsed := time.Since(start)

	counts := map[[2]string]float64{}
	active := 0
	for _, k := range listed.Items {
		if k.Use != "sig" {
			continue
		}
		counts[[2]string{k.Alg, k.State}]++
		if k.State != "active" {
			continue
		}
		active++
		age, ok := fams.Value("veil_signing_key_age_seconds", map[string]string{"alg": k.Alg, "kid": k.ID})
		want := start.Sub(k.ActivatedAt).Seconds()
		// The clock reading happens during the scrape; a second of slack
		// covers the rounding of the listing's dates.
		if !ok || age < want-1 || age > want+elapsed.Seconds()+1 {
			t.Errorf("age of active key %s (%s) = %v (present %v), want about %v", k.ID, k.Alg, age, ok, want)
		}
	}
	if n := len(fams["veil_signing_key_age_seconds"].GetMetric()); n != active || active != 2 {
		t.Errorf("%d key ages reported, %d active keys listed; want one per algorithm (2)", n, active)
	}
	for _, alg := range []string{"ES256", "RS256"} {
		for _, state := range []string{"next", "active", "retired"} {
			labels := map[string]string{"alg": alg, "state": state}
			if got, ok := fams.Value("veil_signing_keys", labels); !ok || got != counts[[2]string{alg, state}] {
				t.Errorf("veil_signing_keys%v = %v (present %v), GET /admin/keys lists %v",
					labels, got, ok, counts[[2]string{alg, state}])
			}
		}
	}
	if counts[[2]string{"ES256", "next"}] != 1 {
		t.Errorf("after a rotation GET /admin/keys lists %v next ES256 keys, want 1", counts[[2]string{"ES256", "next"}])
	}
}

// TestMetricsAccess: the metrics are on the admin listener only, and only
// for the admin token or the metrics token; the development server, which
// has no database, reports no pool.
func TestMetricsAccess(t *testing.T) {
	in := startVeilWith(t, "", newMasterKey(t), "", func(c *config.Config) {
		c.MetricsToken = testMetricsToken
	})
	for _, token := range []string{testAdminToken, testMetricsToken} {
		fams := metricstest.Scrape(t, in.adminURL+"/metrics", token)
		for name := range fams {
			if strings.HasPrefix(name, "veil_db_pool_") {
				t.Errorf("%s reported by the memory backend", name)
			}
		}
		if _, ok := fams["go_goroutines"]; !ok {
			t.Error("no Go runtime metrics")
		}
	}
	unauthenticated(t, in.adminURL+"/metrics", http.StatusUnauthorized)
	if r := publicMetrics(t, in, testAdminToken); r.status != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener = %d, want 404", r.status)
	}

	// The metrics token opens nothing else.
	req, err := http.NewRequest(http.MethodGet, in.adminURL+"/admin/clients", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	if r := do(t, req); r.status != http.StatusUnauthorized {
		t.Errorf("GET /admin/clients with the metrics token = %d, want 401", r.status)
	}

	fams := metricstest.Scrape(t, in.adminURL+"/metrics", testMetricsToken)
	if got, _ := fams.Value("veil_http_requests_total", adminSeries("GET /metrics", "invalid_token")); got != 1 {
		t.Errorf("refused scrapes counted %v, want 1", got)
	}
	if got, _ := fams.Value("veil_http_requests_total", adminSeries("/", "invalid_token")); got != 1 {
		t.Errorf("admin requests refused counted %v, want 1", got)
	}
}

// publicMetrics asks the public listener for /metrics with a token.
func publicMetrics(t *testing.T, in *instance, token string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

// unauthenticated GETs url without credentials and checks the status.
func unauthenticated(t *testing.T, url string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, req); r.status != want {
		t.Errorf("GET %s without credentials = %d, want %d", url, r.status, want)
	}
}
