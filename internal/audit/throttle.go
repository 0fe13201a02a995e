package audit

import (
	"sync"
	"time"
)

// throttle lets one event per key through per interval and counts the
// others. It remembers at most max keys; when that many intervals are
// still open, a new key falls back to one key per action, so that an
// attacker making up targets or addresses gets one event per action per
// interval, not one per made-up key.
type throttle struct {
	interval time.Duration
	max      int

	mu      sync.Mutex
	windows map[string]*window
}

// window is the open interval of one key.
type window struct {
	// end is when the next event of the key may be written.
	end time.Time
	// suppressed counts the events not written since the last one.
	suppressed int
}

func newThrottle(interval time.Duration, max int) *throttle {
	return &throttle{interval: interval, max: max, windows: make(map[string]*window)}
}

// admit reports whether an event of key, of the given action, happening
// at now may be written, and if so how many events of its key were not
// written since the last one that was.
func (t *throttle) admit(action, key string, now time.Time) (suppressed int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()

	w, found := t.windows[key]
	if !found && len(t.windows) >= t.max {
		t.sweep(now)
		if len(t.windows) >= t.max {
			// The action's own key may take the map one past max per
			// action, which bounds it all the same.
			key = action
			w, found = t.windows[key]
		}
	}
	if found && now.Before(w.end) {
		w.suppressed++
		return 0, false
	}

	if !found {
		w = &window{}
		t.windows[key] = w
	}
	suppressed = w.suppressed
	w.end, w.suppressed = now.Add(t.interval), 0
	return suppressed, true
}

// sweep forgets the keys whose interval has ended, with their counts.
func (t *throttle) sweep(now time.Time) {
	for k, w := range t.windows {
		if !now.Before(w.end) {
			delete(t.windows, k)
		}
	}
}
