package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/storage"
)

// fakeKeys is a KeyAdmin that records its calls, fails with err if set,
// and otherwise runs onRotate if set.
type fakeKeys struct {
	clock *fakeClock

	mu       sync.Mutex
	forced   []bool
	err      error
	onRotate func(context.Context) error
}

func (k *fakeKeys) Rotate(ctx context.Context, force bool) error {
	k.mu.Lock()
	k.forced = append(k.forced, force)
	err, hook := k.err, k.onRotate
	k.mu.Unlock()

	if err != nil {
		return err
	}
	if hook != nil {
		return hook(ctx)
	}
	return nil
}

func (k *fakeKeys) Now() time.Time { return k.clock.Now() }

// calls returns the force argument of each call to Rotate so far.
func (k *fakeKeys) calls() []bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.forced)
}

// keyJSON is the shape of one key in GET /admin/keys.
type keyJSON struct {
	ID          string  `json:"kid"`
	Use         string  `json:"use"`
	Algorithm   string  `json:"alg"`
	State       string  `json:"state"`
	CreatedAt   string  `json:"created_at"`
	ActivatedAt string  `json:"activated_at"`
	RetiredAt   *string `json:"retired_at"`
}

// sealedMarker is in every sealed blob the tests store, so that a listing
// that shows one is caught.
const sealedMarker = "zq-sealed-private-key"

// storedKeys returns a set of keys in every state, dated around now.
func storedKeys(now time.Time) []*storage.Key {
	day := 24 * time.Hour
	key := func(id string, use storage.KeyUse, alg string,
		created, activated, retired time.Duration,
	) *storage.Key {
		k := &storage.Key{ID: id, Use: use, Algorithm: alg,
			Sealed:    []byte(sealedMarker + "-" + id),
			CreatedAt: now.Add(created), ActivatedAt: now.Add(activated)}
		if retired != 0 {
			k.RetiredAt = now.Add(retired)
		}
		return k
	}
	return []*storage.Key{
		key("sig-es256-old", storage.UseSignature, "ES256", -60*day, -60*day, -30*day),
		key("sig-es256", storage.UseSignature, "ES256", -31*day, -30*day, time.Hour),
		key("sig-es256-next", storage.UseSignature, "ES256", -23*time.Hour, time.Hour, 0),
		key("sig-rs256", storage.UseSignature, "RS256", -10*day, -10*day, 0),
		key("enc", storage.UseEncryption, "A256KW", -90*day, -90*day, 0),
		key("hash", storage.UseSecretHash, "HS256", -90*day, -90*day, 0),
	}
}

func (e *env) storeKeys(keys []*storage.Key) {
	e.t.Helper()
	_, err := e.store.InitKeys(context.Background(), func() ([]*storage.Key, error) {
		return keys, nil
	})
	if err != nil {
		e.t.Fatalf("InitKeys() = %v", err)
	}
}

// keyStates returns the state of each listed key, by kid.
func (e *env) keyStates() map[string]string {
	e.t.Helper()
	var list listJSON[keyJSON]
	e.do(http.MethodGet, "/admin/keys", nil).want(e.t, http.StatusOK, &list)
	states := make(map[string]string, len(list.Items))
	for _, k := range list.Items {
		states[k.ID] = k.State
	}
	return states
}

// testKeyList checks the listing of Veil's keys: every key with its state
// and dates, and no key material of any kind.
func testKeyList(t *testing.T, e *env) {
	e.storeKeys(storedKeys(e.clock.Now()))

	res := e.do(http.MethodGet, "/admin/keys", nil)
	res.want(t, http.StatusOK, nil)
	golden(t, "keys.json", res.body)
	for _, bad := range []string{"zq", "sealed", `"d"`, `"k"`, `"x"`, `"n"`, "private"} {
		if strings.Contains(strings.ToLower(string(res.body)), bad) {
			t.Errorf("GET /admin/keys holds %s: %s", bad, res.body)
		}
	}

	// A key changes state at the instant its date is reached.
	wantStates := []struct {
		after time.Duration
		want  map[string]string
	}{
		{0, map[string]string{"sig-es256-old": "retired", "sig-es256": "active",
			"sig-es256-next": "next", "sig-rs256": "active", "enc": "active", "hash": "active"}},
		{time.Hour - time.Nanosecond, map[string]string{"sig-es256-old": "retired",
			"sig-es256": "active", "sig-es256-next": "next", "sig-rs256": "active",
			"enc": "active", "hash": "active"}},
		{time.Hour, map[string]string{"sig-es256-old": "retired", "sig-es256": "retired",
			"sig-es256-next": "active", "sig-rs256": "active", "enc": "active", "hash": "active"}},
	}
	start := e.clock.Now()
	for _, ws := range wantStates {
		e.clock.Advance(start.Add(ws.after).Sub(e.clock.Now()))
		if diff := cmp.Diff(ws.want, e.keyStates()); diff != "" {
			t.Errorf("states %v after the first listing (-want +got):\n%s", ws.after, diff)
		}
	}

	e.do(http.MethodGet, "/admin/keys?limit=1", nil).
		wantError(t, http.StatusBadRequest, "invalid_request")
	if calls := e.keys.calls(); len(calls) != 0 {
		t.Errorf("listing keys called Rotate %v, want never", calls)
	}
}

// testKeyRotate checks that POST /admin/keys/rotate forces a rotation,
// answers with the keys as they are afterwards, and logs it.
func testKeyRotate(t *testing.T, e *env) {
	now := e.clock.Now()
	e.keys.onRotate = func(ctx context.Context) error {
		_, err := e.store.InitKeys(ctx, func() ([]*storage.Key, error) {
			return storedKeys(now)[2:3], nil
		})
		return err
	}

	var list listJSON[keyJSON]
	res := e.do(http.MethodPost, "/admin/keys/rotate", nil)
	res.want(t, http.StatusOK, &list)
	if diff := cmp.Diff([]bool{true}, e.keys.calls()); diff != "" {
		t.Errorf("Rotate calls, by force (-want +got):\n%s", diff)
	}
	if len(list.Items) != 1 || list.Items[0].ID != "sig-es256-next" ||
		list.Items[0].State != "next" {
		t.Errorf("POST /admin/keys/rotate = %+v, want the new key, next", list.Items)
	}
	if strings.Contains(string(res.body), "sealed") {
		t.Errorf("POST /admin/keys/rotate holds a sealed key: %s", res.body)
	}

	want := `level=INFO msg="keys rotated" by="admin api"`
	if logs := e.logs.String(); !strings.Contains(logs, want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

// testKeyRotateFails checks the answers when rotation cannot happen: not
// configured, storage unavailable, or failing otherwise.
func testKeyRotateFails(t *testing.T, e *env) {
	e.storeKeys(storedKeys(e.clock.Now()))
	const leak = "open key sig-es256: message authentication failed"
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		log    string
	}{
		{"unavailable", fmt.Errorf("rotate keys: %s: %w", leak, storage.ErrUnavailable),
			http.StatusServiceUnavailable, "temporarily_unavailable",
			`level=ERROR msg="storage unavailable"`},
		{"internal", fmt.Errorf("rotate keys: %w", errors.New(leak)),
			http.StatusInternalServerError, "server_error",
			`level=ERROR msg="admin request failed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newEnv(t, e.store)
			f.keys.err = tt.err
			res := f.do(http.MethodPost, "/admin/keys/rotate", nil)
			res.wantError(t, tt.status, tt.code)
			if strings.Contains(string(res.body), "authentication") {
				t.Errorf("answer holds the cause: %s", res.body)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, tt.log) || !strings.Contains(logs, leak) {
				t.Errorf("log lacks %q with the cause:\n%s", tt.log, logs)
			}
			if strings.Contains(logs, "keys rotated") {
				t.Errorf("failed rotation logged as done:\n%s", logs)
			}
		})
	}

	t.Run("not configured", func(t *testing.T) {
		f := newEnv(t, e.store)
		f.handler = admin.New(admin.Config{Store: f.store, Hasher: f.hasher, Token: adminToken})
		f.do(http.MethodPost, "/admin/keys/rotate", nil).
			wantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
		f.do(http.MethodGet, "/admin/keys", nil).want(t, http.StatusOK, nil)
	})
}
