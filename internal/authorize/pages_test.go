package authorize

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOrigin(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"https://app.example.test/cb?x=1", "https://app.example.test"},
		{"http://127.0.0.1:53123/cb", "http://127.0.0.1:53123"},
		{"com.example.app:/cb", "com.example.app:"},
		{"https://a.example.test/cb;x", ""},
		{"not a uri", ""},
	}
	for _, tt := range tests {
		if got := origin(tt.uri); got != tt.want {
			t.Errorf("origin(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

func TestPageHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	pageHeaders(w, "https://app.example.test")
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' https://app.example.test"} {
		if !strings.Contains(csp, want) {
			t.Errorf("pageHeaders() CSP = %q, want it to contain %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") {
		t.Errorf("pageHeaders() CSP = %q allows scripts", csp)
	}
}

func TestCSRFToken(t *testing.T) {
	h := &Handler{csrf: []byte("0123456789abcdef0123456789abcdef")}
	tok := h.csrfToken("consent", "cookie-a", "req-1")
	tests := []struct {
		name, purpose, cookie, request, token string
		ok                                    bool
	}{
		{"match", "consent", "cookie-a", "req-1", tok, true},
		{"other cookie", "consent", "cookie-b", "req-1", tok, false},
		{"other request", "consent", "cookie-a", "req-2", tok, false},
		{"other purpose", "login", "cookie-a", "req-1", tok, false},
		{"no cookie", "consent", "", "req-1", tok, false},
		{"no token", "consent", "cookie-a", "req-1", "", false},
	}
	for _, tt := range tests {
		if got := h.checkCSRF(tt.purpose, tt.cookie, tt.request, tt.token); got != tt.ok {
			t.Errorf("checkCSRF(%s) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
