package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

func testLoginFailures(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const window = 10 * time.Minute
	at := func(d time.Duration) time.Time { return base.Add(d) }

	// Each step runs in order, on what the steps before it recorded.
	steps := []struct {
		name string
		op   string // record, count or clear
		key  string
		now  time.Time
		want int
	}{
		{name: "first", op: "record", key: "alice", now: at(0), want: 1},
		{name: "second", op: "record", key: "alice", now: at(time.Minute), want: 2},
		{name: "keys count apart", op: "record", key: "Alice", now: at(time.Minute), want: 1},
		{name: "other key", op: "record", key: "10.0.0.1", now: at(time.Minute), want: 1},
		{name: "count", op: "count", key: "alice", now: at(2 * time.Minute), want: 2},
		{name: "count unknown key", op: "count", key: "bob", now: at(0), want: 0},
		{name: "first falls out", op: "record", key: "alice", now: at(window + time.Second),
			want: 2},
		// A failure exactly one window old is no longer within it.
		{name: "at the window's edge", op: "count", key: "alice",
			now: at(window + time.Minute), want: 1},
		{name: "all fall out", op: "count", key: "alice", now: at(3 * window), want: 0},
		{name: "clear", op: "clear", key: "alice"},
		{name: "cleared", op: "count", key: "alice", now: at(window), want: 0},
		{name: "other keys kept", op: "count", key: "10.0.0.1", now: at(window), want: 1},
		{name: "after clear", op: "record", key: "alice", now: at(window), want: 1},
	}
	for i, tt := range steps {
		t.Run(fmt.Sprintf("%d/%s", i, tt.name), func(t *testing.T) {
			var got int
			var err error
			call := fmt.Sprintf("%s(%s, %v)", tt.op, tt.key, tt.now.Sub(base))
			switch tt.op {
			case "record":
				got, err = s.RecordLoginFailure(ctx, tt.key, tt.now, window)
			case "count":
				got, err = s.LoginFailures(ctx, tt.key, tt.now, window)
			case "clear":
				err = s.ClearLoginFailures(ctx, tt.key)
			}
			if err != nil || got != tt.want {
				t.Errorf("%s = %d, %v, want %d, nil", call, got, err, tt.want)
			}
		})
	}
}

// testLoginFailuresConcurrent records failures for one key from 20
// goroutines at once: none may be lost.
func testLoginFailuresConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const n = 20

	errs := race(n, func() error {
		_, err := s.RecordLoginFailure(ctx, "alice", base, time.Hour)
		return err
	})
	if got := countErrs(errs, nil); got != n {
		t.Fatalf("%d concurrent RecordLoginFailure = %d nil, want %d (errors: %v)",
			n, got, n, errs)
	}

	got, err := s.LoginFailures(ctx, "alice", base, time.Hour)
	if got != n || err != nil {
		t.Errorf("LoginFailures(alice) after %d concurrent failures = %d, %v, want %d, nil",
			n, got, err, n)
	}
}
