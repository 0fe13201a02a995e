package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// clock is a hand-turned clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestAllowBurstThenWait(t *testing.T) {
	c := newClock()
	s := New(Limit{Rate: 2, Burst: 3}, c.now)

	for i := range 3 {
		if wait, ok := s.Allow("a"); !ok {
			t.Fatalf("Allow(a) #%d = %v, false; want true within the burst of 3", i+1, wait)
		}
	}
	wait, ok := s.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("Allow(a) past the burst = %v, %t; want 500ms, false", wait, ok)
	}
	// A refused request took nothing: asking again at once is told the
	// same wait, not a longer one.
	if wait, ok := s.Allow("a"); ok || wait != 500*time.Millisecond {
		t.Errorf("Allow(a) again = %v, %t; want 500ms, false", wait, ok)
	}
	if _, ok := s.Allow("b"); !ok {
		t.Error("Allow(b) = false; another key has its own bucket")
	}

	c.advance(wait)
	if wait, ok := s.Allow("a"); !ok {
		t.Errorf("Allow(a) after the wait = %v, false; want true", wait)
	}
	if _, ok := s.Allow("a"); ok {
		t.Error("Allow(a) = true; the wait earned one event, not two")
	}
}

func TestCheckAndSpend(t *testing.T) {
	c := newClock()
	s := New(Limit{Rate: 1, Burst: 2}, c.now)

	if _, ok := s.Check("x"); !ok || s.Len() != 0 {
		t.Fatalf("Check(new key) = %t with %d buckets; want true with none made", ok, s.Len())
	}
	s.Spend("x")
	if _, ok := s.Check("x"); !ok {
		t.Fatal("Check(x) after one of two spent = false, want true")
	}
	if _, ok := s.Check("x"); !ok {
		t.Fatal("Check(x) again = false; Check must not spend")
	}
	// Two spenders passed the check together: both count.
	s.Spend("x")
	s.Spend("x")
	wait, ok := s.Check("x")
	if ok || wait != 2*time.Second {
		t.Fatalf("Check(x) after three spent of two = %v, %t; want 2s, false", wait, ok)
	}
	c.advance(wait)
	if wait, ok := s.Check("x"); !ok {
		t.Errorf("Check(x) after the wait = %v, false; want true", wait)
	}
}

func TestOffAllowsEverything(t *testing.T) {
	s := New(Limit{Rate: 0, Burst: 5}, nil)
	if s != nil {
		t.Fatalf("New(rate 0) = %v, want nil", s)
	}
	for range 100 {
		if _, ok := s.Allow("k"); !ok {
			t.Fatal("Allow on a limit that is off = false")
		}
		s.Spend("k")
	}
	if _, ok := s.Check("k"); !ok {
		t.Error("Check on a limit that is off = false")
	}
}

func TestFullBucketsAreDropped(t *testing.T) {
	c := newClock()
	// Refills from empty in 4 s.
	s := New(Limit{Rate: 0.5, Burst: 2}, c.now)

	for i := range 100 {
		s.Allow(fmt.Sprint("old-", i))
	}
	s.Allow("recent")
	c.advance(3 * time.Second)
	s.Allow("recent")
	if n := s.Len(); n != 101 {
		t.Fatalf("Len() before any bucket refilled = %d, want 101", n)
	}
	c.advance(time.Second)
	s.Allow("new")
	if n := s.Len(); n != 2 {
		t.Errorf("Len() once the first 100 refilled = %d, want 2 (recent and new)", n)
	}
}

func TestCapacity(t *testing.T) {
	c := newClock()
	s := newSet(Limit{Rate: 1, Burst: 1}, 3, c.now)

	for _, k := range []string{"a", "b", "c"} {
		s.Allow(k)
	}
	s.Allow("a") // a is now the most recently used
	if _, ok := s.Allow("d"); !ok {
		t.Fatal("Allow(d) on a full set = false; a new key must get a bucket")
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len() = %d, want the capacity 3", n)
	}
	// b, the least recently used, made room; a kept its empty bucket.
	if _, ok := s.Check("b"); !ok {
		t.Error("Check(b) = false, want true: its bucket was dropped")
	}
	if _, ok := s.Check("a"); ok {
		t.Error("Check(a) = true, want false: its empty bucket must be kept")
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want string
	}{
		{0, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{90 * time.Second, "90"},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.wait); got != tt.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tt.wait, got, tt.want)
		}
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct {
		name, addr, want string
	}{
		{"IPv4", "192.0.2.7", "192.0.2.7"},
		{"IPv6 is its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"same /64", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"IPv6 loopback", "::1", "::/64"},
		{"zone dropped", "fe80::1%eth0", "fe80::/64"},
		{"not an address", "@", "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AddressKey(tt.addr); got != tt.want {
				t.Errorf("AddressKey(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}
