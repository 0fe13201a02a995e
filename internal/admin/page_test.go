package admin_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/admin"
)

// walk lists path page by page and returns the IDs seen and the size of
// each page.
func walk(t *testing.T, e *env, path string, limit int, id func(map[string]any) string) ([]string, []int) {
	t.Helper()
	var ids []string
	var sizes []int
	token := ""
	for range 100 {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page listJSON[map[string]any]
		e.do(http.MethodGet, path+"?"+q.Encode(), nil).want(t, http.StatusOK, &page)
		sizes = append(sizes, len(page.Items))
		for _, it := range page.Items {
			ids = append(ids, id(it))
		}
		if token = page.NextPageToken; token == "" {
			return ids, sizes
		}
	}
	t.Fatalf("listing %s did not end after 100 pages", path)
	return nil, nil
}

func testPagination(t *testing.T, e *env) {
	var resourceIDs, clientIDs []string
	for i := range 4 {
		res := e.createResource(apiURL+"/"+strconv.Itoa(i), "read")
		resourceIDs = append(resourceIDs, res.ID)
	}
	body := with(clientBody(), "resources", []string{apiURL + "/0"}, "scope", "read")
	for range 7 {
		clientIDs = append(clientIDs, e.createClient(body).ClientID)
	}
	var userIDs []string
	for i := range 5 {
		u := e.createUser(with(userBody(), "username", "u"+strconv.Itoa(i)))
		userIDs = append(userIDs, u.ID)
	}
	slices.Sort(resourceIDs)
	slices.Sort(clientIDs)
	slices.Sort(userIDs)

	tests := []struct {
		name      string
		path      string
		limit     int
		key       string
		want      []string
		wantSizes []int
	}{
		{"clients by 3", "/admin/clients", 3, "client_id", clientIDs, []int{3, 3, 1}},
		{"clients by 7", "/admin/clients", 7, "client_id", clientIDs, []int{7}},
		{"clients by 200", "/admin/clients", 200, "client_id", clientIDs, []int{7}},
		{"resources by 2", "/admin/resources", 2, "id", resourceIDs, []int{2, 2}},
		{"resources by 1", "/admin/resources", 1, "id", resourceIDs, []int{1, 1, 1, 1}},
		{"users by 2", "/admin/users", 2, "id", userIDs, []int{2, 2, 1}},
		{"users by 5", "/admin/users", 5, "id", userIDs, []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sizes := walk(t, e, tt.path, tt.limit, func(m map[string]any) string {
				s, _ := m[tt.key].(string)
				return s
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("walk(%s, %d) IDs (-want +got):\n%s", tt.path, tt.limit, diff)
			}
			if diff := cmp.Diff(tt.wantSizes, sizes); diff != "" {
				t.Errorf("walk(%s, %d) page sizes (-want +got):\n%s", tt.path, tt.limit, diff)
			}
		})
	}
}

// testPageTokenTampered covers security case 14's second half: a page token
// that Veil did not make for this listing is 400, with one fixed message.
func testPageTokenTampered(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	e.createResource(apiURL+"/2", "read")
	var page listJSON[resourceJSON]
	e.do(http.MethodGet, "/admin/resources?limit=1", nil).want(t, http.StatusOK, &page)
	token := page.NextPageToken
	if token == "" {
		t.Fatal("first page has no next_page_token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("page token is not base64url: %v", err)
	}

	tests := []struct{ name, token string }{
		{"empty", ""},
		{"flipped byte", flipByte(raw, len(raw)/2)},
		{"flipped version", flipByte(raw, 0)},
		{"flipped mac", flipByte(raw, len(raw)-1)},
		{"truncated", token[:len(token)-1]},
		{"extended", token + "A"},
		{"padded", base64.URLEncoding.EncodeToString(raw)},
		{"standard alphabet", base64.StdEncoding.EncodeToString(raw)},
		{"short", base64.RawURLEncoding.EncodeToString(raw[:10])},
		{"plain id", "abc"},
		{"sql", "' OR 1=1 --"},
		{"long", strings.Repeat("A", 5000)},
		{"other listing", clientsToken(t, e)},
		{"users listing", usersToken(t, e)},
		{"other key", foreignToken(t, e)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(http.MethodGet, "/admin/resources?page_token="+url.QueryEscape(tt.token), nil)
			res.wantError(t, http.StatusBadRequest, "invalid_request")
			golden(t, "page_token_invalid.json", res.body)
		})
	}
}

func flipByte(raw []byte, i int) string {
	b := slices.Clone(raw)
	b[i] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientsToken returns a genuine page token of the clients listing.
func clientsToken(t *testing.T, e *env) string {
	t.Helper()
	body := with(clientBody(), "scope", "read")
	e.createClient(body)
	e.createClient(body)
	var page listJSON[clientJSON]
	e.do(http.MethodGet, "/admin/clients?limit=1", nil).want(t, http.StatusOK, &page)
	return page.NextPageToken
}

// usersToken returns a genuine page token of the users listing.
func usersToken(t *testing.T, e *env) string {
	t.Helper()
	e.createUser(with(userBody(), "username", "token1"))
	e.createUser(with(userBody(), "username", "token2"))
	var page listJSON[userJSON]
	e.do(http.MethodGet, "/admin/users?limit=1", nil).want(t, http.StatusOK, &page)
	return page.NextPageToken
}

// foreignToken returns a resources page token made by an admin API with
// another admin token.
func foreignToken(t *testing.T, e *env) string {
	t.Helper()
	other := admin.New(admin.Config{Store: e.store, Hasher: e.hasher, Token: "another-admin-token"})
	req := newRequest(t, http.MethodGet, "/admin/resources?limit=1", nil)
	req.Header.Set("Authorization", "Bearer another-admin-token")
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, req)

	var page listJSON[resourceJSON]
	response{status: rec.Code, body: rec.Body.Bytes()}.want(t, http.StatusOK, &page)
	return page.NextPageToken
}

func testPageLimit(t *testing.T, e *env) {
	for _, q := range []string{
		"limit=0", "limit=201", "limit=-1", "limit=abc", "limit=1.5", "limit=+5", "limit=05",
		"limit=", "limit=1&limit=2", "other=1", "limit=1;x", "page_token=a&page_token=b",
	} {
		t.Run(q, func(t *testing.T) {
			e.do(http.MethodGet, "/admin/clients?"+q, nil).
				wantError(t, http.StatusBadRequest, "invalid_request")
		})
	}
	for _, q := range []string{"", "limit=1", "limit=200"} {
		e.do(http.MethodGet, "/admin/clients?"+q, nil).want(t, http.StatusOK, nil)
	}
}
