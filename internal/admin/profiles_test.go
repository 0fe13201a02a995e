package admin_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// TestProfiles checks that runtime profiles are served only when enabled,
// and then only to the admin.
func TestProfiles(t *testing.T) {
	hasher, err := secret.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	handler := func(on bool) http.Handler {
		return admin.New(admin.Config{Store: memory.New(), Hasher: hasher, Token: adminToken, Profiling: on})
	}
	// gzip is how every pprof profile begins.
	gzipMagic := []byte{0x1f, 0x8b}
	tests := []struct {
		name     string
		enabled  bool
		path     string
		token    string
		status   int
		wantGzip bool
	}{
		{"heap", true, "/admin/debug/pprof/heap", adminToken, http.StatusOK, true},
		{"goroutine", true, "/admin/debug/pprof/goroutine", adminToken, http.StatusOK, true},
		{"cpu", true, "/admin/debug/pprof/profile?seconds=1", adminToken, http.StatusOK, true},
		{"cpu, bad seconds", true, "/admin/debug/pprof/profile?seconds=9999", adminToken, http.StatusBadRequest, false},
		{"unknown profile", true, "/admin/debug/pprof/secrets", adminToken, http.StatusNotFound, false},
		{"without the admin token", true, "/admin/debug/pprof/heap", "", http.StatusUnauthorized, false},
		{"disabled", false, "/admin/debug/pprof/heap", adminToken, http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			handler(tt.enabled).ServeHTTP(rec, req)
			if rec.Code != tt.status || bytes.HasPrefix(rec.Body.Bytes(), gzipMagic) != tt.wantGzip {
				t.Errorf("GET %s = %d, %d bytes; want %d and a profile: %v", tt.path, rec.Code,
					rec.Body.Len(), tt.status, tt.wantGzip)
			}
		})
	}
}
