package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/storagetest"
)

// TestSweepLockReplicas stands for replicas: two Stores, so two pools, on
// one database share one sweep lock.
func TestSweepLockReplicas(t *testing.T) {
	dsn := pgtest.Migrated(t)
	stores := []storage.Store{open(t, dsn), open(t, dsn)}

	storagetest.SweepLockExclusive(t, stores)
}

// lockHoldersSQL counts the sessions holding an advisory lock on the test's
// own database; pg_locks shows those of every database.
const lockHoldersSQL = `
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// TestSweepLockEndsWithSession checks that the lock dies with the session
// that holds it: when the server ends that session mid-run, the run fails,
// the lock is free for another replica, and the pool goes on working.
func TestSweepLockEndsWithSession(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	s, other := open(t, dsn), open(t, dsn)
	admin := connect(t, dsn)

	ran, err := s.TrySweepLock(ctx, func(ctx context.Context) error {
		var holders int
		if err := admin.QueryRow(ctx, lockHoldersSQL).Scan(&holders); err != nil || holders != 1 {
			t.Errorf("sessions holding an advisory lock = %d, %v, want 1, nil", holders, err)
		}
		_, err := admin.Exec(ctx, `
SELECT pg_terminate_backend(pid) FROM pg_locks
WHERE locktype = 'advisory' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err != nil {
			t.Fatalf("end the session holding the lock: %v", err)
		}
		_, err = s.DeleteExpired(ctx, storage.ExpiringSessions, time.Now(), 10, nil)
		return err
	})
	if !ran || err == nil {
		t.Errorf("TrySweepLock() with its session ended = %v, %v, want true and an error", ran, err)
	}

	ran, err = other.TrySweepLock(ctx, func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Errorf("TrySweepLock() on another Store afterwards = %v, %v, want true, nil", ran, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping() after the lock's session ended = %v, want nil", err)
	}
	var holders int
	if err := admin.QueryRow(ctx, lockHoldersSQL).Scan(&holders); err != nil || holders != 0 {
		t.Errorf("sessions holding an advisory lock afterwards = %d, %v, want 0, nil",
			holders, err)
	}
}
