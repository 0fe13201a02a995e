// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key,
// such as a client ID, a client address or a username, in a set of bounded
// size. It decides nothing about HTTP: callers choose the keys and answer
// 429 with RetryAfter.
//
// Limits live in the process. With several replicas each keeps its own
// buckets, so a key may make up to the number of replicas times the rate.
//
// Memory stays bounded under attack, whatever keys an attacker makes up. A
// bucket that has refilled to its burst is the same as a new one, so it is
// dropped when the set next changes; and the set never holds more than
// MaxKeys buckets. Past that, the bucket used least recently is dropped
// even if it is not full. That favours the attacker who can spread
// requests over more keys than MaxKeys (each key then starts afresh); the
// alternative, refusing keys the set has no room for, would let such an
// attacker lock out every newcomer. Callers put stronger, shared limits
// (such as login throttling in the database) behind these.
package ratelimit

import (
	"container/list"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxKeys bounds the buckets one Set holds: a few megabytes of memory.
const MaxKeys = 1 << 16

// Limit is a token bucket: Rate events per second on average, and up to
// Burst at once. A Rate of zero turns the limit off.
type Limit struct {
	// Rate is the events allowed per second, on average.
	Rate float64
	// Burst is the events allowed at once. New raises a Burst below 1
	// to 1: a bucket that holds nothing would refuse everything.
	Burst int
}

// Enabled reports whether l limits anything.
func (l Limit) Enabled() bool { return l.Rate > 0 }

// Set holds a bucket per key. A nil *Set allows everything: it is what New
// returns for a limit that is off. A Set is safe for concurrent use.
type Set struct {
	limit Limit
	max   int
	// refill is how long an empty bucket takes to fill up again; a bucket
	// untouched this long is full, and can be dropped.
	refill time.Duration
	now    func() time.Time

	mu sync.Mutex
	// lru orders the buckets by last use, most recent at the front.
	lru  *list.List
	keys map[string]*list.Element
}

// bucket is one key's limiter and when it was last used.
type bucket struct {
	key  string
	lim  *rate.Limiter
	used time.Time
}

// New returns a Set enforcing l per key, holding at most MaxKeys buckets,
// or nil when l is off. now is the clock; nil means time.Now.
func New(l Limit, now func() time.Time) *Set {
	return newSet(l, MaxKeys, now)
}

func newSet(l Limit, capacity int, now func() time.Time) *Set {
	if !l.Enabled() {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	l.Burst = max(l.Burst, 1)
	// Capped well inside a Duration for absurdly slow rates.
	refill := min(float64(l.Burst)/l.Rate*float64(time.Second), 1<<62)
	return &Set{
		limit:  l,
		max:    capacity,
		refill: time.Duration(refill),
		now:    now,
		lru:    list.New(),
		keys:   make(map[string]*list.Element),
	}
}

// Allow takes one event from key's bucket. When the bucket is empty it
// takes nothing, so a refused caller does not push its own wait further
// out, and returns false with the time until the bucket holds an event.
func (s *Set) Allow(key string) (wait time.Duration, ok bool) {
	if s == nil {
		return 0, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.now()
	b := s.bucket(key, now)
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Check reports whether key's bucket holds an event, without taking it,
// and if not, how long until it does. It is for budgets spent only by some
// outcomes (failures), with Spend: check before the work, spend after.
func (s *Set) Check(key string) (wait time.Duration, ok bool) {
	if s == nil {
		return 0, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	e, found := s.keys[key]
	if !found {
		// A key with no bucket has a full one; none is made for it.
		return 0, true
	}
	b := e.Value.(*bucket)
	now := s.now()
	res := b.lim.ReserveN(now, 1)
	d := res.DelayFrom(now)
	res.CancelAt(now)
	return d, d <= 0
}

// Spend takes one event from key's bucket, even from an empty one: work
// that was done counts, and concurrent spenders that all passed Check
// before any spent each lengthen the wait that follows.
func (s *Set) Spend(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.now()
	s.bucket(key, now).lim.ReserveN(now, 1)
}

// Len returns the number of buckets held.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// bucket returns key's bucket, marked used at now, making it if need be.
// It first drops the buckets that have refilled, then, if the set is
// full, the least recently used one. s.mu must be held.
func (s *Set) bucket(key string, now time.Time) *bucket {
	s.dropFull(now)
	if e, ok := s.keys[key]; ok {
		b := e.Value.(*bucket)
		b.used = now
		s.lru.MoveToFront(e)
		return b
	}

	if s.lru.Len() >= s.max {
		s.remove(s.lru.Back())
	}
	b := &bucket{key: key, lim: rate.NewLimiter(rate.Limit(s.limit.Rate), s.limit.Burst), used: now}
	s.keys[key] = s.lru.PushFront(b)
	return b
}

// dropFull drops the buckets unused for the refill time, which are full
// again. They are at the back of the list, so the walk stops at the first
// bucket used more recently.
func (s *Set) dropFull(now time.Time) {
	for e := s.lru.Back(); e != nil; e = s.lru.Back() {
		if now.Sub(e.Value.(*bucket).used) < s.refill {
			return
		}
		s.remove(e)
	}
}

func (s *Set) remove(e *list.Element) {
	s.lru.Remove(e)
	delete(s.keys, e.Value.(*bucket).key)
}

// RetryAfter formats a wait as the value of a Retry-After header (RFC 9110
// §10.2.3): whole seconds, rounded up so that a client that waits as told
// finds an event in the bucket, and at least 1.
func RetryAfter(wait time.Duration) string {
	secs := int64(math.Ceil(wait.Seconds()))
	return strconv.FormatInt(max(secs, 1), 10)
}

// AddressKey returns the key an address is limited under: an IPv4 address
// itself, and an IPv6 address's /64, since one subscriber is commonly given
// a whole /64 and could otherwise take a fresh bucket, and a fresh place in
// the set, with every address in it. Anything that is not an IP address
// (a Unix socket peer) is its own key.
func AddressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
