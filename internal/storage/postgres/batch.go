package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/veil-auth/veil/internal/storage"
)

// errClosed answers a call made after Close.
var errClosed = fmt.Errorf("store closed: %w", storage.ErrUnavailable)

// maxBatch bounds the calls that one round trip serves. Under load a
// worker finds about as many calls waiting as arrived during its last
// round trip; the bound keeps one slow batch from holding many callers.
const maxBatch = 64

// call is one caller's request to a batcher, answered on done.
type call[A, R any] struct {
	ctx  context.Context
	arg  A
	done chan result[R] // buffered, so that a worker never waits for a caller
}

type result[R any] struct {
	val R
	err error
}

// reply answers c. It never blocks: done has room for one result, and each
// call is answered once.
func (c *call[A, R]) reply(val R, err error) {
	c.done <- result[R]{val: val, err: err}
}

// batcher serves calls from many goroutines with few round trips: each of
// its workers takes the first waiting call, drains whatever else is already
// waiting, without waiting for more, and hands the lot to serve. A lone
// call is served at once; under load the calls that arrive during one round
// trip share the next.
//
// serve must answer every call it is given exactly once, and should do so
// only when the outcome is final: for a write, once it has committed.
type batcher[A, R any] struct {
	op    string // names the operation in the errors the batcher makes
	serve func(ctx context.Context, calls []*call[A, R])
	queue chan *call[A, R]
	stop  chan struct{}
	wg    sync.WaitGroup

	// mu makes closed and sending on queue one step: once Close holds mu,
	// no call can be queued that the workers would not see.
	mu     sync.RWMutex
	closed bool
}

// newBatcher starts workers goroutines that hand calls to serve. op names
// the operation in the errors that do makes itself.
func newBatcher[A, R any](op string, workers int, serve func(context.Context, []*call[A, R])) *batcher[A, R] {
	b := &batcher[A, R]{
		op:    op,
		serve: serve,
		queue: make(chan *call[A, R], 4*maxBatch),
		stop:  make(chan struct{}),
	}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// do queues arg and waits for the result that serve gives it. If ctx ends
// first, do returns at once with ctx's error, mapped as a statement's would
// be (a deadline is storage.ErrUnavailable); a batch that already holds the
// call goes on for the others. After close, do returns errClosed.
func (b *batcher[A, R]) do(ctx context.Context, arg A) (R, error) {
	var zero R
	c := &call[A, R]{ctx: ctx, arg: arg, done: make(chan result[R], 1)}
	if err := b.enqueue(c); err != nil {
		return zero, fmt.Errorf("%s: %w", b.op, err)
	}

	var r result[R]
	select {
	case r = <-c.done:
	case <-ctx.Done():
		// A result that came at the same moment is still the answer.
		r.err = ctx.Err()
		select {
		case r = <-c.done:
		default:
		}
	}

	// Once ctx has ended, a failure is put down to it: the round trip
	// ends when the context of every caller in it has, and then fails
	// with an error of its own context.
	if r.err != nil && ctx.Err() != nil {
		return zero, fmt.Errorf("%s: %w", b.op, mapError(ctx.Err()))
	}
	return r.val, r.err
}

func (b *batcher[A, R]) enqueue(c *call[A, R]) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed
	}

	select {
	case b.queue <- c:
		return nil
	case <-c.ctx.Done():
		return mapError(c.ctx.Err())
	}
}

// close refuses new calls, lets the workers serve every call already
// queued, and waits for them to stop. Calling it again does nothing.
func (b *batcher[A, R]) close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()

	close(b.stop)
	b.wg.Wait()
}

func (b *batcher[A, R]) work() {
	defer b.wg.Done()

	batch := make([]*call[A, R], 0, maxBatch)
	for {
		select {
		case c := <-b.queue:
			batch = b.drain(append(batch[:0], c))
			b.run(batch)
		case <-b.stop:
			// close set closed before stop, so the queue only shrinks.
			for {
				batch = b.drain(batch[:0])
				if len(batch) == 0 {
					return
				}
				b.run(batch)
			}
		}
	}
}

// drain appends the calls already waiting, up to maxBatch in all.
func (b *batcher[A, R]) drain(batch []*call[A, R]) []*call[A, R] {
	for len(batch) < maxBatch {
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// run serves the calls whose callers still wait. Their round trip has a
// context of its own, which ends when every caller's has: one caller giving
// up does not fail the others, and a round trip that nobody waits for any
// more (a database that hangs) is abandoned.
func (b *batcher[A, R]) run(batch []*call[A, R]) {
	live := batch[:0]
	for _, c := range batch {
		if c.ctx.Err() == nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	waiting := atomic.Int64{}
	waiting.Store(int64(len(live)))
	stops := make([]func() bool, len(live))
	for i, c := range live {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}

	b.serve(ctx, live)

	for _, stop := range stops {
		stop()
	}
	cancel()
	clear(batch) // let the calls be collected while the worker waits
}

// unknownOutcome is the error for a write whose commit may or may not have
// happened: the connection broke or the round trip was abandoned before
// the server said. The caller can only treat the database as unavailable.
func unknownOutcome(err error) error {
	err = mapError(err)
	if errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
}
