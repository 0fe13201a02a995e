package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/veil-auth/veil/internal/storage"
)

// pageIDs are stored in an order that is neither sorted nor reversed. They
// sort byte by byte as "B" < "_x" < "a" < "b1" < "c"; a locale-aware
// collation would sort them differently and break paging with "after".
var pageIDs = []string{"b1", "_x", "c", "B", "a"}

func testListClients(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateResource(t, s, "r1", "https://one.example")
	for _, id := range pageIDs {
		mustCreateClient(t, s, newClient(id, "https://one.example"))
	}

	const client = storage.KindClient
	tests := []struct {
		name  string
		kind  storage.ClientKind
		after string
		limit int
		want  []string
	}{
		{name: "first page", kind: client, limit: 2, want: ids("B _x")},
		{name: "middle page", kind: client, after: "_x", limit: 2, want: ids("a b1")},
		{name: "last page", kind: client, after: "b1", limit: 2, want: ids("c")},
		{name: "after the end", kind: client, after: "c", limit: 2},
		{name: "after a missing ID", kind: client, after: "a0", limit: 10, want: ids("b1 c")},
		{name: "everything", kind: client, limit: 100, want: ids("B _x a b1 c")},
		{name: "zero limit", kind: client, limit: 0},
		{name: "negative limit", kind: client, limit: -1},
		{name: "credentials", kind: storage.KindResource, limit: 10, want: ids("r1-rs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := fmt.Sprintf("ListClients(%s, %q, %d)", tt.kind, tt.after, tt.limit)
			got, err := s.ListClients(ctx, tt.kind, tt.after, tt.limit)
			if err != nil {
				t.Fatalf("%s = %v, want nil", call, err)
			}

			var gotIDs []string
			for _, c := range got {
				gotIDs = append(gotIDs, c.ID)
				// Listed clients are whole, resources included.
				wantClient(t, s, c.ID, c)
			}
			if diff := equal(tt.want, gotIDs); diff != "" {
				t.Errorf("%s IDs mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

func testListResources(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, id := range pageIDs {
		mustCreateResource(t, s, id, "https://"+id+".example")
	}

	tests := []struct {
		name  string
		after string
		limit int
		want  []string
	}{
		{name: "first page", limit: 2, want: ids("B _x")},
		{name: "middle page", after: "_x", limit: 2, want: ids("a b1")},
		{name: "last page", after: "b1", limit: 2, want: ids("c")},
		{name: "after the end", after: "c", limit: 2},
		{name: "zero limit", limit: 0},
		{name: "negative limit", limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := fmt.Sprintf("ListResources(%q, %d)", tt.after, tt.limit)
			got, err := s.ListResources(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatalf("%s = %v, want nil", call, err)
			}

			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
				wantResource(t, s, r.ID, r)
			}
			if diff := equal(tt.want, gotIDs); diff != "" {
				t.Errorf("%s IDs mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

// testClientAliasing changes every slice passed in or returned, and checks
// that what is stored does not change with it.
func testClientAliasing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	r, _ := mustCreateResource(t, s, "r1", "https://one.example")
	mustCreateResource(t, s, "r2", "https://two.example")
	c := mustCreateClient(t, s, newClient("c1", "https://one.example"))
	want := *c
	want.SecretHash = []byte(string(c.SecretHash))
	want.GrantTypes = []string{"authorization_code", "refresh_token"}
	want.RedirectURIs = []string{c.RedirectURIs[0]}
	want.Scopes = []string{"openid", "read"}
	want.Resources = []string{"https://one.example"}
	wantR := *r
	wantR.Scopes = []string{"read", "write"}

	tests := []struct {
		name   string
		mutate func(t *testing.T)
	}{
		{name: "client passed in", mutate: func(*testing.T) { scribble(c) }},
		{name: "client returned", mutate: func(t *testing.T) {
			got, err := s.Client(ctx, "c1")
			if err != nil {
				t.Fatalf("Client(c1) = %v, want nil", err)
			}
			scribble(got)
		}},
		{name: "clients listed", mutate: func(t *testing.T) {
			got, err := s.ListClients(ctx, storage.KindClient, "", 10)
			if err != nil || len(got) == 0 {
				t.Fatalf("ListClients() = %d clients, %v, want some, nil", len(got), err)
			}
			scribble(got[0])
		}},
		{name: "resource passed in", mutate: func(*testing.T) { r.Scopes[0] = "changed" }},
		{name: "resource returned", mutate: func(t *testing.T) {
			byID, err1 := s.Resource(ctx, "r1")
			byIdentifier, err2 := s.ResourceByIdentifier(ctx, "https://one.example")
			byClient, err3 := s.ResourceByClient(ctx, r.ClientID)
			listed, err4 := s.ListResources(ctx, "", 1)
			if err := errors.Join(err1, err2, err3, err4); err != nil || len(listed) == 0 {
				t.Fatalf("get resource r1 = %v, want nil", err)
			}
			for _, got := range []*storage.Resource{byID, byIdentifier, byClient, listed[0]} {
				got.Scopes[0] = "changed"
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mutate(t)
			wantClient(t, s, "c1", &want)
			wantResource(t, s, "r1", &wantR)
		})
	}
}

// scribble changes every element of every slice of c in place.
func scribble(c *storage.Client) {
	c.SecretHash[0] ^= 0xff
	c.GrantTypes[0] = "changed"
	c.RedirectURIs[0] = "https://evil.example"
	c.Scopes[0] = "admin"
	c.Resources[0] = "https://two.example"
}
