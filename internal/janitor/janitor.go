// Package janitor deletes what Veil keeps only for a while: expired access
// token records, refresh tokens and authorization codes, sign-in sessions,
// authorization requests never completed, and old failed sign-ins.
// Nothing else removes them, and without it their tables grow for ever.
//
// A run deletes each kind in turn through storage.Expiry, in small batches
// with a pause between them, so that it never holds locks or a connection
// for long and leaves the database to requests. With several replicas,
// each runs the janitor on its own schedule, but a run goes ahead only
// while no other holds the sweep lock; the others skip their turn rather
// than wait, since the run in progress does their work.
//
// Used codes and rotated refresh tokens are kept past their expiry while
// their grant could still be revoked by a replay of them (see
// storage.Expiry), so refresh token reuse detection survives every run.
package janitor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// Defaults of Config.
const (
	DefaultBatchSize       = 500
	DefaultPause           = 100 * time.Millisecond
	DefaultLoginFailureAge = time.Hour
)

// Grace is how long after its expiry an item is kept all the same. It
// covers a request that read the item just before it expired and is still
// writing what follows from it (a refresh token's successor), and a
// replica whose clock runs a little behind the janitor's.
const Grace = time.Minute

// Config configures a Janitor. Zero fields take the defaults.
type Config struct {
	// BatchSize is the most items one statement deletes. Default 500.
	BatchSize int
	// Pause is the wait between two batches, which leaves the database
	// to requests. Default 100ms.
	Pause time.Duration
	// LoginFailureAge is how long a failed sign-in is kept. It must be at
	// least the window the sign-in throttle counts failures in (15
	// minutes, see package authorize), or failures would be forgotten
	// while they still count. Default 1h.
	LoginFailureAge time.Duration
	// Now is the clock that expiry is judged by. Default time.Now.
	Now func() time.Time
	// Logger receives one line per run. Default: no logging.
	Logger *slog.Logger
	// OnRun, if set, is called with the report of every run, skipped or
	// failed ones included, after the run's log line; metrics hook in
	// here. It is called on the goroutine that ran the janitor.
	OnRun func(Report)
}

// Report says what one run did.
type Report struct {
	// Started is when the run began, by the Janitor's clock.
	Started time.Time
	// Duration is how long the run took, waiting for nothing.
	Duration time.Duration
	// Skipped is true when another process (another replica, or a `veil
	// janitor` command) held the sweep lock: this run deleted nothing.
	Skipped bool
	// Deleted counts the items deleted, for every kind of Kinds (zero
	// included), also when the run failed part way.
	Deleted map[storage.Expiring]int
	// Err is why the run failed, for every kind that failed; nil if none
	// did. A run that fails for one kind still sweeps the others.
	Err error
}

// Total is the number of items the run deleted.
func (r Report) Total() int {
	n := 0
	for _, d := range r.Deleted {
		n += d
	}
	return n
}

// Kinds returns the kinds of item a run deletes, in the order it deletes
// them.
func Kinds() []storage.Expiring {
	return []storage.Expiring{
		storage.ExpiringAccessTokens,
		storage.ExpiringRefreshTokens,
		storage.ExpiringCodes,
		storage.ExpiringSessions,
		storage.ExpiringAuthRequests,
		storage.ExpiringLoginFailures,
	}
}

// Janitor deletes expired items from a Store. Create it with New.
type Janitor struct {
	store storage.Store
	cfg   Config
	log   *slog.Logger
}

// New returns a Janitor over store.
func New(store storage.Store, cfg Config) *Janitor {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Pause <= 0 {
		cfg.Pause = DefaultPause
	}
	if cfg.LoginFailureAge <= 0 {
		cfg.LoginFailureAge = DefaultLoginFailureAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Janitor{store: store, cfg: cfg, log: log}
}

// Run runs the janitor at once, then again interval after each run ends,
// until ctx ends. It runs at once so that replicas restarted more often
// than interval still clean up.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			j.RunOnce(ctx)
			t.Reset(interval)
		}
	}
}

// RunOnce runs the janitor once, unless another process holds the sweep
// lock, and reports what it did. It logs the report and passes it to
// OnRun.
func (j *Janitor) RunOnce(ctx context.Context) Report {
	start, clock := time.Now(), j.cfg.Now()
	r := Report{Started: clock, Deleted: make(map[storage.Expiring]int)}
	for _, kind := range Kinds() {
		r.Deleted[kind] = 0
	}
	ran, err := j.store.TrySweepLock(ctx, func(ctx context.Context) error {
		return j.sweep(ctx, clock, r.Deleted)
	})
	r.Skipped = !ran && err == nil
	r.Err = err
	r.Duration = time.Since(start)

	j.report(ctx, r)
	if j.cfg.OnRun != nil {
		j.cfg.OnRun(r)
	}
	return r
}

// sweep deletes every kind in turn, counting into deleted. A kind that
// fails does not stop the others, unless ctx has ended.
func (j *Janitor) sweep(ctx context.Context, now time.Time, deleted map[storage.Expiring]int) error {
	var errs []error
	for _, kind := range Kinds() {
		before := now.Add(-Grace)
		if kind == storage.ExpiringLoginFailures {
			before = now.Add(-j.cfg.LoginFailureAge)
		}

		n, err := j.store.DeleteExpired(ctx, kind, before, j.cfg.BatchSize, j.pause)
		deleted[kind] = n
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// pause waits between two batches, or until ctx ends.
func (j *Janitor) pause(ctx context.Context, _ int) error {
	t := time.NewTimer(j.cfg.Pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// report logs r in one line: at info when the run deleted something, at
// warn when it failed, at debug otherwise and when ctx ended (shutdown).
func (j *Janitor) report(ctx context.Context, r Report) {
	attrs := make([]any, 0, 2*len(r.Deleted)+4)
	for _, kind := range Kinds() {
		attrs = append(attrs, string(kind), r.Deleted[kind])
	}
	attrs = append(attrs, "duration", r.Duration)

	switch {
	case r.Err != nil && ctx.Err() != nil:
		j.log.Debug("janitor run stopped", append(attrs, "err", r.Err)...)
	case r.Err != nil:
		j.log.Warn("janitor run failed", append(attrs, "err", r.Err)...)
	case r.Skipped:
		j.log.Debug("janitor run skipped: another process holds the sweep lock")
	case r.Total() > 0:
		j.log.Info("janitor deleted expired items", attrs...)
	default:
		j.log.Debug("janitor found nothing expired", attrs...)
	}
}
