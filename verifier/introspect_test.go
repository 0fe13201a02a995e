package verifier_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/verifier"
)

// Introspection credentials with characters RFC 6749 §2.3.1 makes the
// client form-encode before HTTP Basic.
const (
	rsClientID = "rs:api"
	rsSecret   = "s3cret/+ %:x"
)

// introspection is a fake introspection endpoint: tokens it knows get
// their answer, others {"active":false}. It records what it was sent.
type introspection struct {
	mu      sync.Mutex
	answers map[string]map[string]any
	status  int
	hold    chan struct{}
	bad     []string // problems with requests, reported by the test
}

func (in *introspection) serve(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	hold, status := in.hold, in.status
	in.mu.Unlock()
	if hold != nil {
		<-hold
	}
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	in.mu.Lock()
	defer in.mu.Unlock()
	if !ok || id != rsClientID || secret != rsSecret {
		in.bad = append(in.bad, "credentials not sent as RFC 6749 §2.3.1 asks")
	}
	if r.URL.RawQuery != "" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		in.bad = append(in.bad, "request is not a plain form POST")
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	answer, ok := in.answers[r.PostFormValue("token")]
	if !ok {
		answer = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

func (in *introspection) set(f func(in *introspection)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f(in)
}

// activeAnswer is Veil's answer for a live token issued at t0.
func activeAnswer(issuer, aud, scope string) map[string]any {
	return map[string]any{
		"active": true, "scope": scope, "client_id": "client-1", "sub": "user-1",
		"aud": []string{aud}, "iss": issuer, "exp": t0.Add(15 * time.Minute).Unix(),
		"iat": t0.Unix(), "jti": "jti-1", "token_type": "Bearer",
	}
}

// introspected is a fake Veil with a fake introspection endpoint and one
// live token, and a verifier in introspection mode.
type introspected struct {
	veil *fakeVeil
	in   *introspection
	clk  *clock
	v    *verifier.Verifier
	tok  string
}

func introspectionSetup(t testing.TB, change func(*verifier.Config)) *introspected {
	t.Helper()
	veil := newFakeVeil(t)
	rs := newResource("ec")
	tok := veil.tokenFor(rs, "read")
	answers := map[string]map[string]any{tok: activeAnswer(veil.URL, rs.audience, "read")}
	in := &introspection{answers: answers}
	veil.set(func(v *fakeVeil) { v.introspect = in.serve })
	t.Cleanup(func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, b := range in.bad {
			t.Errorf("introspection request: %s", b)
		}
	})

	clk := newClock()
	cfg := verifier.Config{Issuer: veil.URL, Audience: rs.audience,
		ClientID: rsClientID, ClientSecret: rsSecret, Now: clk.Now}
	if change != nil {
		change(&cfg)
	}
	return &introspected{veil: veil, in: in, clk: clk, v: newVerifier(t, cfg), tok: tok}
}

// verify checks the setup's token.
func (s *introspected) verify() error {
	_, err := s.v.Verify(context.Background(), s.tok)
	return err
}

// hits reports the introspection requests made so far.
func (s *introspected) hits(t *testing.T, when string, want int64) {
	t.Helper()
	if got := s.veil.introspectHits.Load(); got != want {
		t.Errorf("introspection requests %s = %d, want %d", when, got, want)
	}
}

func TestIntrospectionClaims(t *testing.T) {
	s := introspectionSetup(t, nil)

	got, err := s.v.Verify(context.Background(), s.tok)
	if err != nil {
		t.Fatalf("Verify() = %v, want claims", err)
	}
	want := &verifier.Claims{
		Issuer: s.veil.URL, Subject: "user-1", Audience: []string{"https://api.example.test"},
		ExpiresAt: t0.Add(15 * time.Minute), IssuedAt: t0, ID: "jti-1", ClientID: "client-1",
		Scopes: []string{"read"},
	}
	if diff := cmp.Diff(want, got, ignoreRaw); diff != "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
}

func TestIntrospectionCacheTTL(t *testing.T) {
	s := introspectionSetup(t, nil)
	for i := 0; i < 5; i++ {
		if err := s.verify(); err != nil {
			t.Fatalf("Verify() = %v, want nil", err)
		}
	}
	s.hits(t, "for 5 checks", 1)
	s.clk.Advance(29 * time.Second)
	_ = s.verify()
	s.hits(t, "just inside the default TTL", 1)
	s.clk.Advance(time.Second)
	_ = s.verify()
	s.hits(t, "at the TTL", 2)
}

func TestIntrospectionCacheEndsAtExp(t *testing.T) {
	s := introspectionSetup(t, func(c *verifier.Config) { c.IntrospectionCacheTTL = time.Hour })
	_ = s.verify()
	s.clk.Advance(15*time.Minute - time.Second)
	_ = s.verify()
	s.hits(t, "just before exp", 1)
	s.clk.Advance(time.Second)
	_ = s.verify()
	s.hits(t, "at exp", 2)
}

func TestIntrospectionCacheOff(t *testing.T) {
	s := introspectionSetup(t, func(c *verifier.Config) { c.IntrospectionCacheTTL = -1 })
	_ = s.verify()
	_ = s.verify()
	s.hits(t, "without a cache", 2)
}

func TestIntrospectionInactiveNotCached(t *testing.T) {
	s := introspectionSetup(t, nil)
	s.tok = s.tok[:len(s.tok)-4] + "AAAA"
	for i := 0; i < 2; i++ {
		if err := s.verify(); kind(err) != "invalid" {
			t.Errorf("Verify(unknown token) = %s, want invalid", kind(err))
		}
	}
	s.hits(t, "for an unknown token twice", 2)
}

func TestIntrospectionErrorsNotCached(t *testing.T) {
	s := introspectionSetup(t, nil)
	s.in.set(func(in *introspection) { in.status = http.StatusBadGateway })
	if err := s.verify(); kind(err) != "unavailable" {
		t.Errorf("Verify() with Veil failing = %s, want unavailable", kind(err))
	}
	s.in.set(func(in *introspection) { in.status = 0 })
	s.clk.Advance(time.Second)
	if err := s.verify(); err != nil {
		t.Errorf("Verify() once Veil is back = %v, want nil", err)
	}
	s.hits(t, "after a failure and a success", 2)
}

func TestIntrospectionCachedClaimsChecked(t *testing.T) {
	s := introspectionSetup(t, func(c *verifier.Config) { c.Leeway = -1 })
	_ = s.verify()
	s.clk.Advance(15 * time.Minute)
	if err := s.verify(); kind(err) != "expired" {
		t.Errorf("Verify() from the cache at exp = %s, want expired", kind(err))
	}

	s = introspectionSetup(t, nil)
	c, _ := s.v.Verify(context.Background(), s.tok)
	c.Scopes[0], c.Audience[0] = "admin", "elsewhere"
	again, err := s.v.Verify(context.Background(), s.tok)
	if err != nil || again.Scopes[0] != "read" {
		t.Errorf("Verify() after a caller changed its claims = %v, %v, want scope read", again, err)
	}
}

func TestIntrospectionJunkNotSent(t *testing.T) {
	s := introspectionSetup(t, nil)
	for _, junk := range []string{"x", "a.b.c", "a.b.c.d.e.f", "a b.c.d.e", strings.Repeat("A.", 5000)} {
		if _, err := s.v.Verify(context.Background(), junk); kind(err) != "invalid" {
			t.Errorf("Verify(%.20q) = %s, want invalid", junk, kind(err))
		}
	}
	s.hits(t, "for junk", 0)
}

func TestIntrospectionConcurrentCallersShareOneRequest(t *testing.T) {
	s := introspectionSetup(t, nil)
	hold := make(chan struct{})
	s.in.set(func(in *introspection) { in.hold = hold })

	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.verify(); err != nil {
				t.Errorf("concurrent Verify() = %v, want nil", err)
			}
		}()
	}
	waitFor(t, func() bool { return s.veil.introspectHits.Load() == 1 })
	close(hold)
	wg.Wait()
	s.hits(t, "for 32 concurrent checks", 1)
}

func TestIntrospectionAnswers(t *testing.T) {
	set := func(k string, v any) map[string]any { return map[string]any{k: v} }
	tests := []struct {
		name   string
		change map[string]any // members to set; nil deletes
		raw    string         // a whole answer instead
		want   string
	}{
		{name: "active", want: "ok"},
		{name: "inactive", raw: `{"active":false}`, want: "invalid"},
		{name: "active as a string", raw: `{"active":"true"}`, want: "unavailable"},
		{name: "no active member", raw: `{"scope":"read"}`, want: "unavailable"},
		{name: "not JSON", raw: `<html>`, want: "unavailable"},
		{name: "another audience", change: set("aud", "https://other.test"), want: "audience"},
		{name: "no audience", change: set("aud", nil), want: "audience"},
		{name: "another issuer", change: set("iss", "https://evil.test"), want: "invalid"},
		{name: "a refresh token", change: set("token_type", "refresh_token"), want: "invalid"},
		{name: "no exp", change: set("exp", nil), want: "ok"},
		{name: "expired", change: set("exp", t0.Add(-time.Minute).Unix()), want: "expired"},
		{name: "exp as string", change: set("exp", "soon"), want: "unavailable"},
		{name: "scope missing", change: set("scope", "write"), want: "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := introspectionSetup(t, func(c *verifier.Config) { c.RequiredScopes = []string{"read"} })
			answer := activeAnswer(s.veil.URL, "https://api.example.test", "read")
			for k, val := range tt.change {
				if val == nil {
					delete(answer, k)
				} else {
					answer[k] = val
				}
			}
			s.in.set(func(in *introspection) { in.answers[s.tok] = answer })
			if tt.raw != "" {
				s.veil.set(func(v *fakeVeil) {
					v.introspect = func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, tt.raw) }
				})
			}

			if err := s.verify(); kind(err) != tt.want {
				t.Errorf("Verify() with answer %s = %s, want %s", tt.name, describe(err), tt.want)
			}
		})
	}
}

func TestIntrospectionEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		metadata   map[string]any
		configured bool
		want       string
		metaHits   int64
	}{
		{name: "from metadata", want: "ok", metaHits: 1},
		{name: "off the issuer's origin", want: "unavailable", metaHits: 1,
			metadata: map[string]any{"introspection_endpoint": "https://elsewhere.test/introspect"}},
		{name: "metadata naming another issuer", want: "unavailable", metaHits: 1,
			metadata: map[string]any{"issuer": "https://elsewhere.test"}},
		{name: "configured", configured: true, want: "ok", metaHits: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := introspectionSetup(t, func(c *verifier.Config) {
				if tt.configured {
					c.IntrospectionURL = c.Issuer + "/oauth2/introspect"
				}
			})
			s.veil.set(func(v *fakeVeil) { v.metadata = tt.metadata })

			if err := s.verify(); kind(err) != tt.want {
				t.Errorf("Verify() with endpoint %s = %s, want %s", tt.name, describe(err), tt.want)
			}
			if got := s.veil.metadataHits.Load(); got != tt.metaHits {
				t.Errorf("metadata requests = %d, want %d", got, tt.metaHits)
			}
		})
	}
}
