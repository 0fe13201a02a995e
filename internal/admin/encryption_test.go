package admin_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// testKeys holds the keys the tests register, generated once per test
// binary because RSA generation is slow.
type testKeys struct {
	rsa, rsa2, rsa1024 *rsa.PrivateKey
	ec, ec2, ec384     *ecdsa.PrivateKey
	ed                 ed25519.PrivateKey
}

var generateKeys = sync.OnceValues(func() (testKeys, error) {
	var ks testKeys
	var errs [7]error
	ks.rsa, errs[0] = rsa.GenerateKey(rand.Reader, 2048)
	ks.rsa2, errs[1] = rsa.GenerateKey(rand.Reader, 2048)
	ks.rsa1024, errs[2] = rsa.GenerateKey(rand.Reader, 1024)
	ks.ec, errs[3] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks.ec2, errs[4] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks.ec384, errs[5] = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ks.ed, errs[6] = ed25519.GenerateKey(rand.Reader)
	for _, err := range errs {
		if err != nil {
			return testKeys{}, err
		}
	}
	return ks, nil
})

func keysForTest(t *testing.T) testKeys {
	t.Helper()
	ks, err := generateKeys()
	if err != nil {
		t.Fatalf("generate test keys: %v", err)
	}
	return ks
}

// jwk returns key as the members of a JWK with the given kid (none if
// empty), then sets or removes the members in kv as with does.
func jwk(t *testing.T, key any, kid string, kv ...any) map[string]any {
	t.Helper()
	body, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatalf("json.Marshal(JWK %s) = %v", kid, err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("json.Unmarshal(JWK %s) = %v", kid, err)
	}
	return with(m, kv...)
}

func jwks(keys ...map[string]any) map[string]any {
	if keys == nil {
		keys = []map[string]any{}
	}
	return map[string]any{"keys": keys}
}

// encrypted returns a valid resource body for identifier with the given
// encryption_keys, and the other members in kv as with sets them.
func encrypted(identifier string, keys any, kv ...any) map[string]any {
	return with(with(resourceBody(identifier, "read"), "encryption_keys", keys), kv...)
}

// privateMembers are the JWK members that hold private or symmetric key
// material.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// wantPublicKeys checks a JWK Set as the API shows it: the keys of want,
// in order, by kid, each with its public key and nothing private.
func wantPublicKeys(t *testing.T, what string, got jwksJSON, want ...jose.JSONWebKey) {
	t.Helper()
	if len(got.Keys) != len(want) {
		t.Fatalf("%s: %d encryption keys, want %d", what, len(got.Keys), len(want))
	}
	for i, w := range want {
		for _, m := range privateMembers {
			if _, ok := got.Keys[i][m]; ok {
				t.Errorf("%s: key %d has private member %q", what, i, m)
			}
		}
		body, err := json.Marshal(got.Keys[i])
		if err != nil {
			t.Fatalf("json.Marshal(key %d) = %v", i, err)
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(body); err != nil {
			t.Fatalf("%s: key %d does not parse: %v", what, i, err)
		}
		if k.KeyID != w.KeyID || !k.IsPublic() || thumbprint(t, k) != thumbprint(t, w) {
			t.Errorf("%s: key %d = %s, want the public key %s", what, i, body, w.KeyID)
		}
	}
}

func thumbprint(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("Thumbprint(%s) = %v", k.KeyID, err)
	}
	return string(sum)
}

// memberNames returns the names of a JWK's members, sorted.
func memberNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// testEncryptionKeys registers a resource with an RSA and an EC key and
// checks that every answer shows them as public keys only, and that the
// store holds them as public keys.
func testEncryptionKeys(t *testing.T, e *env) {
	ks := keysForTest(t)
	body := encrypted(apiURL, jwks(
		jwk(t, &ks.rsa.PublicKey, "rsa-1", "alg", "RSA-OAEP-256", "use", "enc"),
		jwk(t, &ks.ec.PublicKey, "ec-1")),
		"token_encryption_required", true, "access_token_signing_alg", "RS256")
	want := []jose.JSONWebKey{
		{Key: &ks.rsa.PublicKey, KeyID: "rsa-1"},
		{Key: &ks.ec.PublicKey, KeyID: "ec-1"},
	}

	var created resourceJSON
	res := e.do(http.MethodPost, "/admin/resources", body)
	res.want(t, http.StatusCreated, &created)
	wantPublicKeys(t, "POST", created.EncryptionKeys, want...)
	shape := map[string][]string{}
	for _, k := range created.EncryptionKeys.Keys {
		shape[k["kid"].(string)] = memberNames(k)
	}
	goldenValue(t, "encryption_keys_members.json", shape)
	added := e.clock.Now().Format(time.RFC3339Nano)
	wantAdded := map[string]string{"rsa-1": added, "ec-1": added}
	if diff := cmp.Diff(wantAdded, created.EncryptionKeysAddedAt); diff != "" {
		t.Errorf("POST encryption_keys_added_at (-want +got):\n%s", diff)
	}
	if !created.TokenEncryptionRequired || created.SigningAlgorithm != "RS256" {
		t.Errorf("POST = required %v, alg %q; want true, RS256",
			created.TokenEncryptionRequired, created.SigningAlgorithm)
	}

	// Every other answer shows the same.
	shown := created
	shown.ClientSecret = nil
	var got resourceJSON
	e.do(http.MethodGet, "/admin/resources/"+created.ID, nil).want(t, http.StatusOK, &got)
	if diff := cmp.Diff(shown, got); diff != "" {
		t.Errorf("GET resource (-want +got):\n%s", diff)
	}
	var list listJSON[resourceJSON]
	e.do(http.MethodGet, "/admin/resources", nil).want(t, http.StatusOK, &list)
	if len(list.Items) != 1 || !cmp.Equal(shown, list.Items[0]) {
		t.Errorf("GET /admin/resources = %+v, want just %+v", list.Items, shown)
	}
	e.do(http.MethodPost, "/admin/resources/"+created.ID+"/secret", nil).
		want(t, http.StatusOK, &got)
	wantPublicKeys(t, "POST secret", got.EncryptionKeys, want...)

	// The store holds the public keys alone, with the settings.
	stored, err := e.store.Resource(context.Background(), created.ID)
	if err != nil {
		t.Fatalf("Resource(%s) = %v", created.ID, err)
	}
	if !stored.TokenEncryptionRequired || stored.SigningAlgorithm != "RS256" {
		t.Errorf("stored required %v, alg %q; want true, RS256",
			stored.TokenEncryptionRequired, stored.SigningAlgorithm)
	}
	storedSet := jwksJSON{Keys: []map[string]any{}}
	for i, k := range stored.EncryptionKeys {
		var m map[string]any
		if err := json.Unmarshal(k.JWK, &m); err != nil {
			t.Fatalf("stored key %d is not JSON: %v", i, err)
		}
		storedSet.Keys = append(storedSet.Keys, m)
	}
	wantPublicKeys(t, "stored", storedSet, want...)
}

// testEncryptionKeysValidation has one row per rule on encryption keys and
// the token settings; each is refused on POST and on PUT, and the store is
// left as it was. Bad kids hold "zq" so that a description echoing them is
// caught.
func testEncryptionKeysValidation(t *testing.T, e *env) {
	ks := keysForTest(t)
	existing := e.do(http.MethodPost, "/admin/resources", encrypted(apiURL,
		jwks(jwk(t, &ks.ec.PublicKey, "kept")), "token_encryption_required", true))
	var created resourceJSON
	existing.want(t, http.StatusCreated, &created)

	ident := apiURL + "/2"
	rsaPub := jwk(t, &ks.rsa.PublicKey, "zq-rsa")
	ecPub := jwk(t, &ks.ec.PublicKey, "zq-ec")
	privateD := jwk(t, ks.ec, "zq-ec")["d"]
	eleven := make([]map[string]any, 11)
	for i := range eleven {
		eleven[i] = jwk(t, &ks.ec.PublicKey, fmt.Sprintf("zq-%d", i))
	}
	b64 := base64.RawURLEncoding.EncodeToString
	big := b64(append([]byte{0xc1}, make([]byte, 1023)...)) // 8192 bits, not a key
	ec2 := jwk(t, &ks.ec2.PublicKey, "zq-ec")

	set := func(keys ...map[string]any) map[string]any { return encrypted(ident, jwks(keys...)) }
	keysAre := func(keys any, kv ...any) map[string]any { return encrypted(ident, keys, kv...) }
	plain := func(kv ...any) map[string]any { return with(resourceBody(ident, "read"), kv...) }
	tests := []struct {
		name string
		body any
	}{
		{"private RSA key", set(jwk(t, ks.rsa, "zq-rsa"))},
		{"private EC key", set(jwk(t, ks.ec, "zq-ec"))},
		{"public key with d", set(with(ecPub, "d", privateD))},
		{"public key with D", set(with(ecPub, "D", privateD))},
		{"public key with p", set(with(rsaPub, "p", "AQAB"))},
		{"public key with qi", set(with(rsaPub, "qi", "AQAB"))},
		{"symmetric key", set(jwk(t, make([]byte, 32), "zq-oct"))},
		{"symmetric key without k", set(map[string]any{"kty": "oct", "kid": "zq"})},
		{"private key beside a public one", set(rsaPub, jwk(t, ks.ec2, "zq-2"))},
		{"RSA 1024", set(jwk(t, &ks.rsa1024.PublicKey, "zq-rsa"))},
		{"RSA over 4096 bits", set(with(rsaPub, "n", big))},
		{"RSA exponent 1", set(with(rsaPub, "e", "AQ"))},
		{"RSA exponent even", set(with(rsaPub, "e", "AQAC"))},
		{"EC P-384", set(jwk(t, &ks.ec384.PublicKey, "zq-ec"))},
		{"EC point off the curve", set(with(ecPub, "x", ec2["x"]))},
		{"EC without crv", set(with(ecPub, "crv", nil))},
		{"Ed25519", set(jwk(t, ks.ed.Public(), "zq-ed"))},
		{"kty unknown", set(with(ecPub, "kty", "zq"))},
		{"kty missing", set(with(ecPub, "kty", nil))},
		{"kid missing", set(jwk(t, &ks.ec.PublicKey, ""))},
		{"kid empty", set(with(ecPub, "kid", ""))},
		{"kid with space", set(with(ecPub, "kid", "zq zq"))},
		{"kid with NUL", set(with(ecPub, "kid", "zq\x00"))},
		{"kid too long", set(with(ecPub, "kid", "zq"+strings.Repeat("k", 127)))},
		{"kid wrong type", set(with(ecPub, "kid", 7))},
		{"kid repeated", set(rsaPub, with(ecPub, "kid", "zq-rsa"))},
		{"use sig", set(with(ecPub, "use", "sig"))},
		{"alg of the other key type", set(with(rsaPub, "alg", "ECDH-ES+A256KW"))},
		{"alg RSA1_5", set(with(rsaPub, "alg", "RSA1_5"))},
		{"alg RSA-OAEP", set(with(rsaPub, "alg", "RSA-OAEP"))},
		{"alg ECDH-ES", set(with(ecPub, "alg", "ECDH-ES"))},
		{"member key_ops", set(with(ecPub, "key_ops", []string{"wrapKey"}))},
		{"member x5c", set(with(ecPub, "x5c", []string{"zq"}))},
		{"member in another case", set(with(ecPub, "kid", nil, "KID", "zq"))},
		{"member repeated", strings.Replace(mustJSON(t, set(ecPub)),
			`"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1)},
		{"key not an object", keysAre(map[string]any{"keys": []any{"zq"}})},
		{"too many keys", set(eleven...)},
		{"set is an array", keysAre([]any{ecPub})},
		{"set is a string", keysAre("zq")},
		{"set without keys", keysAre(map[string]any{})},
		{"set with keys null", keysAre(map[string]any{"keys": nil})},
		{"set with keys an object", keysAre(map[string]any{"keys": ecPub})},
		{"set with another member", keysAre(with(jwks(ecPub), "zq", true))},
		{"set with keys repeated", strings.Replace(mustJSON(t, set()),
			`"keys":[]`, `"keys":[],"keys":[]`, 1)},
		{"required without keys", plain("token_encryption_required", true)},
		{"required with no key", keysAre(jwks(), "token_encryption_required", true)},
		{"required wrong type", keysAre(jwks(ecPub), "token_encryption_required", "zq")},
		{"signing alg HS256", plain("access_token_signing_alg", "HS256")},
		{"signing alg none", plain("access_token_signing_alg", "none")},
		{"signing alg lowercase", plain("access_token_signing_alg", "es256")},
		{"signing alg RS512", plain("access_token_signing_alg", "RS512")},
		{"signing alg wrong type", plain("access_token_signing_alg", 7)},
	}
	reasons := make(map[string]string)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{
				{http.MethodPost, "/admin/resources"},
				{http.MethodPut, "/admin/resources/" + created.ID},
			} {
				before := e.contents()
				got := e.do(route.method, route.path, tt.body).
					wantError(t, http.StatusBadRequest, "invalid_request")
				if strings.Contains(got.Description, "zq") {
					t.Errorf("%s: description %q repeats the input", route.method, got.Description)
				}
				e.wantUnchanged(before)
				reasons[tt.name] = got.Error + ": " + got.Description
			}
		})
	}
	// The golden file shows that each row fails for the rule it names.
	goldenValue(t, "encryption_validation.json", reasons)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	return string(body)
}

// testEncryptionKeysAddedAt checks that a PUT keeps the date of every key
// it lists again, by kid and key material, and dates the others now, so
// that Veil encrypts to the key added last.
func testEncryptionKeysAddedAt(t *testing.T, e *env) {
	ks := keysForTest(t)
	t0 := e.clock.Now()
	var res resourceJSON
	e.do(http.MethodPost, "/admin/resources",
		encrypted(apiURL, jwks(jwk(t, &ks.rsa.PublicKey, "a")))).want(t, http.StatusCreated, &res)

	// Step i runs i+1 hours after t0; want gives when each key was added,
	// in hours after t0.
	steps := []struct {
		name string
		keys []map[string]any
		want map[string]int
	}{
		{"add b", []map[string]any{
			jwk(t, &ks.rsa.PublicKey, "a"), jwk(t, &ks.ec.PublicKey, "b"),
		}, map[string]int{"a": 0, "b": 1}},
		{"reorder, set alg and use", []map[string]any{
			jwk(t, &ks.ec.PublicKey, "b", "alg", "ECDH-ES+A256KW"),
			jwk(t, &ks.rsa.PublicKey, "a", "use", "enc"),
		}, map[string]int{"a": 0, "b": 1}},
		{"new material under kid a", []map[string]any{
			jwk(t, &ks.ec.PublicKey, "b"), jwk(t, &ks.rsa2.PublicKey, "a"),
		}, map[string]int{"a": 3, "b": 1}},
		{"old material under a new kid", []map[string]any{
			jwk(t, &ks.ec.PublicKey, "c"),
		}, map[string]int{"c": 4}},
		{"no keys", nil, map[string]int{}},
	}
	for _, step := range steps {
		e.clock.Advance(time.Hour)
		var got resourceJSON
		e.do(http.MethodPut, "/admin/resources/"+res.ID, encrypted(apiURL, jwks(step.keys...))).
			want(t, http.StatusOK, &got)

		want := make(map[string]time.Time, len(step.want))
		wantShown := make(map[string]string, len(step.want))
		for kid, hours := range step.want {
			want[kid] = t0.Add(time.Duration(hours) * time.Hour)
			wantShown[kid] = want[kid].Format(time.RFC3339Nano)
		}
		if diff := cmp.Diff(wantShown, got.EncryptionKeysAddedAt); diff != "" {
			t.Errorf("PUT %s: encryption_keys_added_at (-want +got):\n%s", step.name, diff)
		}
		if diff := cmp.Diff(want, e.storedAddedAt(res.ID)); diff != "" {
			t.Errorf("PUT %s: stored AddedAt (-want +got):\n%s", step.name, diff)
		}
	}
}

// storedAddedAt returns when each stored encryption key of a resource was
// added, by kid.
func (e *env) storedAddedAt(id string) map[string]time.Time {
	e.t.Helper()
	stored, err := e.store.Resource(context.Background(), id)
	if err != nil {
		e.t.Fatalf("Resource(%s) = %v", id, err)
	}
	added := make(map[string]time.Time, len(stored.EncryptionKeys))
	for _, k := range stored.EncryptionKeys {
		var parsed jose.JSONWebKey
		if err := parsed.UnmarshalJSON(k.JWK); err != nil {
			e.t.Fatalf("stored key %s does not parse: %v", k.JWK, err)
		}
		added[parsed.KeyID] = k.AddedAt
	}
	return added
}

// testSigningAlgorithm checks that a resource may ask for each algorithm
// Veil signs with, and go back to the default.
func testSigningAlgorithm(t *testing.T, e *env) {
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			ident := apiURL + "/" + strings.ToLower(alg)
			var got resourceJSON
			e.do(http.MethodPost, "/admin/resources",
				with(resourceBody(ident, "read"), "access_token_signing_alg", alg)).
				want(t, http.StatusCreated, &got)
			if got.SigningAlgorithm != alg {
				t.Errorf("POST alg %s: access_token_signing_alg = %q", alg, got.SigningAlgorithm)
			}

			e.do(http.MethodPut, "/admin/resources/"+got.ID, resourceBody(ident, "read")).
				want(t, http.StatusOK, &got)
			stored, err := e.store.Resource(context.Background(), got.ID)
			if err != nil {
				t.Fatalf("Resource(%s) = %v", got.ID, err)
			}
			if got.SigningAlgorithm != "" || stored.SigningAlgorithm != "" {
				t.Errorf("PUT without alg: shown %q, stored %q, want both empty",
					got.SigningAlgorithm, stored.SigningAlgorithm)
			}
		})
	}
}

// TestSigningAlgorithmsConfig checks that a resource may ask only for an
// algorithm Veil is configured to keep a signing key for.
func TestSigningAlgorithmsConfig(t *testing.T) {
	e := newEnv(t, memory.New())
	e.handler = admin.New(admin.Config{Store: e.store, Hasher: e.hasher, Token: adminToken,
		SigningAlgorithms: []string{"ES256", "RS256"}})
	tests := []struct {
		alg    string
		status int
	}{
		{"ES256", http.StatusCreated},
		{"RS256", http.StatusCreated},
		{"PS256", http.StatusBadRequest},
		{"EdDSA", http.StatusBadRequest},
	}
	for _, tt := range tests {
		body := with(resourceBody(apiURL+"/"+tt.alg, "read"), "access_token_signing_alg", tt.alg)
		if got := e.do(http.MethodPost, "/admin/resources", body).status; got != tt.status {
			t.Errorf("POST access_token_signing_alg %s: status = %d, want %d",
				tt.alg, got, tt.status)
		}
	}
}

// damagedStore returns a resource whose stored key is not a public key,
// as a damaged or tampered-with record might.
type damagedStore struct {
	storage.Store
	jwk []byte
}

func (d damagedStore) Resource(ctx context.Context, id string) (*storage.Resource, error) {
	r, err := d.Store.Resource(ctx, id)
	if err == nil {
		r.EncryptionKeys = []storage.ResourceKey{{JWK: d.jwk}}
	}
	return r, err
}

func (d damagedStore) ListResources(
	ctx context.Context, after string, limit int,
) ([]*storage.Resource, error) {
	list, err := d.Store.ListResources(ctx, after, limit)
	for _, r := range list {
		r.EncryptionKeys = []storage.ResourceKey{{JWK: d.jwk}}
	}
	return list, err
}

// TestDamagedKeyNeverShown checks that a stored key holding private
// material is never shown, not even its public part: the answer is a
// server error, logged, and the secret is not rotated.
func TestDamagedKeyNeverShown(t *testing.T) {
	ks := keysForTest(t)
	store := memory.New()
	e := newEnv(t, store)
	res := e.createResource(apiURL, "read")
	creds, err := store.Client(context.Background(), res.ClientID)
	if err != nil {
		t.Fatalf("Client(%s) = %v", res.ClientID, err)
	}

	damaged := []string{mustJSON(t, jwk(t, ks.ec, "private")), `{"kty":"oct","k":"AAAA"}`, `zq`}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/admin/resources/" + res.ID},
		{http.MethodGet, "/admin/resources"},
		{http.MethodPost, "/admin/resources/" + res.ID + "/secret"},
	}
	for _, jwkBody := range damaged {
		d := newEnv(t, damagedStore{Store: store, jwk: []byte(jwkBody)})
		for _, r := range routes {
			got := d.do(r.method, r.path, nil)
			got.wantError(t, http.StatusInternalServerError, "server_error")
		}
		if n := strings.Count(d.logs.String(), "level=ERROR"); n != len(routes) {
			t.Errorf("damaged key %s: %d error lines, want %d:\n%s",
				jwkBody, n, len(routes), d.logs)
		}
	}
	after, err := store.Client(context.Background(), res.ClientID)
	if err != nil || !cmp.Equal(creds.SecretHash, after.SecretHash) {
		t.Errorf("secret hash changed by a failed rotation (err %v)", err)
	}
}
