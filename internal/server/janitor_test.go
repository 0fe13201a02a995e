package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/metrics/metricstest"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// execSQL runs statements on dsn, as an operator's psql would.
func execSQL(t *testing.T, dsn string, statements ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	for _, sql := range statements {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// TestReplayDetectedAfterJanitor checks that a janitor run keeps what
// replay detection needs (RFC 9700 §4.14.2, RFC 6749 §4.1.2): a rotated
// refresh token and a used code, both expired, of grants that are still
// live stay, and presenting them still revokes their grant; a grant that
// has wholly expired goes.
func TestReplayDetectedAfterJanitor(t *testing.T) {
	ctx := context.Background()
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	web := in.createApp(true, "read offline_access", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()
	grant := func(state string) (string, string) {
		v := oauth2.GenerateVerifier()
		u := b.authorize(web.authURL(state, v, "read", "offline_access"), userName, userPassword, true)
		return codeFrom(t, u, webRedirect, state, in.issuer), v
	}
	exchange := func(state string) *oauth2.Token {
		code, v := grant(state)
		tok, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("Exchange() = %v", err)
		}
		return tok
	}
	refresh := func(rt string) response {
		return in.post("/oauth2/token", web.creds.ID, web.creds.Secret,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	rotate := func(rt string) (access, next string) {
		r := refresh(rt)
		if r.status != http.StatusOK {
			t.Fatalf("refresh = %d %s, want 200", r.status, r.body)
		}
		m := r.json(t)
		return m["access_token"].(string), m["refresh_token"].(string)
	}

	// A grant that has wholly expired: its code, both refresh tokens and
	// both access tokens go.
	ended := exchange("state-ended")
	_, endedRT2 := rotate(ended.RefreshToken)
	execSQL(t, in.dsn,
		`UPDATE codes SET expires_at = now() - interval '1 day'`,
		`UPDATE refresh_tokens SET expires_at = now() - interval '1 day'`,
		`UPDATE access_tokens SET expires_at = now() - interval '1 day'`)

	// A grant refreshed once, and one whose code a thief may replay.
	first := exchange("state-refreshed")
	at2, rt2 := rotate(first.RefreshToken)
	replayCode, replayVerifier := grant("state-replayed")
	replayed, err := web.cfg.Exchange(ctx, replayCode, oauth2.VerifierOption(replayVerifier))
	if err != nil {
		t.Fatalf("Exchange() = %v", err)
	}
	// What replay detection needs has expired, but the grants live on.
	execSQL(t, in.dsn,
		`UPDATE refresh_tokens SET expires_at = now() - interval '1 day' WHERE NOT active`,
		`UPDATE codes SET expires_at = now() - interval '1 day' WHERE used`)

	store, err := postgres.New(ctx, in.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := janitor.New(store, janitor.Config{}).RunOnce(ctx)
	want := map[storage.Expiring]int{
		storage.ExpiringAccessTokens: 2, storage.ExpiringRefreshTokens: 2,
		storage.ExpiringCodes: 1, storage.ExpiringSessions: 0,
		storage.ExpiringAuthRequests: 0, storage.ExpiringLoginFailures: 0,
	}
	if diff := cmp.Diff(want, r.Deleted); r.Err != nil || diff != "" {
		t.Fatalf("RunOnce() = %v, deleted (-want +got):\n%s", r.Err, diff)
	}

	t.Run("rotated refresh token reused", func(t *testing.T) {
		if got := in.introspect(rs, at2).json(t); got["active"] != true {
			t.Fatalf("AT2 before the reuse = %v, want active", got)
		}
		assertOAuthError(t, refresh(first.RefreshToken), http.StatusBadRequest, "invalid_grant")
		assertOAuthError(t, refresh(rt2), http.StatusBadRequest, "invalid_grant")
		assertInactive(t, in.introspect(rs, at2))
	})

	t.Run("used code replayed", func(t *testing.T) {
		if got := in.introspect(rs, replayed.AccessToken).json(t); got["active"] != true {
			t.Fatalf("access token before the replay = %v, want active", got)
		}
		_, err := web.cfg.Exchange(ctx, replayCode, oauth2.VerifierOption(replayVerifier))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("code replay = %v, want invalid_grant", err)
		}
		assertInactive(t, in.introspect(rs, replayed.AccessToken))
		assertOAuthError(t, refresh(replayed.RefreshToken), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("ended grant gone", func(t *testing.T) {
		assertOAuthError(t, refresh(endedRT2), http.StatusBadRequest, "invalid_grant")
		if n := countRows(t, in.dsn, `SELECT count(*) FROM refresh_tokens`); n != 3 {
			t.Errorf("refresh tokens left = %d, want the 3 of the two live grants", n)
		}
	})
}

// TestServeRunsJanitor checks that a serving Veil runs the janitor every
// VEIL_JANITOR_INTERVAL, logs what it deleted, and stops it on shutdown.
func TestServeRunsJanitor(t *testing.T) {
	in := startVeilWith(t, pgtest.DSN(t), newMasterKey(t), "", func(c *config.Config) {
		c.JanitorInterval = time.Second
	})
	in.createUser(userName, userPassword)
	execSQL(t, in.dsn, `
INSERT INTO sessions (id, user_id, auth_time, expires_at)
SELECT 'expired-' || i, u.id, now() - interval '1 day', now() - interval '1 hour'
FROM generate_series(1, 3) i, users u`)

	const expired = `SELECT count(*) FROM sessions WHERE id LIKE 'expired-%'`
	deadline := time.Now().Add(30 * time.Second)
	for countRows(t, in.dsn, expired) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired sessions still stored 30s after they were made, want them deleted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The run that deleted them has reported to the metrics once it ended.
	for {
		fams := metricstest.Scrape(t, in.adminURL+"/metrics", testAdminToken)
		deleted, _ := fams.Value("veil_janitor_deleted_rows_total", map[string]string{"kind": "sessions"})
		runs, _ := fams.Value("veil_janitor_runs_total", map[string]string{"outcome": "ok"})
		if deleted == 3 && runs >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %v sessions deleted in %v runs, want 3 in at least one", deleted, runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.stop()

	if !strings.Contains(in.logs.String(), `"msg":"janitor deleted expired items"`) ||
		!strings.Contains(in.logs.String(), `"sessions":3`) {
		t.Errorf("Veil's log = %s, want a line for the run that deleted 3 sessions", in.logs.String())
	}
}
