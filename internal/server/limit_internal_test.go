package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimitConcurrency fills every slot with requests that block, and
// checks that the next request is refused at once, in the shape its path
// calls for, and that a freed slot is usable again.
func TestLimitConcurrency(t *testing.T) {
	const n = 3
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	h := limitConcurrency(n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))

	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/block", nil))
		})
	}
	for range n {
		<-entered
	}

	tests := []struct {
		name     string
		path     string
		wantType string
		wantJSON bool
	}{
		{"token endpoint", "/oauth2/token", "application/json", true},
		{"metadata", "/.well-known/oauth-authorization-server", "application/json", true},
		{"admin api", "/admin/clients", "application/json", true},
		{"login page", "/login", "text/plain; charset=utf-8", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Errorf("refusal took %v, want it at once", took)
			}

			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("ServeHTTP(%s) with every slot taken = %d, want 503", tt.path, rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !tt.wantJSON {
				return
			}
			var body struct {
				Error string `json:"error"`
			}
			err := json.Unmarshal(rec.Body.Bytes(), &body)
			if err != nil || body.Error != "temporarily_unavailable" {
				t.Errorf("body = %s, want the temporarily_unavailable error", rec.Body)
			}
		})
	}

	close(release)
	wg.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth2/token", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("ServeHTTP() after the slots were freed = %d, want 200", rec.Code)
	}
}

func TestBusyBodyIsJSON(t *testing.T) {
	if !json.Valid([]byte(busyJSON)) || !strings.Contains(busyJSON, `"temporarily_unavailable"`) {
		t.Errorf("busyJSON = %s, want a JSON temporarily_unavailable error", busyJSON)
	}
}

// TestDeadlineAfterBody checks that behind bodyFirst, withDeadline's clock
// starts once the body has arrived, and that a body read that fails
// reaches the handler.
func TestDeadlineAfterBody(t *testing.T) {
	const d = 100 * time.Millisecond
	tests := []struct {
		name    string
		body    io.Reader
		wantErr bool
	}{
		{name: "slow body", body: slowReader{strings.NewReader("a=b"), 3 * d}},
		{name: "failed body", body: io.MultiReader(strings.NewReader("a="), errReader{}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readErr, ctxErr error
			h := bodyFirst(withDeadline(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, readErr = io.ReadAll(r.Body)
				ctxErr = r.Context().Err()
			})))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", tt.body))
			if ctxErr != nil {
				t.Errorf("context after reading the body: %v, want none", ctxErr)
			}
			if (readErr != nil) != tt.wantErr {
				t.Errorf("reading the body = %v, want error %v", readErr, tt.wantErr)
			}
		})
	}
}

// slowReader waits delay before its first read.
type slowReader struct {
	r     io.Reader
	delay time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.r.Read(p)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
