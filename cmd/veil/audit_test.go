package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// auditFake serves GET /admin/audit as the admin API documents it: events
// newest first, pages of the limit asked for (2 by default), and a next
// page token until the last. It records the queries it was sent.
type auditFake struct {
	events []map[string]any
	mu     sync.Mutex
	seen   []url.Values
}

func (f *auditFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+cliAdminToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_token",` +
			`"error_description":"the admin API needs a valid bearer token"}`))
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.seen = append(f.seen, q)
	f.mu.Unlock()
	if r.URL.Path != "/admin/audit" || q.Get("outcome") == "bogus" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request",` +
			`"error_description":"outcome must be success or failure"}`))
		return
	}

	start, _ := strconv.Atoi(q.Get("page_token"))
	n := 2
	if s := q.Get("limit"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	end := min(start+n, len(f.events))
	body := map[string]any{"items": f.events[start:end]}
	if end < len(f.events) {
		body["next_page_token"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (f *auditFake) queries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.seen
	f.seen = nil
	return out
}

// TestAudit runs `veil audit` against a fake of GET /admin/audit, written
// to the endpoint's contract.
func TestAudit(t *testing.T) {
	event := func(id, at, action, outcome string) map[string]any {
		return map[string]any{"id": id, "time": at, "actor": "admin", "action": action,
			"target": "client:c-" + id, "outcome": outcome, "request_id": "req-" + id,
			"source": "127.0.0.1", "details": map[string]any{"client_name": "App " + id}}
	}
	fake := &auditFake{events: []map[string]any{
		event("3", "2025-01-02T03:04:05.123456Z", "client.create", "success"),
		event("2", "2025-01-02T02:00:00Z", "client.delete", "failure"),
		event("1", "2025-01-01T00:00:00Z", "user.disable", "success"),
	}}
	// Text from the log goes to a terminal: a control sequence in it is
	// shown, not run.
	fake.events[2]["actor"] = "mallory\x1b[2J"
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	v := &adminVeil{t: t, secrets: []string{cliAdminToken},
		env: map[string]string{"VEIL_ADMIN_URL": srv.URL, "VEIL_ADMIN_TOKEN": cliAdminToken}}

	// Filters go to the API as given; times as RFC 3339 in UTC, a
	// duration counted back from now.
	before := time.Now()
	r := v.veil("audit", "--action", "client.create", "--actor", "admin", "--target", "client:c-3",
		"--outcome", "success", "--since", "24h", "--until", "2030-01-01T01:00:00+01:00").ok(t)
	after := time.Now()
	r.has(t, "TIME", "ACTION", "2025-01-02T03:04:05Z", "client.create", "client.delete",
		"user.disable", "failure", "client:c-1", "req-2", "127.0.0.1", `mallory\u001b[2J`)
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("audit printed a raw escape character:\n%q", r.stdout)
	}
	qs := fake.queries()
	if len(qs) != 2 || qs[1].Get("page_token") != "2" {
		t.Fatalf("audit sent %v, want two pages, the second from token 2", qs)
	}
	for name, want := range map[string]string{
		"action": "client.create", "actor": "admin", "target": "client:c-3",
		"outcome": "success", "until": "2030-01-01T00:00:00Z", "limit": "",
	} {
		if got := qs[0].Get(name); got != want {
			t.Errorf("audit sent %s=%q, want %q", name, got, want)
		}
	}
	since, err := time.Parse(time.RFC3339, qs[0].Get("since"))
	if err != nil || since.Before(before.Add(-24*time.Hour).Truncate(time.Second)) ||
		since.After(after.Add(-24*time.Hour)) {
		t.Errorf("audit --since 24h sent since=%q, want 24 hours before the call",
			qs[0].Get("since"))
	}

	// --json: the API's shape, every page in one, details kept.
	var l struct {
		Items []struct {
			ID      string         `json:"id"`
			Details map[string]any `json:"details"`
		} `json:"items"`
		Next string `json:"next_page_token"`
	}
	v.veil("audit", "--json").ok(t).json(t, &l)
	if len(l.Items) != 3 || l.Items[2].ID != "1" || l.Next != "" ||
		l.Items[0].Details["client_name"] != "App 3" {
		t.Errorf("audit --json = %+v, want the three events with their details", l)
	}
	fake.queries()
	v.veil("audit", "--json", "--limit", "1").ok(t).json(t, &l)
	qs = fake.queries()
	if len(l.Items) != 1 || l.Next != "1" || len(qs) != 1 || qs[0].Get("limit") != "1" {
		t.Errorf("audit --limit 1 = %+v after %v, want one event and the next page token", l, qs)
	}

	v.veil("audit", "--outcome", "bogus").fails(t, 1,
		"veil: audit: outcome must be success or failure (invalid_request, HTTP 400)")
	wrong := map[string]string{"VEIL_ADMIN_TOKEN": strings.Repeat("x", 40)}
	v.veilEnv(wrong, "audit").fails(t, 1, "HTTP 401")
	v.veil("audit", "--until", "-5m").fails(t, 2, "--until wants")
}
