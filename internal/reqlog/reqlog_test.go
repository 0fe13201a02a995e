package reqlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/reqlog"
)

// TestRequestID checks that every request gets its own ID, that handlers
// see the ID its log line names, and that the client a handler recorded
// can be read back.
func TestRequestID(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var seen []string
	h := reqlog.Middleware(log, "public", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetClient(r.Context(), "c1")
		if got := reqlog.Client(r.Context()); got != "c1" {
			t.Errorf("Client() after SetClient(c1) = %q, want c1", got)
		}
		seen = append(seen, reqlog.ID(r.Context()))
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(seen) != 2 || len(lines) != 2 {
		t.Fatalf("handled %d requests and logged %d lines, want 2 and 2", len(seen), len(lines))
	}
	if seen[0] == "" || seen[0] == seen[1] {
		t.Errorf("request IDs = %q, want two different non-empty IDs", seen)
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["request_id"] != seen[i] || m["client_id"] != "c1" {
			t.Errorf("log line %d = %v, want request_id %q and client_id c1", i, m, seen[i])
		}
	}

	// Outside a request there is nothing to read.
	if id, c := reqlog.ID(context.Background()), reqlog.Client(context.Background()); id != "" || c != "" {
		t.Errorf("ID(), Client() outside a request = %q, %q, want empty", id, c)
	}
}
