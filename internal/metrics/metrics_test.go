package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/metrics"
	"github.com/veil-auth/veil/internal/metrics/metricstest"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// scrapeOf serves m's metrics over HTTP for one scrape.
func scrapeOf(t *testing.T, m *metrics.Metrics) metricstest.Families {
	t.Helper()
	srv := httptest.NewServer(m.Handler(testToken))
	defer srv.Close()
	return metricstest.Scrape(t, srv.URL, testToken)
}

func TestTokenIssued(t *testing.T) {
	m := metrics.New(metrics.Config{})
	before := scrapeOf(t, m)
	for _, gt := range []string{"client_credentials", "client_credentials", "refresh_token", "password", ""} {
		m.TokenIssued(gt)
	}
	after := scrapeOf(t, m)

	for gt, want := range map[string]float64{"client_credentials": 2, "refresh_token": 1, "authorization_code": 0} {
		labels := map[string]string{"grant_type": gt}
		if v, ok := before.Value("veil_tokens_issued_total", labels); !ok || v != 0 {
			t.Errorf("before any token, %s = %v (present %v), want a 0", gt, v, ok)
		}
		if got, _ := after.Value("veil_tokens_issued_total", labels); got != want {
			t.Errorf("veil_tokens_issued_total{grant_type=%q} = %v, want %v", gt, got, want)
		}
	}
	if n := len(after["veil_tokens_issued_total"].GetMetric()); n != 3 {
		t.Errorf("veil_tokens_issued_total has %d series, want the 3 grant types only", n)
	}
}

func TestObserveJanitor(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.ObserveJanitor(janitor.Report{Duration: 2 * time.Second,
		Deleted: map[storage.Expiring]int{storage.ExpiringAccessTokens: 5, storage.ExpiringCodes: 0}})
	m.ObserveJanitor(janitor.Report{Duration: time.Second, Err: errors.New("statement timeout"),
		Deleted: map[storage.Expiring]int{storage.ExpiringAccessTokens: 3, storage.ExpiringCodes: -1}})
	m.ObserveJanitor(janitor.Report{Skipped: true, Duration: time.Hour})
	fams := scrapeOf(t, m)

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"veil_janitor_runs_total", map[string]string{"outcome": "ok"}, 1},
		{"veil_janitor_runs_total", map[string]string{"outcome": "error"}, 1},
		{"veil_janitor_runs_total", map[string]string{"outcome": "skipped"}, 1},
		{"veil_janitor_deleted_rows_total", map[string]string{"kind": "access_tokens"}, 8},
		{"veil_janitor_deleted_rows_total", map[string]string{"kind": "codes"}, 0},
		{"veil_janitor_run_duration_seconds", nil, 2},
	}
	for _, tt := range tests {
		if got, ok := fams.Value(tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	h := fams.Metric("veil_janitor_run_duration_seconds", nil)
	if got := h.GetHistogram().GetSampleSum(); got != 3 {
		t.Errorf("janitor duration sum = %v s, want 3 (the skipped run not counted)", got)
	}
}

// TestRuntimeCollectors checks the Go runtime and process metrics, and
// that a Veil without a pool reports none.
func TestRuntimeCollectors(t *testing.T) {
	fams := scrapeOf(t, metrics.New(metrics.Config{}))
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s in the exposition", name)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "veil_db_pool_") || strings.HasPrefix(name, "veil_signing_key") {
			t.Errorf("%s reported with no pool and no keys configured", name)
		}
	}
}

// TestRegistriesAreSeparate: two Metrics in one process count apart.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := metrics.New(metrics.Config{}), metrics.New(metrics.Config{})
	a.TokenIssued("client_credentials")
	labels := map[string]string{"grant_type": "client_credentials"}
	if got, _ := scrapeOf(t, a).Value("veil_tokens_issued_total", labels); got != 1 {
		t.Errorf("first Metrics counted %v tokens, want 1", got)
	}
	if got, _ := scrapeOf(t, b).Value("veil_tokens_issued_total", labels); got != 0 {
		t.Errorf("second Metrics counted %v tokens, want 0", got)
	}
}

// clock is a settable clock for the key manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestKeyMetrics follows a rotation through the key gauges, with a real
// key manager on the memory store and a clock the test moves.
func TestKeyMetrics(t *testing.T) {
	ctx := context.Background()
	sealer, err := keys.NewSealer([][]byte{make([]byte, keys.MasterKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	policy := keys.Policy{
		Algorithms:       []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA},
		RotationInterval: 24 * time.Hour, PrePublish: time.Hour, Retain: 48 * time.Hour,
	}
	km := keys.NewManager(memory.New(), sealer, policy, clk.now, nil)
	m := metrics.New(metrics.Config{Keys: km})
	if fams := scrapeOf(t, m); len(fams["veil_signing_keys"].GetMetric()) != 0 {
		t.Error("key gauges reported before the keys are loaded")
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}

	clk.advance(3 * time.Hour)
	first := km.Current().SigningKeys()
	checkKeys(t, scrapeOf(t, m), map[string]float64{"next": 0, "active": 1, "retired": 0})
	checkAge(t, scrapeOf(t, m), first, 3*time.Hour)

	if err := km.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, scrapeOf(t, m), map[string]float64{"next": 1, "active": 1, "retired": 0})

	clk.advance(90 * time.Minute)
	second := km.Current().SigningKeys()
	checkKeys(t, scrapeOf(t, m), map[string]float64{"next": 0, "active": 1, "retired": 1})
	var newer []keys.SigningKeyInfo
	for _, k := range second {
		if k.State(clk.now()) == keys.StateActive {
			newer = append(newer, k)
		}
	}
	checkAge(t, scrapeOf(t, m), newer, 30*time.Minute)
}

// checkKeys checks the count of keys in each state, for both algorithms.
func checkKeys(t *testing.T, fams metricstest.Families, want map[string]float64) {
	t.Helper()
	for _, alg := range []string{"ES256", "EdDSA"} {
		for state, n := range want {
			labels := map[string]string{"alg": alg, "state": state}
			if got, ok := fams.Value("veil_signing_keys", labels); !ok || got != n {
				t.Errorf("veil_signing_keys%v = %v (present %v), want %v", labels, got, ok, n)
			}
		}
	}
}

// checkAge checks that exactly the given keys have an age, of age.
func checkAge(t *testing.T, fams metricstest.Families, active []keys.SigningKeyInfo, age time.Duration) {
	t.Helper()
	if n := len(fams["veil_signing_key_age_seconds"].GetMetric()); n != len(active) {
		t.Errorf("veil_signing_key_age_seconds has %d series, want %d", n, len(active))
	}
	for _, k := range active {
		labels := map[string]string{"alg": string(k.Algorithm), "kid": k.ID}
		if got, _ := fams.Value("veil_signing_key_age_seconds", labels); got != age.Seconds() {
			t.Errorf("veil_signing_key_age_seconds%v = %v, want %v", labels, got, age.Seconds())
		}
	}
}

// TestPoolMetrics reads the statistics of a real pool on PostgreSQL.
func TestPoolMetrics(t *testing.T) {
	ctx := context.Background()
	store, err := postgres.New(ctx, pgtest.Migrated(t)+"&pool_max_conns=3")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const pings = 5
	for range pings {
		if err := store.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrapeOf(t, metrics.New(metrics.Config{Pool: store}))

	value := func(name string) float64 {
		t.Helper()
		v, ok := fams.Value(name, nil)
		if !ok {
			t.Fatalf("no %s in the exposition", name)
		}
		return v
	}
	if got := value("veil_db_pool_max_connections"); got != 3 {
		t.Errorf("max connections = %v, want 3 (pool_max_conns)", got)
	}
	if got := value("veil_db_pool_acquires_total"); got < pings {
		t.Errorf("acquires = %v, want at least the %d pings", got, pings)
	}
	total, idle := value("veil_db_pool_total_connections"), value("veil_db_pool_idle_connections")
	if total < 1 || total > 3 || idle > total || value("veil_db_pool_acquired_connections") != 0 {
		t.Errorf("pool holds %v connections, %v idle, %v acquired; want 1 to 3, all idle",
			total, idle, value("veil_db_pool_acquired_connections"))
	}
	for _, name := range []string{"veil_db_pool_acquire_duration_seconds_total", "veil_db_pool_empty_acquires_total",
		"veil_db_pool_empty_acquire_wait_seconds_total", "veil_db_pool_canceled_acquires_total",
		"veil_db_pool_constructing_connections"} {
		if v := value(name); v < 0 {
			t.Errorf("%s = %v, want a count or time", name, v)
		}
	}
}
