package storagetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

func testCreateClient(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateResource(t, s, "r1", "https://one.example")
	mustCreateResource(t, s, "r2", "https://two.example")
	taken := mustCreateClient(t, s, newClient("taken"))

	public := newClient("public")
	public.SecretHash, public.TokenEndpointAuthMethod = nil, "none"
	bare := &storage.Client{ID: "bare", Kind: storage.KindClient, TokenEndpointAuthMethod: "none"}
	one, two, none := "https://one.example", "https://two.example", "https://none.example"

	tests := []struct {
		name    string
		client  *storage.Client
		wantErr error
		// want is what Client(ID) returns afterwards; nil for ErrNotFound.
		// nil with wantErr nil means the created client itself.
		want *storage.Client
	}{
		{name: "confidential", client: newClient("conf")},
		{name: "public", client: public},
		{name: "no slices", client: bare},
		{name: "resources in order", client: newClient("ordered", two, one)},
		{name: "ID taken", client: newClient("taken", one), wantErr: storage.ErrConflict, want: taken},
		{name: "unknown resource", client: newClient("unknown", one, none), wantErr: storage.ErrNotFound},
		{name: "resource twice", client: newClient("twice", one, one), wantErr: storage.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := "CreateClient(" + tt.client.ID + ")"
			err := s.CreateClient(ctx, tt.client)
			if !checkErr(t, call, err, tt.wantErr) {
				return
			}

			want := tt.want
			if tt.wantErr == nil {
				want = tt.client
				checkStamps(t, call, want.CreatedAt, want.UpdatedAt, time.Time{})
			}
			wantClient(t, s, tt.client.ID, want)
		})
	}
}

func testUpdateClient(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateResource(t, s, "r1", "https://one.example")
	mustCreateResource(t, s, "r2", "https://two.example")
	orig := mustCreateClient(t, s, newClient("c1", "https://one.example"))

	// Kind, SecretHash and CreatedAt are not mutable: the values passed in
	// must be ignored.
	changed := &storage.Client{
		ID:                      "c1",
		Kind:                    storage.KindResource,
		Name:                    "Renamed",
		SecretHash:              []byte("ignored"),
		RedirectURIs:            []string{"https://app.example/new"},
		GrantTypes:              []string{"client_credentials"},
		Scopes:                  []string{"write"},
		TokenEndpointAuthMethod: "client_secret_post",
		Resources:               []string{"https://two.example", "https://one.example"},
		CreatedAt:               base,
	}
	want := *changed
	want.Kind, want.SecretHash, want.CreatedAt = orig.Kind, orig.SecretHash, orig.CreatedAt
	cleared := want
	cleared.Resources = nil
	unknown := want
	unknown.Resources = []string{"https://none.example"}

	tests := []struct {
		name    string
		client  *storage.Client
		wantErr error
		want    *storage.Client
	}{
		{name: "replace mutable fields", client: changed, want: &want},
		{name: "clear resources", client: &cleared, want: &cleared},
		{name: "unknown resource", client: &unknown, wantErr: storage.ErrNotFound, want: &cleared},
		{name: "unknown client", client: newClient("none"), wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := *tt.client
			call := "UpdateClient(" + in.ID + ")"
			if !checkErr(t, call, s.UpdateClient(ctx, &in), tt.wantErr) {
				return
			}

			if tt.wantErr == nil {
				checkStamps(t, call, in.CreatedAt, in.UpdatedAt, orig.CreatedAt)
				tt.want.UpdatedAt = in.UpdatedAt
			}
			wantClient(t, s, tt.client.ID, tt.want)
		})
	}
}

func testSetClientSecret(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustCreateClient(t, s, newClient("c1"))

	tests := []struct {
		name    string
		id      string
		hash    []byte
		wantErr error
	}{
		{name: "replace", id: "c1", hash: []byte("new hash")},
		{name: "remove", id: "c1", hash: nil},
		{name: "unknown client", id: "none", hash: []byte("x"), wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.hash)
			err := s.SetClientSecret(ctx, tt.id, in)
			if !checkErr(t, "SetClientSecret("+tt.id+")", err, tt.wantErr) || err != nil {
				return
			}
			// The Store keeps its own copy.
			for i := range in {
				in[i] ^= 0xff
			}

			got, err := s.Client(ctx, tt.id)
			if err != nil {
				t.Fatalf("Client(%s) = %v, want nil", tt.id, err)
			}
			if diff := equal(tt.hash, got.SecretHash); diff != "" {
				t.Errorf("Client(%s).SecretHash mismatch (-want +got):\n%s", tt.id, diff)
			}
			if diff := equal(c.RedirectURIs, got.RedirectURIs); diff != "" {
				t.Errorf("Client(%s).RedirectURIs mismatch (-want +got):\n%s", tt.id, diff)
			}
		})
	}
}

func testDeleteClient(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, credentials := mustCreateResource(t, s, "r1", "https://one.example")
	mustCreateClient(t, s, newClient("gone", "https://one.example"))
	kept := mustCreateClient(t, s, newClient("kept", "https://one.example"))
	mustCreateToken(t, s, newToken("sig-gone", "req-1", "gone"))
	keptToken := mustCreateToken(t, s, newToken("sig-kept", "req-2", "kept"))

	tests := []struct {
		name    string
		id      string
		wantErr error
		want    *storage.Client
	}{
		{name: "client", id: "gone"},
		{name: "again", id: "gone", wantErr: storage.ErrNotFound},
		{name: "credentials", id: credentials.ID, wantErr: storage.ErrNotFound, want: credentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DeleteClient(ctx, tt.id)
			checkErr(t, "DeleteClient("+tt.id+")", err, tt.wantErr)
			wantClient(t, s, tt.id, tt.want)
		})
	}

	t.Run("tokens inactive", func(t *testing.T) {
		got, err := s.AccessToken(ctx, "sig-gone")
		if err == nil && !got.Revoked {
			t.Errorf("AccessToken(sig-gone).Revoked = false after DeleteClient, " +
				"want true or ErrNotFound")
		}
		checkErr(t, "CreateAccessToken(for deleted client)",
			s.CreateAccessToken(ctx, newToken("sig-late", "req-1", "gone")), storage.ErrNotFound)
	})
	t.Run("others untouched", func(t *testing.T) {
		wantClient(t, s, "kept", kept)
		wantToken(t, s, "sig-kept", keptToken)
	})
}
