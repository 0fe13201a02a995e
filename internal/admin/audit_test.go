package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// auditJSON is the JSON shape of an audit event.
type auditJSON struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Target    string            `json:"target"`
	Outcome   string            `json:"outcome"`
	RequestID string            `json:"request_id"`
	Source    string            `json:"source"`
	Details   map[string]string `json:"details"`
}

// auditRow is what the tests compare of an event.
type auditRow struct {
	Action, Target string
	Details        map[string]string
}

// auditList reads one page of GET /admin/audit with the given query.
func (e *env) auditList(query string) listJSON[auditJSON] {
	e.t.Helper()
	var list listJSON[auditJSON]
	e.do(http.MethodGet, "/admin/audit?"+query, nil).want(e.t, http.StatusOK, &list)
	return list
}

// auditRows reads every event of the listing with the given query,
// following page tokens, newest first.
func (e *env) auditRows(query string) []auditJSON {
	e.t.Helper()
	var all []auditJSON
	token := ""
	for range 100 {
		q := query
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		page := e.auditList(q)
		all = append(all, page.Items...)
		if token = page.NextPageToken; token == "" {
			return all
		}
	}
	e.t.Fatal("the audit listing did not end after 100 pages")
	return nil
}

// testAuditChanges makes every kind of change the admin API offers and
// checks the event each one recorded, newest first, and that the listing
// holds no secret the changes handled.
func testAuditChanges(t *testing.T, e *env) {
	res := e.createResource(apiURL, "read", "write")
	e.do(http.MethodPut, "/admin/resources/"+res.ID, resourceBody(apiURL+"/v2", "read")).
		want(t, http.StatusOK, nil)
	var rotatedRes resourceJSON
	e.do(http.MethodPost, "/admin/resources/"+res.ID+"/secret", nil).want(t, http.StatusOK, &rotatedRes)
	c := e.createClient(with(clientBody(), "resources", []string{apiURL + "/v2"}))
	e.do(http.MethodPut, "/admin/clients/"+c.ClientID, with(clientBody(), "resources",
		[]string{apiURL + "/v2"}, "client_name", "Renamed")).want(t, http.StatusOK, nil)
	var rotated clientJSON
	e.do(http.MethodPost, "/admin/clients/"+c.ClientID+"/secret", nil).want(t, http.StatusOK, &rotated)
	u := e.createUser(userBody())
	e.do(http.MethodPut, "/admin/users/"+u.ID, map[string]any{"username": "alice2",
		"password": "another long password", "disabled": false}).want(t, http.StatusOK, nil)
	for _, disabled := range []bool{true, false} {
		e.do(http.MethodPut, "/admin/users/"+u.ID, map[string]any{"username": "alice2",
			"disabled": disabled}).want(t, http.StatusOK, nil)
	}
	e.do(http.MethodPost, "/admin/users/"+u.ID+"/disable", nil).want(t, http.StatusOK, nil)
	e.do(http.MethodPost, "/admin/users/"+u.ID+"/disable", nil).want(t, http.StatusOK, nil)
	e.do(http.MethodPost, "/admin/users/"+u.ID+"/enable", nil).want(t, http.StatusOK, nil)
	consent := e.grant(u.ID, c.ClientID, apiURL+"/v2", "audit")
	e.do(http.MethodDelete, "/admin/users/"+u.ID+"/consents/"+consent.ID, nil).
		want(t, http.StatusNoContent, nil)
	e.do(http.MethodDelete, "/admin/clients/"+c.ClientID, nil).want(t, http.StatusNoContent, nil)
	e.do(http.MethodDelete, "/admin/users/"+u.ID, nil).want(t, http.StatusNoContent, nil)
	e.do(http.MethodDelete, "/admin/resources/"+res.ID, nil).want(t, http.StatusNoContent, nil)

	client, user, resource := "client:"+c.ClientID, "user:"+u.ID, "resource:"+res.ID
	want := []auditRow{
		{"resource.delete", resource, nil},
		{"user.delete", user, nil},
		{"client.delete", client, nil},
		{"consent.revoke", user, map[string]string{"consent_id": consent.ID,
			"client_id": c.ClientID, "resource": apiURL + "/v2"}},
		{"user.enable", user, nil},
		{"user.disable", user, nil},
		{"user.enable", user, map[string]string{"username": "alice2", "disabled": "false",
			"password_changed": "false"}},
		{"user.disable", user, map[string]string{"username": "alice2", "disabled": "true",
			"password_changed": "false"}},
		{"user.update", user, map[string]string{"username": "alice2", "disabled": "false",
			"password_changed": "true"}},
		{"user.create", user, map[string]string{"username": "alice"}},
		{"client.rotate_secret", client, nil},
		{"client.update", client, nil},
		{"client.create", client, map[string]string{"token_endpoint_auth_method": "client_secret_basic"}},
		{"client.rotate_secret", "client:" + res.ClientID, map[string]string{"resource_id": res.ID}},
		{"resource.update", resource, map[string]string{"identifier": apiURL + "/v2",
			"previous_identifier": apiURL, "encryption_keys": "0"}},
		{"resource.create", resource, map[string]string{"identifier": apiURL, "client_id": res.ClientID}},
	}

	list := e.do(http.MethodGet, "/admin/audit", nil)
	var page listJSON[auditJSON]
	list.want(t, http.StatusOK, &page)
	var got []auditRow
	for _, ev := range page.Items {
		got = append(got, auditRow{ev.Action, ev.Target, ev.Details})
		if ev.Actor != "admin" || ev.Outcome != "success" || ev.ID == "" || ev.Details == nil ||
			!ev.Time.Equal(e.clock.Now()) {
			t.Errorf("event %+v: want actor admin, outcome success, an ID, details, time %v",
				ev, e.clock.Now())
		}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b map[string]string) bool {
		return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
	})); diff != "" {
		t.Errorf("GET /admin/audit (-want +got):\n%s", diff)
	}
	wantMembers(t, list.body, "items")

	for _, secret := range []string{*res.ClientSecret, *rotatedRes.ClientSecret, *c.ClientSecret,
		*rotated.ClientSecret, alicePassword, "another long password", "argon2"} {
		if strings.Contains(string(list.body), secret) {
			t.Errorf("the audit listing holds a secret (%.6s...)", secret)
		}
	}
}

// testAuditFilters checks each filter of the listing, alone and combined,
// and pagination under a filter.
func testAuditFilters(t *testing.T, e *env) {
	start := e.clock.Now()
	for i := range 5 {
		body := with(userBody(), "username", "user"+strconv.Itoa(i))
		e.createUser(body)
		e.clock.Advance(time.Minute)
	}
	users := e.auditRows("action=user.create")
	if len(users) != 5 {
		t.Fatalf("%d user.create events, want 5", len(users))
	}
	e.do(http.MethodDelete, "/admin/users/"+strings.TrimPrefix(users[0].Target, "user:"), nil).
		want(t, http.StatusNoContent, nil)

	at := func(minutes int) string {
		return url.QueryEscape(start.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339))
	}
	tests := []struct {
		query string
		want  []string // usernames of user.create events, or actions
	}{
		{"", []string{"user.delete", "user4", "user3", "user2", "user1", "user0"}},
		{"action=user.create", []string{"user4", "user3", "user2", "user1", "user0"}},
		{"action=user.delete", []string{"user.delete"}},
		{"actor=admin&outcome=success&action=user.create&limit=2",
			[]string{"user4", "user3", "user2", "user1", "user0"}},
		{"target=" + url.QueryEscape(users[2].Target), []string{"user2"}},
		{"actor=system", nil},
		{"outcome=failure", nil},
		{"since=" + at(3), []string{"user.delete", "user4", "user3"}},
		{"until=" + at(2), []string{"user1", "user0"}},
		{"since=" + at(1) + "&until=" + at(3) + "&limit=1", []string{"user2", "user1"}},
		{"since=" + at(2) + "&until=" + at(2), nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got []string
			for _, ev := range e.auditRows(tt.query) {
				if name := ev.Details["username"]; ev.Action == "user.create" {
					got = append(got, name)
				} else {
					got = append(got, ev.Action)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET /admin/audit?%s (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

// testAuditPages checks that pages follow each other without gap or
// overlap, and that their tokens are the listing's own.
func testAuditPages(t *testing.T, e *env) {
	for i := range 7 {
		e.createUser(with(userBody(), "username", "user"+strconv.Itoa(i)))
	}
	all := e.auditList("limit=200").Items
	if len(all) != 7 {
		t.Fatalf("%d events, want 7", len(all))
	}

	first := e.auditList("limit=3")
	second := e.auditList("limit=3&page_token=" + url.QueryEscape(first.NextPageToken))
	third := e.auditList("limit=3&page_token=" + url.QueryEscape(second.NextPageToken))
	got := append(append(append([]auditJSON{}, first.Items...), second.Items...), third.Items...)
	if diff := cmp.Diff(all, got); diff != "" || third.NextPageToken != "" {
		t.Errorf("three pages of 3 (-all +pages):\n%s\nlast next_page_token %q", diff, third.NextPageToken)
	}

	// A page token of another listing, or a changed one, is refused.
	var users listJSON[userJSON]
	e.do(http.MethodGet, "/admin/users?limit=1", nil).want(t, http.StatusOK, &users)
	tampered := first.NextPageToken[:len(first.NextPageToken)-2] + "AA"
	for _, tok := range []string{users.NextPageToken, tampered} {
		e.do(http.MethodGet, "/admin/audit?page_token="+url.QueryEscape(tok), nil).
			wantError(t, http.StatusBadRequest, "invalid_request")
	}
}

// testAuditBadFilters checks that every malformed filter is refused with
// a description naming the parameter.
func testAuditBadFilters(t *testing.T, e *env) {
	tests := []struct {
		query, want string
	}{
		{"action=client.explode", "action must name an audit action, such as client.create"},
		{"action=", "action must name an audit action, such as client.create"},
		{"action=CLIENT.CREATE", "action must name an audit action, such as client.create"},
		{"actor=", "actor must be 1 to 256 bytes of text"},
		{"actor=" + strings.Repeat("a", 257), "actor must be 1 to 256 bytes of text"},
		{"target=user%3A%00", "target must be 1 to 256 bytes of text"},
		{"target=%FF", "target must be 1 to 256 bytes of text"},
		{"outcome=ok", "outcome must be success or failure"},
		{"since=yesterday", "since must be an RFC 3339 time, such as 2025-01-02T15:04:05Z"},
		{"since=2025-01-02", "since must be an RFC 3339 time, such as 2025-01-02T15:04:05Z"},
		{"until=2025-01-02T15:04:05", "until must be an RFC 3339 time, such as 2025-01-02T15:04:05Z"},
		{"since=2025-01-03T00:00:00Z&until=2025-01-02T00:00:00Z", "since must not be after until"},
		{"limit=0", "limit must be an integer from 1 to 200"},
		{"action=user.create&action=user.delete", "query parameter given more than once"},
		{"user=alice", "unknown query parameter"},
		{"page_token=garbage", "page_token is not valid"},
	}
	for _, tt := range tests {
		got := e.do(http.MethodGet, "/admin/audit?"+tt.query, nil).
			wantError(t, http.StatusBadRequest, "invalid_request")
		if got.Description != tt.want {
			t.Errorf("GET /admin/audit?%s: error_description = %q, want %q", tt.query, got.Description, tt.want)
		}
	}
}

// refusingStore is a PostgreSQL store whose audit log cannot be written.
type refusingStore struct {
	*postgres.Store
}

func (refusingStore) CreateAuditEvent(context.Context, *storage.AuditEvent) error {
	return errors.Join(storage.ErrUnavailable, errors.New("audit table refused"))
}

// TestAuditFailureUndoesChange checks on PostgreSQL that an admin change
// whose event cannot be written is not made: the request fails and the
// store holds what it held before.
func TestAuditFailureUndoesChange(t *testing.T) {
	s, err := postgres.New(context.Background(), pgtest.Migrated(t))
	if err != nil {
		t.Fatalf("postgres.New() = %v", err)
	}
	t.Cleanup(s.Close)
	good := newEnv(t, s)
	res := good.createResource(apiURL, "read")
	u := good.createUser(userBody())
	c := good.createClient(clientBody())

	e := newEnv(t, refusingStore{s})
	before := e.contents()
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/resources", resourceBody(apiURL+"/2", "read")},
		{http.MethodPut, "/admin/resources/" + res.ID, resourceBody(apiURL+"/3", "read")},
		{http.MethodDelete, "/admin/resources/" + res.ID, nil},
		{http.MethodPost, "/admin/clients", clientBody()},
		{http.MethodPost, "/admin/clients/" + c.ClientID + "/secret", nil},
		{http.MethodDelete, "/admin/clients/" + c.ClientID, nil},
		{http.MethodPost, "/admin/users", with(userBody(), "username", "bob")},
		{http.MethodPost, "/admin/users/" + u.ID + "/disable", nil},
		{http.MethodDelete, "/admin/users/" + u.ID, nil},
	} {
		e.do(r.method, r.path, r.body).wantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	e.wantUnchanged(before)
}
