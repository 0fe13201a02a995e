package janitor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("postgres.New() = %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestRunOncePostgres(t *testing.T) {
	s := open(t, pgtest.Migrated(t))
	now := time.Now()
	f := fill(t, s, now)
	j := janitor.New(s, janitor.Config{Now: func() time.Time { return now }})

	r := j.RunOnce(context.Background())
	if r.Skipped || r.Err != nil {
		t.Errorf("RunOnce() = Skipped %v, Err %v, want false, nil", r.Skipped, r.Err)
	}
	if diff := cmp.Diff(f.deleted, r.Deleted); diff != "" {
		t.Errorf("RunOnce() deleted (-want +got):\n%s", diff)
	}
	f.checkKept(t)
}

// TestReplicaSkipsWhileAnotherRuns stands for two replicas, a janitor on
// each pool of one database: while one holds the sweep lock, the other's
// run is skipped at once and deletes nothing.
func TestReplicaSkipsWhileAnotherRuns(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	a, b := open(t, dsn), open(t, dsn)
	f := fill(t, a, time.Now())
	jb := janitor.New(b, janitor.Config{})

	held, err := a.TrySweepLock(ctx, func(context.Context) error {
		r := jb.RunOnce(ctx)
		if diff := cmp.Diff(none(), r.Deleted); !r.Skipped || r.Err != nil || diff != "" {
			t.Errorf("RunOnce() on B while A holds the lock = Skipped %v, Err %v, "+
				"deleted (-want +got):\n%s", r.Skipped, r.Err, diff)
		}
		return nil
	})
	if !held || err != nil {
		t.Fatalf("TrySweepLock() on A = %v, %v, want true, nil", held, err)
	}

	r := jb.RunOnce(ctx)
	if diff := cmp.Diff(f.deleted, r.Deleted); r.Skipped || r.Err != nil || diff != "" {
		t.Errorf("RunOnce() on B after A let go = Skipped %v, Err %v, deleted (-want +got):\n%s",
			r.Skipped, r.Err, diff)
	}
	f.checkKept(t)
}

// inside counts the janitors inside the sweep lock at once, across every
// watched Store that shares it.
type inside struct {
	now, most atomic.Int32
}

// watched reports to in whenever its janitor is inside the sweep lock.
type watched struct {
	storage.Store
	in *inside
}

func (w watched) TrySweepLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	return w.Store.TrySweepLock(ctx, func(ctx context.Context) error {
		n := w.in.now.Add(1)
		defer w.in.now.Add(-1)
		for m := w.in.most.Load(); n > m && !w.in.most.CompareAndSwap(m, n); m = w.in.most.Load() {
		}
		return fn(ctx)
	})
}

// bulk stores, straight in SQL, n expired items of every kind besides n/10
// live ones, and returns what a run must delete: all the expired ones but
// half the refresh tokens, which are rotated ones of live grants.
func bulk(t *testing.T, dsn string, n int) map[storage.Expiring]int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)

	// In each statement, $1 is the expiry, and {s} and {n} stand for a
	// set's name and size; the IDs are "{s}-" and a number.
	perSet := []string{
		`INSERT INTO access_tokens (signature, jti, request_id, client_id, issued_at, expires_at)
			SELECT '{s}-' || i, 'jti-{s}-' || i, 'req-{s}-' || i, 'app', $1, $1`,
		`INSERT INTO codes (signature, request_id, client_id, user_id, consent_id, request,
			expires_at) SELECT '{s}-' || i, 'req-{s}-' || i, 'app', 'u1', 'c1', '', $1`,
		`INSERT INTO sessions (id, user_id, auth_time, expires_at) SELECT '{s}-' || i, 'u1', $1, $1`,
		`INSERT INTO auth_requests (id, browser_hash, client_id, query, created_at, expires_at)
			SELECT '{s}-' || i, 'b', 'app', 'q', $1, $1`,
		// Failures are old once older than LoginFailureAge, not Grace.
		`INSERT INTO login_failures (key, at)
			SELECT '{s}-' || i, CASE WHEN $1 < now() THEN now() - interval '1 day' ELSE now() END`,
	}
	old, live := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	type step struct {
		sql string
		at  time.Time
	}
	steps := []step{
		{sql: `INSERT INTO users (id, username) VALUES ('u1', 'alice')`},
		{sql: `INSERT INTO clients (id, kind, token_endpoint_auth_method)
			VALUES ('app', 'client', 'none')`},
		{sql: `INSERT INTO consents (id, user_id, client_id, resource)
			VALUES ('c1', 'u1', 'app', 'r')`},
	}
	set := func(sql, name string, size int, at time.Time) step {
		sql = strings.NewReplacer("{s}", name).Replace(sql)
		return step{sql: sql + fmt.Sprintf(" FROM generate_series(1, %d) i", size), at: at}
	}
	for _, sql := range perSet {
		steps = append(steps, set(sql, "old", n, old), set(sql, "live", n/10, live))
	}
	// Half the expired refresh tokens are the only ones of their grant;
	// the other half were rotated, and their grant's newest is live.
	refresh := `INSERT INTO refresh_tokens (signature, request_id, active, expires_at, client_id,
		user_id, consent_id, request) SELECT '{s}-' || i, %s, $1, 'app', 'u1', 'c1', ''`
	steps = append(steps,
		set(fmt.Sprintf(refresh, `'ended-' || i, true`), "ended", n/2, old),
		set(fmt.Sprintf(refresh, `'grant-' || i, false`), "rotated", n/2, old),
		set(fmt.Sprintf(refresh, `'grant-' || i, true`), "current", n/2, live),
	)

	for _, st := range steps {
		var args []any
		if !st.at.IsZero() {
			args = []any{st.at}
		}
		if _, err := conn.Exec(ctx, st.sql, args...); err != nil {
			t.Fatalf("store bulk rows: %s: %v", st.sql, err)
		}
	}
	return map[storage.Expiring]int{
		storage.ExpiringAccessTokens: n, storage.ExpiringCodes: n,
		storage.ExpiringSessions: n, storage.ExpiringAuthRequests: n,
		storage.ExpiringLoginFailures: n, storage.ExpiringRefreshTokens: n / 2,
	}
}

// remaining counts the rows of every table bulk filled.
func remaining(t *testing.T, dsn string) map[string]int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)

	counts := map[string]int{}
	for _, table := range []string{"access_tokens", "codes", "sessions", "auth_requests",
		"login_failures", "refresh_tokens"} {
		var c int
		// The table names are the constants above.
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&c); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = c
	}
	return counts
}

// TestReplicasRunTogether runs two janitors on two pools of one database
// at the same time, again and again, over many rows in small batches: no
// two are ever inside the sweep lock at once, what the runs that were not
// skipped deleted adds up exactly to what had expired, and every live row
// is left.
func TestReplicasRunTogether(t *testing.T) {
	dsn := pgtest.Migrated(t)
	const n = 2000
	want := bulk(t, dsn, n)
	in := &inside{}
	cfg := janitor.Config{BatchSize: 50, Pause: time.Millisecond}
	janitors := []*janitor.Janitor{
		janitor.New(watched{open(t, dsn), in}, cfg),
		janitor.New(watched{open(t, dsn), in}, cfg),
	}

	var mu sync.Mutex
	got := map[storage.Expiring]int{}
	var wg sync.WaitGroup
	for _, j := range janitors {
		wg.Go(func() {
			for range 3 {
				r := j.RunOnce(context.Background())
				if r.Err != nil {
					t.Errorf("RunOnce() = %v, want nil", r.Err)
				}
				mu.Lock()
				for kind, d := range r.Deleted {
					got[kind] += d
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if most := in.most.Load(); most != 1 {
		t.Errorf("janitors inside the sweep lock at once = %d at most, want 1", most)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deleted by both janitors together (-want +got):\n%s", diff)
	}
	wantLeft := map[string]int{
		"access_tokens": n / 10, "codes": n / 10, "sessions": n / 10, "auth_requests": n / 10,
		"login_failures": n / 10, "refresh_tokens": n/2 + n/2,
	}
	if diff := cmp.Diff(wantLeft, remaining(t, dsn)); diff != "" {
		t.Errorf("rows left (-want +got):\n%s", diff)
	}
}
