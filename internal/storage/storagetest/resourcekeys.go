package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// A resource server's public keys as an administrator might paste them,
// and as a Store returns them (see storage.CanonicalJWK). The key values
// are made up: storage never reads them.
const (
	pastedJWK = `{
		"kty": "EC", "crv": "P-256", "kid": "rs-1", "use": "enc",
		"x": "Zm9yIHRlc3RzIG9ubHksIG5vdCBhIHBvaW50IG9uIGFueQ",
		"y": "Y3VydmUsIGp1c3QgYnl0ZXMgZm9yIHRoZSBzdWl0ZS4uLg",
		"x5u": "https://keys.example/rs-1?fmt=jwk&v=2", "exp": 1.50e3,
		"key_ops": ["encrypt", "wrapKey"]
	}`
	canonicalJWK = `{"crv":"P-256","exp":1500,"key_ops":["encrypt","wrapKey"],"kid":"rs-1",` +
		`"kty":"EC","use":"enc","x":"Zm9yIHRlc3RzIG9ubHksIG5vdCBhIHBvaW50IG9uIGFueQ",` +
		`"x5u":"https://keys.example/rs-1?fmt=jwk&v=2",` +
		`"y":"Y3VydmUsIGp1c3QgYnl0ZXMgZm9yIHRoZSBzdWl0ZS4uLg"}`
	rsaJWK = `{"e":"AQAB","kid":"rs-2","kty":"RSA","n":"bm90LWEtbW9kdWx1cw"}`
)

// addedAt is when the fixture keys were added: to the nanosecond, and not
// in UTC, which a Store keeps and converts.
var addedAt = time.Date(2025, 3, 14, 16, 9, 26, 535897932, time.FixedZone("CET", 3600))

// testResourceSettings checks that a resource's encryption keys, its
// token encryption flag and its signing algorithm are stored by
// CreateResource and UpdateResource and returned by every read.
func testResourceSettings(t *testing.T, s storage.Store) {
	ctx := context.Background()
	r, credentials := newResource("r1", "https://one.example")
	r.EncryptionKeys = []storage.ResourceKey{
		{JWK: []byte(pastedJWK), AddedAt: addedAt},
		{JWK: []byte(rsaJWK), AddedAt: addedAt.Add(time.Hour)},
	}
	r.TokenEncryptionRequired, r.SigningAlgorithm = true, "PS256"
	if err := s.CreateResource(ctx, r, credentials); err != nil {
		t.Fatalf("CreateResource(r1) = %v, want nil", err)
	}
	mustCreateResource(t, s, "r2", "https://two.example")

	t.Run("CreateResource", func(t *testing.T) {
		want := []storage.ResourceKey{
			{JWK: []byte(canonicalJWK), AddedAt: addedAt.UTC()},
			{JWK: []byte(rsaJWK), AddedAt: addedAt.Add(time.Hour).UTC()},
		}
		if diff := equal(want, r.EncryptionKeys); diff != "" {
			t.Errorf("CreateResource(r1) set EncryptionKeys (-want +got):\n%s", diff)
		}
		if loc := r.EncryptionKeys[0].AddedAt.Location(); loc != time.UTC {
			t.Errorf("CreateResource(r1) set AddedAt in %v, want UTC", loc)
		}
	})
	checkResourceReads(t, s, r)

	updated := *r
	updated.EncryptionKeys = []storage.ResourceKey{
		{JWK: []byte(rsaJWK), AddedAt: addedAt.Add(time.Hour).UTC()},
		{JWK: []byte(`{"kid":"rs-3","kty":"OKP"}`), AddedAt: addedAt.Add(2 * time.Hour).UTC()},
	}
	updated.TokenEncryptionRequired, updated.SigningAlgorithm = false, ""
	cleared := *r
	cleared.EncryptionKeys, cleared.SigningAlgorithm = nil, "ES256"
	tests := []struct {
		name     string
		resource *storage.Resource
	}{
		{name: "new keys, defaults", resource: &updated},
		{name: "no keys", resource: &cleared},
	}
	for _, tt := range tests {
		t.Run("UpdateResource/"+tt.name, func(t *testing.T) {
			in := *tt.resource
			if err := s.UpdateResource(ctx, &in); err != nil {
				t.Fatalf("UpdateResource(%s) = %v, want nil", tt.name, err)
			}
			want := *tt.resource
			want.UpdatedAt = in.UpdatedAt
			if diff := equal(&want, &in); diff != "" {
				t.Errorf("UpdateResource(%s) set r to (-want +got):\n%s", tt.name, diff)
			}
			checkResourceReads(t, s, &want)
		})
	}
}

// checkResourceReads checks that every read of a resource returns want.
func checkResourceReads(t *testing.T, s storage.Store, want *storage.Resource) {
	t.Helper()

	ctx := context.Background()
	page, err := s.ListResources(ctx, "", 10)
	if err != nil || len(page) == 0 {
		t.Fatalf("ListResources() = %d resources, %v, want some, nil", len(page), err)
	}
	reads := []struct {
		name string
		get  func() (*storage.Resource, error)
	}{
		{name: "Resource", get: func() (*storage.Resource, error) {
			return s.Resource(ctx, want.ID)
		}},
		{name: "ResourceByIdentifier", get: func() (*storage.Resource, error) {
			return s.ResourceByIdentifier(ctx, want.Identifier)
		}},
		{name: "ResourceByClient", get: func() (*storage.Resource, error) {
			return s.ResourceByClient(ctx, want.ClientID)
		}},
		{name: "ListResources", get: func() (*storage.Resource, error) { return page[0], nil }},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if err != nil {
				t.Fatalf("%s(%s) = %v, want nil", tt.name, want.ID, err)
			}
			if diff := equal(want, got); diff != "" {
				t.Errorf("%s(%s) mismatch (-want +got):\n%s", tt.name, want.ID, diff)
			}
		})
	}
}

// testResourceKeysInvalid checks that CreateResource and UpdateResource
// refuse an encryption key that is not a JSON object, or that PostgreSQL's
// jsonb cannot hold, and store nothing.
func testResourceKeysInvalid(t *testing.T, s storage.Store) {
	ctx := context.Background()
	r1, _ := mustCreateResource(t, s, "r1", "https://one.example")

	tests := []struct {
		name string
		jwk  string
	}{
		{name: "empty", jwk: ""},
		{name: "not JSON", jwk: "kty=EC"},
		{name: "null", jwk: "null"},
		{name: "array", jwk: `[` + rsaJWK + `]`},
		{name: "string", jwk: `"` + rsaJWK + `"`},
		{name: "two objects", jwk: rsaJWK + rsaJWK},
		{name: "escaped NUL in a value", jwk: `{"kid":"a\u0000b"}`},
		{name: "escaped NUL in a name", jwk: `{"k\u0000":"a"}`},
		{name: "invalid UTF-8", jwk: "{\"kid\":\"\xff\"}"},
		{name: "number out of range", jwk: `{"kid":"a","n":1e999}`},
	}
	for _, tt := range tests {
		keys := []storage.ResourceKey{{JWK: []byte(rsaJWK), AddedAt: addedAt},
			{JWK: []byte(tt.jwk), AddedAt: addedAt}}
		t.Run("CreateResource/"+tt.name, func(t *testing.T) {
			before := snapshot(t, s)
			r, credentials := newResource("new", "https://new.example")
			r.EncryptionKeys = keys
			checkErr(t, "CreateResource("+tt.name+")", s.CreateResource(ctx, r, credentials),
				storage.ErrInvalid)
			if diff := equal(before, snapshot(t, s)); diff != "" {
				t.Errorf("CreateResource(%s) changed what is stored (-before +after):\n%s",
					tt.name, diff)
			}
		})
		t.Run("UpdateResource/"+tt.name, func(t *testing.T) {
			r := *r1
			r.Name, r.EncryptionKeys = "Changed", keys
			checkErr(t, "UpdateResource("+tt.name+")", s.UpdateResource(ctx, &r),
				storage.ErrInvalid)
			wantResource(t, s, r1.ID, r1)
		})
	}

	t.Run("AddedAt beyond JSON", func(t *testing.T) {
		r := *r1
		r.EncryptionKeys = []storage.ResourceKey{{JWK: []byte(rsaJWK),
			AddedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
		checkErr(t, "UpdateResource(year 10000)", s.UpdateResource(ctx, &r), storage.ErrInvalid)
		wantResource(t, s, r1.ID, r1)
	})
}

// testResourceKeysAliasing checks that the keys passed to CreateResource
// and those a read returns share no bytes with what the Store holds.
func testResourceKeysAliasing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	jwk := []byte(rsaJWK)
	r, credentials := newResource("r1", "https://one.example")
	r.EncryptionKeys = []storage.ResourceKey{{JWK: jwk, AddedAt: addedAt}}
	if err := s.CreateResource(ctx, r, credentials); err != nil {
		t.Fatalf("CreateResource(r1) = %v, want nil", err)
	}
	want := *r
	want.EncryptionKeys = []storage.ResourceKey{{JWK: []byte(rsaJWK), AddedAt: addedAt}}

	jwk[2] = 'X'
	r.EncryptionKeys[0].JWK[2] = 'Y'
	r.EncryptionKeys[0].AddedAt = base
	got, err := s.Resource(ctx, r.ID)
	if err != nil {
		t.Fatalf("Resource(r1) = %v, want nil", err)
	}
	got.EncryptionKeys[0].JWK[2] = 'Z'
	got.EncryptionKeys = append(got.EncryptionKeys, got.EncryptionKeys[0])
	wantResource(t, s, r.ID, &want)
}
