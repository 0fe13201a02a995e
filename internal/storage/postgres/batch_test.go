package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// accessToken returns a token record of the client app that seed stores,
// under consent (none if empty).
func accessToken(sig, consent string) *storage.AccessToken {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &storage.AccessToken{Signature: sig, JTI: "jti-" + sig, RequestID: "req-" + sig,
		ClientID: "app", Subject: "u-alice", Audience: []string{"https://api.example"},
		Scopes: []string{"read"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		ConsentID: consent}
}

// TestBatchInsertFailures serves inserts that fail beside good ones in one
// round trip: each caller gets the answer it would get alone, and only the
// good rows are stored.
func TestBatchInsertFailures(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	s := open(t, dsn)
	seed(t, s)
	if err := s.CreateAccessToken(ctx, accessToken("taken", "")); err != nil {
		t.Fatalf("CreateAccessToken(taken) = %v, want nil", err)
	}

	noClient := accessToken("no-client", "")
	noClient.ClientID = "gone"
	tests := []struct {
		name   string
		tokens []*storage.AccessToken
		want   []error // nil: stored
	}{
		{
			name:   "all good",
			tokens: []*storage.AccessToken{accessToken("a1", ""), accessToken("a2", "c1")},
			want:   []error{nil, nil},
		},
		{
			name:   "unknown client",
			tokens: []*storage.AccessToken{accessToken("b1", ""), noClient, accessToken("b2", "c1")},
			want:   []error{nil, storage.ErrNotFound, nil},
		},
		{
			name: "unknown consent",
			tokens: []*storage.AccessToken{accessToken("c1", "c1"), accessToken("c2", "c-none"),
				accessToken("c3", "")},
			want: []error{nil, storage.ErrNotFound, nil},
		},
		{
			name:   "signature taken before",
			tokens: []*storage.AccessToken{accessToken("d1", ""), accessToken("taken", "")},
			want:   []error{nil, storage.ErrConflict},
		},
		{
			name: "signature twice in the batch",
			tokens: []*storage.AccessToken{accessToken("e1", ""), accessToken("e1", ""),
				accessToken("e2", "")},
			want: []error{nil, storage.ErrConflict, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := s.InsertBatch(ctx, tt.tokens)
			for i, tok := range tt.tokens {
				if !errors.Is(errs[i], tt.want[i]) || (tt.want[i] == nil) != (errs[i] == nil) {
					t.Errorf("InsertBatch(%s) = %v, want %v", tok.Signature, errs[i], tt.want[i])
				}
				if tt.want[i] == nil {
					checkToken(t, s, tok)
				}
			}
		})
	}
	checkStoredCount(t, dsn, 10)
}

// TestBatchDisabledUser serves, in one round trip, a token under the
// consent of a user just disabled: it alone is refused.
func TestBatchDisabledUser(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	s := open(t, dsn)
	seed(t, s)
	disable(t, s, ctx)

	errs := s.InsertBatch(ctx, []*storage.AccessToken{accessToken("t1", ""),
		accessToken("t2", "c1"), accessToken("t3", "")})
	want := []error{nil, storage.ErrNotFound, nil}
	for i, err := range errs {
		if !errors.Is(err, want[i]) || (want[i] == nil) != (err == nil) {
			t.Errorf("InsertBatch(t%d) = %v, want %v", i+1, err, want[i])
		}
	}
	if _, err := s.AccessToken(ctx, "t2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AccessToken(t2) = %v, want ErrNotFound", err)
	}
	checkStoredCount(t, dsn, 2)
}

// TestBatchSelect looks up several signatures in one round trip, one of
// them twice and one unknown.
func TestBatchSelect(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.Migrated(t))
	seed(t, s)
	a, b := accessToken("a", "c1"), accessToken("b", "")
	for _, tok := range []*storage.AccessToken{a, b} {
		if err := s.CreateAccessToken(ctx, tok); err != nil {
			t.Fatalf("CreateAccessToken(%s) = %v, want nil", tok.Signature, err)
		}
	}

	got, errs := s.SelectBatch(ctx, []string{"a", "missing", "b", "a"})
	want := []*storage.AccessToken{a, nil, b, a}
	for i := range want {
		if diff := cmp.Diff(want[i], got[i]); diff != "" {
			t.Errorf("SelectBatch()[%d] mismatch (-want +got):\n%s", i, diff)
		}
		if (want[i] == nil) != errors.Is(errs[i], storage.ErrNotFound) {
			t.Errorf("SelectBatch()[%d] error = %v, want ErrNotFound only if missing", i, errs[i])
		}
	}
	if got[0] == got[3] || &got[0].Scopes[0] == &got[3].Scopes[0] {
		t.Errorf("SelectBatch(a, a) shares one record between two callers")
	}
}

// TestBatchConcurrent creates and looks up many tokens at once, so that
// calls share round trips, and checks every answer, then that a connection
// of its own sees every row a create returned nil for.
func TestBatchConcurrent(t *testing.T) {
	const n = 200
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	s := open(t, dsn)
	seed(t, s)

	tokens := make([]*storage.AccessToken, n)
	for i := range tokens {
		consent := ""
		if i%2 == 0 {
			consent = "c1"
		}
		tokens[i] = accessToken(fmt.Sprintf("sig-%d", i), consent)
	}
	parallel(n, func(i int) {
		if err := s.CreateAccessToken(ctx, tokens[i]); err != nil {
			t.Errorf("CreateAccessToken(sig-%d) = %v, want nil", i, err)
		}
	})
	checkStoredCount(t, dsn, n)

	// Every third lookup asks for a signature that is not stored.
	parallel(n, func(i int) {
		sig := tokens[i].Signature
		if i%3 == 0 {
			sig = fmt.Sprintf("missing-%d", i)
		}
		got, err := s.AccessToken(ctx, sig)
		switch {
		case i%3 == 0 && !errors.Is(err, storage.ErrNotFound):
			t.Errorf("AccessToken(%s) = %v, want ErrNotFound", sig, err)
		case i%3 != 0 && err != nil:
			t.Errorf("AccessToken(%s) = %v, want nil", sig, err)
		case i%3 != 0:
			if diff := cmp.Diff(tokens[i], got); diff != "" {
				t.Errorf("AccessToken(%s) mismatch (-want +got):\n%s", sig, diff)
			}
		}
	})
}

// TestBatchContextEnds ends the contexts of calls still queued behind a
// round trip that waits for a lock: each returns its context's error at
// once, a deadline as ErrUnavailable, and the queued insert is never made.
func TestBatchContextEnds(t *testing.T) {
	dsn := pgtest.Migrated(t)
	s := open(t, oneWorker(t, dsn))
	seed(t, s)
	unlock := lockTokens(t, dsn)
	first := make(chan error, 1)
	go func() { first <- s.CreateAccessToken(context.Background(), accessToken("first", "")) }()
	firstRead := make(chan error, 1)
	go func() {
		_, err := s.AccessToken(context.Background(), "none")
		firstRead <- err
	}()
	waitForLocks(t, dsn, 2)

	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name: "cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			wantErr: storage.ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			sig := "queued-" + tt.name
			if err := s.CreateAccessToken(ctx, accessToken(sig, "")); !errors.Is(err, tt.wantErr) {
				t.Errorf("CreateAccessToken(%s) = %v, want %v", sig, err, tt.wantErr)
			}

			ctx, cancel = tt.ctx()
			defer cancel()
			if _, err := s.AccessToken(ctx, "first"); !errors.Is(err, tt.wantErr) {
				t.Errorf("AccessToken(first) = %v, want %v", err, tt.wantErr)
			}
		})
	}

	unlock()
	if err := <-first; err != nil {
		t.Errorf("CreateAccessToken(first) = %v, want nil", err)
	}
	if err := <-firstRead; !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AccessToken(none) = %v, want ErrNotFound", err)
	}
	// The queued inserts were dropped, not sent after the lock went.
	if _, err := s.AccessToken(context.Background(), "first"); err != nil {
		t.Errorf("AccessToken(first) after the lock = %v, want nil", err)
	}
	checkStoredCount(t, dsn, 1)
}

// TestBatchClose closes the Store while calls wait behind a round trip:
// Close waits for it, every call ends either stored or with
// ErrUnavailable, and calls after Close fail with ErrUnavailable.
func TestBatchClose(t *testing.T) {
	const n = 10
	dsn := pgtest.Migrated(t)
	s, err := postgres.New(context.Background(), oneWorker(t, dsn))
	if err != nil {
		t.Fatalf("New(test database) = %v, want nil", err)
	}
	seed(t, s)
	unlock := lockTokens(t, dsn)
	first := blocked(t, dsn, func() error {
		return s.CreateAccessToken(context.Background(), accessToken("first", ""))
	})

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateAccessToken(context.Background(), accessToken(fmt.Sprint(i), ""))
		})
	}
	time.Sleep(100 * time.Millisecond) // let the calls queue
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatalf("Close returned while a round trip was in flight")
	case <-time.After(100 * time.Millisecond):
	}

	unlock()
	<-closed
	wg.Wait()
	if err := <-first; err != nil {
		t.Errorf("CreateAccessToken(first) = %v, want nil", err)
	}
	stored := 1
	for i, err := range errs {
		if err != nil && !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("CreateAccessToken(%d) during Close = %v, want nil or ErrUnavailable", i, err)
		}
		if err == nil {
			stored++
		}
	}
	checkStoredCount(t, dsn, stored)

	err = s.CreateAccessToken(context.Background(), accessToken("late", ""))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateAccessToken() after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.AccessToken(context.Background(), "first"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AccessToken() after Close = %v, want ErrUnavailable", err)
	}
}

// parallel runs fn(0) to fn(n-1) at once and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// oneWorker returns dsn with a pool of four connections, for which the
// Store runs one worker per batcher.
func oneWorker(t *testing.T, dsn string) string {
	t.Helper()

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	return u.String()
}

// lockTokens locks the access_tokens table against every other session,
// readers included, until the returned function (or the end of t) unlocks
// it.
func lockTokens(t *testing.T, dsn string) (unlock func()) {
	t.Helper()

	ctx := context.Background()
	conn := connect(t, dsn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin locking transaction: %v", err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE access_tokens IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("lock access_tokens: %v", err)
	}
	unlock = sync.OnceFunc(func() { _ = tx.Rollback(ctx) })
	t.Cleanup(unlock)
	return unlock
}

// waitForLocks waits until n sessions of the database of dsn wait for a
// lock.
func waitForLocks(t *testing.T, dsn string, n int) {
	t.Helper()

	conn := connect(t, dsn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := conn.QueryRow(context.Background(), waitingSQL).Scan(&waiting); err != nil {
			t.Fatalf("watch for lock waits: %v", err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock after 10s, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkToken checks that s returns want for its signature.
func checkToken(t *testing.T, s *postgres.Store, want *storage.AccessToken) {
	t.Helper()

	got, err := s.AccessToken(context.Background(), want.Signature)
	if err != nil {
		t.Errorf("AccessToken(%s) = %v, want nil", want.Signature, err)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AccessToken(%s) mismatch (-want +got):\n%s", want.Signature, diff)
	}
}

// checkStoredCount checks, on a connection of its own, that the database
// of dsn holds want access-token rows.
func checkStoredCount(t *testing.T, dsn string, want int) {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(context.Background())

	var got int
	err = conn.QueryRow(context.Background(), "SELECT count(*) FROM access_tokens").Scan(&got)
	if err != nil || got != want {
		t.Errorf("count(access_tokens) = %d, %v, want %d, nil", got, err, want)
	}
}
