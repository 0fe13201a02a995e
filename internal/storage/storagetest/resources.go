package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

func testCreateResource(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateResource(t, s, "taken", "urn:veil:taken")

	type args struct {
		id, identifier, credentialsID string
		kind                          storage.ClientKind
	}
	const rs = storage.KindResource
	tests := []struct {
		name    string
		args    args
		wantErr error
	}{
		{name: "new", args: args{"r1", "urn:veil:one", "r1-rs", rs}},
		{name: "identifier taken", args: args{"r2", "urn:veil:taken", "r2-rs", rs}, wantErr: storage.ErrConflict},
		{name: "resource ID taken", args: args{"taken", "urn:veil:two", "r2-rs", rs}, wantErr: storage.ErrConflict},
		{name: "client ID taken", args: args{"r2", "urn:veil:two", "taken-rs", rs}, wantErr: storage.ErrConflict},
		{name: "credentials of KindClient", args: args{"r3", "urn:veil:three", "r3-rs", storage.KindClient},
			wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, credentials := newResource(tt.args.id, tt.args.identifier)
			credentials.ID, credentials.Kind = tt.args.credentialsID, tt.args.kind
			call := "CreateResource(" + r.ID + ")"
			before := snapshot(t, s)
			if !checkErr(t, call, s.CreateResource(ctx, r, credentials), tt.wantErr) {
				return
			}

			if tt.wantErr != nil {
				// Neither the resource nor its credentials are stored.
				if diff := equal(before, snapshot(t, s)); diff != "" {
					t.Errorf("%s changed what is stored (-before +after):\n%s", call, diff)
				}
				return
			}
			if r.ClientID != credentials.ID {
				t.Errorf("%s set ClientID = %q, want %q", call, r.ClientID, credentials.ID)
			}
			checkStamps(t, call, r.CreatedAt, r.UpdatedAt, time.Time{})
			wantResource(t, s, r.ID, r)
			wantClient(t, s, credentials.ID, credentials)
		})
	}
}

// stored is everything a Store holds but keys and tokens.
type stored struct {
	Resources []*storage.Resource
	Clients   []*storage.Client
}

func snapshot(t *testing.T, s storage.Store) stored {
	t.Helper()

	ctx := context.Background()
	resources, err1 := s.ListResources(ctx, "", 1000)
	clients, err2 := s.ListClients(ctx, storage.KindClient, "", 1000)
	credentials, err3 := s.ListClients(ctx, storage.KindResource, "", 1000)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("list everything stored: %v", err)
	}
	return stored{Resources: resources, Clients: append(clients, credentials...)}
}

func testResourceLookups(t *testing.T, s storage.Store) {
	ctx := context.Background()
	r1, c1 := mustCreateResource(t, s, "r1", "https://one.example")
	mustCreateResource(t, s, "r2", "https://two.example")
	mustCreateClient(t, s, newClient("app"))

	tests := []struct {
		name    string
		get     func(ctx context.Context, key string) (*storage.Resource, error)
		key     string
		want    *storage.Resource
		wantErr error
	}{
		{name: "Resource", get: s.Resource, key: "r1", want: r1},
		{name: "Resource", get: s.Resource, key: "none", wantErr: storage.ErrNotFound},
		{name: "ResourceByIdentifier", get: s.ResourceByIdentifier, key: "https://one.example", want: r1},
		{name: "ResourceByIdentifier", get: s.ResourceByIdentifier, key: "https://one.example/",
			wantErr: storage.ErrNotFound},
		{name: "ResourceByClient", get: s.ResourceByClient, key: c1.ID, want: r1},
		{name: "ResourceByClient", get: s.ResourceByClient, key: "app", wantErr: storage.ErrNotFound},
		{name: "ResourceByClient", get: s.ResourceByClient, key: "r1", wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := tt.name + "(" + tt.key + ")"
			got, err := tt.get(ctx, tt.key)
			if !checkErr(t, call, err, tt.wantErr) || err != nil {
				return
			}
			if diff := equal(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

func testUpdateResource(t *testing.T, s storage.Store) {
	ctx := context.Background()
	r1, _ := mustCreateResource(t, s, "r1", "urn:veil:one")
	r2, _ := mustCreateResource(t, s, "r2", "urn:veil:two")
	app := mustCreateClient(t, s, newClient("app", "urn:veil:two", "urn:veil:one"))

	// ClientID and CreatedAt are not mutable: the values passed in must be
	// ignored.
	renamed := storage.Resource{ID: "r1", Identifier: "urn:veil:uno", Name: "Uno",
		Scopes: []string{"admin"}, ClientID: r2.ClientID, CreatedAt: base}
	wantRenamed := renamed
	wantRenamed.ClientID, wantRenamed.CreatedAt = r1.ClientID, r1.CreatedAt
	same := *r2
	same.Name, same.Scopes = "Two", nil

	tests := []struct {
		name     string
		resource storage.Resource
		wantErr  error
		want     *storage.Resource
	}{
		{name: "rename", resource: renamed, want: &wantRenamed},
		{name: "same identifier", resource: same, want: &same},
		{name: "identifier taken", resource: storage.Resource{ID: "r2", Identifier: "urn:veil:uno"},
			wantErr: storage.ErrConflict},
		{name: "unknown resource", resource: storage.Resource{ID: "none", Identifier: "urn:veil:none"},
			wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.resource
			call := "UpdateResource(" + in.ID + ")"
			before := snapshot(t, s)
			if !checkErr(t, call, s.UpdateResource(ctx, &in), tt.wantErr) {
				return
			}

			if tt.wantErr != nil {
				if diff := equal(before, snapshot(t, s)); diff != "" {
					t.Errorf("%s changed what is stored (-before +after):\n%s", call, diff)
				}
				return
			}
			checkStamps(t, call, in.CreatedAt, in.UpdatedAt, tt.want.CreatedAt)
			tt.want.UpdatedAt = in.UpdatedAt
			wantResource(t, s, in.ID, tt.want)
		})
	}

	t.Run("clients follow", func(t *testing.T) {
		want := *app
		want.Resources = []string{"urn:veil:two", "urn:veil:uno"}
		wantClient(t, s, "app", &want)

		_, err := s.ResourceByIdentifier(ctx, "urn:veil:one")
		checkErr(t, "ResourceByIdentifier(old identifier)", err, storage.ErrNotFound)
	})
}

func testDeleteResource(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, c1 := mustCreateResource(t, s, "r1", "https://one.example")
	r2, c2 := mustCreateResource(t, s, "r2", "https://two.example")
	app := mustCreateClient(t, s, newClient("app", "https://one.example", "https://two.example"))

	tests := []struct {
		name    string
		id      string
		wantErr error
	}{
		{name: "resource", id: "r1"},
		{name: "again", id: "r1", wantErr: storage.ErrNotFound},
		{name: "unknown", id: "none", wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DeleteResource(ctx, tt.id)
			checkErr(t, "DeleteResource("+tt.id+")", err, tt.wantErr)
		})
	}

	t.Run("gone everywhere", func(t *testing.T) {
		wantResource(t, s, "r1", nil)
		wantClient(t, s, c1.ID, nil)
		_, err := s.ResourceByIdentifier(ctx, "https://one.example")
		checkErr(t, "ResourceByIdentifier(deleted)", err, storage.ErrNotFound)

		want := *app
		want.Resources = []string{"https://two.example"}
		wantClient(t, s, "app", &want)
		wantResource(t, s, "r2", r2)
		wantClient(t, s, c2.ID, c2)
	})
	t.Run("identifier free again", func(t *testing.T) {
		mustCreateResource(t, s, "r1-new", "https://one.example")
	})
}

// resourceGrants is what testResourceGrants issues for one resource
// identifier: a user's grant, a token of the client credentials grant, and
// one whose audience names this identifier among others; and the same for
// a second identifier that must be left alone.
type resourceGrants struct {
	grant, otherGrant     grant
	machine, multi, other *storage.AccessToken
}

// mustResourceGrants registers resources prefix-r at ident and prefix-o at
// otherIdent, and issues resourceGrants for them. Every ID starts with
// prefix, so that the cases of one test share a store.
func mustResourceGrants(
	t *testing.T, s storage.Store, prefix, ident, otherIdent string,
) resourceGrants {
	t.Helper()

	mustCreateResource(t, s, prefix+"-r", ident)
	mustCreateResource(t, s, prefix+"-o", otherIdent)
	app, user := prefix+"-app", prefix+"-user"
	mustCreateClient(t, s, newClient(app, ident, otherIdent))
	mustCreateUser(t, s, newUser(user, user))

	g := resourceGrants{
		grant:      mustGrant(t, s, prefix+"-c", user, app, ident),
		otherGrant: mustGrant(t, s, prefix+"-oc", user, app, otherIdent),
		machine:    newToken(prefix+"-machine", prefix+"-req-m", app),
		multi:      newToken(prefix+"-multi", prefix+"-req-mu", app),
		other:      newToken(prefix+"-other", prefix+"-req-o", app),
	}
	g.machine.Audience = []string{ident}
	g.multi.Audience = []string{otherIdent, ident}
	g.other.Audience = []string{otherIdent}
	for _, tok := range []*storage.AccessToken{g.machine, g.multi, g.other} {
		mustCreateToken(t, s, tok)
	}
	return g
}

// testResourceGrants checks that deleting a resource, or giving it a new
// identifier, ends every grant made for the old identifier at once, so that
// a resource registered later under that identifier inherits none of
// them; and that keeping the identifier keeps the grants.
func testResourceGrants(t *testing.T, s storage.Store) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(id string) error
		ended  bool
	}{
		{name: "delete", ended: true, change: func(id string) error {
			return s.DeleteResource(ctx, id)
		}},
		{name: "new identifier", ended: true, change: func(id string) error {
			r, _ := newResource(id, "https://renamed-"+id+".example")
			return s.UpdateResource(ctx, r)
		}},
		{name: "same identifier", change: func(id string) error {
			r, err := s.Resource(ctx, id)
			if err != nil {
				return err
			}
			r.Name, r.Scopes = "Renamed", []string{"admin"}
			return s.UpdateResource(ctx, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := strings.ReplaceAll(tt.name, " ", "-")
			ident := "https://" + prefix + ".example"
			g := mustResourceGrants(t, s, prefix, ident, "https://"+prefix+"-other.example")
			if err := tt.change(prefix + "-r"); err != nil {
				t.Fatalf("%s(%s-r) = %v, want nil", tt.name, prefix, err)
			}
			if tt.ended {
				// The identifier is free: a new resource takes it.
				mustCreateResource(t, s, prefix+"-new", ident)
			}

			wantLive, consent := allLive, g.grant.consent
			if tt.ended {
				wantLive, consent = liveness{}, nil
			}
			if got := live(t, s, g.grant); got != wantLive {
				t.Errorf("grant for %s after %s = %+v, want %+v", ident, tt.name, got, wantLive)
			}
			wantConsent(t, s, g.grant.consent.UserID, g.grant.consent.ClientID, ident, consent)
			for _, tok := range []*storage.AccessToken{g.machine, g.multi} {
				got, err := s.AccessToken(ctx, tok.Signature)
				if err != nil || got.Revoked != tt.ended {
					t.Errorf("AccessToken(%s) = %+v, %v, want Revoked %v",
						tok.Signature, got, err, tt.ended)
				}
			}

			if got := live(t, s, g.otherGrant); got != allLive {
				t.Errorf("grant for another resource = %+v, want all live", got)
			}
			wantToken(t, s, g.other.Signature, g.other)
			if tt.ended {
				checkIssueRefused(t, s, g.grant.consent, "under a consent for a gone identifier")
			}
		})
	}
}
