package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/keys"
)

// The key manager is what Veil passes as Config.Keys.
var _ admin.KeyAdmin = (*keys.Manager)(nil)

// testKeyManager rotates through the real key manager: each signing
// algorithm gets a next key, the listing's states agree with keys.State at
// every step, and nothing of the keys but their names and dates is shown.
func testKeyManager(t *testing.T, e *env) {
	ctx := context.Background()
	sealer, err := keys.NewSealer([][]byte{bytes.Repeat([]byte{9}, keys.MasterKeySize)})
	if err != nil {
		t.Fatalf("NewSealer() = %v", err)
	}
	policy := keys.Policy{PrePublish: time.Hour, Retain: 2 * time.Hour}
	m := keys.NewManager(e.store, sealer, policy, e.clock.Now, nil)
	if err := m.Init(ctx); err != nil {
		t.Fatalf("Init() = %v", err)
	}
	e.handler = admin.New(admin.Config{Store: e.store, Hasher: e.hasher, Token: adminToken,
		Keys: m, Logger: e.log})

	var rotated listJSON[keyJSON]
	e.do(http.MethodPost, "/admin/keys/rotate", nil).want(t, http.StatusOK, &rotated)
	next := 0
	for _, k := range rotated.Items {
		if k.Use == "sig" && k.State == "next" {
			next++
		}
	}
	if next != 2 {
		t.Errorf("after rotation %d next signing keys, want one each for ES256 and RS256: %+v",
			next, rotated.Items)
	}

	for step := range 4 {
		stored, err := e.store.Keys(ctx)
		if err != nil {
			t.Fatalf("Keys() = %v", err)
		}
		want := make(map[string]string, len(stored))
		for _, k := range stored {
			want[k.ID] = keys.State(k, e.clock.Now())
		}
		if diff := cmp.Diff(want, e.keyStates()); diff != "" {
			t.Errorf("states %d hours on (-keys.State +listed):\n%s", step, diff)
		}
		e.clock.Advance(time.Hour)
	}
	if !strings.Contains(e.logs.String(), `msg="keys rotated"`) {
		t.Errorf("rotation not logged:\n%s", e.logs)
	}
}
