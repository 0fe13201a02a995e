package server_test

import (
	"net/http"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestHealth: both probes on both listeners, without credentials; ready
// turns 503 when the database goes away.
func TestHealth(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	probe := func(base, path string) response {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return do(t, req)
	}
	for _, base := range []string{in.base, in.adminURL} {
		for _, path := range []string{"/health/live", "/health/ready"} {
			if r := probe(base, path); r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s%s = %d (%s), want 200 no-store", base, path, r.status, r.body)
			}
		}
	}

	dropDatabase(t, in)
	for _, base := range []string{in.base, in.adminURL} {
		if r := probe(base, "/health/ready"); r.status != http.StatusServiceUnavailable {
			t.Errorf("ready with the database gone = %d %s, want 503", r.status, r.body)
		}
		if r := probe(base, "/health/live"); r.status != http.StatusOK {
			t.Errorf("live with the database gone = %d, want 200", r.status)
		}
	}
}
